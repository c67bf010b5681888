"""Printed size and derivation time of the gradient of tr(X*A1*X*A2*...*X*Ak) (issue 12).

    python benchmarks/bench_readability.py [k ...]      (default k = 8 16 32 64 128)

Prints one row per k: characters of the printed gradient in full (k terms of 2k-1
factors: quadratic), of the text with named intermediates (``G where s1 = ...``, as the
command line prints it, the gradient line and its where block: about linear, each
rotation of the product is a suffix times a prefix of it, defined once each), the seconds derive() took and the seconds naming
took.
"""

from __future__ import annotations

import sys
import time

import matdiff
from matdiff.render.text import render_derivation


def chain(k: int) -> str:
    return "tr(" + "*".join(f"X*A{i}" for i in range(1, k + 1)) + ")"


def row(k: int):
    shapes = {"X": "n,n", **{f"A{i}": "n,n" for i in range(1, k + 1)}}
    t0 = time.perf_counter()
    d = matdiff.derive(chain(k), "X", shapes)
    g = d.gradient
    t1 = time.perf_counter()
    text = render_derivation(d)  # as the command line prints it: the gradient, then `where`
    named = text[text.index("gradient"):]
    return k, len(str(g)), len(named), t1 - t0, time.perf_counter() - t1


def main(ks):
    print(f"{'k':>5} {'chars':>9} {'named':>9} {'named/k':>8} {'derive s':>9} {'names s':>8}")
    for k in ks:
        k, n, m, t, tn = row(k)
        print(f"{k:>5} {n:>9} {m:>9} {m / k:>8.1f} {t:>9.2f} {tn:>8.2f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [8, 16, 32, 64, 128])
