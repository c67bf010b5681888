"""vector(c) and matrix(c): matrixcalculus.org's constant vector / matrix of inferred size
(c in every entry; c a number or a scalar expression), built as a broadcast scalar."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import check_gradient, declared_in
from reference import reference_value

import matdiff
from matdiff import ShapeError
from matdiff.render.latex import to_latex


def test_the_matrixcalculus_example_runs_as_typed():
    """sum(log(exp(-y.*(X*w)) + vector(1))), nothing declared: the logistic loss."""
    text = "sum(log(exp(-y .* (X*w)) + vector(1)))"
    d = check_gradient(text, "w")
    assert d.shapes == {"y": ("n",), "X": ("n", "m"), "w": ("m",)}
    assert str(d.gradient) == "-X'*(y .* sigmoid(-y .* (X*w)))"
    same = matdiff.derive("sum(log(1 + exp(-y .* (X*w))))", wrt="w")
    assert str(d.gradient) == str(same.gradient)
    check_gradient("sum(log(exp(-y.*(X*w)) + vector(1)))", "w")  # as typed on the site


@pytest.mark.parametrize("text, wrt, shapes", [
    ("x'*matrix(a)*x", "x", None),
    ("x'*matrix(a)*x", "a", None),
    ("sum(matrix(c) .* X)", "c", {"X": "n,m", "c": ""}),
    ("sum(log(exp(X) + matrix(a^2 + 1)))", "X", {"X": "n,m", "a": ""}),
    ("sum(log(exp(X) + matrix(a^2 + 1)))", "a", {"X": "n,m", "a": ""}),
    ("norm2(A*x - vector(b))^2", "x", {"A": "m,n", "x": "n", "b": ""}),
    ("norm2(A*x - vector(b))^2", "b", {"A": "m,n", "x": "n", "b": ""}),
    ("sum(vector(2*a) .* exp(x))", "a", {"x": "n", "a": ""}),
])
def test_gradients_against_finite_differences(text, wrt, shapes):
    check_gradient(text, wrt, shapes)


def test_values_match_the_independent_evaluator():
    rng = np.random.default_rng(1)
    shapes = {"A": "m,n", "x": "n", "b": ""}
    for sizes in ({"m": 3, "n": 2}, {"m": 2, "n": 4}):
        vals = {"A": rng.standard_normal((sizes["m"], sizes["n"])), "x": rng.standard_normal(sizes["n"]),
                "b": 0.7}
        for text in ("norm2(A*x - vector(b))^2", "x'*matrix(b + 1)*x", "sum(A .* matrix(b) * x)"):
            sh = declared_in(text, shapes)
            d = matdiff.derive(text, wrt="x", shapes=sh)
            got = float(d.value_numpy()(**{k: v for k, v in vals.items() if k in sh}))
            want = float(reference_value(text, sh, [], vals, sizes)[0, 0])
            assert np.isclose(got, want), (text, got, want)
    A = rng.standard_normal((3, 2))
    r = reference_value("A - matrix(2)", {"A": "n,m"}, [], {"A": A}, {"n": 3, "m": 2})
    assert np.allclose(r, A - 2)


def test_sizes_are_inferred_from_context():
    assert matdiff.parse("x + vector(2)", {"x": "k"}).shape == (matdiff.parse("x", {"x": "k"}).shape)
    assert matdiff.parse("A*matrix(1)", {"A": "3,4"}).shape[0] == 3
    e = matdiff.parse("tr(matrix(3))")  # a trace makes it square
    assert str(e) == "tr(3*ones(n, n))"
    assert matdiff.parse("vector(1)").shape[1] == 1


@pytest.mark.parametrize("text, shapes, msg", [
    ("vector(x)", {"x": "n"}, "vector() fills an array with a scalar, but its argument is a vector"),
    ("matrix(A)*x", None, "matrix() fills an array with a scalar, but its argument is a matrix"),
    ("vector(1, 2)", None, "vector() takes 1 argument, got 2"),
    ("vector()", None, "vector() takes 1 argument, got 0"),
    ("x'*vector(1)'", {"x": "n"}, "shape mismatch"),
])
def test_errors(text, shapes, msg):
    with pytest.raises(ShapeError if "takes" not in msg else matdiff.ParseError, match=None) as e:
        matdiff.parse(text, shapes)
    assert msg in str(e.value), str(e.value)


def test_printing_parses_back_and_latex():
    e = matdiff.parse("x'*matrix(a)*x", {"x": "n", "a": ""})
    assert str(matdiff.parse(str(e), {"x": "n", "a": ""})) == str(e)
    assert to_latex(matdiff.parse("vector(a)", {"a": ""})) == "a \\mathbf{1}"
    assert "\\mathbf{1}" in to_latex(matdiff.parse("matrix(a)*X", {"X": "n,m", "a": ""}))
