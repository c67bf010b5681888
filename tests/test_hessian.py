"""Second derivatives (issue 5): second differential, Hessian-vector product, Hessian matrix.

Everything is checked numerically at random, well-conditioned inputs of two or more sizes
(non-square where the expression allows it):

* H[V] (``d.to_numpy(hvp=True)``) against central finite differences of the gradient
  returned by ``d.to_numpy()`` along V;
* the dense Hessian (``d.to_numpy(hessian=True)``): ``H @ vec(V) == vec(H[V])`` (column-major
  vec), H symmetric (on the symmetric subspace for a symmetric variable), and the value and
  gradient it returns equal those of ``d.to_numpy()``;
* ``<V, H[V]>`` against the second difference of f along V, and the second differential
  ``d2f(V, V)`` (compiled by deriving its printed text, with dX a variable) equals ``<V, H[V]>``.

Plus golden printed forms, the quality of the generated HVP code, and a Hypothesis test
over random expressions from tests/exprgen.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from exprgen import KINDS, n_examples, scalar_expressions, shapes_for, variables_in
from gradcheck import (
    assign_sizes,
    concrete_shape,
    declared_in,
    make_inputs,
    names_in,
    random_value,
    same_form,
)
from hypothesis import assume, event, given, note, settings
from hypothesis import strategies as st

import matdiff

SIZES = ({"n": 3, "m": 2, "k": 4}, {"n": 5, "m": 4, "k": 2}, {"n": 2, "m": 3, "k": 3})


# --------------------------------------------------------------------------- helpers


def vec(a) -> np.ndarray:
    """Column-major vec of a scalar / vector / matrix."""
    return np.atleast_1d(np.asarray(a, dtype=float)).reshape(-1, order="F")


def _add(x, h, v):
    if np.ndim(x) == 0:
        return float(x) + h * float(v)
    return np.asarray(x, dtype=float) + h * np.asarray(v, dtype=float)


def _direction(shape, symmetric, rng):
    if len(shape) == 0:
        return float(rng.standard_normal())
    v = rng.standard_normal(shape)
    if symmetric:
        v = (v + v.T) / 2
    return v


def _relerr(a, b) -> float:
    a, b = vec(a), vec(b)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-8))


def _d2f_function(d, name):
    """Compile the printed second differential as a function of (inputs..., dX)."""
    d2 = d.second_differential
    dname = "d" + name
    shapes = {n: ",".join(str(x) for x in dims) for n, dims in d.shapes.items()}
    shapes[dname] = shapes[name]
    sym = [n for n in d.symmetric if n in shapes] + ([dname] if name in d.symmetric else [])
    text = str(d2)
    shapes = {**declared_in(text, shapes), name: shapes[name]}  # d2f need not contain X
    e = matdiff.derive(text, wrt=name, shapes=shapes, symmetric=names_in(text, sym))
    return e.value_numpy(), set(e.variables)


def check_second_order(text, wrt, shapes=None, symmetric=(), kinds=None, sizes=SIZES, seed=0,
                       n_dirs=3, rtol=1e-6, check_d2f=True):
    """Numerical checks of the HVP, the dense Hessian and d2f; returns the Derivation."""
    d = matdiff.derive(text, wrt=wrt, shapes=shapes or {}, symmetric=list(symmetric))
    is_sym = wrt in d.symmetric
    f = d.to_numpy()
    fh = d.to_numpy(hessian=True)
    fv = d.to_numpy(hvp=True)
    vname = d.hvp_variable
    assert vname not in d.variables
    d2f, d2f_vars = _d2f_function(d, wrt) if check_d2f else (None, None)
    names = list(d.variables)
    rng = np.random.default_rng(seed)
    for r, base in enumerate(sizes):
        sz = assign_sizes({n: d.shapes[n] for n in names}, base, r)
        inputs, cshapes = make_inputs(d, sz, rng, kinds, symmetric, names)
        shp = cshapes[wrt]
        N = int(np.prod(shp)) if shp else 1
        ctx = f"{text!r} by {wrt} at sizes {sz}"

        value, grad = f(**inputs)
        v2, g2, H = fh(**inputs)
        assert abs(v2 - value) <= 1e-10 * max(1.0, abs(value)), ctx
        assert _relerr(g2, grad) < 1e-10, ctx
        if shp:
            assert isinstance(H, np.ndarray) and H.shape == (N, N), f"{ctx}: H shape {np.shape(H)}"
        else:
            assert isinstance(H, float), f"{ctx}: scalar variable: H should be a float, got {type(H)}"
        Hm = np.atleast_2d(np.asarray(H, dtype=float))
        # symmetry (on the symmetric subspace for a symmetric variable)
        if is_sym:
            n = shp[0]
            K = np.zeros((N, N))
            for i in range(n):
                for j in range(n):
                    K[j * n + i, i * n + j] = 1.0
            P = (np.eye(N) + K) / 2
            Hs = P @ Hm @ P
        else:
            Hs = Hm
        assert np.linalg.norm(Hs - Hs.T) <= 1e-8 * max(np.linalg.norm(Hs), 1e-12), f"{ctx}: H not symmetric"

        for _ in range(n_dirs):
            V = _direction(shp, is_sym, rng)
            HV = fv(**inputs, **{vname: V})
            assert np.shape(HV) == np.shape(inputs[wrt]), f"{ctx}: H[V] shape {np.shape(HV)}"
            # finite differences of the gradient along V
            h = 1e-5
            gp = f(**{**inputs, wrt: _add(inputs[wrt], h, V)})[1]
            gm = f(**{**inputs, wrt: _add(inputs[wrt], -h, V)})[1]
            fd = (np.asarray(gp) - np.asarray(gm)) / (2 * h)
            err = _relerr(fd, HV)
            assert err < max(rtol, 1e-6), f"{ctx}: H[V] vs finite differences of the gradient: rel err {err:.2e}"
            # the dense Hessian applied to vec(V)
            err = _relerr(Hm @ vec(V), HV)
            assert err < 1e-9, f"{ctx}: H @ vec(V) != vec(H[V]): rel err {err:.2e}"
            # <V, H[V]> against the second difference of f along V
            q = float(np.sum(vec(V) * vec(HV)))
            h2 = 1e-3
            fp = f(**{**inputs, wrt: _add(inputs[wrt], h2, V)})[0]
            fm = f(**{**inputs, wrt: _add(inputs[wrt], -h2, V)})[0]
            fd2 = (fp - 2 * value + fm) / h2**2
            tol = 1e-4 * max(abs(q), abs(fd2), 1.0) + 1e-9 * abs(value) / h2**2
            assert abs(q - fd2) <= tol, f"{ctx}: <V, H[V]> = {q} vs second difference {fd2}"
            if d2f is not None:
                args = {k: v for k, v in inputs.items() if k in d2f_vars}
                if "d" + wrt in d2f_vars:
                    args["d" + wrt] = V
                q2 = float(np.asarray(d2f(**args)).reshape(()))
                assert abs(q2 - q) <= 1e-9 * max(abs(q), 1.0), f"{ctx}: d2f(V, V) = {q2} != <V, H[V]> = {q}"
    return d


# --------------------------------------------------------------------------- numerical cases

CASES = [
    # text, wrt, shapes, symmetric, kinds
    ("logdet(X)", "X", {}, (), {"X": "wc"}),
    ("det(X)", "X", {}, (), {"X": "wc"}),
    ("tr(X*A*X)", "X", {}, (), {}),
    ("tr(X'*A*X)", "X", {"X": "n,m"}, (), {}),
    ("x'*A*x", "x", {}, (), {}),
    ("norm2(A*x - b)^2", "x", {"b": "n", "A": "n,m"}, (), {}),
    ("norm2(X - U*V')^2", "U", {"X": "n,m", "U": "n,k"}, (), {}),
    ("norm2(X - U*V')^2", "V", {"X": "n,m", "U": "n,k"}, (), {}),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", {"X": "n,m"}, (), {}),
    ("x'*inv(S)*x + logdet(S)", "S", {}, ("S",), {}),
    ("logdet(X) + tr(inv(X)*A)", "X", {}, (), {"X": "wc"}),
    ("x'*A*x + norm2(B*x)^2", "x", {"B": "m,n"}, (), {}),
    ("exp(s)*sin(s)^2", "s", {"s": ""}, (), {}),
    ("sum(tanh(W*x))", "W", {"W": "m,n"}, (), {}),
    ("tr(inv(S)*A) + logdet(S)", "S", {}, ("S",), {}),
    ("a*x'*x + exp(a)", "a", {}, (), {}),
    ("sum(exp(A*x)) + norm2(x)^2", "x", {"A": "m,n"}, (), {}),
]


@pytest.mark.parametrize("text,wrt,shapes,symmetric,kinds", CASES, ids=[f"{c[0]} by {c[1]}" for c in CASES])
def test_second_order_numeric(text, wrt, shapes, symmetric, kinds):
    check_second_order(text, wrt, shapes, symmetric, kinds)


def test_symmetric_hvp_is_symmetric(rng):
    d = matdiff.derive("x'*inv(S)*x + logdet(S)", wrt="S", symmetric=["S"])
    fv = d.to_numpy(hvp=True)
    n = 4
    R = rng.standard_normal((n, n))
    S = R @ R.T + n * np.eye(n)
    x = rng.standard_normal(n)
    V = rng.standard_normal((n, n))
    V = V + V.T
    HV = fv(V=V, S=S, x=x)
    assert np.allclose(HV, HV.T, atol=1e-12)


def test_scalar_hessian_is_float():
    d = matdiff.derive("exp(s)*sin(s)^2", wrt="s", shapes={"s": ""})
    s = 0.7
    value, grad, H = d.to_numpy(hessian=True)(s=s)
    assert isinstance(H, float)
    expected = math.exp(s) * (math.sin(s) ** 2 + 4 * math.sin(s) * math.cos(s) + 2 * math.cos(2 * s))
    assert H == pytest.approx(expected, rel=1e-12)
    assert d.to_numpy(hvp=True)(s=s, V=2.0) == pytest.approx(2 * expected, rel=1e-12)


def test_hvp_variable_avoids_clash():
    d = matdiff.derive("norm2(X - U*V')^2", wrt="U")
    assert d.hvp_variable not in d.variables
    assert d.hvp_variable == "W" and names_in(str(d.hvp), ["W"]) == ["W"], str(d.hvp)
    f = d.to_numpy(hvp=True)
    with pytest.raises(TypeError):
        f(X=np.eye(2), U=np.eye(2), V=np.eye(2))  # the direction is missing


def test_hessian_errors():
    with pytest.raises(matdiff.MatdiffError):
        matdiff.derive("A*x", wrt="x").hessian
    with pytest.raises(matdiff.MatdiffError):
        matdiff.derive("x'*A*y", wrt=["x", "y"]).hvp


def test_hessian_closed_forms_numeric(rng):
    """The dense Hessians equal the textbook matrices."""
    n, m = 5, 3
    A = rng.standard_normal((n, n))
    x = rng.standard_normal(n)
    H = matdiff.derive("x'*A*x", wrt="x").to_numpy(hessian=True)(x=x, A=A)[2]
    assert np.allclose(H, A + A.T)
    A2 = rng.standard_normal((n, m))
    b = rng.standard_normal(n)
    w = rng.standard_normal(m)
    H = matdiff.derive("norm2(A*x - b)^2", wrt="x", shapes={"b": "n"}).to_numpy(hessian=True)(A=A2, x=w, b=b)[2]
    assert np.allclose(H, 2 * A2.T @ A2)
    X = rng.standard_normal((n, n)) + n * np.eye(n)
    H = matdiff.derive("logdet(X)", wrt="X").to_numpy(hessian=True)(X=X)[2]
    Xi = np.linalg.inv(X)
    # d2 logdet = -tr(Xi dX Xi dX): H[(i,j),(k,l)] = -Xi[l,i] * Xi[j,k]
    expected = np.zeros((n * n, n * n))
    for j in range(n):
        for i in range(n):
            for l in range(n):
                for k in range(n):
                    expected[j * n + i, l * n + k] = -Xi[l, i] * Xi[j, k]
    assert np.allclose(H, expected)


# --------------------------------------------------------------------------- golden forms


def test_golden_logdet():
    d = matdiff.derive("logdet(X)", wrt="X")
    assert str(d.second_differential) == "-tr(inv(X)*dX*inv(X)*dX)"
    assert str(d.hvp) == "-inv(X)'*V'*inv(X)'"
    assert d.hvp_variable == "V"


def test_golden_tr_xax():
    d = matdiff.derive("tr(X*A*X)", wrt="X")
    assert same_form(str(d.hvp), "A'*V' + V'*A'"), str(d.hvp)


def test_golden_quadratic_form():
    assert same_form(str(matdiff.derive("x'*A*x", wrt="x").hessian), "A + A'")


def test_golden_least_squares():
    d = matdiff.derive("norm2(A*x - b)^2", wrt="x", shapes={"b": "n"})
    assert same_form(str(d.hessian), "2*A'*A"), str(d.hessian)


LOGISTIC = "sum(log(1 + exp(-y .* (X*w))))"
LOGISTIC_H = "X'*diag(sigmoid(-y .* (X*w)) .* y.^2 .* (1 - sigmoid(-y .* (X*w))))*X"


def _ew_factors(s: str) -> list[str]:
    """The sorted top-level '.*' factors of s (for order-insensitive comparison)."""
    out, depth, cur, i = [], 0, "", 0
    s = "".join(s.split())
    while i < len(s):
        ch = s[i]
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and s.startswith(".*", i):
            out.append(cur)
            cur, i = "", i + 2
            continue
        cur += ch
        i += 1
    return sorted(out + [cur])


def test_golden_logistic_hessian(rng):
    d = matdiff.derive(LOGISTIC, wrt="w")
    H = "".join(str(d.hessian).split())
    assert H.startswith("X'*diag(") and H.endswith(")*X"), H
    assert _ew_factors(H[len("X'*diag("):-len(")*X")]) == _ew_factors(LOGISTIC_H.replace(" ", "")[8:-3]), H
    # and numerically against the golden formula, evaluated independently
    n, m = 40, 4
    X = rng.standard_normal((n, m))
    y = np.sign(rng.standard_normal(n))
    w = rng.standard_normal(m)
    s = 1 / (1 + np.exp(y * (X @ w)))  # sigmoid(-y .* (X*w))
    expected = X.T @ np.diag(s * y**2 * (1 - s)) @ X
    Hn = d.to_numpy(hessian=True)(X=X, y=y, w=w)[2]
    assert np.allclose(Hn, expected, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- generated code


@pytest.mark.parametrize("text,wrt", [(LOGISTIC, "w"), ("logdet(X) + tr(inv(X)*A)", "X")])
def test_hvp_source_is_matrix_free(text, wrt):
    src = matdiff.derive(text, wrt=wrt).numpy_source("hvp", hessian=False, hvp=True)
    for bad in ("kron", "_commutation", "np.diagflat"):
        assert bad not in src, f"{bad} in the HVP source of {text!r}:\n{src}"
    ns: dict = {}
    exec(compile(src, "<hvp>", "exec"), ns)
    assert callable(ns["hvp"])


def test_dense_logistic_hessian_does_not_form_diag():
    src = matdiff.derive(LOGISTIC, wrt="w").numpy_source("hess", hessian=True)
    assert "np.diagflat" not in src and "np.diag(" not in src, src


def test_standalone_hessian_source_runs(rng):
    d = matdiff.derive("logdet(X) + tr(inv(X)*A)", wrt="X")
    ns: dict = {}
    exec(compile(d.numpy_source("fh", hessian=True), "<fh>", "exec"), ns)
    n = 4
    X = rng.standard_normal((n, n)) + n * np.eye(n)
    A = rng.standard_normal((n, n))
    v, g, H = ns["fh"](X, A)
    v0, g0, H0 = d.to_numpy(hessian=True)(X=X, A=A)
    assert v == v0 and np.allclose(g, g0) and np.allclose(H, H0)


# --------------------------------------------------------------------------- random expressions

MAX_ABS = 1e6
MAX_DEPTH = 4


@settings(max_examples=n_examples(60), deadline=None)
@given(data=st.data())
def test_random_expression_hvp(data):
    text, with_sym = data.draw(scalar_expressions(max_depth=MAX_DEPTH), label="expr")
    shapes = declared_in(text, shapes_for(with_sym))
    names = variables_in(text)
    symmetric = names_in(text, ["S"])
    wrt = data.draw(st.sampled_from(names), label="wrt")
    n = data.draw(st.integers(2, 4), label="n")
    m = data.draw(st.integers(2, 4), label="m")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    note(f"derive({text!r}, wrt={wrt!r}, symmetric={symmetric}) at n={n}, m={m}")
    d = matdiff.derive(text, wrt=wrt, shapes=shapes, symmetric=symmetric)
    note(f"gradient: {d.gradient}")
    note(f"H[{d.hvp_variable}] = {d.hvp}")
    f = d.to_numpy()
    fv = d.to_numpy(hvp=True)
    rng = np.random.default_rng(seed)
    inputs = {}
    for name in d.variables:
        shp = concrete_shape(d.shapes[name], {"n": n, "m": m})
        inputs[name] = random_value(shp, KINDS.get(name, "any"), rng, symmetric=name in symmetric)
    shp = concrete_shape(d.shapes[wrt], {"n": n, "m": m})
    V = _direction(shp, wrt in symmetric, rng)
    def grad_at(t):
        return np.asarray(f(**{**inputs, wrt: _add(inputs[wrt], t, V)})[1], dtype=float)

    with np.errstate(all="ignore"):
        value, grad = f(**inputs)
        HV = np.asarray(fv(**inputs, **{d.hvp_variable: V}), dtype=float)
        h = 1e-5
        gp, gm, gp4, gm4 = grad_at(h), grad_at(-h), grad_at(2 * h), grad_at(-2 * h)
    arrays = [np.asarray(value, dtype=float), np.asarray(grad, dtype=float), HV, gp, gm, gp4, gm4]
    finite = all(np.all(np.isfinite(a)) and np.all(np.abs(a) < MAX_ABS) for a in arrays)
    if not finite:
        event("skipped: not finite / huge")
    assume(finite)
    assert HV.shape == np.shape(inputs[wrt])
    # a wrong H[V] disagrees at every step; an ill-conditioned gradient (inv of I + E*E' with a
    # large E) can make one step's difference noisy, so larger steps are tried before failing
    for h in (1e-5, 1e-4, 1e-3):
        if h != 1e-5:
            with np.errstate(all="ignore"):
                gp, gm, gp4, gm4 = grad_at(h), grad_at(-h), grad_at(2 * h), grad_at(-2 * h)
        fd = (gp - gm) / (2 * h)
        fd5 = (-gp4 + 8 * gp - 8 * gm + gm4) / (12 * h)
        # roundoff of the finite difference: a few hundred ulps of |grad| over h
        noise = 512 * np.finfo(float).eps * max(1.0, float(np.max(np.abs(grad)))) / h
        scale = max(float(np.linalg.norm(HV)), float(np.linalg.norm(fd)), 1.0)
        err = min(float(np.linalg.norm(fd - HV)), float(np.linalg.norm(fd5 - HV)))
        if err <= 1e-5 * scale + noise * math.sqrt(HV.size):
            break
    else:
        raise AssertionError(f"H[V] mismatch for {text!r} by {wrt}: |fd - H[V]| = {err:.3e}, scale {scale:.3e}")
    # the dense Hessian agrees with the HVP, and is symmetric (on symmetric directions for S)
    note(f"H = {d.hessian}")
    with np.errstate(all="ignore"):
        H = np.atleast_2d(np.asarray(d.to_numpy(hessian=True)(**inputs)[2], dtype=float))
    assert H.shape == (HV.size, HV.size)
    hv = H @ vec(V)
    assert np.linalg.norm(hv - vec(HV)) <= 1e-8 * max(np.linalg.norm(hv), np.linalg.norm(HV), 1.0), (
        f"H @ vec(V) != vec(H[V]) for {text!r} by {wrt}")
    if wrt not in symmetric:
        assert np.linalg.norm(H - H.T) <= 1e-8 * max(np.linalg.norm(H), 1.0), f"H not symmetric: {text!r} by {wrt}"


# --------------------------------------------------------------------------- CLI --hessian


def _cli(*args):
    from click.testing import CliRunner

    from matdiff.cli import main

    return CliRunner().invoke(main, list(args))


def test_cli_hessian_text():
    r = _cli("logdet(X)", "--wrt", "X", "--hessian")
    assert r.exit_code == 0, r.output
    assert "gradient      df/dX = inv(X)'" in r.output
    assert "d2f = -tr(inv(X)*dX*inv(X)*dX)" in r.output
    assert "H[V] = -inv(X)'*V'*inv(X)'" in r.output
    assert "H = -kron(inv(X), inv(X)')*K(n, n)" in r.output
    plain = _cli("logdet(X)", "--wrt", "X")
    assert "d2f" not in plain.output and plain.output.strip() in r.output


def test_cli_hessian_json_and_latex():
    import json

    r = _cli("norm2(X - U*V')^2", "--wrt", "U", "--hessian", "--format", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["gradient"]["U"]["text"] == "-2*(X - U*V')*V"
    assert set(out["second_differential"]) == {"text", "latex"}
    assert out["hvp"]["variable"] == "W" and "W" in out["hvp"]["text"] and out["hvp"]["latex"]
    assert set(out["hessian"]) == {"text", "latex"} and "kron" in out["hessian"]["text"]
    r = _cli("x'*A*x", "--wrt", "x", "--hessian", "--format", "latex")
    assert r.exit_code == 0, r.output
    assert "\\mathrm{d}^2 f = " in r.output and "H[V] = " in r.output
    assert r.output.strip().splitlines()[-1].startswith("H = ")


def test_cli_hessian_errors():
    # several variables are supported (blocks); a non-scalar expression is an error
    r = _cli("x'*A*y", "--wrt", "x", "--wrt", "y", "--hessian")
    assert r.exit_code == 0 and "H(x,y) = A" in r.output and "H(y,x) = A'" in r.output
    r = _cli("A*x", "--wrt", "x", "--hessian")
    assert r.exit_code == 2 and "scalar" in r.output


def test_cli_codegen_hessian_and_hvp_modules_run():
    """`matdiff codegen --hessian` / `--hvp` emit modules that compute the same numbers."""
    from click.testing import CliRunner

    from matdiff.cli import main

    runner = CliRunner()
    rng = np.random.default_rng(5)
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    V = rng.standard_normal(4)
    r = runner.invoke(main, ["codegen", "x'*A*x", "--wrt", "x", "--hessian", "--name", "fh"])
    assert r.exit_code == 0, r.output
    ns: dict = {}
    exec(compile(r.output, "<fh>", "exec"), ns)  # noqa: S102 - matdiff's own output
    value, grad, H = ns["fh"](x=x, A=A)
    np.testing.assert_allclose(H, A + A.T, rtol=1e-12)
    np.testing.assert_allclose(grad, (A + A.T) @ x, rtol=1e-12)
    r = runner.invoke(main, ["codegen", "x'*A*x", "--wrt", "x", "--hvp", "--name", "fv"])
    assert r.exit_code == 0, r.output
    ns = {}
    exec(compile(r.output, "<fv>", "exec"), ns)  # noqa: S102
    np.testing.assert_allclose(ns["fv"](x, A, V), (A + A.T) @ V, rtol=1e-12)
    r = runner.invoke(main, ["codegen", "x'*A*x", "--wrt", "x", "--hvp", "--hessian"])
    assert r.exit_code == 2 and "not both" in r.output


# ---------------------------------------------------------------------- several variables
MULTI = [
    ("norm2(X - U*V')^2", ["U", "V"], {}, []),            # low-rank factorisation
    ("x'*A*y + norm2(x)^2*a", ["x", "y", "a"], {}, []),   # vectors and a scalar
    ("logdet(S) + x'*S*x + tr(S*A)", ["S", "x"], {}, ["S"]),  # symmetric S with a vector
]


def _vec(v):
    return np.reshape(np.asarray(v, dtype=float), -1, order="F")


@pytest.mark.parametrize("text, wrt, shapes, sym", MULTI, ids=[c[0] for c in MULTI])
@pytest.mark.parametrize("n, m", [(3, 2), (4, 3)])
def test_several_variables_hvp_and_blocks(text, wrt, shapes, sym, n, m):
    """H[V] for several variables against finite differences of the gradients; the dense
    block Hessian is symmetric and agrees with the HVP on the stacked vec."""
    d = matdiff.derive(text, wrt=wrt, shapes=shapes or None, symmetric=sym)
    rng = np.random.default_rng(n * 10 + m)
    sizes = {"n": n, "m": m, "k": 2}
    inputs = {}
    for name, dims in d.shapes.items():
        shp = tuple(sizes[x] if isinstance(x, str) else x for x in dims)
        v = rng.standard_normal(shp) if shp else float(rng.standard_normal())
        if name in sym:
            v = v @ v.T + shp[0] * np.eye(shp[0])
        inputs[name] = v
    dirs = {}
    for a in wrt:
        shp = np.shape(inputs[a])
        v = rng.standard_normal(shp) if shp else float(rng.standard_normal())
        dirs[a] = (v + v.T) / 2 if a in sym else v
    f = d.to_numpy()
    h = 1e-6
    plus = {**inputs, **{a: inputs[a] + h * dirs[a] for a in wrt}}
    minus = {**inputs, **{a: inputs[a] - h * dirs[a] for a in wrt}}
    gp, gm = f(**plus)[1], f(**minus)[1]
    hv = d.to_numpy(hvp=True)(**inputs, **{d.hvp_variables[a]: dirs[a] for a in wrt})
    for b in wrt:
        fd = (np.asarray(gp[b]) - np.asarray(gm[b])) / (2 * h)
        np.testing.assert_allclose(hv[b], fd, rtol=1e-5, atol=1e-6 * max(1.0, np.max(np.abs(fd))))
    value, grads, H = d.to_numpy(hessian=True)(**inputs)
    stacked = np.concatenate([_vec(dirs[a]) for a in wrt])
    np.testing.assert_allclose(H @ stacked, np.concatenate([_vec(hv[b]) for b in wrt]),
                               rtol=1e-9, atol=1e-9 * max(1.0, np.max(np.abs(H))))
    if not sym:
        np.testing.assert_allclose(H, H.T, rtol=1e-9, atol=1e-9 * max(1.0, np.max(np.abs(H))))
    # the standalone module computes the same Hessian
    ns: dict = {}
    exec(compile(d.numpy_source("fh", hessian=True), "<fh>", "exec"), ns)  # noqa: S102
    np.testing.assert_allclose(ns["fh"](**inputs)[2], H, rtol=1e-12)


def test_several_variables_single_variable_properties_point_to_the_dicts():
    d = matdiff.derive("x'*A*y", wrt=["x", "y"])
    with pytest.raises(matdiff.MatdiffError, match="hvps"):
        d.hvp
    with pytest.raises(matdiff.MatdiffError, match="hessians"):
        d.hessian
    assert str(d.hessians[("x", "y")]) == "A" and str(d.hessians[("y", "x")]) == "A'"
