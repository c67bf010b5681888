"""LU and QR factorizations (issue 11): luL, luU, qrQ, qrR and the masks triu, tril_strict.

Values come from the independent evaluator (tests/reference.py: Doolittle's formulas for the
unpivoted LU, modified Gram-Schmidt for the thin QR with R's diagonal positive); derivatives
are compared with central finite differences of those values, for LU at diagonally dominant
A (every leading principal minor nonzero) of sizes 3 and 5, for QR at Gaussian A (full column
rank) of sizes 5 x 3 (tall) and 4 x 4 (square).
"""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
from reference import reference_value

import matdiff
from matdiff.core.errors import MatdiffError

LU_SIZES = ({"n": 3}, {"n": 5})
QR_SIZES = ({"n": 5, "m": 3}, {"n": 4, "m": 4})
SHAPES = {"A": "n,n", "x": "n", "y": "n", "C": "n,n"}
QR_SHAPES = {"A": "n,m", "x": "n", "y": "m", "C": "n,m", "D": "m,m"}


def _draw(text, sizes, rng):
    qr = "qr" in text
    decl = QR_SHAPES if qr else SHAPES
    n, m = sizes["n"], sizes.get("m", sizes["n"])
    vals = {"A": rng.standard_normal((n, m)) if qr else rng.standard_normal((n, n)) + n * np.eye(n),
            "x": rng.standard_normal(n), "y": rng.standard_normal(m),
            "C": rng.standard_normal((n, m)), "D": rng.standard_normal((m, m))}
    used = {k: s for k, s in decl.items() if re.search(rf"\b{k}\b", text)}
    return used, {k: vals[k] for k in used}


def _ref(text, decl, vals, sizes):
    v = {k: (a.reshape(-1, 1) if np.ndim(a) == 1 else a) for k, a in vals.items()}
    return np.asarray(reference_value(text, decl, (), v, sizes), dtype=float)


def _fd(text, decl, vals, E, sizes, h=1e-4):
    def f(t):
        return _ref(text, decl, {**vals, "A": vals["A"] + t * E}, sizes)

    return (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)


def _cases(texts, sizes):
    return [(t, s) for t in texts for s in sizes]


SCALAR_LU = ["sum(luL(A) .* C)", "x'*luU(A)*y", "tr(luU(A))", "norm2(luL(A)*x)^2", "x'*luL(A)*luU(A)*y"]
SCALAR_QR = ["sum(qrQ(A) .* C)", "sum(qrR(A) .* D)", "tr(qrR(A))", "x'*qrQ(A)*y", "norm2(qrQ(A)'*x)^2"]
GRADIENT_CASES = _cases(SCALAR_LU, LU_SIZES) + _cases(SCALAR_QR, QR_SIZES)


@pytest.mark.parametrize("text,sizes", GRADIENT_CASES)
def test_gradient_matches_finite_differences(text, sizes):
    rng = np.random.default_rng(sum(sizes.values()) + len(text))
    decl, vals = _draw(text, sizes, rng)
    d = matdiff.derive(text, wrt="A", shapes=decl)
    value, G = d.to_numpy()(**vals)
    assert np.isclose(value, _ref(text, decl, vals, sizes).item())
    for _ in range(3):
        E = rng.standard_normal(vals["A"].shape)
        assert np.isclose(np.sum(G * E), _fd(text, decl, vals, E, sizes).item(), rtol=1e-6, atol=1e-8), text


MATRIX_CASES = _cases(["luL(A)", "luU(A)", "luL(A)*x"], LU_SIZES) + _cases(["qrQ(A)", "qrR(A)", "qrQ(A)*y"], QR_SIZES)


@pytest.mark.parametrize("text,sizes", MATRIX_CASES)
def test_values_and_jacobians_match_the_reference(text, sizes):
    rng = np.random.default_rng(3 * sum(sizes.values()) + len(text))
    decl, vals = _draw(text, sizes, rng)
    d = matdiff.derive(text, wrt="A", shapes=decl)
    value, J = d.to_numpy()(**vals)
    ref = _ref(text, decl, vals, sizes)
    assert np.allclose(np.reshape(value, ref.shape), ref)
    for _ in range(2):
        E = rng.standard_normal(vals["A"].shape)
        fd = _fd(text, decl, vals, E, sizes).reshape(-1, order="F")
        assert np.allclose(J @ E.reshape(-1, order="F"), fd, rtol=1e-6, atol=1e-8), text


@pytest.mark.parametrize("sizes", LU_SIZES + QR_SIZES)
def test_factors_have_their_structure(sizes):
    rng = np.random.default_rng(1)
    qr = "m" in sizes
    decl, vals = _draw("qrQ(A)" if qr else "luL(A)", sizes, rng)
    A = vals["A"]
    if qr:
        (Q, _), (R, _) = (matdiff.derive(t, wrt="A", shapes=decl).to_numpy()(A=A) for t in ("qrQ(A)", "qrR(A)"))
        assert np.allclose(Q.T @ Q, np.eye(A.shape[1])) and np.allclose(R, np.triu(R)) and np.all(np.diag(R) > 0)
        assert np.allclose(Q @ R, A)
    else:
        (L, _), (U, _) = (matdiff.derive(t, wrt="A", shapes=decl).to_numpy()(A=A) for t in ("luL(A)", "luU(A)"))
        assert np.allclose(L, np.tril(L)) and np.allclose(np.diag(L), 1) and np.allclose(U, np.triu(U))
        assert np.allclose(L @ U, A)


HESSIAN_CASES = _cases(["x'*luU(A)*y", "norm2(luL(A)*x)^2"], LU_SIZES) + _cases(
    ["x'*qrQ(A)*y", "sum(qrR(A) .* D)"], QR_SIZES)


@pytest.mark.parametrize("text,sizes", HESSIAN_CASES)
def test_hessian_vector_product_matches_finite_differences_of_the_gradient(text, sizes):
    rng = np.random.default_rng(5 * sum(sizes.values()))
    decl, vals = _draw(text, sizes, rng)
    d = matdiff.derive(text, wrt="A", shapes=decl)
    W = rng.standard_normal(vals["A"].shape)
    hv = d.to_numpy(hvp=True)(**vals, **{d.hvp_variable: W})
    g = d.to_numpy()
    h = 1e-5
    fd = (g(**{**vals, "A": vals["A"] + h * W})[1] - g(**{**vals, "A": vals["A"] - h * W})[1]) / (2 * h)
    assert np.allclose(hv, fd, rtol=1e-5, atol=1e-6), text
    _, _, H = d.to_numpy(hessian=True)(**vals)
    assert np.allclose(H @ W.reshape(-1, order="F"), np.reshape(hv, -1, order="F"), rtol=1e-6, atol=1e-7)


def test_differentials_print_as_the_course_writes_them():
    d = matdiff.derive("sum(luL(A) .* C)", wrt="A", shapes={"A": "n,n", "C": "n,n"})
    assert str(d.differential) == "sum(C .* (luL(A)*tril_strict(inv(luL(A))*dA*inv(luU(A)))))"
    d = matdiff.derive("x'*luU(A)*y", wrt="A", shapes={"A": "n,n", "x": "n", "y": "n"})
    assert str(d.differential) == "x'*triu(inv(luL(A))*dA*inv(luU(A)))*luU(A)*y"
    assert str(d.gradient) == "inv(luL(A))'*triu(x*y'*luU(A)')*inv(luU(A))'"
    d = matdiff.derive("tr(qrR(A))", wrt="A", shapes={"A": "n,m"})
    assert "triu(qrQ(A)'*dA*inv(qrR(A))) + tril_strict(qrQ(A)'*dA*inv(qrR(A)))'" in str(d.differential)
    # tril_strict of the upper triangular R is 0, triu of it is R: the gradient is Q*triu(R')*inv(R)'
    assert str(d.gradient) == "qrQ(A)*triu(qrR(A)')*inv(qrR(A))'"


@pytest.mark.parametrize("text", SCALAR_LU + SCALAR_QR + ["luL(A)*x", "qrQ(A)*y", "sum(triu(A) + tril_strict(A))"])
def test_text_round_trip_and_latex(text):
    decl = QR_SHAPES if "qr" in text else SHAPES
    decl = {k: s for k, s in decl.items() if re.search(rf"\b{k}\b", text)}
    d = matdiff.derive(text, wrt="A", shapes=decl)
    for e in (d.expr, d.gradient if d.expr.shape == (1, 1) else d.jacobian):
        assert matdiff.parse(str(e), decl) is e, str(e)
    # the differential parses back too (dA read as a variable there, so terms may sort differently)
    back = str(matdiff.parse(str(d.differential), {**decl, "dA": decl["A"]}))
    assert sorted(back) == sorted(str(d.differential)), back
    latex = d.latex()
    assert any(f"\\operatorname{{{w}}}" in latex for w in ("luL", "luU", "qrQ", "qrR", "triu")), latex


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(MatdiffError, match="needs a square matrix"):
        matdiff.derive("sum(luL(A))", wrt="A", shapes={"A": "n,m"})
    with pytest.raises(MatdiffError, match="at least as many rows as columns"):
        matdiff.derive("sum(qrR(x'))", wrt="x", shapes={"x": "n"})
    # a zero leading principal minor: no unpivoted LU
    d = matdiff.derive("sum(luU(A))", wrt="A", shapes={"A": "n,n"})
    with pytest.raises(ValueError, match="leading principal minor is zero"):
        d.to_numpy()(A=np.array([[0.0, 1.0], [1.0, 0.0]]))
    d = matdiff.derive("sum(qrR(A))", wrt="A", shapes={"A": "n,m"})
    with pytest.raises(ValueError, match="at least as many rows"):
        d.to_numpy()(A=np.ones((2, 3)))
    with pytest.raises(ValueError, match="full column rank"):
        d.to_numpy()(A=np.ones((3, 2)))


def test_the_checker_agrees():
    for text, decl in (("x'*luU(A)*y", SHAPES), ("sum(luL(A) .* C)", SHAPES), ("sum(qrQ(A) .* C)", QR_SHAPES),
                       ("tr(qrR(A))", QR_SHAPES)):
        decl = {k: s for k, s in decl.items() if re.search(rf"\b{k}\b", text)}
        assert matdiff.derive(text, wrt="A", shapes=decl).check().ok, text


def _targets():
    return [t for t in ("jax", "torch") if importlib.util.find_spec(t)]


@pytest.mark.parametrize("target", _targets())
@pytest.mark.parametrize("text,sizes", [(t, LU_SIZES[0]) for t in SCALAR_LU] + [(t, QR_SIZES[0]) for t in SCALAR_QR])
def test_every_backend_agrees_with_numpy(text, sizes, target):
    rng = np.random.default_rng(3)
    decl, vals = _draw(text, sizes, rng)
    d = matdiff.derive(text, wrt="A", shapes=decl)
    v0, g0 = d.to_numpy()(**vals)
    if target == "torch":
        import torch

        v1, g1 = d.to_torch()(**{k: torch.tensor(a) for k, a in vals.items()})
    else:
        import jax

        with jax.enable_x64(True):
            v1, g1 = d.to_jax()(**vals)
    assert np.isclose(float(v1), v0) and np.allclose(np.asarray(g1), g0)


@pytest.mark.parametrize("target", ["numpy", *_targets()])
def test_one_factorization_serves_both_factors(target):
    d = matdiff.derive("x'*luL(A)*luU(A)*y", wrt="A", shapes={"A": "n,n", "x": "n", "y": "n"})
    body = d.source(target).split("\ndef f(", 1)[1]
    assert body.count("_lu(") == 1, body


@pytest.mark.parametrize("sizes", QR_SIZES + ({"n": 3, "m": 5},))
def test_tril_is_the_lower_triangle_with_its_derivative(sizes):
    """tril(M) = M - tril_strict(M')' (the course writes the Cholesky Φ with tril): values,
    Jacobian and gradient against the independent evaluator, tall, square and wide."""
    n, m = sizes["n"], sizes["m"]
    rng = np.random.default_rng(n * 10 + m)
    decl = {"A": "n,m", "C": "n,m"}
    A, C = rng.standard_normal((n, m)), rng.standard_normal((n, m))
    d = matdiff.derive("tril(A)", wrt="A", shapes={"A": "n,m"})
    value, J = d.to_numpy()(A=A)
    np.testing.assert_array_equal(value, np.tril(A))
    E = rng.standard_normal((n, m))
    np.testing.assert_allclose(J @ E.reshape(-1, order="F"), np.tril(E).reshape(-1, order="F"), atol=1e-12)
    g = matdiff.derive("sum(tril(A) .* C) + norm2(tril(A*A'))^2", wrt="A", shapes=decl).to_numpy()(A=A, C=C)[1]
    fd = _fd("sum(tril(A) .* C) + norm2(tril(A*A'))^2", decl, {"A": A, "C": C}, E, sizes)
    np.testing.assert_allclose(np.sum(g * E), fd, rtol=1e-7)
