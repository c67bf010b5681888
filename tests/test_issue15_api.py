"""Issue 15's API items: the Jupyter display of a Derivation, real-only generated functions
(complex input a clear error, float32 as documented), short tracebacks for user errors, and
the examples/ and LICENSE the README points to."""

from __future__ import annotations

import subprocess
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest

import matdiff

ROOT = Path(__file__).resolve().parents[1]


def test_derivation_displays_f_df_and_gradient():
    tex = matdiff.derive("x'*A*x", wrt="x")._repr_latex_()
    assert tex.startswith("$$\\begin{aligned}") and tex.endswith("\\end{aligned}$$")
    rows = tex[len("$$\\begin{aligned}"):-len("\\end{aligned}$$")].strip().split(" \\\\\n")
    assert [r.split(" &= ")[0] for r in rows] == ["f", "\\mathrm{d}f", "\\frac{\\partial f}{\\partial x}"]


def test_jacobian_display_and_latex_use_an_upright_d():
    d = matdiff.derive("A*X*B", wrt="X")
    for tex in (d._repr_latex_(), d.latex()):
        assert "\\mathrm{d}" in tex and "$d\\left" not in tex and not tex.startswith("d\\left")
        assert " d\\left(" not in tex
    assert "\\mathrm{d}F &= A \\mathrm{d}X \\, B" in d._repr_latex_()
    assert "\\partial \\operatorname{vec} X} &= B^{T} \\otimes A" in d._repr_latex_()


def test_hessian_is_displayed_once_asked_for():
    d = matdiff.derive("logdet(X)", wrt="X")
    assert "H &=" not in d._repr_latex_()
    d.hessian  # noqa: B018
    tex = d._repr_latex_()
    assert "\\mathrm{d}^2 f &=" in tex and "H[V] &=" in tex and "H &=" in tex


@pytest.mark.parametrize("target", ["numpy", "jax", "torch"])
def test_complex_input_to_generated_functions_is_a_clear_error(target):
    if target != "numpy":
        pytest.importorskip(target)
    d = matdiff.derive("x'*A*x + s*tr(A)", wrt="x")
    f = getattr(d, f"to_{target}")()
    x, A = np.ones(3), np.eye(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way
        for bad in ({"x": x + 1j}, {"A": A.astype(complex)}, {"s": 1 + 2j}):
            args = {"x": x, "A": A, "s": 2.0, **bad}
            with pytest.raises(TypeError, match=rf"{next(iter(bad))}: complex input .* is not supported"):
                f(**args)
    value, g = f(x=x, A=A, s=2.0)
    assert float(value) == pytest.approx(9.0) and np.allclose(np.asarray(g), 2 * x)


def test_float32_handling_is_as_the_docstring_says():
    d = matdiff.derive("x'*A*x", wrt="x")
    f = d.to_numpy()
    _, g = f(x=np.ones(3, dtype=np.float32), A=np.eye(3, dtype=np.float32))
    assert g.dtype == np.float64 and "float32 and integer input is promoted" in f.__doc__
    torch = pytest.importorskip("torch")
    t = d.to_torch()
    _, g = t(x=torch.ones(3, dtype=torch.float32), A=torch.eye(3))
    assert g.dtype == torch.float32 and "Floating tensors keep their dtype" in t.__doc__


def _frames(call) -> list:
    try:
        call()
    except matdiff.MatdiffError as e:
        return [f for f in traceback.extract_tb(e.__traceback__)]
    raise AssertionError("no error")


@pytest.mark.parametrize("call", [
    lambda: matdiff.derive("tr(X*A*X) + trce(X)", wrt="X"),
    lambda: matdiff.derive("A*x", wrt="x", shapes={"A": "n,m", "x": "k"}),
    lambda: matdiff.derive("A*X", wrt="X").check(claim="kron(A, A, A)"),
    lambda: matdiff.parse("x'*"),
    lambda: matdiff.derive("tr(X)", wrt="Y"),
], ids=["unknown-function", "shapes", "claim", "parse", "wrt"])
def test_user_errors_have_short_tracebacks(call):
    internal = [f for f in _frames(call) if "/matdiff/" in f.filename.replace("\\", "/")]
    assert len(internal) <= 1, [f"{f.filename}:{f.lineno} {f.name}" for f in internal]


def test_debug_keeps_the_full_traceback(monkeypatch):
    monkeypatch.setenv("MATDIFF_DEBUG", "1")
    frames = _frames(lambda: matdiff.derive("tr(X*A*X) + trce(X)", wrt="X"))
    assert len([f for f in frames if "/matdiff/" in f.filename.replace("\\", "/")]) > 3


def test_license_matches_pyproject():
    text = (ROOT / "LICENSE").read_text()
    assert 'license = "MIT"' in (ROOT / "pyproject.toml").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text


def test_readme_lists_every_example():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Examples in examples/\n", 1)[1].split("\n## ", 1)[0]
    files = sorted(p.name for p in (ROOT / "examples").iterdir() if p.suffix in (".py", ".ipynb"))
    for name in files:
        assert f"`examples/{name}`" in section, f"the README's examples section does not list {name}"


def test_import_stays_light():
    out = subprocess.run([sys.executable, "-c", "import sys, matdiff; matdiff.derive('tr(X)', 'X'); "
                          "print(sorted(m for m in ('sympy', 'nbclient', 'IPython', 'jax', 'torch') "
                          "if m in sys.modules))"], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
