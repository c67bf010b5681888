"""One random expression, checked against the independent syntax-tree evaluator.

:func:`check_case` derives a random expression text (tests/exprgen.py) with matdiff and
checks, at random inputs,

* the *value* of matdiff's compiled expression against :mod:`reference` (NumPy on the
  parse tree: no matdiff constructor, simplifier or code generator involved);
* the gradient (scalar expressions) or the Jacobian (vector/matrix-valued ones) against
  finite differences of the *reference* value, with the multi-stencil checker of
  tests/gradcheck.py. A Jacobian J is checked through a random projection: for a random
  W, ``<W, F(X)>`` has the gradient ``unvec(J' vec(W))``, which is checked along every
  basis direction of X (so every column of J is tested, with probability 1).

So a law applied outside its preconditions (value wrong, derivative consistent with the
wrong value) fails here, where a check against matdiff's own value would pass. It is
shared by the Hypothesis tests (tests/test_hypothesis.py) and the soak (tests/soak.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from exprgen import KINDS, shapes_for, variables_in
from gradcheck import (
    GradientMismatch,
    Inconclusive,
    check_function,
    concrete_shape,
    declared_in,
    names_in,
    random_value,
)
from reference import reference_function

import matdiff

MAX_ABS = 1e6  # values beyond this (nested exp, powers) are skipped, not compared
MAX_DERIV = 1e8
VALUE_RTOL = 1e-8
ATTEMPTS = 3  # a mismatch counts when it shows at this many random points in a row


class ValueMismatch(AssertionError):
    """matdiff's value differs from the syntax-tree evaluation of the input."""


class Skip(Exception):
    """The case cannot be checked here (value not finite or huge, finite differences
    inconclusive); the reason is the message."""


def _finite(a, bound) -> bool:
    a = np.asarray(a, dtype=float)
    return bool(np.all(np.isfinite(a)) and np.all(np.abs(a) < bound))


def values_close(got, want: np.ndarray, rtol: float = VALUE_RTOL) -> bool:
    """Entrywise |got - want| <= rtol * max(1, max |want|), shapes agreeing up to vector form."""
    got = np.asarray(got, dtype=float)
    if got.size != want.size:
        return False
    got = got.reshape(want.shape)
    scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
    return bool(np.all(np.abs(got - want) <= rtol * scale))


def ill_conditioned(ref, inputs: Mapping, want: np.ndarray, rng, delta: float = 1e-9,
                    kappa: float = 1e6) -> bool:
    """True when relative input changes of ``delta`` move the reference value by more than
    ``kappa * delta`` relative to max |value|: an intermediate like exp(30) under a sin,
    where two correct evaluation orders (or finite differences) differ by far more than any
    tolerance. A law applied out of its preconditions is not that sensitive."""
    scale = max(float(np.max(np.abs(want))), 1e-6)
    for _ in range(2):
        moved = {}
        for name, v in inputs.items():
            r = rng.standard_normal(np.shape(v))
            if np.ndim(v) == 2 and v.shape[0] == v.shape[1] and np.allclose(v, v.T):
                r = (r + r.T) / 2
            moved[name] = v * (1 + delta * r) if np.ndim(v) else float(v) * (1 + delta * float(r))
        with np.errstate(all="ignore"):
            w = ref(moved)
        if not np.all(np.isfinite(w)) or float(np.max(np.abs(w - want))) > kappa * delta * scale:
            return True
    return False


def _project(J, W: np.ndarray, shape: tuple, symmetric: bool):
    """unvec(J' vec(W)) in the variable's shape: the gradient of <W, F> (column-major vec)."""
    g = np.asarray(J, dtype=float).T @ W.reshape(-1, order="F")
    if len(shape) == 0:
        return float(g.reshape(()))
    if len(shape) == 1:
        return g.reshape(shape)
    g = g.reshape(shape, order="F")
    return (g + g.T) / 2 if symmetric else g


def check_case(text: str, with_sym: bool, wrt: Sequence[str], sizes: Mapping[str, int], seed: int,
               attempts: int = ATTEMPTS) -> str:
    """Check value and derivative of ``text`` by ``wrt`` at sizes ``sizes``; returns
    "gradient" or "jacobian" (what was checked).

    Raises :class:`ValueMismatch` or ``GradientMismatch`` when the mismatch shows at
    ``attempts`` random points in a row, :class:`Skip` when the case cannot be checked.
    """
    shapes = declared_in(text, shapes_for(with_sym))
    symmetric = names_in(text, ["S"])
    wrt = list(wrt)
    single = len(wrt) == 1
    d = matdiff.derive(text, wrt=wrt[0] if single else wrt, shapes=shapes, symmetric=symmetric)
    assert sorted(d.variables) == variables_in(text), f"d.variables {d.variables} != names in {text!r}"
    f = d.to_numpy()
    ref = reference_function(text, shapes, symmetric, sizes)
    scalar = d.expr.is_scalar
    what = "gradient" if scalar else "jacobian"
    context = f"{text!r} by {wrt} at {dict(sizes)} ({what})"
    for attempt in range(attempts):
        rng = np.random.default_rng(seed + 1000 * attempt)
        inputs, cshapes = {}, {}
        for name in d.variables:
            shp = concrete_shape(d.shapes[name], sizes)
            cshapes[name] = shp
            inputs[name] = random_value(shp, KINDS.get(name, "any"), rng, symmetric=name in symmetric)
        with np.errstate(all="ignore"):
            value, deriv = f(**inputs)
            want = ref(inputs)
        derivs = {wrt[0]: deriv} if single else deriv
        if not (_finite(want, MAX_ABS) and _finite(value, math.inf)
                and all(_finite(derivs[w], MAX_DERIV) for w in wrt)):
            raise Skip("value or derivative not finite / huge")
        if ill_conditioned(ref, inputs, want, np.random.default_rng(seed + 1)):
            raise Skip("value ill-conditioned at the random point")
        try:
            if not values_close(value, want):
                raise ValueMismatch(f"{context}: value {np.asarray(value).ravel()[:6]} but the syntax tree "
                                    f"gives {want.ravel()[:6]}")
            if scalar:
                grads = derivs
                weight = lambda v: float(np.asarray(v).reshape(()))  # noqa: E731
            else:
                W = rng.standard_normal(want.shape)
                grads = {w: _project(derivs[w], W, cshapes[w], w in symmetric) for w in wrt}
                weight = lambda v, W=W: float(np.sum(W * v))  # noqa: E731

            def f_ref(weight=weight, grads=grads, **kw):
                with np.errstate(all="ignore"):
                    v = weight(ref(kw))
                return v, (grads[wrt[0]] if single else grads)

            check_function(f_ref, inputs, wrt, cshapes, symmetric=symmetric, rng=rng, single=single,
                           context=context)
            return what
        except Inconclusive as e:
            raise Skip("finite differences inconclusive") from e
        except (ValueMismatch, GradientMismatch):
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
