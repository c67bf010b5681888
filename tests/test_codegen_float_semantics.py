"""Generated code computes what NumPy computes, on any float input.

* Scalar arithmetic in generated code is NumPy arithmetic: a negative base to a
  fractional power, log or sqrt of a negative number, division by zero give nan / inf with
  NumPy's RuntimeWarning, never a Python complex, a TypeError or a ZeroDivisionError.
* Log-sum-exp and softmax forms are evaluated with the max-shift, so logits of 1000 or
  -1000 give finite, correct values, gradients, Hessian-vector products and Hessians
  (checked against a stable reference computed here).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gradcheck import check_gradient, declared_in

import matdiff

S = {"a": "", "b": "", "x": "n", "y": "n"}


def run(f, **inputs):
    """f(**inputs) with warnings recorded: (result, [RuntimeWarning messages])."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = f(**inputs)
    return out, [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


def reference(fn, **inputs):
    """A NumPy reference evaluated on float64 scalars / arrays, with its warnings."""
    return run(fn, **{k: np.float64(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float)
                      for k, v in inputs.items()})


# ---------------------------------------------------------------------------- part 1: float semantics

# text, wrt, value(a, b, x, y), gradient by wrt (NumPy, the chain rule written out)
FAMILY = [
    ("a^b", "b", lambda a, b, x, y: a ** b, lambda a, b, x, y: a ** b * np.log(a)),
    ("a^b", "a", lambda a, b, x, y: a ** b, lambda a, b, x, y: b * a ** (b - 1)),
    ("a^0.3", "a", lambda a, b, x, y: a ** 0.3, lambda a, b, x, y: 0.3 * a ** -0.7),
    ("a^(1/3)", "a", lambda a, b, x, y: a ** (1 / 3), lambda a, b, x, y: a ** (-2 / 3) / 3),
    ("a^(-2)", "a", lambda a, b, x, y: a ** -2.0, lambda a, b, x, y: -2 * a ** -3.0),
    ("1/a", "a", lambda a, b, x, y: 1 / a, lambda a, b, x, y: -1 / a ** 2),
    ("b/a", "a", lambda a, b, x, y: b / a, lambda a, b, x, y: -b / a ** 2),
    ("log(a)*b", "a", lambda a, b, x, y: np.log(a) * b, lambda a, b, x, y: b / a),
    ("sqrt(a)", "a", lambda a, b, x, y: np.sqrt(a), lambda a, b, x, y: 0.5 / np.sqrt(a)),
    ("sqrt(a*b)", "b", lambda a, b, x, y: np.sqrt(a * b), lambda a, b, x, y: a / (2 * np.sqrt(a * b))),
    ("(x'*y)^0.5", "x", lambda a, b, x, y: (x @ y) ** 0.5, lambda a, b, x, y: 0.5 * (x @ y) ** -0.5 * y),
    ("(x'*y)^b", "b", lambda a, b, x, y: (x @ y) ** b, lambda a, b, x, y: (x @ y) ** b * np.log(x @ y)),
    ("norm2(x)^(-1)", "x", lambda a, b, x, y: 1 / np.sqrt(x @ x), lambda a, b, x, y: -x / np.sqrt(x @ x) ** 3),
    ("sum(x.^b)", "b", lambda a, b, x, y: np.sum(x ** b), lambda a, b, x, y: np.sum(x ** b * np.log(x))),
    ("sum(log(x))*a", "x", lambda a, b, x, y: np.sum(np.log(x)) * a, lambda a, b, x, y: a / x),
    ("(-8)^(1/3)*a", "a", lambda a, b, x, y: np.float64(-8.0) ** (1 / 3) * a,
     lambda a, b, x, y: np.float64(-8.0) ** (1 / 3) + 0 * a),
    ("0^(-1)*a", "a", lambda a, b, x, y: np.float64(0.0) ** -1 * a, lambda a, b, x, y: np.float64(0.0) ** -1 + 0 * a),
]


def _same(got, want):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape
    return np.allclose(got, want, rtol=1e-12, atol=0, equal_nan=True)


@pytest.mark.parametrize("text, wrt, value, grad", FAMILY, ids=[f"{t} by {w}" for t, w, _, _ in FAMILY])
def test_scalar_arithmetic_is_numpy_arithmetic(text, wrt, value, grad):
    """Random negative, zero and positive inputs (vectors of sizes 1 and 4): the generated
    value and gradient equal NumPy's, nan and inf included, and where NumPy warns the
    generated code warns; it never raises."""
    d = matdiff.derive(text, wrt=wrt, shapes={**declared_in(text, S), wrt: S[wrt]})
    f = d.to_numpy()
    rng = np.random.default_rng(7)
    pool = np.array([-2.5, -1.0, -0.0, 0.0, 0.3, 1.0, 4.0])
    for trial in range(40):
        n = 1 if trial % 2 else 4
        vals = {"a": rng.choice(pool), "b": rng.choice(pool) * rng.uniform(0.5, 1.5),
                "x": rng.choice(pool, n), "y": rng.choice(pool, n)}
        inputs = {k: v for k, v in vals.items() if k in d.variables}
        (v, g), warned = run(f, **inputs)
        (rv, rg), ref_warned = reference(lambda **kw: (value(**kw), grad(**kw)),
                                         **{k: vals[k] for k in "abxy"})
        assert _same(v, rv), (text, vals, v, rv)
        assert _same(g, rg), (text, vals, g, rg)
        if not np.all(np.isfinite(np.r_[rv, np.ravel(rg)])):
            assert warned or not ref_warned, (text, vals, "NumPy warns, the generated code does not")


def test_negative_base_to_a_fractional_power_is_nan_with_a_warning():
    """The issue's example: NumPy's answer, not TypeError (Python's float ** float is complex)."""
    f = matdiff.derive("a^b", wrt="b", shapes={"a": "", "b": ""}).to_numpy()
    with pytest.warns(RuntimeWarning):
        v, g = f(a=-1.5, b=0.3)
    assert np.isnan(v) and np.isnan(g)
    v, g = f(a=2.0, b=0.5)
    assert v == pytest.approx(2 ** 0.5) and g == pytest.approx(2 ** 0.5 * np.log(2))


@pytest.mark.parametrize("mode", ["value", "hvp", "hessian", "jvp", "vjp"])
def test_every_generated_function_uses_numpy_scalars(mode):
    """Value-only, HVP, Hessian, JVP and VJP functions: a zero or negative scalar input gives
    inf / nan with a warning, never an exception."""
    d = matdiff.derive("b*a^(-1) + a^b", wrt="a", shapes={"a": "", "b": ""})
    if mode == "value":
        f, args = d.value_numpy(), {}
    elif mode == "hvp":
        f, args = d.to_numpy(hvp=True), {"V": 1.0}
    elif mode == "vjp":
        f = d.to_numpy(vjp=True)
        args = {"C": 1.0}
    else:
        f, args = d.to_numpy(**{mode: True}), ({"da": 1.0} if mode == "jvp" else {})
    for a in (0.0, -1.5):
        out, warned = run(lambda **kw: f(**kw, **args), a=a, b=0.3)
        flat = np.concatenate([np.ravel(o) for o in (out if isinstance(out, tuple) else (out,))])
        assert not np.all(np.isfinite(flat)) and warned, (mode, a, out)


def test_generated_source_has_no_python_float_arithmetic():
    """Scalar inputs become np.float64; float literals that are powered or divided by are."""
    src = matdiff.derive("a^b + (-8)^(1/3)*b + 2/(0^2*b + a)", wrt="a", shapes={"a": "", "b": ""}).numpy_source()
    assert ".item()" in src and "np.float64(a.item())" in src and "np.float64(b.item())" in src
    assert "import math" not in src
    f = matdiff.derive("(-8)^(1/3)*b", wrt="b", shapes={"b": ""}).to_numpy()
    (v, g), warned = run(f, b=1.0)
    assert np.isnan(v) and np.isnan(g) and warned


# ---------------------------------------------------------------------------- part 2: log-sum-exp, softmax


def lse(z, w=None):
    """A stable log(sum(w .* exp(z))) for w >= 0 (the reference)."""
    z = np.ravel(z).astype(float)
    if w is not None:
        w = np.ravel(w)
        z = np.where(w > 0, z + np.log(np.where(w > 0, w, 1.0)), -np.inf)
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m)))


def softmax(z):
    t = np.exp(z - np.max(z))
    return t / np.sum(t)


def logits(rng, n, level, spread):
    """n logits around ``level``, the first ``spread`` above the rest."""
    z = rng.standard_normal(n) + level
    z[0] += spread
    return z


LEVELS = [(0.0, 0.0), (100.0, 0.0), (1000.0, 0.0), (-1000.0, 0.0), (1000.0, 800.0), (-1000.0, 50.0)]


@pytest.mark.parametrize("text", ["log(sum(exp(u)))", "log(ones(n)'*exp(u))", "log(exp(u)'*ones(n))",
                                  "log(2*sum(exp(u)))"])
@pytest.mark.parametrize("level, spread", LEVELS)
@pytest.mark.parametrize("n", [1, 3, 6])
def test_log_sum_exp_value_gradient_hvp_hessian_are_stable(text, level, spread, n):
    d = matdiff.derive(text, wrt="u", shapes={"u": "n"})
    rng = np.random.default_rng(n)
    u = logits(rng, n, level, spread)
    V = rng.standard_normal(n)
    p = softmax(u)
    H = np.diag(p) - np.outer(p, p)
    extra = np.log(2.0) if text.startswith("log(2*") else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no invalid value
        v, g = d.to_numpy()(u=u)
        hv = d.to_numpy(hvp=True)(u=u, V=V)
        v2, g2, Hd = d.to_numpy(hessian=True)(u=u)
    assert v == pytest.approx(lse(u) + extra, rel=1e-14, abs=1e-12)
    assert v2 == v
    np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(g2, p, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(hv, H @ V, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.reshape(Hd, (n, n)), H, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("level, spread", LEVELS)
def test_log_sum_exp_of_a_matrix(level, spread):
    d = matdiff.derive("log(sum(exp(X)))", wrt="X", shapes={"X": "n,m"})
    rng = np.random.default_rng(3)
    X = logits(rng, 12, level, spread).reshape(3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v, g = d.to_numpy()(X=X)
    assert v == pytest.approx(lse(X), rel=1e-14, abs=1e-12)
    np.testing.assert_allclose(g, softmax(X.ravel()).reshape(3, 4), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("level, spread", LEVELS)
def test_softmax_value_and_jacobian(level, spread):
    d = matdiff.derive("exp(u)/sum(exp(u))", wrt="u", shapes={"u": "n"})
    u = logits(np.random.default_rng(4), 5, level, spread)
    p = softmax(u)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v, J = d.to_numpy()(u=u)
    np.testing.assert_allclose(v, p, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(J, np.diag(p) - np.outer(p, p), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("level, spread", LEVELS)
@pytest.mark.parametrize("k, n", [(1, 2), (4, 3), (5, 1)])
def test_cross_entropy_by_weights_inputs_and_bias(level, spread, k, n):
    """log(sum(exp(W*x + b))) - y'*(W*x + b): gradients (softmax - y) x', W'(softmax - y),
    softmax - y, and the HVP by W, at extreme logits."""
    text = "log(sum(exp(W*x + b))) - y'*(W*x + b)"
    shapes = {"W": "k,n", "x": "n", "y": "k", "b": "k"}
    d = matdiff.derive(text, wrt=["W", "x", "b"], shapes=shapes)
    rng = np.random.default_rng(k * 10 + n)
    W, x = rng.standard_normal((k, n)), rng.standard_normal(n)
    z = logits(rng, k, level, spread)
    b = z - W @ x
    y = np.eye(k)[k - 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v, g = d.to_numpy()(W=W, x=x, y=y, b=b)
        V = rng.standard_normal((k, n))
        hv = matdiff.derive(text, wrt="W", shapes=shapes).to_numpy(hvp=True)(W=W, x=x, y=y, b=b, V=V)
    z = W @ x + b
    r = softmax(z) - y
    assert v == pytest.approx(lse(z) - y @ z, rel=1e-12, abs=1e-9)
    np.testing.assert_allclose(g["W"], np.outer(r, x), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(g["x"], W.T @ r, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(g["b"], r, rtol=1e-10, atol=1e-14)
    p = softmax(z)
    np.testing.assert_allclose(hv, np.outer((np.diag(p) - np.outer(p, p)) @ (V @ x), x), rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("text", ["log(sum(w.*exp(u)))", "log(w'*exp(u))", "log(exp(u)'*w)"])
@pytest.mark.parametrize("level, spread", LEVELS + [(0.0, 800.0)])
def test_weighted_log_sum_exp(text, level, spread):
    """The shift is the largest logit where the weight is nonzero: a zero weight on the
    largest logit (800 above the rest) must not wipe out the others."""
    d = matdiff.derive(text, wrt="u", shapes={"u": "n", "w": "n"})
    rng = np.random.default_rng(5)
    u = logits(rng, 5, level, spread)
    w = rng.uniform(0.5, 2.0, 5)
    for w0 in (w[0], 0.0):
        w[0] = w0
        zz = np.where(w > 0, u + np.log(np.where(w > 0, w, 1.0)), -np.inf)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            v, g = d.to_numpy()(u=u, w=w)
        assert v == pytest.approx(lse(u, w), rel=1e-13, abs=1e-12)
        np.testing.assert_allclose(g, np.exp(zz - lse(u, w)), rtol=1e-12, atol=1e-300)


def test_differently_weighted_sums_of_one_exp_are_not_shifted():
    """No single shift suits log(sum(exp(u))) and log(w'*exp(u)) when w vanishes where u is
    largest: the plain evaluation is kept (right wherever exp(u) does not overflow)."""
    d = matdiff.derive("log(sum(exp(u))) + log(w'*exp(u))", wrt="u", shapes={"u": "n", "w": "n"})
    assert "_max_shift" not in d.numpy_source()
    u, w = np.array([700.0, -100.0]), np.array([0.0, 1.0])
    v, g = d.to_numpy()(u=u, w=w)
    assert v == pytest.approx(lse(u) + lse(u, w), rel=1e-14)
    np.testing.assert_allclose(g, softmax(u) + np.array([0.0, 1.0]), rtol=1e-12)


def test_shifted_code_shares_the_shift_and_the_sum():
    """One max, one exp, one sum for the value and the gradient."""
    src = matdiff.derive("log(sum(exp(W*x))) - y'*W*x", wrt="W",
                         shapes={"W": "k,n", "x": "n", "y": "k"}).numpy_source()
    body = src.split('"""')[-1]
    assert body.count("_max_shift(") == 1 and body.count("np.exp(") == 1 and body.count("np.sum(") == 1
    assert "np.exp(_t1 - _t2)" in body


def test_empty_and_infinite_logits_behave_like_the_plain_formula():
    f = matdiff.derive("log(sum(exp(u)))", wrt="u", shapes={"u": "n"}).to_numpy()
    v, g = f(u=np.array([-np.inf, 0.0]))
    assert v == 0.0 and list(g) == [0.0, 1.0]
    v, g = run(f, u=np.array([np.inf, 0.0]))[0]
    assert np.isnan(v) or v == np.inf


@pytest.mark.parametrize("text, wrt, shapes", [
    ("log(sum(exp(u)))", "u", {"u": "n"}),
    ("log(sum(exp(A*x))) - y'*A*x", "A", {"A": "k,n", "x": "n", "y": "k"}),
    ("log(sum(exp(A*x))) - y'*A*x", "x", {"A": "k,n", "x": "n", "y": "k"}),
    ("a*log(sum(exp(u/a)))", ["u", "a"], {"u": "n", "a": ""}),
    ("sum(exp(u)/sum(exp(u)) .* y)", "u", {"u": "n", "y": "n"}),
    ("log(sum(w .* exp(u)))", "u", {"u": "n", "w": "n"}),
    ("log(sum(exp(X)))", "X", {"X": "n,m"}),
])
def test_shifted_forms_match_finite_differences(text, wrt, shapes):
    kinds = {"w": "pos", "a": "pos"}
    check_gradient(text, wrt, shapes, kinds={k: v for k, v in kinds.items() if k in shapes})


# ---------------------------------------------------------------------------- softplus (issue 14)
SOFTPLUS_POINTS = np.array([-1e300, -1000.0, -745.0, -50.0, -1.0, -1e-300, 0.0, 1e-12, 0.5,
                            30.0, 709.0, 1000.0, 1e300])


@pytest.mark.parametrize("text", ["sum(softplus(x))", "sum(log(1 + exp(x)))"])
def test_softplus_is_logaddexp_at_every_scale(text):
    # the NumPy back-end spells log(1 + exp(u)) max(u, 0) + log1p(exp(-|u|)), np.logaddexp's own
    # formula without its slow loop: the same values (to an ulp) from -inf to inf, no warning
    f = matdiff.derive(text, "x").to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for u in SOFTPLUS_POINTS:
            value, grad = f(np.array([u]))
            want = np.logaddexp(u, 0.0)
            assert value == want or abs(value - want) <= 2 * np.spacing(want), (u, value, want)
            assert 0.0 <= grad[0] <= 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the gradient's inf - inf at u = inf, as before)
        assert f(np.array([np.inf]))[0] == np.inf and f(np.array([-np.inf]))[0] == 0.0
        assert np.isnan(f(np.array([np.nan]))[0])


def test_softplus_helper_is_emitted_once_and_the_logistic_loss_stays_finite():
    src = matdiff.derive("sum(log(1 + exp(-y .* (X*w)))) + sum(softplus(w))", "w").numpy_source()
    assert src.count("def _softplus(") == 1 and "np.logaddexp(" not in src
    f = matdiff.derive("sum(log(1 + exp(-y .* (X*w))))", "w").to_numpy()
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 4)), rng.choice([-1.0, 1.0], 50)
    for scale in (1.0, 1e3, 1e6):
        value, grad = f(y, X, scale * rng.standard_normal(4))
        assert np.isfinite(value) and np.all(np.isfinite(grad))
