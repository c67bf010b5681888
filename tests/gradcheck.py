"""Numerical gradient checker shared by the matdiff test-suite.

The checker is deliberately independent of matdiff's internals: it only uses
the public API (``derive``, ``Derivation.shapes``, ``Derivation.to_numpy``) and
compares the analytic gradient returned by the compiled NumPy function against
finite differences of the *value* returned by that same function.

Conventions checked (from the spec):

* the gradient of a scalar f by X is the Frobenius gradient G, same shape as X,
  i.e.  d f = <G, dX> = sum(G * dX);
* for a variable declared symmetric, the gradient is sym(G) = (G + G')/2; it is
  checked with symmetric perturbation directions V (<grad, V> must equal the
  directional derivative) and the returned gradient must itself be symmetric.

For every variable differentiated, the checker uses a full basis of
perturbation directions (unit matrices E_ij, or E_ij + E_ji for symmetric
variables) plus a few random directions, and one joint random direction
across all variables.  The comparison is a relative error on the vector of
directional derivatives:

    ||fd - analytic|| / max(||fd||, ||analytic||, 1e-8) < 1e-6

with fd the central difference at step 1e-6.  Because a central difference at
h=1e-6 carries a roundoff error of about eps*|f|/h, a failing comparison is
re-tried with two fourth-order (5-point) stencils at larger steps; the check
passes if *any* of these independent estimates of the true derivative agrees.
A wrong gradient disagrees with all of them (see test_checker_selftest.py).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import matdiff

RTOL = 1e-6
FLOOR = 1e-8

# Sizes used for symbolic dimensions, one dict per round.  Dimension names that
# are not listed get sizes from SIZE_POOLS (so that different symbolic
# dimensions usually get *different* sizes: transposition bugs show up).
DEFAULT_SIZES: tuple[dict[str, int], ...] = (
    {"n": 3, "m": 2, "k": 4, "p": 5},
    {"n": 2, "m": 4, "k": 3, "p": 2},
)
SIZE_POOLS = ((3, 2, 4, 5), (4, 3, 2, 5), (2, 5, 3, 4))


class GradientMismatch(AssertionError):
    pass


# --------------------------------------------------------------------------- shapes


def shape_to_str(dims: Sequence[Any]) -> str:
    """("n", "m") -> "n,m";  () -> ""  (the string form accepted by parse/derive)."""
    return ",".join(str(d) for d in dims)


def shapes_as_strings(shapes: Mapping[str, Sequence[Any]]) -> dict[str, str]:
    return {k: shape_to_str(v) for k, v in shapes.items()}


def _dim_names(dims: Iterable[Any]) -> list[str]:
    out = []
    for d in dims:
        if isinstance(d, (int, np.integer)):
            continue
        s = str(d).strip()
        if s.isdigit():
            continue
        for part in re.split(r"[*+()]", s.replace(" ", "")):
            if part and not part.isdigit():
                out.append(part)
    return out


def _dim_value(d: Any, sizes: Mapping[str, int]) -> int:
    """The value of a size as matdiff prints it: ``n``, ``2*n``, ``m+n``, ``k*(m+n)``."""
    if isinstance(d, (int, np.integer)):
        return int(d)

    def value(node) -> int:
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            a, b = value(node.left), value(node.right)
            return a + b if isinstance(node.op, ast.Add) else a * b
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            return sizes[node.id]
        raise ValueError(f"not a size: {d!r}")

    return value(ast.parse(str(d), mode="eval").body)


def assign_sizes(
    shapes: Mapping[str, Sequence[Any]], base: Mapping[str, int] | None, round_no: int = 0
) -> dict[str, int]:
    """Give every symbolic dimension appearing in ``shapes`` a concrete size."""
    base = dict(base or {})
    names = sorted({n for dims in shapes.values() for n in _dim_names(dims)})
    pool = SIZE_POOLS[round_no % len(SIZE_POOLS)]
    out: dict[str, int] = {}
    i = 0
    for name in names:
        if name in base:
            out[name] = int(base[name])
        else:
            out[name] = pool[i % len(pool)]
            i += 1
    return out


def concrete_shape(dims: Sequence[Any], sizes: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(_dim_value(d, sizes) for d in dims)


# --------------------------------------------------------------------------- inputs

KINDS = ("any", "pos", "small", "wc", "wcneg", "spd", "sym", "unit")


def random_value(shape: tuple[int, ...], kind: str, rng: np.random.Generator, symmetric: bool = False):
    """Random input of the given concrete shape.

    kinds: any   standard normal
           pos   uniform in [0.5, 2]  (arguments of log, sqrt, ./, .^0.5 ...)
           small uniform in [-0.9, 0.9] (e.g. tan)
           unit  uniform in [-1, 1] scaled by 0.5 (keeps nested exp/powers tame)
           wc    square, well conditioned: randn + n*I (det > 0)
           wcneg square, well conditioned, det < 0 (first row of wc negated)
           spd   square, symmetric positive definite: R R' + n*I
           sym   square, symmetric: (R + R')/2
    Scalars are returned as Python floats, vectors as 1-D arrays.
    """
    if kind not in KINDS:
        raise ValueError(kind)
    if len(shape) == 0:
        if kind == "pos":
            return float(rng.uniform(0.5, 2.0))
        if kind == "small":
            return float(rng.uniform(-0.9, 0.9))
        if kind == "unit":
            return float(rng.uniform(-0.5, 0.5))
        if kind in ("wc", "spd"):
            return float(rng.uniform(1.0, 2.0))
        if kind == "wcneg":
            return float(-rng.uniform(1.0, 2.0))
        return float(rng.standard_normal())
    if kind == "pos":
        v = rng.uniform(0.5, 2.0, size=shape)
    elif kind == "small":
        v = rng.uniform(-0.9, 0.9, size=shape)
    elif kind == "unit":
        v = rng.uniform(-0.5, 0.5, size=shape)
    elif kind in ("wc", "wcneg", "spd", "sym"):
        if len(shape) != 2 or shape[0] != shape[1]:
            # not square: a generic Gaussian matrix is full rank and well conditioned enough
            v = rng.standard_normal(shape)
        else:
            n = shape[0]
            r = rng.standard_normal(shape)
            if kind == "wc":
                v = r + n * np.eye(n)
            elif kind == "wcneg":
                v = r + n * np.eye(n)
                v[0, :] *= -1.0
            elif kind == "spd":
                v = r @ r.T + n * np.eye(n)
            else:
                v = (r + r.T) / 2
    else:
        v = rng.standard_normal(shape)
    v = np.array(v, dtype=float)
    if symmetric:
        assert v.ndim == 2 and v.shape[0] == v.shape[1], "symmetric variable must be square"
        v = (v + v.T) / 2
    return v


# --------------------------------------------------------------------------- evaluation


def _scalar(v) -> float:
    a = np.asarray(v, dtype=float)
    assert a.size == 1, f"value of a scalar expression has shape {a.shape}"
    return float(a.reshape(()))


def _as_grad_dict(grad, wrt: Sequence[str], single: bool) -> dict[str, Any]:
    if single:
        assert not isinstance(grad, dict), "single wrt: gradient should be an array, got a dict"
        return {wrt[0]: grad}
    if isinstance(grad, dict):
        return grad
    assert len(wrt) == 1, f"several wrt {wrt}: gradient should be a dict, got {type(grad).__name__}"
    return {wrt[0]: grad}


def _directions(shape: tuple[int, ...], symmetric: bool, rng: np.random.Generator, n_random: int, full: bool):
    """Perturbation directions for one variable (list of arrays / floats)."""
    dirs = []
    if len(shape) == 0:
        return [1.0]
    size = int(np.prod(shape))
    if full:
        if symmetric:
            n = shape[0]
            for i in range(n):
                for j in range(i, n):
                    e = np.zeros(shape)
                    e[i, j] = 1.0
                    e[j, i] = 1.0
                    dirs.append(e)
        else:
            for k in range(size):
                e = np.zeros(size)
                e[k] = 1.0
                dirs.append(e.reshape(shape))
    for _ in range(n_random):
        v = rng.standard_normal(shape)
        if symmetric:
            v = (v + v.T) / 2
        dirs.append(v)
    return dirs


def _add(x, h, v):
    if isinstance(x, float) or np.ndim(x) == 0:
        return float(x) + h * float(v)
    return x + h * v


# Roundoff in a finite difference: evaluating f carries a relative error of a few
# dozen ulps, amplified by 1/h.  NOISE_ULPS * eps * max(|f|, 1) / h is allowed on
# top of the relative tolerance, so derivatives that are tiny compared with the
# value itself (e.g. a saturated tanh) do not produce false alarms.
NOISE_ULPS = 64
EPS = np.finfo(float).eps
STENCILS = (("central", 1e-6, 1.0), ("5-point", 1e-3, 1.5), ("5-point", 1e-4, 1.5), ("central", 1e-8, 1.0))
# an estimate whose roundoff noise exceeds this fraction of the derivative certifies nothing
MAX_NOISE_RATIO = 1e-3


class Inconclusive(AssertionError):
    """No finite-difference stencil resolves the derivative (noise too large)."""


def _fd_estimates(value_at: Callable[[float], float]):
    """Yield (estimate, noise) pairs: successively more robust estimates of
    d/dt value_at(t) at t=0, with the roundoff noise level of each."""
    f0 = abs(value_at(0.0))
    scale = NOISE_ULPS * EPS * max(f0, 1.0)
    for kind, h, amp in STENCILS:
        if kind == "central":
            est = (value_at(h) - value_at(-h)) / (2 * h)
        else:
            est = (-value_at(2 * h) + 8 * value_at(h) - 8 * value_at(-h) + value_at(-2 * h)) / (12 * h)
        yield est, amp * scale / h


def _converged(history, tol: float = 1e-5) -> bool:
    """True if two finite-difference estimates (at different steps / orders) agree."""
    for i in range(len(history)):
        for j in range(i + 1, len(history)):
            (a, na), (b, nb) = history[i], history[j]
            denom = max(np.linalg.norm(a), np.linalg.norm(b), FLOOR)
            gap = np.linalg.norm(a - b) - np.linalg.norm(na) - np.linalg.norm(nb)
            if gap <= tol * denom:
                return True
    return False


def _relerr(fd: np.ndarray, an: np.ndarray, noise: np.ndarray | float = 0.0) -> tuple[float, float]:
    """(relative error after discounting the finite-difference noise, relative noise level).

    The relative noise level is reported as 0 when the analytic value is itself
    below the noise (a derivative that is zero, or as good as zero, to the
    resolution of finite differences: the estimate then certifies it is ~0)."""
    denom = max(np.linalg.norm(fd), np.linalg.norm(an), FLOOR)
    nz = float(np.linalg.norm(np.broadcast_to(noise, np.shape(fd))))
    excess = max(float(np.linalg.norm(fd - an)) - nz, 0.0)
    if float(np.linalg.norm(an)) <= nz:
        return excess / denom, 0.0
    return excess / denom, nz / denom


@dataclass
class CheckReport:
    value: float
    grads: dict[str, Any]
    sizes: dict[str, int]
    errors: dict[str, float] = field(default_factory=dict)


def check_function(
    f: Callable[..., Any],
    inputs: dict[str, Any],
    wrt: Sequence[str],
    shapes: Mapping[str, tuple[int, ...]],
    symmetric: Iterable[str] = (),
    rng: np.random.Generator | None = None,
    single: bool = False,
    full: bool = True,
    n_random: int = 2,
    rtol: float = RTOL,
    require_finite: bool = True,
    context: str = "",
) -> CheckReport:
    """Check ``f(**inputs) -> (value, grad)`` against finite differences.

    ``shapes`` maps each wrt variable to its concrete shape.  Raises
    GradientMismatch (an AssertionError) on disagreement.
    """
    rng = rng or np.random.default_rng(0)
    symmetric = set(symmetric)
    value, grad = f(**inputs)
    value = _scalar(value)
    grads = _as_grad_dict(grad, list(wrt), single)
    assert set(grads) >= set(wrt), f"{context}: gradient dict keys {sorted(grads)} miss some of {list(wrt)}"
    report = CheckReport(value=value, grads=grads, sizes={})
    if require_finite:
        assert math.isfinite(value), f"{context}: value is not finite: {value}"

    for name in wrt:
        g = grads[name]
        want = tuple(shapes[name])
        assert np.shape(g) == want, f"{context}: gradient by {name} has shape {np.shape(g)}, expected {want}"
        g = np.asarray(g, dtype=float)
        if require_finite:
            assert np.all(np.isfinite(g)), f"{context}: gradient by {name} is not finite:\n{g}"
        if name in symmetric:
            assert np.allclose(g, g.T, rtol=1e-9, atol=1e-12 * max(1.0, np.abs(g).max())), (
                f"{context}: gradient by symmetric {name} is not symmetric (expected sym(G)):\n{g}"
            )

        dirs = _directions(want, name in symmetric, rng, n_random, full)
        an = np.array([float(np.sum(g * np.asarray(v))) for v in dirs])

        def value_along(v, t, name=name):
            moved = dict(inputs)
            moved[name] = _add(inputs[name], t, v)
            return _scalar(f(**moved)[0])

        best, meaningful, passed = None, False, False
        estimates = [iter(_fd_estimates(lambda t, v=v: value_along(v, t))) for v in dirs]
        history = []
        for _round in range(len(STENCILS)):
            pairs = [next(it) for it in estimates]
            fd = np.array([p[0] for p in pairs])
            history.append((fd, np.array([p[1] for p in pairs])))
            err, nratio = _relerr(fd, an, np.array([p[1] for p in pairs]))
            ok_noise = nratio < MAX_NOISE_RATIO
            meaningful = meaningful or ok_noise
            if best is None or (ok_noise, -err) > (best[2], -best[0]):
                best = (err, fd, ok_noise)
            if err < rtol and ok_noise:
                passed = True
                break
        err, fd, _ = best
        report.errors[name] = err
        if not passed and not meaningful:
            raise Inconclusive(
                f"{context}: finite differences cannot resolve the gradient by {name} "
                f"(roundoff noise exceeds {MAX_NOISE_RATIO:g} of the derivative)"
            )
        if not passed and not _converged(history):
            # no two stencils agree with each other: the function is too curved / oscillatory
            # at this point for finite differences, so the comparison proves nothing
            raise Inconclusive(
                f"{context}: finite differences do not converge for the gradient by {name} "
                f"(estimates at different steps disagree); analytic {an[:4]}..., "
                f"estimates {[h[0][:4] for h in history]}"
            )
        if not passed:
            worst = int(np.argmax(np.abs(fd - an)))
            raise GradientMismatch(
                f"{context}: gradient by {name} disagrees with finite differences: "
                f"relative error {err:.3g} (tolerance {rtol:g}).\n"
                f"  direction #{worst}: finite difference {fd[worst]!r}, analytic {an[worst]!r}\n"
                f"  analytic gradient:\n{g}\n  finite differences along basis/random directions:\n{fd}\n"
                f"  analytic along the same directions:\n{an}"
            )

    # One joint random direction across all differentiated variables.
    if len(wrt) > 1:
        joint = {n: _directions(tuple(shapes[n]), n in symmetric, rng, 1, False)[-1] for n in wrt}
        an = sum(float(np.sum(np.asarray(grads[n], dtype=float) * np.asarray(joint[n]))) for n in wrt)

        def value_joint(t):
            moved = dict(inputs)
            for n in wrt:
                moved[n] = _add(inputs[n], t, joint[n])
            return _scalar(f(**moved)[0])

        meaningful = False
        for fd, noise in _fd_estimates(value_joint):
            err, nratio = _relerr(np.array([fd]), np.array([an]), noise)
            meaningful = meaningful or nratio < MAX_NOISE_RATIO
            if err < rtol and nratio < MAX_NOISE_RATIO:
                break
        else:
            if not meaningful:
                raise Inconclusive(
                    f"{context}: joint directional derivative not resolvable by finite differences"
                )
            raise GradientMismatch(
                f"{context}: joint directional derivative mismatch: fd {fd!r}, analytic {an!r}"
            )
    return report


# --------------------------------------------------------------------------- high level


def make_inputs(
    d,
    sizes: Mapping[str, int],
    rng: np.random.Generator,
    kinds: Mapping[str, str] | None,
    symmetric: Iterable[str],
    names: Iterable[str],
):
    kinds = dict(kinds or {})
    symmetric = set(symmetric)
    inputs, cshapes = {}, {}
    for name in names:
        dims = d.shapes[name]
        shp = concrete_shape(dims, sizes)
        cshapes[name] = shp
        kind = kinds.get(name, "spd" if name in symmetric else "any")
        inputs[name] = random_value(shp, kind, rng, symmetric=name in symmetric)
    return inputs, cshapes


def check_gradient(
    expr: str,
    wrt: str | Sequence[str],
    shapes: Mapping[str, Any] | None = None,
    symmetric: Sequence[str] = (),
    sizes: Sequence[Mapping[str, int]] | None = None,
    kinds: Mapping[str, str] | None = None,
    seed: int = 0,
    full: bool = True,
    n_random: int = 2,
    rtol: float = RTOL,
):
    """Derive ``expr`` with matdiff and check the compiled gradient numerically.

    The check runs once per entry of ``sizes`` (default: two rounds with
    different, mostly non-square, sizes for the symbolic dimensions read from
    ``d.shapes``).  Returns the Derivation object.
    """
    single = isinstance(wrt, str)
    wrt_list = [wrt] if single else list(wrt)
    kw = {}
    if shapes is not None:
        kw["shapes"] = dict(shapes)
    if symmetric:
        kw["symmetric"] = list(symmetric)
    d = matdiff.derive(expr, wrt=wrt if single else wrt_list, **kw)

    # Structural expectations on the Derivation object.
    assert set(d.gradients) == set(wrt_list), f"gradients keys {sorted(d.gradients)} != wrt {wrt_list}"
    for name in wrt_list:
        assert name in d.shapes, f"{name} missing from d.shapes {d.shapes}"
    names = list(dict.fromkeys(list(d.variables) + wrt_list))

    f = d.to_numpy()
    rng = np.random.default_rng(seed)
    rounds = list(sizes) if sizes is not None else list(DEFAULT_SIZES)
    for r, base in enumerate(rounds):
        sz = assign_sizes({n: d.shapes[n] for n in names}, base, r)
        inputs, cshapes = make_inputs(d, sz, rng, kinds, symmetric, names)
        check_function(
            f,
            inputs,
            wrt_list,
            cshapes,
            symmetric=symmetric,
            rng=rng,
            single=single,
            full=full,
            n_random=n_random,
            rtol=rtol,
            context=f"{expr!r} by {wrt_list} at sizes {sz}",
        )
    return d


def compact(s: str) -> str:
    """Text without whitespace (used for length comparisons and exact forms)."""
    return "".join(str(s).split())


def top_level_terms(s: str) -> list[str]:
    """Split a compact expression text into signed top-level additive terms, sorted.

    "B*X+B'*X" -> ["+B'*X", "+B*X"].  Used to compare printed forms up to term order.
    """
    s = compact(s)
    terms, depth, cur, sign = [], 0, "", "+"
    i = 0
    while i < len(s):
        ch = s[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        # a +/- is binary at top level unless it is the first char, follows an operator,
        # or is the sign of a number exponent (1e-3)
        if depth == 0 and ch in "+-" and cur and cur[-1] not in "*/^(,+-" and not _is_exponent_sign(cur):
            terms.append(sign + cur)
            sign, cur = ch, ""
        else:
            cur += ch
        i += 1
    terms.append(sign + cur)
    norm = []
    for t in terms:
        # "+-x" -> "-x",  "--x" -> "+x"
        while len(t) > 1 and t[1] in "+-":
            t = ("+" if t[0] == t[1] else "-") + t[2:]
        norm.append(t)
    return sorted(norm)


def _is_exponent_sign(cur: str) -> bool:
    # "1e" followed by sign: part of a number literal
    if not cur or cur[-1] not in "eE":
        return False
    j = len(cur) - 1
    k = j - 1
    if k < 0 or not (cur[k].isdigit() or cur[k] == "."):
        return False
    while k >= 0 and (cur[k].isdigit() or cur[k] == "."):
        k -= 1
    return k < 0 or not (cur[k].isalpha() or cur[k] == "_")


def same_up_to_term_order(a: str, b: str) -> bool:
    return top_level_terms(a) == top_level_terms(b)


# --------------------------------------------------------------------------- printed-form comparison

_SCALAR_CALLS = ("tr(", "det(", "logdet(", "sum(", "norm2(")


def _strip_outer_parens(s: str) -> str:
    while s.startswith("(") and _match(s, 0) == len(s) - 1:
        s = s[1:-1]
    return s


def _match(s: str, i: int) -> int:
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "(":
            depth += 1
        elif s[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    return -1


def _split_factors(term: str) -> list[str]:
    """Split at top-level matrix-product '*' (not '.*')."""
    out, depth, cur = [], 0, ""
    for i, ch in enumerate(term):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "*" and depth == 0 and not (i > 0 and term[i - 1] == "."):
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def _is_scalar_factor(f: str) -> bool:
    if f.replace(".", "", 1).replace("e-", "").replace("e", "").isdigit():
        return True
    for c in _SCALAR_CALLS:
        if f.startswith(c) and _match(f, len(c) - 1) == len(f) - 1:
            return True
    return False


def canonical_form(s: str) -> list[str]:
    """Canonical form of a printed expression *up to term order and the order of
    obviously-scalar factors* (numbers, tr/det/logdet/sum/norm2 calls), which
    commute with everything.  Aliases trace->tr and eye->I are unified."""
    import re as _re

    s = compact(s)
    s = _re.sub(r"(?<![A-Za-z0-9_])trace\(", "tr(", s)
    # identity / all-ones with an explicit size, eye(n) / ones(n,m), compare as I / ones
    s = _re.sub(r"(?<![A-Za-z0-9_])eye\([A-Za-z0-9_,*]*\)", "I", s)
    s = _re.sub(r"(?<![A-Za-z0-9_])ones\([A-Za-z0-9_,*]*\)", "ones", s)
    s = _re.sub(r"(?<![A-Za-z0-9_])eye(?![A-Za-z0-9_(])", "I", s)
    s = _strip_outer_parens(s)
    out = []
    for t in top_level_terms(s):
        sign, body = t[0], _strip_outer_parens(t[1:])
        factors = [
            _strip_outer_parens(f) if not any(op in _strip_outer_parens(f) for op in "+-") else f
            for f in _split_factors(body)
        ]
        scal = sorted(f for f in factors if _is_scalar_factor(f))
        rest = [f for f in factors if not _is_scalar_factor(f)]
        if scal and scal[0] == "1" and len(scal + rest) > 1:
            scal = scal[1:]
        out.append(sign + "*".join(scal + rest))
    return sorted(out)


def same_form(a: str, b: str) -> bool:
    return canonical_form(a) == canonical_form(b)


def names_in(text: str, names) -> list[str]:
    """Those of ``names`` that occur as identifiers in ``text``."""
    import re as _re

    return [n for n in names if _re.search(rf"(?<![A-Za-z0-9_]){_re.escape(n)}(?![A-Za-z0-9_])", str(text))]


def declared_in(text: str, shapes) -> dict:
    """The declarations in ``shapes`` of names that occur in ``text`` (derive() refuses
    declarations of absent names, as a likely slip)."""
    return {n: shapes[n] for n in names_in(text, shapes)}
