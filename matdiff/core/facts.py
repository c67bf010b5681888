"""The property layer: what is known about the value of every node, for all inputs.

:class:`Facts` records structure (symmetric, positive semidefinite / definite, lower /
upper triangular, diagonal, orthogonal, nonsingular) and a closed interval ``[lo, hi]``
holding every entry (the value itself for a scalar). :func:`facts` computes them per
node from per-op *transfer rules* (``OpDef.facts``, declared with each op in
:mod:`matdiff.ops`: a function of the node and the facts of its arguments), iteratively over the DAG (children first, no recursion) and
memoized per node for as long as the node lives. One analysis serves the simplifier
(``S' -> S``), the code generator (a weighted Gram product as a symmetric rank-k
product when the weights are nonnegative) and the checker's sampling.

Semantics: a claim holds wherever the value is real and defined. ``log(x)`` at a
negative ``x`` or ``inv(A)`` at a singular ``A`` is NaN or an error, not a counterexample;
so ``x .^ 0.5`` is claimed nonnegative (its value is NaN where ``x < 0``), and ``inv`` of a
positive semidefinite matrix positive definite (where it exists, the matrix is definite).
An unbounded side of an interval is ``-inf`` / ``inf``; ``exp(x)`` is in ``[0, inf]``
(closed: floating point underflows to 0). Entries that overflow to ``inf`` are inside.

Elementwise functions take their range from ``ELEMENTWISE[name].range``
(:mod:`matdiff.ops.elementwise`): a new function needs no edit here.

*Requirements*: an op's declaration lists what it needs of its arguments
(``OpDef(..., requires=(require(0, Facts(symmetric=True), how="symmetrize"),))``).
:func:`check_call` is run where an expression is built from user input
(:mod:`matdiff.lang.parsing`): a requirement the facts cannot show is a
:class:`~matdiff.core.errors.RequirementError` naming the position, or, for
``how="symmetrize"``, the documented replacement ``S -> (S + S')/2``.

*Domains* (what the checker's sampler must meet): :func:`sampling_needs` says which
arguments of a node need positive entries, a nonsingular or positive definite matrix, from
the sampling domain its op declares (``OpDef.sample``; :data:`DOMAIN_NEEDS`).

*Several outputs*: a tuple-valued node (:func:`matdiff.core.multi.multi`) has a tuple of
facts, one per output; ``proj`` picks one (see :mod:`matdiff.core.multi`).
"""

from __future__ import annotations

import math
import threading
from fractions import Fraction
from operator import attrgetter

from .errors import RequirementError, caret, spelled, where
from .record import record, replace

INF = math.inf

STRUCTURE = ("symmetric", "psd", "pd", "lower", "upper", "diagonal", "orthogonal", "nonsingular")


@record
class Facts:
    """What holds for a node's value for all inputs (immutable).

    Booleans are claims (False: not known, not "known false"). ``lo``/``hi`` bound every
    entry (a scalar's value). ``psd``/``pd`` imply ``symmetric``; ``diagonal`` implies
    ``lower``, ``upper`` and ``symmetric``; ``pd`` and ``orthogonal`` imply
    ``nonsingular`` (:meth:`closed` adds what is implied).

    >>> Facts(pd=True).closed().symmetric
    True
    """

    symmetric: bool = False
    psd: bool = False
    pd: bool = False
    lower: bool = False
    upper: bool = False
    diagonal: bool = False
    orthogonal: bool = False
    nonsingular: bool = False
    lo: float = -INF
    hi: float = INF

    @property
    def nonnegative(self) -> bool:
        """Every entry >= 0."""
        return self.lo >= 0

    @property
    def positive(self) -> bool:
        """Every entry > 0."""
        return self.lo > 0

    def closed(self) -> Facts:
        """These facts with everything they imply added."""
        f = self
        if f.pd:
            f = replace(f, psd=True, nonsingular=True)
        if f.lower and f.upper:
            f = replace(f, diagonal=True)
        if f.diagonal:
            f = replace(f, lower=True, upper=True, symmetric=True)
        if f.psd:
            f = replace(f, symmetric=True)
        if f.orthogonal:
            f = replace(f, nonsingular=True)
        return f

    def meets(self, need: Facts) -> bool:
        """Every claim of ``need`` is shown by these facts."""
        have = self.closed()
        for name in STRUCTURE:
            if getattr(need, name) and not getattr(have, name):
                return False
        return have.lo >= need.lo and have.hi <= need.hi

    def describe(self) -> str:
        """The claims in words ("symmetric, positive definite, entries in [0, 1]")."""
        words = {"symmetric": "symmetric", "psd": "positive semidefinite", "pd": "positive definite",
                 "lower": "lower triangular", "upper": "upper triangular", "diagonal": "diagonal",
                 "orthogonal": "orthogonal", "nonsingular": "nonsingular"}
        out = [w for k, w in words.items() if getattr(self, k)]
        if self.lo > -INF and self.hi < INF:
            out.append(f"entries in [{self.lo:g}, {self.hi:g}]")
        elif self.lo > -INF:
            out.append(f"entries >= {self.lo:g}")
        elif self.hi < INF:
            out.append(f"entries <= {self.hi:g}")
        return ", ".join(out) or "nothing"


NOTHING = Facts()


# ---------------------------------------------------------------------------- intervals


def _m(x: float, y: float) -> float:
    """x*y with 0*inf = 0 (endpoints of real intervals: 0 is attained, inf only approached)."""
    return 0.0 if x == 0 or y == 0 else x * y


def imul(a: tuple, b: tuple) -> tuple:
    """The interval of products x*y for x in a, y in b."""
    ps = (_m(a[0], b[0]), _m(a[0], b[1]), _m(a[1], b[0]), _m(a[1], b[1]))
    return min(ps), max(ps)


def iadd(a: tuple, b: tuple) -> tuple:
    """The interval of sums x + y for x in a, y in b."""
    return a[0] + b[0], a[1] + b[1]


def _pw(x: float, p) -> float:
    """x ** p on floats with infinities and overflow (x >= 0 unless p is an integer)."""
    if x == 0:
        return INF if p < 0 else (1.0 if p == 0 else 0.0)
    try:
        return float(x) ** float(p) if not isinstance(p, int) else float(x) ** p
    except OverflowError:
        return INF if x > 0 or p % 2 == 0 else -INF


def ipow(a: tuple, p: Fraction) -> tuple:
    """The interval of x**p for x in a, where the power is real (see the module docstring)."""
    lo, hi = a
    if p.denominator != 1:  # real only for x >= 0
        lo, hi = max(lo, 0.0), max(hi, 0.0)
        return (_pw(lo, p), _pw(hi, p)) if p > 0 else (_pw(hi, p), _pw(lo, p))
    k = int(p)
    if k == 0:
        return 1.0, 1.0
    if k < 0:
        r = ipow(a, Fraction(-k))
        if r[0] > 0 or r[1] < 0:  # 1/x is decreasing on each side of 0
            return _pw(r[1], -1), _pw(r[0], -1)
        if r[0] == 0:  # 1/x on [0, b]: [1/b, inf]
            return (_pw(r[1], -1) if r[1] > 0 else INF), INF
        return -INF, INF
    if k % 2:
        return _pw(lo, k), _pw(hi, k)
    if lo >= 0:
        return _pw(lo, k), _pw(hi, k)
    if hi <= 0:
        return _pw(hi, k), _pw(lo, k)
    return 0.0, max(_pw(lo, k), _pw(hi, k))


def interval(f: Facts) -> tuple:
    """The interval ``(lo, hi)`` of the entries."""
    return f.lo, f.hi


def sign_of_sums(r: tuple) -> tuple:
    """The interval of a sum of an unknown number of entries each in r: its sign only."""
    return (0.0 if r[0] >= 0 else -INF), (0.0 if r[1] <= 0 else INF)


def hull0(r: tuple) -> tuple:
    """r together with 0 (the off-diagonal zeros of a diagonal matrix, say)."""
    return min(r[0], 0.0), max(r[1], 0.0)


# ---------------------------------------------------------------------------- transfer rules
# Each op's transfer rule ``fn(node, arg_facts) -> Facts`` is part of its declaration
# (``OpDef.facts``, in the family modules of :mod:`matdiff.ops`); these are the shared pieces.


def no_facts(node, arg_facts) -> Facts:
    """The transfer rule of an op that yields no facts (stated, rather than left out)."""
    return NOTHING


# ---------------------------------------------------------------------------- computing facts

_LOCK = threading.RLock()


def _finish(node: Expr, f: Facts) -> Facts:
    """Facts made consistent with the node's shape (and closed under implication)."""
    f = f.closed()
    if node.is_scalar:  # a 1x1 value: symmetric and diagonal; psd means >= 0
        lo = max(f.lo, 0.0) if f.psd else f.lo
        return replace(f, symmetric=True, lower=True, upper=True, diagonal=True, psd=lo >= 0,
                       pd=lo > 0, nonsingular=f.nonsingular or lo > 0 or f.hi < 0, lo=lo)
    if node.rows != node.cols:  # the structural claims are about square matrices
        return replace(f, **{k: False for k in STRUCTURE})
    return f


def facts(e: Expr):
    """The :class:`Facts` of ``e`` (a tuple of them for a tuple-valued node); computed
    children first, iteratively, and remembered for as long as the node lives.

    >>> from matdiff.lang.parsing import parse
    >>> facts(parse("X'*X")).psd
    True
    """
    with _LOCK:
        try:
            return e._facts
        except AttributeError:
            pass
        from ..ops.registry import OPS

        for node in _unknown(e):
            od = OPS.get(node.op)
            rule = od.facts if od is not None else None
            if rule is None:  # not a declared op (a test's node): nothing known
                out = tuple(NOTHING for _ in node.shape) if _multi.is_multi(node) else NOTHING
            else:
                out = rule(node, list(map(_get_facts, node.args)))
            if _multi.is_multi(node):
                out = tuple(_finish(_Shaped(s), f) for s, f in zip(node.shape, out))
            else:
                out = _finish(node, out)
                if out == NOTHING:  # one object for "nothing known", the usual case: rules
                    out = NOTHING  # over long chains test it by identity, at C speed
            node._facts = out  # remembered in the node, for as long as it lives
        return e._facts


_get_facts = attrgetter("_facts")


def _unknown(e: Expr) -> list:
    """The nodes under ``e`` without facts yet, children first (iterative; a node with
    facts is not entered, so a call on a new root above a known DAG is cheap)."""
    order, seen = [], set()
    stack = [(e, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen or hasattr(node, "_facts"):
            continue
        seen.add(id(node))
        stack.append((node, True))
        args = node.args
        if args and all(map(_has_facts, args)):  # the usual case: a new node over known ones
            continue
        for a in reversed(args):
            if id(a) not in seen and not hasattr(a, "_facts"):
                stack.append((a, False))
    return order


def _has_facts(a) -> bool:
    return hasattr(a, "_facts")


class _Shaped:
    """Just a shape (one output of a tuple-valued node), for :func:`_finish`."""

    def __init__(self, shape):
        self.shape = shape
        self.rows, self.cols = shape
        self.is_scalar = shape[0] == 1 and shape[1] == 1


def is_symmetric(e: Expr) -> bool:
    """Symmetric for all inputs (square and equal to its transpose)."""
    return facts(e).symmetric


def is_nonnegative(e: Expr) -> bool:
    """Every entry >= 0 for all inputs."""
    return facts(e).lo >= 0


def in_unit_interval(e: Expr) -> bool:
    """Every entry in [0, 1] for all inputs."""
    f = facts(e)
    return f.lo >= 0 and f.hi <= 1


# ---------------------------------------------------------------------------- requirements


@record
class Requirement:
    """An op needs ``needs`` of its argument number ``arg``; ``how``: "error" (a clear error
    when the facts cannot show it) or "symmetrize" (replace the argument S by (S + S')/2: only
    for a requirement of symmetry, the way ``jax.lax.linalg.cholesky(symmetrize_input=True)``
    reads its input). Declared in ``OpDef.requires`` (see :func:`require`)."""

    arg: int
    needs: Facts
    how: str = "error"
    message: str = ""


def require(arg: int, needs: Facts, how: str = "error", message: str = "") -> Requirement:
    """A :class:`Requirement` for an op's declaration (``OpDef(..., requires=(require(0,
    Facts(symmetric=True), how="symmetrize"),))``), checked for sense.

    ``message`` says why, in words ("chol needs a symmetric matrix").
    """
    if how not in ("error", "symmetrize"):
        raise ValueError(f"require(): how must be 'error' or 'symmetrize', not {how!r}")
    if how == "symmetrize" and replace(needs, symmetric=False) != NOTHING:
        raise ValueError("require(): how='symmetrize' only makes an argument symmetric; "
                         "declare other needs as separate requirements")
    return Requirement(arg, needs, how, message)


def symmetrize(a: Expr) -> Expr:
    """(A + A')/2, the symmetric part of a square A."""
    return E.mul(E.const(Fraction(1, 2)), E.add(a, E.transpose(a)))


def check_call(od, args, text: str = "", pos=None, arg_pos=None, name: str = "") -> list:
    """The arguments of a call of the op declared by ``od`` (called ``name`` in the input)
    with the requirements of its declaration (``od.requires``) met: unchanged, or symmetrized
    where it declares that; a :class:`~matdiff.core.errors.RequirementError` (with the
    position ``arg_pos[i]`` or ``pos`` in ``text``) where a requirement cannot be shown."""
    reqs = od.requires
    if not reqs:
        return list(args)
    op = name or od.op
    args = list(args)
    for r in reqs:
        a = args[r.arg]
        if facts(a).meets(r.needs):
            continue
        if r.how == "symmetrize" and a.rows == a.cols:
            args[r.arg] = symmetrize(a)
            continue
        at = arg_pos[r.arg] if arg_pos else pos
        msg = r.message or f"{op}() needs argument {r.arg + 1} to be {r.needs.describe()}"
        hint = _declaration_hint(a, r.needs) if r.needs.symmetric else ""
        loc = f" at {where(text, at)}" if text and at is not None else ""
        shown = caret(text, at) if text and at is not None else ""
        raise RequirementError(f"{msg}, which cannot be shown for {_short(a)}{loc}{hint}"
                               + (f"\n{shown}" if shown else ""))
    return args


def _declaration_hint(a: Expr, needs: Facts) -> str:
    """Advice for an argument not known to be symmetric: declare the square variables
    symmetric where that would show it (checked by building it so), else rewrite."""
    square = {n: E.var(n.attr[0], n.shape, True) for n in a.walk()
              if n.op == "var" and n.rows == n.cols and not n.is_scalar and not n.attr[1]}
    if square and facts(E.substitute(a, square)).meets(needs):
        names = sorted(n.attr[0] for n in square)
        decl = spelled(" ".join(f"--symmetric {n}" for n in names), f"symmetric={names!r}")
        t = a.attr[0] if a.op == "var" else "A"
        return f"; declare {', '.join(names)} symmetric ({decl}), or pass the symmetric part ({t} + {t}')/2"
    return "; write a symmetric expression, such as (A + A')/2 or A'*A"


def _short(e: Expr) -> str:
    try:
        s = str(e)
    except Exception:  # noqa: BLE001 (an op the printer does not know: name it instead)
        s = e.op
    return s if len(s) <= 60 else s[:57] + "..."


# ---------------------------------------------------------------------------- sampling domains

# what each sampling domain of a declaration (``OpDef.sample``, see matdiff.ops.base.SAMPLE_KINDS)
# needs of an argument; the checker draws an argument that needs anything positive (entries
# > 0, det > 0 when square, positive definite when also symmetric)
DOMAIN_NEEDS: dict = {"any": None, "positive": Facts(lo=math.nextafter(0.0, 1.0)),
                      "nonsingular": Facts(nonsingular=True), "positive-definite": Facts(pd=True)}


def sampling_needs(node: Expr) -> list:
    """``[(arg index, Facts needed)]``: what the checker's sampler must make true of the
    arguments of ``node`` so that its value (and derivative) is real and defined there, from
    the sampling domain its op declares (``OpDef.sample``; an elementwise function's from its
    ``ElementwiseDef.domain``, a power's from its exponent)."""
    from ..ops.base import sample_kinds
    from ..ops.registry import OPS

    od = OPS.get(node.op)
    if od is None:
        return []
    return [(i, DOMAIN_NEEDS[k]) for i, k in enumerate(sample_kinds(od, node)) if DOMAIN_NEEDS[k] is not None]


def positive_variables(e: Expr) -> set:
    """Names of the variables the checker draws positive (entries > 0, det > 0 when square):
    those inside an argument whose domain need (:func:`sampling_needs`) the facts of that
    argument do not already show (``log(1 + x.^2)`` needs nothing of ``x``)."""
    out: set = set()
    for n in e.walk():
        for i, need in sampling_needs(n):
            a = n.args[i]
            if not facts(a).meets(need):
                out |= a.free_vars()
    return out


# the nodes' module loads last: loading it loads the op declarations, which import Facts from here
from . import expr as E  # noqa: E402
from . import multi as _multi  # noqa: E402 (its names are read at call time: no import cycle)
from .expr import Expr  # noqa: E402, F401
