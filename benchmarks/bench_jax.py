#!/usr/bin/env python3
"""matdiff's JAX output against JAX's own autodiff, in one run, on JAX's default device.

For each gradient case of bench_autodiff.py (tr(X*A*X), logdet(X) + tr(inv(X)*A), least
squares, logistic regression, a low-rank fit, a layer) this times, after compilation:

    matdiff   jax.jit(d.to_jax()): the closed-form value and gradient matdiff generates
    autodiff  jax.jit(jax.value_and_grad(f)), f written by hand in jax.numpy

and prints the medians side by side, their ratio (below 1: matdiff is faster) and the
relative difference of the gradients. JAX picks the device (a GPU when one is visible,
else the CPU); inputs are put there before timing. float32 by default (JAX's own
default), --x64 for float64. The exit status is 1 if a gradient disagrees.

Usage:
    python benchmarks/bench_jax.py             # full sizes
    python benchmarks/bench_jax.py --quick     # tiny sizes: a smoke test
    python benchmarks/bench_jax.py --only trace,logdet --x64
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_autodiff as B  # noqa: E402 (the case definitions, timing and matdiff import)

GRAD_CASES = ("trace", "logdet", "lstsq", "logistic", "lowrank", "mlp")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, short timing budget")
    ap.add_argument("--only", default="", help="comma-separated case name prefixes")
    ap.add_argument("--x64", action="store_true", help="float64 (default float32)")
    ap.add_argument("--budget", type=float, default=None, help="seconds of timing per function")
    args = ap.parse_args(argv)
    if B.jax is None:
        print(f"JAX is missing: {B.MISSING.get('JAX')}")
        return 1
    if B.matdiff is None:
        print(f"matdiff is missing: {B.MATDIFF_WHY}")
        return 1
    jax, jnp = B.jax, B.jnp
    jax.config.update("jax_enable_x64", args.x64)  # bench_autodiff turns it on; JAX's default is off
    dtype = jnp.float64 if args.x64 else jnp.float32
    budget = args.budget if args.budget is not None else (0.05 if args.quick else 0.5)
    only = [s for s in args.only.split(",") if s]
    dev = jax.devices()[0]
    print(f"device: {dev.platform} ({dev.device_kind}); dtype {jnp.dtype(dtype).name}; "
          f"jax {jax.__version__}; median of timed calls after compilation")
    head = f"{'case':<14} {'sizes':<34} {'matdiff jit':>12} {'autodiff jit':>13} {'ratio':>7} {'grad rel.diff':>14}"
    print(head)
    print("-" * len(head))
    failed = False
    for name, build in B.make_cases(args.quick):
        if not name.startswith(GRAD_CASES) or (only and not any(name.startswith(o) for o in only)):
            continue
        case = build()
        d = B.matdiff.derive(case.expr, wrt=case.wrt, shapes=case.shapes)
        inputs = {k: jax.device_put(jnp.asarray(v, dtype=dtype)) for k, v in case.inputs.items()}
        args_pos = list(inputs.values())
        ours = jax.jit(d.to_jax())
        theirs = jax.jit(jax.value_and_grad(case.jax))
        prepared = {
            "matdiff": B.Prepared(call=lambda f=ours, kw=inputs: jax.block_until_ready(f(**kw)), compiles=True),
            "autodiff": B.Prepared(call=lambda f=theirs, a=args_pos: jax.block_until_ready(f(*a)), compiles=True),
        }
        t = B.median_times(prepared, budget)
        cells, grads = [], []
        for key in ("matdiff", "autodiff"):
            r = t[key]
            if isinstance(r, Exception):
                cells.append(f"{type(r).__name__}")
                grads.append(None)
            else:
                cells.append(f"{r.median * 1e3:.3f} ms")
                grads.append(B.np.asarray(r.result[1], dtype=float).reshape(-1))
        ratio, diff = "", ""
        if all(g is not None for g in grads):
            ratio = f"{t['matdiff'].median / t['autodiff'].median:.2f}"
            err = B.np.linalg.norm(grads[0] - grads[1]) / max(B.np.linalg.norm(grads[1]), 1e-30)
            diff = f"{err:.1e}"
            if not err < (1e-6 if args.x64 else 1e-3):
                failed = True
                diff += " FAIL"
        else:
            failed = True
        print(f"{name:<14} {case.about:<34} {cells[0]:>12} {cells[1]:>13} {ratio:>7} {diff:>14}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
