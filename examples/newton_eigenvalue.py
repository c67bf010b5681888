"""Eigenvalues as roots of the characteristic polynomial p(lambda) = det(A - lambda*I).

matdiff derives p'(lambda) symbolically (Jacobi's formula, no polynomial coefficients):

    d/dlambda det(A - lambda*I) = -det(A - lambda*I)*tr(inv(A - lambda*I))

and, as the Hessian by the scalar lambda, p''(lambda).  Newton's method
(lambda <- lambda - p/p') and Halley's method (lambda <- lambda - 2 p p' / (2 p'^2 - p p''))
are run from a few starting guesses and compared with numpy.linalg.eigvals.

The second part uses the eigenvalue derivative directly (18.S096 lecture 8): for symmetric A
and B, d eigmax(A + t*B)/dt = v'*B*v (v the unit eigenvector of the largest eigenvalue), and
Newton's method on g(t) = eigmax(A + t*B) - c finds the t where the largest eigenvalue is c.
Run: python examples/newton_eigenvalue.py
"""

import numpy as np

import matdiff


def solve(step, A, lam, tol=1e-12, max_iter=100):
    """Iterate lambda <- lambda - step(lambda) until the step is tiny."""
    for it in range(1, max_iter + 1):
        delta = step(A, lam)
        lam -= delta
        if abs(delta) <= tol * max(1.0, abs(lam)):
            return lam, it
    return lam, max_iter


def main():
    d = matdiff.derive("det(A - lambda*I)", wrt="lambda")
    print(f"p(lambda)   = {d.expr}")
    print(f"p'(lambda)  = {d.gradient}")
    print(f"p''(lambda) = {d.hessian}")
    print()
    p1 = d.to_numpy()               # (p, p')
    p2 = d.to_numpy(hessian=True)   # (p, p', p'')

    def newton(A, lam):
        p, dp = p1(A=A, **{"lambda": lam})
        return p / dp

    def halley(A, lam):
        p, dp, ddp = p2(A=A, **{"lambda": lam})
        return 2 * p * dp / (2 * dp * dp - p * ddp)

    # a nonsymmetric matrix with real, well separated eigenvalues 1..6
    rng = np.random.default_rng(1)
    n = 6
    Q = rng.standard_normal((n, n)) + n * np.eye(n)
    A = Q @ np.diag(np.arange(1.0, n + 1)) @ np.linalg.inv(Q)
    exact = np.sort(np.linalg.eigvals(A).real)
    print("numpy.linalg.eigvals:", "  ".join(f"{e:.12f}" for e in exact))
    print()
    print(f"{'start':>6}  {'Newton':>16} {'its':>4}  {'Halley':>16} {'its':>4}  {'nearest eigvals':>16}  {'error':>8}")
    worst = 0.0
    for start in (0.3, 1.8, 3.2, 4.1, 5.2, 7.5):
        ln, itn = solve(newton, A, start)
        lh, ith = solve(halley, A, start)
        near = exact[np.argmin(abs(exact - ln))]
        err = max(abs(ln - near), abs(lh - exact[np.argmin(abs(exact - lh))]))
        worst = max(worst, err)
        print(f"{start:>6.2f}  {ln:>16.12f} {itn:>4}  {lh:>16.12f} {ith:>4}  {near:>16.12f}  {err:>8.1e}")
    print()
    print(f"max |lambda - eigenvalue| = {worst:.1e}")
    assert worst < 1e-8
    print()
    tune_largest_eigenvalue()


def tune_largest_eigenvalue():
    """Newton on t: eigmax(A + t*B) = c, with the derivative v'*B*v from matdiff."""
    d = matdiff.derive("eigmax(A + t*B)", wrt="t", shapes={"A": "n,n", "B": "n,n", "t": ""},
                       symmetric=["A", "B"])
    print(f"g(t)  = {d.expr}")
    print(f"g'(t) = {d.gradient}")
    g = d.to_numpy()
    rng = np.random.default_rng(2)
    n = 5
    A = rng.standard_normal((n, n))
    A = A + A.T
    B = np.diag(np.arange(1.0, n + 1))  # positive definite: eigmax(A + t*B) increases with t
    c = 10.0
    t, its = 0.0, 0
    while its < 30:
        its += 1
        lam, dlam = g(A=A, B=B, t=t)
        step = (lam - c) / dlam
        t -= step
        if abs(step) <= 1e-13 * max(1.0, abs(t)):
            break
    top = np.linalg.eigvalsh(A + t * B)[-1]
    print(f"eigmax(A + t*B) = {c:g} at t = {t:.12f} ({its} Newton steps); numpy.linalg.eigvalsh: {top:.12f}")
    print(f"|eigmax - c| = {abs(top - c):.1e}")
    assert abs(top - c) < 1e-9


if __name__ == "__main__":
    main()
