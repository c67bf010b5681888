"""Symmetric eigenproblems and the Cholesky factor (issue 11): eigvals, eigvecs, eigmax,
eigmin, eiggap, chol, tril_half.

Values come from the independent evaluator (tests/reference.py: numpy.linalg.eigh with the
same sign convention, numpy.linalg.cholesky); derivatives are compared with central finite
differences along symmetric directions, at S = Q*diag(spread)*Q' with well-separated
eigenvalues (SPD for chol), at n = 3 and 5.
"""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
from reference import reference_value

import matdiff
from matdiff.core.errors import MatdiffError

SIZES = (3, 5)


def _spd_or_spread(n, rng, spd=False):
    """S = Q*diag(w)*Q' with eigenvalues at least 0.5 apart (all positive for spd)."""
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    w = np.arange(n) * 0.8 + rng.uniform(0, 0.3, n) + (1.0 if spd else -0.4 * n)
    return (Q * w) @ Q.T


def _sym_direction(n, rng):
    E = rng.standard_normal((n, n))
    return (E + E.T) / 2


def _values(n, rng, spd=False):
    return {"S": _spd_or_spread(n, rng, spd), "x": rng.standard_normal(n), "y": rng.standard_normal(n)}


def _ref(text, vals, n):
    decl = {"S": "n,n", "x": "n", "y": "n"}
    v = {k: (a.reshape(-1, 1) if np.ndim(a) == 1 else a) for k, a in vals.items()}
    return np.asarray(reference_value(text, decl, ("S",), v, {"n": n}), dtype=float)


def _fd(text, vals, E, n, h=1e-4):
    def f(t):
        return _ref(text, {**vals, "S": vals["S"] + t * E}, n)

    return (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)


def _shapes(text):
    return {k: v for k, v in {"S": "n,n", "x": "n", "y": "n"}.items() if re.search(rf"\b{k}\b", text)}


def _derive(text):
    return matdiff.derive(text, wrt="S", shapes=_shapes(text), symmetric=["S"])


GRADIENT_CASES = [
    ("eigmax(S)", False), ("eigmin(S)", False), ("sum(eigvals(S).^2)", False),
    ("sum(exp(eigvals(S)))", False), ("x'*eigvecs(S)*y", False), ("norm2(chol(S)*x)^2", True),
    ("tr(chol(S))", True), ("sum(log(eigvals(S)))", True),
]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("text,spd", GRADIENT_CASES)
def test_gradient_matches_finite_differences(text, spd, n):
    rng = np.random.default_rng(n + len(text))
    vals = _values(n, rng, spd)
    d = _derive(text)
    value, G = d.to_numpy()(**{k: v for k, v in vals.items() if k in d.variables})
    assert np.isclose(value, _ref(text, vals, n).item())
    assert np.allclose(G, G.T)
    for _ in range(3):
        E = _sym_direction(n, rng)
        assert np.isclose(np.sum(G * E), _fd(text, vals, E, n).item(), rtol=1e-6, atol=1e-8), (text, n)


def test_expected_gradients_print_as_the_course_writes_them():
    assert str(_derive("sum(exp(eigvals(S)))").gradient) == "eigvecs(S)*diag(exp(eigvals(S)))*eigvecs(S)'"
    assert str(_derive("sum(eigvals(S).^2)").gradient) == "2*eigvecs(S)*diag(eigvals(S))*eigvecs(S)'"
    # eigmax: v*v', v = eigvecmax(S) the unit eigenvector of the largest eigenvalue
    assert str(_derive("eigmax(S)").gradient) == "eigvecmax(S)*eigvecmax(S)'"
    assert str(_derive("eigmax(S)").differential) == "eigvecmax(S)'*dS*eigvecmax(S)"
    assert "tril_half(" in str(_derive("norm2(chol(S)*x)^2").gradient)


@pytest.mark.parametrize("n", SIZES)
def test_eigmax_gradient_is_v_v_transpose(n):
    rng = np.random.default_rng(7)
    S = _spd_or_spread(n, rng)
    _, G = _derive("eigmax(S)").to_numpy()(S=S)
    w, V = np.linalg.eigh(S)
    assert np.allclose(G, np.outer(V[:, -1], V[:, -1]))
    _, G = _derive("eigmin(S)").to_numpy()(S=S)
    assert np.allclose(G, np.outer(V[:, 0], V[:, 0]))


@pytest.mark.parametrize("n", SIZES)
def test_values_follow_the_sign_convention(n):
    rng = np.random.default_rng(n)
    S = _spd_or_spread(n, rng)
    V = _ref("eigvecs(S)", {"S": S}, n)
    for text in ("eigvecs(S)", "eigvals(S)"):
        d = matdiff.derive(text, wrt="S", shapes={"S": "n,n"}, symmetric=["S"])
        value, _ = d.to_numpy()(S=S)
        assert np.allclose(np.reshape(value, (n, -1)), _ref(text, {"S": S}, n))
    assert np.allclose(V.T @ V, np.eye(n))
    assert np.all(V[np.argmax(np.abs(V), axis=0), np.arange(n)] > 0)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("text", ["eigvals(S)", "eigvecs(S)*x", "chol(S)*x"])
def test_jacobian_matches_finite_differences(text, n):
    rng = np.random.default_rng(11 * n)
    vals = _values(n, rng, spd=True)
    d = _derive(text)
    _, J = d.to_numpy()(**{k: v for k, v in vals.items() if k in d.variables})
    E = _sym_direction(n, rng)
    assert np.allclose(J @ E.reshape(-1, order="F"), _fd(text, vals, E, n).reshape(-1), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("text", ["sum(eigvals(S).^3)", "eigmax(S)", "x'*eigvecs(S)*y", "norm2(chol(S)*x)^2"])
def test_hessian_vector_product_matches_finite_differences_of_the_gradient(text, n):
    rng = np.random.default_rng(5 * n)
    vals = _values(n, rng, spd="chol" in text)
    d = _derive(text)
    inputs = {k: v for k, v in vals.items() if k in d.variables}
    hv = d.to_numpy(hvp=True)(**inputs, **{d.hvp_variable: (W := _sym_direction(n, rng))})
    g = d.to_numpy()
    h = 1e-5
    fd = (g(**{**inputs, "S": vals["S"] + h * W})[1] - g(**{**inputs, "S": vals["S"] - h * W})[1]) / (2 * h)
    assert np.allclose(hv, fd, rtol=1e-5, atol=1e-6), text
    _, _, H = d.to_numpy(hessian=True)(**inputs)
    assert np.allclose(H @ W.reshape(-1, order="F"), np.reshape(hv, -1, order="F"), rtol=1e-6, atol=1e-7)


def test_repeated_eigenvalues_raise_where_the_eigenvector_derivative_does_not_exist():
    S = np.diag([1.0, 1.0, 3.0])
    x, y = np.ones(3), np.arange(3.0)
    with pytest.raises(ValueError, match="repeated eigenvalues"):
        _derive("x'*eigvecs(S)*y").to_numpy()(S=S, x=x, y=y)
    # sums of functions of the eigenvalues stay differentiable there: no eiggap in their gradient
    value, G = _derive("sum(eigvals(S).^2)").to_numpy()(S=S)
    assert np.isclose(value, 11.0) and np.allclose(G, 2 * S)


def test_eigmax_at_a_repeated_top_eigenvalue_gives_a_subgradient():
    """Not differentiable there: the gradient v*v' uses one unit vector v of the top eigenspace,
    a subgradient (the subdifferential is the convex hull of such v*v'); the CLI notes it."""
    S = np.diag([1.0, 3.0, 3.0])
    d = _derive("eigmax(S)")
    value, G = d.to_numpy()(S=S)
    assert np.isclose(value, 3.0)
    assert np.allclose(G, G.T) and np.allclose(G @ G, G) and np.isclose(np.trace(G), 1.0)
    assert np.allclose(G[0], 0.0) and np.allclose(G[:, 0], 0.0)  # inside the top eigenspace
    assert any("largest eigenvalue is repeated" in n for n in d.notes)


@pytest.mark.parametrize("n", SIZES)
def test_eigvecmax_is_the_last_eigenvector_with_its_derivative(n):
    rng = np.random.default_rng(60 + n)
    vals = _values(n, rng)
    text = "x'*eigvecmax(S)"
    d = _derive(text)
    value, G = d.to_numpy()(S=vals["S"], x=vals["x"])
    assert np.isclose(value, (vals["x"] @ _ref("eigvecs(S)", vals, n)[:, -1]))
    assert np.allclose(_ref("eigvecmax(S)", vals, n)[:, 0], _ref("eigvecs(S)", vals, n)[:, -1])
    for _ in range(3):
        E = _sym_direction(n, rng)
        assert np.isclose(np.sum(G * E), _fd(text, vals, E, n).item(), rtol=1e-6, atol=1e-8)
    assert matdiff.parse(str(d.gradient), _shapes(text), symmetric=["S"]) is d.gradient


def test_non_symmetric_arguments_are_refused_clearly():
    for text in ("eigvals(A)'*x", "eigmin(A)", "sum(eigvecs(A))", "sum(chol(A))"):
        with pytest.raises(MatdiffError, match="symmetric") as e:
            matdiff.derive(text, wrt="A", shapes={"A": "n,n", "x": "n"})
        assert "sym" in str(e.value)
    with pytest.raises(MatdiffError, match="needs a square matrix"):
        matdiff.derive("sum(eigvals(A))", wrt="A", shapes={"A": "n,m"})
    with pytest.raises(MatdiffError, match="needs a column vector"):
        matdiff.derive("sum(eiggap(A))", wrt="A", shapes={"A": "n,n"})
    # a symmetric expression needs no declaration
    assert str(matdiff.derive("eigmax(A'*A)", wrt="A", shapes={"A": "n,m"}).gradient)


@pytest.mark.parametrize("text", [t for t, _ in GRADIENT_CASES] + ["eigvecs(S)*x", "eigvals(S)"])
def test_text_round_trip_and_latex(text):
    d = _derive(text)
    shapes = _shapes(text)
    for e in (d.expr, d.gradient if d.expr.shape == (1, 1) else d.jacobian):
        assert matdiff.parse(str(e), shapes, symmetric=["S"]) is e
    latex = d.latex()
    assert "\\operatorname{eigvals}" in latex or "\\operatorname{chol}" in latex or "eigvec" in latex


def _targets():
    return [t for t in ("jax", "torch") if importlib.util.find_spec(t)]


@pytest.mark.parametrize("target", _targets())
@pytest.mark.parametrize("text,spd", GRADIENT_CASES)
def test_every_backend_agrees_with_numpy(text, spd, target):
    rng = np.random.default_rng(3)
    vals = _values(4, rng, spd)
    d = _derive(text)
    inputs = {k: v for k, v in vals.items() if k in d.variables}
    v0, g0 = d.to_numpy()(**inputs)
    if target == "torch":
        import torch

        fn = d.to_torch()
        v1, g1 = fn(**{k: torch.tensor(a) for k, a in inputs.items()})
    else:
        import jax

        with jax.enable_x64(True):
            v1, g1 = d.to_jax()(**inputs)
    assert np.isclose(float(v1), v0) and np.allclose(np.asarray(g1), g0)


@pytest.mark.parametrize("target", _targets())
def test_backends_refuse_repeated_eigenvalues_outside_jit(target):
    S = np.diag([2.0, 2.0, 5.0])
    d = _derive("x'*eigvecs(S)*y")
    x, y = np.ones(3), np.arange(3.0)
    with pytest.raises(ValueError, match="repeated eigenvalues"):
        if target == "torch":
            import torch

            d.to_torch()(S=torch.tensor(S), x=torch.tensor(x), y=torch.tensor(y))
        else:
            import jax

            with jax.enable_x64(True):
                d.to_jax()(S=S, x=x, y=y)


@pytest.mark.parametrize("text", ["x'*eigvecs(S)*y", "sum(eigvecs(S).^3)", "eigmax(S)", "norm2(chol(S)*x)^2"])
def test_the_checker_agrees(text):
    for n in SIZES:
        assert _derive(text).check(sizes={"n": n}).ok, text


def test_the_checker_redraws_nearly_repeated_eigenvalues():
    from matdiff.check.checker import _gap_ratio

    F = _ref("eiggap(x)", {"x": np.array([0.0, 1.0, 1.0 + 1e-9])}, 3)
    assert _gap_ratio(F) > 1e8 and np.isclose(_gap_ratio(_ref("eiggap(x)", {"x": np.array([0.0, 1.0, 2.0])}, 3)), 2)


@pytest.mark.parametrize("target", ["numpy", *_targets()])
def test_one_decomposition_serves_eigenvalues_and_eigenvectors(target):
    d = _derive("sum(exp(eigvals(S))) + x'*eigvecs(S)*x")
    body = d.source(target).split("\ndef f(", 1)[1]
    assert body.count("_eigh(") == 1, body


# ---------------------------------------------------------------------------- general (non-symmetric) A


def _real_spectrum(n, rng):
    """A non-symmetric A = P*diag(1..n)*inv(P): real, simple eigenvalues."""
    P = rng.standard_normal((n, n)) + n * np.eye(n)
    return P @ np.diag(np.arange(1.0, n + 1)) @ np.linalg.inv(P)


@pytest.mark.parametrize("n", SIZES)
def test_eigmax_of_a_general_matrix_uses_left_and_right_eigenvectors(n):
    rng = np.random.default_rng(40 + n)
    A = _real_spectrum(n, rng)
    d = matdiff.derive("eigmax(A)", wrt="A", shapes={"A": "n,n"})
    assert str(d.gradient) == "eigvecl(A)*eigvecr(A)'"
    assert matdiff.parse(str(d.gradient), {"A": "n,n"}) is d.gradient
    value, G = d.to_numpy()(A=A)
    assert np.isclose(value, n)
    ref = lambda M: reference_value("eigmax(A)", {"A": "n,n"}, (), {"A": M}, {"n": n}).item()  # noqa: E731
    for _ in range(3):
        E = rng.standard_normal((n, n))
        h = 1e-4
        fd = (-ref(A + 2 * h * E) + 8 * ref(A + h * E) - 8 * ref(A - h * E) + ref(A - 2 * h * E)) / (12 * h)
        assert np.isclose(np.sum(G * E), fd, rtol=1e-6, atol=1e-8)
    assert d.check(sizes={"n": n}).ok


def test_eigmax_of_a_general_matrix_states_its_limits():
    d = matdiff.derive("eigmax(A)", wrt="A", shapes={"A": "n,n"})
    with pytest.raises(MatdiffError, match="eigenvectors of a general"):
        _ = d.hvp
    with pytest.raises(ValueError, match="largest real part is complex"):
        d.to_numpy()(A=np.array([[0.0, 1.0], [-1.0, 0.0]]))
    with pytest.raises(ValueError, match="repeated"):
        d.to_numpy()(A=np.array([[2.0, 1.0], [0.0, 2.0]]))


@pytest.mark.parametrize("target", _targets())
def test_eigmax_of_a_general_matrix_in_every_backend(target):
    A = _real_spectrum(4, np.random.default_rng(9))
    d = matdiff.derive("eigmax(A)", wrt="A", shapes={"A": "n,n"})
    v0, g0 = d.to_numpy()(A=A)
    if target == "torch":
        import torch

        v1, g1 = d.to_torch()(A=torch.tensor(A))
    else:
        import jax

        with jax.enable_x64(True):
            v1, g1 = d.to_jax()(A=A)
    assert np.isclose(float(v1), v0) and np.allclose(np.asarray(g1), g0)


# ---------------------------------------------------------------------------- eigmin / eigvecmin


def test_eigmin_prints_like_eigmax():
    assert str(_derive("eigmin(S)").gradient) == "eigvecmin(S)*eigvecmin(S)'"
    assert str(_derive("eigmin(S)").differential) == "eigvecmin(S)'*dS*eigvecmin(S)"
    d = _derive("x'*eigvecmin(S)")
    assert "ismin(eigvals(S))" in str(d.gradient)
    assert matdiff.parse(str(d.gradient), _shapes("x'*eigvecmin(S)"), symmetric=["S"]) is d.gradient
    assert r"\operatorname{eigvecmin}" in _derive("eigmin(S)").latex()


@pytest.mark.parametrize("n", SIZES)
def test_eigmin_and_eigvecmin_agree_with_finite_differences(n):
    rng = np.random.default_rng(80 + n)
    vals = _values(n, rng)
    assert np.allclose(_ref("eigvecmin(S)", vals, n)[:, 0], _ref("eigvecs(S)", vals, n)[:, 0])
    for text in ("eigmin(S)", "x'*eigvecmin(S)", "eigmin(S)*(x'*eigvecmin(S))^2"):
        d = _derive(text)
        args = {k: vals[k] for k in _shapes(text)}
        value, G = d.to_numpy()(**args)
        assert np.isclose(value, _ref(text, vals, n).item()), text
        for _ in range(2):
            E = _sym_direction(n, rng)
            assert np.isclose(np.sum(G * E), _fd(text, vals, E, n).item(), rtol=1e-6, atol=1e-8), text


@pytest.mark.parametrize("n", SIZES)
def test_eigmin_hvp_matches_finite_differences_of_the_gradient(n):
    rng = np.random.default_rng(90 + n)
    vals = _values(n, rng)
    d = _derive("eigmin(S)")
    grad = d.to_numpy()
    W, h = _sym_direction(n, rng), 1e-5
    hv = np.asarray(d.to_numpy(hvp=True)(S=vals["S"], **{d.hvp_variable: W}))
    fd = (grad(S=vals["S"] + h * W)[1] - grad(S=vals["S"] - h * W)[1]) / (2 * h)
    E = _sym_direction(n, rng)
    assert np.isclose(np.sum(hv * E), np.sum(fd * E), rtol=1e-5, atol=1e-7)


def test_eigmin_at_a_repeated_bottom_eigenvalue_is_noted():
    S = np.diag([1.0, 1.0, 3.0])
    d = _derive("eigmin(S)")
    value, G = d.to_numpy()(S=S)
    assert np.isclose(value, 1.0)
    assert np.allclose(G, G.T) and np.allclose(G @ G, G) and np.isclose(np.trace(G), 1.0)
    assert np.allclose(G[2], 0.0) and np.allclose(G[:, 2], 0.0)  # inside the bottom eigenspace
    assert any("smallest eigenvalue is repeated" in n for n in d.notes)
    with pytest.raises(ValueError, match="repeated eigenvalues"):
        _derive("x'*eigvecmin(S)").to_numpy()(S=S, x=np.ones(3))


@pytest.mark.parametrize("target", _targets())
def test_eigmin_in_every_backend(target):
    n = 4
    rng = np.random.default_rng(5)
    vals = _values(n, rng)
    d = _derive("eigmin(S) + x'*eigvecmin(S)")
    want = d.to_numpy()(S=vals["S"], x=vals["x"])
    if target == "torch":
        import torch
        got = d.to_torch()(S=torch.tensor(vals["S"]), x=torch.tensor(vals["x"]))
    else:
        import jax
        with jax.enable_x64(True):
            got = d.to_jax()(S=vals["S"], x=vals["x"])
    assert np.isclose(float(got[0]), want[0], rtol=1e-10)
    assert np.allclose(np.asarray(got[1]), want[1], rtol=1e-8, atol=1e-10)


def test_the_repeated_eigenvalue_error_says_which_derivative_does_not_exist():
    S = np.diag([2.0, 2.0, 5.0])
    d = _derive("sum(exp(eigvals(S)))")
    with pytest.raises(ValueError, match="computed through the derivative of the eigenvectors"):
        d.to_numpy(hvp=True)(S=S, V=np.eye(3))
    # the same function written as a matrix function has a Hessian there, computed without eiggap
    h = _derive("tr(expm(S))").to_numpy(hvp=True)(S=S, V=np.eye(3))
    np.testing.assert_allclose(h, np.diag(np.exp([2.0, 2.0, 5.0])), rtol=1e-12)


def test_jax_chol_of_a_matrix_that_is_not_positive_definite_raises_outside_jit():
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        f = _derive("tr(chol(S))").to_jax()
        with pytest.raises(ValueError, match="not positive definite"):
            f(S=-np.eye(3))
