"""Differentiation: ``d(expr)``, the differential, linear in the ``dX`` leaves.

One memoised pass over the DAG (children first, no recursion); each node applies the
JVP rule of its registry entry (:mod:`matdiff.ops`) to its arguments' differentials.
"""

from __future__ import annotations

from ..core import expr as E
from ..core.expr import Expr
from ..ops.elementwise import ELEMENTWISE
from ..ops.registry import OPS
from .trace import current


def differential(e: Expr, wrt: dict) -> Expr:
    """The differential of ``e`` in the variables ``wrt`` (name -> ``dvar`` leaf).

    Returns an expression linear in those ``dvar`` leaves (a zero of e's shape when e
    does not depend on them).

    >>> from matdiff.lang.parsing import parse
    >>> X = parse("X", {"X": "n,n"})
    >>> str(differential(parse("det(X)", {"X": "n,n"}), {"X": E.dvar("X", X.shape)}))
    'det(X)*tr(inv(X)*dX)'
    """
    memo: dict = {}
    tracer = current()
    for node in e.walk():
        if node.op == "var":
            memo[node] = wrt.get(node.attr[0])
            continue
        if not node.args or all(memo[a] is None for a in node.args):
            memo[node] = None
            continue
        rule = OPS[node.op].jvp
        memo[node] = d = rule(node, lambda i, node=node: memo[node.args[i]])
        if tracer is not None:
            if node.op == "fn":  # the chain rule, then the function's own derivative
                tracer.step(ELEMENTWISE[node.attr].derivative, node, d, ("differentiate", node.attr))
            tracer.step(rule, node, d, ("differentiate",))
    d = memo[e]
    return E.zero(e.shape) if d is None else d


def dvars_for(shapes: dict, names, symmetric=()) -> dict:
    """name -> dX leaf for each name to differentiate by."""
    return {n: E.dvar(n, shapes[n], n in symmetric) for n in names}
