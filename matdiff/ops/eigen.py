"""Symmetric eigenproblems and the Cholesky factor (18.S096 lecture 8; issue 11).

* ``eigh(S)``: one tuple-valued node (:func:`matdiff.core.multi.multi`) with two outputs, the
  eigenvalues ``w`` of the symmetric S in ascending order (a column) and the orthonormal
  eigenvectors ``V`` (S = V*diag(w)*V'). The language reads its outputs as ``eigvals(S)`` and
  ``eigvecs(S)`` (:mod:`matdiff.ops.macros`), so one decomposition serves both in generated
  code. Sign convention, the same in every back-end and in the test suite's evaluator: the
  entry of largest magnitude of each eigenvector (the first such, on ties) is positive.
* Differentials from ordinary ops, so gradients, Jacobians and Hessians come from the
  ordinary rules: with A = V'*dS*V, ``d w = diag(A)`` (d w_i = v_i'*dS*v_i) and
  ``d V = V*(eiggap(w) .* A)``, where ``eiggap(w)`` is the matrix F with F_ij = 1/(w_j - w_i)
  off the diagonal and 0 on it. The eigenvector differential does not exist at a repeated
  eigenvalue: generated code computing ``eiggap`` raises there (never a silent inf/NaN).
* ``eigmax(S)`` / ``eigvecmax(S)`` and ``eigmin(S)`` / ``eigvecmin(S)``: the tuple-valued
  ``eigtop(S)`` and ``eigbot(S)`` (largest or smallest eigenvalue and its unit eigenvector v),
  ``d lambda = v'*dS*v`` (gradient ``v*v'``), the eigenvector's differential from the column
  of ``eiggap``; at a repeated extreme eigenvalue a kink (a sub-/supergradient).
* ``eigmax(A)`` of a general (non-symmetric) square A whose eigenvalue of largest real part
  is real and simple: the tuple-valued ``eigr(A)`` = (that eigenvalue, its left eigenvector
  u, its right eigenvector v), read as ``eigmax(A)``, ``eigvecl(A)``, ``eigvecr(A)``; v is a
  unit vector with the sign convention above and u'*v = 1, so ``d eigmax(A) = u'*dA*v``
  (gradient ``u*v'``). The eigenvectors' own derivatives are not implemented: a second
  derivative through them is a clear error.
* ``chol(S)``: the lower Cholesky factor L of an SPD S (S = L*L'),
  ``d L = L*Phi(inv(L)*dS*inv(L)')`` with ``Phi(M)`` (language ``tril_half``) the lower
  triangle of M with its diagonal halved: a linear mask, its own adjoint.
"""

from __future__ import annotations

from fractions import Fraction

from ..core import expr as E
from ..core import multi as M  # read at call time: core.multi may still be loading
from ..core.facts import NOTHING, Facts, require
from .base import Example, Kink, OpDef, rule
from .multi import OUTPUT_NAMES

SYMMETRIC_ONLY = ("eigenvalues of a general (non-symmetric) matrix may be complex and are not supported; "
                  "declare the matrix symmetric (--symmetric S) or pass its symmetric part sym(A)")


def eigh(S):
    """The tuple-valued node eigh(S) = (eigenvalues ascending, eigenvectors) of a symmetric S."""
    return M.multi("eigh", (S,), [(S.rows, 1), S.shape])


def eigvals(S):
    return M.proj(eigh(S), 0)


def eigvecs(S):
    return M.proj(eigh(S), 1)


def eigtop(S):
    """The tuple-valued node eigtop(S) = (largest eigenvalue, its unit eigenvector) of a
    symmetric S, read as eigmax(S) and eigvecmax(S)."""
    return M.multi("eigmax", (S,), [(1, 1), (S.rows, 1)])


def eigbot(S):
    """The tuple-valued node eigbot(S) = (smallest eigenvalue, its unit eigenvector) of a
    symmetric S, read as eigmin(S) and eigvecmin(S)."""
    return M.multi("eigmin", (S,), [(1, 1), (S.rows, 1)])


def eigr(A):
    """The tuple-valued node eigr(A) = (eigenvalue of largest real part, its left eigenvector
    u, its right eigenvector v), for a general square A (u'*v = 1)."""
    return M.multi("eigr", (A,), [(1, 1), (A.rows, 1), (A.rows, 1)])


def eiggap(w):
    """F with F_ij = 1/(w_j - w_i) for i != j, 0 on the diagonal (w a column)."""
    return E.Expr("eiggap", (w,), (w.rows, w.rows))


def chol(S):
    return E.Expr("chol", (S,), S.shape)


def tril_half(M):
    """Phi(M): the lower triangle of M with its diagonal halved (M/2 for an M known diagonal,
    such as I)."""
    from ..core.facts import facts

    if E.is_zero(M):
        return M
    if facts(M).diagonal:
        return E.mul(E.const(Fraction(1, 2)), M)
    return E.Expr("tril_half", (M,), M.shape)


@rule("d.eigh", "d eigvals(S) = diag(V'*dS*V), d eigvecs(S) = V*(eiggap(w) .* (V'*dS*V)), "
      "w = eigvals(S), V = eigvecs(S), eiggap(w)_ij = 1/(w_j - w_i) (0 for i = j)",
      r"\mathrm{d}\lambda_i = v_i^T\,\mathrm{d}S\,v_i,\ \mathrm{d}V = V\left(F \circ (V^T\mathrm{d}S\,V)\right),"
      r"\ F_{ij} = \frac{1}{\lambda_j - \lambda_i}", "18.S096 lecture 8; Magnus & Neudecker, Thm 8.9")
def _eigh_jvp(n, d):
    dS = d(0)
    if dS is None:
        return None
    w, V = M.proj(n, 0), M.proj(n, 1)
    A = E.mul(E.transpose(V), dS, V)
    # the outputs' differentials as a tuple of ordinary expressions: proj's JVP picks one,
    # so no tuple-valued node ever appears in a differential (the transpose pass needs none)
    return (E.diagv(A), E.mul(V, E.had(eiggap(w), A)))


@rule("d.eigmax", "d eigmax(S) = v'*dS*v, d eigvecmax(S) = V*((eiggap(w)*ismax(w)) .* (V'*dS*v)), "
      "v = eigvecmax(S), w = eigvals(S), V = eigvecs(S) (a simple largest eigenvalue)",
      r"\mathrm{d}\lambda_{\max} = v^T\mathrm{d}S\,v,\ \mathrm{d}v = V\left(f \circ (V^T\mathrm{d}S\,v)\right),"
      r"\ f_i = \frac{1}{\lambda_{\max} - \lambda_i}\ (i \ne \max)", "18.S096 lecture 8; Magnus & Neudecker, Thm 8.9")
def _eigtop_jvp(n, d):
    dS = d(0)
    if dS is None:
        return None
    S, v = n.args[0], M.proj(n, 1)

    def dv():
        # column "max" of the eigenvector differential: eiggap(w)*ismax(w) is the column of
        # 1/(w_max - w_i) (0 at i = max) where the largest eigenvalue is simple
        w, V = eigvals(S), eigvecs(S)
        col = E.mul(eiggap(w), E.Expr("ismax", (w,), w.shape))
        return E.mul(V, E.had(col, E.mul(E.transpose(V), dS, v)))

    return (E.mul(E.transpose(v), dS, v), dv)


@rule("d.eigmin", "d eigmin(S) = v'*dS*v, d eigvecmin(S) = V*((eiggap(w)*ismin(w)) .* (V'*dS*v)), "
      "v = eigvecmin(S), w = eigvals(S), V = eigvecs(S) (a simple smallest eigenvalue)",
      r"\mathrm{d}\lambda_{\min} = v^T\mathrm{d}S\,v,\ \mathrm{d}v = V\left(f \circ (V^T\mathrm{d}S\,v)\right),"
      r"\ f_i = \frac{1}{\lambda_{\min} - \lambda_i}\ (i \ne \min)", "18.S096 lecture 8; Magnus & Neudecker, Thm 8.9")
def _eigbot_jvp(n, d):
    dS = d(0)
    if dS is None:
        return None
    S, v = n.args[0], M.proj(n, 1)

    def dv():
        # column "min" of the eigenvector differential: eiggap(w)*ismin(w) is the column of
        # 1/(w_min - w_i) (0 at i = min) where the smallest eigenvalue is simple
        w, V = eigvals(S), eigvecs(S)
        col = E.mul(eiggap(w), E.Expr("ismin", (w,), w.shape))
        return E.mul(V, E.had(col, E.mul(E.transpose(V), dS, v)))

    return (E.mul(E.transpose(v), dS, v), dv)


def _bottom_gap(a):
    """:class:`Kink` distance of eigbot: half the gap between the two smallest eigenvalues."""
    import numpy as np

    w = np.linalg.eigvalsh(np.asarray(a, dtype=float))
    return float(w[1] - w[0]) / 2 if w.size > 1 else float("inf")


def _top_gap(a):
    """:class:`Kink` distance of eigtop: half the gap between the two largest eigenvalues of the
    symmetric argument (eigenvalues move at most as far as the matrix, in the 2-norm)."""
    import numpy as np

    w = np.linalg.eigvalsh(np.asarray(a, dtype=float))
    return float(w[-1] - w[-2]) / 2 if w.size > 1 else float("inf")


def _no_general_eigvec_derivative():
    from ..core.errors import DerivationError

    raise DerivationError("the derivative of the eigenvectors of a general (non-symmetric) matrix "
                          "(eigvecl, eigvecr) is not implemented, so there is no second derivative "
                          "through eigmax of a non-symmetric matrix; for a symmetric one declare it "
                          "symmetric (--symmetric A)")


@rule("d.eigr", "d eigmax(A) = eigvecl(A)'*dA*eigvecr(A) (left/right eigenvectors, u'*v = 1; "
      "a real simple eigenvalue)", r"\mathrm{d}\lambda = u^T\,\mathrm{d}A\,v,\ u^T v = 1",
      "18.S096 lecture 8; Magnus & Neudecker, Thm 8.7")
def _eigr_jvp(n, d):
    dA = d(0)
    if dA is None:
        return None
    u, v = M.proj(n, 1), M.proj(n, 2)
    # the eigenvectors' differentials: an error when asked for (proj's JVP calls them)
    return (E.mul(E.transpose(u), dA, v), _no_general_eigvec_derivative, _no_general_eigvec_derivative)


@rule("d.eiggap", "d eiggap(w) = eiggap(w).^2 .* (dw*ones' - ones*dw')",
      r"\mathrm{d}F_{ij} = F_{ij}^2\,(\mathrm{d}\lambda_i - \mathrm{d}\lambda_j)", "calculus: d(1/x) = -dx/x^2")
def _eiggap_jvp(n, d):
    dw = d(0)
    if dw is None:
        return None
    one = E.ones((n.rows, 1))
    diff = E.add(E.mul(dw, E.transpose(one)), E.neg(E.mul(one, E.transpose(dw))))
    return E.had(E.hpow(n, E.const(2)), diff)


@rule("d.chol", "d chol(S) = L*tril_half(inv(L)*dS*inv(L)'), L = chol(S)",
      r"\mathrm{d}L = L\,\Phi\left(L^{-1}\mathrm{d}S\,L^{-T}\right)", "18.S096 lecture 8; Murray (2016), eq. 8")
def _chol_jvp(n, d):
    dS = d(0)
    if dS is None:
        return None
    Li = E.inv(n)
    return E.mul(n, tril_half(E.mul(Li, dS, E.transpose(Li))))


@rule("d.tril_half", "d tril_half(M) = tril_half(dM)",
      r"\mathrm{d}\Phi(M) = \Phi(\mathrm{d}M)", "calculus: linearity")
def _tril_half_jvp(n, d):
    return None if d(0) is None else tril_half(d(0))


@rule("T.tril_half", "<C, tril_half(M)> = <tril_half(C), M> (a mask: its own adjoint)",
      r"\langle C, \Phi(M)\rangle = \langle \Phi(C), M\rangle", "definition")
def _tril_half_transpose(n, C, i):
    return tril_half(C)


@rule("vec.tril_half", "vec(tril_half(M)) = diag(vec(tril_half(ones)))*vec(M)",
      r"\operatorname{vec}\Phi(M) = \operatorname{diag}(\operatorname{vec}\Phi(\mathbf{1}))\operatorname{vec}M",
      "definition")
def _tril_half_vec(n, i, J):
    return E.mul(E.diagm(E.vec(tril_half(E.ones(n.shape)))), J)


# ---------------------------------------------------------------------------- facts (transfer rules)
def _eigh_facts(n, fs):
    # eigenvalues of a psd (pd) S are >= 0 (> 0); the eigenvector matrix is orthogonal
    (s,) = fs
    w = Facts(lo=0.0) if s.psd else NOTHING
    return (w, Facts(orthogonal=True, nonsingular=True, lo=-1.0, hi=1.0))


def _eiggap_facts(n, fs):
    return Facts(symmetric=False)


def _chol_facts(n, fs):
    # the Cholesky factor is lower triangular with a positive diagonal: nonsingular
    return Facts(lower=True, nonsingular=True)


def _tril_half_facts(n, fs):
    return Facts(lower=True)


def _eigtop_facts(n, fs):
    (s,) = fs
    return (Facts(lo=0.0) if s.psd else NOTHING, Facts(lo=-1.0, hi=1.0))


_EIGTOP_LOWER = {"numpy": "_eigtop({0})", "jax": "_eigtop({0})", "torch": "_eigtop({0})"}
_EIGBOT_LOWER = {"numpy": "_eigbot({0})", "jax": "_eigbot({0})", "torch": "_eigbot({0})"}
_EIGR_LOWER = {"numpy": "_eigr({0})", "jax": "_eigr({0})", "torch": "_eigr({0})"}
_EIG_LOWER = {"numpy": "_eigh({0})", "jax": "_eigh({0})", "torch": "_eigh({0})"}
_GAP_LOWER = {"numpy": "_eiggap({0})", "jax": "_eiggap({0})", "torch": "_eiggap({0})"}
_SQ = {"X": "n,n"}

EIGEN = [
    OpDef("eigh", rank=21, jvp=_eigh_jvp, build=eigh, facts=_eigh_facts, lower=_EIG_LOWER,
          text="eigh({0})", latex="\\operatorname{{eigh}}\\left({0}\\right)",
          requires=(require(0, Facts(symmetric=True), message="eigh() needs a symmetric matrix (" + SYMMETRIC_ONLY + ")"),),
          examples=(Example("x'*eigvals(X + X')", shapes={"X": "n,n", "x": "n"}, square_only=True),
                    Example("sum(eigvecs(X'*X) .* A)", shapes={"X": "n,n", "A": "n,n"}, square_only=True),
                    Example("sum(exp(eigvals(X*X' + A*A')))", shapes={"X": "n,m", "A": "n,m"}))),
    OpDef("eigmax", rank=21, jvp=_eigtop_jvp, build=eigtop, facts=_eigtop_facts, lower=_EIGTOP_LOWER,
          text="eigmax({0})", latex="\\operatorname{{eigmax}}\\left({0}\\right)",
          requires=(require(0, Facts(symmetric=True), message="eigmax()/eigvecmax() of a symmetric matrix: "
                            + SYMMETRIC_ONLY),),
          kink=Kink("where the largest eigenvalue is repeated",
                    "its gradient v*v' (v = eigvecmax, the unit top eigenvector) there uses one unit vector "
                    "of the top eigenspace, a subgradient; eigvecmax itself has no derivative there", _top_gap),
          examples=(Example("eigmax(X + X')", shapes={"X": "n,n"}, square_only=True),
                    Example("x'*eigvecmax(X'*X + A*A')", shapes={"X": "n,n", "A": "n,n", "x": "n"},
                            square_only=True))),
    OpDef("eigmin", rank=21, jvp=_eigbot_jvp, build=eigbot, facts=_eigtop_facts, lower=_EIGBOT_LOWER,
          text="eigmin({0})", latex="\\operatorname{{eigmin}}\\left({0}\\right)",
          requires=(require(0, Facts(symmetric=True), message="eigmin()/eigvecmin() of a symmetric matrix: "
                            + SYMMETRIC_ONLY),),
          kink=Kink("where the smallest eigenvalue is repeated",
                    "its gradient v*v' (v = eigvecmin, the unit bottom eigenvector) there uses one unit vector "
                    "of the bottom eigenspace, a supergradient (eigmin is concave); eigvecmin itself has no "
                    "derivative there", _bottom_gap),
          examples=(Example("eigmin(X + X')", shapes={"X": "n,n"}, square_only=True),
                    Example("x'*eigvecmin(X'*X + A*A')", shapes={"X": "n,n", "A": "n,n", "x": "n"},
                            square_only=True))),
    OpDef("eigr", rank=21, jvp=_eigr_jvp, build=eigr, facts=lambda n, fs: (NOTHING, NOTHING, NOTHING),
          lower=_EIGR_LOWER, sample="positive",  # a positive matrix: its largest eigenvalue is real, simple
          text="eigr({0})", latex="\\operatorname{{eigr}}\\left({0}\\right)",
          examples=(Example("eigmax(X)", square_only=True, shapes={"X": "n,n"}),
                    Example("eigmax(X*A)", shapes={"X": "n,m", "A": "m,n"}))),
    OpDef("eiggap", rank=21, jvp=_eiggap_jvp, build=eiggap, facts=_eiggap_facts, lower=_GAP_LOWER,
          language=("eiggap",), arity=1, shape="square_of_colvec", kind="matrix",
          text="eiggap({0})", latex="\\operatorname{{eiggap}}\\left({0}\\right)",
          examples=(Example("sum(eiggap(x) .* A)", wrt="x", shapes={"x": "n", "A": "n,n"}),),
          meaning="the matrix of 1/(w_j - w_i) off the diagonal, 0 on it (in eigenvector derivatives)", params=("w",)),
    OpDef("chol", rank=21, jvp=_chol_jvp, build=chol, facts=_chol_facts, sample="positive-definite",
          language=("chol",), arity=1, shape="square_same", kind="matrix", aliases=("cholesky",),
          text="chol({0})", latex="\\operatorname{{chol}}\\left({0}\\right)",
          requires=(require(0, Facts(symmetric=True), message="chol() needs a symmetric positive definite matrix "
                            "(declare it symmetric: --symmetric S, or pass sym(A))"),),
          lower={"numpy": "{xp}.linalg.cholesky({0})", "jax": "_chol({0})",
                 "torch": "torch.linalg.cholesky({0})"},
          examples=(Example("sum(chol(X*X' + A*A') .* B)", shapes={"X": "n,m", "A": "n,n", "B": "n,n"}),),
          meaning="the lower Cholesky factor L of a symmetric positive definite {0} = L*L'", params=("S",)),
    OpDef("tril_half", rank=21, jvp=_tril_half_jvp, build=tril_half, transpose=_tril_half_transpose,
          vec=_tril_half_vec, facts=_tril_half_facts, language=("tril_half",), arity=1, shape="same",
          kind="matrix", text="tril_half({0})", latex="\\Phi\\left({0}\\right)",
          lower={"numpy": "_tril_half({0})", "jax": "_tril_half({0})", "torch": "_tril_half({0})"},
          examples=(Example("sum(tril_half(X) .* A)", shapes={"X": "n,m", "A": "n,m"}),),
          meaning="the lower triangle of {0} with its diagonal halved (in Cholesky derivatives)", params=("M",)),
]

OUTPUT_NAMES["eigh"] = ("eigvals", "eigvecs")
OUTPUT_NAMES["eigmax"] = ("eigmax", "eigvecmax")  # the op eigtop() builds, named for its notes
OUTPUT_NAMES["eigmin"] = ("eigmin", "eigvecmin")  # the op eigbot() builds
OUTPUT_NAMES["eigr"] = ("eigmax", "eigvecl", "eigvecr")  # proj(eigh(S), 0) prints as eigvals(S)
