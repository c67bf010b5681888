"""A short tour of the matdiff API: derive, print, LaTeX, NumPy, check, second derivatives.

Run: python examples/quickstart.py
"""

import numpy as np

import matdiff

# 1. derive: the differential and the gradient, in the input language
d = matdiff.derive("x'*A*x + logdet(X) + tr(X'*A*X)", wrt="X", shapes={"x": "n", "A": "n,n"})
print("expression   ", d.expr)
print("shapes       ", d.shapes)
print("differential ", d.differential)
print("gradient     ", d.gradient)
print("LaTeX        ", d.latex())

# 2. a compiled NumPy function: value and gradient
f = d.to_numpy()
rng = np.random.default_rng(0)
n = 4
X = rng.standard_normal((n, n)) + n * np.eye(n)
A = rng.standard_normal((n, n))
x = rng.standard_normal(n)
value, G = f(x=x, A=A, X=X)
print(f"value         {value:.6f}")

# 3. check the numbers: a central difference along a random direction
V = rng.standard_normal((n, n))
h = 1e-6
fd = (f(x=x, A=A, X=X + h * V)[0] - f(x=x, A=A, X=X - h * V)[0]) / (2 * h)
print(f"<G, V>        {np.sum(G * V):.9f}   finite difference {fd:.9f}")
print("d.check()    ", "ok" if d.check().ok else "MISMATCH")

# 4. second order: d2f, the Hessian-vector product and the Hessian on vec(X)
print("d2f          ", d.second_differential)
print(f"H[{d.hvp_variable}]         ", d.hvp)
print("Hessian      ", d.hessian)
HV = d.to_numpy(hvp=True)(V=V, x=x, A=A, X=X)
_, _, H = d.to_numpy(hessian=True)(x=x, A=A, X=X)
print(f"|H vec(V) - vec(H[V])| = {np.linalg.norm(H @ V.reshape(-1, order='F') - HV.reshape(-1, order='F')):.1e}"
      f"   (H is {H.shape[0]}x{H.shape[1]})")
