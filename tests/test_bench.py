"""benchmarks/: the memory figures are right on known cases, the installer reads the bench
extra, and bench_autodiff.py runs with every comparator left out (a few seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import install_comparators  # noqa: E402
import traffic  # noqa: E402


def test_allocations_counts_each_new_array():
    x = np.ones(10**5)  # 800 kB

    def three_arrays():
        a = x * 2
        b = a + 1
        return b - x

    allocated, peak = traffic.allocations(three_arrays)
    assert 3 * x.nbytes <= allocated < 3 * x.nbytes + 4096
    assert 3 * x.nbytes <= peak < 3 * x.nbytes + 4096  # a and b are alive until the return


def test_allocations_ignores_pure_python():
    def loop():
        s = 0
        for i in range(500):
            s += i
        return s

    assert traffic.allocations(loop)[0] < 4096


def test_minimum_bytes():
    inputs = [np.ones((10, 20)), np.ones(20)]
    assert traffic.minimum_bytes(inputs, (1.5, np.ones(20))) == 8 * (200 + 20 + 1 + 20)


def test_installer_reads_the_bench_extra():
    reqs = install_comparators.bench_requirements()
    assert any(r.startswith("torch==") for r in reqs), reqs  # pinned: an unpinned torch is a CUDA build
    assert any(r.startswith("jax") for r in reqs), reqs


def test_bench_autodiff_runs_without_the_comparators():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run(
        [
            sys.executable,
            "benchmarks/bench_autodiff.py",
            "--quick",
            "--only",
            "lstsq",
            "--without",
            "jax,autograd,torch",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    for text in (
        "JAX: missing (hidden by --without)",
        "CPU time / wall time",
        "min bytes",
        "BLAS kernels alone",
    ):
        assert text in r.stdout, r.stdout
