"""Undeclared names: the expression decides what a lowercase name is, not its first letter.

Readings are ranked by (1) no name broadcast over an array, (2) a scalar loss, (3) the
notation (x' and norm2(r) are vectors, sigma^2 a scalar), (4) the naming convention; h-z
names become scalars only to make a loss; declarations always win. Each example is an
expression people type, checked for the kinds taken *and* numerically for the derivative.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from gradcheck import check_gradient

import matdiff
from matdiff.cli import main

# (expression, wrt, expected kinds, gradient text or None, random-input kinds for the check)
EXAMPLES = [
    # b is the data vector, not a scalar broadcast over A*x
    ("norm2(A*x - b)^2", "x", {"x": "vector", "b": "vector"}, "2*A'*(A*x - b)", {}),
    # the Gaussian negative log-likelihood: mu a vector, n a count, sigma a scalar
    ("norm2(x - mu)^2/(2*sigma^2) + n*log(sigma)", "sigma",
     {"x": "vector", "mu": "vector", "sigma": "scalar", "n": "scalar"}, None, {"sigma": "pos", "n": "pos"}),
    # matrixcalculus.org: theta is a vector and the answer is X'*(y ./ (X*theta))
    ("y'*log(X*theta)", "theta", {"y": "vector", "theta": "vector"}, "X'*(y ./ (X*theta))",
     {"X": "pos", "theta": "pos"}),
    ("phi'*A*phi", "phi", {"phi": "vector"}, "(A + A')*phi", {}),
    ("norm2(y - X*beta)^2", "beta", {"y": "vector", "beta": "vector"}, "-2*X'*(y - X*beta)", {}),
    # ridge / GP marginal: s is a scalar regulariser
    ("y'*inv(K + s*I)*y", "s", {"y": "vector", "s": "scalar"}, "-y'*inv(K + s*I)^2*y", {"K": "spd", "s": "pos"}),
    ("a'*b", "a", {"a": "vector", "b": "vector"}, "b", {}),
    ("x'*A*x + b'*x + c", "x", {"x": "vector", "b": "vector", "c": "scalar"}, "b + (A + A')*x", {}),
    ("lambda*norm2(w)^2 + sum(log(1 + exp(-y .* (X*w))))", "w",
     {"lambda": "scalar", "w": "vector", "y": "vector"}, None, {}),
]


@pytest.mark.parametrize("text, wrt, kinds, grad, rand", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_examples_mean_what_people_mean(text, wrt, kinds, grad, rand):
    d = check_gradient(text, wrt, kinds=rand)  # numerically, at several (non-square) sizes
    assert {n: d.inferred[n] for n in kinds} == kinds
    assert d.notes == []
    if grad is not None:
        assert str(d.gradient) == grad


def test_bias_of_a_layer_is_a_vector():
    d = matdiff.derive("W1*x + b1", wrt="x")
    assert d.inferred == {"x": "vector", "b1": "vector"}
    assert str(d.jacobian) == "W1"
    assert d.shapes["b1"] == (d.shapes["W1"][0],)


def test_vector_functions_stay_vector_functions():
    """h-z names become scalars only to make a loss: log(x) is elementwise on a vector."""
    for text in ("log(x)", "exp(x)/sum(exp(x))", "sigmoid(W*x)"):
        d = matdiff.derive(text, wrt="x")
        assert d.inferred["x"] == "vector" and not d.expr.is_scalar, text


def test_declarations_always_win():
    d = matdiff.derive("norm2(A*x - b)^2", wrt="x", shapes={"b": ""})
    assert d.shapes["b"] == () and "b" not in d.inferred
    d = matdiff.derive("norm2(x - mu)^2/(2*sigma^2) + n*log(sigma)", "sigma", shapes={"n": "k"})
    assert d.shapes["n"] == ("k",) and not d.expr.is_scalar  # as declared: a vector function


@pytest.mark.parametrize("text", ["x'*A*x", "norm2(A*x - b)^2", "tr(X*A*X)", "sum(exp(x))",
                                  "log(x)", "u'*u", "a*x + b"])
def test_no_note_where_nothing_was_close(text):
    assert matdiff.derive(text, wrt=[n for n in "xXuab" if n in text][0]).notes == []


def test_a_close_call_is_announced_with_the_declaration_that_selects_the_other_reading():
    d = matdiff.derive("exp(b)", wrt="b")
    assert d.inferred == {"b": "scalar"}
    assert len(d.notes) == 1 and "shapes={'b': 'n'}" in d.notes[0] and "vector" in d.notes[0]
    # and that declaration does select it
    assert matdiff.derive("exp(b)", wrt="b", shapes={"b": "n"}).shapes["b"] == ("n",)
    r = CliRunner().invoke(main, ["exp(b)", "--wrt", "b"])
    assert r.exit_code == 0
    assert "--shape b=n" in r.stderr and "note" in r.stderr and "note" not in r.stdout


def test_many_names_are_searched_and_the_search_is_announced():
    text = "x'*A*x + b'*x + c + y'*B*y + d'*y + e + z'*C*z + f'*z + g + u'*u + v'*v"
    d = matdiff.derive(text, wrt="x")
    assert d.expr.is_scalar
    assert all(d.inferred[n] == "vector" for n in "bdfxyzuv")
    assert all(d.inferred[n] == "scalar" for n in "ceg")
    assert any("searched" in n for n in d.notes)


@pytest.mark.parametrize("spec", ["nxm", "n x m", "n×m", "n,m"])
def test_matrix_shapes_spelt_as_printed(spec):
    assert matdiff.derive("tr(A'*A)", wrt="A", shapes={"A": spec}).shapes["A"] == ("n", "m")


def test_integer_matrix_shape_spelt_as_printed():
    f = matdiff.derive("tr(A'*A)", wrt="A", shapes={"A": "3x3"})
    assert f.shapes["A"] == (3, 3)
    r = CliRunner().invoke(main, ["tr(A'*A)", "--wrt", "A", "--shape", "A=2x4"])
    assert r.exit_code == 0 and "A: 2x4" in r.stdout


def test_declaring_an_absent_name_is_an_error():
    with pytest.raises(matdiff.ShapeError, match="'b'.*does not occur"):
        matdiff.derive("x'*A*x", wrt="x", shapes={"b": "n"})
    r = CliRunner().invoke(main, ["x'*A*x", "--wrt", "x", "--shape", "xx=n"])
    assert r.exit_code == 2 and "'xx'" in r.stderr and "Traceback" not in r.output
    # differentiating by a declared absent variable is meaningful: a zero gradient
    d = matdiff.derive("x'*A*x", wrt="B", shapes={"B": "n,n"})
    assert d.zero_gradient("B")


def test_symmetric_takes_one_name_as_a_string():
    d = matdiff.derive("x'*inv(Sigma)*x + logdet(Sigma)", wrt="Sigma", symmetric="Sigma")
    assert d.symmetric == {"Sigma"}
    check_gradient("x'*inv(Sigma)*x + logdet(Sigma)", "Sigma", symmetric=["Sigma"])


@pytest.mark.parametrize("kw, match", [
    ({"wrt": None}, "nothing to differentiate by"),
    ({"wrt": 3}, "variable names"),
    ({"wrt": "x", "shapes": ["x"]}, "mapping"),
    ({"wrt": "x", "shapes": {"q": "n"}}, "'q'"),
    ({"wrt": "x", "symmetric": [1]}, "variable names"),
])
def test_api_misuse_is_a_clear_error(kw, match):
    with pytest.raises(matdiff.MatdiffError, match=match):
        matdiff.derive("x'*A*x", **kw)


def test_api_errors_give_python_advice_and_the_cli_gives_options():
    with pytest.raises(matdiff.ShapeError) as info:
        matdiff.derive("exp(s)*sin(s)^2", wrt="s")
    assert "shapes={'s': ''}" in str(info.value) and "--shape" not in str(info.value)
    with pytest.raises(matdiff.DerivationError) as info:
        matdiff.derive("x'*x", wrt=[])
    assert "wrt='X'" in str(info.value) and "--wrt" not in str(info.value)
    r = CliRunner().invoke(main, ["exp(s)*sin(s)^2", "--wrt", "s"])
    assert r.exit_code == 2 and "--shape s=" in r.stderr and "shapes=" not in r.stderr
    # the CLI's spelling does not leak into later API calls in the same process
    with pytest.raises(matdiff.ShapeError, match=r"shapes=\{'s': ''\}"):
        matdiff.derive("exp(s)*sin(s)^2", wrt="s")


def test_json_reports_the_reading():
    r = CliRunner().invoke(main, ["norm2(A*x - b)^2", "--wrt", "x", "--format", "json"])
    out = json.loads(r.stdout)
    assert out["inferred"] == {"x": "vector", "b": "vector"} and out["notes"] == []
    assert out["shapes"]["b"] == ["n"]


def test_inferred_reading_computes_what_it_says():
    """The value of the inferred reading of norm2(A*x - b)^2 is the textbook one."""
    f = matdiff.derive("norm2(A*x - b)^2", wrt="x").to_numpy()
    rng = np.random.default_rng(0)
    A, x, b = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=5)
    val, g = f(A=A, x=x, b=b)
    assert np.isclose(val, np.sum((A @ x - b) ** 2))
    assert np.allclose(g, 2 * A.T @ (A @ x - b))


# ---------------------------------------------------------------------------- random expressions


from exprgen import KINDS, n_examples, scalar_expressions, shapes_for, variables_in  # noqa: E402
from gradcheck import concrete_shape, declared_in, names_in, random_value  # noqa: E402
from hypothesis import assume, given, note, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from reference import reference_value  # noqa: E402

from matdiff.lang import parsing as P  # noqa: E402


@settings(max_examples=n_examples(150), deadline=None)
@given(data=st.data())
def test_inferred_readings_of_random_expressions(data):
    """Random expressions with only the matrices declared: the intended reading (the
    generator's scalars and vectors) type-checks, so inference finds a reading at least as good
    by the rules, and matdiff's value for that reading equals an independent evaluation of the
    syntax tree under the same reading."""
    text, with_sym = data.draw(scalar_expressions(max_depth=4), label="expr")
    # size names written as arguments (K(m, n), eye(n)) are fixed only by declarations
    assume(not any(f"{f}(" in text for f in ("K", "eye", "ones", "zeros", "unvec")))
    shapes = declared_in(text, shapes_for(with_sym))
    matrices = {k: v for k, v in shapes.items() if k[0].isupper()}
    symmetric = names_in(text, ["S"])
    names = variables_in(text)
    d = matdiff.derive(text, wrt=names[0], shapes=matrices, symmetric=symmetric)
    note(f"{text}: inferred {d.inferred}, notes {d.notes}")

    # the generator's reading, scored as matdiff scores readings
    tree = P._syntax_tree(text)
    decl = P._Declarations(matrices)
    intended = {n: ("scalar" if shapes[n] == "" else "vector") for n in P._free_names(tree, decl)}
    ctx = P._Context(text, decl, symmetric, intended)
    P._infer(ctx, tree)
    ctx.settle()
    usage = P._usage_kinds(tree, set(intended))
    conv = {n: P.default_kind(n) for n in intended}
    departures = tuple(n for n in intended if intended[n] != conv[n])
    want = P._Reading(intended, ctx, departures, usage).score
    chosen = P._Reading(d.inferred, P._choose_reading(text, P._syntax_tree(text), decl, symmetric)[0],
                        tuple(n for n in d.inferred if d.inferred[n] != conv[n]), usage).score
    assert chosen <= want, (d.inferred, chosen, intended, want)

    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    dims = {str(x) for s in d.shapes.values() for x in s if isinstance(x, str)}
    sizes = {k: data.draw(st.integers(2, 4)) for k in sorted(dims)}
    values = {nm: random_value(concrete_shape(d.shapes[nm], sizes), KINDS.get(nm, "any"), rng,
                               symmetric=nm in symmetric) for nm in names}
    nudged = {k: np.asarray(v, dtype=float) * (1 + 1e-12) for k, v in values.items()}
    try:
        fn = d.value_numpy()
    except matdiff.DerivationError as e:  # I's size set by nothing (logdet(kron(I + a, A))): the
        # value depends on that size, so code cannot be generated; that error is the answer
        assert "is not determined by any input" in str(e)
        assume(False)
    # the chosen reading may make the value an array (x + a reads a as a vector): compared whole
    with np.errstate(all="ignore"):
        got = np.asarray(fn(**values), dtype=float).reshape(-1)
        ref = np.asarray(reference_value(text, matrices, symmetric, values, sizes), dtype=float).reshape(-1)
        ref2 = np.asarray(reference_value(text, matrices, symmetric, nudged, sizes), dtype=float).reshape(-1)
    assume(np.all(np.isfinite(ref)) and np.max(np.abs(ref)) < 1e8)
    scale = max(1.0, float(np.max(np.abs(ref))))
    # too ill-conditioned at this point to compare values (sin(exp(204)*...)): rounding decides
    assume(np.max(np.abs(ref2 - ref)) <= 1e-10 * scale)
    assert got.shape == ref.shape and np.max(np.abs(got - ref)) <= 1e-8 * scale, (text, got, ref)


def test_sizes_of_undeclared_kronecker_factors_are_decided_by_all_uses():
    """kron(x, z) against a declared m*n is ambiguous alone (x of length m or n); the later
    kron(x, y) against n*n decides it. The search is announced, the gradient checked."""
    shapes = {"D": "m,n", "A": "n,n"}
    text = "kron(x, z)'*kron(D, A)*kron(x, y)"
    d = check_gradient(text, "x", shapes=shapes)
    assert (d.shapes["x"], d.shapes["z"], d.shapes["y"]) == (("n",), ("m",), ("n",))
    assert any("Kronecker" in n for n in d.notes)
    # declared, nothing is guessed
    d = matdiff.derive(text, wrt="x", shapes={**shapes, "x": "n", "z": "m", "y": "n"})
    assert d.notes == []
