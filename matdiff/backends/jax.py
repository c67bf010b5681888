"""The JAX back-end: a printer over the lowered form (:mod:`.lower`), jit-safe.

The generated function works eagerly and under ``jax.jit``: input checks use only shapes
(static under tracing); no ``float()``, ``.item()``, in-place update or Python branch on
values inside it; scalars come back as 0-d arrays. Inputs become arrays of JAX's default
float type (float32 unless ``jax_enable_x64``). Products with a transposed operand are
contracted with ``lax.dot_general`` instead of forming the transpose (on CPU, XLA copies
A for ``A.T @ r``: 2.8 ms against 0.6 ms at 4096 x 512). Imports jax only in the
generated module.
"""

from __future__ import annotations

from .emit import ARRAY_TEMPLATES, Printer

_HELPERS = {  # written with the aliases jax, jnp (renamed where a user name is one of them)
    "_real": '''def _real(x, name):
    """x as an array of JAX's default float type (float32 unless jax_enable_x64); complex
    input is an error, never a dropped imaginary part."""
    if jnp.iscomplexobj(x):
        dt = getattr(x, "dtype", type(x).__name__)
        raise TypeError(
            f"{name}: complex input ({dt}) is not supported "
            f"(the function is real): pass {name}.real if that is meant"
        )
    return jnp.asarray(x, dtype=jnp.result_type(float))
''',
    "_block": '''def _block(nc, *parts):
    """The block matrix with nc blocks a row, from its blocks in row-major order (a scalar is
    a 1x1 block)."""
    parts = [jnp.reshape(p, (1, 1)) if jnp.ndim(p) == 0 else p for p in parts]
    return jnp.block([list(parts[i : i + nc]) for i in range(0, len(parts), nc)])
''',
    "_row_max_shift": '''def _row_max_shift(z):
    """The shift m (a column) for exp(z - m) in row-wise log-sum-exp and softmax: the largest
    entry of each row of z, 0 where that is not finite; no gradient flows through it."""
    m = jnp.max(z, axis=1, keepdims=True)
    return jax.lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0.0))
''',
    "_eigr": '''def _eigr(A):
    """(lam, u, v) for a general square A: lam its eigenvalue of largest real part (real and
    simple: checked outside jax.jit); v the right eigenvector (unit, largest-magnitude entry
    positive), u the left eigenvector with u'*v = 1. jnp.linalg.eig runs on CPU only."""
    w, R = jnp.linalg.eig(A)
    k = jnp.argmax(w.real)
    lam = w[k]
    if not isinstance(lam, jax.core.Tracer):
        tol = 1e-10 * max(1.0, float(jnp.max(jnp.abs(w))))
        if abs(complex(lam).imag) > tol:
            raise ValueError(
                "eigmax: the eigenvalue of largest real part is complex; eigmax of a "
                "non-symmetric matrix needs a real one"
            )
        if int(jnp.sum(jnp.abs(w - lam) <= tol)) > 1:
            raise ValueError(
                "eigmax: the eigenvalue of largest real part is repeated: not differentiable there"
            )
    v = R[:, k].real
    v = v / jnp.linalg.norm(v)
    v = jnp.where(v[jnp.argmax(jnp.abs(v))] < 0, -v, v)
    wl, L = jnp.linalg.eig(A.T)
    u = L[:, jnp.argmin(jnp.abs(wl - lam))].real
    return lam.real, (u / (u @ v)).reshape(-1, 1), v.reshape(-1, 1)
''',
    "_eigh": '''def _eigh(S):
    """Eigenvalues (ascending, a column) and orthonormal eigenvectors (columns) of the symmetric
    S; matdiff's sign convention: each eigenvector's largest-magnitude entry is positive."""
    w, V = jnp.linalg.eigh(S)
    top = jnp.take_along_axis(V, jnp.argmax(jnp.abs(V), axis=0)[None, :], axis=0)
    return w.reshape(-1, 1), V * jnp.where(top < 0, -1.0, 1.0)
''',
    "_divdiff": '''def _divdiff(f, w, order=0):
    """The divided-difference (Loewner) matrix of the scalar function of the matrix function f
    at the eigenvalues w: F[i, j] = (f(w_i) - f(w_j))/(w_i - w_j) (order 0, f'(w_i) where
    w_i = w_j), or its partials G[i, j] = dF[i, j]/dw_i (order 1, f''(w_i)/2 on the diagonal).
    F in closed forms without cancellation (exp: e^m sinh(h)/h, sin: cos(m) sin(h)/h,
    cos: -sin(m) sin(h)/h, log: atanh(h/m)/h, sqrt: 1/(sqrt(a) + sqrt(b)); m, h the midpoint
    and half difference), G by (f'(w_i) - F)/(w_i - w_j) or, for close w_i, w_j, f''/2 at
    (2 w_i + w_j)/3 (relative error ~1e-8 either way)."""
    w = w.reshape(-1)
    a, b = w[:, None], w[None, :]
    m, h = (a + b) / 2, (a - b) / 2

    def series(x, c2, c4, exact):
        small = jnp.abs(x) < 1e-3
        xs = jnp.where(small, 0.5 * jnp.ones_like(x), x)
        return jnp.where(small, 1 + c2 * x * x + c4 * x**4, exact(xs) / xs)

    def d1(x):
        return {
            "expm": jnp.exp,
            "logm": lambda x: 1 / x,
            "sqrtm": lambda x: 0.5 / jnp.sqrt(x),
            "sinm": jnp.cos,
            "cosm": lambda x: -jnp.sin(x),
        }[f](x)

    def d2(x):
        return {
            "expm": jnp.exp,
            "logm": lambda x: -1 / x**2,
            "sqrtm": lambda x: -0.25 / jnp.sqrt(x) ** 3,
            "sinm": lambda x: -jnp.sin(x),
            "cosm": lambda x: -jnp.cos(x),
        }[f](x)

    if f == "expm":
        F = jnp.exp(m) * series(h, 1 / 6, 1 / 120, jnp.sinh)
    elif f == "sinm":
        F = jnp.cos(m) * series(h, -1 / 6, 1 / 120, jnp.sin)
    elif f == "cosm":
        F = -jnp.sin(m) * series(h, -1 / 6, 1 / 120, jnp.sin)
    elif f == "logm":
        F = series(h / m, 1 / 3, 1 / 5, jnp.arctanh) / m
    else:
        F = 1 / (jnp.sqrt(a) + jnp.sqrt(b))
    if order == 0:
        return F
    scale = (
        jnp.maximum(jnp.abs(a), jnp.abs(b))
        if f in ("logm", "sqrtm")
        else jnp.ones_like(a)
    )
    close = jnp.abs(a - b) <= 1e-4 * scale
    diff = jnp.where(close, jnp.ones_like(F), a - b)
    return jnp.where(close, d2((2 * a + b) / 3) / 2, (d1(a) - F) / diff)
''',
    "_symfun": '''def _symfun(f, w, V):
    """f(S) = V diag(f(w)) V' for a symmetric S = V diag(w) V' (f one of expm, logm, sqrtm,
    sinm, cosm); logm and sqrtm need w > 0 (a positive definite S); outside jax.jit a ValueError says where not (under jit: NaN there)."""
    w = w.reshape(-1)
    if (
        f in ("logm", "sqrtm")
        and w.size
        and not isinstance(w, jax.core.Tracer)
        and not float(jnp.min(w)) > 0
    ):
        raise ValueError(
            f"{f}(S): the symmetric S is not positive definite, where the principal "
            f"{f} is not a real matrix function"
        )
    fw = {
        "expm": jnp.exp,
        "logm": jnp.log,
        "sqrtm": jnp.sqrt,
        "sinm": jnp.sin,
        "cosm": jnp.cos,
    }[f](w)
    return (V * fw[None, :]) @ V.T
''',
    "_eiggap": '''def _eiggap(w):
    """F[i, j] = 1/(w[j] - w[i]) off the diagonal, 0 on it. Outside jax.jit, raises at repeated
    eigenvalues (equal to rounding), where the derivative of the eigenvectors does not exist;
    under jit (no value checks) those entries are inf."""
    w = w.reshape(-1)
    D = w[None, :] - w[:, None]
    off = ~jnp.eye(w.shape[0], dtype=bool)
    if not isinstance(D, jax.core.Tracer):
        tol = (
            64
            * jnp.finfo(D.dtype).eps
            * max(1.0, float(jnp.max(jnp.abs(w), initial=0.0)))
        )
        if bool(jnp.any(jnp.where(off, jnp.abs(D), jnp.inf) <= tol)):
            raise ValueError(
                "eigvecs: repeated eigenvalues (equal to rounding): this result is "
                "computed through the derivative of the eigenvectors, which does not "
                "exist there (a function of the eigenvalues alone may still be "
                "differentiable: the Hessian of tr(expm(S)) or tr(logm(S)) needs no "
                "eigenvector derivative)"
            )
    return jnp.where(off, 1.0 / jnp.where(off, D, 1.0), 0.0)
''',
    "_lu": '''def _lu(A):
    """(L, U) of the unpivoted LU factorization A = L @ U (L unit lower, U upper triangular).
    Outside jax.jit, raises where a leading principal minor is zero (to rounding)."""
    n = A.shape[0]
    U = A
    L = jnp.eye(n, dtype=A.dtype)
    if not isinstance(A, jax.core.Tracer):
        tol = (
            64
            * jnp.finfo(A.dtype).eps
            * max(1.0, float(jnp.max(jnp.abs(A), initial=0.0)))
        )
    for k in range(n):
        if not isinstance(U, jax.core.Tracer) and abs(float(U[k, k])) <= tol:
            raise ValueError(
                "luL/luU: a leading principal minor is zero (to rounding): the LU "
                "factorization without pivoting does not exist there"
            )
        col = U[k + 1 :, k] / U[k, k]
        L = L.at[k + 1 :, k].set(col)
        U = U.at[k + 1 :, :].add(-col[:, None] * U[k, :][None, :])
    return L, jnp.triu(U)
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
    Q, R = jnp.linalg.qr(A)
    s = jnp.where(jnp.diag(R) < 0, -1.0, 1.0).astype(A.dtype)
    return Q * s, R * s[:, None]
''',
    "_chol": '''def _chol(S):
    """The lower Cholesky factor of the SPD S. Outside jax.jit, raises where S is not positive
    definite (jnp.linalg.cholesky returns NaN there; under jit, so does this)."""
    C = jnp.linalg.cholesky(S)
    if not isinstance(C, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(C))):
        raise ValueError("chol(S): S is not positive definite (or not finite): it has no Cholesky factor")
    return C
''',
    "_chol_logdet": '''def _chol_logdet(C):
    """log det S = 2*sum(log(diag(C))), from the lower Cholesky factor C of the SPD S."""
    return 2.0 * jnp.sum(jnp.log(jnp.diag(C)))
''',
    "_cho_solve": '''def _cho_solve(C, B):
    """inv(S) @ B from the lower Cholesky factor C of the SPD S = C @ C.T (triangular solves)."""
    return jax.scipy.linalg.cho_solve((C, True), B)
''',
    "_cho_inv": '''def _cho_inv(C):
    """inv(S) from the lower Cholesky factor C of the SPD S = C @ C.T (triangular solves)."""
    return jax.scipy.linalg.cho_solve((C, True), jnp.eye(C.shape[0], dtype=C.dtype))
''',
    "_eigtop": '''def _eigtop(S):
    """The largest eigenvalue of the symmetric S and its unit eigenvector (a column), signed as
    _eigh signs eigenvectors: its largest-magnitude entry positive."""
    w, V = jnp.linalg.eigh(S)
    v = V[:, -1]
    v = jnp.where(v[jnp.argmax(jnp.abs(v))] < 0, -v, v)
    return w[-1], v.reshape(-1, 1)
''',
    "_eigbot": '''def _eigbot(S):
    """The smallest eigenvalue of the symmetric S and its unit eigenvector (a column), signed as
    _eigh signs eigenvectors: its largest-magnitude entry positive."""
    w, V = jnp.linalg.eigh(S)
    v = V[:, 0]
    v = jnp.where(v[jnp.argmax(jnp.abs(v))] < 0, -v, v)
    return w[0], v.reshape(-1, 1)
''',
    "_tril_half": '''def _tril_half(M):
    """The lower triangle of M with its diagonal halved."""
    return (
        jnp.tril(jnp.ones(M.shape, M.dtype)) - 0.5 * jnp.eye(*M.shape, dtype=M.dtype)
    ) * M
''',
    "_max_shift": '''def _max_shift(z, w=None):
    """The shift m for exp(z - m) in log-sum-exp and softmax: the largest entry of z (where
    w != 0, unless that leaves some exp(z - m) above e^700); 0 when that is not finite.
    Any m gives the same value, so no gradient flows through it."""
    m = jnp.max(z)
    if w is not None:
        m = jnp.maximum(jnp.max(jnp.where(w != 0, z, -jnp.inf)), m - 700.0)
    return jax.lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0.0))
''',
    "_kronadj1": '''def _kronadj1(C, B):
    """Adjoint of M -> kron(M, B): sum_kl B[k, l] * C[i*p + k, j*q + l]."""
    p, q = B.shape
    return jnp.einsum(
        "ikjl,kl->ij", C.reshape(C.shape[0] // p, p, C.shape[1] // q, q), B
    )
''',
    "_kronadj2": '''def _kronadj2(A, C):
    """Adjoint of M -> kron(A, M): sum_ij A[i, j] * C[i*p + k, j*q + l]."""
    m, n = A.shape
    return jnp.einsum(
        "ij,ikjl->kl", A, C.reshape(m, C.shape[0] // m, n, C.shape[1] // n)
    )
''',
    "_commutation": '''def _commutation(m, n):
    """The mn x mn commutation matrix K with K @ vec(A) = vec(A.T) for A of shape (m, n)."""
    i, j = jnp.meshgrid(jnp.arange(m), jnp.arange(n), indexing="ij")
    return (
        jnp.zeros((m * n, m * n)).at[(i * n + j).ravel(), (j * m + i).ravel()].set(1.0)
    )
''',
    "_kron_matmul": '''def _kron_matmul(A, B, M):
    """kron(A, B) @ M without forming the Kronecker product."""
    M3 = M.reshape(A.shape[1], B.shape[1], M.shape[1])
    return jnp.einsum("ij,kl,jlc->ikc", A, B, M3, optimize=True).reshape(-1, M.shape[1])
''',
    "_commute_rows": '''def _commute_rows(m, n, M):
    """K(m, n) @ M without forming the commutation matrix (K vec(A) = vec(A.T), A m x n)."""
    return M.reshape(n, m, M.shape[1]).transpose(1, 0, 2).reshape(m * n, M.shape[1])
''',
    "_expm": '''def _expm(A):
    """The matrix exponential (jax.scipy.linalg.expm)."""
    from jax.scipy.linalg import expm

    return expm(A)
''',
    "_expm_frechet": '''def _expm_frechet(A, E):
    """The Frechet derivative of expm at A in the direction E (jax.scipy.linalg.expm_frechet)."""
    from jax.scipy.linalg import expm_frechet

    return expm_frechet(A, E, compute_expm=False)
''',
    "_expm_jacobian": '''def _expm_jacobian(A):
    """J with vec(Dexpm(A, E)) = J @ vec(E) (column-major vec): the Frechet derivative of
    expm at A applied to each basis matrix."""
    from jax.scipy.linalg import expm_frechet

    n = A.shape[0]
    basis = jnp.eye(n * n, dtype=A.dtype).reshape(n * n, n, n).transpose(0, 2, 1)
    D = jax.vmap(lambda E: expm_frechet(A, E, compute_expm=False))(basis)
    return D.transpose(0, 2, 1).reshape(n * n, n * n).T
''',
}

_DIMS = {(True, False): "(((0,), (0,)), ((), ()))",  # A.T @ B
         (False, True): "(((1,), (1,)), ((), ()))",  # A @ B.T
         (True, True): "(((0,), (1,)), ((), ()))"}  # A.T @ B.T


def _matmul(p, parts, raw, n, text):
    """``A.T @ B`` (and ``A @ B.T``, ``A.T @ B.T``) as ``lax.dot_general`` on A and B."""
    ta, tb = (a.tag == "T" and a.op == "T" for a in n.args)
    if not (ta or tb) or text is None:
        return f"{parts[0]} @ {parts[1]}"
    a = text[n.args[0].args[0]][0] if ta else raw[0][0]
    b = text[n.args[1].args[0]][0] if tb else raw[1][0]
    return f"{p.alias['jax']}.lax.dot_general({a}, {b}, {_DIMS[(ta, tb)]})"


class JaxPrinter(Printer):
    target = "jax"
    aliases = {"jax": "jax", "jnp": "jax.numpy"}
    xp = "jnp"
    in_place = False
    jit_safe = True
    input_note = ("Inputs become arrays of JAX's default float type (float32 unless jax_enable_x64);\n"
                  "    complex input raises TypeError.")
    helpers = _HELPERS
    templates = {**ARRAY_TEMPLATES,  # where JAX differs from the common spelling
                 "f64": "{xp}.asarray({0})",
                 "matmul": _matmul,  # A.T @ r without forming A.T (lax.dot_general)
                 "vec": "{0}.T.reshape(-1, 1)",
                 "unvec": "{0}.reshape({a1}, {a0}).T"}

    def convert(self, name, p):
        self.used_helpers.add("_real")
        return [f'{p} = _real({p}, "{name}")']

    def scalar_lines(self, name, p):
        return [f"if {p}.size != 1:",
                f"    raise ValueError(f\"{name}: expected a scalar, got an array of shape {{{p}.shape}}\")",
                f"{p} = {p}.reshape(())"]

    def scalar_out(self, code, prec, literal, node):
        jnp = self.alias["jnp"]
        if node.op == "num":
            return f"{jnp}.asarray({code})"
        return f"{jnp}.reshape({code}, ())"


PRINTER = JaxPrinter
