"""An independent oracle for values: evaluate the *syntax tree* straight with NumPy.

Gradient checks compare matdiff's derivative with finite differences of matdiff's own
value, so a wrong canonicalization in the constructors (say ``A*B -> B*A``) would make a
consistent, wrong pair. Here the value of the typed, canonicalized, simplified and
compiled expression is compared with a direct evaluation of what the user typed: the
parse tree of ``matdiff.parsing`` (before any Expr is built), read by the small
interpreter below, with shapes from the parser's unification.
"""

from __future__ import annotations

import math

import numpy as np
from exprgen import KINDS, n_examples, scalar_expressions, shapes_for, variables_in
from gradcheck import concrete_shape, declared_in, names_in, random_value
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

import matdiff
from matdiff import parsing as P
from matdiff.shapes import dim_parts


def _size(d, sizes) -> int:
    c, names = dim_parts(d)
    out = c
    for x in names:
        out *= sizes[str(x)]
    return out


def reference_value(text: str, shapes: dict, symmetric, values: dict, sizes: dict):
    """Evaluate ``text`` from its syntax tree (vectors as columns, scalars as 1x1)."""
    tree = P._syntax_tree(text)
    ctx, _, _ = P._choose_reading(text, tree, P._Declarations(shapes), symmetric)
    R = P._Resolver(ctx)

    def shape_of(node):
        r, c = R.shape(node.shape)
        return _size(r, sizes), _size(c, sizes)

    def dimarg(node):
        if node.kind == "number":
            return int(node.value)
        if node.kind == "name":
            return sizes[node.value]
        return math.prod(dimarg(ch) for ch in node.children)

    def is_scalar(v):
        return v.shape == (1, 1)

    def ev(node):
        k = node.kind
        if k == "number":
            return np.array([[float(node.value)]])
        if k == "name":
            if node.how == "var":
                v = np.asarray(values[node.value], dtype=float)
                return v.reshape(1, 1) if v.ndim == 0 else (v.reshape(-1, 1) if v.ndim == 1 else v)
            r, c = shape_of(node)
            return {"eye": lambda: np.eye(r), "ones": lambda: np.ones((r, c)),
                    "zeros": lambda: np.zeros((r, c))}[node.how]()
        if k == "neg":
            return -ev(node.children[0])
        if k == "transpose":
            return ev(node.children[0]).T
        if k == "sum":
            acc = ev(node.children[0])
            for (op, _), ch in zip(node.ops[1:], node.children[1:]):
                v = ev(ch)
                acc = acc + v if op == "+" else acc - v  # NumPy broadcasting = matdiff's
            return acc
        if k == "prod":
            acc = ev(node.children[0])
            for (op, _), ch in zip(node.ops[1:], node.children[1:]):
                v = ev(ch)
                if op == "*":
                    acc = acc * v if is_scalar(acc) or is_scalar(v) else acc @ v
                elif op == "/":
                    acc = acc / v
                elif op == ".*":
                    acc = acc * v
                else:
                    acc = acc / v
            return acc
        if k in ("pow", "hpow"):
            b, e = (ev(ch) for ch in node.children)
            if k == "pow" and not is_scalar(b):
                kk = int(node.how)
                return np.linalg.matrix_power(b if kk >= 0 else np.linalg.inv(b), abs(kk))
            return b ** e[0, 0]
        if k == "call":
            name = node.value
            if name in ("eye", "ones", "zeros"):
                r, c = shape_of(node)
                return {"eye": np.eye(r), "ones": np.ones((r, c)), "zeros": np.zeros((r, c))}[name]
            if name == "K":
                m, n = (dimarg(ch) for ch in node.children)
                K = np.zeros((m * n, m * n))
                for i in range(m):
                    for j in range(n):
                        K[i * n + j, j * m + i] = 1.0
                return K
            if name == "unvec":
                return ev(node.children[0]).reshape(dimarg(node.children[1]), -1, order="F")
            a = [ev(ch) for ch in node.children]
            x = a[0]
            s = lambda v: np.array([[v]])  # noqa: E731
            table = {
                "tr": lambda: s(np.trace(x)), "trace": lambda: s(np.trace(x)),
                "det": lambda: s(np.linalg.det(x)), "logdet": lambda: s(np.linalg.slogdet(x)[1]),
                "inv": lambda: np.linalg.inv(x), "transpose": lambda: x.T, "sum": lambda: s(x.sum()),
                "norm2": lambda: s(np.linalg.norm(x)), "vec": lambda: x.reshape(-1, 1, order="F"),
                "kron": lambda: np.kron(a[0], a[1]),
                "diag": lambda: x if is_scalar(x) else (np.diagflat(x) if x.shape[1] == 1
                                                        else np.diag(x).reshape(-1, 1)),
                "exp": lambda: np.exp(x), "log": lambda: np.log(x), "sin": lambda: np.sin(x),
                "cos": lambda: np.cos(x), "tan": lambda: np.tan(x), "tanh": lambda: np.tanh(x),
                "sqrt": lambda: np.sqrt(x), "abs": lambda: np.abs(x),
                "sigmoid": lambda: 1 / (1 + np.exp(-x)), "relu": lambda: np.maximum(x, 0),
                "sign": lambda: np.sign(x), "step": lambda: (x > 0).astype(float),
            }
            return table[name]()
        raise AssertionError(k)

    return ev(tree)


@settings(max_examples=n_examples(200), deadline=None)
@given(data=st.data())
def test_compiled_value_matches_the_syntax_tree(data):
    """matdiff's value (parsed, canonicalized, compiled) equals a direct evaluation of the input."""
    text, with_sym = data.draw(scalar_expressions(max_depth=5), label="expr")
    shapes = declared_in(text, shapes_for(with_sym))
    names = variables_in(text)
    symmetric = names_in(text, ["S"])
    sizes = {"n": data.draw(st.integers(2, 4)), "m": data.draw(st.integers(2, 4))}
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    d = matdiff.derive(text, wrt=names[0], shapes=shapes, symmetric=symmetric)
    values = {nm: random_value(concrete_shape(d.shapes[nm], sizes), KINDS.get(nm, "any"), rng,
                               symmetric=nm in symmetric) for nm in names}
    with np.errstate(all="ignore"):
        got = float(d.value_numpy()(**values))
        want = float(reference_value(text, shapes, symmetric, values, sizes)[0, 0])
    assume(math.isfinite(want) and abs(want) < 1e8)
    note(f"{text}: matdiff {got!r}, reference {want!r}")
    assert got == want or abs(got - want) <= 1e-8 * max(1.0, abs(want)), (text, got, want)


def test_reference_evaluator_self_check():
    """The oracle itself: a few hand-computed values (and it can disagree)."""
    rng = np.random.default_rng(0)
    A, x = rng.standard_normal((3, 3)), rng.standard_normal(3)
    sh = {"A": "n,n", "x": "n"}
    assert np.isclose(reference_value("x'*A*x", sh, [], {"A": A, "x": x}, {"n": 3})[0, 0], x @ A @ x)
    assert np.isclose(reference_value("tr(A^2)", sh, [], {"A": A, "x": x}, {"n": 3})[0, 0],
                      np.trace(A @ A))
    assert not np.isclose(reference_value("tr(A*A')", sh, [], {"A": A, "x": x}, {"n": 3})[0, 0],
                          np.trace(A @ A))
