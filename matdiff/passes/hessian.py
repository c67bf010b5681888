"""Second derivatives of a scalar f by one variable X, in three forms.

* the **second differential** ``d2f``, a quadratic form in ``dX`` (the differential of
  ``df`` with ``dX`` held fixed): ``logdet(X)`` gives ``-tr(inv(X)*dX*inv(X)*dX)``;
* the **Hessian-vector product** ``H[V]``, the directional derivative of the gradient
  ``G(X)`` along ``V`` — an expression with X's shape, linear in a new variable ``V``, that
  never materialises anything of size n² × n²: ``logdet(X)`` gives ``-inv(X)'*V'*inv(X)'``;
* the **Hessian matrix** on ``vec(X)`` (size(X) × size(X)): the Jacobian of ``vec(G)``,
  from the vec pass of :mod:`matdiff.jacobian` (``x'*A*x`` gives ``A + A'``).

With several variables the HVP has one direction per variable and one result per
gradient, and the Hessian comes in blocks ``H_ab = d vec(G_a) / d vec(b)``.

Since ``d2f = <dX, H[dX]>`` and the Hessian is symmetric, the HVP is just ``d(G)`` with
``dX := V``: no transpose pass is needed. A symmetric X is handled consistently with
its gradient ``sym(G)``: the HVP is ``d(sym(G))[V]`` for symmetric ``V``.
"""

from __future__ import annotations

from ..core import expr as E
from ..core.expr import Expr
from .differentiate import differential
from .simplify import simplify
from .vecpass import jacobians


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


def hvp_names(names, taken) -> dict:
    """Direction names for Hessian-vector products: V for one variable, V_X, V_Y, ... for
    several; never a name the expression uses."""
    taken = set(taken)
    if len(names) == 1:
        return {names[0]: hvp_name(taken)}
    out = {}
    for a in names:
        cand, i = f"V_{a}", 1
        while cand in taken or cand in out.values():
            i += 1
            cand = f"V{i}_{a}"
        out[a] = cand
    return out


def hvps(G: dict, names, shapes: dict, symmetric, vnames: dict) -> dict:
    """H[V] for each variable b: sum over a of d_a(G_b)[V_a] — the gradients' differential
    with each dA replaced by its direction V_A (new variables with A's shape)."""
    dirs = {a: E.var(vnames[a], shapes[a], a in symmetric) for a in names}
    return {b: simplify(differential(G[b], dirs)) for b in names}


def hessian_blocks(G: dict, names, shapes: dict, symmetric) -> dict:
    """{(a, b): H_ab}, H_ab = d vec(G_a) / d vec(b): the blocks of the Hessian on the
    stacked [vec(X1); vec(X2); ...] (the vec pass applied to each gradient's differential)."""
    dvars = {a: E.dvar(a, shapes[a], a in symmetric) for a in names}
    out = {}
    for a in names:
        J = jacobians(differential(G[a], dvars), names, shapes)
        for b in names:
            out[(a, b)] = J[b]
    return out
