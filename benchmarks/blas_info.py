"""Which BLAS kernels NumPy runs, for the benchmarks' headers.

OpenBLAS picks its kernels for the CPU at load time, unless OPENBLAS_CORETYPE names a core:
some machines set it (OPENBLAS_CORETYPE=Haswell, with OPENBLAS_L2_SIZE) because older
OpenBLAS builds crash or compute wrong results on newer processors. A current NumPy then
runs AVX2 kernels on a CPU with AVX-512, while XLA compiles for the CPU it runs on: on the
AMD EPYC (Zen 5) of the development machines that made NumPy's matrix products 1.6 to 1.7
times slower than they are with the kernel OpenBLAS picks itself (U @ V.T of 2000x50 by
50x1000: 3.6 ms with Haswell kernels, 2.2 ms with SkylakeX ones, one thread).

`make bench` therefore runs the benchmarks with both variables unset, in those commands
alone (tests and CI keep the machine's settings), and every header says which kernel ran,
so a table made with a forced older kernel is recognizable as such.

NumPy only; the kernel name comes from OpenBLAS itself (its get_corename function) through
ctypes, or from threadpoolctl where that is installed.
"""

from __future__ import annotations

import ctypes
import glob
import os

VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _openblas_library():
    import numpy as np

    root = os.path.dirname(os.path.dirname(np.__file__))
    for pattern in ("numpy.libs/*openblas*", "numpy/.dylibs/*openblas*", "scipy_openblas64/lib/*openblas*"):
        for path in sorted(glob.glob(os.path.join(root, pattern))):
            try:
                return ctypes.CDLL(path)
            except OSError:
                continue
    return None


def kernel() -> str | None:
    """The core type whose kernels NumPy's OpenBLAS runs ("SkylakeX", "Haswell", ...), or
    None where that cannot be found out (another BLAS, or a build without the function)."""
    try:
        import threadpoolctl

        for info in threadpoolctl.threadpool_info():
            if info.get("internal_api") == "openblas" and info.get("architecture"):
                return str(info["architecture"])
    except Exception:  # noqa: BLE001 - optional: fall back on asking OpenBLAS directly
        pass
    lib = _openblas_library()
    if lib is None:
        return None
    for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename64_",
                 "openblas_get_corename"):
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = ctypes.c_char_p
            try:
                return fn().decode()
            except Exception:  # noqa: BLE001
                return None
    return None


def header_line() -> str:
    """One line for a benchmark's header: the kernel, and the variables that forced it."""
    core = kernel()
    forced = [f"{v}={os.environ[v]}" for v in VARIABLES if os.environ.get(v)]
    what = f"NumPy's BLAS kernels: {core or 'unknown (not OpenBLAS, or it does not say)'}"
    if forced:
        return (
            f"{what}, forced by {' '.join(forced)}: matrix products may run slower than this CPU "
            "allows, while XLA compiles for it (`make bench` unsets both; see benchmarks/blas_info.py)"
        )
    return f"{what} (chosen by OpenBLAS for this CPU; {'/'.join(VARIABLES)} unset)"


if __name__ == "__main__":
    print(header_line())
