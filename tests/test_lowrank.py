"""Residuals of low-rank products through Gram matrices (backends/lowrank.py, issue 14).

``norm2(X - U*V')^2`` and its gradients are computed by the NumPy helper ``_lowrank``
without forming X - U*V' when k is small; it falls back on the direct formula when the
expansion would cancel (a close fit) or would not be cheaper. Each spelling is checked here
against NumPy's direct formula, written out by hand (independent of matdiff), on sizes that
take the expanded path and on sizes that take the direct one, plus a finite difference of the
generated value along a random direction; the helper's choice of path is checked directly.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import reference_function

import matdiff

SHAPES = {"U": "m,k", "X": "m,n", "V": "n,k", "Y": "m,n", "a": "1"}


def _shapes(expr):
    names = set(re.findall(r"[A-Za-z_]\w*", expr))
    return {k: v for k, v in SHAPES.items() if k in names}


def _data(m, n, k, seed=0, fit=None):
    rng = np.random.default_rng(seed)
    U, V = rng.standard_normal((m, k)), rng.standard_normal((n, k))
    if fit is None:
        X = rng.standard_normal((m, n))
    else:  # X = U*V' + fit * noise: the residual is small against X
        X = U @ V.T + fit * rng.standard_normal((m, n))
    return {"U": U, "V": V, "X": X, "Y": rng.standard_normal((m, n)), "a": np.float64(0.7)}


# (expression, R and the scale s of f = s*||R||^2 as NumPy computes them by hand)
SPELLINGS = [
    ("norm2(X - U*V')^2", lambda d: d["X"] - d["U"] @ d["V"].T, 1.0),
    ("norm2(U*V' - X)^2", lambda d: d["U"] @ d["V"].T - d["X"], 1.0),
    ("tr((X - U*V')'*(X - U*V'))", lambda d: d["X"] - d["U"] @ d["V"].T, 1.0),
    ("tr((X - U*V')*(X - U*V')')", lambda d: d["X"] - d["U"] @ d["V"].T, 1.0),
    ("sum((U*V' - X).^2)", lambda d: d["U"] @ d["V"].T - d["X"], 1.0),
    ("3*norm2(X + Y - 2*U*V')^2", lambda d: d["X"] + d["Y"] - 2 * d["U"] @ d["V"].T, 3.0),
    ("norm2(X - a*U*V')^2 / 2", lambda d: d["X"] - d["a"] * d["U"] @ d["V"].T, 0.5),
]


def _reference(R_of, s, d):
    """f = s*||R||^2 and its gradients by U and V, by the chain rule by hand: with
    R = X + c*U*V' (c = dR/d(UV'), read off numerically as -1, 1, -2 or -a),
    df/dU = 2s*c*R*V and df/dV = 2s*c*R'*U."""
    R = R_of(d)
    zero = {**d, "U": np.zeros_like(d["U"])}
    c = np.vdot(R - R_of(zero), d["U"] @ d["V"].T) / np.vdot(d["U"] @ d["V"].T, d["U"] @ d["V"].T)
    return s * np.vdot(R, R), {"U": 2 * s * c * R @ d["V"], "V": 2 * s * c * R.T @ d["U"]}


def _generated(expr):
    d = matdiff.derive(expr, wrt=["U", "V"], shapes=_shapes(expr))
    return d.to_numpy()


def _call(f, d, expr):
    return f(**{k: v for k, v in d.items() if k in _shapes(expr)})


@pytest.mark.parametrize("expr,R_of,s", SPELLINGS, ids=[e for e, _, _ in SPELLINGS])
@pytest.mark.parametrize("size", [(300, 260, 4), (260, 300, 7), (20, 15, 3), (300, 260, 120)],
                         ids=["expanded", "expanded-wide", "small-direct", "large-k-direct"])
def test_spellings_match_the_direct_formula(expr, R_of, s, size):
    f = _generated(expr)
    assert "_lowrank(" in f.source, "the residual should go through the Gram helper"
    d = _data(*size)
    value, grads = _call(f, d, expr)
    ref_value, ref_grads = _reference(R_of, s, d)
    assert value == pytest.approx(ref_value, rel=1e-11)
    for v in ("U", "V"):
        np.testing.assert_allclose(grads[v], ref_grads[v], rtol=1e-9,
                                   atol=1e-11 * np.abs(ref_grads[v]).max())
    # and the generated value's own finite difference along a random direction
    rng = np.random.default_rng(1)
    for v in ("U", "V"):
        D = rng.standard_normal(d[v].shape)
        h = 1e-6 * np.linalg.norm(d[v]) / np.linalg.norm(D)
        up = _call(f, {**d, v: d[v] + h * D}, expr)[0]
        down = _call(f, {**d, v: d[v] - h * D}, expr)[0]
        fd, an = (up - down) / (2 * h), np.vdot(grads[v], D)
        assert fd == pytest.approx(an, rel=1e-5)


@pytest.mark.parametrize("wrt", ["U", "V"])
def test_single_gradients_use_one_product(wrt):
    d = matdiff.derive("norm2(X - U*V')^2", wrt=wrt, shapes=_shapes("X U V"))
    src = d.to_numpy().source
    want = ("True, False" if wrt == "U" else "False, True")
    assert f"_lowrank(X, U, V.T, -1.0, {want})" in src


def _helper():
    namespace: dict = {}
    exec(_generated("norm2(X - U*V')^2").source, namespace)  # noqa: S102 - matdiff's own output
    return namespace["_lowrank"]


def _direct(X, P, Q, c):
    R = X + c * (P @ Q)
    return np.vdot(R, R), R @ Q.T, P.T @ R


def test_close_fit_takes_the_direct_path():
    """X = U*V' + 1e-6*noise: the expansion would lose about 12 digits of ||R||^2; the
    helper's result is then the direct formula's, bit for bit."""
    lowrank = _helper()
    d = _data(300, 260, 4, fit=1e-6)
    got = lowrank(d["X"], d["U"], d["V"].T, -1.0, True, True)
    want = _direct(d["X"], d["U"], d["V"].T, -1.0)
    assert got[0] == want[0]
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_array_equal(g, w)


def test_loose_fit_takes_the_expanded_path_and_stays_accurate():
    lowrank = _helper()
    d = _data(300, 260, 4)
    got = lowrank(d["X"], d["U"], d["V"].T, -1.0, True, True)
    want = _direct(d["X"], d["U"], d["V"].T, -1.0)
    assert got[0] != want[0] or not np.array_equal(got[1], want[1])  # not the direct path
    assert got[0] == pytest.approx(want[0], rel=1e-12)
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12 * np.abs(w).max())


@pytest.mark.parametrize("fit", [None, 1.0, 1e-1, 1e-3, 1e-5, 1e-8, 0.0])
def test_value_accuracy_at_every_fit(fit):
    """Whatever path is taken, the value is as accurate as the direct sum of squares (to a
    few units in the last place relative to ||R||^2), the gradients to 1e-9 of their size."""
    lowrank = _helper()
    d = _data(300, 260, 4, seed=3, fit=fit)
    got = lowrank(d["X"], d["U"], d["V"].T, -1.0, True, True)
    R = d["X"] - d["U"] @ d["V"].T
    # the exact value, up to the rounding of R itself: sum of squares in extended precision
    exact = float(np.sum(np.square(R.astype(np.longdouble))))
    if exact == 0.0:
        assert got[0] == 0.0
    else:
        assert got[0] == pytest.approx(exact, rel=1e-12)
    np.testing.assert_allclose(got[1], R @ d["V"], rtol=1e-9, atol=1e-9 * max(np.abs(R @ d["V"]).max(), 1e-300))


def test_nan_input_propagates():
    lowrank = _helper()
    d = _data(300, 260, 4)
    d["X"][3, 5] = np.nan
    value, RQt, PtR = lowrank(d["X"], d["U"], d["V"].T, -1.0, True, True)
    assert np.isnan(value) and np.isnan(RQt).any() and np.isnan(PtR).any()


@pytest.mark.parametrize("expr", [
    "norm2(X - U*V')^2 + sum(sum(X - U*V'))",  # R itself is summed: it must be formed
    "norm2(X - U*V')",  # the norm, not its square
    "tr((X - U*V')*Y')",  # a product with something other than U or V
])
def test_other_uses_of_the_residual_form_it(expr):
    shapes = _shapes(expr)
    f = matdiff.derive(expr, wrt="U", shapes=shapes).to_numpy()
    assert "_lowrank(" not in f.source
    d = _data(300, 260, 4)
    value, grad = f(**{k: v for k, v in d.items() if k in shapes})
    R = d["X"] - d["U"] @ d["V"].T
    ref = {"norm2(X - U*V')^2 + sum(sum(X - U*V'))": np.vdot(R, R) + R.sum(),
           "norm2(X - U*V')": np.linalg.norm(R),
           "tr((X - U*V')*Y')": np.vdot(R, d["Y"])}[expr]
    assert value == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("target", ["jax", "torch"])
def test_other_back_ends_keep_the_written_form(target):
    d = matdiff.derive("norm2(X - U*V')^2", wrt="U", shapes=_shapes("X U V"))
    assert "_lowrank" not in d.numpy_source("f", target=target)


# ---------------------------------------------------------------------------------------------
# Random residual forms against the syntax-tree evaluator (tests/reference.py), which reads
# the typed text with NumPy and trusts none of matdiff's constructors or code generator: the
# value directly, the gradient through its central differences along random directions.
# The sizes (300 x 230, k = 3) take the helper's expanded path wherever the form matches.

RANDOM_SHAPES = {"X": "m,n", "Y": "m,n", "U": "m,k", "V": "n,k", "A": "k,m", "B": "k,n", "a": "1"}
RANDOM_SIZES = {"m": 300, "n": 230, "k": 3}
PRODUCTS = ["U*V'", "A'*V'", "U*B", "A'*B"]


@st.composite
def residual_forms(draw):
    xterm = draw(st.sampled_from(["X", "X + Y", "2*X - Y", "exp(X/4)", "X .* Y"]))
    coef = draw(st.sampled_from(["", "2*", "a*", "0.5*"]))
    prod = draw(st.sampled_from(PRODUCTS))
    R = draw(st.sampled_from([f"{xterm} - {coef}{prod}", f"{xterm} + {coef}{prod}",
                              f"{coef}{prod} - ({xterm})"]))
    value = draw(st.sampled_from([f"norm2({R})^2", f"tr(({R})'*({R}))", f"tr(({R})*({R})')",
                                  f"sum(({R}).^2)"]))
    scale = draw(st.sampled_from(["", "3*", "0.5*"]))
    extra = draw(st.sampled_from(["", " + norm2(U)^2", " + sum(X)", f" + sum(sum({R}))"]))
    text = f"{scale}{value}{extra}"
    wrt = draw(st.sampled_from(sorted(set(re.findall(r"[A-Z]", prod)))))
    return text, wrt


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(residual_forms())
def test_random_residual_forms_against_the_syntax_tree_evaluator(form):
    text, wrt = form
    names = set(re.findall(r"[A-Za-z_]\w*", text))
    shapes = {k: v for k, v in RANDOM_SHAPES.items() if k in names}
    f = matdiff.derive(text, wrt=wrt, shapes=shapes).to_numpy()
    rng = np.random.default_rng(abs(hash(text)) % 2**32)
    values = {k: (np.float64(0.7) if k == "a" else
                  rng.standard_normal(tuple(RANDOM_SIZES[d] for d in s.split(","))))
              for k, s in shapes.items()}
    value, grad = f(**values)
    ref = reference_function(text, shapes, (), RANDOM_SIZES)

    def at(vals):
        return float(np.asarray(ref(vals)).reshape(()))

    assert value == pytest.approx(at(values), rel=1e-10)
    for _ in range(2):
        D = rng.standard_normal(values[wrt].shape)
        h = 1e-5 * np.linalg.norm(values[wrt]) / np.linalg.norm(D)
        fd = (at({**values, wrt: values[wrt] + h * D}) - at({**values, wrt: values[wrt] - h * D})) / (2 * h)
        assert np.vdot(grad, D) == pytest.approx(fd, rel=1e-6, abs=1e-9 * abs(value))
