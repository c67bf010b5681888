"""Matrix functions (issue 11): expm, logm, sqrtm, sinm, cosm and their Fréchet derivatives.

Gradients and Jacobians against central differences of the independent evaluator
(tests/reference.py: SciPy values) at n = 2 and 4, with nonsymmetric arguments where the
function allows (expm, sinm, cosm everywhere; logm and sqrtm near I or SPD); the issue's
trace simplifications as printed; text and LaTeX; the back-ends; the second derivative
(supported where the gradient is itself a matrix function, a clear error otherwise).
"""

from __future__ import annotations

import numpy as np
import pytest
from reference import reference_value

import matdiff
from matdiff.core.errors import DerivationError, MatdiffError
from matdiff.lang.parsing import parse, parse_full
from matdiff.render.latex import to_latex

SIZES = (2, 4)


def _matrix(kind, n, rng):
    """A nonsymmetric matrix ("any"), one near I with spectrum in the right half-plane
    ("near-I"), or an SPD one ("spd")."""
    R = rng.standard_normal((n, n))
    if kind == "any":
        return 0.6 * R
    if kind == "near-I":
        return np.eye(n) + 0.3 * R / n
    return R @ R.T / n + 0.5 * np.eye(n)


def _inputs(shapes, kinds, n, seed):
    rng = np.random.default_rng(seed)
    out = {}
    for name, spec in shapes.items():
        if spec == "n,n":
            out[name] = _matrix(kinds.get(name, "any"), n, rng)
        else:
            out[name] = rng.standard_normal(n)
    return out


def _ref(text, shapes, sym, vals, n):
    return np.asarray(reference_value(text, shapes, sym, vals, {"n": n}), dtype=float)


def _direction(vals, wrt, sym, rng):
    V = rng.standard_normal(np.shape(vals[wrt]))
    return (V + V.T) / 2 if wrt in sym else V


def _fd(text, shapes, sym, vals, wrt, V, n, h=1e-4):
    def f(t):
        return _ref(text, shapes, sym, {**vals, wrt: vals[wrt] + t * V}, n)
    return (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)


GRADIENTS = [
    ("tr(expm(A))", "A", {"A": "n,n"}, {}, ()),
    ("tr(B*expm(A))", "A", {"A": "n,n", "B": "n,n"}, {}, ()),
    ("norm2(expm(A)*x)^2", "A", {"A": "n,n", "x": "n"}, {}, ()),
    ("norm2(expm(A)*x)^2", "x", {"A": "n,n", "x": "n"}, {}, ()),
    ("x'*logm(S)*x", "S", {"S": "n,n", "x": "n"}, {"S": "spd"}, ("S",)),
    ("x'*logm(A)*x", "A", {"A": "n,n", "x": "n"}, {"A": "near-I"}, ()),
    ("tr(sqrtm(S)*B)", "S", {"S": "n,n", "B": "n,n"}, {"S": "spd"}, ("S",)),
    ("tr(sqrtm(A)*B)", "A", {"A": "n,n", "B": "n,n"}, {"A": "near-I"}, ()),
    ("tr(logm(A))", "A", {"A": "n,n"}, {"A": "near-I"}, ()),
    ("tr(sqrtm(A))", "A", {"A": "n,n"}, {"A": "near-I"}, ()),
    ("tr(B*sinm(A)) + sum(cosm(A)*x)", "A", {"A": "n,n", "B": "n,n", "x": "n"}, {}, ()),
    ("tr(expm(A'*B)*logm(C))", "B", {"A": "n,n", "B": "n,n", "C": "n,n"}, {"C": "near-I"}, ()),
]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("text,wrt,shapes,kinds,sym", GRADIENTS, ids=[f"{g[0]} by {g[1]}" for g in GRADIENTS])
def test_gradient_agrees_with_finite_differences(text, wrt, shapes, kinds, sym, n):
    d = matdiff.derive(text, wrt=wrt, shapes=shapes, symmetric=sym)
    vals = _inputs(shapes, kinds, n, seed=n + len(text))
    for s in sym:
        vals[s] = (vals[s] + vals[s].T) / 2
    value, grad = d.to_numpy()(**vals)
    assert np.isclose(value, _ref(text, shapes, sym, vals, n).item(), rtol=1e-10, atol=1e-10)
    rng = np.random.default_rng(7)
    for _ in range(2):
        V = _direction(vals, wrt, sym, rng)
        fd = _fd(text, shapes, sym, vals, wrt, V, n).item()
        assert np.isclose(np.sum(np.asarray(grad) * V), fd, rtol=1e-6, atol=1e-7), (text, str(d.gradient))


JACOBIANS = [
    ("expm(A)", {"A": "n,n"}, {}),
    ("sqrtm(A)", {"A": "n,n"}, {"A": "near-I"}),
    ("logm(A)*B", {"A": "n,n", "B": "n,n"}, {"A": "near-I"}),
    ("sinm(A) + cosm(A')", {"A": "n,n"}, {}),
]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("text,shapes,kinds", JACOBIANS, ids=[j[0] for j in JACOBIANS])
def test_jacobian_agrees_with_finite_differences(text, shapes, kinds, n):
    d = matdiff.derive(text, wrt="A", shapes=shapes)
    vals = _inputs(shapes, kinds, n, seed=3 * n)
    value, J = d.to_numpy()(**vals)
    np.testing.assert_allclose(value, _ref(text, shapes, (), vals, n), rtol=1e-10, atol=1e-10)
    V = np.random.default_rng(1).standard_normal((n, n))
    fd = _fd(text, shapes, (), vals, "A", V, n)
    np.testing.assert_allclose(J @ V.reshape(-1, order="F"), fd.reshape(-1, order="F"), rtol=1e-6, atol=1e-7)


def test_the_issues_trace_simplifications():
    assert str(matdiff.derive("tr(expm(A))", wrt="A").gradient) == "expm(A)'"
    assert str(matdiff.derive("tr(logm(A))", wrt="A").gradient) == "inv(A)'"
    assert str(matdiff.derive("tr(sqrtm(A))", wrt="A").gradient) == "0.5*inv(sqrtm(A))'"
    assert str(matdiff.derive("tr(sinm(A))", wrt="A").gradient) == "cosm(A)'"
    assert str(matdiff.derive("tr(cosm(A))", wrt="A").gradient) == "-sinm(A)'"
    assert str(matdiff.derive("tr(expm(A))", wrt="A").differential) == "tr(expm(A)*dA)"


def test_the_frechet_derivative_is_printed_and_dA_is_not_assumed_to_commute_with_A():
    d = matdiff.derive("tr(B*expm(A))", wrt="A")
    assert str(d.differential) == "tr(B*Dexpm(A, dA))"
    assert str(d.gradient) == "Dexpm(A', B')"  # tr(C'*Dexpm(A, dA)) = tr(Dexpm(A', C)'*dA)
    assert str(matdiff.derive("expm(A)", wrt="A").differential) == "Dexpm(A, dA)"
    assert str(matdiff.derive("expm(A)", wrt="A").jacobian) == "Jexpm(A)"


@pytest.mark.parametrize("text", ["expm(A)", "logm(A) + sqrtm(A)'", "Dexpm(A, B*C)", "Dsqrtm(A', B)",
                                  "Jcosm(A)*vec(B)", "tr(Dsinm(A, B)*C) + sum(Jlogm(A))"])
def test_text_round_trip(text):
    e = parse(text)
    assert parse(str(e)) is e


def test_gradients_print_as_text_that_parses_back():
    for text, wrt, shapes, _, sym in GRADIENTS:
        d = matdiff.derive(text, wrt=wrt, shapes=shapes, symmetric=sym)
        g = d.gradient
        assert parse(str(g), shapes={**shapes}, symmetric=[s for s in sym if s in str(g)]) is g, text


def test_latex():
    assert to_latex(parse("expm(A)")) == r"\operatorname{expm}\left(A\right)"
    assert to_latex(parse("Dexpm(A, B)")) == r"\mathrm{D}\operatorname{expm}\left(A\right)\left[B\right]"
    assert to_latex(parse("Jsqrtm(A)")) == r"\mathrm{J}_{\operatorname{sqrtm}}\left(A\right)"
    assert "logm" in matdiff.derive("tr(B*logm(A))", wrt="A").latex()


def test_a_scalar_argument_is_the_scalar_function():
    assert str(parse("expm(a) + logm(b) + sqrtm(c)")) == str(parse("exp(a) + log(b) + sqrt(c)"))
    assert str(matdiff.derive("sinm(a)", wrt="a").gradient) == "cos(a)"


def test_matrix_functions_need_a_square_argument():
    with pytest.raises(MatdiffError, match="square"):
        parse("expm(X)", shapes={"X": "n,m"})
    with pytest.raises(MatdiffError, match="shape mismatch"):
        parse("Dexpm(A, X)", shapes={"A": "n,n", "X": "n,m"})


def test_elementwise_function_of_a_square_matrix_gets_a_note():
    notes = parse_full("tr(exp(A)) + sum(exp(A*B))").notes
    assert sum("exp() of a square matrix is elementwise" in n and "expm()" in n for n in notes) == 1
    assert not any("elementwise" in n for n in parse_full("sum(exp(X))", {"X": "n,m"}).notes)
    assert not any("elementwise" in n for n in parse_full("tr(expm(A))").notes)


def test_cli_notes_the_elementwise_exponential(tmp_path):
    from click.testing import CliRunner

    from matdiff.cli import main

    r = CliRunner().invoke(main, ["derive", "tr(exp(A))", "--wrt", "A"])
    assert r.exit_code == 0
    assert r.output.count("expm() of") == 0 and "the matrix function is expm()" in r.output


# ---------------------------------------------------------------------------- second order


HESSIANS = [
    ("tr(expm(A))", {"A": "n,n"}, {}),
    ("tr(B*expm(A))", {"A": "n,n", "B": "n,n"}, {}),
    ("x'*logm(A)*x", {"A": "n,n", "x": "n"}, {"A": "near-I"}),
    ("tr(sqrtm(A)*B) + tr(B*sinm(A)*cosm(A))", {"A": "n,n", "B": "n,n"}, {"A": "near-I"}),
]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("text,shapes,kinds", HESSIANS, ids=[h[0] for h in HESSIANS])
def test_hessian_and_hvp_agree_with_finite_differences_of_the_gradient(text, shapes, kinds, n):
    d = matdiff.derive(text, wrt="A", shapes=shapes)
    vals = _inputs(shapes, kinds, n, seed=5 * n)
    _, _, H = d.to_numpy(hessian=True)(**vals)
    hvp = d.to_numpy(hvp=True)
    grad = d.to_numpy()
    rng = np.random.default_rng(1)
    for _ in range(2):
        V = rng.standard_normal((n, n))
        h = 1e-4
        fd = (grad(**{**vals, "A": vals["A"] + h * V})[1] - grad(**{**vals, "A": vals["A"] - h * V})[1]) / (2 * h)
        np.testing.assert_allclose(H @ V.reshape(-1, order="F"), fd.reshape(-1, order="F"), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(hvp(**vals, V=V), fd, rtol=1e-5, atol=1e-6)


def test_the_second_frechet_derivative_is_printed():
    d = matdiff.derive("tr(B*expm(A))", wrt="A")
    assert str(d.hvp) == "D2expm(A', B', V')"
    assert str(d.hessian) == "J2expm(A', B')*K(n, n)"
    assert parse("D2expm(A, B, C)") is parse("D2expm(A, C, B)")  # symmetric in the directions
    assert to_latex(parse("D2logm(A, B, C)")) == \
        r"\mathrm{D}^2\operatorname{logm}\left(A\right)\left[B, C\right]"


def test_a_third_frechet_derivative_is_a_clear_error():
    d = matdiff.derive("tr(B*Dexpm(A, C))", wrt="A")
    assert str(d.gradient) == "D2expm(A', B', C')"
    with pytest.raises(DerivationError, match="third Fréchet derivative of expm is not supported"):
        d.hessian
    with pytest.raises(DerivationError, match="second Fréchet derivative of logm is not supported"):
        matdiff.derive("sum(Jlogm(A))", wrt="A").gradient
    with pytest.raises(DerivationError, match="generated for NumPy only"):
        matdiff.derive("tr(B*expm(A))", wrt="A").source("jax", hessian=True)


# ---------------------------------------------------------------------------- code


def test_generated_numpy_code_refuses_a_logm_outside_its_domain():
    f = matdiff.derive("tr(B*logm(A))", wrt="A").to_numpy()
    A = np.diag([1.0, -2.0])
    with pytest.raises(ValueError, match="negative real axis"):
        f(A=A, B=np.eye(2))
    # a real matrix with complex eigenvalues away from the negative axis: a real result
    R = np.array([[1.0, -0.5], [0.5, 1.0]])
    value, grad = f(A=R, B=np.eye(2))
    assert np.isrealobj(grad) and np.isclose(value, np.trace(np.real(__import__("scipy").linalg.logm(R))))


def test_generated_numpy_module_names_scipy():
    for text in ("tr(expm(A))", "tr(B*logm(A))"):
        src = matdiff.derive(text, wrt="A").source("numpy")
        assert "Imports NumPy, and SciPy" in src and "import scipy.linalg" in src
    assert "SciPy" not in matdiff.derive("tr(inv(A))", wrt="A").source("numpy")


@pytest.mark.parametrize("target", ["jax", "torch"])
def test_other_backends_lower_expm_and_refuse_the_rest(target):
    mod = pytest.importorskip(target)
    if target == "jax":  # float64, so the comparison can be tight (as in test_backends.py)
        with mod.enable_x64(True):
            _compare_backend(target)
    else:
        _compare_backend(target)


def _compare_backend(target):
    n = 3
    rng = np.random.default_rng(2)
    A, B = _matrix("any", n, rng), rng.standard_normal((n, n))
    d = matdiff.derive("tr(B*expm(A))", wrt="A")
    want = d.to_numpy()(A=A, B=B)
    got = getattr(d, f"to_{target}")()(A=A, B=B)
    np.testing.assert_allclose(float(got[0]), want[0], rtol=1e-10)
    np.testing.assert_allclose(np.asarray(got[1]), want[1], rtol=1e-8, atol=1e-10)
    dj = matdiff.derive("expm(A)", wrt="A")
    np.testing.assert_allclose(np.asarray(getattr(dj, f"to_{target}")()(A=A)[1]), dj.to_numpy()(A=A)[1],
                               rtol=1e-8, atol=1e-10)
    for f in ("logm", "sqrtm", "sinm", "cosm"):
        with pytest.raises(DerivationError, match=f"{f} has no {target} lowering"):
            matdiff.derive(f"tr(B*{f}(A))", wrt="A").source(target)


def test_checker_samples_the_domain_of_logm_and_sqrtm():
    for text in ("x'*logm(S)*x", "tr(sqrtm(A)*B)", "tr(B*expm(A))"):
        assert matdiff.derive(text, wrt=["S" if "S" in text else "A"]).check().ok, text


# ---------------------------------------------------------------------------- the course's notation


@pytest.mark.parametrize("bracketed,plain", [
    ("Dexpm(A)[B*C]", "Dexpm(A, B*C)"), ("tr(Dlogm(A')[B])", "tr(Dlogm(A', B))"),
    ("D2sinm(A)[B, C]", "D2sinm(A, B, C)"), ("Dsqrtm(A)[Dcosm(A)[B]]", "Dsqrtm(A, Dcosm(A, B))")])
def test_the_frechet_derivative_parses_in_the_bracket_notation_it_prints_in_latex(bracketed, plain):
    assert parse(bracketed) is parse(plain)
    assert r"\left(A" in to_latex(parse(bracketed)) and r"\right)\left[" in to_latex(parse(bracketed))


def test_a_gradient_typed_back_in_the_bracket_notation_checks():
    d = matdiff.derive("tr(B*expm(A))", wrt="A")
    assert d.check(claim="Dexpm(A')[B']").ok


@pytest.mark.parametrize("text,match", [
    ("tr(Dexpm(A)[B, C])", r"Dexpm\(\) takes 1 argument in parentheses and 1 direction in brackets"),
    ("tr(D2expm(A)[B])", r"D2expm\(A\)\[M, N\]"),
    ("tr(Dexpm(A, B)[C])", "got 2 and 1"),
    ("tr(inv(A)[B])", r"no indexing; brackets after a call only give the direction of a Fréchet derivative"),
])
def test_brackets_after_other_calls_are_clear_errors(text, match):
    with pytest.raises(MatdiffError, match=match):
        parse(text)


@pytest.mark.parametrize("text,match", [("tr(e^A)", r"e\^A is written expm\(A\)"),
                                        ("tr(exp(1)^A)", r"e\^A is written expm\(A\)"),
                                        ("tr(2^A)", r"expm\(log\(c\)\*A\)")])
def test_e_to_a_matrix_power_says_expm(text, match):
    with pytest.raises(MatdiffError, match=match):
        parse(text)
