"""The JAX and PyTorch back-ends against the NumPy one (matdiff/backends/).

Every codegen case of tests/test_codegen.py (imported, not copied) agrees across the three
back-ends: eagerly, under ``jax.jit`` and (on a few cases: compiling is slow on a small
machine) under ``torch.compile``. So do Jacobians, JVP/VJP products, Hessians and HVPs.
JAX runs in float64 here (``jax.enable_x64``) so the comparison can be tight. The tests
skip when jax or torch is absent (``pip install -e ".[backends]"``).
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from test_codegen import CASES, RUFF, random_inputs

import matdiff
from matdiff.cli import main

IDS = [c[0] + " by " + str(c[1]) for c in CASES]
RTOL = 1e-9


def _jax():
    return pytest.importorskip("jax")


def _torch():
    return pytest.importorskip("torch")


def _np(x):
    """A result (array, tensor, dict, tuple) as NumPy, recursively over containers."""
    if isinstance(x, dict):
        return {k: _np(v) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return [_np(v) for v in x]
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def _agree(ref, got, what):
    ref, got = _np(ref), _np(got)
    if isinstance(ref, dict):
        assert set(ref) == set(got), what
        for k in ref:
            _agree(ref[k], got[k], f"{what}[{k}]")
    elif isinstance(ref, list):
        assert len(ref) == len(got), what
        for i, (a, b) in enumerate(zip(ref, got)):
            _agree(a, b, f"{what}[{i}]")
    else:
        assert ref.shape == got.shape, (what, ref.shape, got.shape)
        scale = max(1.0, float(np.max(np.abs(ref), initial=0.0)))
        np.testing.assert_allclose(got, ref, rtol=RTOL, atol=RTOL * scale, err_msg=what)


def _case(text, wrt, shapes, sym, pos, seed=0):
    d = matdiff.derive(text, wrt=wrt, shapes=shapes, symmetric=sym)
    return d, random_inputs(d, np.random.default_rng(seed), positive=pos, sym=sym)


@pytest.mark.parametrize("text,wrt,shapes,sym,pos", CASES, ids=IDS)
def test_jax_agrees_with_numpy_eagerly_and_under_jit(text, wrt, shapes, sym, pos):
    jax = _jax()
    d, inp = _case(text, wrt, shapes, sym, pos)
    ref = d.to_numpy()(**inp)
    with jax.enable_x64(True):
        f = d.to_jax()
        _agree(ref, f(**inp), f"jax {text}")
        _agree(ref, jax.jit(f)(**inp), f"jax.jit {text}")


@pytest.mark.parametrize("text,wrt,shapes,sym,pos", CASES, ids=IDS)
def test_torch_agrees_with_numpy(text, wrt, shapes, sym, pos):
    torch = _torch()
    d, inp = _case(text, wrt, shapes, sym, pos)
    ref = d.to_numpy()(**inp)
    _agree(ref, d.to_torch()(**inp), f"torch {text}")
    tin = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in inp.items()}
    _agree(ref, d.to_torch()(**tin), f"torch tensors {text}")


# torch.compile takes seconds per function on two cores: a few cases that cover solve,
# slogdet, the softplus/sigmoid helpers, kron without forming it, and a dict of gradients
COMPILED = [c for c in CASES if c[0] in ("logdet(X) + tr(inv(X)*A)", "sum(log(1 + exp(-y .* (X*w))))",
                                         "y'*kron(A, X)*z", "x'*A*y")]


@pytest.mark.parametrize("text,wrt,shapes,sym,pos", COMPILED, ids=[c[0] for c in COMPILED])
def test_torch_compile_agrees(text, wrt, shapes, sym, pos):
    torch = _torch()
    d, inp = _case(text, wrt, shapes, sym, pos)
    ref = d.to_numpy()(**inp)
    tin = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in inp.items()}
    torch._dynamo.reset()
    _agree(ref, torch.compile(d.to_torch(), fullgraph=True)(**tin), f"torch.compile {text}")


SECOND = [
    ("A*x", "x", None, (), ()),  # Jacobian
    ("X*A*X'", "X", None, (), ()),  # Jacobian, matrix-valued
    ("x'*A*x + logdet(X)", ["x", "X"], None, (), {"X"}),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", {"X": "n,m", "y": "n"}, (), ()),
    ("tr(X*A*X)", "X", None, (), ()),
    ("a*x'*x + exp(a)*sum(x)", ["a", "x"], None, (), ()),  # scalar blocks in the dense Hessian
]
SIDS = [c[0] + " by " + str(c[1]) for c in SECOND]


def _modes(d):
    modes = [{}, {"jvp": True}, {"vjp": True}]
    if d.expr.is_scalar:
        modes += [{"hessian": True}, {"hvp": True}]
    return modes


def _call(d, f, mode, inp, rng):
    """Call f in a mode with directions (tangents, cotangent, Hessian directions)."""
    if mode.get("jvp"):
        return f(**inp, **{f"d{n}": rng[n] for n in d.wrt})
    if mode.get("vjp"):
        return f(rng["_C"], **inp)
    if mode.get("hvp"):
        return f(**inp, **{v: rng[a] for a, v in d.hvp_variables.items()})
    return f(**inp)


@pytest.mark.parametrize("text,wrt,shapes,sym,pos", SECOND, ids=SIDS)
def test_jacobians_products_hessians_agree(text, wrt, shapes, sym, pos):
    jax = pytest.importorskip("jax")
    torch = pytest.importorskip("torch")
    d, inp = _case(text, wrt, shapes, sym, pos)
    r = np.random.default_rng(5)
    dirs = {n: r.standard_normal(np.shape(inp[n])) for n in d.wrt}
    shape = d.to_numpy()(**inp)[0]
    dirs["_C"] = r.standard_normal(np.shape(shape))
    for mode in _modes(d):
        ref = _call(d, d.to_numpy(**mode), mode, inp, dirs)
        with jax.enable_x64(True):
            f = d.to_jax(**mode)
            _agree(ref, _call(d, f, mode, inp, dirs), f"jax {mode} {text}")
            _agree(ref, _call(d, jax.jit(f), mode, inp, dirs), f"jax.jit {mode} {text}")
        tin = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in inp.items()}
        tdirs = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in dirs.items()}
        _agree(ref, _call(d, d.to_torch(**mode), mode, tin, tdirs), f"torch {mode} {text}")


def test_jax_float32_by_default_and_jit_of_keyword_call():
    jax = _jax()
    d = matdiff.derive("norm2(A*x - b)^2", wrt="x", shapes={"b": "n"})
    inp = random_inputs(d, np.random.default_rng(2))
    v, g = jax.jit(d.to_jax())(**inp)
    assert v.dtype == np.float32 and g.shape == (inp["x"].shape[0],)
    v64, g64 = d.to_numpy()(**inp)
    np.testing.assert_allclose(np.asarray(g), g64, rtol=1e-4)


def test_jax_contracts_without_forming_transposes():
    """A.T @ r is lax.dot_general(A, r, ...): XLA on CPU would copy A for the transpose."""
    for text, wrt, shapes in (("norm2(A*x - b)^2", "x", {"b": "n"}),
                              ("sum(log(1 + exp(-y .* (X*w))))", "w", {"X": "n,m", "y": "n"})):
        src = matdiff.derive(text, wrt=wrt, shapes=shapes).source("jax")
        assert not re.search(r"\.T @ ", src), src
        assert "lax.dot_general(" in src


def test_generated_jax_and_torch_modules_are_clean(tmp_path):
    for text, wrt, shapes, sym, _ in CASES[:12]:
        d = matdiff.derive(text, wrt=wrt, shapes=shapes, symmetric=sym)
        for target, mods in (("jax", {"jax"}), ("torch", {"torch"})):
            src = d.source(target, "grad_f")
            assert "float(" not in src and ".item()" not in src and "out=" not in src, src
            imports = set(re.findall(r"^\s*(?:import|from)\s+(\w+)", src, re.MULTILINE))
            assert imports == mods, (target, imports)
            path = tmp_path / f"{target}.py"
            path.write_text(src)
            res = subprocess.run(RUFF + ["check", "--no-cache", "--isolated", str(path)], capture_output=True,
                                 text=True, check=False)
            assert res.returncode == 0, res.stdout + src


def test_module_alias_renamed_when_a_user_name_takes_it():
    """A variable named jnp / torch / np: the library alias moves aside, never the user name."""
    _torch()
    jax = _jax()
    d = matdiff.derive("torch'*jnp + norm2(np)^2", wrt=["torch", "np"], shapes={"torch": "n", "jnp": "n", "np": "n"})
    inp = {"torch": np.arange(3.0), "jnp": np.ones(3), "np": np.array([1.0, -2.0, 0.5])}
    ref = d.to_numpy()(**inp)
    _agree(ref, d.to_torch()(**inp), "torch")
    with jax.enable_x64(True):
        _agree(ref, d.to_jax()(**inp), "jax")
    src = d.source("torch")
    assert "import torch as _torch" in src and "def f(torch, jnp, np):" in src


def test_unsupported_lowering_is_a_clear_error(monkeypatch):
    from matdiff.ops.base import UNSUPPORTED, Unsupported
    from matdiff.ops.elementwise import ELEMENTWISE

    monkeypatch.setitem(ELEMENTWISE["tanh"].lower, "jax", UNSUPPORTED)
    monkeypatch.setitem(ELEMENTWISE["tanh"].lower, "torch", Unsupported("no such kernel"))
    d = matdiff.derive("sum(tanh(x))", wrt="x")
    with pytest.raises(matdiff.DerivationError, match="tanh has no jax lowering"):
        d.source("jax")
    with pytest.raises(matdiff.DerivationError, match=r"tanh has no torch lowering \(no such kernel\)"):
        d.to_torch()
    assert "np.tanh(" in d.source("numpy")


def test_unknown_target():
    d = matdiff.derive("x'*x", wrt="x")
    with pytest.raises(matdiff.DerivationError, match="unknown target 'jaxx'.*did you mean 'jax'"):
        d.source("jaxx")


def test_importing_matdiff_loads_neither_jax_nor_torch():
    code = ("import sys, matdiff; d = matdiff.derive('x\\'*A*x', wrt='x'); d.to_numpy(); "
            "d.source('jax'); d.source('torch'); print(sorted(m for m in ('jax', 'torch') if sys.modules.get(m) is not None))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_cli_codegen_target():
    for target, needle in (("jax", "import jax.numpy as jnp"), ("torch", "import torch"), ("numpy", "import numpy as np")):
        r = CliRunner().invoke(main, ["codegen", "x'*inv(S)*x + logdet(S)", "--wrt", "S", "--symmetric", "S",
                                      "--target", target])
        assert r.exit_code == 0, r.output
        assert needle in r.output and "Imports only" in r.output
        compile(r.output, "m", "exec")
    r = CliRunner().invoke(main, ["codegen", "x'*x", "--wrt", "x", "--target", "tf"])
    assert r.exit_code != 0 and "tf" in r.output


def test_torch_keeps_float32_tensors():
    torch = _torch()
    d = matdiff.derive("logdet(X) + tr(inv(X)*A)", wrt="X")
    X = torch.eye(3, dtype=torch.float32) * 2 + 0.1
    v, g = d.to_torch()(X=X, A=torch.ones(3, 3, dtype=torch.float32))
    assert v.dtype == torch.float32 and g.dtype == torch.float32 and v.shape == ()


@pytest.mark.parametrize("name", sorted(__import__("matdiff.ops.elementwise", fromlist=["ELEMENTWISE"]).ELEMENTWISE))
def test_every_elementwise_function_lowers_and_agrees(name):
    """Each ELEMENTWISE entry, in each back-end: value and gradient of sum(f(x)) and of
    x'*f(x) agree with NumPy on points inside the entry's domain."""
    from matdiff.ops.elementwise import ELEMENTWISE

    jax = _jax()
    torch = _torch()
    lo, hi = ELEMENTWISE[name].domain
    lo = -2.0 if lo is None else lo + 0.1
    hi = 2.0 if hi is None else min(hi, lo + 4.0) - 0.1
    x = np.random.default_rng(3).uniform(lo, hi, 6)
    for text in (f"sum({name}(x))", f"x'*{name}(x)"):
        d = matdiff.derive(text, wrt="x")
        ref = d.to_numpy()(x=x)
        with jax.enable_x64(True):
            _agree(ref, jax.jit(d.to_jax())(x=x), f"jax {text}")
        _agree(ref, d.to_torch()(x=torch.as_tensor(x)), f"torch {text}")


def test_jit_safe_printers_emit_no_host_round_trips():
    """The capability flag is honest: jit-safe back-ends never print float(), .item() or out=."""
    from matdiff.backends.emit import printer_for

    assert not printer_for("numpy").jit_safe and printer_for("numpy").in_place
    d = matdiff.derive("x'*inv(S)*x + logdet(S) + a*sum(exp(x))", wrt=["x", "S", "a"], symmetric="S")
    for target in ("jax", "torch"):
        assert printer_for(target).jit_safe and not printer_for(target).in_place
        for mode in ({}, {"hessian": True}, {"hvp": True}):
            src = d.source(target, **mode)
            assert not re.search(r"\bfloat\(|\.item\(\)|out=|\+=|-=", src), src


@pytest.mark.parametrize("target", ["jax", "torch"])
def test_a_missing_library_is_a_clear_error_not_an_import_error(monkeypatch, target):
    """to_jax()/to_torch() without the library: what to install, and that source() works."""
    import sys

    monkeypatch.setitem(sys.modules, target, None)  # as if not installed
    d = matdiff.derive("x'*A*x", wrt="x", shapes={"x": "n", "A": "n,n"})
    with pytest.raises(matdiff.DerivationError, match=rf"needs {target}.*pip install 'matdiff\[backends\]'"):
        getattr(d, f"to_{target}")()
    assert "def f(" in d.source(target)


def test_every_backend_spells_every_lowered_operation():
    """The lowering is target-neutral: each back-end printer spells the same set of lowered
    operations (a new lowered op without a spelling in one back-end fails here, not when a
    user first generates code for that back-end)."""
    import importlib
    import re
    from pathlib import Path

    from matdiff.backends import lower

    printers = {t: importlib.import_module(f"matdiff.backends.{t}").PRINTER for t in ("numpy", "jax", "torch")}
    keys = {t: set(p.templates) for t, p in printers.items()}
    # an op made only for printers that declare the capability (the Gram helper of low-rank
    # residuals, NumPy's): a printer without the spelling must not declare it
    gated = {"lowrank"}
    for t, p in printers.items():
        assert bool(getattr(p, "lowrank", False)) == ("lowrank" in keys[t]), t
    assert keys["numpy"] - gated == keys["jax"] - gated == keys["torch"] - gated, keys
    made = set(re.findall(r'self\.(?:node|call)\("([a-z_]+)"', Path(lower.__file__).read_text()))
    spelled_in_code = {"fn", "op_call", "call"}  # read from the op declarations by Printer.code
    assert made - spelled_in_code <= keys["numpy"], sorted(made - spelled_in_code - keys["numpy"])
