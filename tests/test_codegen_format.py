"""Generated modules are ``ruff format``-clean (ruff's defaults: 88 columns, double quotes):
pasted into a project that formats its code, they stay as generated. A representative set
(gradients, Jacobians, several variables, Hessians, HVPs, JVP/VJP products, named
intermediates, matrix functions, eigenvalues, blocks, long chains) for NumPy, JAX and PyTorch."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import matdiff

CASES = [
    ("tr(X*A*X)", "X", {}, (), {}),
    ("logdet(X) + tr(inv(X)*A)", "X", {}, (), {}),
    ("norm2(A*x - b)^2", "x", {}, (), {"hessian": True}),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", {}, (), {"hessian": True}),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", {}, (), {"hvp": True}),
    ("norm2(X - U*V')^2", ["U", "V"], {}, (), {}),
    ("norm2(X - U*V')^2", ["U", "V"], {}, (), {"hessian": True}),
    ("tanh(W*x)", "W", {}, (), {}),
    ("logsumexp(W*x) - y'*W*x", "W", {}, (), {}),
    ("tr(expm(A)) + tr(B*expm(A))", "A", {}, (), {}),
    ("tr(B*logm(S))", "S", {}, ("S",), {}),
    ("sum(exp(eigvals(S))) + eigmax(S)", "S", {}, ("S",), {}),
    ("norm2([A; sqrt(lambda)*I]*x - [b; zeros])^2", "x", {"A": "m,n"}, (), {}),
    ("h = tanh(W1*x + b1); sum((W2*h - y).^2)", ["W1", "W2"], {}, (), {}),
    ("x'*inv(S)*x + logdet(S)", "S", {}, ("S",), {}),
    ("tr(X*A1*X*A2*X*A3*X*A4*X*A5*X*A6)", "X", {}, (), {}),
    ("sum(sigmoid(Wlongname1*xinput + blongname) .* softplus(Wlongname2*xinput))",
     ["Wlongname1", "Wlongname2"], {}, (), {}),
    ("kron(A, X)*vec(B)", "X", {}, (), {}),
]


def _sources():
    for text, wrt, shapes, sym, kw in CASES:
        d = matdiff.derive(text, wrt=wrt, shapes=shapes, symmetric=sym)
        for target in ("numpy", "jax", "torch"):
            yield d.source(target, name="f", **kw)
    d = matdiff.derive("logdet(X) + tr(inv(X)*A)", wrt="X")
    yield d.to_numpy(jvp=True).source
    yield d.to_numpy(vjp=True).source


def _ruff():
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.skip("ruff is not installed")
    return exe


def test_generated_modules_are_ruff_format_clean(tmp_path):
    ruff = _ruff()
    for i, src in enumerate(_sources()):
        (tmp_path / f"gen_{i:02d}.py").write_text(src)
    out = subprocess.run([ruff, "format", "--isolated", "--diff", str(tmp_path)], capture_output=True,
                         text=True)
    assert out.returncode == 0, f"ruff format would change generated code:\n{out.stdout[:6000]}"
