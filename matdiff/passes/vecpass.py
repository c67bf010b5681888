"""Jacobians: one generic forward *vec pass* over the linear differential.

Given ``dF`` linear in the ``dX`` leaves, find for each variable ``X`` the matrix ``J``
with ``vec(dF) = J vec(dX)``: column-major ``vec``, numerator layout (``J`` has
``size(F)`` rows and ``size(X)`` columns). It is the dual of the transpose pass in
:mod:`matdiff.gradient`: there a cotangent is pulled back from the root to the leaves,
here a Jacobian block is pushed forward from the leaves (``J_dX = I``) to the root.
Each node linear in ``dX`` gets the block ``J_node`` (rows ``size(node)``, columns
``size(X)``) from its arguments' blocks with the identities

    vec(S*L*M*R)  = S kron(R', L) vec(M)        (Magnus & Neudecker, Ch. 2, Thm 2)
    vec(s*P)      = vec(P) s                    (s a scalar depending on dX)
    vec(M')       = K(m,n) vec(M)               (commutation matrix, M m x n)
    tr(M)         = vec(I)' vec(M)
    vec(A .* M)   = diag(vec(A)) vec(M)
    sum(M)        = ones' vec(M)
    vec(diag(v))  = diag(vec(I)) kron(ones, I) v ;  diag(M) = kron(ones', I) diag(vec(I)) vec(M)
    vec(kron(A, B)) = (I_n (x) K(q,m) (x) I_p) (vec(A) (x) vec(B))   (A m x n, B p x q;
                                                 Magnus & Neudecker, Ch. 3, Thm 10)
    vec(s*ones)   = ones s

**Where the rules live:** in :data:`VEC_RULES` here, keyed by op name (not in the
:mod:`matdiff.ops` registry), so that this pass is one self-contained module; a test
checks that every op with a transpose rule in the registry has a vec rule here. A rule
``rule(node, i, J)`` returns the contribution of argument ``i`` (whose block is ``J``)
to the node's block; blocks of a sum of contributions are added.

The blocks are simplified with :func:`matdiff.simplify.simplify`, whose Kronecker rules
(``kron(A,B)*kron(C,D) -> kron(A*C, B*D)``, ``vec(I)'*kron(B',A) -> vec(A'*B')'``) and the
canonicalizing constructors (``kron(I,I) = I``, ``diag(vec(ones)) = I``) give Cookbook forms:
``A*X*B`` by ``X`` is ``kron(B', A)``, ``exp(x)`` by ``x`` is ``diag(exp(x))``.

>>> import matdiff
>>> str(matdiff.derive("A*X*B", wrt="X").jacobian)
"kron(B', A)"
"""

from __future__ import annotations

from collections.abc import Callable

from ..core import expr as E
from ..core.expr import Expr
from ..core.shapes import dim_mul
from .simplify import simplify


def size(e: Expr):
    """Number of entries of e (a dimension): the length of vec(e)."""
    return dim_mul(e.rows, e.cols)


# ---------------------------------------------------------------------------- vec rules


def _vec_mul(n: Expr, i: int, J: Expr) -> Expr:
    target = n.args[i]
    rest = n.args[:i] + n.args[i + 1:]
    if target.is_scalar:
        # vec(P s) = vec(P) s  for a scalar s depending on dX (P the other factors)
        P = E.mul(*rest) if rest else E.ONE
        return E.mul(E.vec(P), J)
    # vec(S L M R) = S kron(R', L) vec(M); kron(R', I) without L, kron(I, L) without R
    scal = [a for a in n.args if a.is_scalar]
    chain = [a for a in n.args if not a.is_scalar]
    k = i - len(scal)  # canonical products keep scalar factors first
    left, right = chain[:k], chain[k + 1:]
    L = E.mul(*left) if left else E.eye(target.rows)
    R = E.mul(*right) if right else E.eye(target.cols)
    return E.mul(*scal, E.kron(E.transpose(R), L), J)


def _vec_transpose(n: Expr, i: int, J: Expr) -> Expr:
    # vec(M') = K(m,n) vec(M)  for M m x n
    M = n.args[0]
    return E.mul(E.commutation(M.rows, M.cols), J)


def _vec_trace(n: Expr, i: int, J: Expr) -> Expr:
    # tr(M) = vec(I)' vec(M)
    M = n.args[0]
    return E.mul(E.transpose(E.vec(E.eye(M.rows))), J)


def _vec_had(n: Expr, i: int, J: Expr) -> Expr:
    # vec(A .* M) = diag(vec(A)) vec(M)
    others = [a for j, a in enumerate(n.args) if j != i]
    return E.mul(E.diagm(E.vec(E.had(*others))), J)


def _vec_sum(n: Expr, i: int, J: Expr) -> Expr:
    # sum(M) = ones' vec(M)
    return E.mul(E.ones((1, size(n.args[0]))), J)


def _vec_identity(n: Expr, i: int, J: Expr) -> Expr:
    # vec(vec(M)) = vec(M) ;  vec(unvec(v)) = v
    return J


def _selection(k) -> Expr:
    """S with vec(diag(v)) = S v for v of length k: diag(vec(I)) kron(ones, I)."""
    return E.mul(E.diagm(E.vec(E.eye(k))), E.kron(E.ones((k, 1)), E.eye(k)))


def _vec_diagm(n: Expr, i: int, J: Expr) -> Expr:
    # vec(diag(v)) = diag(vec(I)) kron(ones, I) v     (v*ones' has columns v; keep its diagonal)
    return E.mul(_selection(n.rows), J)


def _vec_diagv(n: Expr, i: int, J: Expr) -> Expr:
    # diag(M) = kron(ones', I) diag(vec(I)) vec(M)    (the transpose of the selection above)
    k = n.rows
    return E.mul(E.kron(E.ones((1, k)), E.eye(k)), E.diagm(E.vec(E.eye(k))), J)


def _kron_perm(A_shape, B_shape) -> Expr:
    """P with vec(kron(A, B)) = P (vec(A) (x) vec(B)): I_n (x) K(q,m) (x) I_p."""
    (m, nn), (p, q) = A_shape, B_shape
    return E.kron(E.kron(E.eye(nn), E.commutation(q, m)), E.eye(p))


def _kron_block(A_shape, B: Expr | None, A: Expr | None) -> Expr:
    """The Jacobian of M -> vec(kron(M, B)) (A None) or of M -> vec(kron(A, M)) (B None)."""
    if A is None:  # vec(kron(dA, B)) = P (I_mn (x) vec(B)) vec(dA)
        return E.mul(_kron_perm(A_shape, B.shape), E.kron(E.eye(dim_mul(*A_shape)), E.vec(B)))
    # vec(kron(A, dB)) = P (vec(A) (x) I_pq) vec(dB)
    return E.mul(_kron_perm(A.shape, A_shape), E.kron(E.vec(A), E.eye(dim_mul(*A_shape))))


def _vec_kron(n: Expr, i: int, J: Expr) -> Expr:
    A, B = n.args
    if i == 0:
        return E.mul(_kron_block(A.shape, B, None), J)
    return E.mul(_kron_block(B.shape, None, A), J)


def _vec_kronadj1(n: Expr, i: int, J: Expr) -> Expr:
    C, B = n.args
    if i == 0:
        # kronadj1(., B) is the adjoint of M -> kron(M, B): its Jacobian is that one's transpose
        return E.mul(E.transpose(_kron_block(n.shape, B, None)), J)
    # by B: vec(kronadj1(C, B)) = (I_mn (x) vec(B))' P' vec(C) = unvec(P' vec(C), pq)' vec(B)
    # (<kronadj1(C, B), M> = vec(C)' P (vec(M) (x) vec(B)), M m x n, B p x q)
    Y = E.unvec(E.mul(E.transpose(_kron_perm(n.shape, B.shape)), E.vec(C)), size(B), size(n))
    return E.mul(E.transpose(Y), J)


def _vec_kronadj2(n: Expr, i: int, J: Expr) -> Expr:
    A, C = n.args
    if i == 1:
        # kronadj2(A, .) is the adjoint of M -> kron(A, M): its Jacobian is that one's transpose
        return E.mul(E.transpose(_kron_block(n.shape, None, A)), J)
    # by A: vec(kronadj2(A, C)) = (vec(A) (x) I_pq)' P' vec(C) = unvec(P' vec(C), pq) vec(A)
    # (<kronadj2(A, C), M> = vec(C)' P (vec(A) (x) vec(M)), A m x n, M p x q)
    Y = E.unvec(E.mul(E.transpose(_kron_perm(A.shape, n.shape)), E.vec(C)), size(n), size(A))
    return E.mul(Y, J)


def _vec_bcast(n: Expr, i: int, J: Expr) -> Expr:
    # vec(s * ones) = ones s
    return E.mul(E.ones((size(n), 1)), J)


VEC_RULES: dict[str, Callable] = {
    "add": lambda n, i, J: J,  # vec(A + B) = vec(A) + vec(B)
    "mul": _vec_mul,
    "transpose": _vec_transpose,
    "trace": _vec_trace,
    "had": _vec_had,
    "sum": _vec_sum,
    "vec": _vec_identity,
    "unvec": _vec_identity,
    "diagm": _vec_diagm,
    "diagv": _vec_diagv,
    "kron": _vec_kron,
    "kronadj1": _vec_kronadj1,
    "kronadj2": _vec_kronadj2,
    "bcast": _vec_bcast,
}


# ---------------------------------------------------------------------------- the pass


def jacobians(L: Expr, names, shapes: dict | None = None, simplified: bool = True) -> dict:
    """``{name: J}`` with ``vec(L) = sum_name J[name] vec(d name)`` for ``L`` linear in the
    ``dvar`` leaves. ``shapes`` (name -> shape) gives zero blocks the right size for names
    ``L`` does not depend on (without it they are None).
    """
    names = list(names)
    blocks: dict = {}  # node -> {name: J}
    for node in L.walk():
        if node.op == "dvar":
            name = node.attr[0]
            blocks[node] = {name: E.eye(size(node))} if name in names else {}
            continue
        deps = [(i, a) for i, a in enumerate(node.args) if blocks.get(a)]
        if not deps:
            continue
        rule = VEC_RULES.get(node.op)
        if rule is None:
            raise AssertionError(f"internal: {node.op} is not linear in its argument ({node})")
        acc: dict = {}
        for i, a in deps:
            for name, J in blocks[a].items():
                acc.setdefault(name, []).append(rule(node, i, J))
        blocks[node] = {name: (parts[0] if len(parts) == 1 else E.add(*parts))
                        for name, parts in acc.items()}
    root = blocks.get(L, {})
    out = {}
    for name in names:
        J = root.get(name)
        if J is None:
            if shapes is None:
                out[name] = None
                continue
            J = E.zero((size(L), dim_mul(*shapes[name])))
        out[name] = simplify(J) if simplified else J
    return out


def jacobian_of_gradient(G: Expr) -> Expr:
    """The Jacobian (a row) of a scalar f whose gradient is G: vec(G)'."""
    return simplify(E.transpose(E.vec(G)))
