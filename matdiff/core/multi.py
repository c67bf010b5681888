"""Operations with several outputs that share one computation.

An eigendecomposition ``eigh(S)`` yields eigenvalues and eigenvectors from one
factorization; so do ``qr``, ``svd``, ``slogdet``. Such an op is one *tuple-valued* node,
built with :func:`multi`: its ``shape`` is the tuple of the outputs' shapes, e.g.
``((n, 1), (n, n))``. Each output is a ``proj`` node (:func:`proj`, ``attr`` = the output's
index) with an ordinary shape, and that is the only way a tuple-valued node is used as an
argument: everything else (products, sums, printing) sees the projections.

Because nodes are hash-consed, ``proj(t, 0)`` and ``proj(t, 1)`` of the same ``t`` share
the one node ``t``: a back-end lowering the DAG with shared subexpressions computes ``t``
once (``w, V = eigh(S)``) and reads its parts. Facts (:mod:`matdiff.core.facts`) of a
tuple-valued node are a tuple of :class:`~matdiff.core.facts.Facts`, one per output; the
``proj`` transfer rule picks one.

>>> from matdiff.core import expr as E
>>> S = E.var("S", ("n", "n"), symmetric=True)
>>> t = multi("eigh", (S,), [("n", 1), ("n", "n")])
>>> w, V = outputs(t)
>>> w.shape, V.shape, w.args[0] is V.args[0]
(('n', 1), ('n', 'n'), True)
"""

from __future__ import annotations

from .expr import Expr


def is_multi(e: Expr) -> bool:
    """``e`` is a tuple-valued node (its shape is a tuple of shapes)."""
    return isinstance(e.shape[0], tuple)


def multi(op: str, args, shapes, attr=None) -> Expr:
    """The tuple-valued node ``op(*args)`` with one output per shape in ``shapes``."""
    shapes = tuple(tuple(s) for s in shapes)
    if len(shapes) < 2 or any(len(s) != 2 for s in shapes):
        raise ValueError(f"multi({op!r}): give two or more output shapes (rows, cols), got {shapes}")
    if any(is_multi(a) for a in args):
        raise ValueError(f"multi({op!r}): an argument is tuple-valued; pass one of its outputs (proj)")
    return Expr(op, tuple(args), shapes, attr)


def proj(t: Expr, i: int) -> Expr:
    """Output number ``i`` of the tuple-valued node ``t``."""
    if not is_multi(t):
        raise ValueError(f"proj(): {t.op} is not tuple-valued")
    if not 0 <= i < len(t.shape):
        raise ValueError(f"proj(): {t.op} has {len(t.shape)} outputs, no output {i}")
    return Expr("proj", (t,), t.shape[i], i)


def outputs(t: Expr) -> tuple:
    """All outputs of the tuple-valued node ``t``, as ``proj`` nodes."""
    return tuple(proj(t, i) for i in range(len(t.shape)))
