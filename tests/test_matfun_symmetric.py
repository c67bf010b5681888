"""Matrix functions of symmetric arguments (issue 11): the eigenvalue (Daleckii-Krein) form.

For a symmetric S (declared, or shown by its facts), ``d f(S) = V*(Ff(w) .* (V'*dS*V))*V'``
with w = eigvals(S), V = eigvecs(S) and Ff(w) the divided-difference (Loewner) matrix of f;
generated code computes f(S) = V*diag(f(w))*V' from the same eigendecomposition, in every
back-end. Gradients, Jacobians and HVPs against central differences of the independent
evaluator (tests/reference.py) in symmetric directions at n = 3 and 5.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from reference import reference_value

import matdiff
from matdiff.core.errors import DerivationError
from matdiff.lang.parsing import parse
from matdiff.render.latex import to_latex

SIZES = (3, 5)
FUNS = ("expm", "logm", "sqrtm", "sinm", "cosm")


def _spd(n, rng):
    R = rng.standard_normal((n, n))
    return R @ R.T / n + 0.5 * np.eye(n)


def _sym(n, rng):
    R = rng.standard_normal((n, n))
    return (R + R.T) / 2


def _ref(text, shapes, sym, vals, n):
    return np.asarray(reference_value(text, shapes, sym, vals, {"n": n}), dtype=float)


def _fd(text, shapes, sym, vals, wrt, V, n, h=1e-4):
    def f(t):
        return _ref(text, shapes, sym, {**vals, wrt: vals[wrt] + t * V}, n)
    return (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)


def _inputs(f, n, seed):
    rng = np.random.default_rng(seed)
    return {"S": _spd(n, rng) if f in ("logm", "sqrtm") else _sym(n, rng),
            "B": rng.standard_normal((n, n)), "x": rng.standard_normal(n)}


SHAPES = {"S": "n,n", "B": "n,n", "x": "n"}


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("f", FUNS)
def test_gradient_in_symmetric_directions(f, n):
    text = f"tr(B*{f}(S)) + x'*{f}(S)*x"
    d = matdiff.derive(text, wrt="S", shapes=SHAPES, symmetric=["S"])
    assert f"F{f}(eigvals(S))" in str(d.differential)
    vals = _inputs(f, n, seed=n)
    value, grad = d.to_numpy()(**vals)
    assert np.isclose(value, _ref(text, SHAPES, ("S",), vals, n).item(), rtol=1e-10, atol=1e-10)
    rng = np.random.default_rng(7)
    for _ in range(2):
        V = _sym(n, rng)
        fd = _fd(text, SHAPES, ("S",), vals, "S", V, n).item()
        assert np.isclose(np.sum(np.asarray(grad) * V), fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("f", FUNS)
def test_jacobian_in_symmetric_directions(f, n):
    d = matdiff.derive(f"{f}(S)", wrt="S", symmetric=["S"])
    vals = _inputs(f, n, seed=2 * n)
    value, J = d.to_numpy()(S=vals["S"])
    np.testing.assert_allclose(value, _ref(f"{f}(S)", SHAPES, ("S",), vals, n), rtol=1e-10, atol=1e-10)
    V = _sym(n, np.random.default_rng(3))
    fd = _fd(f"{f}(S)", SHAPES, ("S",), vals, "S", V, n)
    np.testing.assert_allclose(J @ V.reshape(-1, order="F"), fd.reshape(-1, order="F"), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("f", FUNS)
def test_hvp_from_the_ordinary_rules(f, n):
    d = matdiff.derive(f"tr(B*{f}(S))", wrt="S", symmetric=["S"])
    vals = _inputs(f, n, seed=3 * n)
    vals = {"S": vals["S"], "B": vals["B"]}
    grad, hvp = d.to_numpy(), d.to_numpy(hvp=True)
    rng = np.random.default_rng(4)
    V, h = _sym(n, rng), 1e-4
    fd = (grad(**{**vals, "S": vals["S"] + h * V})[1] - grad(**{**vals, "S": vals["S"] - h * V})[1]) / (2 * h)
    hv = np.asarray(hvp(**vals, **{d.hvp_variable: V}))
    # the Hessian of a function of a symmetric S acts on symmetric directions: compare there
    W = _sym(n, rng)
    assert np.isclose(np.sum(hv * W), np.sum(fd * W), rtol=1e-5, atol=1e-6)


def test_printed_forms_read_like_the_course_and_parse_back():
    d = matdiff.derive("expm(S)", wrt="S", symmetric=["S"])
    assert str(d.differential) == "eigvecs(S)*((eigvecs(S)'*dS*eigvecs(S)) .* Fexpm(eigvals(S)))*eigvecs(S)'"
    sx = {"S": "n,n", "x": "n"}
    g = matdiff.derive("x'*logm(S)*x", wrt="S", shapes=sx, symmetric=["S"]).gradient
    assert str(g) == "eigvecs(S)*((eigvecs(S)'*x*x'*eigvecs(S)) .* Flogm(eigvals(S)))*eigvecs(S)'"
    assert parse(str(g), shapes=sx, symmetric=["S"]) is g
    assert to_latex(parse("Fexpm(w)")) == r"F_{exp}\left(w\right)"
    # a nonsymmetric argument keeps the Fréchet derivative
    assert str(matdiff.derive("expm(A)", wrt="A").differential) == "Dexpm(A, dA)"
    # facts show symmetry: X'*X is symmetric
    assert "Fsqrtm" in str(matdiff.derive("tr(B*sqrtm(X'*X))", wrt="X").differential)
    # the trace of the eigenvalue form simplifies as the Fréchet derivative's does
    assert str(matdiff.derive("tr(sqrtm(X'*X))", wrt="X").gradient) == "X*inv(sqrtm(X'*X))"
    for f, g in (("expm", "expm(S)"), ("logm", "inv(S)"), ("sinm", "cosm(S)"), ("cosm", "-sinm(S)")):
        assert str(matdiff.derive(f"tr({f}(S))", wrt="S", symmetric=["S"]).gradient) == g


def test_divided_differences_are_stable_for_close_eigenvalues():
    w = np.array([[0.5], [0.5 + 1e-9], [0.5 + 2e-6], [2.0]])
    for f, fp, fpp in (("expm", np.exp, np.exp), ("logm", lambda z: 1 / z, lambda z: -1 / z**2),
                       ("sqrtm", lambda z: 0.5 / np.sqrt(z), lambda z: -0.25 / z**1.5),
                       ("sinm", np.cos, lambda z: -np.sin(z)), ("cosm", lambda z: -np.sin(z), lambda z: -np.cos(z))):
        F = matdiff.derive(f"sum(F{f}(w) .* A)", wrt="A", shapes={"w": "n", "A": "n,n"}).to_numpy()(
            w=w, A=np.zeros((4, 4)))[1]
        G = matdiff.derive(f"sum(G{f}(w) .* A)", wrt="A", shapes={"w": "n", "A": "n,n"}).to_numpy()(
            w=w, A=np.zeros((4, 4)))[1]
        np.testing.assert_allclose(F[0, 1], fp(0.5), rtol=1e-8)
        np.testing.assert_allclose(F[0, 2], fp(0.5 + 1e-6), rtol=1e-10)
        np.testing.assert_allclose(np.diag(F), fp(w.ravel()), rtol=1e-12)
        np.testing.assert_allclose(G[0, 1], fpp(0.5) / 2, rtol=1e-7)
        np.testing.assert_allclose(G[0, 2], fpp(0.5) / 2, rtol=1e-5)
        np.testing.assert_allclose(np.diag(G), fpp(w.ravel()) / 2, rtol=1e-12)
        a, b = 0.5, 2.0
        fa, fb = {"expm": np.exp, "logm": np.log, "sqrtm": np.sqrt, "sinm": np.sin, "cosm": np.cos}[f]((a, b))
        np.testing.assert_allclose(F[0, 3], (fa - fb) / (a - b), rtol=1e-12)
        np.testing.assert_allclose(G[0, 3], (fp(a) - F[0, 3]) / (a - b), rtol=1e-10)


def test_a_third_derivative_is_a_clear_error():
    with pytest.raises(DerivationError, match="third derivative"):
        matdiff.derive("sum(Gexpm(w))", wrt="w").gradient


def test_generated_code_uses_eigh_and_refuses_a_non_pd_logm():
    d = matdiff.derive("tr(B*logm(S))", wrt="S", symmetric=["S"])
    src = d.source("numpy")
    assert "_symfun(\"logm\"" in src and "scipy" not in src.split("def ")[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the error comes first, no NumPy warning before it
        for S in (np.diag([1.0, -2.0]), np.diag([0.0, 3.0])):
            with pytest.raises(ValueError, match="not positive definite"):
                d.to_numpy()(S=S, B=np.eye(2))


@pytest.mark.parametrize("target", ["jax", "torch"])
def test_jax_and_torch_support_symmetric_matrix_functions(target):
    mod = pytest.importorskip(target)
    if target == "jax":
        with mod.enable_x64(True):
            _compare(target)
    else:
        _compare(target)


def _compare(target):
    n = 4
    for f in FUNS:
        vals = _inputs(f, n, seed=11)
        vals = {"S": vals["S"], "B": vals["B"]}
        d = matdiff.derive(f"tr(B*{f}(S))", wrt="S", symmetric=["S"])
        want = d.to_numpy()(**vals)
        if target == "torch":
            import torch
            got = d.to_torch()(**{k: torch.tensor(v) for k, v in vals.items()})
        else:
            got = d.to_jax()(**vals)
        np.testing.assert_allclose(float(got[0]), want[0], rtol=1e-10)
        np.testing.assert_allclose(np.asarray(got[1]), want[1], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("target", ["jax", "torch"])
def test_jax_and_torch_hvps_agree_with_numpy(target):
    mod = pytest.importorskip(target)
    n, rng = 4, np.random.default_rng(12)
    S, B, V = _spd(n, rng), rng.standard_normal((n, n)), _sym(n, rng)
    for f in FUNS:
        d = matdiff.derive(f"tr(B*{f}(S))", wrt="S", symmetric=["S"])
        args = {"S": S, "B": B, d.hvp_variable: V}
        want = np.asarray(d.to_numpy(hvp=True)(**args))
        if target == "torch":
            got = d.to_torch(hvp=True)(**{k: mod.tensor(v) for k, v in args.items()})
        else:
            with mod.enable_x64(True):
                got = d.to_jax(hvp=True)(**args)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-8, atol=1e-10)
