"""Linear algebra: trace, determinant, log-determinant, inverse, integer matrix powers."""

from __future__ import annotations

from ..core import expr as E
from ..core.facts import INF, NOTHING, Facts, interval, sign_of_sums
from .base import Example, OpDef, rule

SQUARE = {"X": "n,n"}


@rule("d.trace", "d tr(A) = tr(dA)", r"\mathrm{d}\operatorname{tr}(A) = \operatorname{tr}(\mathrm{d}A)",
      "Matrix Cookbook (36)")
def _trace_jvp(n, d):
    return None if d(0) is None else E.trace(d(0))


@rule("T.trace", "<c, tr(M)> = <c*I, M>", r"\langle c, \operatorname{tr}M\rangle = \langle c I, M\rangle",
      "definition")
def _trace_transpose(n, C, i):
    return E.mul(C, E.eye(n.args[0].rows))


@rule("vec.trace", "tr(M) = vec(I)'*vec(M)",
      r"\operatorname{tr}M = \operatorname{vec}(I)^T\operatorname{vec}M", "Matrix Cookbook (521) with A = I")
def _trace_vec(n, i, J):
    M = n.args[0]
    return E.mul(E.transpose(E.vec(E.eye(M.rows))), J)


@rule("d.det", "d det(A) = det(A)*tr(inv(A)*dA)",
      r"\mathrm{d}\det A = \det A\,\operatorname{tr}(A^{-1}\mathrm{d}A)", "Matrix Cookbook (42), (46)")
def _det_jvp(n, d):
    return None if d(0) is None else E.mul(n, E.trace(E.mul(E.inv(n.args[0]), d(0))))


@rule("d.logdet", "d logdet(A) = tr(inv(A)*dA)",
      r"\mathrm{d}\log|\det A| = \operatorname{tr}(A^{-1}\mathrm{d}A)", "Matrix Cookbook (43); (57) for log|det|")
def _logdet_jvp(n, d):
    return None if d(0) is None else E.trace(E.mul(E.inv(n.args[0]), d(0)))


@rule("d.inv", "d inv(A) = -inv(A)*dA*inv(A)", r"\mathrm{d}A^{-1} = -A^{-1}\,\mathrm{d}A\,A^{-1}",
      "Matrix Cookbook (40), (59)")
def _inv_jvp(n, d):
    return None if d(0) is None else E.neg(E.mul(n, d(0), n))


@rule("d.mpow", "d(A^k) = sum_{i=0}^{k-1} A^i*dA*A^(k-1-i) (k >= 2; A^-k = inv(A)^k)",
      r"\mathrm{d}(A^k) = \sum_{i=0}^{k-1} A^i\,\mathrm{d}A\,A^{k-1-i}", "calculus: product rule")
def _mpow_jvp(n, d):
    dA = d(0)
    if dA is None:
        return None
    A, k = n.args[0], n.attr
    return E.add(*[E.mul(E.mpow(A, i), dA, E.mpow(A, k - 1 - i)) for i in range(k)])


# ---------------------------------------------------------------------------- facts (transfer rules)
def _trace_facts(n, fs):
    # tr(A) >= 0 for A psd (a sum of nonnegative eigenvalues), or a sum of signed entries
    (a,) = fs
    r = sign_of_sums(interval(a))
    if a.psd:
        r = (0.0, r[1])
    return Facts(lo=r[0], hi=r[1])


def _det_facts(n, fs):
    # det(A) >= 0 for A psd (a product of nonnegative eigenvalues), +-1 for A orthogonal
    (a,) = fs
    if a.psd:
        return Facts(lo=0.0)
    if a.orthogonal:
        return Facts(lo=-1.0, hi=1.0)
    return NOTHING


def _logdet_facts(n, fs):
    # log|det(Q)| = 0 for Q orthogonal
    return Facts(lo=0.0, hi=0.0) if fs[0].orthogonal else NOTHING


def _inv_facts(n, fs):
    # inv(S)' = inv(S'); where inv(A) exists a psd A is pd, and so is inv(A)
    (a,) = fs
    return Facts(symmetric=a.symmetric, pd=a.psd, lower=a.lower, upper=a.upper, diagonal=a.diagonal,
                 orthogonal=a.orthogonal, nonsingular=True)


def _mpow_facts(n, fs):
    # A^k (k >= 2; a negative power is mpow(inv(A))): S^(2j) = S^j (S^j)' is psd
    (a,) = fs
    even = n.attr % 2 == 0
    psd = a.psd or (a.symmetric and even)
    r = (0.0, INF) if a.lo >= 0 else (-INF, INF)
    return Facts(symmetric=a.symmetric, psd=psd, pd=a.pd or (psd and a.nonsingular),
                 lower=a.lower, upper=a.upper, diagonal=a.diagonal, orthogonal=a.orthogonal,
                 nonsingular=a.nonsingular, lo=r[0], hi=r[1])


LINALG = [
    OpDef("trace", rank=7, jvp=_trace_jvp, build=E.trace, transpose=_trace_transpose, vec=_trace_vec,
          kind="matrix", language=("tr", "trace"), arity=1, shape="scalar_of_square", text="tr({0})",
          latex="\\operatorname{{tr}}\\left({0}\\right)", facts=_trace_facts,
          examples=(Example("tr(X*A)", shapes={"X": "n,m", "A": "m,n"}),
                    Example("trace(X'*A*X)", shapes={"X": "n,m", "A": "n,n"})),
          meaning="the trace of a square {0}"),
    OpDef("det", rank=6, jvp=_det_jvp, build=E.det, kind="matrix", aliases=("determinant",), language=("det",), arity=1,
          shape="scalar_of_square", text="det({0})", latex="\\det\\left({0}\\right)",
          sample="nonsingular", facts=_det_facts,
          examples=(Example("det(X)", shapes=SQUARE, square_only=True),
                    Example("det(X'*X)", shapes={"X": "n,m"})), meaning="the determinant of a square {0}"),
    OpDef("logdet", rank=6, jvp=_logdet_jvp, build=E.logdet, kind="matrix", aliases=("slogdet", "log_det", "logabsdet", "determinant_log"), language=("logdet",), arity=1,
          shape="scalar_of_square", text="logdet({0})", latex="\\log\\left|{0}\\right|",
          sample="nonsingular", facts=_logdet_facts,
          examples=(Example("logdet(X)", shapes=SQUARE, square_only=True),
                    Example("logdet(X'*X)", shapes={"X": "n,m"})),
          meaning="log(abs(det({0}))), the log of the absolute determinant"),
    OpDef("inv", rank=5, jvp=_inv_jvp, build=E.inv, kind="matrix", aliases=("inverse",), language=("inv",), arity=1, shape="square_same",
          text="inv({0})", latex="{0}^{{-1}}", sample="nonsingular", facts=_inv_facts,
          examples=(Example("sum(inv(X))", shapes=SQUARE, square_only=True),
                    Example("tr(A*inv(X'*X))", shapes={"X": "n,m"})),
          meaning="the inverse of a square {0} (A^-1)"),
    OpDef("mpow", rank=5, jvp=_mpow_jvp, build=E.mpow, rebuild=lambda n, a: E.mpow(a[0], n.attr),
          sample=lambda n: "nonsingular" if n.attr < 0 else "any", facts=_mpow_facts,  # A^-k = inv(A)^k
          examples=(Example("sum(X^3)", shapes=SQUARE, square_only=True),
                    Example("tr(A*(X'*X)^-2)", shapes={"X": "n,m"}))),
]
