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


# the sections of `matdiff functions`, in order, and the family modules each one lists
SECTIONS = {"matrix": "Matrices and linear algebra", "reduction": "Reductions",
            "reshape": "Reshaping and Kronecker products", "elementwise":
            "Elementwise functions (entry by entry on arrays, ordinary on scalars)",
            "matfun": "Matrix functions of a square matrix, and their derivatives",
            "eigen": "Eigenvalues and factorizations"}
_SECTION_OF: dict[str, str] = {}  # op -> section
for _family, _section in ((LEAVES, "matrix"), (ARITH, "matrix"), (LINALG, "matrix"), (REDUCE, "reduction"),
                          (RESHAPE, "reshape"), (KRON, "reshape"), (BLOCK, "reshape"), (MULTI, "eigen"),
                          (EIGEN, "eigen"), (MATFUN, "matfun"), (FACTOR, "eigen")):
    for _od in _family:
        register(_od)
        _SECTION_OF[_od.op] = _section
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


@record
class FunctionDoc:
    """One line of ``matdiff functions``: the names of one operation, how it is called, and
    what it computes (from its declaration)."""

    section: str  # a key of SECTIONS
    names: tuple
    params: tuple
    meaning: str

    def calls(self) -> str:
        """``tr(A), trace(A)``: each name called with the parameters."""
        args = ", ".join(self.params)
        return ", ".join(f"{n}({args})" for n in self.names)


def _params(given, arity: int) -> tuple:
    return tuple(given) or ("A", "B", "C", "D")[:arity]


def function_docs() -> list:
    """Every function of the language with its one-line meaning, from the declarations (the
    op's ``meaning`` and ``params``; an elementwise function's meaning and derivative rule; a
    macro's meaning), grouped by :data:`SECTIONS` in declaration order. A declaration without
    a meaning is an error here, so the list cannot leave a function out."""
    out = []

    def add(section, names, params, meaning, owner):
        if not meaning:
            raise ValueError(f"{owner}: declares language names {names} but no meaning")
        out.append(FunctionDoc(section, tuple(names), params, meaning.format(*params)))

    for od in OPS.values():
        if od.language and od.op != "fn":
            params = _params(od.params, od.arity or 1)
            add(_SECTION_OF.get(od.op, "matrix"), od.language, params, od.meaning, f"op {od.op!r}")
    for m in MACROS:
        params = _params(m.params, m.arity)
        section = m.section or ("reduction" if m.kind == "reduction" else "matrix")
        add(section, (m.name,), params, m.meaning, f"macro {m.name!r}")
    for name, d in _ew.ELEMENTWISE.items():
        add("elementwise", (name, *d.names), ("x",), d.meaning and f"{d.meaning}; {d.derivative.identity}",
            f"elementwise {name!r}")
    order = list(SECTIONS)
    return sorted(out, key=lambda f: order.index(f.section))  # (stable: declaration order within)


def functions_text() -> str:
    """``matdiff functions``: the language's functions by section, one line each."""
    docs = function_docs()
    width = min(max(len(f.calls()) for f in docs), 28)
    lines = ["The functions of the matdiff language (from the operation declarations; operators and",
             "syntax: + - * / .* ./ .^ ^ ' [A, B; C, D], see the README's language table).", ""]
    for key, title in SECTIONS.items():
        group = [f for f in docs if f.section == key]
        if not group:
            continue
        lines.append(title + ":")
        for f in group:
            call = f.calls()
            if len(call) > width:
                lines += [f"  {call}", f"  {'':{width}}  {f.meaning}"]
            else:
                lines.append(f"  {call:{width}}  {f.meaning}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


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
