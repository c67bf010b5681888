"""Memory traffic figures for the benchmarks: bytes a call must touch, bytes it allocates,
and the machine's streaming (copy) bandwidth to turn bytes into a time.

Used by bench_autodiff.py; NumPy only.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc

import numpy as np


def nbytes(obj) -> int:
    """Bytes of the arrays in a (nested) result: a Python float counts as one float64."""
    if isinstance(obj, (tuple, list)):
        return sum(nbytes(o) for o in obj)
    if isinstance(obj, dict):
        return sum(nbytes(o) for o in obj.values())
    if obj is None:
        return 0
    if hasattr(obj, "nbytes"):
        return int(obj.nbytes)
    return 8  # a scalar


def minimum_bytes(inputs, result) -> int:
    """Read every input once, write every output once: what any code computing `result`
    from `inputs` must move through memory at least (it ignores caches, which can hold a
    small input across passes, so it is a floor only for inputs larger than the caches)."""
    return nbytes(inputs) + nbytes(result)


STEP_MIN = 1024  # bytes; see allocations()


def allocations(fn) -> tuple[int, int]:
    """(bytes allocated, peak bytes above the start) during one call fn(), from tracemalloc.

    NumPy reports its array data allocations to tracemalloc, so both figures include every
    temporary array (and the Python objects, a few hundred bytes). tracemalloc keeps no running
    total, only the current and the peak size, so the total is counted bytecode by bytecode
    (sys.settrace with opcode events): each step adds its peak above the size it started
    from. A step that allocates, frees and allocates again inside one C call (np.linalg's
    internal copies, for instance) counts once: the total is a lower bound, exact for the
    usual one new array per operation. Steps that allocate less than STEP_MIN bytes are left
    out: the tracer's own objects add about 100 bytes to every step (so arrays of fewer than
    128 float64 are not counted). LAPACK's work space does not go through NumPy's allocator
    and is not counted. NumPy's temporary elision (an operation that writes into a
    temporary of its own instead of a new array) is, rightly, no allocation.
    """
    total = start = 0

    def tracer(frame, event, arg):
        nonlocal total, start
        current, peak = tracemalloc.get_traced_memory()
        if peak - start >= STEP_MIN:
            total += peak - start
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]  # after this step's own small objects
        frame.f_trace_opcodes = True
        return tracer

    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    old = sys.gettrace()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        sys.settrace(tracer)
        try:
            result = fn()
        finally:
            sys.settrace(old)
        current, peak = tracemalloc.get_traced_memory()
        if peak - start >= STEP_MIN:
            total += peak - start
        del result
        # the peak over the whole call: a second, untraced call (the tracer's own objects
        # would otherwise add to it)
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
        del result
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return total, peak


def copy_bandwidth(megabytes: int = 128, repeats: int = 7) -> float:
    """Bytes per second that np.copyto moves (read + write, both counted) between two arrays
    far larger than the caches: the machine's streaming bandwidth for one NumPy call on the
    CPUs this process may use. The median of `repeats` copies."""
    n = megabytes * 2**20 // 8
    src = np.ones(n)
    dst = np.empty(n)
    np.copyto(dst, src)  # touch every page first
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - t0)
    return 2 * src.nbytes / statistics.median(times)


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"
