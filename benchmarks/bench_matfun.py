#!/usr/bin/env python3
"""Generated gradients of eigenvalue and matrix-function losses against JAX, in one run.

For a symmetric S (n x n, well-separated eigenvalues) this times, after compilation:

    matdiff   jax.jit(d.to_jax()): the closed-form value and gradient matdiff generates
              (sum(exp(eigvals(S))) -> eigvecs(S)*diag(exp(eigvals(S)))*eigvecs(S)', ...)
    JAX       jax.jit(jax.value_and_grad(f)), f written with jnp.linalg.eigh

and, when ``expm`` is a matdiff language function (the matrix functions of issue 11),
tr(expm(A)) and sum(expm(A).^2) (its gradient the adjoint Fréchet derivative
Dexpm(A', 2*expm(A))) of a general A against jax.scipy.linalg.expm; eigmin(S); and sum(logm(S)),
sum(sqrtm(S)) of an SPD S (matdiff: eigh and the divided-difference matrix; JAX: the
same loss written with jnp.linalg.eigh, differentiated by JAX). It prints the medians side by side,
their ratio (below 1: matdiff is faster) and the relative difference of the gradients, at
n = 200 and 500 by default. float64. The exit status is 1 if a gradient disagrees.

Usage:
    python benchmarks/bench_matfun.py              # n = 200, 500
    python benchmarks/bench_matfun.py --sizes 50   # a quick smoke run
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_autodiff as B  # noqa: E402 (timing, the JAX and matdiff imports: float64 on)


def _has_language_function(name: str) -> bool:
    """``name`` is a function of matdiff's input language (expm arrives with the matrix functions)."""
    from matdiff.ops.registry import language_functions

    return name in language_functions()


def _cases(n: int, rng):
    """(name, matdiff text, shapes, symmetric, input, JAX function of the input)."""
    jnp, jax = B.jnp, B.jax
    Q, _ = B.np.linalg.qr(rng.standard_normal((n, n)))
    w = B.np.linspace(-1.0, 1.0, n) + rng.uniform(0, 0.5 / n, n)  # separated: a simple top eigenvalue
    S = (Q * w) @ Q.T
    S = (S + S.T) / 2
    out = [
        ("sum(exp(eigvals))", "sum(exp(eigvals(S)))", {"S": "n,n"}, ["S"], S,
         lambda S: jnp.sum(jnp.exp(jnp.linalg.eigh(S)[0]))),
        ("eigmax", "eigmax(S)", {"S": "n,n"}, ["S"], S, lambda S: jnp.linalg.eigh(S)[0][-1]),
    ]
    if _has_language_function("eigvecmin"):
        out.append(("eigmin", "eigmin(S)", {"S": "n,n"}, ["S"], S, lambda S: jnp.linalg.eigh(S)[0][0]))
    if _has_language_function("Flogm"):  # symmetric logm/sqrtm: matdiff lowers them through eigh
        P = (Q * (w + 2.0)) @ Q.T
        P = (P + P.T) / 2

        def _symfun(f):
            def loss(S):
                lam, V = jnp.linalg.eigh(S)
                return jnp.sum((V * f(lam)[None, :]) @ V.T)
            return loss

        out.append(("sum(logm(S)) sym", "sum(logm(S))", {"S": "n,n"}, ["S"], P, _symfun(jnp.log)))
        out.append(("sum(sqrtm(S)) sym", "sum(sqrtm(S))", {"S": "n,n"}, ["S"], P, _symfun(jnp.sqrt)))
    if _has_language_function("expm"):
        A = rng.standard_normal((n, n)) / (2 * B.np.sqrt(n))
        out.append(("tr(expm(A))", "tr(expm(A))", {"A": "n,n"}, [], A,
                    lambda A: jnp.trace(jax.scipy.linalg.expm(A))))
        # a loss whose gradient needs the adjoint Fréchet derivative, Dexpm(A', 2*expm(A))
        out.append(("sum(expm(A).^2)", "sum(expm(A).^2)", {"A": "n,n"}, [], A,
                    lambda A: jnp.sum(jax.scipy.linalg.expm(A) ** 2)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="200,500", help="comma-separated n (default 200,500)")
    ap.add_argument("--budget", type=float, default=0.5, help="seconds of timing per function")
    args = ap.parse_args(argv)
    if B.jax is None:
        print(f"JAX is missing: {B.MISSING.get('JAX')}")
        return 1
    if B.matdiff is None:
        print(f"matdiff is missing: {B.MATDIFF_WHY}")
        return 1
    jax, jnp = B.jax, B.jnp
    dev = jax.devices()[0]
    print(f"device: {dev.platform} ({dev.device_kind}); float64; jax {jax.__version__}; "
          "median of timed calls after compilation")
    print(B.blas_info.header_line())
    if not _has_language_function("expm"):
        print("(tr(expm(A)) skipped: expm is not a matdiff function in this version)")
    head = f"{'case':<20} {'n':>5} {'matdiff jit':>12} {'JAX jit':>12} {'ratio':>7} {'grad rel.diff':>14}"
    print(head)
    print("-" * len(head))
    rng = B.np.random.default_rng(0)
    failed = False
    for n in [int(s) for s in args.sizes.split(",") if s]:
        for name, text, shapes, symmetric, X, f in _cases(n, rng):
            var = next(iter(shapes))
            d = B.matdiff.derive(text, wrt=var, shapes=shapes, symmetric=symmetric)
            x = jax.device_put(jnp.asarray(X, dtype=jnp.float64))
            ours = jax.jit(d.to_jax())
            theirs = jax.jit(jax.value_and_grad(f))
            prepared = {
                "matdiff": B.Prepared(call=lambda g=ours, x=x, v=var: jax.block_until_ready(g(**{v: x})),
                                      compiles=True),
                "jax": B.Prepared(call=lambda g=theirs, x=x: jax.block_until_ready(g(x)), compiles=True),
            }
            t = B.median_times(prepared, args.budget)
            cells, grads = [], []
            for key in ("matdiff", "jax"):
                r = t[key]
                if isinstance(r, Exception):
                    cells.append(type(r).__name__)
                    grads.append(None)
                else:
                    cells.append(f"{r.median * 1e3:.3f} ms")
                    grads.append(B.np.asarray(r.result[1], dtype=float))
            ratio, diff = "", ""
            if all(g is not None for g in grads):
                ours_g, theirs_g = grads
                if symmetric:  # both are the gradient on symmetric matrices; compare symmetric parts
                    ours_g, theirs_g = (ours_g + ours_g.T) / 2, (theirs_g + theirs_g.T) / 2
                ratio = f"{t['matdiff'].median / t['jax'].median:.2f}"
                err = B.np.linalg.norm(ours_g - theirs_g) / max(B.np.linalg.norm(theirs_g), 1e-30)
                diff = f"{err:.1e}"
                if not err < 1e-6:
                    failed = True
                    diff += " FAIL"
            else:
                failed = True
            print(f"{name:<20} {n:>5} {cells[0]:>12} {cells[1]:>12} {ratio:>7} {diff:>14}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
