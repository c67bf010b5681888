"""Printed size and derivation time of the gradient of tr(X*A1*X*A2*...*X*Ak) (issue 12).

    python benchmarks/bench_readability.py [k ...]      (default k = 8 16 32 64 128)

Prints one row per k: characters of the printed gradient, of the text with named
intermediates where the printer names them, and the seconds derive() took. Both should
grow about linearly in k.
"""

from __future__ import annotations

import sys
import time

import matdiff


def chain(k: int) -> str:
    return "tr(" + "*".join(f"X*A{i}" for i in range(1, k + 1)) + ")"


def row(k: int):
    shapes = {"X": "n,n", **{f"A{i}": "n,n" for i in range(1, k + 1)}}
    t0 = time.perf_counter()
    d = matdiff.derive(chain(k), "X", shapes)
    text = str(d.gradient)
    return k, len(text), time.perf_counter() - t0


def main(ks):
    print(f"{'k':>5} {'chars':>9} {'chars/k':>8} {'seconds':>8}")
    for k in ks:
        k, n, t = row(k)
        print(f"{k:>5} {n:>9} {n / k:>8.1f} {t:>8.2f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [8, 16, 32, 64, 128])
