"""LU and QR factorizations and the triangular masks their differentials use (issue 11).

* ``lu(A)``: one tuple-valued node (:func:`matdiff.core.multi.multi`) with the outputs of the
  *unpivoted* LU factorization A = L*U of a square A (the 18.S096 exercise): L unit lower
  triangular, U upper triangular, read in the language as ``luL(A)`` and ``luU(A)``. It
  exists where every leading principal minor of A is nonzero (generated code raises at a
  zero pivot). With X = inv(L)*dA*inv(U), dA = dL*U + L*dU gives
  ``inv(L)*dL + dU*inv(U) = X``, a strictly lower plus an upper triangular matrix, so
  ``dL = L*tril_strict(X)`` and ``dU = triu(X)*U``.
* ``qr(A)``: the thin QR factorization A = Q*R of an m x n A with m >= n and full column
  rank: Q (m x n) with orthonormal columns, R (n x n) upper triangular with a positive
  diagonal (which makes it unique), read as ``qrQ(A)`` and ``qrR(A)``. With
  X = Q'*dA*inv(R): Q'*dQ is antisymmetric and dR*inv(R) upper triangular, and they add up
  to X, so with B = triu(X) + tril_strict(X)' (the upper triangle of X plus the transpose of
  its strict lower one) ``dR = B*R`` and ``dQ = dA*inv(R) - Q*B``.
* ``triu(M)`` (the upper triangle, diagonal included) and ``tril_strict(M)`` (the strict
  lower triangle): linear masks, each its own adjoint.

All differentials are built from ordinary differentiable ops (inv, products, the masks,
the outputs themselves), so gradients, Jacobians and Hessians come from the ordinary rules.
"""

from __future__ import annotations

from ..core import expr as E
from ..core import facts as F
from ..core import multi as M  # read at call time: core.multi may still be loading
from ..core.facts import Facts
from .base import Example, OpDef, rule
from .multi import OUTPUT_NAMES


def lu(A):
    """The tuple-valued node lu(A) = (L, U) of the unpivoted LU factorization of a square A."""
    return M.multi("lu", (A,), [A.shape, A.shape])


def qr(A):
    """The tuple-valued node qr(A) = (Q, R) of the thin QR factorization of A (m x n, m >= n)."""
    return M.multi("qr", (A,), [A.shape, (A.cols, A.cols)])


def triu(X):
    """The upper triangle of X, diagonal included (X itself where X is known upper triangular)."""
    if E.is_zero(X) or F.facts(X).upper:
        return X
    return E.Expr("triu", (X,), X.shape)


def tril_strict(X):
    """The strict lower triangle of X (zero on and above the diagonal; zero for an X known
    upper triangular)."""
    if E.is_zero(X) or F.facts(X).upper:
        return E.zero(X.shape)
    return E.Expr("tril_strict", (X,), X.shape)


@rule("d.lu", "d luL(A) = L*tril_strict(inv(L)*dA*inv(U)), d luU(A) = triu(inv(L)*dA*inv(U))*U, "
      "L = luL(A), U = luU(A)",
      r"\mathrm{d}L = L\,\operatorname{tril}_{<}(L^{-1}\mathrm{d}A\,U^{-1}),"
      r"\ \mathrm{d}U = \operatorname{triu}(L^{-1}\mathrm{d}A\,U^{-1})\,U",
      "18.S096 (MIT, 2023), problem set on LU; Walter & Lehmann (2018)")
def _lu_jvp(n, d):
    dA = d(0)
    if dA is None:
        return None
    L, U = M.proj(n, 0), M.proj(n, 1)
    X = E.mul(E.inv(L), dA, E.inv(U))
    return (E.mul(L, tril_strict(X)), E.mul(triu(X), U))


@rule("d.qr", "d qrR(A) = B*R, d qrQ(A) = dA*inv(R) - Q*B, B = triu(X) + tril_strict(X)', "
      "X = Q'*dA*inv(R), Q = qrQ(A), R = qrR(A)",
      r"\mathrm{d}R = B R,\ \mathrm{d}Q = \mathrm{d}A\,R^{-1} - Q B,\ "
      r"B = \operatorname{triu}(X) + \operatorname{tril}_{<}(X)^T,\ X = Q^T\mathrm{d}A\,R^{-1}",
      "Walter & Lehmann (2018); Seeger et al. (2017), Auto-differentiating linear algebra")
def _qr_jvp(n, d):
    dA = d(0)
    if dA is None:
        return None
    Q, R = M.proj(n, 0), M.proj(n, 1)
    Ri = E.inv(R)
    X = E.mul(E.transpose(Q), dA, Ri)
    B = E.add(triu(X), E.transpose(tril_strict(X)))
    return (E.add(E.mul(dA, Ri), E.neg(E.mul(Q, B))), E.mul(B, R))


def _mask_rules(name, build, what, tex):
    """JVP, transpose and vec rules of the linear mask ``name`` (its own adjoint)."""

    @rule(f"d.{name}", f"d {name}(M) = {name}(dM)", rf"\mathrm{{d}}\,{tex}(M) = {tex}(\mathrm{{d}}M)",
          "calculus: linearity")
    def jvp(n, d):
        return None if d(0) is None else build(d(0))

    @rule(f"T.{name}", f"<C, {name}(M)> = <{name}(C), M> (a mask: its own adjoint)",
          rf"\langle C, {tex}(M)\rangle = \langle {tex}(C), M\rangle", "definition")
    def transpose(n, C, i):
        return build(C)

    @rule(f"vec.{name}", f"vec({name}(M)) = diag(vec({name}(ones)))*vec(M) ({what})",
          rf"\operatorname{{vec}}{tex}(M) = \operatorname{{diag}}(\operatorname{{vec}}{tex}(\mathbf{{1}}))"
          r"\operatorname{vec}M", "definition")
    def vec(n, i, J):
        return E.mul(E.diagm(E.vec(build(E.ones(n.shape)))), J)

    return jvp, transpose, vec


_TRIU_RULES = _mask_rules("triu", triu, "the upper triangle", r"\operatorname{triu}")
_TRIL_STRICT_RULES = _mask_rules("tril_strict", tril_strict, "the strict lower triangle", r"\operatorname{tril}_{<}")


# ---------------------------------------------------------------------------- facts (transfer rules)
def _lu_facts(n, fs):
    # L: unit lower triangular; U: upper triangular, nonsingular where the factorization exists
    # (its diagonal entries are ratios of consecutive leading principal minors, all nonzero)
    return (Facts(lower=True, nonsingular=True), Facts(upper=True, nonsingular=True))


def _qr_facts(n, fs):
    # Q has orthonormal columns (orthogonal only when square: not claimed); R: upper triangular
    # with a positive diagonal
    return (Facts(lo=-1.0, hi=1.0), Facts(upper=True, nonsingular=True))


_LU_LOWER = {"numpy": "_lu({0})", "jax": "_lu({0})", "torch": "_lu({0})"}
_QR_LOWER = {"numpy": "_qr({0})", "jax": "_qr({0})", "torch": "_qr({0})"}

FACTOR = [
    OpDef("lu", rank=21, jvp=_lu_jvp, build=lu, facts=_lu_facts, lower=_LU_LOWER,
          sample="nonsingular",  # drawn diagonally dominant: every leading principal minor is nonzero
          text="lu({0})", latex="\\operatorname{{lu}}\\left({0}\\right)",
          examples=(Example("sum(luL(X) .* A)", shapes={"X": "n,n", "A": "n,n"}, square_only=True),
                    Example("sum(luU(X) .* A)", shapes={"X": "n,n", "A": "n,n"}, square_only=True),
                    Example("x'*luL(X)*luU(X)*y", shapes={"X": "n,n", "x": "n", "y": "n"}, square_only=True))),
    OpDef("qr", rank=21, jvp=_qr_jvp, build=qr, facts=_qr_facts, lower=_QR_LOWER,
          text="qr({0})", latex="\\operatorname{{qr}}\\left({0}\\right)",
          examples=(Example("sum(qrQ(X) .* A)", shapes={"X": "n,m", "A": "n,m"}),
                    Example("sum(qrR(X) .* A)", shapes={"X": "n,m", "A": "m,m"}),
                    Example("sum(qrQ(X) .* A)", shapes={"X": "n,n", "A": "n,n"}, square_only=True))),
    OpDef("triu", rank=21, jvp=_TRIU_RULES[0], build=triu, transpose=_TRIU_RULES[1], vec=_TRIU_RULES[2],
          facts=lambda n, fs: Facts(upper=True), language=("triu",), arity=1, shape="same", kind="matrix",
          text="triu({0})", latex="\\operatorname{{triu}}\\left({0}\\right)",
          lower={"numpy": "{xp}.triu({0})", "jax": "jnp.triu({0})", "torch": "torch.triu({0})"},
          examples=(Example("sum(triu(X) .* A)", shapes={"X": "n,m", "A": "n,m"}),
                    Example("sum(triu(X*X) .* A)", shapes={"X": "n,n", "A": "n,n"}, square_only=True)),
          meaning="the upper triangle of {0}, diagonal included", params=("M",)),
    OpDef("tril_strict", rank=21, jvp=_TRIL_STRICT_RULES[0], build=tril_strict, transpose=_TRIL_STRICT_RULES[1],
          vec=_TRIL_STRICT_RULES[2], facts=lambda n, fs: Facts(lower=True), language=("tril_strict",), arity=1,
          shape="same", kind="matrix", text="tril_strict({0})",
          latex="\\operatorname{{tril}}_{{<}}\\left({0}\\right)",
          lower={"numpy": "{xp}.tril({0}, -1)", "jax": "jnp.tril({0}, -1)", "torch": "torch.tril({0}, -1)"},
          examples=(Example("sum(tril_strict(X) .* A)", shapes={"X": "n,m", "A": "n,m"}),
                    Example("sum(tril_strict(X*X) .* A)", shapes={"X": "n,n", "A": "n,n"}, square_only=True)),
          meaning="the strict lower triangle of {0} (below the diagonal)", params=("M",)),
]

OUTPUT_NAMES["lu"] = ("luL", "luU")  # proj(lu(A), 0) prints as luL(A), which parses back to it
OUTPUT_NAMES["qr"] = ("qrQ", "qrR")
