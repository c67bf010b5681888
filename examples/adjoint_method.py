"""The adjoint method (18.S096 lecture on adjoint differentiation): the gradient of a scalar
loss of the solution of a parametrized linear system A(p)*x = b, by the parameters p.

For A(p) = A0 + diag(p) and the loss f(p) = norm2(x - y)^2 with x = solve(A(p), b), the
adjoint method computes one forward solve x = A\\b and one adjoint solve lam = A'\\(2(x - y)),
and then df/dp_k = -lam_k * x_k: two solves, however many parameters. matdiff derives

    -2*diag(inv(A0 + diag(p))'*(inv(A0 + diag(p))*b - y)*b'*inv(A0 + diag(p))')

and its generated code is exactly that: a solve with A, a solve with A', a product; no
inverse is formed. The script prints the gradient, the generated lines, and compares the
gradient with finite differences and with the hand-written adjoint formula, for the vector p
and for a scalar p with A(p) = A0 + p*A1 (f = c'*solve(A0 + p*A1, b)).
Run: python examples/adjoint_method.py
"""

import re

import numpy as np

import matdiff


def central(f, p, h=1e-6):
    """Central finite differences of the scalar f at p (a vector or a float)."""
    if np.ndim(p) == 0:
        return (f(p + h) - f(p - h)) / (2 * h)
    g = np.zeros_like(p)
    for k in range(p.size):
        e = np.zeros_like(p)
        e[k] = h
        g[k] = (f(p + e) - f(p - e)) / (2 * h)
    return g


def vector_parameter(rng, n=6):
    text = "norm2(solve(A0 + diag(p), b) - y)^2"
    d = matdiff.derive(text, wrt="p", shapes={"A0": "n,n", "p": "n", "b": "n", "y": "n"})
    print(f"f(p)      = {d.expr}")
    print(f"grad f(p) = {d.gradient}")
    body = d.source("numpy").split("\ndef f(", 1)[1].split('"""')[-1]
    print("generated (after the input checks):")
    for line in body.splitlines():
        code = line.strip()
        if code.startswith(("_t", "return")) or re.match(r"_g\d+ = (?!_o)", code):
            print("   ", code)
    f = d.to_numpy()
    A0 = rng.standard_normal((n, n)) + n * np.eye(n)
    b, y, p = rng.standard_normal(n), rng.standard_normal(n), rng.uniform(0.5, 1.5, n)
    value, grad = f(A0=A0, p=p, b=b, y=y)
    fd = central(lambda q: f(A0=A0, p=q, b=b, y=y)[0], p)
    A = A0 + np.diag(p)
    x = np.linalg.solve(A, b)
    lam = np.linalg.solve(A.T, 2 * (x - y))  # the adjoint solve
    adjoint = -lam * x
    err_fd = np.max(np.abs(grad - fd)) / np.max(np.abs(fd))
    err_adj = np.max(np.abs(grad - adjoint)) / np.max(np.abs(adjoint))
    print(f"{'k':>3} {'matdiff':>14} {'finite diff.':>14} {'adjoint':>14}")
    for k in range(n):
        print(f"{k:>3} {grad[k]:>14.9f} {fd[k]:>14.9f} {adjoint[k]:>14.9f}")
    print(f"vector p: max rel. error vs finite differences = {err_fd:.1e}, vs the adjoint formula = {err_adj:.1e}")
    assert err_fd < 1e-7 and err_adj < 1e-12
    return err_fd


def scalar_parameter(rng, n=5):
    text = "c'*solve(A0 + p*A1, b)"
    d = matdiff.derive(text, wrt="p", shapes={"A0": "n,n", "A1": "n,n", "p": "", "b": "n", "c": "n"})
    print(f"f(p)  = {d.expr}")
    print(f"f'(p) = {d.gradient}")
    f = d.to_numpy()
    A0, A1 = rng.standard_normal((n, n)) + n * np.eye(n), rng.standard_normal((n, n))
    b, c, p = rng.standard_normal(n), rng.standard_normal(n), 0.3
    value, grad = f(A0=A0, A1=A1, p=p, b=b, c=c)
    fd = central(lambda q: f(A0=A0, A1=A1, p=q, b=b, c=c)[0], p)
    err = abs(grad - fd) / abs(fd)
    print(f"scalar p: matdiff {grad:.10f}, finite differences {fd:.10f}, rel. error {err:.1e}")
    assert err < 1e-7
    return err


def main():
    rng = np.random.default_rng(0)
    vector_parameter(rng)
    print()
    scalar_parameter(rng)


if __name__ == "__main__":
    main()
