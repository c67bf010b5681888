"""Generated code factors a matrix its facts show SPD by Cholesky (issue 11): its
log-determinant as 2*sum(log(diag(L))), its inverse and its solves from the factor L, one
factorization shared by all of them; results agree with slogdet/solve to 1e-12 relative in
every back-end, and matrices not known SPD keep slogdet and LU solves."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest

import matdiff

SHAPES = {"A": "m,n", "x": "n", "y": "n"}
CASES = {
    "logdet(A'*A + eye(n))": lambda A, x, y, S: (np.linalg.slogdet(S)[1], 2 * A @ np.linalg.inv(S)),
    "log(det(A'*A + eye(n)))": lambda A, x, y, S: (np.linalg.slogdet(S)[1], 2 * A @ np.linalg.inv(S)),
    "x'*inv(A'*A + eye(n))*y": lambda A, x, y, S: (
        x @ np.linalg.solve(S, y),
        -A @ (np.outer(np.linalg.solve(S, x), np.linalg.solve(S, y)) + np.outer(np.linalg.solve(S, y),
                                                                              np.linalg.solve(S, x)))),
    "logdet(A'*A + eye(n)) + x'*inv(A'*A + eye(n))*x": lambda A, x, y, S: (
        np.linalg.slogdet(S)[1] + x @ np.linalg.solve(S, x),
        2 * A @ (np.linalg.inv(S) - np.outer(np.linalg.solve(S, x), np.linalg.solve(S, x)))),
}


def _inputs(rng):
    A, x, y = rng.standard_normal((6, 4)), rng.standard_normal(4), rng.standard_normal(4)
    return A, x, y, A.T @ A + np.eye(4)


def _derive(text):
    return matdiff.derive(text, wrt="A", shapes={k: v for k, v in SHAPES.items() if re.search(rf"\b{k}\b", text)})


def _targets():
    return ["numpy"] + [t for t in ("jax", "torch") if importlib.util.find_spec(t)]


def _run(d, target, inputs):
    if target == "torch":
        import torch

        return d.to_torch()(**{k: torch.tensor(v) for k, v in inputs.items()})
    if target == "jax":
        import jax

        with jax.enable_x64(True):
            return d.to_jax()(**inputs)
    return d.to_numpy()(**inputs)


@pytest.mark.parametrize("target", _targets())
@pytest.mark.parametrize("text", list(CASES))
def test_spd_matrices_are_factored_by_cholesky_with_the_same_results(text, target):
    A, x, y, S = _inputs(np.random.default_rng(4))
    d = _derive(text)
    body = d.source(target).split("\ndef f(", 1)[1]
    assert body.count("linalg.cholesky(") == 1, body  # one factorization for logdet, inverse and solves
    assert "slogdet" not in body and "linalg.solve(" not in body and "linalg.inv(" not in body, body
    inputs = {k: v for k, v in {"A": A, "x": x, "y": y}.items() if k in d.variables}
    value, G = _run(d, target, inputs)
    v0, G0 = CASES[text](A, x, y, S)
    assert np.isclose(float(value), v0, rtol=1e-12, atol=0)
    assert np.allclose(np.asarray(G), G0, rtol=1e-12, atol=1e-14)


def test_matrices_not_known_spd_keep_slogdet_and_lu_solves():
    d = matdiff.derive("logdet(X) + x'*inv(X)*x", wrt="X", shapes={"X": "n,n", "x": "n"})
    body = d.source("numpy").split("\ndef f(", 1)[1]
    assert "cholesky" not in body and "slogdet" in body
    # a symmetric declaration is not positive definiteness
    d = matdiff.derive("logdet(S)", wrt="S", shapes={"S": "n,n"}, symmetric=["S"])
    assert "cholesky" not in d.source("numpy").split("\ndef f(", 1)[1]
