"""Every module of the package can be the first one imported (the op registry, the
expression core and the elementwise table load one another; no order may break them)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import matdiff

MODULES = sorted(m.name for m in pkgutil.walk_packages(matdiff.__path__, "matdiff.")
                 if m.name != "matdiff.__main__")


def test_every_module_imports_first():
    # one interpreter per module, run together: a cycle shows as an ImportError naming it
    code = ("import importlib, sys\n"
            "importlib.import_module(sys.argv[1])\n"
            "from matdiff.ops.registry import OPS\n"
            "assert 'mul' in OPS and 'fn' in OPS\n")
    procs = {m: subprocess.Popen([sys.executable, "-c", code, m], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True) for m in MODULES}
    failed = {m: p.communicate()[0].strip().splitlines()[-1:] for m, p in procs.items()
              if p.wait() != 0}
    assert not failed, failed


@pytest.mark.parametrize("heavy", ["numpy", "lark", "jax", "torch", "sympy", "scipy"])
def test_import_matdiff_stays_light(heavy):
    out = subprocess.run([sys.executable, "-c", f"import sys, matdiff; print({heavy!r} in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
