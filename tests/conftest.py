"""Shared pytest configuration for the matdiff test-suite.

Helpers live in tests/gradcheck.py (numerical gradient checker) and
tests/exprgen.py (random well-typed expression generator); both are importable
from the test modules because pytest puts this directory on sys.path.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
# Make the in-tree package importable even when it has not been pip-installed
# (``make test`` installs it in editable mode; this is only a fallback).
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from hypothesis import HealthCheck, settings

# "default": what `make test` runs.  "thorough": MATDIFF_HYPOTHESIS_PROFILE=thorough
# for a longer local fuzzing session.
settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    print_blob=True,
    report_multiple_bugs=False,
)
settings.register_profile(
    "thorough",
    parent=settings.get_profile("default"),
    max_examples=2000,
)
settings.load_profile(os.environ.get("MATDIFF_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(12345)


@pytest.fixture
def declared():
    """``declared(od)``: register a test-only OpDef for the test (the parser's function
    tables follow the registry); removed afterwards."""
    from matdiff.ops import registry as R

    stack = []

    def install(od):
        cm = R.registered(od)
        cm.__enter__()
        stack.append(cm)
        return od

    yield install
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _jax_precision_restored():
    """Tests that switch JAX to float64 (``jax_enable_x64``) leave it as they found it: the
    setting is process-wide, and a later test of JAX's float32 default would otherwise pass or
    fail by the order the tests run in."""
    jax = sys.modules.get("jax")
    before = bool(jax.config.jax_enable_x64) if jax is not None else False
    yield
    jax = sys.modules.get("jax")
    if jax is not None and bool(jax.config.jax_enable_x64) != before:
        jax.config.update("jax_enable_x64", before)
