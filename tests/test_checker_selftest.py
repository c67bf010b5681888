"""The numerical checker must be able to fail: deliberately wrong gradients are rejected.

The first group does not depend on matdiff at all (hand-written NumPy functions);
the second wraps matdiff's compiled functions and corrupts their gradients.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import (
    GradientMismatch,
    canonical_form,
    check_function,
    declared_in,
    same_form,
    top_level_terms,
)

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


# ------------------------------------------------------------- matdiff.check keeps its teeth
# The checker no longer calls right derivatives wrong where finite differences struggle
# (adaptive step, error estimates, INCONCLUSIVE); these tests make sure it still calls
# wrong ones wrong, also by small amounts and at exactly those points.

from matdiff.check import checker as C  # noqa: E402
from matdiff.core import expr as E  # noqa: E402

_XCX = {"X": "n,m", "C": "n,n", "A": "m,m", "B": "n,n"}
_SABOTAGE = {
    "scaled 1e-4": lambda g: E.mul(E.const(1.0001), g),
    "sign": E.neg,
    "transposed": lambda g: E.transpose(g) if g.rows == g.cols else E.neg(g),
    "one term": lambda g: g.args[0] if g.op == "add" else E.mul(E.const(2), g),
}


_DERIVED: dict = {}


@pytest.mark.parametrize("how,seed", [("scaled 1e-4", s) for s in range(2, 8)]
                         + [(h, s) for h in _SABOTAGE if h != "scaled 1e-4" for s in (2, 5)])
@pytest.mark.parametrize("text", ["tr(inv(X'*C*X)*A)", "tr(inv(X'*C*X)*(X'*B*X))", "logdet(X'*C*X)"])
def test_sabotaged_gradient_fails_where_fixed_steps_struggled(text, how, seed):
    if text not in _DERIVED:
        _DERIVED[text] = matdiff.derive(text, wrt="X", shapes=declared_in(text, _XCX))
    d = _DERIVED[text]
    right = d._gradients
    d._gradients = {"X": _SABOTAGE[how](right["X"])}
    try:
        res = d.check(seed=seed)
    finally:
        d._gradients = right
    assert res.verdict == "FAILED" and not res.ok, str(res)


@pytest.mark.parametrize("seed", range(3))
def test_sabotaged_claims_of_every_kind_are_wrong(seed):
    # each kind of claim, off by a relative 1e-4: still WRONG
    cases = [
        ("tr(inv(X'*C*X)*A)", _XCX, (), "1.0001*(-C*X*inv(X'*C*X)*A*inv(X'*C*X) - C'*X*inv(X'*C*X)'*A'*inv(X'*C*X)')"),
        ("inv(X)", {"X": "n,n"}, (), "-1.0001*kron(inv(X)', inv(X))"),
        ("inv(X)", {"X": "n,n"}, (), "dF = -1.0001*inv(X)*dX*inv(X)"),
        ("x'*A*x", {"x": "n", "A": "n,n"}, ("hessian",), "1.0001*(A + A')"),
        ("logdet(X)", {"X": "n,n"}, ("hessian",), "H[V] = -1.0001*inv(X)'*V'*inv(X)'"),
    ]
    for text, shapes, flags, claim in cases:
        d = matdiff.derive(text, wrt=[n for n in ("X", "x") if n in shapes][0], shapes=declared_in(text, shapes))
        res = d.check(seed=seed, claim=claim, hessian="hessian" in flags)
        assert res.claim_verdict == "WRONG" and not res.ok, str(res)
        assert "factor of 1.0001" in str(res), str(res)


def test_fd_estimate_bounds_its_error():
    # Ridders' extrapolation on functions with known derivatives: accurate, and the
    # error estimate is not smaller than the error actually made
    for f, df in ((lambda t: np.array([np.exp(3 * t) * np.sin(5 * t + 1)]),
                   3 * np.sin(1) + 5 * np.cos(1)),
                  (lambda t: np.array([1 / (1e-3 + (0.5 + t) ** 2)]), -2 * 0.5 / (1e-3 + 0.25) ** 2),
                  (lambda t: np.array([np.log(2 + t), (1 + t) ** 7]), np.array([0.5, 7.0]))):
        num, est, rounding = C._fd(f, 1.0)
        err = np.linalg.norm(num - df)
        assert err <= max(est, 1e-15 * np.linalg.norm(df)), (err, est)
        assert err <= 1e-8 * np.linalg.norm(df)
        assert 0 < rounding <= est


def test_roundoff_estimate_sees_noise():
    noise_rng = np.random.default_rng(0)

    def noisy(t):  # a smooth function plus noise of relative size 1e-9
        return np.array([np.cos(t) * (1 + 1e-9 * noise_rng.standard_normal())])

    sigma = C._noise(noisy, 1.0)
    assert 1e-10 < sigma < 1e-8
    num, est, rounding = C._fd(noisy, 1.0)
    assert abs(num[0]) <= max(est, 1e-12) and rounding > 1e-9  # d/dt cos(t) = 0 at 0


def test_rank_bounds_and_sizes():
    from matdiff.lang.parsing import parse

    sizes = {"m": 4, "n": 3}
    for text, rank in (("A*A'", 3), ("A'*A", 3), ("A*diag(x)*A'", 3), ("x*x'", 1), ("A*A' + x*x'", 4),
                       ("kron(A*A', B)", 6), ("(x*x') .^ 2", 1), ("A*A' .* (A*A')", 4)):
        e = parse(text, {"A": "m,n", "x": "m" if text.startswith(("x", "A*A' +", "(x")) else "n", "B": "2,2"})
        assert C._rank_bounds(e, sizes, {}) == rank, text
    d = matdiff.derive("logdet(A*A') + tr(inv(X'*X))", wrt="A", shapes={"A": "m,n", "X": "p,q"})
    for given in (None, {"n": 3}, {"m": 5}):
        got = C._choose_sizes(d._shapes, given, [d.expr, d.gradient])
        assert got["m"] <= got["n"] and got["q"] <= got["p"], got
        assert all(got[k] == v for k, v in (given or {}).items())
