"""log of a softmax: log(c*exp(u)) = u + log(c) and log(1/s) = -log(s) (expr.fn).

Both hold for every real c and s in NumPy's semantics (c <= 0 gives nan or -inf on both
sides), so the constructor may apply them unconditionally; they make one-hot cross-entropy
written with an explicit softmax short and stable. Checked numerically on random inputs,
negative scalars included, and at logits of +-1000.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import check_gradient

import matdiff

CASES = [
    # text, shapes, reference value
    ("sum(log(exp(x)*a))", {"x": "n", "a": ""}, lambda x, a: np.sum(np.log(np.exp(x) * a))),
    ("log(exp(b)*a)", {"a": "", "b": ""}, lambda a, b: np.log(np.exp(b) * a)),
    ("log(1/a)", {"a": ""}, lambda a: np.log(1 / a)),
    ("sum(log(exp(x)/sum(exp(x))))", {"x": "n"}, lambda x: np.sum(np.log(np.exp(x) / np.sum(np.exp(x))))),
]


@pytest.mark.parametrize("text, shapes, ref", CASES, ids=[c[0] for c in CASES])
def test_rewrites_preserve_the_value(text, shapes, ref):
    d = matdiff.derive(text, wrt=list(shapes)[0], shapes=shapes)
    assert "log(exp(" not in str(d.expr) and "log(1/" not in str(d.expr)  # the rule fired
    f = d.value_numpy()
    rng = np.random.default_rng(1)
    for n in (1, 3, 5):
        for _ in range(10):
            vals = {k: (rng.normal(size=n) if v == "n" else rng.choice([-2.0, -0.5, 0.0, 0.7, 3.0]))
                    for k, v in shapes.items()}
            with np.errstate(all="ignore"):
                got, want = f(**vals), ref(**vals)
            assert np.allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True), (vals, got, want)


def test_one_hot_cross_entropy_with_an_explicit_softmax():
    text = "-y'*log(exp(W*x)/sum(exp(W*x)))"
    d = check_gradient(text, "W", shapes={"y": "n", "W": "n,m", "x": "m"})
    assert str(d.gradient) == "(sum(y)*softmax(W*x) - y)*x'"  # the same expression, by name
    f = d.to_numpy()
    W = np.array([[1000.0, 0.0], [0.0, -1000.0], [3.0, 4.0]])
    x, y = np.array([1.0, 2.0]), np.array([0.0, 1.0, 0.0])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        val, g = f(W=W, x=x, y=y)
    u = W @ x
    assert np.isclose(val, np.log(np.sum(np.exp(u - u.max()))) + u.max() - u[1])
    p = np.exp(u - u.max()) / np.sum(np.exp(u - u.max()))
    assert np.allclose(g, np.outer(p - y, x))
