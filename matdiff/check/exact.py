"""Exact verification at small concrete sizes, with SymPy (``check --exact``, ``check(exact=True)``).

At each size (every symbolic dimension 2, then every one 3, unless sizes are given) each input
is written with symbolic real entries (``X`` 2x2 is ``[[X_0_0, X_0_1], [X_1_0, X_1_1]]``), the
expression is expanded entrywise with SymPy and differentiated entry by entry. matdiff's
derivative (the gradient of a scalar expression, the differential of a matrix-valued one, the
Hessian with ``hessian=True``) and every claim are written out the same way, and each entry of
the difference is simplified:

* **PROVEN**: every entry's difference simplifies to zero: equal at that size, as formulas;
* **WRONG**: an entry differs at an exact rational point (the entry and the point are given);
* **UNDECIDED**: SymPy neither reached zero nor found a point within the time budget, or the
  derivative uses an operation SymPy cannot write (the reason is given): the numerical
  verdict stands.

``log|u|`` is read as ``log(u)`` on every side before comparing (the same derivative ``du/u``).
Symmetric variables are not handled exactly (their gradients follow a convention the entrywise
derivative does not): they are UNDECIDED.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction

from ..core.errors import MatdiffError
from ..core.shapes import dim_leaves

BUDGET_S = 20.0  # seconds for one exact check, all sizes together


class _OutOfTime(Exception):
    pass


@dataclass
class ExactItem:
    """One thing proved (or not) at one size: ``what`` (matdiff's gradient, a claim...)."""

    what: str
    size: str
    verdict: str  # PROVEN | WRONG | UNDECIDED
    detail: str = ""


@dataclass
class ExactResult:
    """The exact verdicts: ``items`` (one per thing and size), ``verdict`` for matdiff's own
    derivative and ``claim_verdict`` for the claims (PROVEN / WRONG / UNDECIDED, None if none)."""

    items: list = field(default_factory=list)

    def _overall(self, claims: bool):
        its = [it for it in self.items if it.what.startswith("claim") == claims]
        if not its:
            return None
        for v in ("WRONG", "UNDECIDED"):
            if any(it.verdict == v for it in its):
                return v
        return "PROVEN"

    @property
    def verdict(self):
        return self._overall(False)

    @property
    def claim_verdict(self):
        return self._overall(True)

    def __str__(self) -> str:
        lines = ["exact (SymPy, symbolic entries):"]
        for it in self.items:
            lines.append(f"  {it.what} at {it.size}: {it.verdict}" + (f" ({it.detail})" if it.detail else ""))
        if any(it.verdict == "UNDECIDED" for it in self.items):
            lines.append("  where undecided, the numerical verdict above stands")
        return "\n".join(lines)


class _Size:
    """One concrete size: the symbols of every variable's entries and the matrices they form."""

    def __init__(self, sp, d, sizes: dict):
        self.sp, self.sizes = sp, sizes
        self.dimsub = {sp.Symbol(k): v for k, v in sizes.items()}
        self.entries: dict = {}  # variable name -> sympy Matrix of its entry symbols
        self.mats: dict = {}
        for name, shape in _var_shapes(d).items():
            self._add(name, shape)

    def _add(self, name, shape):
        sp = self.sp
        r, c = (int(sp.sympify(_sdim(sp, x)).subs(self.dimsub)) for x in shape)
        if (r, c) == (1, 1):
            s = sp.Symbol(name, real=True)
            self.entries[name] = sp.Matrix([[s]])
            self.mats[sp.Symbol(name)] = s
            return
        M = sp.Matrix(r, c, lambda i, j: sp.Symbol(f"{name}_{i}_{j}", real=True))
        self.entries[name] = M
        self.mats[sp.MatrixSymbol(name, r, c)] = sp.ImmutableMatrix(M)

    def explicit(self, e):
        """An Expr written out at this size: a SymPy Matrix of entries (1x1 for a scalar)."""
        sp = self.sp
        s = e.to_sympy().subs(self.dimsub)
        out = s.as_explicit() if isinstance(s, sp.MatrixExpr) else s
        out = out.xreplace(self.mats)
        # inverses as adjugate / determinant: polynomial entries over one denominator, which
        # SymPy cancels far faster than the output of Gaussian elimination
        out = out.replace(lambda x: isinstance(x, sp.Inverse),
                          lambda x: _adj_inv(sp, sp.ImmutableMatrix(x.arg.doit())))
        for _ in range(3):
            out = out.doit()
        out = out.replace(lambda x: isinstance(x, sp.log) and isinstance(x.args[0], sp.Abs),
                          lambda x: sp.log(x.args[0].args[0]))
        return out if isinstance(out, sp.MatrixBase) else sp.Matrix([[out]])

    def vec(self, name):
        """The entry symbols of a variable in column-major (vec) order."""
        M = self.entries[name]
        return [M[i, j] for j in range(M.cols) for i in range(M.rows)]

    def point(self, seed: int) -> dict:
        """A rational point in every usual domain: entries in (1/2, 3/2), square matrices
        diagonally dominant (log, sqrt, inv, det all defined)."""
        import random

        rnd = random.Random(seed)
        out = {}
        for M in self.entries.values():
            for i in range(M.rows):
                for j in range(M.cols):
                    v = Fraction(rnd.randint(8, 24), 16)
                    if M.rows == M.cols and i == j and M.rows > 1:
                        v += M.rows
                    out[M[i, j]] = self.sp.Rational(v.numerator, v.denominator)
        return out


def _adj_inv(sp, M):
    return sp.ImmutableMatrix(M.adjugate() / M.det())


def _sdim(sp, d):
    from ..interop.sympy import _dim

    return _dim(d)


def _var_shapes(d) -> dict:
    return {n.attr[0]: n.shape for n in d.expr.walk() if n.op == "var"}


def _compare(sz: _Size, got, want, deadline: float):
    """(verdict, detail) for two explicit matrices."""
    sp = sz.sp
    if got.shape != want.shape:
        return "WRONG", f"shape {got.shape} where {want.shape} is expected"
    diffs = [(i, j, got[i, j] - want[i, j]) for i in range(got.rows) for j in range(got.cols)]
    for seed in range(2):  # first a counterexample at an exact point, evaluated to 30 digits (cheap)
        pt = sz.point(seed)
        for i, j, diff in diffs:
            if time.monotonic() > deadline:
                raise _OutOfTime
            v = diff.xreplace(pt).evalf(30)
            if v.is_number and abs(complex(v)) > 1e-12:
                return "WRONG", f"entry ({i + 1}, {j + 1}) differs by {sp.N(v, 6)} at a rational point"
    for i, j, diff in diffs:  # then the proof: the difference's numerator expands to zero
        if time.monotonic() > deadline:
            raise _OutOfTime
        if sp.expand(sp.numer(sp.together(diff))) != 0 and sp.simplify(diff) != 0:
            return "UNDECIDED", f"SymPy cannot simplify entry ({i + 1}, {j + 1})'s difference to zero"
    return "PROVEN", ""


def _truth(sz: _Size, d, F, kind: str, var: str | None):
    """The derivative from the expanded entries: gradient, Jacobian, differential, Hessian."""
    sp = sz.sp
    if kind == "gradient":
        M = sz.entries[var]
        return M.applyfunc(lambda x: sp.diff(F[0, 0], x))
    if kind == "jacobian":
        vf = [F[i, j] for j in range(F.cols) for i in range(F.rows)]
        return sp.Matrix([[sp.diff(f, x) for x in sz.vec(var)] for f in vf])
    if kind == "differential":
        out = sp.zeros(F.rows, F.cols)
        for n in d.wrt:
            M = sz.entries[n]
            dM = sz.entries["d" + n] if ("d" + n) in sz.entries else None
            for i in range(M.rows):
                for j in range(M.cols):
                    out += F.applyfunc(lambda f, x=M[i, j]: sp.diff(f, x)) * dM[i, j]
        return out
    xs = sz.vec(var)  # hessian
    return sp.Matrix([[sp.diff(F[0, 0], a, b) for b in xs] for a in xs])


def exact_check(d, sizes: dict | None = None, claim=None, hessian: bool = False,
                budget: float = BUDGET_S) -> ExactResult:
    """Prove matdiff's derivative (and claims) at concrete sizes; see the module docstring."""
    import sympy as sp

    from ..core import expr as E
    from .checker import _claim_specs

    specs = _claim_specs(d, claim, hessian) if claim else []
    names = sorted({str(a) for shape in _var_shapes(d).values() for x in shape for a in dim_leaves(x)
                    if not isinstance(a, int)})
    rounds = [dict(sizes)] if sizes else [{n: 2 for n in names}, {n: 3 for n in names}]
    if not names:
        rounds = rounds[:1]
    for r in rounds:
        for n in names:
            r.setdefault(n, 2)
    result = ExactResult()
    deadline = time.monotonic() + budget
    main = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")

    def alarm(*_):
        raise _OutOfTime

    old = signal.signal(signal.SIGALRM, alarm) if main else None
    if main:
        signal.setitimer(signal.ITIMER_REAL, budget + 0.5)
    try:
        for r in rounds:
            label = ", ".join(f"{k}={v}" for k, v in r.items()) or "these sizes"
            todo = _todo(d, specs, hessian, E)
            if d.symmetric:
                for what, *_ in todo:
                    result.items.append(ExactItem(what, label, "UNDECIDED", "symmetric variables are not "
                                                  "handled exactly"))
                continue
            try:
                sz = _Size(sp, d, r)
                for n in d.wrt:
                    sz._add("d" + n, _var_shapes(d)[n])
                for what, kind, var, e in todo:
                    if kind == "hvp":
                        result.items.append(ExactItem(what, label, "UNDECIDED", "Hessian-vector product "
                                                      "claims are checked numerically only"))
                        continue
                    try:
                        got = sz.explicit(e)
                        F = sz.explicit(d.expr)
                    except MatdiffError as err:
                        result.items.append(ExactItem(what, label, "UNDECIDED", str(err)))
                        continue
                    want = _truth(sz, d, F, kind, var)
                    verdict, detail = _compare(sz, got, want, deadline)
                    result.items.append(ExactItem(what, label, verdict, detail))
            except _OutOfTime:
                done = {(it.what, it.size) for it in result.items}
                for what, *_ in todo:
                    if (what, label) not in done:
                        result.items.append(ExactItem(what, label, "UNDECIDED",
                                                      f"over the time budget of {budget:g} s"))
    finally:
        if main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    return result


def _todo(d, specs, hessian, E) -> list:
    """(label, kind, variable, expression) for matdiff's own derivative and each claim."""
    from .checker import _parse_claim

    out = []
    if d.expr.is_scalar:
        for n in d.wrt:
            out.append((f"matdiff's gradient by {n}", "gradient", n, d.gradient if len(d.wrt) == 1
                        else d.gradients[n]))
    else:
        out.append(("matdiff's differential dF", "differential", None, d.differential))
    if hessian:
        out.append(("matdiff's Hessian", "hessian", d.wrt[0], d.hessian))
    for spec in specs:
        c, label = _parse_claim(d, spec)
        out.append((f"claim {label} = {spec.text}", spec.kind, spec.var, c))
    return out
