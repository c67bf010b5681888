"""Core benchmark: CLI start-up, derivation time on Matrix Cookbook cases (vs SymPy),
and scaling on long trace chains tr(X*A1*X*A2*...*X*Ak).

    python benchmarks/bench_core.py [--quick]

Prints medians and ratios; it asserts nothing (speed is measured here, not in tests).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import matdiff  # noqa: E402

COOKBOOK = [
    ("tr(A*X*B)", "X", {}),
    ("tr(X'*B*X)", "X", {}),
    ("tr(X^2)", "X", {}),
    ("tr(inv(X)*A)", "X", {}),
    ("det(X)", "X", {}),
    ("logdet(X'*X)", "X", {"X": "n,m"}),
    ("a'*X*b", "X", {"a": "n", "b": "m"}),
    ("x'*A*x", "x", {}),
    ("norm2(A*x - b)^2", "x", {"b": "n"}),
    ("x'*inv(S)*x + logdet(S)", "S", {}),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", {}),
    ("norm2(X - U*V')^2", "U", {}),
    ("tr(kron(A, X))", "X", {}),
    ("sum(A .* X .* X)", "X", {}),
    ("exp(s)*sin(s)^2", "s", {"s": ""}),
]


def median_time(fn, repeat=7, number=1):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def cli_startup(repeat):
    exe = shutil.which("matdiff", path=os.path.dirname(sys.executable)) or "matdiff"
    run = lambda cmd: subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)  # noqa: E731
    t_cli = median_time(lambda: run([exe, "det(A)", "--wrt", "A"]), repeat)
    t_np = median_time(lambda: run([sys.executable, "-c", "import numpy"]), repeat)
    t_py = median_time(lambda: run([sys.executable, "-c", "pass"]), repeat)
    print("CLI start-up (median wall time, whole process)")
    print(f"  matdiff \"det(A)\" --wrt A     {t_cli * 1e3:7.1f} ms   (target < 300 ms)")
    print(f"  python -c \"import numpy\"     {t_np * 1e3:7.1f} ms   ratio matdiff/numpy-import = "
          f"{t_cli / t_np:.2f}")
    print(f"  python -c pass               {t_py * 1e3:7.1f} ms")
    print()


def _sympy_case(expr, wrt):
    """The same derivative in SymPy's matrix calculus, where it can be stated (else None)."""
    import sympy as sp

    n, m = sp.symbols("n m", integer=True, positive=True)
    M = lambda name, r, c: sp.MatrixSymbol(name, r, c)  # noqa: E731
    X, A, B, S = M("X", n, n), M("A", n, n), M("B", n, n), M("S", n, n)
    x, a, b = M("x", n, 1), M("a", n, 1), M("b", n, 1)
    tr = sp.Trace
    table = {
        "tr(A*X*B)": (tr(A * X * B), X),
        "tr(X'*B*X)": (tr(X.T * B * X), X),
        "tr(X^2)": (tr(X ** 2), X),
        "tr(inv(X)*A)": (tr(X.I * A), X),
        "det(X)": (sp.Determinant(X), X),
        "a'*X*b": ((a.T * X * b)[0, 0], X),
        "x'*A*x": ((x.T * A * x)[0, 0], x),
        "norm2(A*x - b)^2": (((A * x - b).T * (A * x - b))[0, 0], x),
        "x'*inv(S)*x + logdet(S)": ((x.T * S.I * x)[0, 0] + sp.log(sp.Determinant(S)), S),
    }
    return table.get(expr)


def cookbook(repeat):
    print("Derivation time, Matrix Cookbook cases (parse + differentiate + gradient + simplify)")
    print(f"  {'expression':36s} {'matdiff':>10s} {'sympy':>10s} {'sympy/matdiff':>14s}  gradient")
    try:
        import sympy as sp
    except ImportError:  # pragma: no cover
        sp = None
    total = 0.0
    for expr, wrt, shapes in COOKBOOK:
        t = median_time(lambda expr=expr, wrt=wrt, shapes=shapes: matdiff.derive(expr, wrt, shapes), repeat)
        total += t
        g = matdiff.derive(expr, wrt, shapes).gradient
        sym_s, ratio = "n/a", ""
        case = _sympy_case(expr, wrt) if sp else None
        if case is not None:
            f, v = case
            try:
                ts = median_time(lambda f=f, v=v: sp.diff(f, v), max(1, repeat // 2))
                sym_s = f"{ts * 1e3:8.2f}ms"
                ratio = f"{ts / t:10.1f}x"
            except Exception as e:  # noqa: BLE001 - SymPy's failures are part of the comparison
                sym_s = f"fails ({type(e).__name__})"
        print(f"  {expr:36s} {t * 1e3:8.2f}ms {sym_s:>10s} {ratio:>14s}  {g}")
    print(f"  total over {len(COOKBOOK)} cases: {total * 1e3:.1f} ms")
    print()


def chains(ks, repeat):
    from matdiff.render.text import render_derivation

    print("Scaling: tr(X*A1*X*A2*...*X*Ak) by X: derive(), and derive() plus the command line's")
    print("report (the gradient with named intermediates: about linear in size)")
    print("(targets, issue 14: k = 64 under 50 ms, x2.2 or less per doubling of k up to 256)")
    print("edges: the gradient's DAG as matdiff stores it (hash-consed, products flattened), the")
    print("argument references of its distinct nodes: k terms of 2k - 1 factors, so x4 per doubling;")
    print("us/edge is derive()'s time per edge (a cost linear in the DAG keeps it level)")
    prev = None
    for k in ks:
        expr = "tr(" + "*".join(f"X*A{i}" for i in range(1, k + 1)) + ")"
        reps = repeat if k <= 64 else max(3, repeat // 2)
        t = median_time(lambda expr=expr: matdiff.derive(expr, "X"), reps)
        tr = median_time(lambda expr=expr: render_derivation(matdiff.derive(expr, "X")), reps)
        d = matdiff.derive(expr, "X")
        chars = len(render_derivation(d))
        edges = sum(len(node.args) for node in d.gradient.walk())
        growth = f"x{t / prev:5.2f} per doubling" if prev else ""
        print(f"  k = {k:3d}   derive {t * 1e3:8.1f} ms   with report {tr * 1e3:8.1f} ms"
              f" ({chars:6d} chars)   edges {edges:6d}  {t / edges * 1e6:5.2f} us/edge   {growth}")
        prev = t
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (smoke test)")
    args = ap.parse_args()
    repeat = 3 if args.quick else 7
    cli_startup(repeat)
    cookbook(repeat)
    chains([4, 8, 16, 32] if args.quick else [4, 8, 16, 32, 64, 128, 256], repeat)


if __name__ == "__main__":
    main()
