"""An independent oracle for values: evaluate the *syntax tree* straight with NumPy.

Gradient checks that compare matdiff's derivative with finite differences of matdiff's
own value cannot see a wrong canonicalization in the constructors (say ``A*B -> B*A``, or
``tr(kron(A, B)) -> tr(A)*tr(B)`` for non-square A, B): value and derivative are then
consistently wrong. The evaluator here reads what the user typed: the parse tree of
``matdiff.parsing`` (before any Expr is built, so none of matdiff's constructors,
simplifier or code generator is involved), with NumPy for every operation. From matdiff
it takes only the shape inference, and only to size ``I``/``eye``/``ones``/``zeros`` and
``vector(c)``/``matrix(c)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import scipy.linalg

from matdiff.core.shapes import dim_parts
from matdiff.lang import parsing as P


def _size(d, sizes) -> int:
    c, names = dim_parts(d)
    out = c
    for x in names:
        # a sum of sizes (the rows of a block matrix [A; B]) is an atom holding its terms
        out *= sum(_size(t, sizes) for t in x.terms) if hasattr(x, "terms") else sizes[str(x)]
    return out


def _commutation(m: int, n: int) -> np.ndarray:
    """K with K @ vec(A) = vec(A.T) for A m x n (column-major vec), built entry by entry."""
    K = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            K[i * n + j, j * m + i] = 1.0
    return K


def _kronadj(name: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """kronadj1(C, B)[i, j] = sum_kl B[k, l] C[i*p + k, j*q + l] (B p x q);
    kronadj2(A, C)[k, l] = sum_ij A[i, j] C[i*p + k, j*q + l] (A m x n), entry by entry."""
    if name == "kronadj1":
        C, B = a, b
        p, q = B.shape
        out = np.zeros((C.shape[0] // p, C.shape[1] // q))
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = np.sum(B * C[i * p:(i + 1) * p, j * q:(j + 1) * q])
        return out
    A, C = a, b
    m, n = A.shape
    p, q = C.shape[0] // m, C.shape[1] // n
    out = np.zeros((p, q))
    for i in range(m):
        for j in range(n):
            out += A[i, j] * C[i * p:(i + 1) * p, j * q:(j + 1) * q]
    return out


# matrix functions: (value by SciPy, scalar f and f' for the Fréchet derivative below)
_MATFUN = {
    "expm": (scipy.linalg.expm, np.exp, np.exp),
    "logm": (lambda a: np.real(scipy.linalg.logm(a)), np.log, lambda z: 1 / z),
    "sqrtm": (lambda a: np.real(scipy.linalg.sqrtm(a)), np.sqrt, lambda z: 0.5 / np.sqrt(z)),
    "sinm": (scipy.linalg.sinm, np.sin, np.cos),
    "cosm": (scipy.linalg.cosm, np.cos, lambda z: -np.sin(z)),
}


def _frechet(name: str, A: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Df(A, E) by the Daleckii-Krein formula on the (complex) eigendecomposition A = V diag(l)
    inv(V): V (F .* (inv(V) E V)) inv(V), F the divided differences of f on l (f'(l_i) where
    l_i = l_j): independent of matdiff's block-triangular evaluation; A diagonalizable."""
    _, f, fp = _MATFUN[name]
    lam, V = np.linalg.eig(A.astype(complex))
    Vi = np.linalg.inv(V)
    L1, L2 = np.meshgrid(lam, lam, indexing="ij")
    close = np.abs(L1 - L2) <= 1e-9 * np.maximum(1.0, np.abs(L1))
    F = np.where(close, fp(L1), (f(L1) - f(L2)) / np.where(close, 1.0, L1 - L2))
    return np.real(V @ (F * (Vi @ E @ V)) @ Vi)


_SECOND = {"expm": np.exp, "logm": lambda z: -1 / z**2, "sqrtm": lambda z: -0.25 / np.sqrt(z) ** 3,
           "sinm": lambda z: -np.sin(z), "cosm": lambda z: -np.cos(z)}


def _divdiff(name: str, w: np.ndarray, order: int) -> np.ndarray:
    """Fexpm(w)..., entry by entry: (f(a) - f(b))/(a - b), f'(a) at a = b (order 0); Gexpm(w)...:
    its partial by a, (f'(a) - F)/(a - b), f''(a)/2 at a = b (order 1)."""
    _, f, fp = _MATFUN[name]
    w = w.reshape(-1)
    out = np.zeros((w.size, w.size))
    for i, a in enumerate(w):
        for j, b in enumerate(w):
            F = fp(a) if a == b else (f(a) - f(b)) / (a - b)
            out[i, j] = F if order == 0 else (_SECOND[name](a) / 2 if a == b else (fp(a) - F) / (a - b))
    return out


def _frechet2(name: str, A: np.ndarray, M: np.ndarray, N: np.ndarray) -> np.ndarray:
    """D2f(A, M, N) from the eigendecomposition A = V diag(l) inv(V) (distinct eigenvalues):
    V X inv(V), X_ij = sum_k f[l_i, l_k, l_j] (M~_ik N~_kj + N~_ik M~_kj), M~ = inv(V) M V,
    with the second divided differences f[., ., .] of f (f''/2 where all three coincide)."""
    _, f, fp = _MATFUN[name]
    fpp = _SECOND[name]
    lam, V = np.linalg.eig(A.astype(complex))
    Vi = np.linalg.inv(V)
    Mt, Nt = Vi @ M @ V, Vi @ N @ V
    n = A.shape[0]

    def dd1(i, j):
        return fp(lam[i]) if i == j else (f(lam[i]) - f(lam[j])) / (lam[i] - lam[j])

    def dd2(i, k, j):
        a, b, c = sorted((i, k, j))
        if a == c:
            return fpp(lam[a]) / 2
        if a == b:
            return (dd1(a, a) - dd1(a, c)) / (lam[a] - lam[c])
        if b == c:
            return (dd1(a, b) - dd1(b, b)) / (lam[a] - lam[b])
        return (dd1(a, b) - dd1(b, c)) / (lam[a] - lam[c])

    X = np.zeros((n, n), dtype=complex)
    for i in range(n):
        for j in range(n):
            X[i, j] = sum(dd2(i, k, j) * (Mt[i, k] * Nt[k, j] + Nt[i, k] * Mt[k, j]) for k in range(n))
    return np.real(V @ X @ Vi)


def _frechet_kron(name: str, A: np.ndarray, M=None) -> np.ndarray:
    """J with vec(Df(A, E)) = J vec(E) (with M: vec(D2f(A, M, E)) = J vec(E)), column by
    column from _frechet (_frechet2)."""
    n = A.shape[0]
    J = np.zeros((n * n, n * n))
    for k in range(n * n):
        Ek = np.zeros((n, n))
        Ek[k % n, k // n] = 1.0
        D = _frechet(name, A, Ek) if M is None else _frechet2(name, A, M, Ek)
        J[:, k] = D.reshape(-1, order="F")
    return J


# functions whose arguments after the first N are sizes: {name: N}
DIM_FUNCTIONS = {"eye": 0, "ones": 0, "zeros": 0, "K": 0, "unvec": 1}


def _eig(S: np.ndarray):
    """Eigenvalues (ascending, a column) and eigenvectors of a symmetric S, by NumPy, with
    matdiff's sign convention: each eigenvector's largest-magnitude entry is positive."""
    w, V = np.linalg.eigh(S)
    for j in range(V.shape[1]):
        if V[np.argmax(np.abs(V[:, j])), j] < 0:
            V[:, j] = -V[:, j]
    return w.reshape(-1, 1), V


def _eigr(A: np.ndarray):
    """(largest real eigenvalue, left eigenvector u, right eigenvector v) of a general A with a
    real spectrum, by numpy.linalg.eig of A and of A': v unit with its largest-magnitude entry
    positive, u scaled so that u'*v = 1."""
    w, R = np.linalg.eig(A)
    k = int(np.argmax(w.real))
    assert abs(w[k].imag) < 1e-9, "complex top eigenvalue"
    v = R[:, k].real / np.linalg.norm(R[:, k].real)
    if v[np.argmax(np.abs(v))] < 0:
        v = -v
    wl, L = np.linalg.eig(A.T)
    u = L[:, int(np.argmin(np.abs(wl - w[k])))].real
    return w[k].real, (u / (u @ v)).reshape(-1, 1), v.reshape(-1, 1)


def _eiggap(w: np.ndarray) -> np.ndarray:
    """F[i, j] = 1/(w[j] - w[i]) for i != j, 0 on the diagonal, entry by entry."""
    w = w.reshape(-1)
    F = np.zeros((w.size, w.size))
    for i in range(w.size):
        for j in range(w.size):
            if i != j:
                F[i, j] = 1.0 / (w[j] - w[i])
    return F


def _chol(S: np.ndarray) -> np.ndarray:
    """The lower Cholesky factor: NumPy's, or of the symmetric part as LAPACK reads it."""
    return np.linalg.cholesky(S)


def _tril_half(M: np.ndarray) -> np.ndarray:
    """The lower triangle with the diagonal halved, entry by entry."""
    out = np.zeros_like(M)
    for i in range(M.shape[0]):
        for j in range(min(i + 1, M.shape[1])):
            out[i, j] = M[i, j] / 2 if i == j else M[i, j]
    return out


def _lu(A: np.ndarray):
    """Unpivoted LU (L unit lower, U upper) by Doolittle's formulas, entry by entry."""
    n = A.shape[0]
    L, U = np.eye(n), np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            U[i, j] = A[i, j] - sum(L[i, k] * U[k, j] for k in range(i))
        for j in range(i + 1, n):
            L[j, i] = (A[j, i] - sum(L[j, k] * U[k, i] for k in range(i))) / U[i, i]
    return L, U


def _qr(A: np.ndarray):
    """Thin QR by modified Gram-Schmidt: Q orthonormal columns, R upper with R[j, j] > 0."""
    m, n = A.shape
    Q, R = np.array(A, dtype=float), np.zeros((n, n))
    for j in range(n):
        for k in range(j):
            R[k, j] = Q[:, k] @ Q[:, j]
            Q[:, j] = Q[:, j] - R[k, j] * Q[:, k]
        R[j, j] = np.sqrt(Q[:, j] @ Q[:, j])
        Q[:, j] = Q[:, j] / R[j, j]
    return Q, R


def _mask(M: np.ndarray, keep) -> np.ndarray:
    """The entries (i, j) of M with keep(i, j), zero elsewhere, entry by entry."""
    out = np.zeros_like(M)
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            if keep(i, j):
                out[i, j] = M[i, j]
    return out


def _as_array(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v.reshape(1, 1) if v.ndim == 0 else (v.reshape(-1, 1) if v.ndim == 1 else v)


def reference_function(text: str, shapes: Mapping, symmetric, sizes: Mapping[str, int]) -> Callable:
    """``values -> array``: the value of ``text`` for concrete sizes, from its syntax tree
    (vectors as columns, scalars as 1x1). Parsing and shape inference happen once."""
    tree = P._syntax_tree(text)
    ctx, _, _ = P._choose_reading(text, tree, P._Declarations(shapes), symmetric)
    R = P._Resolver(ctx)
    for name in ctx.order:  # name free sizes in the order matdiff does (variables first)
        R.shape(ctx.env[name])
    shape_cache: dict = {}

    def shape_of(node):
        key = id(node)
        if key not in shape_cache:
            r, c = R.shape(node.shape)
            shape_cache[key] = (_size(r, sizes), _size(c, sizes))
        return shape_cache[key]

    def dimarg(node):
        if node.kind == "number":
            return int(node.value)
        if node.kind == "name":
            return sizes[node.value]
        return math.prod(dimarg(ch) for ch in node.children)

    def is_scalar(v):
        return v.shape == (1, 1)

    scalar = lambda v: np.array([[v]])  # noqa: E731
    unary = {
        "tr": lambda x: scalar(np.trace(x)), "trace": lambda x: scalar(np.trace(x)),
        "det": lambda x: scalar(np.linalg.det(x)), "logdet": lambda x: scalar(np.linalg.slogdet(x)[1]),
        "inv": np.linalg.inv, "transpose": lambda x: x.T, "sum": lambda x: scalar(x.sum()),
        "norm2": lambda x: scalar(np.linalg.norm(x)), "vec": lambda x: x.reshape(-1, 1, order="F"),
        "diag": lambda x: x if is_scalar(x) else (np.diagflat(x) if x.shape[1] == 1
                                                  else np.diag(x).reshape(-1, 1)),
        "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh,
        "sqrt": np.sqrt, "abs": np.abs, "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
        "relu": lambda x: np.maximum(x, 0), "sign": np.sign, "step": lambda x: (x > 0).astype(float),
        "softplus": lambda x: np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0),
        "arcsin": np.arcsin, "asin": np.arcsin, "arccos": np.arccos, "acos": np.arccos,
        "arctan": np.arctan, "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh,
        "log1p": np.log1p, "expm1": np.expm1, "erf": np.vectorize(math.erf, otypes=[float]),
        "adj": lambda x: np.linalg.det(x) * np.linalg.inv(x), "sym": lambda x: (x + x.T) / 2,
        "norm1": lambda x: scalar(np.abs(x).sum()), "max": lambda x: scalar(x.max()),
        "min": lambda x: scalar(x.min()), "ismax": lambda x: (x == x.max()).astype(float),
        "ismin": lambda x: (x == x.min()).astype(float),
        "logsumexp": lambda x: scalar(x.max() + np.log(np.exp(x - x.max()).sum())),
        "softmax": lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum(),
        "eigvals": lambda x: _eig(x)[0], "eigvecs": lambda x: _eig(x)[1],
        "eigmax": lambda x: scalar(_eig(x)[0][-1, 0] if np.array_equal(x, x.T) else _eigr(x)[0]),
        "eigmin": lambda x: scalar(_eig(x)[0][0, 0]), "eigvecmax": lambda x: _eig(x)[1][:, -1:], "eigvecmin": lambda x: _eig(x)[1][:, :1],
        "eigvecl": lambda x: _eigr(x)[1], "eigvecr": lambda x: _eigr(x)[2],
        "eiggap": _eiggap, "chol": _chol, "tril_half": _tril_half,
        "luL": lambda x: _lu(x)[0], "luU": lambda x: _lu(x)[1], "qrQ": lambda x: _qr(x)[0],
        "qrR": lambda x: _qr(x)[1], "triu": lambda x: _mask(x, lambda i, j: j >= i),
        "tril_strict": lambda x: _mask(x, lambda i, j: j < i), "tril": lambda x: _mask(x, lambda i, j: j <= i),
    }

    def times(a, b):
        return a * b if is_scalar(a) or is_scalar(b) else a @ b

    binary = {"+": np.add, "-": np.subtract, "*": times, "/": np.divide, ".*": np.multiply}

    def compile_node(node) -> Callable:
        """The node as a function of the values (the tree is walked once, here)."""
        k = node.kind
        if k == "call" and node.value in DIM_FUNCTIONS:  # arguments that are sizes, not values
            kids = [compile_node(ch) for ch in node.children[:DIM_FUNCTIONS[node.value]]]
        else:
            kids = [compile_node(ch) for ch in node.children]
        if k == "number":
            const = np.array([[float(node.value)]])
            return lambda vals: const
        if k == "name":
            name = node.value
            if node.how == "var":
                return lambda vals: _as_array(vals[name])
            r, c = shape_of(node)
            const = {"eye": lambda: np.eye(r), "ones": lambda: np.ones((r, c)),
                     "zeros": lambda: np.zeros((r, c))}[node.how]()
            return lambda vals: const
        if k == "block":  # [A, B; C, D]: each row side by side, then the rows stacked
            counts = node.value

            def stack(vals):
                parts, rows, i = [kid(vals) for kid in kids], [], 0
                for n in counts:
                    rows.append(np.hstack(parts[i:i + n]))
                    i += n
                return np.vstack(rows)
            return stack
        if k == "neg":
            return lambda vals: -kids[0](vals)
        if k == "transpose":
            return lambda vals: kids[0](vals).T
        if k in ("sum", "prod"):  # +/- chains, and * / .* ./ chains, left to right
            ops = [binary.get(op, np.divide) for op, _ in node.ops[1:]]

            def chain(vals):
                acc = kids[0](vals)
                for op, kid in zip(ops, kids[1:]):
                    acc = op(acc, kid(vals))
                return acc
            return chain
        if k in ("pow", "hpow"):
            kk = node.how

            def power(vals):
                b, e = kids[0](vals), kids[1](vals)
                if k == "pow" and not is_scalar(b):
                    p = int(kk)
                    return np.linalg.matrix_power(b if p >= 0 else np.linalg.inv(b), abs(p))
                return b ** (e[0, 0] if is_scalar(e) else e)  # (an array exponent: entry by entry)
            return power
        if k == "call":
            name = node.value
            if name in ("eye", "ones", "zeros"):
                r, c = shape_of(node)
                const = {"eye": np.eye(r), "ones": np.ones((r, c)), "zeros": np.zeros((r, c))}[name]
                return lambda vals: const
            if name in ("vector", "matrix"):  # c in every entry, sized by the inference
                r, c = shape_of(node)
                return lambda vals: np.full((r, c), kids[0](vals)[0, 0])
            if name == "K":
                const = _commutation(*(dimarg(ch) for ch in node.children))
                return lambda vals: const
            if name == "unvec":
                rows = dimarg(node.children[1])
                return lambda vals: kids[0](vals).reshape(rows, -1, order="F")
            if name == "kron":
                return lambda vals: np.kron(kids[0](vals), kids[1](vals))
            if name == "solve":
                return lambda vals: np.linalg.solve(kids[0](vals), kids[1](vals))
            if name[2:] in _MATFUN and name[:2] == "D2":  # D2expm(A, E, F): the second one
                return lambda vals: _frechet2(name[2:], kids[0](vals), kids[1](vals), kids[2](vals))
            if name[2:] in _MATFUN and name[:2] == "J2":  # J2expm(A, E): its Kronecker form in F
                return lambda vals: _frechet_kron(name[2:], kids[0](vals), kids[1](vals))
            if name[1:] in _MATFUN and name[0] == "D":  # Dexpm(A, E): the Fréchet derivative
                return lambda vals: _frechet(name[1:], kids[0](vals), kids[1](vals))
            if name[1:] in _MATFUN and name[0] == "J":  # Jexpm(A): its Kronecker form
                return lambda vals: _frechet_kron(name[1:], kids[0](vals))
            if name[1:] in _MATFUN and name[0] in "FG":  # Fexpm(w), Gexpm(w): divided differences
                return lambda vals: _divdiff(name[1:], kids[0](vals), "FG".index(name[0]))
            if name in _MATFUN:
                return lambda vals: _MATFUN[name][0](kids[0](vals))
            if name in ("kronadj1", "kronadj2"):  # the adjoints of M -> kron(M, B), M -> kron(A, M)
                return lambda vals: _kronadj(name, kids[0](vals), kids[1](vals))
            fn = unary[name]
            return lambda vals: fn(kids[0](vals))
        raise AssertionError(k)

    return compile_node(tree)


def reference_value(text: str, shapes: Mapping, symmetric, values: Mapping, sizes: Mapping[str, int]):
    """Evaluate ``text`` once from its syntax tree (see :func:`reference_function`)."""
    return reference_function(text, shapes, symmetric, sizes)(values)


def reference_gradient(text: str, shapes: Mapping, values: Mapping, sizes: Mapping[str, int], wrt: str,
                       h: float = 1e-5) -> np.ndarray:
    """Central differences of the scalar ``text`` by each entry of ``wrt``, from the syntax-tree
    evaluator alone (no matdiff construction is trusted); the shape of ``values[wrt]``."""
    f = reference_function(text, shapes, (), sizes)

    def value(v):
        return float(np.asarray(f(v)).reshape(()))

    X = np.asarray(values[wrt], dtype=float)
    out = np.zeros(X.shape)
    for idx in np.ndindex(X.shape):
        E = np.zeros(X.shape)
        E[idx] = h
        out[idx] = (value({**values, wrt: X + E}) - value({**values, wrt: X - E})) / (2 * h)
    return out
