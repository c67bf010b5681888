"""The numerical checker must be able to fail: deliberately wrong gradients are rejected.

The first group does not depend on matdiff at all (hand-written NumPy functions);
the second wraps matdiff's compiled functions and corrupts their gradients.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import GradientMismatch, canonical_form, check_function, same_form, top_level_terms

import matdiff

RNG = np.random.default_rng(3)
X0 = RNG.standard_normal((3, 2))
A0 = RNG.standard_normal((3, 2))
_R = RNG.standard_normal((3, 3))
S0 = _R @ _R.T + 3 * np.eye(3)
M0 = RNG.standard_normal((3, 3))


def f_good(X, A):  # f = sum(sin(X) .* A), grad by X = cos(X) .* A
    return float(np.sum(np.sin(X) * A)), np.cos(X) * A


def test_correct_gradient_passes():
    check_function(f_good, {"X": X0, "A": A0}, ["X"], {"X": (3, 2)}, single=True)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda g: g * (1 + 1e-4),  # slightly scaled
        lambda g: g + 1e-3 * np.ones_like(g),  # small offset
        lambda g: -g,  # sign error
        lambda g: np.where(np.arange(g.size).reshape(g.shape) == 0, 0.0, g),  # one entry wrong
        lambda g: np.roll(g, 1),  # entries permuted
    ],
    ids=["scaled", "offset", "sign", "one-entry", "permuted"],
)
def test_wrong_gradient_is_rejected(corrupt):
    def f_bad(X, A):
        v, g = f_good(X, A)
        return v, corrupt(g)

    with pytest.raises(GradientMismatch):
        check_function(f_bad, {"X": X0, "A": A0}, ["X"], {"X": (3, 2)}, single=True)


def test_transposed_gradient_of_square_matrix_is_rejected():
    # f = tr(M X) with square X; gradient M', a transposition bug would return M
    def f(X):
        return float(np.trace(M0 @ X)), M0

    with pytest.raises(GradientMismatch):
        check_function(f, {"X": S0}, ["X"], {"X": (3, 3)}, single=True)


def test_wrong_shape_is_rejected():
    def f(x):  # vector gradient returned as a column (n, 1) instead of (n,)
        return float(x @ x), (2 * x).reshape(-1, 1)

    with pytest.raises(AssertionError):
        check_function(f, {"x": np.ones(3)}, ["x"], {"x": (3,)}, single=True)


def test_non_finite_gradient_is_rejected():
    def f(x):
        return float(x @ x), np.full(3, np.nan)

    with pytest.raises(AssertionError):
        check_function(f, {"x": np.ones(3)}, ["x"], {"x": (3,)}, single=True)


def test_symmetric_gradient_must_be_sym_G():
    M = M0  # f(S) = tr(S M), Frobenius gradient G = M' (not symmetric)

    def f_sym(S):
        return float(np.trace(S @ M)), (M + M.T) / 2

    def f_unsym(S):  # the raw G: right directional derivatives but not sym(G)
        return float(np.trace(S @ M)), M.T

    def f_wrong(S):  # symmetric but wrong (2*sym(G) - diag, the "structured" convention)
        g = M + M.T - np.diag(np.diag(M))
        return float(np.trace(S @ M)), g

    check_function(f_sym, {"S": S0}, ["S"], {"S": (3, 3)}, symmetric=["S"], single=True)
    with pytest.raises(AssertionError):
        check_function(f_unsym, {"S": S0}, ["S"], {"S": (3, 3)}, symmetric=["S"], single=True)
    with pytest.raises(GradientMismatch):
        check_function(f_wrong, {"S": S0}, ["S"], {"S": (3, 3)}, symmetric=["S"], single=True)


def test_several_wrt_one_wrong_is_rejected():
    def f(X, A):
        return float(np.sum(X * A)), {"X": A, "A": X.T[:, :] if X.shape[0] == X.shape[1] else 2 * X}

    with pytest.raises(GradientMismatch):
        check_function(f, {"X": X0, "A": A0}, ["X", "A"], {"X": (3, 2), "A": (3, 2)})


def test_scalar_variable():
    def good(a):
        return float(np.exp(a) * np.sin(a)), float(np.exp(a) * (np.sin(a) + np.cos(a)))

    def bad(a):
        return float(np.exp(a) * np.sin(a)), float(np.exp(a) * np.cos(a))

    check_function(good, {"a": 0.7}, ["a"], {"a": ()}, single=True)
    with pytest.raises(GradientMismatch):
        check_function(bad, {"a": 0.7}, ["a"], {"a": ()}, single=True)


# ------------------------------------------------------------------- with matdiff's compiled functions


@pytest.mark.parametrize(
    "expr,wrt,shapes,corrupt",
    [
        ("tr(A*X*B)", "X", {"A": "k,n", "X": "n,m", "B": "m,k"}, lambda g: g * 1.001),
        ("tr(X^2)", "X", {"X": "n,n"}, lambda g: g.T),
        ("x'*A*x", "x", {"x": "n", "A": "n,n"}, lambda g: g[::-1].copy()),
        ("logdet(X)", "X", {"X": "n,n"}, lambda g: np.abs(g)),
    ],
)
def test_corrupted_matdiff_gradient_is_rejected(expr, wrt, shapes, corrupt):
    d = matdiff.derive(expr, wrt=wrt, shapes=shapes)
    f = d.to_numpy()

    def bad(**kw):
        v, g = f(**kw)
        return v, corrupt(np.asarray(g, dtype=float))

    rng = np.random.default_rng(11)
    sizes = {"n": 3, "m": 2, "k": 4}
    inputs = {}
    for name in d.variables:
        shp = tuple(sizes[s] if isinstance(s, str) else s for s in d.shapes[name])
        inputs[name] = rng.standard_normal(shp)
        if expr.startswith("logdet"):
            inputs[name] = rng.standard_normal(shp) + 3 * np.eye(3)
            inputs[name][0] *= -1  # det < 0: |.| of the gradient is then wrong
    wshape = tuple(sizes[s] if isinstance(s, str) else s for s in d.shapes[wrt])
    check_function(f, inputs, [wrt], {wrt: wshape}, single=True)  # sanity: the real one passes
    with pytest.raises(GradientMismatch):
        check_function(bad, inputs, [wrt], {wrt: wshape}, single=True)


# ----------------------------------------------------------------------------- printed-form helpers


def test_form_helpers():
    assert top_level_terms("B*X + B'*X") == top_level_terms("B'*X+B*X")
    assert top_level_terms("1e-3*x - 2") == ["+1e-3*x", "-2"]
    assert same_form("2*I*tr(E)", "2*tr(E)*I")
    assert same_form("tr(A)*I", "I*trace(A)")
    assert same_form("tr(A)*eye(m)", "tr(A)*I")
    assert same_form("2*ones(n, m)", "2*ones")
    assert not same_form("A'*B'", "B'*A'")
    assert not same_form("B*X + B'*X", "B*X - B'*X")
    assert canonical_form("(A + A')*x") != canonical_form("A*x + A'*x")  # no distribution
