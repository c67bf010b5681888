"""Public API surface: Derivation attributes, shapes, LaTeX, and the VALUES computed by
``to_numpy()`` against independent NumPy reference implementations (the gradient
checks elsewhere compare the gradient with finite differences of the package's own
value, so the value itself must be right)."""

from __future__ import annotations

import numpy as np
import pytest

import matdiff

rng = np.random.default_rng(99)


def R(*shape):
    return rng.standard_normal(shape)


def P(*shape):
    return rng.uniform(0.5, 2.0, shape)


def WC(n):
    return rng.standard_normal((n, n)) + n * np.eye(n)


def sigmoid(t):
    return 1 / (1 + np.exp(-t))


# ----------------------------------------------------------------------------- Derivation object


def test_derivation_attributes():
    d = matdiff.derive("x'*A*x", wrt="x", shapes={"x": "n", "A": "n,n"})
    assert sorted(d.variables) == ["A", "x"]
    assert d.shapes["x"] == ("n",)
    assert d.shapes["A"] == ("n", "n")
    assert set(d.gradients) == {"x"}
    assert d.gradients["x"] is d.gradient or d.gradients["x"] == d.gradient
    for e in (d.expr, d.differential, d.gradient):
        assert isinstance(str(e), str) and str(e)
    assert d.expr == matdiff.parse("x'*A*x", shapes={"x": "n", "A": "n,n"})


def test_shapes_of_inferred_and_scalar_variables():
    d = matdiff.derive("a*x'*A*y + alpha", wrt="A")
    assert d.shapes["a"] == () and d.shapes["alpha"] == ()
    (n,) = d.shapes["x"]
    (m,) = d.shapes["y"]
    assert d.shapes["A"] == (n, m)
    for dim in (n, m):
        assert isinstance(dim, (int, str))


def test_integer_and_tuple_shapes():
    d = matdiff.derive("x'*A*x", wrt="A", shapes={"x": "3", "A": (3, 3)})
    assert d.shapes["x"] == (3,)
    assert d.shapes["A"] == (3, 3)
    d2 = matdiff.derive("u'*X*v", wrt="X", shapes={"u": ("n",), "X": ("n", "m"), "v": ("m",)})
    assert d2.shapes["X"] == ("n", "m")


def test_several_wrt():
    d = matdiff.derive("norm2(X - U*V')^2", wrt=["U", "V"])
    assert set(d.gradients) == {"U", "V"}
    f = d.to_numpy()
    X, U, V = R(4, 3), R(4, 2), R(3, 2)
    value, grad = f(X=X, U=U, V=V)
    assert value == pytest.approx(np.sum((X - U @ V.T) ** 2))
    assert isinstance(grad, dict) and set(grad) == {"U", "V"}
    np.testing.assert_allclose(grad["U"], 2 * (U @ V.T - X) @ V, rtol=1e-10)
    np.testing.assert_allclose(grad["V"], 2 * (V @ U.T - X.T) @ U, rtol=1e-10)


def test_numpy_function_input_types():
    d = matdiff.derive("a*sum(x) + b", wrt=["a", "x"])
    f = d.to_numpy()
    value, grad = f(a=2.0, x=np.array([1.0, 2.0, 3.0]), b=0.5)
    assert float(value) == pytest.approx(12.5)
    assert np.shape(grad["a"]) == () and float(grad["a"]) == pytest.approx(6.0)
    assert np.shape(grad["x"]) == (3,)
    np.testing.assert_allclose(grad["x"], [2.0, 2.0, 2.0])


def test_python_keyword_variable_name():
    d = matdiff.derive("lambda*norm2(w)^2", wrt=["lambda", "w"])
    f = d.to_numpy()
    w = np.array([1.0, 2.0])
    value, grad = f(**{"lambda": 0.5, "w": w})
    assert float(value) == pytest.approx(2.5)
    assert float(grad["lambda"]) == pytest.approx(5.0)
    np.testing.assert_allclose(grad["w"], w)


def test_latex():
    d = matdiff.derive("x'*inv(S)*x + logdet(S)", wrt="S", symmetric=["S"])
    tex = d.latex()
    assert isinstance(tex, str) and tex.strip()
    assert tex.count("{") == tex.count("}")
    assert "S" in tex
    assert "\\" in tex
    assert "*" not in tex.replace("\\ast", ""), f"LaTeX should not contain '*' products: {tex}"


def test_str_is_not_a_repr():
    d = matdiff.derive("tr(A*X*B)", wrt="X")
    for e in (d.expr, d.gradient, d.differential):
        assert "object at" not in str(e) and not str(e).startswith("<")


# ----------------------------------------------------------------------------- values vs NumPy

A3, B3, X32, Y32 = WC(3), WC(3), R(3, 2), R(3, 2)
x3, y3, z2 = R(3), R(3), R(2)
Q32 = P(3, 2)

VALUE_CASES = [
    # expr, shapes, inputs, reference value
    ("tr(A*B)", None, {"A": A3, "B": B3}, np.trace(A3 @ B3)),
    ("x'*A*y", None, {"x": x3, "A": A3, "y": y3}, x3 @ A3 @ y3),
    ("sum(X .* Y)", None, {"X": X32, "Y": Y32}, np.sum(X32 * Y32)),
    ("sum(X ./ Q)", None, {"X": X32, "Q": Q32}, np.sum(X32 / Q32)),
    ("sum(Q .^ 1.5)", None, {"Q": Q32}, np.sum(Q32**1.5)),
    ("sum(A^3)", None, {"A": A3}, np.sum(A3 @ A3 @ A3)),
    ("tr(A^-1)", None, {"A": A3}, np.trace(np.linalg.inv(A3))),
    ("tr(A^-2)", None, {"A": A3}, np.trace(np.linalg.matrix_power(np.linalg.inv(A3), 2))),
    ("det(A)", None, {"A": A3}, np.linalg.det(A3)),
    ("logdet(A)", None, {"A": -A3}, np.log(abs(np.linalg.det(-A3)))),  # log|det|, det may be < 0
    ("sum(inv(A))", None, {"A": A3}, np.sum(np.linalg.inv(A3))),
    ("sum(exp(X))", None, {"X": X32}, np.sum(np.exp(X32))),
    ("sum(log(Q))", None, {"Q": Q32}, np.sum(np.log(Q32))),
    ("sum(sin(X) + cos(X) + tanh(X))", None, {"X": X32}, np.sum(np.sin(X32) + np.cos(X32) + np.tanh(X32))),
    ("sum(tan(0.5*X))", None, {"X": X32}, np.sum(np.tan(0.5 * X32))),
    ("sum(sqrt(Q))", None, {"Q": Q32}, np.sum(np.sqrt(Q32))),
    ("sum(abs(X))", None, {"X": X32}, np.sum(np.abs(X32))),
    ("sum(sigmoid(X))", None, {"X": X32}, np.sum(sigmoid(X32))),
    ("sum(relu(X))", None, {"X": X32}, np.sum(np.maximum(X32, 0))),
    ("norm2(X)", None, {"X": X32}, np.linalg.norm(X32)),  # Frobenius
    ("norm2(x)", None, {"x": x3}, np.linalg.norm(x3)),
    ("x'*diag(A)", None, {"x": x3, "A": A3}, x3 @ np.diag(A3)),
    ("sum(diag(x)*A)", None, {"x": x3, "A": A3}, np.sum(np.diag(x3) @ A3)),
    ("sum(X + a)", None, {"X": X32, "a": 0.3}, np.sum(X32 + 0.3)),
    ("sum(X / a)", None, {"X": X32, "a": 0.3}, np.sum(X32 / 0.3)),
    ("tr(A + I)", None, {"A": A3}, np.trace(A3) + 3),
    ("sum(ones .* X)", None, {"X": X32}, np.sum(X32)),
    ("x'*ones*z", None, {"x": x3, "z": z2}, np.sum(x3) * np.sum(z2)),
    ("a^b", None, {"a": 1.7, "b": -0.4}, 1.7**-0.4),
    ("-a^2", None, {"a": 3.0}, -9.0),
    ("2*a + 0.5 - 1e-3", None, {"a": 1.0}, 2.4990),
    # vec is column-major: w'vec(X) = sum_j sum_i w[i + n j] X[i, j]
    ("w'*vec(X)", {"X": "3,2"}, {"X": X32, "w": np.arange(6.0)}, np.arange(6.0) @ X32.ravel(order="F")),
    # kron(A, B)[i*p + k, j*q + l] = A[i, j] B[k, l]
    (
        "sum(kron(X, Y') .* K)",
        {"X": "3,2", "Y": "3,2", "K": "6,6"},
        {"X": X32, "Y": Y32, "K": np.arange(36.0).reshape(6, 6)},
        np.sum(np.kron(X32, Y32.T) * np.arange(36.0).reshape(6, 6)),
    ),
    (
        "kron(x, y)'*kron(z, x)",
        {"x": "3", "y": "2", "z": "2"},
        {"x": x3, "y": z2, "z": z2[::-1].copy()},
        np.kron(x3, z2) @ np.kron(z2[::-1], x3),
    ),
]


@pytest.mark.parametrize("expr,shapes,inputs,want", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_values_match_numpy(expr, shapes, inputs, want):
    wrt = min(inputs)
    kw = {"shapes": shapes} if shapes else {}
    d = matdiff.derive(expr, wrt=wrt, **kw)
    f = d.to_numpy()
    value, _ = f(**{k: v for k, v in inputs.items() if k in d.variables})
    assert float(np.asarray(value).reshape(())) == pytest.approx(float(want), rel=1e-10, abs=1e-12)


def test_symmetric_gradient_is_symmetrised():
    M = R(3, 3)
    S = WC(3)
    S = S @ S.T
    d = matdiff.derive("tr(S*M)", wrt="S", symmetric=["S"])
    _, g = d.to_numpy()(S=S, M=M)
    np.testing.assert_allclose(g, (M + M.T) / 2, rtol=1e-12)


def test_length_one_vector_is_a_scalar():
    """Documented convention: a vector declared with length 1 is a scalar (shape (1, 1))."""
    d = matdiff.derive("x'*x", wrt="x", shapes={"x": "1"})
    assert d.shapes["x"] == ()
    value, grad = d.to_numpy()(x=np.array([2.0]))
    assert value == pytest.approx(4.0)
    assert np.shape(grad) == ()
    assert grad == pytest.approx(4.0)


def test_size_one_symbolic_dimension():
    d = matdiff.derive("x'*A*y", wrt=["x", "A"], shapes={"x": "n", "A": "n,m", "y": "m"})
    value, grad = d.to_numpy()(x=np.array([2.0]), A=np.array([[3.0, 1.0]]), y=np.array([1.0, 1.0]))
    assert float(np.asarray(value).reshape(())) == pytest.approx(8.0)
    assert np.shape(grad["x"]) == (1,) and np.shape(grad["A"]) == (1, 2)
    np.testing.assert_allclose(grad["A"], [[2.0, 2.0]])


@pytest.mark.parametrize("a", [-5.0, -20.0, -30.0, -40.0, -100.0])
def test_sigmoid_keeps_relative_accuracy_in_the_lower_tail(a):
    """log(sigmoid(a)) = -log(1 + exp(-a)) ~ a for a << 0; an implementation like
    0.5*(1 + tanh(a/2)) cancels catastrophically there (and gives log(0) = -inf)."""
    d = matdiff.derive("log(sigmoid(a))", wrt="a")
    value, grad = d.to_numpy()(a=a)
    assert float(value) == pytest.approx(-np.logaddexp(0.0, -a), rel=1e-12)
    assert float(grad) == pytest.approx(1.0 - 1.0 / (1.0 + np.exp(-a)), rel=1e-12)


@pytest.mark.parametrize(
    "expr,wrt,patterns",
    [
        # transpose rendered as a superscript T / \top, products without '*'
        ("tr(A*X*B)", "X", [r"A\^\{?(T|\\top)\}?\s*B\^\{?(T|\\top)\}?"]),
        # det and an inverse(-transpose) superscript
        ("det(X)", "X", [r"\\det", r"\^\{-(1|T|\\top)\}"]),
        # Hadamard product symbol
        ("sum(A .* X .* X)", "X", [r"\\odot|\\circ"]),
        # trace as an operator name
        ("tr(kron(A, X))", "X", [r"\\(operatorname\{tr\}|mathrm\{tr\}|text\{tr\}|tr\b)"]),
    ],
)
def test_latex_notation(expr, wrt, patterns):
    import re

    tex = matdiff.derive(expr, wrt=wrt).latex()
    assert tex.count("{") == tex.count("}")
    for pat in patterns:
        assert re.search(pat, tex), f"{pat!r} not found in {tex!r}"


def test_derivations_in_threads_agree_with_serial_ones():
    """Parsing (shared LALR parser), hash-consing and code generation are thread-safe."""
    from concurrent.futures import ThreadPoolExecutor

    cases = [("tr(X*A*X)", "X"), ("x'*inv(S)*x + logdet(S)", "S"), ("norm2(A*x - b)^2", "x"),
             ("sum(log(1 + exp(-y .* (X*w))))", "w"), ("det(X)", "X"), ("kron(A, X)", "X")] * 8
    serial = [str(matdiff.derive(e, w).gradient if matdiff.parse(e).is_scalar
                  else matdiff.derive(e, w).jacobian) for e, w in cases]

    def work(case):
        e, w = case
        d = matdiff.derive(e, w)
        d.to_numpy()
        return str(d.gradient if d.expr.is_scalar else d.jacobian)

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(work, cases)) == serial
