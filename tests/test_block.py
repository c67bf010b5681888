"""Block matrices: ``[A, B; C, D]``, stacking ``[x; y]``, literals ``[1, 2; 3, 4]`` (issue 10).

Sizes of a block matrix are sums of sizes (``core.shapes.Plus``); checked here: the unifier
on sums, parsing and its errors, values against the independent evaluator (which stacks
with ``hstack``/``vstack``, tests/reference.py), gradients, Jacobians and Hessians against
finite differences at two sizes, every back-end, LaTeX, and that printed results parse back.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import check_gradient
from reference import reference_gradient, reference_value

import matdiff
from matdiff.core import shapes as S
from matdiff.render.latex import to_latex

m, n, k = S.sym("m"), S.sym("n"), S.sym("k")


# ---------------------------------------------------------------------------- sizes that are sums
def test_sums_of_sizes_are_canonical():
    assert S.dim_add(m, n) == S.dim_add(n, m)
    assert S.dim_add(n, n) == S.dim_mul(2, n)
    assert S.dim_add(S.dim_add(m, 1), n, 2) == S.dim_add(n, m, 3)
    assert S.dim_mul(2, S.dim_add(m, n)) == S.dim_add(m, m, n, n)  # a factor is distributed
    assert str(S.dim_add(m, n)) == "m+n" and str(S.dim_mul(k, S.dim_add(m, n))) == "k*(m+n)"
    assert S.dim_value(S.dim_mul(k, S.dim_add(m, n, 1)), {"m": 2, "n": 3, "k": 5}) == 30
    assert S.parse_dims("m+n,k") == (S.dim_add(m, n), k)


def test_unifier_cancels_common_terms_and_solves_for_a_lone_unknown():
    U = S.Unifier()
    f, g = U.fresh_dim(), U.fresh_dim()
    assert U.unify(S.dim_add(m, f), S.dim_add(m, n)) and U.resolve(f) == n
    assert U.unify(S.dim_add(g, 2), 5) and U.resolve(g) == 3
    assert not U.unify(S.dim_add(m, n), m)  # sizes are positive: m + n is never m
    assert not U.unify(S.dim_add(m, n), S.dim_add(m, k))  # n and k are different declared sizes
    h = U.fresh_dim()
    assert not U.unify(h, S.dim_add(h, m))  # occurs check inside a sum


# ---------------------------------------------------------------------------- parsing
@pytest.mark.parametrize("text,shapes,want", [
    ("[A, B; C, D]", {"A": "n,k", "D": "m,p"}, ("m+n", "k+p")),
    ("[x; y]", {"x": "n", "y": "m"}, ("m+n",)),
    ("[1, 2; 3, 4]", {}, ("2", "2")),
    ("[x'*A*x, x'*x]", {"A": "n,n"}, ("1", "2")),
    ("[x; 1]", {"x": "n"}, ("n+1",)),
    ("[A, B; C]", {"A": "n,k", "B": "n,p", "C": "m,k+p"}, ("m+n", "k+p")),  # rows stacked whole
    ("[A; sqrt(lambda)*I]", {"A": "m,n"}, ("m+n", "n")),
])
def test_shapes_of_block_matrices(text, shapes, want):
    p = matdiff.parse(text, shapes)
    got = tuple(str(x) for x in ((p.rows,) if p.cols == 1 else p.shape))
    assert got == want


@pytest.mark.parametrize("text,shapes,message", [
    ("[A, B]", {"A": "n,k", "B": "m,k"}, "the blocks of row 1 have different heights"),
    ("[A; B]", {"A": "n,k", "B": "n,m"}, "the blocks of column 1 have different widths"),
    ("[A, 0; 0, B]", {"A": "n,n", "B": "m,m"}, "write zeros for a zero block"),
    ("[A, B; C]", {"A": "n,k", "B": "n,p", "C": "m,k"}, "row 2 is k wide but row 1 is k+p wide"),
    ("A[1]", {}, "matdiff has no indexing"),
    ("[x; ]", {}, "unexpected ']'"),
])
def test_bad_block_matrices_get_a_clear_error(text, shapes, message):
    with pytest.raises(matdiff.MatdiffError) as e:
        matdiff.parse(text, shapes)
    assert message in str(e.value)


def test_the_cli_reports_a_bad_block_matrix_with_exit_code_2():
    from click.testing import CliRunner

    from matdiff.cli import main

    r = CliRunner().invoke(main, ["[A, B]", "--wrt", "A", "--shape", "A=n,k", "--shape", "B=m,k"])
    assert r.exit_code == 2 and "different heights" in r.output and "Traceback" not in r.output


# ---------------------------------------------------------------------------- the examples
def test_ridge_regression_as_a_stacked_least_squares_problem():
    d = matdiff.derive("norm2([A; sqrt(lambda)*I]*x - [b; zeros])^2", wrt="x", shapes={"A": "m,n"})
    assert str(d.gradient) == "2*A'*(A*x - b) + 2*lambda*x"
    assert d.shapes["b"] == ("m",)
    assert any("matched block by block" in s for s in d.notes)  # b's size was a guess: said so
    assert d.check().ok


def test_a_row_of_scalars_has_a_jacobian():
    d = matdiff.derive("[x'*A*x, x'*x]", wrt="x", shapes={"A": "n,n"})
    assert str(d.jacobian) == "[x'*(A + A'); 2*x']"
    assert d.check().ok


def test_a_numeric_literal_is_a_constant_matrix():
    d = matdiff.derive("[1, 2; 3, 4]*x", wrt="x")
    assert str(d.jacobian) == "[1, 2; 3, 4]"
    _, J = d.to_numpy()(x=np.array([1.0, -1.0]))
    np.testing.assert_array_equal(J, [[1, 2], [3, 4]])


def test_blocks_multiply_out_conformally():
    sh = {"A": "n,k", "B": "n,p", "x": "k", "y": "p"}
    assert str(matdiff.parse("[A, B]*[x; y]", sh)) == "A*x + B*y"
    assert str(matdiff.parse("[x; y]'*[x; y]", {"x": "n", "y": "m"})) == "x'*x + y'*y"
    assert str(matdiff.parse("[A, B]'", sh)) == "[A'; B']"
    assert str(matdiff.parse("[eye(n), zeros(n, m); zeros(m, n), eye(m)]", {})) == "eye(m+n)"


# ---------------------------------------------------------------------------- derivatives, numerically
CASES = [
    ("norm2([A; X]*x)^2", "X", {"A": "m,n", "X": "k,n", "x": "n"}),
    ("norm2([A; X]*x)^2", "x", {"A": "m,n", "X": "k,n", "x": "n"}),
    ("sum([X, A; A', B] .* C)", "X", {"X": "n,n", "A": "n,m", "B": "m,m", "C": "n+m,n+m"}),
    ("x'*[A, B; B', C]*x", "B", {"A": "n,n", "B": "n,m", "C": "m,m", "x": "n+m"}),
    ("logdet([X, A; A', eye(m)])", "A", {"X": "n,n", "A": "n,m"}),
    ("sum(exp([x; y]) .* z)", "y", {"x": "n", "y": "m", "z": "n+m"}),
    ("tr([A, B; C, D]*X)", "X", {"A": "n,k", "B": "n,p", "C": "m,k", "D": "m,p"}),
    ("norm2([A, B; C]*x)^2", "x", {"A": "n,k", "B": "n,p", "C": "m,k+p"}),
    ("[x; y]'*W*[x; 1]", "x", {"x": "n", "y": "m", "W": "n+m,n+1"}),
]
IDS = [f"{t} by {w}" for t, w, _ in CASES]


def _inputs(d, sizes, rng):
    from gradcheck import concrete_shape

    vals = {}
    for name, s in d.shapes.items():
        shp = concrete_shape(s, sizes)
        vals[name] = rng.standard_normal(shp) if shp else float(rng.standard_normal())
    if "X" in vals and "logdet" in d.text:  # positive determinant of the whole block matrix
        vals["X"] = vals["X"] @ vals["X"].T + 10 * np.eye(len(vals["X"]))
    return vals


@pytest.mark.parametrize("text,wrt,shapes", CASES, ids=IDS)
def test_gradient_matches_finite_differences_at_two_sizes(text, wrt, shapes):
    kinds = {"X": "spd"} if "logdet" in text else {}
    check_gradient(text, wrt, shapes=shapes, kinds=kinds)


@pytest.mark.parametrize("text,wrt,shapes", CASES, ids=IDS)
@pytest.mark.parametrize("sizes", [{"n": 3, "m": 2, "k": 4, "p": 2}, {"n": 2, "m": 4, "k": 1, "p": 3}])
def test_value_and_gradient_agree_with_the_independent_evaluator(text, wrt, shapes, sizes):
    d = matdiff.derive(text, wrt=wrt, shapes=shapes)
    vals = _inputs(d, sizes, np.random.default_rng(len(text) + sizes["n"]))

    def ref(v):
        return float(np.asarray(reference_value(text, shapes, (), v, sizes)).reshape(()))

    val, g = d.to_numpy()(**vals)
    assert np.isclose(val, ref(vals), rtol=1e-10, atol=1e-12)
    fd = reference_gradient(text, shapes, vals, sizes, wrt)
    np.testing.assert_allclose(np.asarray(g).reshape(fd.shape), fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("text,wrt,shapes", [
    ("[x; y]", "y", {"x": "n", "y": "m"}),
    ("[X, A; A', B]", "X", {"X": "n,n", "A": "n,m"}),
    ("[A*x; exp(x)]", "x", {"A": "m,n"}),
    ("[x'*A*x, x'*x]", "x", {"A": "n,n"}),
])
def test_jacobians_are_right(text, wrt, shapes):
    d = matdiff.derive(text, wrt=wrt, shapes=shapes)
    assert d.check().ok


def test_hessian_through_a_block_matrix():
    d = matdiff.derive("x'*[A, B; B', C]*x + sum(exp([x; 2*x]))", wrt="x",
                       shapes={"A": "n,n", "B": "n,m", "C": "m,m", "x": "n+m"})
    assert d.check(hessian=True).ok


@pytest.mark.parametrize("text,wrt,shapes", CASES, ids=IDS)
def test_printed_results_parse_back_to_the_same_function(text, wrt, shapes):
    """The printed gradient, read back and evaluated by the independent evaluator, equals
    the generated gradient."""
    d = matdiff.derive(text, wrt=wrt, shapes=shapes)
    g = d.gradient
    decl = {nm: ",".join(str(x) for x in s) for nm, s in d.shapes.items()}
    assert matdiff.parse(str(g), decl).shape == g.shape
    sizes = {"n": 3, "m": 2, "k": 4, "p": 2}
    vals = _inputs(d, sizes, np.random.default_rng(0))
    want = np.asarray(d.to_numpy()(**vals)[1], dtype=float)
    got = reference_value(str(g), decl, (), vals, sizes)
    np.testing.assert_allclose(np.asarray(got).reshape(want.shape), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("text,wrt,shapes", CASES, ids=IDS)
def test_latex_renders_blocks_as_bmatrix(text, wrt, shapes):
    d = matdiff.derive(text, wrt=wrt, shapes=shapes)
    assert "bmatrix" in to_latex(d.expr)


def test_latex_of_a_block_matrix():
    e = matdiff.parse("[A, B; C, D]", {"A": "n,n", "D": "n,n"})
    assert to_latex(e) == r"\begin{bmatrix}A & B \\ C & D\end{bmatrix}"


@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize("text,wrt,shapes", CASES, ids=IDS)
def test_other_back_ends_agree_with_numpy(backend, text, wrt, shapes):
    mod = pytest.importorskip(backend)
    if backend == "jax":
        mod.config.update("jax_enable_x64", True)
    d = matdiff.derive(text, wrt=wrt, shapes=shapes)
    vals = _inputs(d, {"n": 3, "m": 2, "k": 4, "p": 2}, np.random.default_rng(5))
    want = d.to_numpy()(**vals)
    got = (d.to_jax() if backend == "jax" else d.to_torch())(**vals)
    for a, b in zip(want, got):
        b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
        np.testing.assert_allclose(np.asarray(b, dtype=float).reshape(np.shape(a)), a, rtol=1e-9, atol=1e-12)


def test_generated_code_checks_and_solves_sizes_that_are_sums():
    # z has m+n entries: its size is checked against x and y, and a wrong one is refused
    d = matdiff.derive("sum([x; y] .* z)", wrt="x")
    f = d.to_numpy()
    val, g = f(x=np.ones(2), y=np.ones(3), z=np.arange(5.0))
    assert val == 10.0 and list(g) == [0.0, 1.0]
    with pytest.raises(ValueError, match="expected shape"):
        f(x=np.ones(2), y=np.ones(3), z=np.arange(4.0))
    # a size that appears only inside a sum is solved for: W is (n+m) x k with y's m unknown
    d = matdiff.derive("[x; y]'*W*v", wrt="x", shapes={"x": "n", "v": "k"})
    f = d.to_numpy()
    rng = np.random.default_rng(1)
    x, y, W, v = rng.standard_normal(2), rng.standard_normal(3), rng.standard_normal((5, 4)), rng.standard_normal(4)
    val, g = f(x=x, y=y, W=W, v=v)
    assert np.isclose(val, np.concatenate([x, y]) @ W @ v)


# ---------------------------------------------------------------------------- issue 10's "done when"
MATRIXCALCULUS_EXAMPLES = [
    ("0.5*x'*A*x", "x"), ("A*exp(x)", "x"), ("sin(x)'*y", "x"), ("(y.*v)'*x", "x"), ("a^b", "a"),
    ("norm1(A*x-y)", "x"), ("norm2(A*x-y)^2", "x"), ("sum(log(exp(-y.*(X*w)) + vector(1)))", "w"),
    ("tr(A*X'*B*X*C)", "X"), ("log(det(inv(X)))", "X"), ("x'*A*x + c*sin(y)'*x", "x"),
]


@pytest.mark.parametrize("text,wrt", MATRIXCALCULUS_EXAMPLES, ids=[t for t, _ in MATRIXCALCULUS_EXAMPLES])
def test_matrixcalculus_org_examples_run_as_typed(text, wrt):
    """matrixcalculus.org's own example inputs, typed exactly, with nothing declared: each is
    derived and its derivative agrees with finite differences."""
    d = matdiff.derive(text, wrt=wrt)
    assert d.check().ok
