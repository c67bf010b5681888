"""Issue 10 audit: what a new user types next, as typed (tests/test_ops10.py and
tests/test_functions10.py hold the rows' main tests).

- hints for functions matdiff lacks give a formula in the language: it parses and has the
  function's values (the independent evaluator, tests/reference.py, against NumPy/SciPy);
- log(1 - sigmoid(u)) (binary cross-entropy's other half) is finite at logits of +-1000 in
  every back-end, and the issue's stable forms keep their Hessians and HVPs finite there;
- a scaled sum whose terms cancel after distributing is collected (negative entropy);
- the block-size note describes the input, not a fixed example;
- LaTeX of the issue's functions.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from reference import reference_value

import matdiff
from matdiff.core.errors import FUNCTION_HINTS
from matdiff.lang.parsing import ParseError
from matdiff.render.latex import to_latex

WRITTEN = {  # unknown name -> the function it means, on the points x
    "arcsinh": np.arcsinh, "asinh": np.arcsinh, "arccosh": np.arccosh, "acosh": np.arccosh,
    "arctanh": np.arctanh, "atanh": np.arctanh, "cot": lambda x: 1 / np.tan(x),
    "sec": lambda x: 1 / np.cos(x), "csc": lambda x: 1 / np.sin(x), "silu": lambda x: x / (1 + np.exp(-x)),
    "swish": lambda x: x / (1 + np.exp(-x)), "cbrt": np.cbrt, "logsigmoid": lambda x: -np.logaddexp(0, -x),
    "logsoftmax": lambda x: x - np.log(np.exp(x).sum()), "log_softmax": lambda x: x - np.log(np.exp(x).sum()),
}


def _written(name):
    m = re.search(r"write (.*?)(?: \([^()]*\))?$", FUNCTION_HINTS[name][1])  # without a closing remark
    return m.group(1)


@pytest.mark.parametrize("name", sorted(WRITTEN))
def test_a_missing_functions_hint_is_a_formula_with_its_values(name):
    with pytest.raises(ParseError) as err:
        matdiff.derive(f"sum({name}(x))", wrt="x", shapes={"x": "n"})
    text = _written(name)
    assert text in str(err.value)
    x = {"arccosh": 1.7, "acosh": 1.7, "arctanh": -0.5, "atanh": -0.5}.get(name, 0.7) + np.array([0.0, 0.3, 0.9])
    got = reference_value(text, {"x": "n"}, (), {"x": x}, {"n": 3})
    np.testing.assert_allclose(got.reshape(3), WRITTEN[name](x), rtol=1e-12)


def test_gelu_and_erfc_hints_have_the_functions_values():
    from scipy.special import erf

    x = np.array([-1.3, 0.2, 2.1])
    for name, want in (("gelu", x * (1 + erf(x / np.sqrt(2))) / 2), ("erfc", 1 - erf(x))):
        got = reference_value(_written(name), {"x": "n"}, (), {"x": x}, {"n": 3})
        np.testing.assert_allclose(got.reshape(3), want, rtol=1e-12)


def test_the_family_is_listed_once_and_the_brief_list_summarizes_derivative_forms():
    with pytest.raises(ParseError) as err:
        matdiff.parse("sum(arcsinh(x))", {"x": "n"})
    assert str(err.value).count("expm1") == 1  # the elementwise family, not twice
    with pytest.raises(ParseError) as err:
        matdiff.parse("foo(x)", {"x": "n"})
    msg = str(err.value)
    assert "softmax" in msg and "J2sqrtm" not in msg and "derivative forms of matrix functions" in msg


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize("text", ["sum(log(1 - sigmoid(x)))",
                                  "-y'*log(sigmoid(x)) - (1 - y)'*log(1 - sigmoid(x))"])
def test_binary_cross_entropy_is_finite_at_logits_of_1000(backend, text):
    if backend != "numpy":
        mod = pytest.importorskip(backend)
        if backend == "jax":
            mod.config.update("jax_enable_x64", True)
    d = matdiff.derive(text, wrt="x", shapes={"x": "n", "y": "n"} if "y" in text else {"x": "n"})
    f = getattr(d, "to_" + backend)()
    x = np.array([1000.0, -1000.0, 30.0, 0.0])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        val, g = f(x=x, **({"y": y} if "y" in text else {}))
    g = np.asarray(g.detach().numpy() if hasattr(g, "detach") else g, dtype=float)
    sp = np.logaddexp(0, x)  # log(1 - sigmoid(x)) = -softplus(x)
    sig = 0.5 * (1 + np.tanh(x / 2))
    if "y" in text:
        want = ((y * np.logaddexp(0, -x) + (1 - y) * sp).sum(), sig - y)
    else:
        want = (-sp.sum(), -sig)
    assert np.isclose(float(val), want[0], rtol=1e-12)
    np.testing.assert_allclose(g.reshape(4), want[1], atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize("text", ["logsumexp(x)", "c'*softmax(x)", "-y'*log(softmax(x))",
                                  "sum(log(sigmoid(x)))", "sum(softplus(x))", "sum(log(1 - sigmoid(x)))"])
def test_hessians_and_hvps_of_the_stable_forms_are_finite_at_logits_of_1000(backend, text):
    if backend != "numpy":
        mod = pytest.importorskip(backend)
        if backend == "jax":
            mod.config.update("jax_enable_x64", True)
    shapes = {"x": "n", **{k: "n" for k in "cy" if k + "'" in text}}
    d = matdiff.derive(text, wrt="x", shapes=shapes)
    x = np.array([1000.0, -1000.0, 999.0, 0.0])
    other = {k: np.array([0.0, 1.0, 0.0, 0.0]) for k in shapes if k != "x"}
    V = np.array([0.3, -0.2, 0.5, 1.0])
    to = getattr(d, "to_" + backend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, _, H = to(hessian=True)(x=x, **other)
        hv = to(hvp=True)(x=x, V=V, **other)
    H, hv = (np.asarray(a.detach().numpy() if hasattr(a, "detach") else a, dtype=float) for a in (H, hv))
    p = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    sig = 0.5 * (1 + np.tanh(x / 2))
    J = np.diag(p) - np.outer(p, p)  # the softmax Jacobian = the logsumexp Hessian
    want = {"logsumexp(x)": J, "-y'*log(softmax(x))": J,  # sum(y) = 1
            "sum(log(sigmoid(x)))": -np.diag(sig * (1 - sig)), "sum(softplus(x))": np.diag(sig * (1 - sig)),
            "sum(log(1 - sigmoid(x)))": -np.diag(sig * (1 - sig))}.get(text)
    assert np.all(np.isfinite(H)) and np.all(np.isfinite(hv))
    if want is not None:
        np.testing.assert_allclose(H.reshape(4, 4), want, atol=1e-12)
    np.testing.assert_allclose(hv.reshape(4), H.reshape(4, 4) @ V, atol=1e-12)


def test_softmax_cross_entropy_hessian_by_the_logits_prints_the_softmax_jacobian():
    d = matdiff.derive("-y'*log(softmax(x))", wrt="x", shapes={"x": "n", "y": "n"})
    assert str(d.hessian) == "sum(y)*(diag(softmax(x)) - softmax(x)*softmax(x)')"
    d = matdiff.derive("-y'*log(softmax(W*x))", wrt="W", shapes={"W": "n,m", "y": "n"})
    assert str(d.hessian) == "sum(y)*kron(x, I)*(diag(softmax(W*x)) - softmax(W*x)*softmax(W*x)')*kron(x', I)"


def test_negative_entropy_gradient_cancels_the_reciprocals():
    d = matdiff.derive("sum(softmax(x) .* log(softmax(x)))", wrt="x", shapes={"x": "n"})
    assert "sum(exp(x))^-1" not in str(d.gradient)
    x = np.array([0.3, -1.0, 2.0, 0.5])
    p = np.exp(x) / np.exp(x).sum()
    _, g = d.to_numpy()(x=x)
    np.testing.assert_allclose(g, p * (np.log(p) - p @ np.log(p)), rtol=1e-12)


def test_the_block_size_note_does_not_quote_a_fixed_example():
    d = matdiff.derive("norm2([A; B]*x - [b; c])^2", wrt="x")
    note = next(s for s in d.notes if "block by block" in s)
    assert "zeros" not in note and "b has" not in note


@pytest.mark.parametrize("text, wrt, want", [
    ("logsumexp(x)", "x", r"\operatorname{softmax}\left(x\right)"),
    ("sum(arctan(x))", "x", r"\mathbf{1} \oslash \left(1 + x^{\circ 2}\right)"),
    ("norm1(A*x - y)", "x", r"A^{T} \operatorname{sign}\left(A x - y\right)"),
    ("max(x)", "x", r"\frac{\operatorname{ismax}\left(x\right)}{\operatorname{sum}\left(\operatorname{ismax}\left(x\right)\right)}"),
    ("sum(softplus(x))", "x", r"\sigma\left(x\right)"),
    ("sum(x .^ y)", "y", r"\log\left(x\right) \odot x^{\circ y}"),
])
def test_latex_of_the_issues_gradients(text, wrt, want):
    d = matdiff.derive(text, wrt=wrt)
    assert to_latex(d.gradient) == want


def test_latex_fraction_numerators_have_no_redundant_parentheses():
    d = matdiff.derive("softmax(x)", wrt="x", shapes={"x": "n"})
    dl = to_latex(d.differential)
    assert dl.startswith(r"\frac{\mathrm{d}x \odot \exp\left(x\right)}{")


JACOBIANS = [  # non-scalar uses of the issue's functions, Jacobians at two sizes
    ("softmax(W*x + b)", "W", {"W": "n,m", "x": "m", "b": "n"}),
    ("softmax(x)", "x", {"x": "n"}),
    ("solve(A, B)", "A", {"A": "n,n", "B": "n,m"}),
    ("solve(A, b)", "b", {"A": "n,n", "b": "n"}),
    ("adj(A)", "A", {"A": "n,n"}),
    ("sym(A*B)", "A", {"A": "n,m", "B": "m,n"}),
    ("arctan(A*x) + log1p(x'*x)*sinh(A*x)", "x", {"A": "n,m", "x": "m"}),
    ("erf(X) .* expm1(Y) + softplus(X) .^ Y", "X", {"X": "n,m", "Y": "n,m"}),
    ("[A*x; x'*x; norm1(x)*b]", "x", {"A": "n,m", "x": "m", "b": "n"}),
    ("x .^ y", "y", {"x": "n", "y": "n"}),
    ("A*x + vector(max(x))", "x", {"A": "n,m", "x": "m"}),
]


@pytest.mark.parametrize("sizes", [{"n": 3, "m": 2}, {"n": 4, "m": 5}], ids=str)
@pytest.mark.parametrize("text, wrt, shapes", JACOBIANS, ids=[j[0] for j in JACOBIANS])
def test_jacobians_against_central_differences_of_the_independent_evaluator(text, wrt, shapes, sizes):
    from reference import reference_function

    d = matdiff.derive(text, wrt=wrt, shapes=shapes)
    rng = np.random.default_rng(len(text) + sizes["n"])
    vals = {}
    for name, spec in shapes.items():
        shp = tuple(sizes[s] for s in spec.split(","))
        v = rng.uniform(0.2, 1.5, shp) if name in ("x", "X") and ".^" in text else rng.standard_normal(shp)
        if name == "A" and spec == "n,n":
            v = v + sizes["n"] * np.eye(sizes["n"])
        vals[name] = v
    f = reference_function(text, shapes, (), sizes)
    X = vals[wrt]
    cols = []
    h = 1e-6
    for k in range(X.size):
        E = np.zeros(X.size)
        E[k] = h
        E = E.reshape(X.shape, order="F")
        cols.append((np.asarray(f({**vals, wrt: X + E})).ravel(order="F")
                     - np.asarray(f({**vals, wrt: X - E})).ravel(order="F")) / (2 * h))
    fd = np.stack(cols, axis=1)
    _, J = d.to_numpy()(**vals)
    np.testing.assert_allclose(np.asarray(J).reshape(fd.shape), fd, rtol=1e-6, atol=1e-7)
