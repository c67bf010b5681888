"""Reshapes, all linear: diag (both ways), vec, unvec, and a scalar broadcast to an array
(the language's ``vector(c)`` and ``matrix(c)``: c in every entry, the size inferred)."""

from __future__ import annotations

from ..core import expr as E
from ..core.facts import Facts, hull0, interval
from ..core.shapes import dim_mul
from .base import Example, OpDef, rule


def _linear1(build):
    """The JVP of a map linear in its one argument: d L(A) = L(dA)."""
    return lambda n, d: None if d(0) is None else build(n, d(0))


def _build_diag(node, a):
    """The language's diag(): a vector's diagonal matrix, a square matrix's diagonal (the
    parser's shape rule decided which, in ``node.how``)."""
    return {"scalar": lambda: a, "diagm": lambda: E.diagm(a), "diagv": lambda: E.diagv(a)}[node.how]()


def selection(k):
    """S with vec(diag(v)) = S*v for v of length k: diag(vec(I))*kron(ones, I)."""
    return E.mul(E.diagm(E.vec(E.eye(k))), E.kron(E.ones((k, 1)), E.eye(k)))


_diagm_jvp = _linear1(lambda n, dv: E.diagm(dv))
_diagv_jvp = _linear1(lambda n, dA: E.diagv(dA))


@rule("vec.diagm", "vec(diag(v)) = diag(vec(I))*kron(ones, I)*v",
      r"\operatorname{vec}(\operatorname{diag}v) = \operatorname{diag}(\operatorname{vec}I)"
      r"(\mathbf{1} \otimes I)\,v", "definition: v*ones' has columns v; keep its diagonal")
def _diagm_vec(n, i, J):
    return E.mul(selection(n.rows), J)


@rule("vec.diagv", "diag(M) = kron(ones', I)*diag(vec(I))*vec(M)",
      r"\operatorname{diag}M = (\mathbf{1}^T \otimes I)\operatorname{diag}(\operatorname{vec}I)"
      r"\operatorname{vec}M", "definition: the transpose of vec.diagm's selection")
def _diagv_vec(n, i, J):
    k = n.rows
    return E.mul(E.kron(E.ones((1, k)), E.eye(k)), E.diagm(E.vec(E.eye(k))), J)


@rule("vec.vec", "vec(vec(M)) = vec(M)", r"\operatorname{vec}(\operatorname{vec}M) = \operatorname{vec}M",
      "definition")
def _vec_vec(n, i, J):
    return J


@rule("vec.unvec", "vec(unvec(v)) = v", r"\operatorname{vec}(\operatorname{unvec}v) = v", "definition")
def _unvec_vec(n, i, J):
    return J


@rule("vec.bcast", "vec(s*ones) = ones*s", r"\operatorname{vec}(s\mathbf{1}) = \mathbf{1}s", "definition")
def _bcast_vec(n, i, J):
    return E.mul(E.ones((dim_mul(n.rows, n.cols), 1)), J)


def _d(name, identity, latex, fn):
    return rule(name, identity, latex, "calculus: linearity")(fn)


def _t(name, identity, latex, fn):
    return rule(name, identity, latex, "definition")(fn)


# ---------------------------------------------------------------------------- facts (transfer rules)
def _diagm_facts(n, fs):
    (v,) = fs
    r = hull0(interval(v))
    return Facts(diagonal=True, psd=v.lo >= 0, pd=v.lo > 0, nonsingular=v.lo > 0 or v.hi < 0,
                 lo=r[0], hi=r[1])


def _diagv_facts(n, fs):
    # the diagonal of a psd (pd) matrix is nonnegative
    (a,) = fs
    lo = max(a.lo, 0.0) if a.psd else a.lo
    return Facts(lo=lo, hi=a.hi)


def _same_entries(n, fs):
    # a reshape: the same entries
    return Facts(lo=fs[0].lo, hi=fs[0].hi)


def _bcast_facts(n, fs):
    # s * ones: psd (square) for s >= 0
    (s,) = fs
    return Facts(symmetric=True, psd=s.lo >= 0, lo=s.lo, hi=s.hi)


RESHAPE = [
    OpDef("diagm", rank=15, build=E.diagm, facts=_diagm_facts,
          jvp=_d("d.diagm", "d diag(v) = diag(dv)",
                 r"\mathrm{d}\operatorname{diag}v = \operatorname{diag}\mathrm{d}v", _diagm_jvp),
          transpose=_t("T.diagm", "<C, diag(v)> = <diag(C), v>",
                       r"\langle C, \operatorname{diag}v\rangle = \langle \operatorname{diag}C, v\rangle",
                       lambda n, C, i: E.diagv(C)),
          vec=_diagm_vec, aliases=("diagonal", "diagflat", "diagm", "diagv"), language=("diag",), arity=1, shape="diag", parse_build=_build_diag,
          keeps_name=True, text="diag({0})", latex="\\operatorname{{diag}}\\left({0}\\right)",
          examples=(Example("sum(diag(x)*A)", wrt="x", shapes={"x": "n"}),
                    Example("sum(diag(diag(X)) * X)", shapes={"X": "n,n"}, square_only=True)),
          meaning="a vector to its diagonal matrix; a square matrix to its diagonal (a vector)"),
    OpDef("diagv", rank=15, build=E.diagv, facts=_diagv_facts,
          jvp=_d("d.diagv", "d diag(A) = diag(dA)",
                 r"\mathrm{d}\operatorname{diag}A = \operatorname{diag}\mathrm{d}A", _diagv_jvp),
          transpose=_t("T.diagv", "<c, diag(M)> = <diag(c), M>",
                       r"\langle c, \operatorname{diag}M\rangle = \langle \operatorname{diag}c, M\rangle",
                       lambda n, C, i: E.diagm(C)),
          vec=_diagv_vec, text="diag({0})", latex="\\operatorname{{diag}}\\left({0}\\right)",
          examples=(Example("x'*diag(X'*X)", shapes={"X": "n,m"}),)),
    OpDef("vec", rank=16, build=E.vec, facts=_same_entries,
          jvp=_d("d.vec", "d vec(A) = vec(dA)",
                 r"\mathrm{d}\operatorname{vec}A = \operatorname{vec}\mathrm{d}A",
                 _linear1(lambda n, dA: E.vec(dA))),
          transpose=_t("T.vec", "<c, vec(M)> = <unvec(c), M>",
                       r"\langle c, \operatorname{vec}M\rangle = \langle \operatorname{unvec}c, M\rangle",
                       lambda n, C, i: E.unvec(C, n.args[0].rows, n.args[0].cols)),
          vec=_vec_vec, language=("vec",), arity=1, shape="vec", keeps_name=True, text="vec({0})",
          latex="\\operatorname{{vec}}\\left({0}\\right)",
          examples=(Example("vec(X)'*vec(A*X)", shapes={"X": "n,m"}),),
          meaning="the columns of {0} stacked into one vector (column-major)"),
    OpDef("unvec", rank=16, build=E.unvec, rebuild=lambda n, a: E.unvec(a[0], n.rows, n.cols),
          facts=_same_entries,
          jvp=_d("d.unvec", "d unvec(v) = unvec(dv)",
                 r"\mathrm{d}\operatorname{unvec}v = \operatorname{unvec}\mathrm{d}v",
                 _linear1(lambda n, dv: E.unvec(dv, n.rows, n.cols))),
          transpose=_t("T.unvec", "<C, unvec(v)> = <vec(C), v>",
                       r"\langle C, \operatorname{unvec}v\rangle = \langle \operatorname{vec}C, v\rangle",
                       lambda n, C, i: E.vec(C)),
          vec=_unvec_vec, language=("unvec",), arity=2, shape="unvec", dim_args=(1,),
          latex="\\operatorname{{unvec}}_{{{r}}}\\left({0}\\right)",
          examples=(Example("sum(unvec(x, n) .* X)", wrt="x", shapes={"x": "n*m", "X": "n,m"}),),
          meaning="the vector {0} back into a matrix of {1} rows (column-major)", params=("v", "m")),
    OpDef("bcast", rank=0, build=E.bcast, rebuild=lambda n, a: E.bcast(a[0], n.shape),
          facts=_bcast_facts,
          jvp=_d("d.bcast", "d(s*ones) = ds*ones", r"\mathrm{d}(s\mathbf{1}) = \mathrm{d}s\,\mathbf{1}",
                 _linear1(lambda n, ds: E.bcast(ds, n.shape))),
          transpose=_t("T.bcast", "<C, s*ones> = s*sum(C)",
                       r"\langle C, s\mathbf{1}\rangle = s\operatorname{sum}C",
                       lambda n, C, i: E.sum_(C)),
          vec=_bcast_vec, language=("vector", "matrix"), arity=1, shape="bcast",
          parse_build=lambda node, s: E.bcast(s, node.how), aliases=("full",),
          examples=(Example("sum((x'*x + X) .* X)", wrt="x", shapes={"x": "n", "X": "n,m"}),
                    Example("sum(log(exp(X) + matrix(a^2 + 1)))", shapes={"X": "n,m", "a": ""}),
                    Example("sum(log(exp(x) + vector(a*a + 1)))", wrt="a", shapes={"x": "n", "a": ""})),
          meaning="a vector (matrix) of inferred size with the scalar {0} in every entry", params=("c",)),
]
