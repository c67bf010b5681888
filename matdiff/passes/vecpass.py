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

**Where the rules live:** in each op's declaration (``OPS[op].vec``, :mod:`matdiff.ops`);
a test checks that every op with a transpose rule has a vec rule. A rule
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

from ..core import expr as E
from ..core.expr import Expr
from ..core.shapes import dim_mul
from ..ops.base import Rule
from ..ops.registry import OPS
from .simplify import simplify
from .trace import current


def size(e: Expr):
    """Number of entries of e (a dimension): the length of vec(e)."""
    return dim_mul(e.rows, e.cols)


# the vec rules are part of each op's declaration (OpDef.vec); this view keys them by op name
VEC_RULES: dict[str, Rule] = {name: od.vec for name, od in OPS.items() if od.vec is not None}


# ---------------------------------------------------------------------------- the pass


def jacobians(L: Expr, names, shapes: dict | None = None, simplified: bool = True) -> dict:
    """``{name: J}`` with ``vec(L) = sum_name J[name] vec(d name)`` for ``L`` linear in the
    ``dvar`` leaves. ``shapes`` (name -> shape) gives zero blocks the right size for names
    ``L`` does not depend on (without it they are None).
    """
    names = list(names)
    blocks: dict = {}  # node -> {name: J}
    tracer = current()
    for node in L.walk():
        if node.op == "dvar":
            name = node.attr[0]
            blocks[node] = {name: E.eye(size(node))} if name in names else {}
            continue
        deps = [(i, a) for i, a in enumerate(node.args) if blocks.get(a)]
        if not deps:
            continue
        rule = OPS[node.op].vec
        if rule is None:
            raise AssertionError(f"internal: {node.op} is not linear in its argument ({node})")
        acc: dict = {}
        for i, a in deps:
            for name, J in blocks[a].items():
                block = rule(node, i, J)
                acc.setdefault(name, []).append(block)
                if tracer is not None:
                    tracer.step(rule, node, block, ("vec", name, i), block_in=J)
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
