"""Simplification: oriented, guarded rewrite rules toward Matrix-Cookbook forms.

The constructors in :mod:`matdiff.expr` already keep every node in a light canonical
form (flattened, constants folded, like terms collected). The rules here go further,
each in one direction only, so rewriting terminates:

* transposes are pushed through products: ``(A*B)' -> B'*A'`` (not into sums: ``(A*x - b)'``
  stays one recognisable, shareable term);
  a symmetric expression loses its transpose (``S' -> S``, ``inv(S)' -> inv(S)``);
* a trace whose argument can be rotated into a scalar product is removed
  (``tr(A*x*y') -> y'*A*x``); the trace of a Kronecker product is ``tr(A)*tr(B)`` only for
  square A and B (``w'*u`` for ``tr(kron(u, w'))``, unchanged for other shapes);
* sums are factored on a common left or right factor (``A*x + A'*x -> (A + A')*x``).

Rules are data: ``RULES[op]`` is a list of :class:`~matdiff.ops.base.Rule` (``node -> Expr |
None``, None: no match), each stating its identity as text and LaTeX with a citation; while
a tracer is installed (:mod:`matdiff.passes.trace`) each rewrite is reported. Every rule is checked
numerically in the tests (``tests/test_simplify.py``).
"""

from __future__ import annotations

import re
from collections import defaultdict

from ..core import expr as E
from ..core.expr import Expr
from ..core.facts import facts as _facts
from ..ops.base import rule
from .trace import current, tracing

# ---------------------------------------------------------------------------- symmetry


def is_symmetric(e: Expr) -> bool:
    """Symmetric for all inputs (square and equal to its transpose): read from the facts
    layer (:mod:`matdiff.core.facts`)."""
    return _facts(e).symmetric


def _transposed(t: Expr) -> Expr:
    """t' with the transpose pushed through a product (s*A*B)' = s*B'*A'."""
    if t.op == "mul":
        c, s, ch = E.factors(t)
        return E.mul(E.const(c), *s, *[E.transpose(f) for f in reversed(ch)])
    return E.transpose(t)


# ---------------------------------------------------------------------------- rules


@rule('simplify.transpose-symmetric', "S' = S (S symmetric)",
      'S^T = S \\quad (S = S^T)', 'definition')
def _t_symmetric(n):
    # S' -> S  when S is symmetric
    return n.args[0] if is_symmetric(n.args[0]) else None


@rule('simplify.transpose-product', "(s*A*B)' = s*B'*A'",
      '(sAB)^T = s B^T A^T', 'definition of the transpose')
def _t_mul(n):
    # (s * A * B)' -> s * B' * A'
    a = n.args[0]
    if a.op != "mul":
        return None
    c, s, ch = E.factors(a)
    return E.mul(E.const(c), *s, *E.transposes(reversed(ch)))


@rule('simplify.transpose-kron', "kron(A, B)' = kron(A', B')",
      '(A \\otimes B)^T = A^T \\otimes B^T', 'Matrix Cookbook (510)')
def _t_kron(n):
    # kron(A, B)' -> kron(A', B')
    a = n.args[0]
    return E.kron(E.transpose(a.args[0]), E.transpose(a.args[1])) if a.op == "kron" else None


@rule('simplify.trace-rotate', "tr(A*x*y'*B) = y'*B*A*x",
      '\\operatorname{tr}(A x y^T B) = y^T B A x', 'Matrix Cookbook (16): cyclic trace')
def _tr_rotate(n):
    # tr(A*x*y'*B) -> y'*B*A*x   (cyclic: rotate so the product is a scalar)
    a = n.args[0]
    if a.op != "mul":
        return None
    c, s, ch = E.factors(a)
    if len(ch) < 2:
        return None
    for j, f in enumerate(ch):
        if f.rows == 1:  # start at a row vector: the rotated product is 1x1
            return E.mul(E.const(c), *s, *ch[j:], *ch[:j])
        if f.cols == 1:  # end at a column vector
            return E.mul(E.const(c), *s, *ch[j + 1:], *ch[:j + 1])
    return None


@rule('simplify.trace-transposes', "tr(A'*B') = tr(B*A)",
      '\\operatorname{tr}(A^T B^T) = \\operatorname{tr}(B A)', 'Matrix Cookbook (5), (13)')
def _tr_sym_transposes(n):
    # tr(A'*B') -> tr(B*A)   (tr(M') = tr(M)) when every factor is transposed
    a = n.args[0]
    if a.op != "mul":
        return None
    c, s, ch = E.factors(a)
    if len(ch) >= 2 and all(f.op == "transpose" for f in ch):
        return E.mul(E.const(c), *s, E.trace(E.mul(*[f.args[0] for f in reversed(ch)])))
    return None


@rule('simplify.trace-kron', "tr(kron(A, B)) = tr(A)*tr(B) (A, B square); tr(kron(u, w')) = w'*u; tr(kron(u', w)) = u'*w",
      '\\operatorname{tr}(A \\otimes B) = \\operatorname{tr}A \\operatorname{tr}B', 'Matrix Cookbook (515); index sums for the vector cases')
def _tr_kron(n):
    # tr(kron(A, B)) -> tr(A)*tr(B) for square A, B;  tr(kron(u, w')) -> w'*u;
    # tr(kron(u', w)) -> u'*w;  no rewrite for other shapes (tr(A)*tr(B) would be wrong there)
    a = n.args[0]
    return E.trace_of_kron(*a.args) if a.op == "kron" else None


@rule('simplify.trace-frechet', "tr(Df(A, E)) = tr(f'(A)*E) (f = expm, logm, sqrtm, sinm, cosm; "
      "f' = expm, inv, inv(sqrtm)/2, cosm, -sinm)",
      "\\operatorname{tr} L_f(A, E) = \\operatorname{tr}(f'(A) E)",
      "Higham, Functions of Matrices (2008), sec. 3.1: the trace is cyclic in each term "
      "A^i E A^(k-1-i) of the power series")
def _tr_frechet(n):
    # tr(Dexpm(A, E)) -> tr(expm(A)*E)
    from ..ops.matfun import FUNCTIONS, derivative_function

    a = n.args[0]
    if not (a.op[:1] == "D" and a.op[1:] in FUNCTIONS):
        return None
    A, M = a.args
    return E.trace(E.mul(derivative_function(a.op[1:], A), M))


@rule('simplify.trace-daleckii-krein', "tr(V*(Ff(w) .* (V'*E*V))*V') = tr(f'(S)*E) (w = eigvals(S), "
      "V = eigvecs(S), f = expm, logm, sqrtm, sinm, cosm)",
      "\\operatorname{tr}\\left(V (F \\circ V^T E V) V^T\\right) = \\operatorname{tr}(f'(S) E)",
      "V orthogonal and diag(F) = f'(w): the sum of f'(w_i) (V^T E V)_ii")
def _tr_daleckii_krein(n):
    # tr(eigvecs(S)*(Fexpm(eigvals(S)) .* (eigvecs(S)'*E*eigvecs(S)))*eigvecs(S)') -> tr(expm(S)*E)
    from ..ops.eigen import eigvals, eigvecs
    from ..ops.matfun import FUNCTIONS, derivative_function

    a = n.args[0]
    if a.op != "mul":
        return None
    c, s, ch = E.factors(a)
    if len(ch) != 3 or ch[0].op != "proj" or ch[0].args[0].op != "eigh" or ch[1].op != "had":
        return None
    S = ch[0].args[0].args[0]
    V = eigvecs(S)
    if ch[0] is not V or ch[2] is not E.transpose(V) or len(ch[1].args) != 2:
        return None
    F, X = ch[1].args if ch[1].args[0].op[1:] in FUNCTIONS else reversed(ch[1].args)
    if not (F.op[:1] == "F" and F.op[1:] in FUNCTIONS and F.args[0] is eigvals(S)) or X.op != "mul":
        return None
    c2, s2, ch2 = E.factors(X)
    if len(ch2) < 3 or ch2[0] is not E.transpose(V) or ch2[-1] is not V:
        return None
    return E.mul(E.const(c * c2), *s, *s2, E.trace(E.mul(derivative_function(F.op[1:], S), *ch2[1:-1])))


@rule('simplify.daleckii-krein-identity', "V*(Ff(w) .* (V'*V))*V' = f'(S) (w = eigvals(S), V = eigvecs(S))",
      "V (F \\circ I) V^T = V \\operatorname{diag}(f'(w)) V^T = f'(S)",
      "V orthogonal and diag(F) = f'(w): the Daleckii-Krein form in the direction I")
def _mul_daleckii_krein_identity(n):
    # eigvecs(S)*((eigvecs(S)'*eigvecs(S)) .* Fexpm(eigvals(S)))*eigvecs(S)' -> expm(S)
    if "proj" not in E.argops(n) or not n.has_op("eigh"):  # (memoized: no scan of products
        return None  # without an eigenvector factor)
    from ..ops.eigen import eigvals, eigvecs
    from ..ops.matfun import FUNCTIONS, derivative_function

    c, s, ch = E.factors(n)
    for k in range(len(ch) - 2):
        V, H, Vt = ch[k:k + 3]
        if V.op != "proj" or V.args[0].op != "eigh" or H.op != "had" or len(H.args) != 2:
            continue
        S = V.args[0].args[0]
        if V is not eigvecs(S) or Vt is not E.transpose(V):
            continue
        F, X = H.args if H.args[0].op[1:] in FUNCTIONS else reversed(H.args)
        if not (F.op[:1] == "F" and F.op[1:] in FUNCTIONS and F.args[0] is eigvals(S)):
            continue
        if X.op == "eye" or (X.op == "mul" and len(X.args) == 2 and X.args[0] is Vt and X.args[1] is V):
            return E.mul(E.const(c), *s, *ch[:k], derivative_function(F.op[1:], S), *ch[k + 3:])
    return None


def _split_term(t):
    c, s, ch = E.factors(t)
    return c, s, ch


@rule('simplify.factor', 'A*X + B*X = (A + B)*X ; X*A + X*B = X*(A + B)',
      'AX + BX = (A + B)X', 'distributivity')
def _factor(n):
    # A*X + B*X -> (A + B)*X ;  X*A + X*B -> X*(A + B)   (largest group first)
    terms = n.args
    # cheap pre-check (no new nodes): is any outer factor shared by two terms at all?
    seen: dict = {}
    shared = False
    for t in terms:
        ch = [a for a in t.args if not a.is_scalar] if t.op == "mul" else ([] if t.is_scalar else [t])
        for key in ((ch[-1], "r"), (ch[0], "l")) if ch else ():
            if key in seen:
                shared = True
            seen[key] = True
    if not shared:
        return None
    best = None
    for side in ("right", "left"):
        groups: dict = {}
        for idx, t in enumerate(terms):
            c, s, ch = _split_term(t)
            if not ch:
                continue
            f = ch[-1] if side == "right" else ch[0]
            rest_ch = ch[:-1] if side == "right" else ch[1:]
            rest = E.mul(E.const(c), *s, *rest_ch)
            groups.setdefault((f, rest.shape), []).append((idx, rest))
        for (f, _), members in groups.items():
            if len(members) >= 2 and (best is None or len(members) > len(best[2])):
                best = (side, f, members)
    if best is None:
        return None
    side, f, members = best
    idxs = {i for i, _ in members}
    rest_sum = E.add(*[r for _, r in members])
    grouped = E.mul(rest_sum, f) if side == "right" else E.mul(f, rest_sum)
    others = [t for i, t in enumerate(terms) if i not in idxs]
    return E.add(grouped, *others)


@rule('simplify.factor-identity', 'a*x + B*x = (a*I + B)*x ; x\'*a + x\'*B = x\'*(a*I + B) (x a vector, a scalar, B square; when shorter)',
      'ax + Bx = (aI + B)x', 'distributivity, x = Ix')
def _factor_identity(n):
    # a common outer vector factor x of terms whose other factors are a scalar in some terms and
    # a square matrix in others (simplify.factor groups only equal shapes): the scalar becomes a
    # multiple of I, 2*(x - P*x) - 2*P*(x - P*x) -> 2*(I - P)*(x - P*x); a common rational
    # factor of the group goes in front. Only when the printed result is strictly shorter
    # (x + A*x stays), and never where it hides a symmetry. Terminates: the sum loses terms.
    if n.is_scalar:
        return None
    for side in ("right", "left"):
        groups: dict = {}
        for idx, t in enumerate(n.args):
            c, s, ch = E.factors(t)
            if not ch:
                continue
            f = ch[-1] if side == "right" else ch[0]
            if (f.cols if side == "right" else f.rows) != 1:
                continue  # a matrix X: inv(X)' - inv(X)'*A'*inv(X)' reads better than (I - inv(X)'*A')*inv(X)'
            rest = E.mul(E.const(c), *s, *(ch[:-1] if side == "right" else ch[1:]))
            groups.setdefault(f, []).append((idx, rest))
        for f, members in groups.items():
            k = f.rows if side == "right" else f.cols
            scal = [r for _, r in members if r.is_scalar]
            square = [r for _, r in members if not r.is_scalar and r.shape == (k, k)]
            if not scal or not square:
                continue
            used = {i for i, r in members if r.is_scalar or r.shape == (k, k)}
            rests = [E.mul(r, E.eye(k)) for r in scal] + square
            q = _common_factor([E.split_coeff(r)[0] for r in rests])
            if all(E.split_coeff(r)[0] < 0 for r in rests):
                q = -q
            inner = E.scale(q, E.add(*[E.scale(1 / q, r) for r in rests]))
            grouped = E.mul(inner, f) if side == "right" else E.mul(f, inner)
            new = E.add(grouped, *[t for i, t in enumerate(n.args) if i not in used])
            # shorter, and not at the price of a symmetry the sum shows (inv(S) - inv(S)*C*inv(S)
            # stays: (I - inv(S)*C)*inv(S) is no longer seen to be symmetric)
            if len(str(new)) < len(str(n)) and (is_symmetric(new) or not is_symmetric(n)):
                return new
    return None


@rule('simplify.scalar-sum-orient', "V'*A*x + x'*B*V = x'*A'*V + x'*B*V (a scalar is its own transpose; when the terms then factor)",
      'V^T A x + x^T B V = x^T A^T V + x^T B V', 'definition')
def _add_scalar_orient(n):
    # a scalar product u'*...*v in a scalar sum is written as its transpose v'*...*u when that
    # gives it both outer factors of another term, so the sum factors:
    # V'*A*x + x'*A*V -> x'*(A + A')*V. Kept only when the simplified sum prints strictly shorter.
    if not n.is_scalar or len(n.args) < 2:
        return None
    ends = []
    for t in n.args:
        c, s, ch = E.factors(t)
        ends.append((ch[0], ch[-1]) if len(ch) >= 2 and ch[0].rows == 1 and ch[-1].cols == 1 else None)
    for i, t in enumerate(n.args):
        if ends[i] is None:
            continue
        c, s, ch = E.factors(t)
        flipped_ends = (E.transpose(ch[-1]), E.transpose(ch[0]))
        others = [e for j, e in enumerate(ends) if j != i]
        if ends[i] in others or flipped_ends not in others:
            continue
        flipped = E.mul(E.const(c), *s, *[E.transpose(f) for f in reversed(ch)])
        new = simplify(E.add(flipped, *[u for j, u in enumerate(n.args) if j != i]))
        if len(str(new)) < len(str(n)):
            return new
    return None


@rule('simplify.inv-transpose-cancel', "inv(A)'*A' = I ; A'*inv(A)' = I",
      '(A^{-1})^T A^T = I', 'definition')
def _mul_inv_transpose(n):
    # inv(A)'*A' -> I and A'*inv(A)' -> I (adjacent in a chain)
    if "transpose" not in E.argops(n) or not n.has_op("inv"):
        return None
    def pair(a, b):
        if a.op == "transpose" and b.op == "transpose":
            x, y = a.args[0], b.args[0]
            if (x.op == "inv" and x.args[0] is y) or (y.op == "inv" and y.args[0] is x):
                return []
        return None

    return _chain_window(n, pair)


def _chain_window(n, pair):
    """A rewrite of two adjacent factors in the matrix chain of the product ``n``: the first
    pair ``(a, b)`` for which ``pair(a, b)`` gives replacement factors (``[]``: the pair
    cancels to I) is replaced, scalars and coefficient kept; None when no pair matches."""
    c, s, ch = E.factors(n)
    for i in range(len(ch) - 1):
        new = pair(ch[i], ch[i + 1])
        if new is not None:
            rest = ch[:i] + list(new) + ch[i + 2:]
            return E.mul(E.const(c), *s, *(rest or [E.eye(ch[i].rows)]))
    return None


# ---------------------------------------------------------------------------- Kronecker (Jacobians)


@rule('simplify.kron-mixed-product', 'kron(A, B)*kron(C, D) = kron(A*C, B*D) (A*C, B*D defined)',
      '(A \\otimes B)(C \\otimes D) = AC \\otimes BD', 'Matrix Cookbook (511): mixed-product rule')
def _mul_kron_kron(n):
    # kron(A, B)*kron(C, D) -> kron(A*C, B*D)   (mixed-product property; A*C and B*D defined)
    if "kron" not in E.argops(n):
        return None
    def pair(a, b):
        if a.op == "kron" and b.op == "kron":
            (A, B), (C, D) = a.args, b.args
            if A.cols == C.rows and B.cols == D.rows:
                return [E.kron(E.mul(A, C), E.mul(B, D))]
        return None

    return _chain_window(n, pair)


@rule('simplify.commutation-kron', 'K(p,m)*kron(A, B) = kron(B, A)*K(q,n) (A m x n, B p x q); K(a,b)*K(b,a) = I',
      'K_{p,m}(A \\otimes B) = (B \\otimes A)K_{q,n}', 'Magnus & Neudecker (1979), Ann. Statist. 7(2)')
def _mul_commute_kron(n):
    # K(p,m)*kron(A, B) -> kron(B, A)*K(q,n)   (A m x n, B p x q); K(a,b)*K(b,a) -> I.
    # Commutation matrices move right, through Kronecker products, until they cancel or
    # meet something else.
    if "K" not in E.argops(n):
        return None
    def pair(a, b):
        if a.op != "K":
            return None
        p, m = a.attr
        if b.op == "kron":
            A, B = b.args
            if A.rows == m and B.rows == p:
                return [E.kron(B, A), E.commutation(B.cols, A.cols)]
        if b.op == "K" and b.attr == (m, p):
            return []
        return None

    return _chain_window(n, pair)


@rule('simplify.vec-eye-kron', "vec(I)'*kron(B', A) = vec(A'*B')'",
      '\\operatorname{vec}(I)^T (B^T \\otimes A) = \\operatorname{vec}(A^T B^T)^T', 'Matrix Cookbook (520), (521), (16)')
def _mul_vec_eye_kron(n):
    # vec(I)'*kron(B', A) -> vec(A'*B')'   (both are M -> tr(A*M*B) = <A'*B', M>)
    if "kron" not in E.argops(n):
        return None
    def pair(a, b):
        if (a.op == "transpose" and a.args[0].op == "vec" and a.args[0].args[0].op == "eye"
                and b.op == "kron"):
            P, Q = b.args
            I = a.args[0].args[0]
            if Q.rows == I.rows and P.rows == I.rows:
                return [E.transpose(E.vec(E.mul(E.transpose(Q), P)))]
        return None

    return _chain_window(n, pair)


@rule('simplify.scalar-orient', "dx'*A*x = x'*A'*dx (a scalar is its own transpose)",
      '\\mathrm{d}x^T A x = x^T A^T \\mathrm{d}x', 'definition')
def _mul_scalar_orient(n):
    # dx'*A*x -> x'*A'*dx   (a scalar equals its transpose; differentials read with d(.) last)
    if not n.is_scalar:
        return None
    c, s, ch = E.factors(n)
    if len(ch) < 2 or s:
        return None
    ds = [i for i, f in enumerate(ch) if _has_dvar(f)]
    # flip when the differential stands nearer the start than the end (idempotent)
    if not ds or not ds[0] < len(ch) - 1 - ds[-1]:
        return None
    return E.mul(E.const(c), *[E.transpose(f) for f in reversed(ch)])


def _has_dvar(e: Expr) -> bool:
    return e.op == "dvar" or (e.op == "transpose" and e.args[0].op == "dvar")


@rule('simplify.negated-sum', 'c*(-a - b)*M = -c*(a + b)*M',
      'c(-a - b)M = -c(a + b)M', 'distributivity')
def _mul_negated_sum(n):
    # c*(-a - b)*M -> -c*(a + b)*M ;  c*(-a - b)'*M -> -c*(a + b)'*M   (all terms negative)
    if "add" not in E.argops(n) and not ("transpose" in E.argops(n) and n.has_op("add")):
        return None
    for i, f in enumerate(n.args):
        g = f.args[0] if f.op == "transpose" else f
        if g.op == "add" and all(E.split_coeff(t)[0] < 0 for t in g.args):
            pos = E.add(*[E.neg(t) for t in g.args])
            args = list(n.args)
            args[i] = E.transpose(pos) if f.op == "transpose" else pos
            return E.mul(E.const(-1), *args)
    return None


@rule('simplify.sum-common-rational', 'M*(c*A + c*B)*N = c*M*(A + B)*N (c rational, common to every term)',
      'M(cA + cB)N = c\\,M(A + B)N', 'distributivity')
def _mul_sum_common_rational(n):
    # a sum inside a product whose terms share a rational factor gives it to the product:
    # (3*A + 3*A')*x -> 3*(A + A')*x, as the Cookbook writes it. Only inside products: a sum
    # at the top stays term by term (2*A'*(A*x - b) + 2*lambda*x). Terminates: the sum's
    # coefficients then have no common factor but 1.
    if "add" not in E.argops(n):
        return None
    for i, f in enumerate(n.args):
        if f.op != "add":
            continue
        q = _common_factor([E.split_coeff(t)[0] for t in f.args])
        if q == 1:
            continue
        inner = E.add(*[E.scale(1 / q, t) for t in f.args])
        return E.mul(E.const(q), *n.args[:i], inner, *n.args[i + 1:])
    return None


def _one_plus_exp(e: Expr):
    """u when e is 1 + exp(u) (broadcast 1 for arrays), else None."""
    if e.op != "add" or len(e.args) != 2:
        return None
    for a, b in (e.args, reversed(e.args)):
        one = a.args[0] if a.op == "bcast" else (E.ONE if a.op == "ones" else a)
        if one.op == "const" and one.attr == 1 and b.op == "fn" and b.attr == "exp":
            return b.args[0]
    return None


def _sigmoid_factors(factors, power_of, make_power):
    """Rewrite exp(u)^p * (1 + exp(u))^-q as sigmoid(u)^r * ... and (1 + exp(-u))^-1 as
    sigmoid(u) in a list of commuting factors; None when nothing matches."""
    bases = [power_of(f) for f in factors]  # (base, exponent) with constant exponents
    changed = False
    out = list(factors)
    for i, (b, p) in enumerate(bases):
        if b is None or p >= 0:
            continue
        u = _one_plus_exp(b)
        if u is None:
            continue
        q = -p
        # exp(u)^k among the other factors?
        for j, (b2, p2) in enumerate(bases):
            if j != i and b2 is not None and out[j] is not None and b2.op == "fn" and b2.attr == "exp" \
                    and b2.args[0] is u and p2 > 0:
                r = min(q, p2)
                # exp(u)^p2 (1+exp(u))^-q = sigmoid(u)^r exp(u)^(p2-r) (1+exp(u))^-(q-r)
                out[i] = make_power(b, -(q - r))
                out[j] = make_power(b2, p2 - r)
                out.append(make_power(E.fn("sigmoid", u), r))
                changed = True
                break
        else:
            c, rest = E.split_coeff(u)
            if c == -1:  # (1 + exp(-u))^-q = sigmoid(u)^q
                out[i] = make_power(E.fn("sigmoid", rest), q)
                changed = True
        if changed:
            return out
    return None


@rule('simplify.sigmoid-elementwise', 'exp(u) ./ (1 + exp(u)) = sigmoid(u) ; 1 ./ (1 + exp(-u)) = sigmoid(u)',
      '\\frac{e^u}{1 + e^u} = \\sigma(u)', 'definition of sigmoid')
def _had_sigmoid(n):
    # exp(u) ./ (1 + exp(u)) -> sigmoid(u) ;  1 ./ (1 + exp(-u)) -> sigmoid(u)
    def power_of(f):
        if f.op == "hpow" and f.args[1].op == "const":
            return f.args[0], f.args[1].attr
        return f, E.Fraction(1)

    out = _sigmoid_factors(list(n.args), power_of, lambda b, k: E.hpow(b, E.const(k)))
    return E.had(*out) if out is not None else None


@rule('simplify.sigmoid-scalar', 'exp(u)/(1 + exp(u)) = sigmoid(u) ; 1/(1 + exp(-u)) = sigmoid(u)',
      '\\frac{e^u}{1 + e^u} = \\sigma(u)', 'definition of sigmoid')
def _mul_sigmoid(n):
    # scalar version: exp(u)/(1 + exp(u)) -> sigmoid(u)
    c, scal, chain = E.factors(n)
    if len(scal) < 1:
        return None

    def power_of(f):
        if f.op == "pow" and f.args[1].op == "const":
            return f.args[0], f.args[1].attr
        return f, E.Fraction(1)

    out = _sigmoid_factors(scal, power_of, lambda b, k: E.power(b, E.const(k)))
    return E.mul(E.const(c), *out, *chain) if out is not None else None



# ---------------------------------------------------------------------------- collected forms (issue 12)


@rule('simplify.power-transpose', "(A')^k = (A^k)'",
      '(A^T)^k = (A^k)^T', 'Matrix Cookbook (3), (6): (AB)^T = B^T A^T')
def _mpow_transpose(n):
    # (A')^k -> (A^k)'   (one transpose outside the power: equal terms collect up to transposition)
    b = n.args[0]
    if b.op == "transpose":
        return E.transpose(E.mpow(b.args[0], n.attr))
    return None


@rule('simplify.transpose-collapse', "A'*B' = (B*A)' when B*A joins into fewer factors (A'*(A^2)' = (A^3)')",
      'A^T B^T = (BA)^T', 'Matrix Cookbook (6)')
def _mul_transpose_collapse(n):
    # a run of adjacent transposed factors A1'*...*Ak' -> (Ak*...*A1)' when the product of the
    # untransposed factors merges powers (fewer factors): strictly fewer chain factors, so it
    # terminates against simplify.transpose-product, which only pushes transposes of products
    c, s, ch = E.factors(n)
    if len(ch) < 2:
        return None
    ops = list(map(E._get_op, ch))
    if ops.count("transpose") < 2:
        return None
    # the runs of two or more transposed factors, in order (found by a regex over one letter
    # per factor: no Python step per factor)
    for run in _RUNS_OF_TRANSPOSES.finditer("".join(map(_TRANSPOSE_LETTER.__getitem__, ops))):
        i, j = run.span()
        if _may_merge(list(map(E._get_first, map(E._get_args, ch[i:j])))):
            inner = E.mul(*[f.args[0] for f in reversed(ch[i:j])])
            if len(E.factors(inner)[2]) < j - i:
                return E.mul(E.const(c), *s, *ch[:i], E.transpose(inner), *ch[j:])
    return None


_TRANSPOSE_LETTER = defaultdict(".".__str__, transpose="T")  # op -> "T" for transpose, else "."
_RUNS_OF_TRANSPOSES = re.compile("TT+")


def _may_merge(factors) -> bool:
    """False when the product of ``factors`` (in either order) certainly keeps one chain factor
    each: no two neighbours share a power base, and none is an identity, a vector (scalar
    stretches group), an all-ones or a block matrix (the other rules of ``E.mul``). A cheap
    test before building the product: long chains of transposes are common in gradients."""
    fl = list(map(E._get_flags, factors))
    if fl.count(4) == len(fl):  # plain factors, none a vector: each is its own power base
        return any(map(E._is, factors, factors[1:]))
    if any(f.op in ("eye", "ones", "block") or f.rows == 1 or f.cols == 1 for f in factors):
        return True
    bases = [E._chain_base(f)[0] for f in factors]
    return any(a is b for a, b in zip(bases, bases[1:]))


def _term_count(e: Expr) -> int:
    return len(e.args) if e.op == "add" else (0 if E.is_zero(e) else 1)


@rule('simplify.transpose-sum-collect', "(A + B)' + C = A' + B' + C when terms then collect",
      '(A + B)^T + C = A^T + B^T + C', 'linearity of the transpose')
def _add_transpose_sum(n):
    # s*(A + B)' + ... -> s*A' + s*B' + ...  only when the distributed terms collect with the
    # others (strictly fewer terms than distributing alone gives): (A + I)' + A + I -> A + A' + 2*I
    terms = n.args
    for i, t in enumerate(terms):
        c, s, ch = E.factors(t)
        if len(ch) != 1 or ch[0].op != "transpose" or ch[0].args[0].op != "add":
            continue
        inner = ch[0].args[0].args
        parts = [E.mul(E.const(c), *s, simplify(_transposed(u))) for u in inner]
        new = E.add(*terms[:i], *parts, *terms[i + 1:])
        if _term_count(new) < len(terms) - 1 + len(inner):
            return new
    return None


@rule('simplify.sum-collect', "s*(A + B) + C = s*A + s*B + C when terms then collect (1/S - (T + 1/S) = -T)",
      's(A + B) + C = sA + sB + C', 'distributivity')
def _add_sum_collect(n):
    # c*s*(A + B) + ... -> c*s*A + c*s*B + ...  (s scalar factors) only when the distributed
    # terms collect with the others: strictly fewer terms than distributing alone gives
    terms = n.args
    for i, t in enumerate(terms):
        c, s, ch = E.factors(t)
        sums = [j for j, f in enumerate(s) if f.op == "add"]
        if len(ch) == 1 and ch[0].op == "add" and not sums:
            inner, make = ch[0].args, (lambda u, c=c, s=s: E.mul(E.const(c), *s, u))
        elif len(sums) == 1 and not ch:
            j = sums[0]
            inner = s[j].args
            make = (lambda u, c=c, s=s, j=j: E.mul(E.const(c), *s[:j], u, *s[j + 1:]))
        else:
            continue
        with tracing() as steps:  # a candidate: its steps are reported only if it is taken
            new = E.add(*terms[:i], *[make(u) for u in inner], *terms[i + 1:])
        if _term_count(new) < len(terms) - 1 + len(inner):
            outer = current()
            if outer is not None:
                outer.extend(steps)
            return new
    return None


def _had_expand(t: Expr) -> list:
    """The terms of t with every Hadamard product distributed over its sum factors."""
    out, stack = [], [t]
    while stack:
        u = stack.pop()
        c, rest = E.split_coeff(u)
        k = next((j for j, a in enumerate(rest.args) if a.op == "add"), None) if rest.op == "had" else None
        if k is None:
            out.append(u)
            continue
        others = rest.args[:k] + rest.args[k + 1:]
        stack.extend(E.scale(c, E.had(*others, v)) for v in rest.args[k].args)
    return out


@rule('simplify.hadamard-expand', "y .* (1 - s) - s .* (1 - y) = y - s (distribute when it cancels)",
      'y \\circ (1 - s) - s \\circ (1 - y) = y - s', 'distributivity of the Hadamard product')
def _add_had_expand(n):
    # distribute the Hadamard products of a sum over their sum factors, kept only when the
    # collected result prints strictly shorter (terminates: the printed length decreases)
    if not any(E.split_coeff(t)[1].op == "had" for t in n.args):
        return None
    terms = [u for t in n.args for u in _had_expand(t)]
    if len(terms) == len(n.args):
        return None
    new = E.add(*terms)
    return new if len(str(new)) < len(str(n)) else None


@rule('simplify.common-scalar', "s*A + s^2*B = s*(A + s*B) ; 2*s*A - 2*s*B = 2*s*(A - B) (s a scalar factor of every term; when shorter)",
      'sA + s^2 B = s(A + sB)', 'distributivity')
def _add_common_scalar(n):
    # pull a non-constant scalar factor shared by every term of a matrix sum out in front (the
    # lowest power of it; with it the common rational factor): cos(u)*A + cos(u)*A' ->
    # cos(u)*(A + A'), only when the printed result is shorter (I/s - x*x'/s^3 stays).
    # Terminates: the sum loses a scalar factor in every term.
    if n.is_scalar:
        return None
    per_term = []
    for t in n.args:
        c, s, _ = E.factors(t)
        per_term.append((c, dict(E._scalar_base(f) for f in s)))
    common = {}
    for b, e in per_term[0][1].items():
        es = [d.get(b) for _, d in per_term]
        if all(x is not None and (x > 0) == (e > 0) for x in es):
            common[b] = min(es) if e > 0 else max(es)
    if not common:
        return None
    k = _common_factor([c for c, _ in per_term])  # positive; negative when every term is
    if all(c < 0 for c, _ in per_term):
        k = -k

    def pulled(bases):
        f = E.mul(*[E.power(b, E.const(common[b])) for b in bases])
        inv_f = E.mul(*[E.power(b, E.const(-common[b])) for b in bases])
        return E.mul(E.const(k), f, E.add(*[E.mul(E.const(1 / k), inv_f, t) for t in n.args]))

    # all the common factors, or all but one of them when that prints shorter: sum(y) alone
    # out of sum(y)*diag(softmax(x))/S... keeps the pairs exp(x)/S that print as softmax(x)
    bases = list(common)
    choices = [bases] + ([bases[:i] + bases[i + 1:] for i in range(len(bases))] if 1 < len(bases) <= 4 else [])
    candidates = []
    for b in choices:  # each built under its own tracer: only the chosen one's steps are reported
        with tracing() as steps:
            c = pulled(b)
        candidates.append((len(str(c)), c, steps))
    size, new, steps = min(candidates, key=lambda t: t[0])
    if size >= len(str(n)):
        return None  # only when it shortens the result
    outer = current()
    if outer is not None:
        outer.extend(steps)
    return new


def _had_powers(t: Expr):
    """``(c, scalars, {base: exponent})`` of an array term ``c*s*(B1.^p1 .* B2.^p2 ...)`` with
    constant exponents, or None when the term is not one Hadamard product of such factors
    (a matrix product, a Kronecker product, ...)."""
    c, s, ch = E.factors(t)
    if len(ch) != 1:
        return None
    m = ch[0]
    out: dict = {}
    for f in (m.args if m.op == "had" else (m,)):
        if f.op == "ones":
            continue
        b, p = (f.args[0], f.args[1].attr) if f.op == "hpow" and f.args[1].op == "const" else (f, E.Fraction(1))
        out[b] = out.get(b, 0) + p
    return c, s, out


def _negative(t: Expr) -> bool:
    """t prints with a leading minus: a negative coefficient, or a broadcast negative constant."""
    if t.op == "bcast":
        t = t.args[0]
    return E.split_coeff(t)[0] < 0 or (t.op == "const" and t.attr < 0)


def _softmax_part(b: Expr, scalars) -> bool:
    """b is exp(u) divided by sum(exp(u)) among the scalars: the term holds softmax(u), which
    factoring exp(u) out would break up (diag(softmax(x)) - softmax(x)*softmax(x)' stays)."""
    return b.op == "fn" and b.attr == "exp" and any(
        f.op == "pow" and f.args[0].op == "sum" and f.args[0].args[0] is b for f in scalars)


@rule('simplify.hadamard-factor', "A.^2 .* U - A .* U = A .* U .* (A - 1) (A .* B + A .* C = A .* (B + C); when shorter)",
      'A \\circ B + A \\circ C = A \\circ (B + C)', 'distributivity of the Hadamard product')
def _add_had_factor(n):
    # pull the Hadamard factors every term of an array sum shares (each at its lowest power,
    # all of one sign) out in front: s.^2 .* u - s .* u -> s .* u .* (s - 1), oriented so the
    # remaining difference has as few negative terms as can be (1 - s rather than s - 1, the
    # minus in front). Only when the printed result is strictly shorter (so it terminates, and
    # never fights simplify.hadamard-expand, which distributes only when that is shorter).
    if n.is_scalar or len(n.args) < 2:
        return None
    parts = [_had_powers(t) for t in n.args]
    if any(p is None for p in parts):
        return None
    common = {}
    for b, e in parts[0][2].items():
        es = [p[2].get(b) for p in parts]
        if all(x is not None and (x > 0) == (e > 0) for x in es) and not any(_softmax_part(b, p[1]) for p in parts):
            common[b] = min(es) if e > 0 else max(es)
    if not common:
        return None
    rest = []
    for c, s, pw in parts:
        left = [E.hpow(b, E.const(p - common.get(b, 0))) for b, p in pw.items() if p != common.get(b, 0)]
        rest.append(E.mul(E.const(c), *s, E.had(*left) if left else E.ones(n.shape)))
    L = E.add(*rest)
    terms = L.args if L.op == "add" else (L,)
    neg = sum(_negative(t) for t in terms)
    consts_neg = any(t.op == "bcast" and _negative(t) for t in terms)
    flip = 2 * neg > len(terms) or (2 * neg == len(terms) and consts_neg)
    f = E.had(*[E.hpow(b, E.const(p)) for b, p in common.items()])
    flipped = E.neg(E.had(f, E.add(*[E.neg(t) for t in terms])))
    for new in ((flipped, E.had(f, L)) if flip else (E.had(f, L), flipped)):
        if len(str(new)) < len(str(n)):
            return new
    return None


@rule('simplify.diag-sum', "diag(u) + c*diag(v) = diag(u + c*v) (u, v of one shape)",
      '\\operatorname{diag}(u) + c \\operatorname{diag}(v) = \\operatorname{diag}(u + c v)', 'linearity of diag')
def _add_diag_sum(n):
    # the diagonal matrices of a sum join into one: diag(1 ./ s) - diag(x.^2 ./ s.^3) ->
    # diag(1 ./ s - x.^2 ./ s.^3). Terminates: one diag node fewer each time.
    idx, inner = [], []
    for i, t in enumerate(n.args):
        c, s, ch = E.factors(t)
        if len(ch) == 1 and ch[0].op in ("diagm", "diagv"):
            idx.append(i)
            inner.append((ch[0].op, E.mul(E.const(c), *s, ch[0].args[0])))
    for op in ("diagm", "diagv"):
        group = [j for j, (o, _) in enumerate(inner) if o == op]
        shapes = {inner[j][1].shape for j in group}
        if len(group) < 2 or len(shapes) != 1:
            continue
        build = E.diagm if op == "diagm" else E.diagv
        joined = build(E.add(*[inner[j][1] for j in group]))
        drop = {idx[j] for j in group}
        return E.add(joined, *[t for i, t in enumerate(n.args) if i not in drop])
    return None


RULES = {
    "transpose": [_t_symmetric, _t_mul, _t_kron],
    "trace": [_tr_rotate, _tr_sym_transposes, _tr_kron, _tr_frechet, _tr_daleckii_krein],
    "add": [_add_transpose_sum, _add_sum_collect, _add_had_expand, _add_diag_sum, _factor, _factor_identity,
            _add_common_scalar, _add_had_factor, _add_scalar_orient],
    "mpow": [_mpow_transpose],
    "had": [_had_sigmoid],
    "mul": [_mul_transpose_collapse, _mul_daleckii_krein_identity, _mul_sigmoid, _mul_scalar_orient,
            _mul_negated_sum, _mul_sum_common_rational, _mul_inv_transpose, _mul_kron_kron, _mul_commute_kron, _mul_vec_eye_kron],
}


# ---------------------------------------------------------------------------- driver


def simplify(e: Expr, factor: bool = True) -> Expr:
    """Rewrite ``e`` bottom-up with :data:`RULES` to a fixed point. Each rule is oriented
    (the rewritten node is smaller in the rule's own measure), which is what terminates it.

    >>> from matdiff.lang.parsing import parse
    >>> str(simplify(parse("(A*B)'")))
    "B'*A'"
    """
    memo: dict = {}
    tracer = current()
    unfactored = (_factor, _factor_identity, _add_common_scalar, _add_scalar_orient, _mul_sum_common_rational)
    rules = RULES if factor else {op: [r for r in rs if r not in unfactored] for op, rs in RULES.items()}

    def go(node: Expr) -> Expr:
        if node in memo:
            return memo[node]
        for sub in E.postorder([node], memo):  # children first, iteratively; memo is closed
            # under arguments (a node is memoized after its whole DAG), so it is not entered
            new = E.rebuild(sub, [memo[a] for a in sub.args]) if sub.args else sub
            if new is not sub:
                # the constructor may have built fresh subterms: simplify those too
                new = go(new)
            else:
                # the first rule that rewrites the node hands the result to go(), which returns
                # it at its own fixed point (every node go() memoizes is one): nothing is left
                # to try on it here
                for rw in rules.get(new.op, ()):
                    r = rw(new)
                    if r is not None and r is not new:
                        if tracer is not None:
                            tracer.step(rw, new, r, ("simplify",))
                        new = go(r)
                        break
            memo[sub] = new
            memo[new] = new
        return memo[node]

    return go(e)


def sym(G: Expr) -> Expr:
    """The symmetric part (G + G')/2, the gradient on the space of symmetric matrices.

    Symmetric terms of a sum pass through unchanged (sym(A + N) = A + sym(N) for A = A'),
    and a common rational factor is pulled out of the rest: inv(S) - 0.5*(B + B')."""
    if is_symmetric(G):
        return G
    terms = list(G.args) if G.op == "add" else [G]
    keep = [t for t in terms if is_symmetric(t)]
    rest = [t for t in terms if not is_symmetric(t)]
    N = E.add(*rest)
    Nt = simplify(E.add(*[_transposed(t) for t in rest]))
    if Nt is N:
        return G
    both = E.add(N, Nt)
    parts = both.args if both.op == "add" else (both,)
    c = _common_factor([E.split_coeff(t)[0] for t in parts])
    half = simplify(E.scale(c / 2, E.add(*[E.scale(1 / c, t) for t in parts])))
    return simplify(E.add(*keep, half)) if keep else half


def _common_factor(coeffs) -> E.Fraction:
    """The largest rational c dividing every coefficient (sign of the first)."""
    from math import gcd

    num = 0
    den = 1
    for q in coeffs:
        num = gcd(num, abs(q.numerator))
        den = den * q.denominator // gcd(den, q.denominator)
    c = E.Fraction(num, den) if num else E.Fraction(1)
    return c
