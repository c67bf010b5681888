"""Numerical check of a derivation (and of a hand-derived claim) by finite differences.

:func:`check` draws random inputs (symmetric where declared; positive definite or with
positive entries where the expression needs it: ``logdet``, ``det``, ``inv``, ``log``,
``sqrt``, fractional powers), then compares the directional derivative along several
random unit directions ``V`` with central finite differences of the value:

* scalar f: ``<G, V>`` (G the gradient matdiff derived) against ``(f(X+hV) - f(X-hV))/2h``
  (a fourth-order stencil, so the truncation error is negligible);
* non-scalar F: the differential ``dF[V]`` against the finite difference of F.

A *claim* (a gradient derived by hand) is parsed with the same shapes and checked the
same way; when it is wrong the report says by how much, in which entries, whether it is
a known slip (transpose, factor, sign, missing term) and prints the correct formula.

Everything numeric runs through the same generated NumPy code as ``to_numpy()``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from . import expr as E
from .codegen import compile_source, generate, py_names
from .errors import DerivationError, MatdiffError, ShapeError
from .shapes import dim_parts, shape_str, shape_to_dims

TOL = 1e-6  # relative error below which a derivative agrees
SIZE_POOL = (4, 3, 5, 2, 6, 7)
STEPS = tuple(10.0 ** -k for k in range(1, 13))

# ops whose argument must be positive (definite): their variables are drawn that way
_POSITIVE_OPS = {"logdet", "det", "inv", "mpow"}
_POSITIVE_FNS = {"log", "sqrt"}


@dataclass
class CheckResult:
    """The outcome of a gradient check (see :func:`check`).

    ``ok``: the derivative (and the claim, if one was given) agrees with finite differences;
    ``errors``: relative error per random direction; ``max_error``: their maximum;
    ``table``: ``[(step, relative error)]`` of plain central differences, showing truncation
    error for large steps and roundoff for tiny ones.
    """

    ok: bool
    errors: list
    max_error: float
    table: list
    expression: str = ""
    wrt: list = field(default_factory=list)
    sizes: dict = field(default_factory=dict)
    derivative: dict = field(default_factory=dict)  # name -> formula text
    kind: str = "gradient"
    symmetric: list = field(default_factory=list)
    claim: dict | None = None  # name -> claim text
    claim_ok: bool | None = None
    claim_errors: list = field(default_factory=list)
    claim_error: float = math.nan  # relative difference claim vs matdiff's derivative (entries)
    claim_notes: list = field(default_factory=list)
    show_table: bool = False

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        lines = [f"checking  {self.expression}  by {', '.join(self.wrt)}"
                 + (f"   (sizes {sizes})" if sizes else ""),
                 (f"{len(self.errors)} random directions, fourth-order central differences, "
                  f"tolerance {TOL:g}")]
        for n, t in self.derivative.items():
            label = "df/d" if self.kind == "gradient" else "d(F) by d"
            lines.append(f"  matdiff   {label}{n} = {t}")
        if self.claim is not None:
            for n, t in self.claim.items():
                lines.append(f"  claim     df/d{n} = {t}")
        head = "direction   matdiff vs FD" + ("    claim vs FD" if self.claim is not None else "")
        lines.append(head)
        for i, err in enumerate(self.errors):
            row = f"  {i + 1:>3}       {err:10.2e}"
            if self.claim is not None:
                row += f"     {self.claim_errors[i]:10.2e}"
            lines.append(row)
        lines.append(f"max relative error {self.max_error:.2e}: "
                     + ("matdiff's derivative agrees with finite differences"
                        if self.max_error < TOL else "matdiff's derivative DISAGREES with finite differences"))
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
        if self.claim is not None:
            if self.claim_ok:
                lines.append("verdict: the claim is RIGHT (it agrees with finite differences"
                             + (" and with matdiff's formula)" if self.claim_error < TOL else ")"))
            else:
                lines.append(f"verdict: the claim is WRONG: it differs from the true gradient by a "
                             f"relative error of {self.claim_error:.2e}")
            lines += ["  " + note for note in self.claim_notes]
        else:
            lines.append("verdict: OK" if self.ok else "verdict: FAILED")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- inputs


def _sizes_for(shapes: dict, given: dict | None) -> dict:
    names = []
    for shape in shapes.values():
        for d in shape_to_dims(shape):
            for n in dim_parts(d)[1]:
                if n not in names:
                    names.append(n)
    out = {}
    given = dict(given or {})
    unknown = [k for k in given if k not in names]
    if unknown:
        raise DerivationError(f"--size {unknown[0]}: no dimension of that name "
                              f"(dimensions: {', '.join(map(str, names)) or 'none'})")
    pool = iter(SIZE_POOL * 4)
    for n in names:
        if n in given:
            v = int(given[n])
            if v < 1:
                raise DerivationError(f"--size {n}={v}: sizes must be positive")
            out[str(n)] = v
        else:
            v = next(pool)
            while v in out.values() and len(out) < len(SIZE_POOL):
                v = next(pool)
            out[str(n)] = v
    return out


def _concrete(shape, sizes) -> tuple:
    out = []
    for d in shape_to_dims(shape):
        c, names = dim_parts(d)
        v = c
        for n in names:
            v *= sizes[str(n)]
        out.append(v)
    return tuple(out)


def _positive_vars(e: E.Expr) -> set:
    out = set()
    for n in e.walk():
        need = n.op in _POSITIVE_OPS or (n.op == "fn" and n.attr in _POSITIVE_FNS)
        if n.op in ("pow", "hpow") and n.args[1].op == "const":
            p = n.args[1].attr
            need = need or p.denominator != 1 or p < 0
        if need:
            out |= n.args[0].free_vars()
    return out


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
    return float(np.sqrt(np.sum(np.square(np.asarray(a, dtype=float)))))


# ---------------------------------------------------------------------------- the check


def check(d, sizes: dict | None = None, directions: int = 5, seed: int | None = 0, claim=None,
          steps: bool = False) -> CheckResult:
    """Check the derivation ``d`` (a :class:`~matdiff.api.Derivation`) numerically.

    ``sizes``: ``{dim name: int}`` for symbolic dimensions (others get distinct small
    sizes); ``claim``: a formula for the gradient (str, one ``wrt`` variable) or
    ``{name: formula}``; ``steps``: show the error-vs-step table in ``str(result)``.
    """
    from .parsing import parse_full
    from .simplify import simplify

    if directions < 1:
        raise DerivationError("check needs at least one direction")
    shapes = d._shapes
    sizes = _sizes_for(shapes, sizes)
    cshape = {n: _concrete(s, sizes) for n, s in shapes.items()}
    scalar = d.expr.is_scalar
    wrt = list(d.wrt)
    sym_set = set(d.symmetric)
    claims: dict = {}
    if claim is not None:
        if not scalar:
            raise DerivationError("a claim can only be checked for a scalar expression (a gradient)")
        if isinstance(claim, str):
            if len(wrt) != 1:
                raise DerivationError(f"several variables ({', '.join(wrt)}): give one claim per "
                                      f"variable, as NAME=FORMULA")
            claim = {wrt[0]: claim}
        for n, text in claim.items():
            if n not in wrt:
                raise DerivationError(f"claim for {n!r}, which is not differentiated by (--wrt)")
            decl = {v: ",".join(str(x) for x in shape_to_dims(s)) for v, s in shapes.items()}
            words = set(re.findall(r"[A-Za-z][A-Za-z0-9_]*", text))
            try:
                parsed = parse_full(text, {v: s for v, s in decl.items() if v in words}, sym_set & words)
            except MatdiffError as e:
                raise type(e)(f"in the claim for df/d{n}: {e}") from None
            extra = [v for v in parsed.order if v not in shapes]
            if extra:
                raise DerivationError(f"the claim for df/d{n} uses {extra[0]!r}, which is not a variable "
                                      f"of the expression (variables: {', '.join(d.variables)})")
            c = parsed.expr
            if c.shape != shapes[n]:
                raise ShapeError(f"the claim for df/d{n} has shape {shape_str(c.shape)}, but a gradient "
                                 f"by {n} has the shape of {n}: {shape_str(shapes[n])}")
            claims[n] = c
    # one compiled function: value, derivative outputs, claims, gradient terms (diagnosis)
    inputs_decl = d._input_list()
    pyn = py_names([n for n, _ in inputs_decl])
    outputs = [("value", d.expr, "value")]
    extra_params = None
    if scalar:
        grads = d.gradients
        for n in wrt:
            outputs.append((n, grads[n], "value"))
    else:
        extra_params = [(f"direction d{n}", "_d_" + pyn[n], shapes[n]) for n in wrt]
        outputs.append(("dF", d.differential, "value"))
    terms: dict = {}
    for n, c in claims.items():
        outputs.append(("claim " + n, c, "value"))
        terms[n] = _terms(grads[n])
        for t in terms[n]:
            outputs.append(("term", t, "value"))
    src = generate(outputs, inputs_decl, "_matdiff_check", "", extra_params=extra_params)
    full = compile_source(src, "_matdiff_check")
    vsrc = generate([("value", d.expr, "value")], inputs_decl, "_matdiff_value", "")
    value_fn = compile_source(vsrc, "_matdiff_value")
    order = list(d.variables)

    def call_value(inp):
        return np.asarray(value_fn(*[inp[n] for n in order]), dtype=float)

    def call_full(inp, V=None):
        args = [inp[n] for n in order]
        if extra_params:
            args += [V[n] for n in wrt]
        return full(*args)

    rng = np.random.default_rng(seed)
    positive = _positive_vars(d.expr)

    def attempt(shrink):
        """One random point (normal entries scaled by ``shrink``): errors, table, ..."""
        inputs = None
        for tries in range(30):
            pos = positive if tries < 10 else set(shapes)
            trial = {n: _draw(cshape[n], n in sym_set, n in pos, rng, shrink) for n in order}
            try:
                with np.errstate(all="ignore"):
                    v = call_value(trial)
            except np.linalg.LinAlgError:
                continue
            if np.all(np.isfinite(v)):
                inputs = trial
                break
        if inputs is None:
            raise DerivationError("could not find random inputs where the expression is finite")

        def fd(V, h, order4=True):
            with np.errstate(all="ignore"):
                if order4:
                    f1 = call_value(_shift(inputs, V, h)) - call_value(_shift(inputs, V, -h))
                    f2 = call_value(_shift(inputs, V, 2 * h)) - call_value(_shift(inputs, V, -2 * h))
                    return (8 * f1 - f2) / (12 * h)
                return (call_value(_shift(inputs, V, h)) - call_value(_shift(inputs, V, -h))) / (2 * h)

        scale = 1.0 + max((_norm(v) for v in inputs.values()), default=0.0)
        h4 = 1e-3 * scale
        errors, dirs, analytic, numeric = [], [], [], []
        out0 = call_full(inputs, _direction(cshape, wrt, sym_set, np.random.default_rng(0)))
        gscale = 0.0
        if scalar:
            gdict = {n: out0[1 + i] for i, n in enumerate(wrt)}
            gscale = math.sqrt(sum(_norm(g) ** 2 for g in gdict.values()))
        for _ in range(directions):
            V = _direction(cshape, wrt, sym_set, rng)
            num = fd(V, h4)
            if scalar:
                a = sum(_inner(gdict[n], V[n]) for n in wrt)
                floor = max(abs(a), abs(float(num)), 1e-8 * gscale, 1e-300)
                err = abs(float(num) - a) / floor
            else:
                a = np.asarray(call_full(inputs, V)[1], dtype=float)
                diff = _norm(np.asarray(num).ravel() - a.ravel())
                floor = max(_norm(a), _norm(num), 1e-300)
                err = diff / floor
            if not (np.isfinite(num).all() if hasattr(num, "all") else math.isfinite(num)):
                err = math.inf
            dirs.append(V)
            analytic.append(a)
            numeric.append(num)
            errors.append(0.0 if err < 1e-300 else err)
        # error against the step size (plain central differences)
        table = []
        for h in STEPS:
            worst = 0.0
            for V, a in zip(dirs, analytic):
                num = fd(V, h, order4=False)
                if scalar:
                    floor = max(abs(a), abs(float(num)), 1e-8 * gscale, 1e-300)
                    e = abs(float(num) - a) / floor
                else:
                    floor = max(_norm(a), _norm(num), 1e-300)
                    e = _norm(np.asarray(num).ravel() - np.asarray(a).ravel()) / floor
                worst = max(worst, e if math.isfinite(e) else math.inf)
            table.append((h, worst))
        return inputs, errors, table, dirs, numeric, out0, gscale

    # a point where finite differences cannot resolve the derivative (a function oscillating
    # or exploding there) is not evidence of a wrong derivative: retry at other, smaller points.
    # A wrong derivative disagrees at every point.
    first = None
    for shrink in (1.0, 0.5, 0.25):
        got = attempt(shrink)
        if first is None:
            first = got
        if max(got[1]) < TOL:
            break
    else:
        got = first
    _, errors, table, dirs, numeric, out0, gscale = got
    max_error = max(errors)
    res = CheckResult(ok=max_error < TOL, errors=errors, max_error=max_error, table=table,
                      expression=d.text, wrt=wrt, sizes=sizes,
                      derivative=({n: str(g) for n, g in d.gradients.items()} if scalar
                                  else {n: "dF" for n in wrt}),
                      kind="gradient" if scalar else "differential", symmetric=sorted(sym_set),
                      show_table=steps)
    if not scalar:
        res.derivative = {"": str(d.differential)}
    if claims:
        _judge_claims(res, d, claims, terms, out0, dirs, numeric, gscale, wrt, sym_set, simplify)
        res.ok = res.ok and bool(res.claim_ok)
    return res


def _judge_claims(res, d, claims, terms, out0, dirs, numeric, gscale, wrt, sym_set, simplify):
    k = 1 + len(wrt)
    grads = {n: out0[1 + i] for i, n in enumerate(wrt)}
    claimed, termvals = {}, {}
    for n in claims:
        claimed[n] = np.asarray(out0[k], dtype=float)
        k += 1
        termvals[n] = [np.asarray(out0[k + i], dtype=float) for i in range(len(terms[n]))]
        k += len(terms[n])
    res.claim = {n: str(c) for n, c in claims.items()}
    # against finite differences, direction by direction (independent of matdiff)
    for V, num in zip(dirs, numeric):
        a = 0.0
        for n in wrt:
            G = claimed[n] if n in claimed else np.asarray(grads[n])
            a += _inner(G, V[n])
        floor = max(abs(a), abs(float(num)), 1e-8 * gscale, 1e-300)
        res.claim_errors.append(abs(float(num) - a) / floor)
    worst = 0.0
    notes = []
    for n, C in claimed.items():
        G = np.asarray(grads[n], dtype=float)
        Cs = (C + C.T) / 2 if n in sym_set and C.ndim == 2 else C
        gn = max(_norm(G), 1e-300)
        err = _norm(Cs - G) / max(gn, _norm(Cs))
        worst = max(worst, err)
        if err < TOL:
            if n in sym_set and _norm(C - G) > TOL * gn:
                notes.append(f"df/d{n}: right as a gradient on symmetric matrices (its symmetric part "
                             f"(C + C')/2 is matdiff's gradient)")
            continue
        notes += _diagnose(n, C, Cs, G, termvals[n], d.gradients[n], d, sym_set)
    res.claim_error = worst
    res.claim_ok = max(res.claim_errors) < TOL and worst < 1e-5
    res.claim_notes = notes


def _terms(g) -> list:
    """The terms of a gradient, distributing one sum inside a product: (A + A')*x -> A*x, A'*x."""
    if g.op == "add":
        return list(g.args)
    if g.op == "mul":
        for i, a in enumerate(g.args):
            if a.op == "add":
                return [E.mul(*g.args[:i], t, *g.args[i + 1:]) for t in a.args]
    return []


def _diagnose(n, C, Cs, G, termvals, g_expr, d, sym_set):
    notes = []
    terms = _terms(g_expr)
    gn = max(_norm(G), 1e-300)

    def close(a, b):
        return _norm(a - b) <= 1e-6 * max(_norm(a), _norm(b), 1e-300)

    if C.ndim == 2:
        D = np.abs(Cs - G)
        idx = np.dstack(np.unravel_index(np.argsort(-D, axis=None), D.shape))[0][:3]
        where = ", ".join(f"({i + 1},{j + 1}): claim {Cs[i, j]:.4g}, true {G[i, j]:.4g}" for i, j in idx)
        bad = int(np.sum(D > 1e-6 * gn))
        notes.append(f"df/d{n}: {bad} of {D.size} entries differ; largest at {where}")
    elif C.ndim == 1:
        D = np.abs(C - G)
        idx = np.argsort(-D)[:3]
        where = ", ".join(f"[{i + 1}]: claim {C[i]:.4g}, true {G[i]:.4g}" for i in idx)
        bad = int(np.sum(D > 1e-6 * gn))
        notes.append(f"df/d{n}: {bad} of {D.size} entries differ; largest at {where}")
    else:
        notes.append(f"df/d{n}: claim {float(C):.6g}, true {float(G):.6g}")
    hint = None
    if C.ndim == 2 and C.shape == C.T.shape and close(C.T, G):
        hint = "it is the transpose of the correct gradient (a missing or extra transpose)"
    else:
        denom = _inner(G, G)
        c = _inner(Cs, G) / denom if denom else 0.0
        if denom and close(Cs, c * G):
            if abs(c + 1) < 1e-6:
                hint = "it has the wrong sign"
            else:
                hint = f"it is off by a factor of {c:.6g} (the correct gradient times {c:.6g})"
        elif C.ndim == 2 and C.shape == C.T.shape and denom:
            ct = _inner(C.T, G) / denom
            if close(C.T, ct * G):
                hint = f"it is the transpose of the correct gradient times {ct:.6g}"
        if hint is None:
            for i, t in enumerate(termvals):
                if close(Cs, G - t):
                    hint = f"it misses the term {terms[i]}"
                    break
                if close(Cs, G + t):
                    hint = f"the term {terms[i]} is counted twice"
                    break
                if close(Cs, G - 2 * t):
                    hint = f"the term {terms[i]} has the wrong sign"
                    break
        if hint is None:
            for i, ti in enumerate(termvals):
                for j, tj in enumerate(termvals):
                    if i != j and close(Cs, G - ti + tj):
                        hint = (f"it has the term {terms[j]} where the correct gradient has "
                                f"{terms[i]} + {terms[j]} (those two terms differ in general)")
                        break
                if hint:
                    break
    if hint:
        notes.append(f"df/d{n}: {hint}")
    notes.append(f"correct:  df/d{n} = {g_expr}")
    return notes
