"""Second derivatives of a scalar f by one variable X, in three forms.

* the **second differential** ``d2f``, a quadratic form in ``dX`` (the differential of
  ``df`` with ``dX`` held fixed): ``logdet(X)`` gives ``-tr(inv(X)*dX*inv(X)*dX)``;
* the **Hessian-vector product** ``H[V]``, the directional derivative of the gradient
  ``G(X)`` along ``V`` — an expression with X's shape, linear in a new variable ``V``, that
  never materialises anything of size n² × n²: ``logdet(X)`` gives ``-inv(X)'*V'*inv(X)'``;
* the **Hessian matrix** on ``vec(X)`` (size(X) × size(X)): the Jacobian of ``vec(G)``,
  from the vec pass of :mod:`matdiff.jacobian` (``x'*A*x`` gives ``A + A'``).

Since ``d2f = <dX, H[dX]>`` and the Hessian is symmetric, the HVP is just ``d(G)`` with
``dX := V``: no transpose pass is needed. A symmetric X is handled consistently with
its gradient ``sym(G)``: the HVP is ``d(sym(G))[V]`` for symmetric ``V``.
"""

from __future__ import annotations

from . import expr as E
from .differentiate import differential
from .expr import Expr
from .jacobian import jacobians
from .simplify import simplify


def second_differential(df: Expr, dvars: dict) -> Expr:
    """d(df) with the dX leaves held fixed: the quadratic form d2f(dX, dX)."""
    return simplify(differential(df, dvars))


def hvp_name(taken) -> str:
    """A name for the direction of a Hessian-vector product that no variable uses."""
    for cand in ("V", "W", "U", "T", "V1", "V2", "V3"):
        if cand not in taken:
            return cand
    i = 4
    while f"V{i}" in taken:
        i += 1
    return f"V{i}"


def hvp(G: Expr, name: str, shape, symmetric: bool, vname: str) -> Expr:
    """H[V] = d(G)[dX := V], an expression in the new variable ``vname`` with X's shape."""
    V = E.var(vname, shape, symmetric)
    return simplify(differential(G, {name: V}))


def hessian_matrix(G: Expr, name: str, shape, symmetric: bool) -> Expr:
    """The Hessian on vec(X): the Jacobian of vec(G) (size(X) rows and columns)."""
    dX = E.dvar(name, shape, symmetric)
    dG = differential(G, {name: dX})
    return jacobians(dG, [name], {name: shape})[name]
