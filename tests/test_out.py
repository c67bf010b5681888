"""Gradients into the caller's arrays: ``f(..., out=G)`` (issue 14).

The NumPy function writes the gradient into ``out`` (a dict by name with several
gradients) and returns that array: a product, an outer product or an elementwise operation
writes there itself, a transpose into ``out.T``, anything else is copied in. Checked here:
the values are the ones the function returns without ``out``, bit for bit, on every path and
on random expressions; the array is really written in place (no gradient-sized temporary);
bad arrays are refused with a message naming them.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from exprgen import KINDS, random_corpus, shapes_for, variables_in
from gradcheck import concrete_shape, declared_in, names_in, random_value

import matdiff

SIZES = {"n": 3, "m": 4, "k": 2, "p": 2}


def _inputs(d, sizes, rng, kinds=None, symmetric=()):
    return {name: random_value(concrete_shape(d.shapes[name], sizes), (kinds or {}).get(name, "any"), rng,
                               symmetric=name in symmetric)
            for name in d.variables}


def _same(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


# Each case reaches one way into(): its last operation, where the out= array is written
CASES = [
    # (expression, wrt, shapes, sizes, what the gradient's last operation is)
    ("norm2(V*tanh(W*x) - y)^2", "W", {"W": "h,d", "V": "m,h", "x": "d", "y": "m"},
     {"h": 300, "d": 400, "m": 5}, "outer product by BLAS"),
    ("norm2(V*tanh(W*x) - y)^2", "W", {"W": "h,d", "V": "m,h", "x": "d", "y": "m"},
     {"h": 6, "d": 5, "m": 3}, "outer product, broadcast"),
    ("tr(A*X*B)", "X", {"A": "n,m", "X": "m,p", "B": "p,n"}, {"n": 5, "m": 4, "p": 3}, "transposed product"),
    ("tr(X'*X)", "X", {"X": "n,m"}, {"n": 5, "m": 3}, "scalar times an input"),
    ("norm2(A*x - b)^2", "x", {"A": "m,n", "x": "n", "b": "m"}, {"m": 7, "n": 4}, "scaled product, vector"),
    ("-tr(A*X)", "X", {"A": "n,n", "X": "n,n"}, {"n": 4}, "negated transpose"),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", {"w": "n", "X": "m,n", "y": "m"}, {"m": 9, "n": 3}, "logistic"),
    ("logdet(X'*X)", "X", {"X": "n,m"}, {"n": 6, "m": 3}, "solve / inverse"),
    ("x'*A*x", "x", {"x": "n", "A": "n,n"}, {"n": 5}, "sum"),
    ("norm2(X - U*V')^2", "U", {"X": "m,n", "U": "m,k", "V": "n,k"}, {"m": 300, "n": 250, "k": 3},
     "low-rank residual"),
    ("sum(exp(X))", "X", {"X": "n,m"}, {"n": 3, "m": 4}, "elementwise function"),
]


@pytest.mark.parametrize("text, wrt, shapes, sizes, what", CASES, ids=[c[-1] for c in CASES])
def test_out_holds_the_gradient_bit_for_bit_and_is_returned(text, wrt, shapes, sizes, what):
    d = matdiff.derive(text, wrt, shapes)
    f = d.to_numpy()
    rng = np.random.default_rng(len(text))
    inputs = _inputs(d, sizes, rng)
    value, grad = f(**inputs)
    for order in ("C", "F"):  # (an F-ordered array takes NumPy's path, not BLAS's, for outer products)
        G = np.full(np.shape(grad), np.nan, order=order)
        value2, grad2 = f(**inputs, out=G)
        assert grad2 is G and _same(G, grad) and value2 == value, (text, order)
    view = np.full((2,) + np.shape(grad), np.nan)[1]  # a view into a larger array
    assert f(**inputs, out=view)[1] is view and _same(view, grad)


def test_several_gradients_take_a_dict_of_some_of_them():
    d = matdiff.derive("x'*A*y + tr(A'*A)", ["x", "A", "y"], {"x": "n", "A": "n,m", "y": "m"})
    f = d.to_numpy()
    inputs = _inputs(d, {"n": 4, "m": 3}, np.random.default_rng(1))
    value, grads = f(**inputs)
    GA, Gy = np.empty((4, 3)), np.empty(3)
    value2, grads2 = f(**inputs, out={"A": GA, "y": Gy})
    assert grads2["A"] is GA and grads2["y"] is Gy and value2 == value
    for name in grads:
        assert _same(grads2[name], grads[name])
    assert f(**inputs, out={})[1].keys() == grads.keys()


def test_out_is_written_in_place_without_a_gradient_sized_temporary():
    """The outer product goes straight into out: the call's peak allocation is far below the
    gradient's size (it is above it without out=, where the gradient is a new array)."""
    d = matdiff.derive("norm2(V*tanh(W*x) - y)^2", "W", {"W": "h,d", "V": "m,h", "x": "d", "y": "m"})
    f = d.to_numpy()
    inputs = _inputs(d, {"h": 400, "d": 300, "m": 4}, np.random.default_rng(2))
    G = np.empty((400, 300))
    f(**inputs, out=G)  # warm: SciPy's BLAS imported

    def peak(**kw):
        tracemalloc.start()
        try:
            f(**inputs, **kw)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert peak(out=G) < G.nbytes / 4 < G.nbytes <= peak()


@pytest.mark.parametrize("bad, error, message", [
    (np.empty((3, 5)), TypeError, r"out: expected a float64 NumPy array \(4, 5\), got float64 \(3, 5\)"),
    (np.empty((4, 5), dtype=np.float32), TypeError, r"out: expected a float64 NumPy array \(4, 5\), got float32"),
    ([[0.0] * 5] * 4, TypeError, r"out: expected a float64 NumPy array \(4, 5\), got list"),
    ("read-only", ValueError, r"out: read-only, or shares memory"),
    ("the input", ValueError, r"out: read-only, or shares memory with an input"),
])
def test_bad_out_arrays_are_refused_by_name(bad, error, message):
    d = matdiff.derive("tr(A*X*B)", "X", {"A": "n,m", "X": "m,p", "B": "p,n"})
    f = d.to_numpy()
    inputs = _inputs(d, {"n": 3, "m": 4, "p": 5}, np.random.default_rng(3))
    if isinstance(bad, str) and bad == "read-only":
        bad = np.empty((4, 5))
        bad.flags.writeable = False
    elif isinstance(bad, str):
        bad = inputs["X"]  # the gradient would overwrite X while it is read
    with pytest.raises(error, match=message):
        f(**inputs, out=bad)


def test_bad_out_dicts_and_unsupported_uses_are_refused():
    f = matdiff.derive("x'*A*y", ["x", "y"], {"x": "n", "A": "n,m", "y": "m"}).to_numpy()
    inputs = {"x": np.ones(2), "A": np.ones((2, 3)), "y": np.ones(3)}
    with pytest.raises(TypeError, match=r"out: with several outputs, a dict with keys in \('x', 'y'\)"):
        f(**inputs, out=np.empty(2))
    with pytest.raises(TypeError, match="keys in"):
        f(**inputs, out={"z": np.empty(2)})
    gx = np.empty(2)
    overlapping = np.lib.stride_tricks.as_strided(gx, (3,), (0,))  # y's array over x's memory
    with pytest.raises(ValueError, match=r"out\['y'\]: read-only, or shares memory"):
        f(**inputs, out={"x": gx, "y": overlapping})
    # a scalar gradient has no array to write into: out= is not an input then
    g = matdiff.derive("s*x'*x", "s", {"s": "", "x": "n"}).to_numpy()
    with pytest.raises(TypeError, match="unexpected input 'out'"):
        g(s=2.0, x=np.ones(3), out=np.empty(()))


def test_a_variable_named_out_keeps_its_name_and_the_array_is_out_():
    d = matdiff.derive("norm2(out - X)^2", "X", {"out": "n,m", "X": "n,m"})
    src = d.numpy_source()
    assert "def f(out, X, out_=None):" in src and "out_: a float64 array" in src
    f = d.to_numpy()
    rng = np.random.default_rng(4)
    O, X, G = rng.standard_normal((3, 2)), rng.standard_normal((3, 2)), np.empty((3, 2))
    assert f(out=O, X=X, out_=G)[1] is G and _same(G, 2 * (X - O))


def test_jax_and_torch_functions_take_no_out():
    d = matdiff.derive("tr(A*X)", "X")
    for target in ("jax", "torch"):
        assert "out" not in d.source(target).split("def f(", 1)[1].split(")", 1)[0]


@pytest.mark.parametrize("text, with_sym", random_corpus(120, seed=14))
def test_random_gradients_into_out_are_the_returned_ones(text, with_sym):
    """Random scalar expressions by all their array variables: out= gives the same arrays."""
    shapes = declared_in(text, shapes_for(with_sym))
    symmetric = names_in(text, ["S"])
    names = variables_in(text)
    d = matdiff.derive(text, names, shapes=shapes, symmetric=symmetric)
    f = d.to_numpy()
    inputs = _inputs(d, SIZES, np.random.default_rng(len(text)), KINDS, symmetric)
    single = len(names) == 1
    with np.errstate(all="ignore"):
        value, grads = f(**inputs)
        grads = {names[0]: grads} if single else grads
        arrays = {n: np.full(np.shape(g), np.nan) for n, g in grads.items() if np.ndim(g)}
        if not arrays:  # only scalar gradients: no out= then
            return
        value2, grads2 = f(**inputs, out=arrays[names[0]] if single else arrays)
        grads2 = {names[0]: grads2} if single else grads2
    assert _same(value2, value)
    for n, g in grads.items():
        assert _same(grads2[n], g), (text, n)
        if n in arrays:
            assert grads2[n] is arrays[n]


@pytest.mark.parametrize("text, wrt, shapes, kind", [
    ("tr(A*X)", "X", {"A": "n,m", "X": "m,n"}, "grad"),  # A'
    ("tr(A'*X)", "X", {"A": "n,m", "X": "n,m"}, "grad"),  # A
    ("a'*x", "x", {"a": "n", "x": "n"}, "grad"),  # a
    ("A*x", "x", {"A": "n,m", "x": "m"}, "grad"),  # the Jacobian A
    ("x'*x/2", "x", {"x": "n"}, "hvp"),  # H[V] = V
    ("x'*A*y", ["x", "y"], {"x": "n", "A": "n,m", "y": "m"}, "grad"),
])
def test_no_result_is_an_input_to_be_changed_in_place(text, wrt, shapes, kind):
    """A gradient (Jacobian, H[V]) that equals an input, or its transpose, is a copy: changing
    the result in place (G *= lr) never changes the caller's arrays."""
    d = matdiff.derive(text, wrt, shapes)
    rng = np.random.default_rng(5)
    inputs = _inputs(d, {"n": 3, "m": 4}, rng)
    kept = {k: v.copy() for k, v in inputs.items()}
    if kind == "hvp":
        V = rng.standard_normal(3)
        results = [d.to_numpy(hvp=True)(V=V, **inputs)]
        inputs["V"], kept["V"] = V, V.copy()
    else:
        value, g = d.to_numpy()(**inputs)
        results = list(g.values()) if isinstance(g, dict) else [g]
    for r in results:
        assert not any(np.shares_memory(r, x) for x in inputs.values()), text
        r *= 2.0
    assert all(np.array_equal(inputs[k], kept[k]) for k in inputs)


def test_torch_results_are_not_the_callers_tensors_either():
    torch = pytest.importorskip("torch")
    f = matdiff.derive("tr(A*X)", "X").to_torch()
    A, X = torch.rand(3, 3, dtype=torch.float64), torch.rand(3, 3, dtype=torch.float64)
    kept = A.clone()
    _, g = f(A=A, X=X)
    g.mul_(2.0)
    assert torch.equal(A, kept) and torch.equal(g, 2.0 * kept.T)


@pytest.mark.parametrize("text, wrt, shapes, kind", [
    ("logdet(X) + tr(inv(X)*A)", "X", {"X": "n,n", "A": "n,n"}, "hvp"),
    ("x'*A*x + norm2(B*y)^2", ["x", "y"], {"x": "n", "A": "n,n", "B": "n,n", "y": "n"}, "hvp"),
    ("logdet(X) + tr(inv(X)*A)", "X", {"X": "n,n", "A": "n,n"}, "vjp"),
    ("A*x", "x", {"A": "n,m", "x": "m"}, "vjp"),
    ("X*inv(S)*X'", ["X", "S"], {"X": "n,m", "S": "m,m"}, "vjp"),
])
def test_hvp_and_vjp_functions_take_out_too(text, wrt, shapes, kind):
    d = matdiff.derive(text, wrt, shapes)
    rng = np.random.default_rng(6)
    inputs = _inputs(d, {"n": 3, "m": 4}, rng, {"X": "wc", "S": "wc"})
    names = [wrt] if isinstance(wrt, str) else wrt
    if kind == "hvp":
        f = d.to_numpy(hvp=True)
        dirs = {d.hvp_variables[a]: rng.standard_normal(np.shape(inputs[a])) for a in names}
        call = lambda **kw: f(**dirs, **inputs, **kw)  # noqa: E731
        plain = call()
    else:
        f = d.to_numpy(vjp=True)
        C = rng.standard_normal(concrete_shape(d.expr.shape, {"n": 3, "m": 4})) if not d.expr.is_scalar else 1.0
        if not d.expr.is_scalar and C.shape[1:] == (1,):
            C = C[:, 0]
        call = lambda **kw: f(C, **inputs, **kw)[1]  # noqa: E731
        plain = call()
    plain = {names[0]: plain} if len(names) == 1 else plain
    arrays = {n: np.full(np.shape(g), np.nan) for n, g in plain.items()}
    got = call(out=arrays[names[0]] if len(names) == 1 else arrays)
    got = {names[0]: got} if len(names) == 1 else got
    for n in names:
        assert got[n] is arrays[n] and _same(got[n], plain[n]), (text, n)
