"""The NumPy back-end: a printer over the lowered form (:mod:`.lower`).

Capabilities: in-place updates of fresh products (``out=``, ``-=``); scalars are NumPy
float64 (``(-8.0) ** 0.5`` is nan with NumPy's warning, not a Python complex; ``1 / 0.0``
is inf) and returned as Python floats; vectors come back 1-D. Not meant for ``jax.jit``.
"""

from __future__ import annotations

from .emit import ARRAY_TEMPLATES, Printer

_HELPERS = {  # written with the alias np (renamed where a user name is np)
    "_outer": '''def _outer(u, v, out=None):
    """The outer product u * v of a column u (m, 1) and a row v (1, n), into ``out`` where
    given. For large float64 operands BLAS writes it (SciPy's dgemm with beta = 0 into
    np.empty memory, which the allocator reuses from call to call, or into ``out``; dger
    into zeroed memory above 32 MB, which is fresh pages anyway): two to four times as fast
    as NumPy's broadcast multiply, which runs its inner loop once per row."""
    big = u.size * v.size >= 65536 and u.dtype == np.float64 and v.dtype == np.float64
    if big:
        try:
            from scipy.linalg.blas import dgemm, dger
        except ImportError:  # SciPy is optional here: the broadcast is the same value
            big = False
    m, n = u.size, v.size
    if out is not None and not (big and out.flags.c_contiguous):
        return np.multiply(u, v, out=out)
    if not big:
        return u * v
    if out is None and 8 * m * n > 1 << 25:
        z = np.zeros((n, m), order="F")
        return dger(1.0, v.ravel(), u.ravel(), a=z, overwrite_a=1).T
    # C = v * u' into (n, m) Fortran-ordered memory: out.T, or fresh
    c = np.empty((m, n)).T if out is None else out.T
    return dgemm(1.0, v.reshape(n, 1), u.reshape(1, m), beta=0.0, c=c, overwrite_c=1).T
''',
    "_out": '''def _out(out, shape, key, keys, taken):
    """The caller's array for a gradient (out=; out[key] with several gradients, ``keys``),
    checked: a writable float64 NumPy array of the gradient's shape sharing no memory with
    an input or another out array (``taken``). None where none is given."""
    what = "out"
    if keys and out is not None:
        if not isinstance(out, dict) or not set(out) <= set(keys):
            raise TypeError(f"out: with several outputs, a dict with keys in {keys}")
        out, what = out.get(key), f"out[{key!r}]"
    if out is None:
        return None
    if not isinstance(out, np.ndarray) or out.dtype != np.float64 or out.shape != shape:
        got = out.dtype if isinstance(out, np.ndarray) else type(out).__name__
        got = f"{got} {getattr(out, 'shape', '')}".rstrip()
        raise TypeError(f"{what}: expected a float64 NumPy array {shape}, got {got}")
    if not out.flags.writeable or any(np.may_share_memory(out, x) for x in taken):
        raise ValueError(f"{what}: read-only, or shares memory with an input or out")
    return out
''',
    "_lowrank": '''def _lowrank(X, P, Q, c, rq, pr):
    """(||R||^2, R @ Q.T or None, P.T @ R or None) for R = X + c * P @ Q, P (m, k) and Q (k, n).

    With k small against m and n, through Gram matrices instead of forming R: R @ Q.T is
    X @ Q.T + c * P @ (Q @ Q.T), P.T @ R is P.T @ X + c * (P.T @ P) @ Q, and ||R||^2 is
    ||X||^2 + 2c <P, X @ Q.T> + c^2 <P.T @ P, Q @ Q.T>: one m x n x k product instead of two
    or three. That sum cancels when R is small against X, so it is used only when its terms'
    magnitudes S are at most 64 ||R||^2 (its rounding error is then at most 64 times the
    direct sum of squares' bound, the products' 8 times); otherwise R is formed, as written.
    See matdiff/backends/lowrank.py."""
    m, k = P.shape
    n = Q.shape[1]
    if np.shape(X) == (m, n) and m * n >= 65536 and 2 * k * (m + n) <= m * n:
        G = Q @ Q.T
        XQt = X @ Q.T if rq or not pr else None
        PtX = P.T @ X if pr else None
        cross = np.vdot(P, XQt) if XQt is not None else np.vdot(PtX, Q)
        PtP = P.T @ P
        gram = np.vdot(PtP, G)
        xx = np.vdot(X, X)
        value = xx + 2.0 * c * cross + c * c * gram
        if xx + 2.0 * abs(c * cross) + c * c * gram <= 64.0 * value:  # False for nan
            return (
                value,
                XQt + (c * P) @ G if rq else None,
                PtX + c * (PtP @ Q) if pr else None,
            )
    R = P @ Q
    R *= c
    R += X
    return np.vdot(R, R), R @ Q.T if rq else None, P.T @ R if pr else None
''',
    "_softplus": '''def _softplus(u):
    """log(1 + exp(u)) without overflow, as max(u, 0) + log1p(exp(-|u|)): the formula of
    NumPy's logaddexp with 0, at about a twentieth of its time (its loop is not vectorized)."""
    return np.maximum(u, 0.0) + np.log1p(np.exp(-np.abs(u)))
''',
    "_real": '''def _real(x, name):
    """x as a float64 array (float32 and integer input are promoted); complex input is an error,
    never a dropped imaginary part."""
    x = np.asarray(x)
    if np.iscomplexobj(x):
        raise TypeError(
            f"{name}: complex input ({x.dtype}) is not supported "
            f"(the function is real): pass {name}.real if that is meant"
        )
    return x.astype(np.float64, copy=False)
''',
    "_block": '''def _block(nc, *parts):
    """The block matrix with nc blocks a row, from its blocks in row-major order (a scalar is
    a 1x1 block)."""
    parts = [np.reshape(p, (1, 1)) if np.ndim(p) == 0 else p for p in parts]
    return np.block([list(parts[i : i + nc]) for i in range(0, len(parts), nc)])
''',
    "_eigr": '''def _eigr(A):
    """(lam, u, v) for a general square A: lam its eigenvalue of largest real part, which must
    be real and simple; v the right eigenvector (unit, largest-magnitude entry positive), u the
    left eigenvector with u'*v = 1."""
    w, R = np.linalg.eig(A)
    k = int(np.argmax(w.real))
    lam = w[k]
    tol = 1e-10 * max(1.0, float(np.max(np.abs(w))))
    if abs(lam.imag) > tol:
        raise ValueError(
            "eigmax: the eigenvalue of largest real part is complex; eigmax of a "
            "non-symmetric matrix needs a real one"
        )
    if np.sum(np.abs(w - lam) <= tol) > 1:
        raise ValueError(
            "eigmax: the eigenvalue of largest real part is repeated: not differentiable there"
        )
    v = R[:, k].real
    v = v / np.linalg.norm(v)
    v = -v if v[np.argmax(np.abs(v))] < 0 else v
    wl, L = np.linalg.eig(A.T)
    u = L[:, int(np.argmin(np.abs(wl - lam)))].real
    return lam.real, (u / (u @ v)).reshape(-1, 1), v.reshape(-1, 1)
''',
    "_eigh": '''def _eigh(S):
    """Eigenvalues (ascending, a column) and orthonormal eigenvectors (columns) of the symmetric
    S; matdiff's sign convention: each eigenvector's largest-magnitude entry is positive."""
    w, V = np.linalg.eigh(S)
    top = V[np.argmax(np.abs(V), axis=0), np.arange(V.shape[1])]
    return w.reshape(-1, 1), V * np.where(top < 0, -1.0, 1.0)
''',
    "_divdiff": '''def _divdiff(f, w, order=0):
    """The divided-difference (Loewner) matrix of the scalar function of the matrix function f
    at the eigenvalues w: F[i, j] = (f(w_i) - f(w_j))/(w_i - w_j) (order 0, f'(w_i) where
    w_i = w_j), or its partials G[i, j] = dF[i, j]/dw_i (order 1, f''(w_i)/2 on the diagonal).
    F in closed forms without cancellation (exp: e^m sinh(h)/h, sin: cos(m) sin(h)/h,
    cos: -sin(m) sin(h)/h, log: atanh(h/m)/h, sqrt: 1/(sqrt(a) + sqrt(b)); m, h the midpoint
    and half difference), G by (f'(w_i) - F)/(w_i - w_j) or, for close w_i, w_j, f''/2 at
    (2 w_i + w_j)/3 (relative error ~1e-8 either way). logm and sqrtm need w > 0: the same
    error as f(S) itself, raised before any NumPy warning."""
    w = w.reshape(-1)
    if f in ("logm", "sqrtm") and w.size and not np.min(w) > 0:
        raise ValueError(
            f"{f}(S): the symmetric S is not positive definite, where the principal "
            f"{f} is not a real matrix function"
        )
    a, b = w[:, None], w[None, :]
    m, h = (a + b) / 2, (a - b) / 2

    def series(x, c2, c4, exact):
        small = np.abs(x) < 1e-3
        xs = np.where(small, 0.5 * np.ones_like(x), x)
        return np.where(small, 1 + c2 * x * x + c4 * x**4, exact(xs) / xs)

    def d1(x):
        return {
            "expm": np.exp,
            "logm": lambda x: 1 / x,
            "sqrtm": lambda x: 0.5 / np.sqrt(x),
            "sinm": np.cos,
            "cosm": lambda x: -np.sin(x),
        }[f](x)

    def d2(x):
        return {
            "expm": np.exp,
            "logm": lambda x: -1 / x**2,
            "sqrtm": lambda x: -0.25 / np.sqrt(x) ** 3,
            "sinm": lambda x: -np.sin(x),
            "cosm": lambda x: -np.cos(x),
        }[f](x)

    if f == "expm":
        F = np.exp(m) * series(h, 1 / 6, 1 / 120, np.sinh)
    elif f == "sinm":
        F = np.cos(m) * series(h, -1 / 6, 1 / 120, np.sin)
    elif f == "cosm":
        F = -np.sin(m) * series(h, -1 / 6, 1 / 120, np.sin)
    elif f == "logm":
        F = series(h / m, 1 / 3, 1 / 5, np.arctanh) / m
    else:
        F = 1 / (np.sqrt(a) + np.sqrt(b))
    if order == 0:
        return F
    scale = (
        np.maximum(np.abs(a), np.abs(b)) if f in ("logm", "sqrtm") else np.ones_like(a)
    )
    close = np.abs(a - b) <= 1e-4 * scale
    diff = np.where(close, np.ones_like(F), a - b)
    return np.where(close, d2((2 * a + b) / 3) / 2, (d1(a) - F) / diff)
''',
    "_symfun": '''def _symfun(f, w, V):
    """f(S) = V diag(f(w)) V' for a symmetric S = V diag(w) V' (f one of expm, logm, sqrtm,
    sinm, cosm); logm and sqrtm need w > 0 (a positive definite S)."""
    w = w.reshape(-1)
    if f in ("logm", "sqrtm") and w.size and not np.min(w) > 0:
        raise ValueError(
            f"{f}(S): the symmetric S is not positive definite, where the principal "
            f"{f} is not a real matrix function"
        )
    fw = {
        "expm": np.exp,
        "logm": np.log,
        "sqrtm": np.sqrt,
        "sinm": np.sin,
        "cosm": np.cos,
    }[f](w)
    return (V * fw[None, :]) @ V.T
''',
    "_eiggap": '''def _eiggap(w):
    """F[i, j] = 1/(w[j] - w[i]) off the diagonal, 0 on it; raises at repeated eigenvalues
    (equal to rounding), where the derivative of the eigenvectors does not exist."""
    w = w.reshape(-1)
    D = w[None, :] - w[:, None]
    off = ~np.eye(w.shape[0], dtype=bool)
    tol = 64 * np.finfo(float).eps * max(1.0, float(np.max(np.abs(w), initial=0.0)))
    if np.any(np.abs(D[off]) <= tol):
        raise ValueError(
            "eigvecs: repeated eigenvalues (equal to rounding): this result is computed"
            " through the derivative of the eigenvectors, which does not exist there (a"
            " function of the eigenvalues alone may still be differentiable: the "
            "Hessian of tr(expm(S)) or tr(logm(S)) needs no eigenvector derivative)"
        )
    return np.divide(1.0, D, out=np.zeros_like(D), where=off)
''',
    "_lu": '''def _lu(A):
    """(L, U) of the unpivoted LU factorization A = L @ U (L unit lower, U upper triangular);
    raises where a leading principal minor of A is zero (to rounding): no factorization there."""
    n = A.shape[0]
    U = np.array(A, dtype=float)
    L = np.eye(n)
    tol = 64 * np.finfo(float).eps * max(1.0, float(np.max(np.abs(A), initial=0.0)))
    for k in range(n):
        if abs(U[k, k]) <= tol:
            raise ValueError(
                "luL/luU: a leading principal minor is zero (to rounding): the LU "
                "factorization without pivoting does not exist there"
            )
        L[k + 1 :, k] = U[k + 1 :, k] / U[k, k]
        U[k + 1 :, :] -= np.outer(L[k + 1 :, k], U[k, :])
    return L, np.triu(U)
''',
    "_qr": '''def _qr(A):
    """(Q, R) of the thin QR factorization A = Q @ R of an m x n A, m >= n, of full column
    rank: Q with orthonormal columns, R upper triangular with a positive diagonal."""
    m, n = A.shape
    if m < n:
        raise ValueError(
            f"qrQ/qrR: the argument is {m} x {n}; the QR factorization needs at least "
            "as many rows as columns"
        )
    Q, R = np.linalg.qr(A)
    d = np.diag(R)
    if np.any(
        np.abs(d)
        <= 64 * np.finfo(float).eps * max(1.0, float(np.max(np.abs(R), initial=0.0)))
    ):
        raise ValueError(
            "qrQ/qrR: the argument does not have full column rank (to rounding): "
            "its QR factorization is not unique and not differentiable there"
        )
    s = np.where(d < 0, -1.0, 1.0)
    return Q * s, R * s[:, None]
''',
    "_chol_logdet": '''def _chol_logdet(C):
    """log det S = 2*sum(log(diag(C))), from the lower Cholesky factor C of the SPD S."""
    return 2.0 * np.sum(np.log(np.diag(C)))
''',
    "_cho_solve": '''def _cho_solve(C, B):
    """inv(S) @ B from the lower Cholesky factor C of the SPD S = C @ C.T: two triangular
    solves (SciPy's where it is installed, else NumPy's general solver)."""
    try:
        from scipy.linalg import cho_solve
    except ImportError:
        return np.linalg.solve(C.T, np.linalg.solve(C, B))
    return cho_solve((C, True), B, check_finite=False)
''',
    "_cho_inv": '''def _cho_inv(C):
    """inv(S) from the lower Cholesky factor C of the SPD S = C @ C.T (SciPy's triangular
    solves where it is installed, else NumPy's general solver)."""
    eye = np.eye(C.shape[0])
    try:
        from scipy.linalg import cho_solve
    except ImportError:
        return np.linalg.solve(C.T, np.linalg.solve(C, eye))
    return cho_solve((C, True), eye, check_finite=False)
''',
    "_eigtop": '''def _eigtop(S):
    """The largest eigenvalue of the symmetric S and its unit eigenvector (a column), signed as
    _eigh signs eigenvectors: its largest-magnitude entry positive."""
    w, V = np.linalg.eigh(S)
    v = V[:, -1]
    v = -v if v[np.argmax(np.abs(v))] < 0 else v
    return w[-1], v.reshape(-1, 1)
''',
    "_eigbot": '''def _eigbot(S):
    """The smallest eigenvalue of the symmetric S and its unit eigenvector (a column), signed as
    _eigh signs eigenvectors: its largest-magnitude entry positive."""
    w, V = np.linalg.eigh(S)
    v = V[:, 0]
    v = -v if v[np.argmax(np.abs(v))] < 0 else v
    return w[0], v.reshape(-1, 1)
''',
    "_tril_half": '''def _tril_half(M):
    """The lower triangle of M with its diagonal halved."""
    return (np.tril(np.ones(M.shape)) - 0.5 * np.eye(*M.shape)) * M
''',
    "_sigmoid": '''def _sigmoid(z):
    """Logistic function 1/(1 + exp(-z)), accurate to full relative precision in both tails."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)
''',
    "_erf": '''def _erf(z):
    """The error function entry by entry (NumPy has none): math.erf, exact to double
    precision; a Python-level loop (about 0.1 us an entry)."""
    import math

    return np.asarray(np.frompyfunc(math.erf, 1, 1)(z), dtype=float)
''',
    "_row_max_shift": '''def _row_max_shift(z):
    """The shift m (a column) for exp(z - m) in row-wise log-sum-exp and softmax: the largest
    entry of each row of z, 0 where that is not finite."""
    m = np.max(z, axis=1, keepdims=True)
    return np.where(np.isfinite(m), m, 0.0)
''',
    "_max_shift": '''def _max_shift(z, w=None):
    """The shift m for exp(z - m) in log-sum-exp and softmax: the largest entry of z, so
    nothing overflows and the largest term is 1; 0 when that is not finite. With weights w,
    the largest entry where w != 0 (its term must survive), unless that leaves some
    exp(z - m) above e^700."""
    m = np.max(z, initial=-np.inf)
    if w is not None:
        m = np.maximum(np.max(z, initial=-np.inf, where=w != 0), m - 700.0)
    return m if np.isfinite(m) else 0.0
''',
    "_kronadj1": '''def _kronadj1(C, B):
    """Adjoint of M -> kron(M, B): sum_kl B[k, l] * C[i*p + k, j*q + l]."""
    p, q = B.shape
    return np.einsum(
        "ikjl,kl->ij", C.reshape(C.shape[0] // p, p, C.shape[1] // q, q), B
    )
''',
    "_kronadj2": '''def _kronadj2(A, C):
    """Adjoint of M -> kron(A, M): sum_ij A[i, j] * C[i*p + k, j*q + l]."""
    m, n = A.shape
    return np.einsum(
        "ij,ikjl->kl", A, C.reshape(m, C.shape[0] // m, n, C.shape[1] // n)
    )
''',
    "_commutation": '''def _commutation(m, n):
    """The mn x mn commutation matrix K with K @ vec(A) = vec(A.T) for A of shape (m, n)."""
    K = np.zeros((m * n, m * n))
    i, j = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    K[(i * n + j).ravel(), (j * m + i).ravel()] = 1.0
    return K
''',
    "_kron_matmul": '''def _kron_matmul(A, B, M):
    """kron(A, B) @ M without forming the Kronecker product."""
    M3 = M.reshape(A.shape[1], B.shape[1], M.shape[1])
    return np.einsum("ij,kl,jlc->ikc", A, B, M3, optimize=True).reshape(-1, M.shape[1])
''',
    "_commute_rows": '''def _commute_rows(m, n, M):
    """K(m, n) @ M without forming the commutation matrix (K vec(A) = vec(A.T), A m x n)."""
    return M.reshape(n, m, M.shape[1]).transpose(1, 0, 2).reshape(m * n, M.shape[1])
''',
    "_matfun": '''def _matfun(f, A, E=None, F=None, jacobian=False):
    """The matrix function f (expm, logm, sqrtm, sinm, cosm; principal branches) of a real
    square A with SciPy; with E its Frechet derivative Df(A, E), with jacobian=True the
    n^2 x n^2 matrix J with vec(Df(A, E)) = J @ vec(E); with E and F the second derivative
    D2f(A, E, F), the top-right block of f([A, E, F, 0; 0, A, 0, F; 0, 0, A, E; 0, 0, 0, A])
    (Higham and Relton 2014), with E and jacobian=True the J with vec(D2f(A, E, F)) = J @
    vec(F). expm's derivative is
    scipy.linalg.expm_frechet; the others' the block identity f([A, E; 0, A]) = [f(A),
    Df(A, E); 0, f(A)] (E scaled to A's norm, for accuracy). logm and sqrtm need A without
    eigenvalues on the closed negative real axis: there the principal value is real, and a
    round-off imaginary part SciPy returns is dropped; elsewhere a ValueError."""
    import warnings

    import scipy.linalg as sl

    A = np.asarray(A, dtype=float)
    n = A.shape[0]
    if f in ("logm", "sqrtm"):
        w = np.linalg.eigvals(A)
        if np.any(
            (w.real <= 0)
            & (np.abs(w.imag) <= 1e-12 * max(1.0, float(np.max(np.abs(w)))))
        ):
            raise ValueError(
                f"{f}(A): A has an eigenvalue on the closed negative real axis, where "
                f"the principal {f} is not defined as a real matrix function"
            )

    def value(M, block=False):
        with warnings.catch_warnings():
            # logm's error estimate is pessimistic for the block-triangular matrices
            if block:
                warnings.filterwarnings(
                    "ignore", message="logm result may be inaccurate"
                )
            F = {
                "expm": sl.expm,
                "logm": sl.logm,
                "sqrtm": sl.sqrtm,
                "sinm": sl.sinm,
                "cosm": sl.cosm,
            }[f](M)
        return np.real(F) if np.iscomplexobj(F) else F

    def frechet(E):
        E = np.asarray(E, dtype=float)
        if f == "expm":
            return sl.expm_frechet(A, E, compute_expm=False)
        s = float(np.linalg.norm(E))
        if s == 0.0:
            return np.zeros_like(A)
        t = max(float(np.linalg.norm(A)), 1.0) / s
        B = np.block([[A, t * E], [np.zeros_like(A), A]])
        return value(B, True)[:n, n:] / t

    def second(E, F):
        E, F = np.asarray(E, dtype=float), np.asarray(F, dtype=float)
        s, r = float(np.linalg.norm(E)), float(np.linalg.norm(F))
        if s == 0.0 or r == 0.0:
            return np.zeros_like(A)
        a = max(float(np.linalg.norm(A)), 1.0)
        t, u = a / s, a / r
        Z = np.zeros_like(A)
        B = np.block(
            [[A, t * E, u * F, Z], [Z, A, Z, u * F], [Z, Z, A, t * E], [Z, Z, Z, A]]
        )
        return value(B, True)[:n, 3 * n :] / (t * u)

    if jacobian:
        J = np.empty((n * n, n * n))
        for k in range(n * n):
            Ek = np.zeros((n, n))
            Ek[k % n, k // n] = 1.0
            J[:, k] = (frechet(Ek) if E is None else second(E, Ek)).reshape(
                -1, order="F"
            )
        return J
    if E is None:
        return value(A)
    return frechet(E) if F is None else second(E, F)
''',
}


class NumpyPrinter(Printer):
    target = "numpy"
    aliases = {"np": "numpy"}
    xp = "np"
    in_place = True
    jit_safe = False
    copy_suffix = ".copy()"
    input_note = ("Inputs become float64 arrays (float32 and integer input is promoted); complex input\n"
                  "    raises TypeError.")
    helpers = _HELPERS
    lowrank = True  # residuals of low-rank products through Gram matrices (lowrank.py)
    # NumPy spells every lowered operation the common way, except large outer products and
    # the softplus log(1 + exp(u)) (np.logaddexp is slow)
    templates = {**ARRAY_TEMPLATES, "outer": lambda pr, parts, raw, attrs: pr.fmt(
        "_outer({0}, {1})", [code for code, _ in raw], attrs), "softplus": "_softplus({0})",
                 "lowrank": "_lowrank({0}, {1}, {2}, {3}, {a0}, {a1})"}

    def convert(self, name, p):
        self.used_helpers.add("_real")
        return [f'{p} = _real({p}, "{name}")']

    def scalar_lines(self, name, p):
        return [f"if {p}.size != 1:",
                f"    raise ValueError(f\"{name}: expected a scalar, got an array of shape {{{p}.shape}}\")",
                # a NumPy scalar, not a Python float: (-1.5) ** 0.3 is then nan with NumPy's
                # warning (Python gives a complex), 1 / 0.0 is inf (Python raises)
                f"{p} = {self.alias['np']}.float64({p}.item())"]

    def scalar_out(self, code, prec, literal, node):
        return code if literal else f"float({code})"  # a literal is a float already

    def in_place_update(self, n, name, other, i):
        if n.op == "add":
            return f"{name} += {other}"
        if i == 0:
            return f"{name} -= {other}"
        return f"{self.alias['np']}.subtract({other}, {name}, out={name})"


PRINTER = NumpyPrinter
