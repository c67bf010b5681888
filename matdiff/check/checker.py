"""Numerical check of a derivation (and of hand-derived claims) by finite differences.

:func:`check` draws random points in the expression's domain and compares derivatives
with finite differences of the value along random unit directions ``V``:

* **sizes** of symbolic dimensions are chosen so that every matrix the expression
  inverts (``inv``, ``det``, ``logdet``, negative powers) can be nonsingular: ``logdet(A*A')``
  with ``A`` m x n gets ``m <= n`` (a product's rank is bounded by its factors' sizes);
* **values** are positive (definite) where the expression needs it (``log``, ``sqrt``,
  ``logdet``, ``inv``, fractional powers, the base of ``a^b``); a draw where the value is
  not finite or raises, or where an inverted matrix is ill-conditioned (condition number
  above :data:`COND_MAX`), or where the eigenvalues whose gaps an eigenvector derivative
  divides by (``eiggap``) are nearly repeated (largest over smallest gap above
  :data:`COND_MAX`; a repeated eigenvalue raises), is redrawn;
* **finite differences** are central differences extrapolated to step 0 (Ridders'
  method) from three starting steps; each comes with an error estimate: the
  extrapolation's own error, the spread between the starts, and the roundoff, estimated
  from the noise of the function's evaluation (third differences at tiny steps, as in
  Moré & Wild's ECnoise) divided by the step.

Each direction gives one of three answers: *agree* (within :data:`TOL`, relative),
*disagree* (off by more than :data:`TOL` **and** by more than :data:`SAFETY` times the
error estimate: a confident disagreement) or *cannot tell*. A derivative (or claim) is
judged at up to four random points: it is **OK/RIGHT** when every direction agrees at a
point, **FAILED/WRONG** when a direction disagrees, and **INCONCLUSIVE** (with the reason:
the error estimate, the roundoff, the condition numbers) when no point decides. A right
derivative is therefore never reported as wrong because of finite-difference error.

What is checked:

* matdiff's own derivative: the gradient (scalar f: ``<G, V>``) or the differential
  ``dF[V]``; with ``hessian=True`` also its Hessian-vector product ``H[V]`` against finite
  differences of its gradient (which is itself checked first);
* **claims** (see :func:`check`): a gradient (the shape of X), a Jacobian (numerator
  layout, column-major ``vec(dF) = J vec(dX)``), a differential ``dF = ...`` written in
  ``dX``, a Hessian on ``vec(X)`` (size(X) x size(X)) or a Hessian-vector product ``H[V]``.
  A claim's ``I`` and ``ones`` take their sizes from what is claimed (``9*tr(A)^8*I``). A
  wrong claim is diagnosed: how many entries differ and where, a known slip (transpose,
  factor, sign, a missing or doubled term) and the correct formula.

Everything numeric runs through the same generated NumPy code as ``to_numpy()``.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..backends.emit import compile_source, generate, py_names, tuple_of
from ..core import expr as E
from ..core import facts as _facts
from ..core.errors import DerivationError, MatdiffError, ShapeError, spelled
from ..core.shapes import dim_leaves, dim_mul, dim_value, shape_str, shape_to_dims

TOL = 1e-6  # relative error within which a derivative agrees with finite differences
SAFETY = 100.0  # a disagreement must also exceed the FD error estimate this many times
COND_MAX = 1e6  # draws where an inverted matrix is worse conditioned are redrawn
SIZE_POOL = (4, 3, 5, 2, 6, 7)
STEPS = tuple(10.0 ** -k for k in range(1, 13))
SHRINKS = (1.0, 1.0, 0.5, 0.25)  # one random point each, until every check is decided
DRAWS = 40  # random draws per point before giving up on finding a good one
KINK_DIRECTIONS = 3  # random directions along which a point's distance to the kinks is measured

_EPS = float(np.finfo(float).eps)
_UNDERFLOW = 1e-280  # derivatives this small have lost their precision to underflow
_NUMERIC = (np.linalg.LinAlgError, ArithmeticError, ValueError, TypeError)

_KIND_WORDS = {"gradient": "gradient", "jacobian": "Jacobian", "differential": "differential",
               "hessian": "Hessian", "hvp": "Hessian-vector product", "derivative": "derivative",
               "second": "Hessian-vector product"}


# ---------------------------------------------------------------------------- results


@dataclass
class ItemResult:
    """The verdict on one thing checked: matdiff's derivative, its HVP, or one claim.

    ``verdict``: ``"agree"``, ``"disagree"`` or ``"inconclusive"``; ``errors``: relative
    error against finite differences per direction; ``estimates``: the finite-difference
    error estimate per direction (relative); ``point``: the random point (1-based) that
    decided; ``reason``: why it is inconclusive; ``notes``: the diagnosis of a wrong claim.
    """

    who: str  # "matdiff" or "claim"
    kind: str  # derivative | second | gradient | jacobian | differential | hessian | hvp
    label: str  # df/dX, dF, H, H[V], ...
    text: str  # the formula
    verdict: str = "inconclusive"
    errors: list = field(default_factory=list)
    estimates: list = field(default_factory=list)
    point: int = 0
    reason: str = ""
    notes: list = field(default_factory=list)
    formula_error: float = math.nan  # relative entrywise difference from matdiff's formula

    @property
    def max_error(self) -> float:
        return max(self.errors, default=math.nan)


@dataclass
class CheckResult:
    """The outcome of a check (see :func:`check`).

    ``ok``: matdiff's derivative agrees with finite differences (and every claim is
    right); ``verdict``: ``"OK"``, ``"FAILED"`` or ``"INCONCLUSIVE"`` for matdiff's
    derivative(s), with ``reason`` when inconclusive; ``errors``: relative error per random
    direction; ``estimates``: the finite-difference error estimate per direction;
    ``max_error``: the largest error; ``table``: ``[(step, relative error)]`` of plain
    central differences (truncation error for large steps, roundoff for tiny ones).
    With claims: ``claim_verdict`` (``"RIGHT"``, ``"WRONG"``, ``"INCONCLUSIVE"``),
    ``claim_ok``, ``claim_errors`` (per direction, worst claim), ``claim_error`` (relative
    entrywise difference from matdiff's formula) and ``claim_notes`` (the diagnosis).
    ``items``: one :class:`ItemResult` per thing checked.
    """

    ok: bool
    errors: list
    max_error: float
    table: list
    expression: str = ""
    wrt: list = field(default_factory=list)
    sizes: dict = field(default_factory=dict)
    derivative: dict = field(default_factory=dict)  # label -> formula text
    kind: str = "gradient"
    symmetric: list = field(default_factory=list)
    claim: dict | None = None  # label -> claim text
    claim_ok: bool | None = None
    claim_errors: list = field(default_factory=list)
    claim_error: float = math.nan
    claim_notes: list = field(default_factory=list)
    show_table: bool = False
    verdict: str = "OK"
    claim_verdict: str | None = None
    estimates: list = field(default_factory=list)
    reason: str = ""
    points: int = 0
    items: list = field(default_factory=list)
    exact: object = None  # the exact verdicts (matdiff.check.exact.ExactResult) with exact=True

    def __bool__(self) -> bool:
        return self.ok

    @property
    def inconclusive(self) -> bool:
        """Nothing was found wrong, but something could not be decided."""
        return not self.ok and self.verdict != "FAILED" and self.claim_verdict != "WRONG"

    def __repr__(self) -> str:
        claim = f", claim_verdict={self.claim_verdict!r}" if self.claim_verdict else ""
        exact = f", exact={self.exact.verdict!r}" if self.exact is not None else ""
        return (f"CheckResult(verdict={self.verdict!r}{claim}{exact}, max_error={self.max_error:.3g}, "
                f"sizes={self.sizes})")

    def _repr_pretty_(self, p, cycle) -> None:  # IPython / Jupyter: the readable report
        p.text(repr(self) if cycle else str(self))

    def __str__(self) -> str:
        text = self._text()
        return text if self.exact is None else text + "\n" + str(self.exact)

    def _text(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        lines = [f"checking  {self.expression}  by {', '.join(self.wrt)}"
                 + (f"   (sizes {sizes})" if sizes else ""),
                 (f"{len(self.errors)} random directions, central differences extrapolated to step 0 "
                  f"with error estimates, tolerance {TOL:g}")]
        for it in self.items:
            who = "matdiff" if it.who == "matdiff" else "claim"
            at = f"   [random point {it.point}]" if it.point > 1 else ""
            lines.append(f"  {who:<9} {it.label} = {it.text}{at}")
        head = "direction  " + "".join(f"{_short(it):>26}" for it in self.items)
        lines.append(head)
        n = max((len(it.errors) for it in self.items), default=0)
        for i in range(n):
            row = f"  {i + 1:>3}      "
            for it in self.items:
                if i < len(it.errors):
                    row += f"{it.errors[i]:>14.2e} (est {it.estimates[i]:7.1e})"
                else:
                    row += " " * 26
            lines.append(row)
        for it in self.items:
            if it.who != "matdiff":
                continue
            what = "matdiff's derivative" if it.kind == "derivative" else "matdiff's Hessian-vector product"
            est = max(it.estimates, default=math.nan)
            head = f"max relative error {it.max_error:.2e} (FD error estimate {est:.1e}): "
            if it.verdict == "agree":
                lines.append(head + f"{what} agrees with finite differences")
            elif it.verdict == "disagree":
                lines.append(head + f"{what} DISAGREES with finite differences")
            else:
                lines.append(head + f"{what} could not be confirmed (see the verdict)")
        if self.show_table:
            lines.append("step        rel. error (plain central difference, max over directions)")
            best = min(self.table, key=lambda r: r[1]) if self.table else None
            for h, err in self.table:
                mark = "   <- best" if best is not None and h == best[0] else ""
                note = ""
                if best is not None and h > best[0] * 10:
                    note = "   (truncation error ~ h^2)"
                elif best is not None and h < best[0] / 10:
                    note = "   (roundoff ~ eps/h)"
                lines.append(f"  {h:8.0e}  {err:10.2e}{mark}{note}")
        claims = [it for it in self.items if it.who == "claim"]
        for it in claims:
            name = "the claim" if len(claims) == 1 else f"the claim for {it.label}"
            what = _KIND_WORDS[it.kind]
            if it.verdict == "agree":
                same = it.formula_error < 1e-6
                lines.append(f"verdict: {name} is RIGHT (it agrees with finite differences"
                             + (" and with matdiff's formula)" if same else ")"))
            elif it.verdict == "disagree":
                lines.append(f"verdict: {name} is WRONG: it differs from the true {what} by a relative "
                             f"error of {_wrongness(it):.2e}")
            else:
                lines.append(f"verdict: {name} is INCONCLUSIVE: {it.reason}")
            lines += ["  " + note for note in it.notes]
        if not claims:
            if self.verdict == "INCONCLUSIVE":
                lines.append(f"verdict: INCONCLUSIVE ({self.reason})")
            else:
                lines.append(f"verdict: {self.verdict}")
        return "\n".join(lines)


def _short(it: ItemResult) -> str:
    if it.who == "matdiff":
        return "matdiff vs FD" if it.kind == "derivative" else "matdiff H[V] vs FD"
    return f"claim {it.label} vs FD" if len(it.label) <= 8 else "claim vs FD"


def _wrongness(it: ItemResult) -> float:
    e = it.formula_error
    return e if math.isfinite(e) else it.max_error


# ---------------------------------------------------------------------------- sizes


def _dim_names(shapes: dict) -> list:
    names = []
    for shape in shapes.values():
        for d in shape_to_dims(shape):
            for n in dim_leaves(d):
                if str(n) not in names:
                    names.append(str(n))
    return names


def _size_candidates(names: list, given: dict):
    """Size assignments: the default one first (distinct sizes from :data:`SIZE_POOL`
    in order), then other distinct ones, then any."""
    free = [n for n in names if n not in given]
    out, pool = dict(given), iter(SIZE_POOL * 4)
    for n in free:
        v = next(pool)
        while v in out.values() and len(out) < len(SIZE_POOL):
            v = next(pool)
        out[n] = v
    yield {n: out[n] for n in names}
    rest = [v for v in SIZE_POOL if v not in given.values()]
    for combo in itertools.chain(itertools.islice(itertools.permutations(rest, len(free)), 3000),
                                 itertools.islice(itertools.product(SIZE_POOL, repeat=len(free)), 3000)):
        yield {n: (given[n] if n in given else combo[free.index(n)]) for n in names}


def _rc(shape, sizes) -> tuple:
    return tuple(dim_value(d, sizes) for d in shape)


def _must_be_nonsingular(exprs) -> list:
    """Square matrices the expressions invert (or take the determinant of): the arguments
    whose declared sampling domain (``OpDef.sample``) is nonsingular or positive definite."""
    from ..ops.base import sample_kinds
    from ..ops.registry import OPS

    out = []
    for e in exprs:
        for n in e.walk():
            od = OPS.get(n.op)
            if od is None or not n.args:
                continue
            for a, kind in zip(n.args, sample_kinds(od, n)):
                if kind in ("nonsingular", "positive-definite") and not a.is_scalar and a not in out \
                        and not a.has_op("dvar"):
                    out.append(a)
    return out


def _eigen_gaps(exprs) -> list:
    """The eigenvalue-gap matrices ``eiggap(w)`` of the expressions: draws are redrawn where
    their "condition" (:func:`_gap_ratio`) is above :data:`COND_MAX`."""
    out = []
    for e in exprs:
        out += [n for n in e.walk() if n.op == "eiggap" and n not in out and not n.has_op("dvar")]
    return out


def _rank_bounds(e: E.Expr, sizes: dict, memo: dict) -> int:
    """An upper bound on the rank of ``e`` at generic inputs of the given sizes (the bound
    is attained for generic inputs: products by their factors' ranks, sums by the sum)."""
    for n in e.walk():
        if n in memo:
            continue
        r, c = _rc(n.shape, sizes)
        full = min(r, c)
        op = n.op
        ranks = [memo[a] for a in n.args]
        if op == "zero" or (op == "const" and n.attr == 0):
            k = 0
        elif op in ("ones", "bcast"):
            k = min(full, 1)
        elif op == "transpose" or (op == "mpow" and n.attr > 0):
            k = ranks[0]
        elif op == "mul":
            mats = [memo[a] for a in n.args if not a.is_scalar]
            k = min([full] + mats)
        elif op == "add":
            k = min(full, sum(ranks))
        elif op == "kron":
            k = min(full, ranks[0] * ranks[1])
        elif op == "had":
            k = min(full, math.prod(ranks))
        elif op == "hpow" and n.args[1].op == "const" and n.args[1].attr.denominator == 1 \
                and n.args[1].attr > 0:
            p = int(n.args[1].attr)  # rank(A.^p) <= C(rank(A) + p - 1, p)
            k = min(full, math.comb(ranks[0] + p - 1, p))
        else:
            k = full
        memo[n] = k
    return memo[e]


def _choose_sizes(shapes: dict, given: dict | None, exprs) -> dict:
    """Sizes for the symbolic dimensions: the user's, and distinct small ones for the rest,
    chosen so that every matrix in :func:`_must_be_nonsingular` can be nonsingular."""
    names = _dim_names(shapes)
    given = dict(given or {})
    unknown = [k for k in given if k not in names]
    if unknown:
        raise DerivationError(f"{spelled('--size ', 'sizes: ')}{unknown[0]}: no dimension of that name "
                              f"(dimensions: {', '.join(names) or 'none'})")
    for n, v in list(given.items()):
        v = int(v)
        if v < 1:
            raise DerivationError(f"{spelled('--size ', 'sizes: ')}{n}={v}: sizes must be positive")
        given[n] = v
    square = _must_be_nonsingular(exprs)
    first = None
    for cand in _size_candidates(names, given):
        memo: dict = {}
        bad = None
        for m in square:
            size = _rc(m.shape, cand)[0]
            if _rank_bounds(m, cand, memo) < size:
                bad = (m, size, memo[m])
                break
        if bad is None:
            return cand
        if first is None:
            first = (cand, bad)
    cand, (m, size, rank) = first
    if all(n in given for n in names):
        at = ", ".join(f"{k}={v}" for k, v in cand.items())
        raise DerivationError(f"with {at} the {size}x{size} matrix {m} has rank at most {rank}: it is "
                              f"singular at every point, where the expression is not differentiable; "
                              f"choose other sizes ({spelled('--size', 'sizes=')})")
    raise DerivationError(f"the matrix {m} is singular for every choice of sizes (rank at most {rank} "
                          f"but {size} rows with the sizes {', '.join(f'{k}={v}' for k, v in cand.items())}): "
                          f"the expression is not differentiable anywhere")


# ---------------------------------------------------------------------------- inputs


def _positive_vars(e: E.Expr) -> set:
    """Variables drawn positive (entries > 0, det > 0 when square): those inside an argument
    whose domain (log, sqrt, fractional powers, inv, det, logdet, A^k) the facts of that
    argument do not already meet (see :func:`matdiff.core.facts.positive_variables`)."""
    return _facts.positive_variables(e)


def _draw(shape, symmetric, positive, rng, shrink=1.0):
    """Random input; ``positive``: positive entries, and det > 0 for square matrices."""
    if not shape:
        return shrink * (float(rng.uniform(0.5, 1.5)) if positive else float(rng.standard_normal()))
    if len(shape) == 1:
        return shrink * (rng.uniform(0.5, 1.5, shape) if positive else rng.standard_normal(shape))
    r, c = shape
    if positive:
        M = rng.uniform(0.1, 1.0, shape)
        if r == c:
            M = M + r * np.eye(r)  # diagonally dominant: det > 0, well conditioned, not symmetric
    else:
        M = rng.standard_normal(shape)
    if symmetric:
        M = (M + M.T) / 2
    return shrink * M


def _direction(shapes, names, symmetric, rng):
    V = {}
    for n in names:
        shape = shapes[n]
        if not shape:
            V[n] = float(rng.standard_normal())
        else:
            v = rng.standard_normal(shape)
            if n in symmetric:
                v = (v + v.T) / 2
            V[n] = v
    norm = math.sqrt(sum(float(np.sum(np.square(v))) for v in V.values())) or 1.0
    return {n: v / norm for n, v in V.items()}


def _shift(inputs, V, h):
    out = dict(inputs)
    for n, v in V.items():
        out[n] = inputs[n] + h * v
    return out


def _inner(a, b) -> float:
    return float(np.sum(np.asarray(a) * np.asarray(b)))


def _norm(a) -> float:
    """Euclidean norm, scaled so that tiny or huge entries neither underflow nor overflow."""
    a = np.asarray(a, dtype=float).ravel()
    ss = float(np.dot(a, a))
    if 1e-280 < ss < 1e280:
        return math.sqrt(ss)
    a = np.abs(a)
    m = float(np.max(a)) if a.size else 0.0
    if m == 0.0 or not math.isfinite(m):
        return m if a.size and not np.isnan(a).any() else (math.nan if a.size else 0.0)
    return m * float(np.sqrt(np.sum(np.square(a / m))))


def _flat(x) -> np.ndarray:
    """Column-major vec of a value (scalars become length-1 arrays); raises on complex."""
    if isinstance(x, complex) or np.iscomplexobj(x):
        raise TypeError("the value is complex (a negative number to a fractional power?)")
    return np.atleast_1d(np.asarray(x, dtype=float)).ravel(order="F")


def _sym_projector(shape) -> np.ndarray:
    """P with P vec(V) = vec((V + V')/2) for square V (column-major vec)."""
    n = shape[0]
    idx = np.arange(n * n).reshape(n, n, order="F")
    P = np.eye(n * n) / 2
    P[idx.ravel(order="F"), idx.T.ravel(order="F")] += 0.5
    return P


# ---------------------------------------------------------------------------- finite differences


def _ridders(g, h0: float, con: float = 1.6, ntab: int = 10):
    """Ridders' extrapolation of central differences of ``g`` at 0 (Numerical Recipes'
    dfridr, vector valued): (estimate, error estimate, smallest step used)."""
    best, err, hbest = None, math.inf, h0
    prev: list = []
    hh = h0
    for i in range(ntab):
        if i:
            hh /= con
        row = [(g(hh) - g(-hh)) / (2 * hh)]
        fac = con * con
        for j in range(1, i + 1):
            row.append((row[j - 1] * fac - prev[j - 1]) / (fac - 1))
            fac *= con * con
            errt = max(_norm(row[j] - row[j - 1]), _norm(row[j] - prev[j - 1]))
            if errt <= err:
                err, best, hbest = errt, row[j], hh
        if i and _norm(row[i] - prev[i - 1]) >= 2 * err:
            break  # higher order makes it worse: roundoff has taken over
        prev = row
    if best is None:
        best = row[0]
    return best, err, hbest


def _noise(g, s: float) -> float:
    """The noise (roundoff) level of g near 0: third differences at tiny steps, where the
    smooth part is negligible (ECnoise, Moré & Wild 2011)."""
    delta = 1e-7 * s
    vals = [g(k * delta) for k in range(7)]
    d3 = [vals[k + 3] - 3 * vals[k + 2] + 3 * vals[k + 1] - vals[k] for k in range(4)]
    # per component, sqrt(gamma_3 * mean of squares), gamma_3 = (3!)^2 / 6! = 1/20
    v = _norm(np.concatenate([np.atleast_1d(x) for x in d3])) / math.sqrt(20 * len(d3))
    return v if math.isfinite(v) else 0.0


def _fd(g, s: float, full: bool = True):
    """Directional derivative g'(0) with an error estimate: (value, estimate, roundoff part).

    ``full``: from three starting steps, the estimate including their spread; else from one
    (enough to confirm an agreement, which an error cannot fake)."""
    runs = [_ridders(g, f * s) for f in ((0.1, 0.01, 0.001) if full else (0.01,))]
    runs = [r for r in runs if np.all(np.isfinite(r[0])) and math.isfinite(r[1])] or runs[:1]
    runs.sort(key=lambda r: r[1])
    num, err, h = runs[0]
    if len(runs) > 1:  # a second opinion: the nearest estimate from another starting step
        err = max(err, min(_norm(r[0] - num) for r in runs[1:]))
    # roundoff: the measured noise, and at least the last bit of the value itself (a change
    # of f below eps*|f| is invisible however it is computed)
    noise, g0 = _noise(g, s), _norm(g(0.0))
    if noise == 0.0 and err == 0.0 and _norm(num) == 0.0:
        # g did not change at all: it does not depend on the direction, or its change is lost
        # next to intermediate values of unknown size (logdet(I + u*u') with tiny u); a
        # derivative smaller than eps (absolute) cannot be told from 0 then
        g0 = max(g0, 1.0)
    rounding = 4.0 * max(noise, _EPS * g0) / h
    return num, max(err, rounding), rounding


# ---------------------------------------------------------------------------- claims


_RE_GRAD = re.compile(r"d\s*(?:[fF]|\(.*\))\s*/\s*d\s*([A-Za-z]\w*)")
_RE_JAC = re.compile(r"d\s*vec\s*\(.*\)\s*/\s*d\s*vec\s*\(\s*([A-Za-z]\w*)\s*\)")
_RE_DIFF = re.compile(r"d\s*(?:[fF]|\(.*\))")
_RE_HESS = re.compile(r"H(?:\s*\(\s*([A-Za-z]\w*)\s*,\s*([A-Za-z]\w*)\s*\))?")
_RE_HVP = re.compile(r"H\s*\[\s*([A-Za-z]\w*)\s*\]")


@dataclass
class _Spec:
    kind: str  # gradient | jacobian | differential | hessian | hvp
    var: str | None
    text: str
    direction: str | None = None  # HVP: the direction's name
    source: str = ""  # the claim as given, for messages


def _words(text: str) -> set:
    return set(re.findall(r"[A-Za-z][A-Za-z0-9_]*", text))


def _claim_specs(d, claim, hessian: bool) -> list:
    """Normalise ``claim`` (str, list of str, or {variable: formula}) into claim specs."""
    wrt = list(d.wrt)
    scalar = d.expr.is_scalar
    second = hessian
    dnames = {"d" + n: n for n in wrt}

    def first_kind():
        return "gradient" if scalar else "jacobian"

    def need_second(src):
        if not scalar:
            raise DerivationError(f"claim {src!r}: Hessians are for scalar expressions; this one is "
                                  f"{shape_str(d.expr.shape)} (claim its Jacobian instead)")
        if len(wrt) != 1:
            raise DerivationError(f"claim {src!r}: a Hessian or Hessian-vector product claim needs a "
                                  f"single variable ({spelled('--wrt', 'wrt')}); here there are {len(wrt)}")

    def plain(text, var, src):
        words = _words(text)
        if [w for w in words if w in dnames and w not in d._shapes]:
            return _Spec("differential", None, text, source=src)
        if var is None:
            if len(wrt) != 1:
                raise DerivationError(f"several variables ({', '.join(wrt)}): give one claim per variable, "
                                      f"as NAME=FORMULA (or a differential dF = ... in "
                                      f"{', '.join('d' + n for n in wrt)})")
            var = wrt[0]
        if second:
            need_second(src)
            v = d.hvp_variable
            return _Spec("hvp" if v in words else "hessian", var, text, v if v in words else None, src)
        return _Spec(first_kind(), var, text, source=src)

    specs = []
    if isinstance(claim, dict):
        for n, text in claim.items():
            if n not in wrt:
                raise DerivationError(f"claim for {n!r}, which is not differentiated by "
                                      f"({spelled('--wrt', 'wrt')})")
            specs.append(plain(str(text), n, str(text)))
        return specs
    items = [claim] if isinstance(claim, str) else list(claim)
    for src in items:
        if not isinstance(src, str):
            raise DerivationError(f"a claim is a formula (text), not {type(src).__name__}")
        lhs, eq, rhs = src.partition("=")
        if not eq:
            specs.append(plain(src, None, src))
            continue
        lhs, rhs = lhs.strip(), rhs.strip()
        if not rhs:
            raise DerivationError(f"claim {src!r}: nothing after '='")
        if lhs in wrt:
            specs.append(plain(rhs, lhs, src))
        elif m := _RE_JAC.fullmatch(lhs):
            specs.append(_Spec("jacobian", _claim_var(m.group(1), wrt, src), rhs, source=src))
        elif m := _RE_GRAD.fullmatch(lhs):
            specs.append(_Spec(first_kind(), _claim_var(m.group(1), wrt, src), rhs, source=src))
        elif _RE_DIFF.fullmatch(lhs):
            specs.append(_Spec("differential", None, rhs, source=src))
        elif m := _RE_HVP.fullmatch(lhs):
            need_second(src)
            specs.append(_Spec("hvp", wrt[0], rhs, m.group(1), src))
        elif m := _RE_HESS.fullmatch(lhs):
            need_second(src)
            for g in (m.group(1), m.group(2)):
                if g is not None:
                    _claim_var(g, wrt, src)
            specs.append(_Spec("hessian", wrt[0], rhs, source=src))
        else:
            raise DerivationError(
                f"claim {src!r}: cannot tell what {lhs!r} names; write the formula alone, or "
                f"X = ..., df/dX = ... (gradient), dvec(F)/dvec(X) = ... (Jacobian), dF = ... "
                f"(a differential in dX), H = ... (Hessian) or H[V] = ... (Hessian-vector product)")
    seen = set()
    for sp in specs:
        key = (sp.kind in ("hessian", "hvp"), sp.kind == "differential", sp.var)
        if key in seen:
            raise DerivationError(f"two claims for the same derivative ({sp.source!r})")
        seen.add(key)
    return specs


def _claim_var(name, wrt, src):
    if name not in wrt:
        raise DerivationError(f"claim {src!r}: {name!r} is not differentiated by "
                              f"({spelled('--wrt', 'wrt')}: {', '.join(wrt)})")
    return name


def _spec_label(d, sp: _Spec) -> str:
    if sp.kind == "gradient":
        return f"df/d{sp.var}"
    if sp.kind == "jacobian":
        return f"dvec(F)/dvec({sp.var})"
    if sp.kind == "differential":
        return "dF"
    if sp.kind == "hessian":
        return "H"
    return f"H[{sp.direction}]"


def _parse_claim(d, sp: _Spec):
    """The claim as an expression over the expression's variables (and directions)."""
    from ..lang.parsing import parse_full

    shapes, sym_set = d._shapes, set(d.symmetric)
    label = _spec_label(d, sp)
    extra: dict = {}  # direction name -> (variable it is the direction of)
    if sp.kind == "differential":
        extra = {"d" + n: n for n in d.wrt}
    elif sp.kind == "hvp":
        extra = {sp.direction: sp.var}
    for name in extra:
        if name in shapes:
            raise DerivationError(f"in the claim for {label}: {name!r} is a variable of the expression, so "
                                  f"it cannot also name a direction")
    fshape = d.expr.shape
    if sp.kind == "gradient":
        expected, what = shapes[sp.var], f"a gradient by {sp.var} has the shape of {sp.var}"
    elif sp.kind == "jacobian":
        expected = (dim_mul(*fshape), dim_mul(*shapes[sp.var]))
        what = f"the Jacobian by {sp.var} is size(F) x size({sp.var})"
    elif sp.kind == "differential":
        expected, what = fshape, "the differential has the shape of the expression"
    elif sp.kind == "hessian":
        s = dim_mul(*shapes[sp.var])
        expected, what = (s, s), f"the Hessian on vec({sp.var}) is size({sp.var}) x size({sp.var})"
    else:
        expected, what = shapes[sp.var], f"a Hessian-vector product has the shape of {sp.var}"
    words = _words(sp.text)
    decl = {v: ",".join(str(x) for x in shape_to_dims(s)) for v, s in shapes.items() if v in words}
    sym = sym_set & words
    for name, v in extra.items():
        if name in words:
            decl[name] = ",".join(str(x) for x in shape_to_dims(shapes[v]))
            if v in sym_set:
                sym.add(name)
    try:  # alone first: a formula wrong in itself, or one using unknown names, is said so
        alone = parse_full(sp.text, decl, sym)
    except MatdiffError as e:
        raise type(e)(f"in the claim for {label}: {e}") from None
    bad = [v for v in alone.order if v not in shapes and v not in extra]
    if bad:
        hint = ""
        if sp.kind == "hvp" or (sp.kind == "hessian" and len(bad[0]) <= 2):
            hint = f"; the direction of a Hessian-vector product is {d.hvp_variable} (H[{d.hvp_variable}] = ...)"
        elif bad[0].startswith("d"):
            hint = f"; a differential claim uses {', '.join('d' + n for n in d.wrt)} (dF = ...)"
        raise DerivationError(f"the claim for {label} uses {bad[0]!r}, which is not a variable of the "
                              f"expression (variables: {', '.join(d.variables)}){hint}")
    try:  # then in context: its shape is the claimed derivative's, which sizes I and ones
        parsed = parse_full(sp.text, decl, sym, expected=expected)
    except ShapeError:
        raise ShapeError(f"the claim for {label} has shape {shape_str(alone.expr.shape)}, but {what}: "
                         f"{shape_str(expected)}") from None
    c = parsed.expr
    if sp.kind == "differential":  # the names dX become the differentials' leaves
        mapping = {n: E.dvar(extra[n.attr[0]], n.shape, n.attr[1])
                   for n in c.walk() if n.op == "var" and n.attr[0] in extra}
        c = E.substitute(c, mapping)
    return c, label


# ---------------------------------------------------------------------------- compiled pieces


class _Fn:
    """A compiled function of the inputs (by name) and of direction parameters.

    ``dirs``: ``[(V key, leaf name, shape, how)]``, ``how`` "dvar" for dX leaves, "var" for
    a direction variable such as V; it returns a tuple with one entry per output."""

    def __init__(self, d, outputs, dirs=()):
        inputs = d._input_list()
        pyn = py_names([n for n, _ in inputs])
        extra = []
        for i, (_key, leaf, shape, how) in enumerate(dirs):
            if how == "dvar":
                extra.append((f"direction d{leaf}", "_d_" + pyn[leaf], shape))
            else:
                extra.append((leaf, f"_dir{i}", shape))
        result = tuple_of(tuple_of(*range(len(outputs))))  # always a tuple, also of one output
        src = generate(outputs, inputs, "_matdiff_check", "", extra_params=extra or None, result=result)
        self.fn = compile_source(src, "_matdiff_check")
        self.order = [n for n, _ in inputs]
        self.keys = [k for k, _, _, _ in dirs]

    def __call__(self, inputs, V=None):
        V = V or {}
        return self.fn(*[inputs[n] for n in self.order], *[V[k] for k in self.keys])


def _try(f, *args):
    """``f(*args)`` with numerical trouble caught: (result, None) or (None, reason)."""
    try:
        return f(*args), None  # (check() runs under np.errstate(all="ignore"))
    except _NUMERIC as e:
        return None, f"{type(e).__name__}: {e}"


def _terms(g) -> list:
    """The terms of an expression, distributing one sum inside a product or a trace:
    (A + A')*x -> A*x, A'*x."""
    if g.op == "add":
        return list(g.args)
    if g.op == "mul":
        for i, a in enumerate(g.args):
            if a.op == "add":
                return [E.mul(*g.args[:i], t, *g.args[i + 1:]) for t in a.args]
    if g.op == "trace" and g.args[0].op == "add":
        return [E.trace(t) for t in g.args[0].args]
    return []


class _Item:
    """One thing to check: its compiled pieces, how it predicts a directional derivative,
    what it is compared with, and how it becomes a dense array for the diagnosis."""

    def __init__(self, who, kind, label, text, var, dirvars, order, fn, predict, zero=False,
                 correct=None, terms=()):
        self.res = ItemResult(who, kind, label, text)
        self.kind, self.var, self.dirvars, self.order = kind, var, dirvars, order
        self.fn, self.predict = fn, predict
        self.zero_formula = zero  # the formula is identically zero (symbolically)
        self.correct, self.terms = correct, list(terms)  # matdiff's formula and its terms (claims)
        self.decided = False
        self.table: list = []
        self.points = 0  # random points where it was judged
        self.zero_points = 0  # ... of which those where derivative and formula were exactly 0
        self.last = None  # errors, estimates, roundoff and conditions at the last undecided point
        self.dense_fn = None  # claims: (claim, matdiff's formula, its terms), for the diagnosis


# ---------------------------------------------------------------------------- the check


def check(d, sizes: dict | None = None, directions: int = 5, seed: int | None = 0, claim=None,
          steps: bool = False, hessian: bool = False) -> CheckResult:
    """Check the derivation ``d`` (a :class:`~matdiff.api.Derivation`) numerically.

    ``sizes``: ``{dim name: int}`` for symbolic dimensions (others get distinct small
    sizes that keep inverted matrices nonsingular); ``steps``: show the error-vs-step
    table in ``str(result)``; ``hessian``: also check matdiff's Hessian-vector product.

    ``claim``: formulas derived by hand, each judged against finite differences — a
    string, a list of strings or ``{variable: formula}``. A formula alone is the gradient
    (scalar f; shaped like X) or the Jacobian (non-scalar F; ``vec(dF) = J vec(dX)``, size(F)
    x size(X)); with ``hessian=True`` it is the Hessian on vec(X) or, when it uses the
    direction V, the Hessian-vector product H[V]. A left-hand side says what is claimed:
    ``X = ...``, ``df/dX = ...``, ``dvec(F)/dvec(X) = ...``, ``dF = ...`` (a differential,
    written in dX), ``H = ...``, ``H[V] = ...``.
    """
    with np.errstate(all="ignore"):  # overflow and invalid values are judged, not warned about
        return _check(d, sizes, directions, seed, claim, steps, hessian)


def _check(d, sizes, directions, seed, claim, steps, hessian) -> CheckResult:
    if directions < 1:
        raise DerivationError("check needs at least one direction")
    shapes = d._shapes
    wrt = list(d.wrt)
    scalar = d.expr.is_scalar
    sym_set = set(d.symmetric)
    specs = _claim_specs(d, claim, hessian) if claim is not None else []
    second = hessian or any(sp.kind in ("hessian", "hvp") for sp in specs)
    if second:
        d._second_order_check()
    parsed = [(sp,) + _parse_claim(d, sp) for sp in specs]

    # matdiff's first-order derivative and the value
    dvar_dirs = [(n, n, shapes[n], "dvar") for n in wrt]
    if scalar:
        grads = d.gradients
        first_exprs = [grads[n] for n in wrt]
        deriv_fn = _Fn(d, [(n, grads[n], "value") for n in wrt])
    else:
        first_exprs = [d.differential]
        deriv_fn = _Fn(d, [("dF", d.differential, "value")], dvar_dirs)
    sizes = _choose_sizes(shapes, sizes, [d.expr])  # the domain is f's: its derivative must fit it
    cshape = {n: tuple(_rc(s, sizes)[:len(shape_to_dims(s))]) for n, s in shapes.items()}
    value_fn = _Fn(d, [("value", d.expr, "value")])
    square = _must_be_nonsingular([d.expr] + first_exprs) + _eigen_gaps([d.expr] + first_exprs)
    cond_fn = _Fn(d, [(f"m{i}", m, "matrix") for i, m in enumerate(square)]) if square else None
    kink_ok = _kink_guard(d, [d.expr] + first_exprs, wrt, cshape, sym_set)
    P = {n: _sym_projector(cshape[n]) for n in sym_set if n in wrt and len(cshape[n]) == 2}

    def value(inp):
        return _flat(value_fn(inp)[0])

    items: list = []
    if scalar:
        def pred_grad(inp, V):
            outs = deriv_fn(inp)
            return np.array([sum(_inner(outs[i], V[n]) for i, n in enumerate(wrt))])
        # several variables: every gradient on the one line
        text = str(grads[wrt[0]]) + "".join(f";  df/d{n} = {grads[n]}" for n in wrt[1:])
        items.append(_Item("matdiff", "derivative", f"df/d{wrt[0]}", text, None, wrt, 1, deriv_fn, pred_grad,
                           zero=all(E.is_zero(g) for g in first_exprs)))
    else:
        items.append(_Item("matdiff", "derivative", "dF", str(d.differential), None, wrt, 1, deriv_fn,
                           lambda inp, V: _flat(deriv_fn(inp, V)[0]), zero=E.is_zero(d.differential)))
    if second:
        vn = d.hvp_variables
        hv = d.hvps
        hvp_fn = _Fn(d, [(b, hv[b], "value") for b in wrt], [(a, vn[a], shapes[a], "var") for a in wrt])
        grad_fn = _Fn(d, [(b, d.gradients[b], "value") for b in wrt])

        def pred_hvp(inp, V):
            outs = hvp_fn(inp, V)
            return np.concatenate([_flat(o) for o in outs])
        label = f"H[{', '.join(vn[a] for a in wrt)}]"
        items.append(_Item("matdiff", "second", label, "; ".join(str(hv[b]) for b in wrt), None, wrt, 2,
                           hvp_fn, pred_hvp, zero=all(E.is_zero(hv[b]) for b in wrt)))
    else:
        grad_fn = None
    for sp, c, label in parsed:
        items.append(_claim_item(d, sp, c, label, shapes, P, wrt))

    def reference(item, inp):
        if item.order == 1:
            return lambda V: (lambda t: _safe_flat(value, _shift(inp, V, t)))
        rows = [item.var] if item.var is not None else wrt
        idx = [wrt.index(b) for b in rows]

        def g(V):
            def at(t):
                outs, err = _try(grad_fn, _shift(inp, V, t))
                if err:
                    return math.nan
                try:
                    return np.concatenate([_flat(outs[i]) for i in idx])
                except _NUMERIC:
                    return math.nan
            return at
        return g

    rng = np.random.default_rng(seed)
    positive = _positive_vars(d.expr)
    order = list(d.variables)
    point_inputs = {}
    last_conds: list = []
    for p, shrink in enumerate(SHRINKS, 1):
        pending = [it for it in items if not it.decided]
        if not pending:
            break
        inp, conds = _draw_point(value, cond_fn, square, cshape, order, sym_set, positive, rng, shrink,
                                 kink_ok)
        point_inputs[p] = inp
        last_conds = conds
        for it in pending:  # matdiff's first derivative first: it is the reference for second ones
            ref_ok = items[0].res.verdict == "agree" or (items[0].zero_formula and
                                                         items[0].zero_points == items[0].points > 0)
            if it.order == 2 and not ref_ok:
                it.res.reason = ("matdiff's gradient (finite differences of it are the reference for "
                                 "second derivatives) is not confirmed")
                if items[0].decided:  # it disagrees: nothing to compare with
                    it.decided = True
                continue
            it.points += 1
            _judge(it, inp, p, reference(it, inp), cshape, sym_set, rng, directions, conds)
        if not items[0].table and (items[0].decided or p == len(SHRINKS)):
            items[0].table = _step_table(items[0], inp, reference(items[0], inp), cshape, sym_set, directions, seed)
    points = max(point_inputs) if point_inputs else 0

    for it in items:
        if it.decided:
            continue
        if it.points and it.zero_points == it.points:
            if it.zero_formula:  # an identically zero derivative (f does not depend on X)
                it.res.verdict, it.decided = "agree", True
                continue
            it.res.reason = (f"the derivative and the formula are exactly 0 at all {it.points} random points "
                             f"tried (underflow?), which tells nothing about the formula")
        else:
            it.res.reason = it.res.reason or _reason(it, points, last_conds)
    # diagnosis of claims: compare with matdiff's formula at the deciding point
    ref_second = next((it for it in items if it.kind == "second"), None)
    for it in items:
        if it.res.who == "claim":
            ref = ref_second if it.order == 2 else items[0]
            _compare_claim(it, point_inputs.get(it.res.point or points), d, cshape, sym_set, P, ref)

    m = items[0].res
    mine = [it.res for it in items if it.res.who == "matdiff"]
    if any(r.verdict == "disagree" for r in mine):
        verdict = "FAILED"
    elif all(r.verdict == "agree" for r in mine):
        verdict = "OK"
    else:
        verdict = "INCONCLUSIVE"
    reason = "; ".join(r.reason for r in mine if r.verdict == "inconclusive")
    res = CheckResult(ok=verdict == "OK", errors=list(m.errors), max_error=m.max_error, table=items[0].table,
                      expression=d.text, wrt=wrt, sizes=sizes,
                      derivative=({f"df/d{n}": str(g) for n, g in d.gradients.items()} if scalar
                                  else {"dF": str(d.differential)}),
                      kind="gradient" if scalar else "differential", symmetric=sorted(sym_set),
                      show_table=steps, verdict=verdict, estimates=list(m.estimates), reason=reason,
                      points=points, items=[it.res for it in items])
    claims = [it.res for it in items if it.res.who == "claim"]
    if claims:
        res.claim = {r.label if r.kind != "gradient" else r.label[len("df/d"):]: r.text for r in claims}
        if any(r.verdict == "disagree" for r in claims):
            res.claim_verdict = "WRONG"
        elif all(r.verdict == "agree" for r in claims):
            res.claim_verdict = "RIGHT"
        else:
            res.claim_verdict = "INCONCLUSIVE"
        res.claim_ok = res.claim_verdict == "RIGHT"
        n = max(len(r.errors) for r in claims)
        res.claim_errors = [max(r.errors[i] if i < len(r.errors) else 0.0 for r in claims) for i in range(n)]
        fe = [r.formula_error for r in claims if math.isfinite(r.formula_error)]
        res.claim_error = max(fe) if fe else math.nan
        res.claim_notes = [note for r in claims for note in r.notes]
        res.ok = res.ok and res.claim_ok
    return res


def _safe_flat(f, inp):
    out, err = _try(f, inp)
    return math.nan if err else out


def _claim_item(d, sp, c, label, shapes, P, wrt) -> _Item:
    """The compiled claim next to matdiff's corresponding formula and its terms."""
    n = sp.var
    if sp.kind == "gradient":
        correct = d.gradients[n]
        kind_out, dirs = "value", []
    elif sp.kind == "jacobian":
        correct = d.jacobians[n]
        kind_out, dirs = "matrix", []
    elif sp.kind == "differential":
        correct = d.differential
        kind_out, dirs = "value", [(a, a, shapes[a], "dvar") for a in wrt]
    elif sp.kind == "hessian":
        correct = d.hessian
        kind_out, dirs = "matrix", []
    else:
        correct = d.hvp
        # matdiff's HVP is written in its own direction name; the claim's may differ
        if sp.direction != d.hvp_variable:
            old = E.var(d.hvp_variable, shapes[n], n in d.symmetric)
            correct = E.substitute(correct, {old: E.var(sp.direction, shapes[n], n in d.symmetric)})
        kind_out, dirs = "value", [(n, sp.direction, shapes[n], "var")]
    terms = _terms(correct)
    fn = _Fn(d, [("claim", c, kind_out)], dirs)  # the claim alone: matdiff's formula cannot spoil it
    outputs = [("claim", c, kind_out), ("correct", correct, kind_out)]
    outputs += [(f"term{i}", t, kind_out) for i, t in enumerate(terms)]
    dense_fn = _Fn(d, outputs, dirs)
    sym = n in P if n is not None else False

    def predict(inp, V):
        if sp.kind == "gradient":
            C = fn(inp)[0]
            return np.array([_inner(C, V[n])])
        if sp.kind in ("jacobian", "hessian"):
            J = np.atleast_2d(np.asarray(fn(inp)[0], dtype=float))
            out = J @ _flat(V[n])
            return P[n] @ out if (sp.kind == "hessian" and sym) else out
        out = _flat(fn(inp, V)[0])
        return P[n] @ out if (sp.kind == "hvp" and sym) else out

    dirvars = list(wrt) if sp.kind == "differential" else [n]
    it = _Item("claim", sp.kind, label, str(c), n, dirvars, 2 if sp.kind in ("hessian", "hvp") else 1,
               fn, predict, zero=E.is_zero(c), correct=correct, terms=terms)
    it.dense_fn = dense_fn
    return it


def _gap_ratio(F) -> float:
    """The largest eigenvalue gap over the smallest, from F = eiggap(w) (F_ij = 1/(w_j - w_i)):
    large where two eigenvalues nearly coincide, 1 for two eigenvalues."""
    off = np.abs(F[~np.eye(F.shape[0], dtype=bool)])
    return float(off.max() / off.min()) if off.size and off.min() > 0 else 1.0


def _kink_guard(d, exprs, wrt, cshape, sym_set):
    """A test ``ok(point, rng)``: no finite-difference step from the point comes near a kink of
    a nonsmooth function in ``exprs`` (abs, relu, sign, max ties, ...: the ``kink`` of their
    declarations), or None when there is none.

    Each kink's argument is evaluated at the point and at the point moved by the largest
    starting step of :func:`_fd` along a few random directions; an entry is safe when its
    distance to the kink (``Kink.distance``) exceeds 4 times the largest such move (``distance``
    is Lipschitz with constant at most 2), or when it does not move at all (a kink the
    expression sits on whatever the point, such as abs(X - X')'s diagonal)."""
    from ..ops.registry import kinks

    found = kinks(*exprs)
    if not found:
        return None
    fn = _Fn(d, [(f"k{i}", n.args[0], "value") for i, (n, _, _) in enumerate(found)])
    dists = [k.distance for _, _, k in found]

    def ok(inp, rng) -> bool:
        base, err = _try(fn, inp)
        if err:
            return True  # (nothing to judge by; the value's own draw test decides)
        h = 0.1 * _input_scale(inp, wrt)
        moves = [np.zeros(np.shape(b)) for b in base]
        for _ in range(KINK_DIRECTIONS):
            V = _direction(cshape, wrt, sym_set, rng)
            for t in (h, -h):
                outs, err = _try(fn, _shift(inp, V, t))
                if err:
                    return False
                for i, (b, o) in enumerate(zip(base, outs)):
                    moves[i] = np.maximum(moves[i], np.abs(np.asarray(o, dtype=float) - np.asarray(b, dtype=float)))
        for b, mv, dist in zip(base, moves, dists):
            dv = np.asarray(dist(b), dtype=float)
            if dv.shape != mv.shape:
                mv = np.max(mv, initial=0.0)
            if not np.all((dv > 4.0 * mv) | (mv == 0.0)):
                return False
        return True

    return ok


def _draw_point(value, cond_fn, square, cshape, order, sym_set, positive, rng, shrink, kink_ok=None):
    """A random point where the value is finite, the inverted matrices are well conditioned and
    no finite-difference step crosses a kink (``kink_ok``, :func:`_kink_guard`); the best of
    :data:`DRAWS` draws when none is all of these (off the kinks first, then conditioning)."""
    best = None
    problem = ""
    # smaller inputs after a quarter of the draws, and smaller still after half: an expression
    # that overflows (exp(exp(x))) is finite near 0; all variables positive in the last quarter
    for tries in range(DRAWS):
        pos = positive if tries < 3 * DRAWS // 4 else set(order)
        scale = shrink * (1.0, 0.3, 0.1, 0.3)[4 * tries // DRAWS]
        trial = {n: _draw(cshape[n], n in sym_set, n in pos, rng, scale) for n in order}
        v, err = _try(value, trial)
        if err or not np.all(np.isfinite(v)):
            problem = err or "the value is not finite"
            continue
        conds = []
        if cond_fn is not None:
            outs, err = _try(cond_fn, trial)
            if err:
                problem = err
                continue
            for m, M in zip(square, outs):
                c, err = _try(_gap_ratio if m.op == "eiggap" else np.linalg.cond,
                              np.atleast_2d(np.asarray(M, dtype=float)))
                conds.append((str(m), float(c) if err is None and math.isfinite(c) else math.inf))
        worst = max((c for _, c in conds), default=1.0)
        on_kink = kink_ok is not None and not kink_ok(trial, rng)
        if best is None or (on_kink, worst) < best[0]:
            best = ((on_kink, worst), trial, conds)
        if worst <= COND_MAX and not on_kink:
            break
    if best is None:
        hint = ""
        if problem == "the value is not finite":
            hint = ("; the value may overflow at these sizes: try smaller ones (--size n=...), or logdet "
                    "in place of log(det(...)), log-sum-exp forms in place of sums of exp")
        raise DerivationError(f"could not find random inputs where the expression can be evaluated "
                              f"({DRAWS} draws; the last one failed with: {problem}){hint}")
    return best[1], best[2]


def _judge(it: _Item, inp, p, ref, cshape, sym_set, rng, directions, conds):
    """Compare the item with finite differences in random directions at one point."""
    s = _input_scale(inp, it.dirvars)
    preds, refs, nums, ests, rounds, fin = [], [], [], [], [], []
    for _ in range(directions):
        V = _direction(cshape, it.dirvars, sym_set, rng)
        a, err = _try(lambda V=V: _flat(it.predict(inp, V)))
        g = ref(V)
        num, est, rounding = _fd(g, s, full=False)
        ok_a = err is None and bool(np.all(np.isfinite(a)))
        preds.append(a if ok_a else None)
        refs.append(g)
        nums.append(num)
        ests.append(est)
        rounds.append(rounding)
        fin.append(ok_a)
    states, errors, estimates, mags = _states(preds, nums, ests)
    redo = [i for i, st in enumerate(states) if st not in ("agree", "zero")]
    for i in redo:  # not an agreement: the full estimate (three starting steps) before judging
        nums[i], ests[i], rounds[i] = _fd(refs[i], s)
    if redo:
        states, errors, estimates, mags = _states(preds, nums, ests)
    r = it.res
    r.errors, r.estimates, r.point = errors, estimates, p
    if "disagree" in states:
        r.verdict, it.decided = "disagree", True
        if not all(fin):
            r.notes.append(f"{r.label}: the formula is not finite at the random point (the derivative "
                           f"is finite there)")
    elif all(st in ("agree", "zero") for st in states) and "agree" in states:
        r.verdict, it.decided = "agree", True
    elif all(st == "zero" for st in states):
        it.zero_points += 1  # the derivative is exactly 0 here, and so is the formula
        r.verdict = "inconclusive"
    else:
        r.verdict = "inconclusive"
        it.last = (errors, estimates, [x / max(m, 1e-300) for x, m in zip(rounds, mags)], conds)


def _states(preds, nums, ests):
    """Per direction: agree / disagree / inconclusive / zero, relative errors and estimates."""
    mags = [max(_norm(a) if a is not None else 0.0, _norm(n) if np.all(np.isfinite(n)) else 0.0)
            for a, n in zip(preds, nums)]
    item_scale = max(mags, default=0.0)
    states, errors, estimates = [], [], []
    for a, num, est, mag in zip(preds, nums, ests, mags):
        scale = max(mag, 1e-4 * item_scale, 1e-300)
        num_ok = bool(np.all(np.isfinite(num))) and math.isfinite(est)
        if a is None:
            # the formula is not finite at a point where the derivative is resolved: wrong there
            states.append("disagree" if num_ok and est <= 1e-3 * scale else "inconclusive")
            errors.append(math.inf)
            estimates.append(est / scale if num_ok else math.inf)
            continue
        if not num_ok:
            states.append("inconclusive")
            errors.append(math.nan)
            estimates.append(math.inf)
            continue
        diff = _norm(a - num)
        rel, rel_est = diff / scale, est / scale
        if mag < _UNDERFLOW:
            states.append("zero")  # both (nearly) 0: such a direction cannot tell formulas apart
        elif diff == 0.0 or rel <= TOL:
            states.append("agree")
        elif diff > SAFETY * est:
            states.append("disagree")
        else:
            states.append("inconclusive")
        errors.append(0.0 if diff == 0.0 else rel)
        estimates.append(rel_est)
    return states, errors, estimates, mags


def _input_scale(inp, names) -> float:
    vals = [np.asarray(inp[n], dtype=float).ravel() for n in names]
    allv = np.concatenate(vals) if vals else np.zeros(1)
    return max(0.05, float(np.sqrt(np.mean(np.square(allv)))))


def _reason(it: _Item, points: int, conds) -> str:
    last = it.last
    if last is None:
        return it.res.reason or "not checked"
    errors, estimates, rounding, conds = last
    est = max((e for e in estimates if math.isfinite(e)), default=math.inf)
    msg = (f"finite differences cannot resolve it to the tolerance {TOL:g} at {points} random point"
           f"{'s' if points > 1 else ''}: their error estimate is {est:.1e} (relative)")
    rnd = max((x for x in rounding if math.isfinite(x)), default=0.0)
    if rnd >= 0.5 * est and math.isfinite(est):
        msg += ", mostly roundoff in evaluating the function"
    bad = [(t, c) for t, c in conds if c > COND_MAX]
    if bad:
        t, c = max(bad, key=lambda x: x[1])
        msg += f"; the function is ill-conditioned there (condition number of {t}: {c:.1e})"
    if any(not math.isfinite(e) for e in errors):
        msg += "; the formula is not finite at some of them"
    return msg


def _step_table(it: _Item, inp, ref, cshape, sym_set, directions, seed) -> list:
    """Error of plain central differences against the step (max over random directions)."""
    rng = np.random.default_rng(seed)
    dirs = [_direction(cshape, it.dirvars, sym_set, rng) for _ in range(directions)]
    preds = []
    for V in dirs:
        a, err = _try(it.predict, inp, V)
        preds.append(None if err else _flat(a))
    table = []
    for h in STEPS:
        worst = 0.0
        for V, a in zip(dirs, preds):
            if a is None:
                continue
            g = ref(V)
            num = (g(h) - g(-h)) / (2 * h)
            e = _norm(num - a) / max(_norm(a), _norm(num) if np.all(np.isfinite(num)) else 0.0, 1e-300)
            worst = max(worst, e if math.isfinite(e) else math.inf)
        table.append((h, worst))
    return table


# ---------------------------------------------------------------------------- diagnosis


def _compare_claim(it: _Item, inp, d, cshape, sym_set, P, ref: _Item):
    """Entrywise comparison with matdiff's formula (``ref`` checks it) at the deciding
    point; for a wrong claim, the diagnosis."""
    if inp is None:
        return
    r = it.res
    dense, err = _try(_dense, it, inp, cshape, sym_set, P)
    if err is not None or dense is None:
        return
    worst = 0.0
    blocks = []
    for name, C, G, tv, var in dense:
        if not (np.all(np.isfinite(C)) and np.all(np.isfinite(G))):
            worst = math.inf
            blocks.append((name, C, G, tv, var))
            continue
        e = _norm(C - G) / max(_norm(G), _norm(C), 1e-300)
        worst = max(worst, e)
        blocks.append((name, C, G, tv, var))
    confirmed = ref is not None and ref.res.verdict == "agree"
    r.formula_error = worst if confirmed else math.nan  # matdiff's formula is the truth once confirmed
    n = it.var
    if r.verdict == "agree":
        if it.kind == "gradient" and n in sym_set:
            outs, err = _try(it.dense_fn, inp)
            raw, G = (np.asarray(o, dtype=float) for o in outs[:2]) if err is None else (None, None)
            if raw is not None and _norm(raw - G) > TOL * max(_norm(G), 1e-300):
                r.notes.append(f"df/d{n}: right as a gradient on symmetric matrices (its symmetric part "
                               f"(C + C')/2 is matdiff's gradient)")
        return
    if r.verdict != "disagree":
        if confirmed and math.isfinite(worst):
            r.notes.append(f"{r.label}: at the last random point it differs from matdiff's formula (which "
                           f"agrees with finite differences) by {worst:.1e} (relative, entrywise)")
        return
    if not confirmed:
        r.notes.append(f"matdiff's own {_KIND_WORDS[ref.kind if ref else 'derivative']} is not confirmed "
                       f"by finite differences either, so it is not compared with the claim")
        return
    what = _KIND_WORDS[it.kind]
    for name, C, G, tv, var in blocks:
        variants = []
        if it.kind in ("differential", "hvp") and len(cshape[var]) == 2 and cshape[var][0] == cshape[var][1]:
            K = _commutation(cshape[var])
            dname = f"d{var}" if it.kind == "differential" else it.res.label[2:-1]
            variants.append((G @ K, f"it has {dname}' where the correct {what} has {dname} (or the other "
                                    f"way round)"))
        label, desc = name if isinstance(name, tuple) else (name, "")
        r.notes += _diagnose(label, what, C, G, tv, it.terms, transpose_ok=it.kind in ("gradient", "jacobian"),
                             variants=variants, desc=desc)
    r.notes.append(f"correct:  {_correct_label(d, it)} = {it.correct}")


def _correct_label(d, it: _Item) -> str:
    return {"gradient": f"df/d{it.var}", "jacobian": f"dvec(F)/dvec({it.var})", "differential": "dF",
            "hessian": "H", "hvp": it.res.label}[it.kind]


def _dense(it: _Item, inp, cshape, sym_set, P) -> list:
    """``[(label, claim, matdiff's, [term arrays])]``: the claim and matdiff's formula as
    arrays (linear maps in a direction become matrices by evaluating on a basis)."""
    n = it.var
    k = 2 + len(it.terms)
    if it.kind == "gradient":
        outs = [np.asarray(o, dtype=float) for o in it.dense_fn(inp)]
        if n in sym_set and outs[0].ndim == 2:
            outs = [(o + o.T) / 2 for o in outs]
        return [(it.res.label, outs[0], outs[1], outs[2:], n)]
    if it.kind in ("jacobian", "hessian"):
        outs = [np.atleast_2d(np.asarray(o, dtype=float)) for o in it.dense_fn(inp)]
        if n in P:
            outs = [(P[n] @ o @ P[n]) if it.kind == "hessian" else o @ P[n] for o in outs]
        return [(it.res.label, outs[0], outs[1], outs[2:], n)]
    blocks = []
    for a in it.dirvars:
        cols: list = [[] for _ in range(k)]
        size = int(np.prod(cshape[a])) if cshape[a] else 1
        for j in range(size):
            V = {b: (np.zeros(cshape[b]) if cshape[b] else 0.0) for b in it.dirvars}
            e = np.zeros(size)
            e[j] = 1.0
            V[a] = e.reshape(cshape[a], order="F") if cshape[a] else 1.0
            for i, o in enumerate(it.dense_fn(inp, V)):
                cols[i].append(_flat(o))
        mats = [np.array(c).T for c in cols]
        if a in P:
            mats = [m @ P[a] for m in mats]
            if it.kind == "hvp":
                mats = [P[a] @ m for m in mats]
        if it.kind == "differential":
            name = ("dF", f" (as the matrix J in vec(dF) = J*vec(d{a}))")
        else:
            v = it.res.label[2:-1]
            name = (it.res.label, f" (as the matrix H in vec(H[{v}]) = H*vec({v}))")
        blocks.append((name, mats[0], mats[1], mats[2:], a))
    return blocks


def _commutation(shape) -> np.ndarray:
    """K with K vec(V) = vec(V') for V of the given shape (column-major vec)."""
    r, c = shape
    K = np.zeros((r * c, r * c))
    for i in range(r):
        for j in range(c):
            K[i * c + j, j * r + i] = 1.0
    return K


def _diagnose(label, what, C, G, termvals, terms, transpose_ok=True, variants=(), desc="") -> list:
    notes = []
    gn = max(_norm(G), 1e-300)

    def close(a, b):
        return _norm(a - b) <= 1e-6 * max(_norm(a), _norm(b), 1e-300)

    if C.ndim == 2:
        D = np.abs(C - G)
        idx = np.dstack(np.unravel_index(np.argsort(-D, axis=None), D.shape))[0][:3]
        where = ", ".join(f"({i + 1},{j + 1}): claim {C[i, j]:.4g}, true {G[i, j]:.4g}" for i, j in idx)
        bad = int(np.sum(D > 1e-6 * gn))
        notes.append(f"{label}{desc}: {bad} of {D.size} entries differ; largest at {where}")
    elif C.ndim == 1:
        D = np.abs(C - G)
        idx = np.argsort(-D)[:3]
        where = ", ".join(f"[{i + 1}]: claim {C[i]:.4g}, true {G[i]:.4g}" for i in idx)
        bad = int(np.sum(D > 1e-6 * gn))
        notes.append(f"{label}: {bad} of {D.size} entries differ; largest at {where}")
    else:
        notes.append(f"{label}: claim {float(C):.6g}, true {float(G):.6g}")
    if not (np.all(np.isfinite(C)) and np.all(np.isfinite(G))):
        return notes
    hint = next((h for M, h in variants if close(C, M)), None)
    square = C.ndim == 2 and C.shape == C.T.shape
    if hint is None and transpose_ok and square and close(C.T, G) and not close(C, G):
        hint = f"it is the transpose of the correct {what} (a missing or extra transpose)"
    elif hint is None:
        denom = _inner(G, G)
        c = _inner(C, G) / denom if denom else 0.0
        if denom and close(C, c * G):
            if abs(c + 1) < 1e-6:
                hint = "it has the wrong sign"
            else:
                hint = f"it is off by a factor of {c:.6g} (the correct {what} times {c:.6g})"
        elif transpose_ok and square and denom:
            ct = _inner(C.T, G) / denom
            if close(C.T, ct * G):
                hint = f"it is the transpose of the correct {what} times {ct:.6g}"
        if hint is None:
            for i, t in enumerate(termvals):
                if close(C, G - t):
                    hint = f"it misses the term {terms[i]}"
                    break
                if close(C, G + t):
                    hint = f"the term {terms[i]} is counted twice"
                    break
                if close(C, G - 2 * t):
                    hint = f"the term {terms[i]} has the wrong sign"
                    break
        if hint is None:
            for i, ti in enumerate(termvals):
                for j, tj in enumerate(termvals):
                    if i != j and close(C, G - ti + tj):
                        hint = (f"it has the term {terms[j]} where the correct {what} has "
                                f"{terms[i]} + {terms[j]} (those two terms differ in general)")
                        break
                if hint:
                    break
    if hint:
        notes.append(f"{label}: {hint}")
    return notes
