"""Residuals of a low-rank product, evaluated through Gram matrices.

A residual R = X + c*P*Q, with P (m x k) and Q (k x n) a product of small inner size k, is
what matrix factorization losses differentiate: ``norm2(X - U*V')^2`` has the value
||R||^2 and the gradients -2*R*V and -2*R'*U. Formed as written, R costs one m x n x k
product and each of R*Q' and P'*R another. When every use of R is one of

    ||R||^2   (``norm2(R)^2``, ``tr(R'*R)``, ``tr(R*R')``, ``sum(R.^2)``),
    R*Q'      (R followed by Q' in a product; also Q*R', its transpose),
    P'*R      (P' followed by R; also R'*P),

none needs R itself:

    R*Q'   = X*Q' + c*P*(Q*Q')
    P'*R   = P'*X + c*(P'*P)*Q
    ||R||^2 = ||X||^2 + 2c<P, X*Q'> + c^2 <P'*P, Q*Q'>     (<A, B> = sum of A .* B)

and the value and both gradients take one m x n x k product each (X*Q' or P'*X) plus
products of size k^2 (m + n), about half the work and none of the m x n temporaries.

The expansion is exact in exact arithmetic, but the value cancels: its rounding error is
bounded by a multiple of eps * S, S = ||X||^2 + 2|c <P, X*Q'>| + c^2 <P'*P, Q*Q'>, where the
direct sum of squares has eps * ||R||^2. The generated helper (``_lowrank`` in the NumPy
back-end) therefore uses it only when S <= 64 ||R||^2 (the value then carries at most 64
times, and the gradients at most 8 times, the error bound of the direct formula), and when
its sizes make it cheaper; otherwise it forms R, as the direct formula does. A close fit
(||R|| small against ||X||) takes the direct path.

This module only finds the residuals and the expressions to lower in place of their uses;
:mod:`.lower` lowers them (for back-ends whose printer sets ``lowrank``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core import expr as E
from ..core.expr import Expr


@dataclass
class Residual:
    """R = X + coef * P * Q and the replacements of its uses."""

    R: Expr
    X: Expr
    coef: Expr  # a scalar expression (a constant, or constants times scalar factors)
    P: Expr
    Q: Expr
    value: Expr  # the leaf standing for ||R||^2
    rq: Expr  # the leaf standing for R*Q' (m x k)
    pr: Expr  # the leaf standing for P'*R (k x n)
    uses: set = field(default_factory=set)  # which of "value", "rq", "pr" occur
    subs: dict = field(default_factory=dict)  # node -> expression to lower in its place


def _parts(R: Expr):
    """(X, coef, P, Q) when R is a sum with exactly one term c*P*Q, P and Q plain matrices
    (no diag, ones, Kronecker or inverse factors, which lower their own ways), else None."""
    if R.op != "add" or R.is_scalar or R.rows == 1 or R.cols == 1:
        return None
    found = None
    for i, t in enumerate(R.args):
        if t.op != "mul":
            continue
        c, scal, chain = E.factors(t)
        if len(chain) != 2 or any(f.op in ("diagm", "ones", "kron", "K", "inv") or (
                f.op == "transpose" and f.args[0].op == "inv") for f in chain):
            continue
        if chain[0].cols == 1:  # an outer product u*v': rank one is not worth the helper
            continue
        if found is not None:
            return None  # two low-rank terms: which one to expand is not clear
        found = (i, E.mul(E.const(c), *scal), chain[0], chain[1])
    if found is None:
        return None
    i, coef, P, Q = found
    rest = R.args[:i] + R.args[i + 1:]
    X = rest[0] if len(rest) == 1 else E.add(*rest)
    return X, coef, P, Q


def find(nodes, roots) -> list[Residual]:
    """The residuals among ``nodes`` (the DAG of ``roots``) whose every use is one of the
    three above, each with its replacements."""
    parents: dict = {}
    for n in nodes:
        for a in set(n.args):
            parents.setdefault(a, []).append(n)
    rootset = set(roots)
    found = []
    for R in nodes:
        parts = _parts(R)
        if parts is None or R in rootset:
            continue
        X, coef, P, Q = parts
        i = len(found)
        res = Residual(R, X, coef, P, Q,
                       value=E.var(f"lowrank~value{i}", E.SCALAR),
                       rq=E.var(f"lowrank~RQt{i}", (R.rows, Q.rows)),
                       pr=E.var(f"lowrank~PtR{i}", (P.cols, R.cols)))
        if _uses(res, parents, rootset):
            found.append(res)
    return found


def _uses(res: Residual, parents, rootset) -> bool:
    """Fill res.subs and res.uses; False when some use of R needs R itself."""
    R = res.R
    Rt = E.transpose(R)
    Qt, Pt = E.transpose(res.Q), E.transpose(res.P)
    for p in parents.get(R, ()):
        if p.op == "norm2":  # norm2(R), used only squared
            ups = parents.get(p, ())
            if p in rootset or not ups or any(
                    u.op != "pow" or u.args[1].op != "const" or u.args[1].attr != 2 for u in ups):
                return False
            for u in ups:
                res.subs[u] = res.value
            res.uses.add("value")
        elif p.op == "hpow":  # R.^2, used only summed
            ups = parents.get(p, ())
            if (p.args[0] is not R or p.args[1].op != "const" or p.args[1].attr != 2
                    or p in rootset or not ups or any(u.op != "sum" for u in ups)):
                return False
            for u in ups:
                res.subs[u] = res.value
            res.uses.add("value")
        elif p.op == "transpose":
            for q in parents.get(p, ()):
                if q.op != "mul" or not _chain_use(res, q, parents, rootset, R, Rt, Pt, Qt):
                    return False
            if p in rootset or not parents.get(p):
                return False
        elif p.op == "mul":
            if not _chain_use(res, p, parents, rootset, R, Rt, Pt, Qt):
                return False
        else:
            return False
    return bool(res.uses)


def _chain_use(res, p, parents, rootset, R, Rt, Pt, Qt) -> bool:
    """A product p with R or R' among its factors: record its rewrite, or False."""
    if p in res.subs:
        return True
    c, scal, chain = E.factors(p)
    if len(chain) == 2 and set(chain) == {R, Rt} and not scal and p not in rootset:
        # R'*R or R*R' (a Gram matrix of R): its trace is ||R||^2, nothing else is expanded
        ups = parents.get(p, ())
        if not ups or any(u.op != "trace" for u in ups):
            return False
        for u in ups:
            res.subs[u] = E.mul(E.const(c), res.value)
        res.uses.add("value")
        return True
    out = []
    j = 0
    while j < len(chain):
        f = chain[j]
        nxt = chain[j + 1] if j + 1 < len(chain) else None
        if f == R and nxt == Qt:
            out.append(res.rq)
            res.uses.add("rq")
        elif f == Pt and nxt == R:
            out.append(res.pr)
            res.uses.add("pr")
        elif f == Rt and nxt == res.P:  # R'*P = (P'*R)'
            out.append(E.transpose(res.pr))
            res.uses.add("pr")
        elif f == res.Q and nxt == Rt:  # Q*R' = (R*Q')'
            out.append(E.transpose(res.rq))
            res.uses.add("rq")
        elif f in (R, Rt):
            return False
        else:
            out.append(f)
            j += 1
            continue
        j += 2
    res.subs[p] = E.mul(E.const(c), *scal, *out)
    return True
