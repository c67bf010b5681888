"""Tests driven by the registries, so a new operation is checked the day it is added.

* every language function (``matdiff.lang.parsing.FUNCTIONS``) has a template below and its
  gradient agrees with central finite differences at two sizes;
* every internal op (``matdiff.ops.registry.OPS``) has a differential rule, and every op that can be
  linear in an argument has a transpose rule.
"""

from __future__ import annotations

import numpy as np
import pytest

import matdiff
from matdiff.lang.parsing import FUNCTIONS
from matdiff.ops.registry import OPS

# function name -> (expression using it, wrt, shapes); X is kept well conditioned below
TEMPLATES = {
    "tr": ("tr(X*A)", "X", {}),
    "trace": ("trace(X'*A*X)", "X", {}),
    "det": ("det(X)", "X", {}),
    "logdet": ("logdet(X'*X)", "X", {}),
    "inv": ("sum(inv(X))", "X", {}),
    "transpose": ("sum(transpose(X)*A)", "X", {}),
    "sum": ("sum(X .* X)", "X", {}),
    "norm2": ("norm2(X*A)", "X", {}),
    "diag": ("sum(diag(diag(X)) * X) + x'*diag(x)*x", "X", {}),
    "vec": ("vec(X)'*vec(A*X)", "X", {}),
    "unvec": ("sum(unvec(x, n) .* X)", "x", {"x": "n*n", "X": "n,n"}),
    "kron": ("sum(kron(X, A) .* kron(A, X))", "X", {}),
    "kronadj1": ("sum(kronadj1(kron(X, A) + kron(A, X), A) .* X)", "X", {}),
    "kronadj2": ("sum(kronadj2(A, kron(X, A) + kron(A, X)) .* X)", "X", {}),
    "K": ("vec(X)'*K(n, n)*vec(X*A)", "X", {}),
    "eye": ("tr(eye(n)*X*X)", "X", {}),
    "ones": ("sum(ones(n, n)*X*X)", "X", {}),
    "zeros": ("sum(zeros(n, n)*X + X.*X)", "X", {}),
    "exp": ("sum(exp(X))", "X", {}),
    "log": ("sum(log(1 + X.*X))", "X", {}),
    "sin": ("sum(sin(X))", "X", {}),
    "cos": ("sum(cos(X))", "X", {}),
    "tan": ("sum(tan(0.3*X))", "X", {}),
    "tanh": ("sum(tanh(X))", "X", {}),
    "sqrt": ("sum(sqrt(1 + X.*X))", "X", {}),
    "abs": ("sum(abs(X))", "X", {}),
    "sigmoid": ("sum(sigmoid(X))", "X", {}),
    "relu": ("sum(relu(X) .* X)", "X", {}),
    "sign": ("sum(sign(X) .* X)", "X", {}),
    "step": ("sum(step(X) .* X)", "X", {}),
}


def test_every_language_function_has_a_template():
    missing = sorted(set(FUNCTIONS) - set(TEMPLATES))
    assert not missing, f"add a gradient test template for {missing}"


def test_every_op_has_a_differential_rule():
    assert all(o.jvp is not None for o in OPS.values()), [n for n, o in OPS.items() if o.jvp is None]
    linear = {"add", "mul", "transpose", "trace", "had", "sum", "diagm", "diagv", "vec", "unvec",
              "bcast", "kron", "kronadj1", "kronadj2"}
    assert {n for n, o in OPS.items() if o.adjoint is not None} == linear


def _inputs(d, n, rng):
    out = {}
    for name, dims in d.shapes.items():
        shp = tuple(n if isinstance(x, str) and "*" not in x else (n * n if isinstance(x, str) else x)
                    for x in dims)
        if not shp:
            out[name] = float(rng.standard_normal())
        elif len(shp) == 2 and shp[0] == shp[1]:
            out[name] = rng.standard_normal(shp) + 2 * n * np.eye(n)  # well conditioned, det > 0
        else:
            # entries away from 0, where abs/sign/relu/step are smooth
            out[name] = rng.choice([-1.0, 1.0], size=shp) * rng.uniform(0.5, 1.5, size=shp)
    return out


@pytest.mark.parametrize("fname", sorted(TEMPLATES))
@pytest.mark.parametrize("n", [2, 3])
def test_gradient_of_every_function_matches_finite_differences(fname, n):
    text, wrt, shapes = TEMPLATES[fname]
    d = matdiff.derive(text, wrt=wrt, shapes=shapes or None)
    f = d.to_numpy()
    rng = np.random.default_rng(n * 7919 + len(fname))
    x = _inputs(d, n, rng)
    if fname in ("abs", "sign", "step", "relu"):  # keep X's entries away from the kinks at 0
        X = x["X"]
        x["X"] = np.sign(X) * (np.abs(X) + 0.5)
    _, g = f(**x)
    base = x[wrt]
    for _ in range(3):
        V = rng.standard_normal(np.shape(base))
        h = 1e-5
        xp, xm = dict(x), dict(x)
        xp[wrt], xm[wrt] = base + h * V, base - h * V
        fd = (f(**xp)[0] - f(**xm)[0]) / (2 * h)
        an = float(np.sum(np.asarray(g) * V))
        assert abs(fd - an) <= 1e-6 * max(1.0, abs(fd), abs(an)), (text, fd, an)
