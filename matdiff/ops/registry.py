"""The operation registry: ``OPS[op]`` is the one :class:`~matdiff.ops.base.OpDef` of each
internal op (the ``op`` field of :class:`~matdiff.core.expr.Expr`).

Declarations live in family modules (:mod:`.leaves`, :mod:`.arith`, :mod:`.linalg`,
:mod:`.reduce`, :mod:`.reshape`, :mod:`.kron`, :mod:`.block`, :mod:`.matfun`, :mod:`.eigen`; elementwise functions in :mod:`.elementwise`,
reached through the op ``fn``). Everything else reads them: the parser's function table
(:func:`language_functions`), the constructors' ordering ranks and generic rebuild
(:mod:`matdiff.core.expr`), the differentiator (``jvp``), the gradient pass (``transpose``,
also spelled ``adjoint``), the vec pass (``vec``) and the printers (``text``, ``latex``).

NumPy code is not a per-op template: :mod:`matdiff.backends.lower` lowers whole products,
traces and solves at once (chain order, ``solve`` for ``inv(A)*B``, ``sum(A*B')`` for
traces), which needs the context of neighbouring nodes.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..core import expr as E
from ..core.errors import register_function
from ..core.facts import Requirement
from ..core.record import record
from . import elementwise as _ew  # (a module: elementwise.py may be the one loading us)
from .arith import ARITH
from .base import OpDef
from .block import BLOCK
from .eigen import EIGEN
from .factor import FACTOR
from .kron import KRON
from .leaves import LEAVES
from .linalg import LINALG
from .macros import MACROS
from .matfun import MATFUN
from .multi import MULTI
from .reduce import REDUCE
from .reshape import RESHAPE

OPS: dict[str, OpDef] = {}
_VERSION = [0]  # bumped whenever OPS changes: tables derived from it (the parser's) rebuild


def version() -> int:
    """A number that changes whenever a declaration is added or removed."""
    return _VERSION[0]


def register(od: OpDef) -> OpDef:
    """Add a declaration; the constructors learn its rank and how to rebuild its nodes."""
    if od.op in OPS:
        raise ValueError(f"op {od.op!r} is declared twice")
    if not all(isinstance(r, Requirement) for r in od.requires):
        raise ValueError(f"op {od.op!r}: requires must be a tuple of Requirement (facts.require)")
    OPS[od.op] = od
    _VERSION[0] += 1
    for i, name in enumerate(od.language):  # unknown-name suggestions learn its names
        register_function(name, od.kind, od.aliases if i == 0 else ())
    E._RANK[od.op] = od.rank
    if od.build is not None or od.rebuild is not None:
        E._REBUILD[od.op] = od.rebuild_node
    return od


@contextmanager
def registered(*defs: OpDef):
    """The declarations ``defs`` registered for the duration of a ``with`` block, then removed
    (a test-only op); the parser's function tables follow (they rebuild on :func:`version`)."""
    for od in defs:
        register(od)
    try:
        yield defs
    finally:
        for od in defs:
            OPS.pop(od.op, None)
            E._RANK.pop(od.op, None)
            E._REBUILD.pop(od.op, None)
        _VERSION[0] += 1


for _family in (LEAVES, ARITH, LINALG, REDUCE, RESHAPE, KRON, BLOCK, MULTI, EIGEN, MATFUN, FACTOR):
    for _od in _family:
        register(_od)
E._rekey()  # nodes built while the registry loaded (the constants E.ONE, E.ZERO_S) get their ranks
for _m in MACROS:  # language names that build expressions of the ops above (solve, softmax, ...)
    register_function(_m.name, _m.kind, _m.aliases)


@record
class LanguageFunction:
    """A function name of the input language: the op it builds and how."""

    name: str
    op: object  # the OpDef, or the Macro (a name of .macros)
    arity: int
    shape: str | None  # the parser's shape rule (by name); "dims": the arguments are sizes
    build: object  # builder(syntax node, *argument Exprs) -> Expr, or None (built by the parser)
    dim_args: tuple = ()
    keeps_name: bool = False


def _builder(od: OpDef):
    if od.parse_build is not None:
        return od.parse_build
    if od.shape == "dims" or od.dim_args:
        return None  # sizes as arguments: the parser builds these from the shapes it inferred
    return lambda node, *args: od.build(*args)


def language_functions() -> dict[str, LanguageFunction]:
    """Every function name a user may call, from the declarations (elementwise ones via
    ``fn``; the names of :mod:`.macros` last, their ``op`` the macro), in declaration order."""
    out = {}
    for od in OPS.values():
        for name in od.language:
            out[name] = LanguageFunction(name, od, od.arity, od.shape, _builder(od), od.dim_args,
                                         od.keeps_name)
    fn = OPS["fn"]
    for name, d in _ew.ELEMENTWISE.items():  # (asin parses as arcsin: one node, one name)
        for spelled in (name, *d.names):
            out[spelled] = LanguageFunction(spelled, fn, 1, "same",
                                            (lambda f: lambda node, a: E.fn(f, a))(name), (), True)
    for m in MACROS:
        out[m.name] = LanguageFunction(m.name, m, m.arity, m.shape,
                                       (lambda b: lambda node, *args: b(*args))(m.build))
    return out


def kink_of(node):
    """(name, :class:`matdiff.ops.base.Kink`) for a node of a declared op that is not
    differentiable somewhere (abs, relu, sign, step, max, min, norm2, ...), else None."""
    if node.op == "fn":
        d = _ew.ELEMENTWISE.get(node.attr)
        return (node.attr, d.kink) if d is not None and d.kink is not None else None
    od = OPS.get(node.op)
    return (od.op, od.kink) if od is not None and od.kink is not None else None


def kinks(*exprs) -> list:
    """The nodes of ``exprs`` with a kink: [(node, name, Kink)], each node once, in walk order."""
    out, seen = [], set()
    for e in exprs:
        for n in e.walk():
            if n in seen:
                continue
            seen.add(n)
            k = kink_of(n)
            if k is not None:
                out.append((n, *k))
    return out


def kink_notes(expr) -> list:
    """One note per nonsmooth function in ``expr``: where it has its kink and what matdiff's
    derivative is there (the CLI prints them; ``--format json`` lists them in "notes")."""
    out = []
    for _n, name, k in kinks(expr):
        if not k.noted:
            continue
        note = f"{name} is not differentiable {k.where}: {k.derivative}"
        if note not in out:
            out.append(note)
    return out
