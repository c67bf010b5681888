"""Printed size and derivation time of the gradient of tr(X*A1*X*A2*...*X*Ak) (issue 12).

    python benchmarks/bench_readability.py [k ...]      (default k = 8 16 32 64 128)

Prints one row per k: characters of the printed gradient in full (k terms of 2k-1
factors: quadratic), of the text with named intermediates (``G where s1 = ...``, as the
command line prints it: about k log k), the seconds derive() took and the seconds naming
took.
"""

from __future__ import annotations

import sys
import time

import matdiff
from matdiff.render.names import choose_names, flatten_unnamed, share_chains, where_text


def chain(k: int) -> str:
    return "tr(" + "*".join(f"X*A{i}" for i in range(1, k + 1)) + ")"


def row(k: int):
    shapes = {"X": "n,n", **{f"A{i}": "n,n" for i in range(1, k + 1)}}
    t0 = time.perf_counter()
    d = matdiff.derive(chain(k), "X", shapes)
    g = d.gradient
    t1 = time.perf_counter()
    disp, pieces = share_chains([g])
    G = disp.get(g, g)
    names = choose_names([G], pieces=pieces)
    (G,), names = flatten_unnamed([G], names)
    named = where_text(G, names)
    return k, len(str(g)), len(named), t1 - t0, time.perf_counter() - t1


def main(ks):
    print(f"{'k':>5} {'chars':>9} {'named':>9} {'named/k':>8} {'derive s':>9} {'names s':>8}")
    for k in ks:
        k, n, m, t, tn = row(k)
        print(f"{k:>5} {n:>9} {m:>9} {m / k:>8.1f} {t:>9.2f} {tn:>8.2f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [8, 16, 32, 64, 128])
