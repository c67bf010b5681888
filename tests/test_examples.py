"""Each script in examples/ runs to completion and prints what it demonstrates."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(script: str) -> str:
    proc = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True, text=True,
                          timeout=120, cwd=EXAMPLES.parent)
    assert proc.returncode == 0, f"{script} exited with {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_newton_logistic():
    out = run("newton_logistic.py")
    assert "Hessian   X'*diag(" in out
    m = re.search(r"^Newton\s+(\d+)\s+(\S+)\s+(\S+)", out, re.M)
    g = re.search(r"^gradient descent\s+(\d+)\s+(\S+)\s+(\S+)", out, re.M)
    assert m and g, out
    newton_its, gd_its = int(m.group(1)), int(g.group(1))
    assert newton_its <= 10 < gd_its, out
    assert float(m.group(3)) < 1e-8 and float(g.group(3)) < 1e-8, out
    assert abs(float(m.group(2)) - float(g.group(2))) < 1e-8, out


def test_newton_eigenvalue():
    out = run("newton_eigenvalue.py")
    assert "p'(lambda)  = -det(A - lambda*I)*tr(inv(A - lambda*I))" in out
    m = re.search(r"max \|lambda - eigenvalue\| = (\S+)", out)
    assert m and float(m.group(1)) < 1e-8, out
    assert "g'(t) = " in out and "g'(t) = eigvecmax(A + t*B)'*B*eigvecmax(A + t*B)" in out, out
    m = re.search(r"\|eigmax - c\| = (\S+)", out)
    assert m and float(m.group(1)) < 1e-9, out


def test_adjoint_method():
    out = run("adjoint_method.py")
    assert "grad f(p) = -2*diag(inv(A0 + diag(p))'*(inv(A0 + diag(p))*b - y)*b'*inv(A0 + diag(p))')" in out, out
    # two solves (forward and adjoint), no inverse formed
    gen = out.split("generated", 1)[1].split("  k ", 1)[0]
    assert gen.count("linalg.solve(") == 2 and "linalg.inv(" not in gen, out
    m = re.search(r"vector p: max rel. error vs finite differences = (\S+), vs the adjoint formula = (\S+)", out)
    assert m and float(m.group(1)) < 1e-7 and float(m.group(2)) < 1e-12, out
    m = re.search(r"scalar p: .* rel. error (\S+)", out)
    assert m and float(m.group(1)) < 1e-7, out


def test_quickstart():
    out = run("quickstart.py")
    assert "d.check()     ok" in out
    m = re.search(r"\|H vec\(V\) - vec\(H\[V\]\)\| = (\S+)", out)
    assert m and float(m.group(1)) < 1e-9, out


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_runs(script):
    run(script)
