"""Gradient: one generic transpose (adjoint) pass over the linear differential.

Given a scalar ``df`` linear in ``dX``, find ``G`` with ``df = <G, dX> = tr(G' dX)``.
Starting from the cotangent 1 at the root, each linear node pulls its cotangent back to
the argument that depends on ``dX`` with the transpose rule of its registry entry
(``A*M*B -> A'*C*B'``, ``M' -> C'``, ``tr(M) -> C*I``, ``A .* M -> A .* C``, ...).
This is reverse mode done symbolically: exact, no pattern matching on traces, and
linear in the size of the differential.
"""

from __future__ import annotations

from ..core import expr as E
from ..core.expr import Expr
from ..ops.registry import OPS
from .trace import current


def transpose_linear(L: Expr, names, cotangent: Expr | None = None) -> dict:
    """The adjoint of the linear map ``dX -> L`` applied to ``cotangent`` (1 for scalar L).

    Returns ``{name: G}`` (``G`` unsimplified; a zero of the right shape where ``L`` does
    not depend on ``dname``).
    """
    names = list(names)
    nodes = L.walk()
    dep = set()
    for node in nodes:
        if node.op == "dvar" or not dep.isdisjoint(node.args):  # (a C loop: long products)
            dep.add(node)
    tracer = current()
    cot: dict = {L: [cotangent if cotangent is not None else E.ONE]}
    result: dict = {}
    for node in reversed(nodes):
        if node not in dep or node not in cot:
            continue
        parts = cot.pop(node)
        C = parts[0] if len(parts) == 1 else E.add(*parts)
        if node.op == "dvar":
            result.setdefault(node.attr[0], []).append(C)
            continue
        adj = OPS[node.op].adjoint
        if adj is None:
            raise AssertionError(f"internal: {node.op} is not linear in its argument ({node})")
        for i, a in enumerate(node.args):
            if a in dep:
                pulled = adj(node, C, i)
                cot.setdefault(a, []).append(pulled)
                if tracer is not None:
                    tracer.step(adj, node, pulled, ("transpose", i), cotangent=C)
    shapes = {n.attr[0]: n.shape for n in nodes if n.op == "dvar"}
    out = {}
    for name in names:
        if name in result:
            out[name] = E.add(*result[name])
        else:
            out[name] = None
    return out, shapes
