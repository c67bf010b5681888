"""The PyTorch back-end: a printer over the lowered form (:mod:`.lower`).

The generated function runs on CPU or CUDA tensors and under ``torch.compile``: input
checks use only shapes; no ``float()``, ``.item()``, in-place update or Python branch on
values inside it; scalars come back as 0-d tensors. Tensors keep their floating dtype and
device; other inputs (NumPy arrays, Python numbers, integer tensors) become float64
tensors. New arrays (``eye``, ``ones``...) take the dtype and device of the first array
input. Imports torch only in the generated module.
"""

from __future__ import annotations

from .emit import ARRAY_TEMPLATES, Printer

_HELPERS = {  # written with the alias torch (renamed where a user name is torch)
    "_real": '''def _real(x, name):
    """A floating tensor stays as it is (dtype and device kept); other input becomes a float64
    tensor; complex input is an error, never a dropped imaginary part."""
    if torch.is_tensor(x) and x.is_floating_point():
        return x
    dt = (x if torch.is_tensor(x) else torch.as_tensor(x)).dtype
    if dt.is_complex:
        raise TypeError(
            f"{name}: complex input ({dt}) is not supported "
            f"(the function is real): pass {name}.real if that is meant"
        )
    return torch.as_tensor(x, dtype=torch.float64)
''',
    "_block": '''def _block(nc, dt, dev, *parts):
    """The block matrix with nc blocks a row, from its blocks in row-major order (a scalar,
    a Python number or a 0-d tensor, is a 1x1 block)."""
    parts = [
        torch.as_tensor(p, dtype=dt, device=dev).reshape(1, 1)
        if not torch.is_tensor(p) or p.dim() == 0
        else p
        for p in parts
    ]
    return torch.cat(
        [torch.cat(parts[i : i + nc], dim=1) for i in range(0, len(parts), nc)], dim=0
    )
''',
    "_row_max_shift": '''def _row_max_shift(z):
    """The shift m (a column) for exp(z - m) in row-wise log-sum-exp and softmax: the largest
    entry of each row of z, 0 where that is not finite; no gradient flows through it."""
    m = torch.amax(z, dim=1, keepdim=True)
    return torch.where(torch.isfinite(m), m, torch.zeros_like(m)).detach()
''',
    "_eigr": '''def _eigr(A):
    """(lam, u, v) for a general square A: lam its eigenvalue of largest real part (real and
    simple: checked outside torch.compile); v the right eigenvector (unit, largest-magnitude
    entry positive), u the left eigenvector with u'*v = 1."""
    w, R = torch.linalg.eig(A)
    k = torch.argmax(w.real)
    lam = w[k]
    if not torch.compiler.is_compiling():
        tol = 1e-10 * max(1.0, float(torch.max(torch.abs(w))))
        if abs(complex(lam).imag) > tol:
            raise ValueError(
                "eigmax: the eigenvalue of largest real part is complex; eigmax of a "
                "non-symmetric matrix needs a real one"
            )
        if int(torch.sum(torch.abs(w - lam) <= tol)) > 1:
            raise ValueError(
                "eigmax: the eigenvalue of largest real part is repeated: not differentiable there"
            )
    v = R[:, k].real.to(A.dtype)
    v = v / torch.linalg.norm(v)
    v = torch.where(v[torch.argmax(torch.abs(v))] < 0, -v, v)
    wl, L = torch.linalg.eig(A.T)
    u = L[:, torch.argmin(torch.abs(wl - lam))].real.to(A.dtype)
    return lam.real.to(A.dtype), (u / (u @ v)).reshape(-1, 1), v.reshape(-1, 1)
''',
    "_eigh": '''def _eigh(S):
    """Eigenvalues (ascending, a column) and orthonormal eigenvectors (columns) of the symmetric
    S; matdiff's sign convention: each eigenvector's largest-magnitude entry is positive."""
    w, V = torch.linalg.eigh(S)
    top = torch.gather(V, 0, torch.argmax(torch.abs(V), dim=0)[None, :])
    return w.reshape(-1, 1), V * torch.where(top < 0, -1.0, 1.0).to(V.dtype)
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
        small = torch.abs(x) < 1e-3
        xs = torch.where(small, 0.5 * torch.ones_like(x), x)
        return torch.where(small, 1 + c2 * x * x + c4 * x**4, exact(xs) / xs)

    def d1(x):
        return {
            "expm": torch.exp,
            "logm": lambda x: 1 / x,
            "sqrtm": lambda x: 0.5 / torch.sqrt(x),
            "sinm": torch.cos,
            "cosm": lambda x: -torch.sin(x),
        }[f](x)

    def d2(x):
        return {
            "expm": torch.exp,
            "logm": lambda x: -1 / x**2,
            "sqrtm": lambda x: -0.25 / torch.sqrt(x) ** 3,
            "sinm": lambda x: -torch.sin(x),
            "cosm": lambda x: -torch.cos(x),
        }[f](x)

    if f == "expm":
        F = torch.exp(m) * series(h, 1 / 6, 1 / 120, torch.sinh)
    elif f == "sinm":
        F = torch.cos(m) * series(h, -1 / 6, 1 / 120, torch.sin)
    elif f == "cosm":
        F = -torch.sin(m) * series(h, -1 / 6, 1 / 120, torch.sin)
    elif f == "logm":
        F = series(h / m, 1 / 3, 1 / 5, torch.atanh) / m
    else:
        F = 1 / (torch.sqrt(a) + torch.sqrt(b))
    if order == 0:
        return F
    scale = (
        torch.maximum(torch.abs(a), torch.abs(b))
        if f in ("logm", "sqrtm")
        else torch.ones_like(a)
    )
    close = torch.abs(a - b) <= 1e-4 * scale
    diff = torch.where(close, torch.ones_like(F), a - b)
    return torch.where(close, d2((2 * a + b) / 3) / 2, (d1(a) - F) / diff)
''',
    "_symfun": '''def _symfun(f, w, V):
    """f(S) = V diag(f(w)) V' for a symmetric S = V diag(w) V' (f one of expm, logm, sqrtm,
    sinm, cosm); logm and sqrtm need w > 0 (a positive definite S); outside torch.compile a ValueError says where not."""
    w = w.reshape(-1)
    if (
        f in ("logm", "sqrtm")
        and w.numel()
        and not torch.compiler.is_compiling()
        and not float(torch.min(w)) > 0
    ):
        raise ValueError(
            f"{f}(S): the symmetric S is not positive definite, where the principal "
            f"{f} is not a real matrix function"
        )
    fw = {
        "expm": torch.exp,
        "logm": torch.log,
        "sqrtm": torch.sqrt,
        "sinm": torch.sin,
        "cosm": torch.cos,
    }[f](w)
    return (V * fw[None, :]) @ V.T
''',
    "_eiggap": '''def _eiggap(w):
    """F[i, j] = 1/(w[j] - w[i]) off the diagonal, 0 on it. Outside torch.compile, raises at
    repeated eigenvalues (equal to rounding), where the derivative of the eigenvectors does not
    exist; under torch.compile (no value checks) those entries are inf."""
    w = w.reshape(-1)
    D = w[None, :] - w[:, None]
    off = ~torch.eye(w.shape[0], dtype=torch.bool, device=w.device)
    if not torch.compiler.is_compiling():
        tol = (
            64
            * torch.finfo(D.dtype).eps
            * max(1.0, float(torch.max(torch.abs(w))) if w.numel() else 1.0)
        )
        if bool(torch.any(torch.where(off, torch.abs(D), torch.inf) <= tol)):
            raise ValueError(
                "eigvecs: repeated eigenvalues (equal to rounding): this result is "
                "computed through the derivative of the eigenvectors, which does not "
                "exist there (a function of the eigenvalues alone may still be "
                "differentiable: the Hessian of tr(expm(S)) or tr(logm(S)) needs no "
                "eigenvector derivative)"
            )
    return torch.where(
        off, 1.0 / torch.where(off, D, torch.ones_like(D)), torch.zeros_like(D)
    )
''',
    "_lu": '''def _lu(A):
    """(L, U) of the unpivoted LU factorization A = L @ U (L unit lower, U upper triangular).
    Outside torch.compile, raises where a leading principal minor is zero (to rounding)."""
    n = A.shape[0]
    U = A.clone()
    L = torch.eye(n, dtype=A.dtype, device=A.device)
    check = not torch.compiler.is_compiling()
    tol = (
        64 * torch.finfo(A.dtype).eps * max(1.0, float(torch.max(torch.abs(A))))
        if check and n
        else 0.0
    )
    for k in range(n):
        if check and abs(float(U[k, k])) <= tol:
            raise ValueError(
                "luL/luU: a leading principal minor is zero (to rounding): the LU "
                "factorization without pivoting does not exist there"
            )
        col = U[k + 1 :, k] / U[k, k]
        L[k + 1 :, k] = col
        U[k + 1 :, :] = U[k + 1 :, :] - col[:, None] * U[k, :][None, :]
    return L, torch.triu(U)
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
    Q, R = torch.linalg.qr(A)
    s = torch.where(torch.diagonal(R) < 0, -1.0, 1.0).to(A.dtype)
    return Q * s, R * s[:, None]
''',
    "_chol_logdet": '''def _chol_logdet(C):
    """log det S = 2*sum(log(diag(C))), from the lower Cholesky factor C of the SPD S."""
    return 2.0 * torch.sum(torch.log(torch.diagonal(C)))
''',
    "_cho_solve": '''def _cho_solve(C, B):
    """inv(S) @ B from the lower Cholesky factor C of the SPD S = C @ C.T (triangular solves)."""
    if B.ndim == 1:
        return torch.cholesky_solve(B[:, None], C)[:, 0]
    return torch.cholesky_solve(B, C)
''',
    "_cho_inv": '''def _cho_inv(C):
    """inv(S) from the lower Cholesky factor C of the SPD S = C @ C.T."""
    return torch.cholesky_inverse(C)
''',
    "_eigtop": '''def _eigtop(S):
    """The largest eigenvalue of the symmetric S and its unit eigenvector (a column), signed as
    _eigh signs eigenvectors: its largest-magnitude entry positive."""
    w, V = torch.linalg.eigh(S)
    v = V[:, -1]
    v = torch.where(v[torch.argmax(torch.abs(v))] < 0, -v, v)
    return w[-1], v.reshape(-1, 1)
''',
    "_eigbot": '''def _eigbot(S):
    """The smallest eigenvalue of the symmetric S and its unit eigenvector (a column), signed as
    _eigh signs eigenvectors: its largest-magnitude entry positive."""
    w, V = torch.linalg.eigh(S)
    v = V[:, 0]
    v = torch.where(v[torch.argmax(torch.abs(v))] < 0, -v, v)
    return w[0], v.reshape(-1, 1)
''',
    "_tril_half": '''def _tril_half(M):
    """The lower triangle of M with its diagonal halved."""
    W = torch.tril(torch.ones(M.shape, dtype=M.dtype, device=M.device))
    return (W - 0.5 * torch.eye(*M.shape, dtype=M.dtype, device=M.device)) * M
''',
    "_max_shift": '''def _max_shift(z, w=None):
    """The shift m for exp(z - m) in log-sum-exp and softmax: the largest entry of z (where
    w != 0, unless that leaves some exp(z - m) above e^700); 0 when that is not finite.
    Any m gives the same value, so no gradient flows through it."""
    m = torch.amax(z)
    if w is not None:
        m = torch.maximum(torch.amax(torch.where(w != 0, z, -torch.inf)), m - 700.0)
    return torch.where(torch.isfinite(m), m, torch.zeros_like(m)).detach()
''',
    "_softplus": '''def _softplus(z):
    """log(1 + exp(z)) without overflow, to full precision (torch's softplus has a threshold)."""
    return torch.logaddexp(z, torch.zeros_like(z))
''',
    "_kronadj1": '''def _kronadj1(C, B):
    """Adjoint of M -> kron(M, B): sum_kl B[k, l] * C[i*p + k, j*q + l]."""
    p, q = B.shape
    return torch.einsum(
        "ikjl,kl->ij", C.reshape(C.shape[0] // p, p, C.shape[1] // q, q), B
    )
''',
    "_kronadj2": '''def _kronadj2(A, C):
    """Adjoint of M -> kron(A, M): sum_ij A[i, j] * C[i*p + k, j*q + l]."""
    m, n = A.shape
    return torch.einsum(
        "ij,ikjl->kl", A, C.reshape(m, C.shape[0] // m, n, C.shape[1] // n)
    )
''',
    "_commutation": '''def _commutation(m, n, dtype, device):
    """The mn x mn commutation matrix K with K @ vec(A) = vec(A.T) for A of shape (m, n)."""
    K = torch.zeros((m * n, m * n), dtype=dtype, device=device)
    i, j = torch.meshgrid(
        torch.arange(m, device=device), torch.arange(n, device=device), indexing="ij"
    )
    K[(i * n + j).reshape(-1), (j * m + i).reshape(-1)] = 1.0
    return K
''',
    "_kron": '''def _kron(A, B):
    """The Kronecker product (torch.kron needs contiguous operands: A.T would fail)."""
    return torch.kron(A.contiguous(), B.contiguous())
''',
    "_kron_matmul": '''def _kron_matmul(A, B, M):
    """kron(A, B) @ M without forming the Kronecker product."""
    M3 = M.reshape(A.shape[1], B.shape[1], M.shape[1])
    return torch.einsum("ij,kl,jlc->ikc", A, B, M3).reshape(-1, M.shape[1])
''',
    "_commute_rows": '''def _commute_rows(m, n, M):
    """K(m, n) @ M without forming the commutation matrix (K vec(A) = vec(A.T), A m x n)."""
    return M.reshape(n, m, M.shape[1]).permute(1, 0, 2).reshape(m * n, M.shape[1])
''',
    "_expm_frechet": '''def _expm_frechet(A, E):
    """The Frechet derivative of expm at A in the direction E: the top-right block of
    matrix_exp([A, E; 0, A])."""
    n = A.shape[0]
    Z = torch.zeros_like(A)
    return torch.linalg.matrix_exp(
        torch.cat([torch.cat([A, E], 1), torch.cat([Z, A], 1)], 0)
    )[:n, n:]
''',
    "_expm_jacobian": '''def _expm_jacobian(A):
    """J with vec(Dexpm(A, E)) = J @ vec(E) (column-major vec): the Frechet derivative of
    expm at A (top-right block of matrix_exp([A, E; 0, A])) applied to each basis matrix."""
    n = A.shape[0]
    Z = torch.zeros_like(A)
    eye = torch.eye(n * n, dtype=A.dtype, device=A.device)
    cols = []
    for k in range(n * n):
        E = eye[k].reshape(n, n).T
        D = torch.linalg.matrix_exp(
            torch.cat([torch.cat([A, E], 1), torch.cat([Z, A], 1)], 0)
        )[:n, n:]
        cols.append(D.T.reshape(-1))
    return torch.stack(cols, 1)
''',
}

_NEW = "dtype=_dt, device=_dev"


def _vdot(p, parts, raw, attrs):
    return f"{p.alias['torch']}.dot({p.atom(raw[0])}.reshape(-1), {p.atom(raw[1])}.reshape(-1))"


def _full(p, parts, raw, attrs):
    return f"({p.atom(raw[0])} * {p.alias['torch']}.ones(({attrs[0]}, {attrs[1]}), {_NEW}))"


class TorchPrinter(Printer):
    target = "torch"
    aliases = {"torch": "torch"}
    xp = "torch"
    in_place = False
    jit_safe = True
    copy_suffix = ".clone()"
    input_note = ("Floating tensors keep their dtype and device, other inputs become float64 tensors;\n"
                  "    complex input raises TypeError.")
    helpers = _HELPERS
    templates = {**ARRAY_TEMPLATES,  # where PyTorch differs from the common spelling
                 "f64": "{xp}.tensor({0}, " + _NEW + ")",
                 "eye": "{xp}.eye({a0}, " + _NEW + ")",
                 "ones": "{xp}.ones(({a0}, {a1}), " + _NEW + ")",
                 "zeros": "{xp}.zeros(({a0}, {a1}), " + _NEW + ")",
                 "full": _full,
                 "commutation": "_commutation({a0}, {a1}, _dt, _dev)",
                 "softplus": "_softplus({0})",
                 "sum_axis": "{xp}.sum({0}, dim={a0}, keepdim=True)",
                 "vdot": _vdot,
                 "vec": "{0}.T.reshape(-1, 1)",
                 "unvec": "{0}.reshape({a1}, {a0}).T",
                 "kron": "_kron({0}, {1})",
                 "block": "_block({a0}, _dt, _dev, {args})"}

    def elementwise(self, name, arg):
        """As every back-end's, but a number argument (``sqrt(2)``, the ``arccos(-1)`` in erf's
        derivative) becomes a 0-d float64 tensor first: torch functions take no Python float,
        and a 0-d tensor does not change the dtype of the arrays it meets."""
        code, prec = arg
        try:
            float(code.strip("()"))
        except ValueError:
            return super().elementwise(name, arg)
        t = self.alias["torch"]
        return super().elementwise(name, (f"{t}.as_tensor({code}, dtype={t}.float64)", prec))

    def convert(self, name, p):
        self.used_helpers.add("_real")
        return [f'{p} = _real({p}, "{name}")']

    def scalar_lines(self, name, p):
        return [f"if {p}.numel() != 1:",
                f"    raise ValueError(f\"{name}: expected a scalar, got an array of shape {{{p}.shape}}\")",
                f"{p} = {p}.reshape(())"]

    def prologue(self, first, body):
        if "_dt" in body or "_dev" in body:
            return [f"_dt, _dev = {first}.dtype, {first}.device"]
        return []

    def scalar_out(self, code, prec, literal, node):
        if node.op == "num":
            return f"{self.alias['torch']}.tensor({code}, {_NEW})"
        return f"{self.atom((code, prec))}.reshape(())"

    def block(self, rows, scalar):
        t = self.alias["torch"]
        cat = [f"{t}.cat([" + ", ".join(f"{c}.reshape(1, 1)" if s else c for c, s in zip(r, sr)) + "], dim=1)"
               for r, sr in zip(rows, scalar)]
        return f"{t}.cat([{', '.join(cat)}], dim=0)"


PRINTER = TorchPrinter
