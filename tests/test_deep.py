"""The deepest expression the parser accepts goes through every stage (derive, print, code
generation, the checker, Jacobians) at Python's default recursion limit, which matdiff
never changes: the walks over expressions are iterative or bounded."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import matdiff

SHAPES = {"X": "n,n", "A": "n,n", "B": "n,n"}


@pytest.fixture(scope="module")
def deepest():
    s, depth = "X", 0
    while True:  # alternate a matrix product with an elementwise function, as deep as accepted
        t = f"({s}*A + B)" if depth % 2 else f"tanh({s})"
        try:
            matdiff.parse(f"sum({t})", SHAPES)
        except matdiff.ParseError:
            return s
        s, depth = t, depth + 1


def test_deepest_accepted_expression_derives_generates_and_checks(deepest):
    limit = sys.getrecursionlimit()
    d = matdiff.derive(f"sum({deepest})", wrt="X", shapes=SHAPES)
    assert str(d.gradient) and d.latex()
    f = d.to_numpy()
    rng = np.random.default_rng(0)
    X, A, B = (rng.standard_normal((3, 3)) * 0.5 for _ in range(3))
    value, g = f(X, A, B)
    assert np.isfinite(value) and g.shape == (3, 3) and np.all(np.isfinite(g))
    assert d.check(sizes={"n": 3}).ok
    J = matdiff.derive(deepest, wrt="X", shapes=SHAPES)
    assert str(J.jacobian) and J.to_numpy()(X, A, B)[1].shape == (9, 9)
    assert sys.getrecursionlimit() == limit
