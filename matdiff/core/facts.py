"""The property layer: what is known about the value of every node, for all inputs.

:class:`Facts` records structure (symmetric, positive semidefinite / definite, lower /
upper triangular, diagonal, orthogonal, nonsingular) and a closed interval ``[lo, hi]``
holding every entry (the value itself for a scalar). :func:`facts` computes them per
node from per-op *transfer rules* (``@transfer("mul")``: a function of the node and the
facts of its arguments), iteratively over the DAG (children first, no recursion) and
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

*Requirements*: :func:`require` declares that an op needs a fact of an argument
(``require("chol", 0, Facts(symmetric=True), how="symmetrize")``). :func:`check_call` is
run where an expression is built from user input (:mod:`matdiff.lang.parsing`): a
requirement the facts cannot show is a :class:`RequirementError` naming the position, or,
for ``how="symmetrize"``, the documented replacement ``S -> (S + S')/2``.

*Domains* (what the checker's sampler must meet): :func:`sampling_needs` says which
arguments of a node need positive entries and, for a square matrix, a positive
determinant, derived from ``ELEMENTWISE[name].domain`` and :data:`DOMAINS`.

*Several outputs*: a tuple-valued node (:func:`matdiff.core.multi.multi`) has a tuple of
facts, one per output; ``proj`` picks one (see :mod:`matdiff.core.multi`).
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

from . import expr as E
from .errors import MatdiffError, caret, spelled, where
from .expr import Expr
from .multi import is_multi

INF = math.inf

_STRUCTURE = ("symmetric", "psd", "pd", "lower", "upper", "diagonal", "orthogonal", "nonsingular")


@dataclass(frozen=True)
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
        for name in _STRUCTURE:
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


def _rng(f: Facts) -> tuple:
    return f.lo, f.hi


def _sign_of_sums(r: tuple) -> tuple:
    """The interval of a sum of an unknown number of entries each in r: its sign only."""
    return (0.0 if r[0] >= 0 else -INF), (0.0 if r[1] <= 0 else INF)


def _hull0(r: tuple) -> tuple:
    """r together with 0 (the off-diagonal zeros of a diagonal matrix, say)."""
    return min(r[0], 0.0), max(r[1], 0.0)


# ---------------------------------------------------------------------------- transfer rules

TRANSFER: dict[str, Callable] = {}


def transfer(op: str):
    """Register ``fn(node, arg_facts) -> Facts`` as the transfer rule of ``op``."""
    def deco(fn):
        TRANSFER[op] = fn
        return fn
    return deco


@transfer("var")
@transfer("dvar")
def _t_var(n, fs):
    # a variable declared symmetric is symmetric (so is its differential dS)
    return Facts(symmetric=n.attr[1])


@transfer("const")
def _t_const(n, fs):
    v = float(n.attr)
    return Facts(lo=v, hi=v)


@transfer("eye")
def _t_eye(n, fs):
    return Facts(pd=True, diagonal=True, orthogonal=True, lo=0.0, hi=1.0)


@transfer("ones")
def _t_ones(n, fs):
    # 1 1' is positive semidefinite (when square)
    return Facts(psd=True, lo=1.0, hi=1.0)


@transfer("zero")
def _t_zero(n, fs):
    return Facts(psd=True, diagonal=True, lo=0.0, hi=0.0)


@transfer("K")
def _t_commutation(n, fs):
    # a permutation matrix; K(n, n) is its own transpose (K(m, n)' = K(n, m))
    m, k = n.attr
    return Facts(orthogonal=True, symmetric=m == k, lo=0.0, hi=1.0)


@transfer("transpose")
def _t_transpose(n, fs):
    (a,) = fs
    return replace(a, lower=a.upper, upper=a.lower)


def _transposed(t: Expr) -> Expr:
    """t' with the transpose pushed through a product (s*A*B)' = s*B'*A'."""
    if t.op == "mul":
        c, s, ch = E.factors(t)
        return E.mul(E.const(c), *s, *[E.transpose(f) for f in reversed(ch)])
    return E.transpose(t)


@transfer("add")
def _t_add(n, fs):
    r = _rng(fs[0])
    for f in fs[1:]:
        r = iadd(r, _rng(f))
    sym = all(f.symmetric for f in fs)
    if not sym:  # terms closed under transposition: A + A', X*Y + Y'*X'
        terms = set(n.args)
        sym = all(_transposed(t) in terms for t in n.args)
    psd = all(f.psd for f in fs)
    return Facts(symmetric=sym, psd=psd, pd=psd and any(f.pd for f in fs),
                 lower=all(f.lower for f in fs), upper=all(f.upper for f in fs),
                 diagonal=all(f.diagonal for f in fs), lo=r[0], hi=r[1])


def _chain_facts(chain, cf) -> Facts:
    """Facts of a matrix chain F1*...*Fk (k >= 1) from the facts of its factors."""
    k = len(chain)
    if k == 1:
        return cf[0]
    # a palindrome F1..Fj M Fj'..F1' (pairs transposed, or one symmetric factor twice) is
    # symmetric when its middle is; it is G*M*G' with G = F1..Fj: psd when M is (or absent)
    pal = True
    for i in range(k // 2):
        a, b = chain[i], chain[k - 1 - i]
        if E.transpose(a) is not b and not (a is b and cf[i].symmetric):
            pal = False
            break
    mid = cf[k // 2] if k % 2 else None
    sym = pal and (mid is None or mid.symmetric)
    psd = pal and (mid is None or mid.psd)
    square = all(f.rows == f.cols for f in chain)
    nonsing = square and all(f.nonsingular for f in cf)
    pd = psd and nonsing and (mid is None or mid.pd)
    # entries: a sum of products, so only the sign is known, where every factor has one
    lo, hi = -INF, INF
    if all(f.lo >= 0 or f.hi <= 0 for f in cf):
        neg = sum(1 for f in cf if not f.lo >= 0) % 2
        lo, hi = (-INF, 0.0) if neg else (0.0, INF)
    return Facts(symmetric=sym or all(f.diagonal for f in cf), psd=psd, pd=pd,
                 lower=all(f.lower for f in cf), upper=all(f.upper for f in cf),
                 diagonal=all(f.diagonal for f in cf), orthogonal=all(f.orthogonal for f in cf),
                 nonsingular=nonsing, lo=lo, hi=hi)


@transfer("mul")
def _t_mul(n, fs):
    # scalar factors scale (an interval product); the matrix chain keeps its structure,
    # and a nonnegative scale keeps (semi)definiteness: c*X'*X, x'*S*x with S psd
    scal, chain, cf = (1.0, 1.0), [], []
    for a, f in zip(n.args, fs):
        if a.is_scalar:
            scal = imul(scal, _rng(f))
        else:
            chain.append(a)
            cf.append(f.closed())
    if not chain:
        return Facts(lo=scal[0], hi=scal[1])
    c = _chain_facts(chain, cf)
    r = imul(scal, _rng(c))
    pos, nonzero = scal[0] >= 0, scal[0] > 0 or scal[1] < 0
    return Facts(symmetric=c.symmetric, psd=c.psd and pos, pd=c.pd and scal[0] > 0,
                 lower=c.lower, upper=c.upper, diagonal=c.diagonal,
                 orthogonal=c.orthogonal and scal == (1.0, 1.0), nonsingular=c.nonsingular and nonzero,
                 lo=r[0], hi=r[1])


@transfer("had")
def _t_had(n, fs):
    # Schur product theorem: A .* B is psd (pd) when A and B are; a diagonal factor zeroes
    # everything off the diagonal
    r = _rng(fs[0])
    for f in fs[1:]:
        r = imul(r, _rng(f))
    diag = any(f.diagonal for f in fs)
    psd = all(f.psd for f in fs)
    return Facts(symmetric=all(f.symmetric for f in fs) or diag, psd=psd, pd=all(f.pd for f in fs),
                 lower=any(f.lower for f in fs), upper=any(f.upper for f in fs), diagonal=diag,
                 lo=r[0], hi=r[1])


def _power_facts(fb: Facts, p: Expr, elementwise: bool) -> Facts:
    """Facts of b^p (scalar) or b.^p (entrywise), p a scalar."""
    if p.op == "const":
        r = ipow(_rng(fb), p.attr)
        keeps_zero = p.attr > 0
    else:  # x^y >= 0 for x >= 0; otherwise nothing (an integer y may make it negative)
        r = (0.0, INF) if fb.lo >= 0 else (-INF, INF)
        keeps_zero = False
    if not elementwise:
        return Facts(lo=r[0], hi=r[1])
    # A .^ k = A .* ... .* A (k a positive integer): psd (pd) for A psd (pd), by Schur
    k = p.attr if p.op == "const" else None
    schur = k is not None and k.denominator == 1 and k > 0
    return Facts(psd=schur and fb.psd, pd=schur and fb.pd, symmetric=fb.symmetric, diagonal=fb.diagonal and keeps_zero,
                 lower=fb.lower and keeps_zero, upper=fb.upper and keeps_zero, lo=r[0], hi=r[1])


@transfer("hpow")
def _t_hpow(n, fs):
    return _power_facts(fs[0], n.args[1], True)


@transfer("pow")
def _t_pow(n, fs):
    return _power_facts(fs[0], n.args[1], False)


@transfer("inv")
def _t_inv(n, fs):
    # inv(S)' = inv(S'); where inv(A) exists a psd A is pd, and so is inv(A)
    (a,) = fs
    return Facts(symmetric=a.symmetric, pd=a.psd, lower=a.lower, upper=a.upper, diagonal=a.diagonal,
                 orthogonal=a.orthogonal, nonsingular=True)


@transfer("mpow")
def _t_mpow(n, fs):
    # A^k (k >= 2; a negative power is mpow(inv(A))): S^(2j) = S^j (S^j)' is psd
    (a,) = fs
    even = n.attr % 2 == 0
    psd = a.psd or (a.symmetric and even)
    r = (0.0, INF) if a.lo >= 0 else (-INF, INF)
    return Facts(symmetric=a.symmetric, psd=psd, pd=a.pd or (psd and a.nonsingular),
                 lower=a.lower, upper=a.upper, diagonal=a.diagonal, orthogonal=a.orthogonal,
                 nonsingular=a.nonsingular, lo=r[0], hi=r[1])


@transfer("fn")
def _t_fn(n, fs):
    # entrywise: the range is the function's; f(S) is symmetric for symmetric S, and f keeps
    # the zeros of a diagonal/triangular matrix when f(0) = 0
    from ..ops.elementwise import ELEMENTWISE

    d = ELEMENTWISE.get(n.attr)
    (a,) = fs
    lo, hi = d.range if d is not None else (None, None)
    zero = d is not None and d.at_zero == 0
    return Facts(symmetric=a.symmetric, diagonal=a.diagonal and zero, lower=a.lower and zero,
                 upper=a.upper and zero, lo=-INF if lo is None else float(lo),
                 hi=INF if hi is None else float(hi))


@transfer("trace")
def _t_trace(n, fs):
    # tr(A) >= 0 for A psd (a sum of nonnegative eigenvalues), or a sum of signed entries
    (a,) = fs
    r = _sign_of_sums(_rng(a))
    if a.psd:
        r = (0.0, r[1])
    return Facts(lo=r[0], hi=r[1])


@transfer("sum")
def _t_sum(n, fs):
    r = _sign_of_sums(_rng(fs[0]))
    return Facts(lo=r[0], hi=r[1])


@transfer("norm2")
def _t_norm2(n, fs):
    return Facts(lo=0.0)


@transfer("det")
def _t_det(n, fs):
    # det(A) >= 0 for A psd (a product of nonnegative eigenvalues), +-1 for A orthogonal
    (a,) = fs
    if a.psd:
        return Facts(lo=0.0)
    if a.orthogonal:
        return Facts(lo=-1.0, hi=1.0)
    return NOTHING


@transfer("logdet")
def _t_logdet(n, fs):
    # log|det(Q)| = 0 for Q orthogonal
    return Facts(lo=0.0, hi=0.0) if fs[0].orthogonal else NOTHING


@transfer("diagm")
def _t_diagm(n, fs):
    (v,) = fs
    r = _hull0(_rng(v))
    return Facts(diagonal=True, psd=v.lo >= 0, pd=v.lo > 0, nonsingular=v.lo > 0 or v.hi < 0,
                 lo=r[0], hi=r[1])


@transfer("diagv")
def _t_diagv(n, fs):
    # the diagonal of a psd (pd) matrix is nonnegative
    (a,) = fs
    lo = max(a.lo, 0.0) if a.psd else a.lo
    return Facts(lo=lo, hi=a.hi)


@transfer("vec")
@transfer("unvec")
def _t_reshape(n, fs):
    return Facts(lo=fs[0].lo, hi=fs[0].hi)


@transfer("kron")
def _t_kron(n, fs):
    # kron keeps what both factors have (its eigenvalues are products: psd, pd), and its
    # entries are products of entries
    a, b = fs
    r = imul(_rng(a), _rng(b))
    both = {k: getattr(a, k) and getattr(b, k) for k in _STRUCTURE}
    return Facts(**both, lo=r[0], hi=r[1])


@transfer("kronadj1")
@transfer("kronadj2")
def _t_kronadj(n, fs):
    r = _sign_of_sums(imul(_rng(fs[0]), _rng(fs[1])))
    return Facts(lo=r[0], hi=r[1])


@transfer("bcast")
def _t_bcast(n, fs):
    # s * ones: psd (square) for s >= 0
    (s,) = fs
    return Facts(symmetric=True, psd=s.lo >= 0, lo=s.lo, hi=s.hi)


@transfer("proj")
def _t_proj(n, fs):
    # the facts of one output of a tuple-valued node
    return fs[0][n.attr]


# ---------------------------------------------------------------------------- computing facts

_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()


def _finish(node: Expr, f: Facts) -> Facts:
    """Facts made consistent with the node's shape (and closed under implication)."""
    f = f.closed()
    if node.is_scalar:  # a 1x1 value: symmetric and diagonal; psd means >= 0
        lo = max(f.lo, 0.0) if f.psd else f.lo
        return replace(f, symmetric=True, lower=True, upper=True, diagonal=True, psd=lo >= 0,
                       pd=lo > 0, nonsingular=f.nonsingular or lo > 0 or f.hi < 0, lo=lo)
    if node.rows != node.cols:  # the structural claims are about square matrices
        return replace(f, **{k: False for k in _STRUCTURE})
    return f


def facts(e: Expr):
    """The :class:`Facts` of ``e`` (a tuple of them for a tuple-valued node); computed
    children first, iteratively, and remembered for as long as the node lives.

    >>> from matdiff.lang.parsing import parse
    >>> facts(parse("X'*X")).psd
    True
    """
    with _LOCK:
        f = _MEMO.get(e)
        if f is not None:
            return f
        for node in _unknown(e):
            rule = TRANSFER.get(node.op)
            if rule is None:  # an op without a rule: nothing known
                out = tuple(NOTHING for _ in node.shape) if is_multi(node) else NOTHING
            else:
                out = rule(node, [_MEMO[a] for a in node.args])
            if is_multi(node):
                out = tuple(_finish(_Shaped(s), f) for s, f in zip(node.shape, out))
            else:
                out = _finish(node, out)
            _MEMO[node] = out
        return _MEMO[e]


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
        if id(node) in seen or node in _MEMO:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for a in reversed(node.args):
            if id(a) not in seen and a not in _MEMO:
                stack.append((a, False))
    return order


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


class RequirementError(MatdiffError):
    """An operation needs a property of an argument that cannot be shown (e.g. symmetry)."""


@dataclass(frozen=True)
class Requirement:
    """``op`` needs ``needs`` of argument ``arg``; ``how``: "error" (a clear error when the
    facts cannot show it) or "symmetrize" (replace the argument S by (S + S')/2: only for a
    requirement of symmetry, the way ``jax.lax.linalg.cholesky(symmetrize_input=True)``
    reads its input)."""

    op: str
    arg: int
    needs: Facts
    how: str = "error"
    message: str = ""


REQUIREMENTS: dict[str, list[Requirement]] = {}


def require(op: str, arg: int, needs: Facts, how: str = "error", message: str = "") -> Requirement:
    """Declare that ``op`` needs the facts ``needs`` of its argument number ``arg``.

    ``message`` says why, in words ("chol needs a symmetric matrix").
    """
    if how not in ("error", "symmetrize"):
        raise ValueError(f"require(): how must be 'error' or 'symmetrize', not {how!r}")
    if how == "symmetrize" and replace(needs, symmetric=False) != NOTHING:
        raise ValueError("require(): how='symmetrize' only makes an argument symmetric; "
                         "declare other needs as separate requirements")
    r = Requirement(op, arg, needs, how, message)
    REQUIREMENTS.setdefault(op, []).append(r)
    return r


def symmetrize(a: Expr) -> Expr:
    """(A + A')/2, the symmetric part of a square A."""
    return E.mul(E.const(Fraction(1, 2)), E.add(a, E.transpose(a)))


def check_call(op: str, args, text: str = "", pos=None, arg_pos=None) -> list:
    """The arguments of a call of ``op`` with its requirements met: unchanged, or
    symmetrized where the op declares that; a :class:`RequirementError` (with the position
    ``arg_pos[i]`` or ``pos`` in ``text``) where a requirement cannot be shown."""
    reqs = REQUIREMENTS.get(op)
    if not reqs:
        return list(args)
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
        decl = spelled(" ".join(f"--sym {n}" for n in names), f"symmetric={names!r}")
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

# ops whose argument must be nonsingular (and is then drawn with det > 0 by the checker):
# op -> argument indices. Elementwise functions declare theirs as ELEMENTWISE[name].domain.
DOMAINS: dict[str, tuple] = {"logdet": (0,), "det": (0,), "inv": (0,), "mpow": (0,)}
_NONSINGULAR = Facts(nonsingular=True)
_POSITIVE = Facts(lo=math.nextafter(0.0, 1.0))


def sampling_needs(node: Expr) -> list:
    """``[(arg index, Facts needed)]``: what the checker's sampler must make true of the
    arguments of ``node`` so that its value (and derivative) is real and defined there.

    From the op's domain: an elementwise function whose domain starts at 0 or above (log,
    sqrt) needs positive entries; a fractional, negative or non-constant power needs a
    positive base (a^b is exp(b*log(a))); :data:`DOMAINS` ops need a nonsingular argument.
    """
    op = node.op
    if op == "fn":
        from ..ops.elementwise import ELEMENTWISE

        d = ELEMENTWISE.get(node.attr)
        lo = d.domain[0] if d is not None else None
        return [(0, _POSITIVE)] if lo is not None and lo >= 0 else []
    if op in ("pow", "hpow"):
        p = node.args[1]
        if p.op != "const" or p.attr.denominator != 1 or p.attr < 0:
            return [(0, _POSITIVE)]
        return []
    return [(i, _NONSINGULAR) for i in DOMAINS.get(op, ())]


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

