"""Issue 10's elementwise functions (arcsin, arccos, arctan and asin/acos/atan, sinh, cosh,
log1p, expm1, erf) and the elementwise power with an array exponent (``x .^ y``): the
issue's stated outputs, gradients against finite differences of the independent reference
evaluator (tests/reference.py) at two sizes, vectors and matrices, LaTeX, the back-ends'
agreement, and log1p/expm1 accuracy near 0 in generated code."""

from __future__ import annotations

import math

import numpy as np
import pytest
from reference import reference_value

import matdiff
from matdiff.core.errors import ShapeError

NEW = ("arcsin", "arccos", "arctan", "asin", "acos", "atan", "sinh", "cosh", "log1p", "expm1", "erf")
SIZES = ({"n": 3, "m": 2}, {"n": 4, "m": 5})


def _fd_gradient(text, shapes, inp, wrt, sizes, h=1e-5):
    """Central differences of the reference evaluator's value, entry by entry of ``wrt``."""
    x = np.array(inp[wrt], dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        vals = []
        for s in (h, -h):
            y = x.copy()
            y[i] += s
            vals.append(float(np.asarray(reference_value(text, shapes, (), {**inp, wrt: y}, sizes)).item()))
        g[i] = (vals[0] - vals[1]) / (2 * h)
    return g


def _inputs(shapes, sizes, rng, lo=-0.3, hi=0.3):
    out = {}
    for name, spec in shapes.items():
        dims = tuple(sizes[s] for s in spec.split(",")) if spec else ()
        out[name] = rng.uniform(lo, hi, dims) if dims else float(rng.uniform(lo, hi))
    return out


def _check_gradient(text, shapes, wrt, sizes, lo=-0.3, hi=0.3, seed=0):
    d = matdiff.derive(text, wrt=wrt, shapes=shapes)
    inp = _inputs(shapes, sizes, np.random.default_rng(seed), lo, hi)
    value, grad = d.to_numpy()(**inp)
    ref = float(np.asarray(reference_value(text, shapes, (), inp, sizes)).item())
    assert np.isclose(value, ref, rtol=1e-12, atol=1e-12), (text, value, ref)
    fd = _fd_gradient(text, shapes, inp, wrt, sizes)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8, err_msg=f"{text} by {wrt} at {sizes}")


@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize("name", NEW)
def test_gradient_of_each_function_agrees_with_finite_differences(name, sizes):
    # a vector argument through a non-square product, and a matrix variable
    _check_gradient(f"sum({name}(X*x))", {"X": "n,m", "x": "m"}, "x", sizes)
    _check_gradient(f"sum(A .* {name}(X))", {"A": "n,m", "X": "n,m"}, "X", sizes)


def test_inverse_trigonometric_short_names_parse_as_the_long_ones():
    for short, long in (("asin", "arcsin"), ("acos", "arccos"), ("atan", "arctan")):
        a = matdiff.derive(f"sum({short}(x))", wrt="x", shapes={"x": "n"})
        b = matdiff.derive(f"sum({long}(x))", wrt="x", shapes={"x": "n"})
        assert str(a.gradient) == str(b.gradient)
        assert a.expr is b.expr or str(a.expr) == str(b.expr)


def test_the_issues_outputs():
    d = matdiff.derive("sum(arctan(x))", wrt="x", shapes={"x": "n"})
    assert str(d.gradient) == "1 ./ (1 + x.^2)"
    d = matdiff.derive("sum(x .^ y)", wrt=["x", "y"], shapes={"x": "n", "y": "n"})
    assert str(d.gradients["y"]) == "log(x) .* x.^y"  # x .^ y .* log(x)
    assert str(d.gradients["x"]) == "y .* x.^(-1 + y)"  # y .* x .^ (y - 1)
    assert str(matdiff.derive("sum(arcsin(x))", wrt="x").gradient) == "1 ./ sqrt(1 - x.^2)"
    assert str(matdiff.derive("sum(log1p(x))", wrt="x").gradient) == "1 ./ (1 + x)"
    assert str(matdiff.derive("sum(erf(x))", wrt="x").gradient) == "2*exp(-x.^2)/sqrt(arccos(-1))"


@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize("text,shapes", [
    ("sum(x .^ y)", {"x": "n", "y": "n"}),
    ("sum(X .^ Y)", {"X": "n,m", "Y": "n,m"}),
    ("sum(A .* (X .^ (Y .* Y)))", {"A": "n,m", "X": "n,m", "Y": "n,m"}),
    ("sum(2 .^ y)", {"y": "n"}),
])
def test_elementwise_power_with_an_array_exponent(text, shapes, sizes):
    for wrt in [v for v in shapes if v not in ("A",)]:
        _check_gradient(text, shapes, wrt, sizes, lo=0.5, hi=1.5)  # a positive base


def test_elementwise_power_shapes_are_checked():
    with pytest.raises(ShapeError):
        matdiff.derive("sum(X .^ Y)", wrt="X", shapes={"X": "n,m", "Y": "m,n"})
    with pytest.raises(ShapeError):  # a matrix power keeps a scalar exponent
        matdiff.derive("sum(a ^ y)", wrt="y", shapes={"a": "", "y": "n"})


def test_latex_names_the_functions():
    for name, tex in (("arcsin", r"\arcsin"), ("acos", r"\arccos"), ("arctan", r"\arctan"),
                      ("sinh", r"\sinh"), ("cosh", r"\cosh"), ("log1p", r"\operatorname{log1p}"),
                      ("expm1", r"\operatorname{expm1}"), ("erf", r"\operatorname{erf}")):
        assert tex in matdiff.derive(f"sum({name}(x))", wrt="x", shapes={"x": "n"}).latex_lines()[0]
    lat = matdiff.derive("sum(X .^ Y)", wrt="Y", shapes={"X": "n,m", "Y": "n,m"}).latex_lines()[-1]
    assert r"X^{\circ Y}" in lat


def test_log1p_and_expm1_are_accurate_near_zero_in_generated_code():
    for name, exact in (("log1p", math.log1p), ("expm1", math.expm1)):
        d = matdiff.derive(f"sum({name}(x))", wrt="x", shapes={"x": "n"})
        x = np.array([1e-12, -3e-13, 2.5e-16])
        value, grad = d.to_numpy()(x=x)
        assert value == pytest.approx(sum(exact(v) for v in x), rel=1e-14)
        assert np.all(np.abs(grad - 1.0) < 1e-11)


def test_erf_helper_is_exact_in_numpy():
    d = matdiff.derive("sum(erf(x))", wrt="x", shapes={"x": "n"})
    x = np.array([-3.0, -0.5, 0.0, 1e-8, 0.7, 6.0])
    value, grad = d.to_numpy()(x=x)
    assert value == pytest.approx(sum(math.erf(v) for v in x), rel=1e-15)
    np.testing.assert_allclose(grad, 2 / math.sqrt(math.pi) * np.exp(-x ** 2), rtol=1e-15)


BACKEND_TEXT = ("sum(arcsin(x) + acos(x) + arctan(x) + sinh(x) + cosh(x) + log1p(x) + expm1(x) + erf(x))"
                " + sum(z .^ x)")


def _backend_inputs():
    rng = np.random.default_rng(3)
    return {"x": rng.uniform(-0.5, 0.5, 4), "z": rng.uniform(0.5, 1.5, 4)}


def test_jax_agrees_with_numpy():
    jax = pytest.importorskip("jax")
    d = matdiff.derive(BACKEND_TEXT, wrt=["x", "z"], shapes={"x": "n", "z": "n"})
    inp = _backend_inputs()
    ref = d.to_numpy()(**inp)
    with jax.enable_x64(True):
        for f in (d.to_jax(), jax.jit(d.to_jax())):
            got = f(**inp)
            assert np.isclose(float(got[0]), ref[0], rtol=1e-12)
            for k in ("x", "z"):
                np.testing.assert_allclose(np.asarray(got[1][k]), ref[1][k], rtol=1e-12)


def test_torch_agrees_with_numpy():
    torch = pytest.importorskip("torch")
    d = matdiff.derive(BACKEND_TEXT, wrt=["x", "z"], shapes={"x": "n", "z": "n"})
    inp = _backend_inputs()
    ref = d.to_numpy()(**inp)
    got = d.to_torch()(**{k: torch.as_tensor(v, dtype=torch.float64) for k, v in inp.items()})
    assert np.isclose(float(got[0]), ref[0], rtol=1e-12)
    for k in ("x", "z"):
        np.testing.assert_allclose(got[1][k].numpy(), ref[1][k], rtol=1e-12)


def test_checker_agrees_on_the_new_functions():
    for text, wrt in (("sum(arcsin(x) + arccos(x))", "x"), ("sum(log1p(X))", "X"), ("sum(x .^ y)", "y")):
        assert matdiff.derive(text, wrt=wrt).check().ok, text
