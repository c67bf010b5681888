"""Identities only inside their preconditions (issue 8, Kronecker part).

``tr(kron(A, B)) = tr(A)*tr(B)`` holds only for square A and B: for a column u and a row
w' it is ``w'*u``, for X k x m and S m x k there is no such product form. Each law of the
constructors, the simplifier and the code generator that involves Kronecker products,
traces, vec/unvec or commutation matrices is checked here on shapes where its
precondition fails (it must not fire, the value must stay right) as well as where it
holds, against NumPy computed directly in the test (np.kron, np.trace, einsum), at
several sizes; gradients against finite differences of that NumPy value.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import check_function
from reference import _kronadj

import matdiff
from matdiff.core import expr as E
from matdiff.lang.parsing import parse
from matdiff.passes.simplify import RULES, simplify

SIZES = ({"n": 3, "m": 2, "k": 4}, {"n": 2, "m": 4, "k": 3})


def dims(spec: str, sizes) -> tuple:
    out = []
    for part in spec.split(","):
        v = 1
        for name in part.split("*"):
            v *= int(name) if name.isdigit() else sizes[name]
        out.append(v)
    return tuple(out)


def col(v):
    return np.asarray(v, dtype=float).reshape(-1, 1) if np.ndim(v) == 1 else np.asarray(v, dtype=float)


def kronadj1_np(C, B):
    """kronadj1 written out with loops, by the independent evaluator (no matdiff code)."""
    return _kronadj("kronadj1", C, B)


def kronadj2_np(A, C):
    """kronadj2 written out with loops, by the independent evaluator (no matdiff code)."""
    return _kronadj("kronadj2", A, C)


# (text, shapes, NumPy value of the same thing)
TRACE_CASES = [
    # the law's own case: both factors square
    ("tr(kron(A, B))", {"A": "n,n", "B": "m,m"}, lambda v: np.trace(np.kron(v["A"], v["B"]))),
    # column (x) row and row (x) column: the scalar product, not tr(u)*tr(w')
    ("tr(kron(u, w'))", {"u": "n", "w": "n"}, lambda v: np.trace(np.kron(col(v["u"]), col(v["w"]).T))),
    ("tr(kron(u', w))", {"u": "n", "w": "n"}, lambda v: np.trace(np.kron(col(v["u"]).T, col(v["w"])))),
    # non-square factors with a square product: no closed form, kept as tr(kron(X, S))
    ("tr(kron(X, S))", {"X": "k,m", "S": "m,k"}, lambda v: np.trace(np.kron(v["X"], v["S"]))),
    # a matrix with a vector: (n*k) x n (x) 1 x k and 1 x k (x) n x (n*k)
    ("tr(kron(X, w'))", {"X": "n*k,n", "w": "k"}, lambda v: np.trace(np.kron(v["X"], col(v["w"]).T))),
    ("tr(kron(w, X))", {"X": "n,n*k", "w": "k"}, lambda v: np.trace(np.kron(col(v["w"]), v["X"]))),
    # inside other expressions, squared and summed
    ("tr(kron(X, S))^2 + tr(kron(u, w'))*tr(kron(A, B))",
     {"X": "k,m", "S": "m,k", "u": "n", "w": "n", "A": "n,n", "B": "m,m"},
     lambda v: np.trace(np.kron(v["X"], v["S"])) ** 2
     + np.trace(np.kron(col(v["u"]), col(v["w"]).T)) * np.trace(np.kron(v["A"], v["B"]))),
    # determinant of I + a Kronecker product of non-square or vector factors
    ("det(I + kron(u, w'))", {"u": "n", "w": "n"},
     lambda v: np.linalg.det(np.eye(len(v["u"])) + np.kron(col(v["u"]), col(v["w"]).T))),
    ("det(I + kron(X, S)/4)", {"X": "k,m", "S": "m,k"},
     lambda v: np.linalg.det(np.eye(v["X"].size) + np.kron(v["X"], v["S"]) / 4)),
    # products of Kronecker products: mixed product applies (X*Y, S*T exist) ...
    ("tr(kron(X, S)*kron(Y, T))", {"X": "k,m", "S": "m,k", "Y": "m,k", "T": "k,m"},
     lambda v: np.trace(np.kron(v["X"], v["S"]) @ np.kron(v["Y"], v["T"]))),
    # ... and does not (X*A and S*B undefined, though kron(X, S)*kron(A, B) is)
    ("tr(kron(X, S)*kron(A, B))", {"X": "k,m", "S": "m,k", "A": "k,k", "B": "m,m"},
     lambda v: np.trace(np.kron(v["X"], v["S"]) @ np.kron(v["A"], v["B"]))),
    # commutation matrix next to a kron whose row sizes do not match its own
    ("sum(K(m, k)*kron(X, S))", {"X": "k,m", "S": "m,k"},
     lambda v: np.sum(commutation(v["S"].shape[0], v["X"].shape[0]) @ np.kron(v["X"], v["S"]))),
    ("sum(K(k, m)*kron(X, S))", {"X": "k,m", "S": "m,k"},
     lambda v: np.sum(commutation(v["X"].shape[0], v["S"].shape[0]) @ np.kron(v["X"], v["S"]))),
    # vec of a row vector, unvec to one row
    ("vec(u')'*w + sum(unvec(u, 1)*kron(w, w'))", {"u": "n", "w": "n"},
     lambda v: (col(v["u"]).T @ col(v["w"])).item() + np.sum(col(v["u"]).T @ np.kron(col(v["w"]), col(v["w"]).T))),
    ("u'*kron(A, B)*w", {"u": "n*m", "w": "n*m", "A": "n,n", "B": "m,m"},
     lambda v: (col(v["u"]).T @ np.kron(v["A"], v["B"]) @ col(v["w"])).item()),
    ("u'*kron(X, S)*w", {"u": "k*m", "w": "m*k", "X": "k,m", "S": "m,k"},
     lambda v: (col(v["u"]).T @ np.kron(v["X"], v["S"]) @ col(v["w"])).item()),
]


def commutation(m, n):
    """K with K vec(A) = vec(A') for A m x n."""
    K = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            K[i * n + j, j * m + i] = 1.0
    return K


def _inputs(d, shapes, sizes, rng):
    return {name: (rng.standard_normal(dims(shapes[name], sizes)[0]) if "," not in shapes[name]
                   else rng.standard_normal(dims(shapes[name], sizes)))
            for name in d.variables}


@pytest.mark.parametrize("sizes", SIZES, ids=["small", "other"])
@pytest.mark.parametrize("text, shapes, numpy_value", TRACE_CASES, ids=[c[0] for c in TRACE_CASES])
def test_value_and_gradient_against_numpy(text, shapes, numpy_value, sizes):
    names = sorted(shapes)
    d = matdiff.derive(text, wrt=names, shapes=shapes)
    f = d.to_numpy()
    rng = np.random.default_rng(len(text) + sizes["n"])
    inputs = _inputs(d, shapes, sizes, rng)
    value, grads = f(**inputs)
    np.testing.assert_allclose(value, numpy_value(inputs), rtol=1e-10, atol=1e-10,
                               err_msg=f"value of {text}")
    check_function(lambda **kw: (numpy_value(kw), grads), inputs, names,
                   {n: np.shape(inputs[n]) for n in names}, rng=rng, context=f"{text} at {sizes}")


def test_trace_of_kron_closed_forms_only_where_they_hold():
    u, w = E.var("u", (3, 1)), E.var("w", (3, 1))
    X, S = E.var("X", (2, 3)), E.var("S", (3, 2))
    A, B = E.var("A", (2, 2)), E.var("B", (3, 3))
    assert str(E.trace_of_kron(A, B)) == "tr(A)*tr(B)"
    assert str(E.trace_of_kron(u, E.transpose(w))) == "w'*u"
    assert str(E.trace_of_kron(E.transpose(u), w)) == "u'*w"
    assert E.trace_of_kron(X, S) is None  # tr(X)*tr(S) would be wrong
    t = E.trace(E.kron(X, S))
    assert simplify(t) is t
    assert all(rule(t) is None for rule in RULES["trace"])


def test_the_issue_example():
    """u = (1,2,3), w = (4,5,6): tr(kron(u, w')) = u'*w = 32 (it was 4), its gradient is w."""
    d = matdiff.derive("tr(kron(u, w'))", wrt="u", shapes={"u": "n", "w": "n"})
    value, grad = d.to_numpy()(u=np.array([1.0, 2, 3]), w=np.array([4.0, 5, 6]))
    assert value == 32.0
    np.testing.assert_array_equal(grad, [4.0, 5, 6])
    assert str(d.gradient) == "w"


@pytest.mark.parametrize("text, wrt, shapes, expected", [
    ("tr(kron(u, w'))", "u", {"u": "n", "w": "n"}, "w"),
    ("tr(kron(u', w))", "w", {"u": "n", "w": "n"}, "u"),
    ("tr(kron(A, X))", "X", {"A": "n,n", "X": "m,m"}, "tr(A)*eye(m)"),
    # x'*(A (x) B)*y = tr(unvec(x)'*B*unvec(y)*A'): the vec trick, no kronadj
    ("x'*kron(A, B)*y", "A", {"x": "n*p", "y": "m*q", "A": "n,m", "B": "p,q"}, "unvec(x, p)'*B*unvec(y, q)"),
    ("x'*kron(A, B)*y", "B", {"x": "n*p", "y": "m*q", "A": "n,m", "B": "p,q"}, "unvec(x, p)*A*unvec(y, q)'"),
    ("vec(X)'*kron(A, B)*vec(Y)", "A", {"X": "p,n", "Y": "q,m", "A": "n,m", "B": "p,q"}, "X'*B*Y"),
    ("det(I + kron(u, w'))", "u", {"u": "n", "w": "n"}, "det(I + kron(u, w'))*inv(I + kron(u, w'))'*w"),
    ("tr(kron(X, w'))", "X", {"X": "n*k,n", "w": "k"}, "kron(eye(n), w)"),
])
def test_no_internal_adjoint_where_a_cookbook_form_exists(text, wrt, shapes, expected):
    d = matdiff.derive(text, wrt=wrt, shapes=shapes)
    g = str(d.gradient)
    assert "kronadj" not in g and g == expected, g


@pytest.mark.parametrize("text, shapes", [
    ("kronadj1(C, w')", {"C": "6,6", "w": "3"}),       # B a row: C*kron(I, w)
    ("kronadj1(C, w)", {"C": "6,4", "w": "3"}),        # B a column: kron(I, w')*C
    ("kronadj2(w, C)", {"C": "6,4", "w": "3"}),        # A a column: kron(w', I)*C
    ("kronadj2(w', C)", {"C": "4,6", "w": "3"}),       # A a row: C*kron(w, I)
    ("kronadj1(x*y', B)", {"x": "6", "y": "6", "B": "2,3"}),  # an outer product: unvec(x)'*B*unvec(y)
    ("kronadj2(B, x*y')", {"x": "6", "y": "6", "B": "2,3"}),
    ("kronadj1(a*x*y', B)", {"x": "6", "y": "6", "B": "3,2", "a": ""}),
    ("kronadj1(C, B)", {"C": "6,6", "B": "2,3"}),      # no rule: stays kronadj1
])
def test_kronadj_constructor_rules_against_loops(text, shapes):
    d = matdiff.derive(text, wrt=sorted(shapes)[-1], shapes=shapes)
    rng = np.random.default_rng(len(text))
    inputs = {n: (float(rng.standard_normal()) if shapes[n] == "" else
                  rng.standard_normal(dims(shapes[n], {})) if "," in shapes[n] else
                  rng.standard_normal(int(shapes[n]))) for n in d.variables}
    got = d.value_numpy()(**inputs)
    v = {n: col(x) if np.ndim(x) else x for n, x in inputs.items()}
    ns = {"kronadj1": kronadj1_np, "kronadj2": kronadj2_np}
    py = text.replace("'", ".T").replace("*", " @ ").replace("a @ ", "a * ")
    want = eval(py, ns, dict(v))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=f"{text} -> {d.expr}")
    if text != "kronadj1(C, B)":
        assert "kronadj" not in str(d.expr), str(d.expr)


@pytest.mark.parametrize("text, shapes, expected", [
    ("vec(x')", {"x": "n"}, "x"),
    ("unvec(x, 1)", {"x": "n"}, "x'"),
    ("unvec(vec(X), n)", {"X": "n,m"}, "X"),
    ("vec(unvec(x, n))", {"x": "n*m"}, "x"),
])
def test_vec_unvec_laws(text, shapes, expected):
    assert str(parse(text, shapes)) == expected
