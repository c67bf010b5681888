"""Sums, products, powers, transposes, Hadamard products and powers, elementwise functions."""

from __future__ import annotations

from itertools import repeat
from operator import attrgetter, is_not, methodcaller

from ..core import expr as E
from ..core.facts import INF, NOTHING, Facts, iadd, imul, interval, ipow
from ..core.record import replace
from . import elementwise as _ew  # (a module: elementwise.py may be the one loading us)
from .base import Example, OpDef, rule, zero_sum


# ---------------------------------------------------------------------------- add
@rule("d.add", "d(A + B) = dA + dB", r"\mathrm{d}(A + B) = \mathrm{d}A + \mathrm{d}B", "calculus")
def _add_jvp(n, d):
    return zero_sum(d(i) for i in range(len(n.args)))


@rule("T.add", "<C, A + B> = <C, A> + <C, B>: each term gets C",
      r"\langle C, A + B\rangle = \langle C, A\rangle + \langle C, B\rangle", "definition")
def _add_transpose(n, C, i):
    return C


@rule("vec.add", "vec(A + B) = vec(A) + vec(B)",
      r"\operatorname{vec}(A + B) = \operatorname{vec}A + \operatorname{vec}B", "Matrix Cookbook (522)")
def _add_vec(n, i, J):
    return J


# ---------------------------------------------------------------------------- mul
@rule("d.mul", "d(F1*F2*...*Fk) = sum_i F1*...*dFi*...*Fk",
      r"\mathrm{d}(F_1 \cdots F_k) = \sum_i F_1 \cdots \mathrm{d}F_i \cdots F_k",
      "Matrix Cookbook (37): product rule")
def _mul_jvp(n, d):
    terms = []
    for i in range(len(n.args)):
        da = d(i)
        if da is not None:
            terms.append(E.mul(*n.args[:i], da, *n.args[i + 1:]))
    return zero_sum(terms)


@rule("T.mul", "<C, s*P*M*Q> = <s*P'*C*Q', M> ; <C, s*P> = <P, C> s (s the scalar argument)",
      r"\langle C, s P M Q\rangle = \langle s P^T C Q^T, M\rangle", "definition: <C, M> = tr(C'*M), "
      "cyclic trace")
def _mul_transpose(n, C, i):
    target = n.args[i]
    rest = n.args[:i] + n.args[i + 1:]
    if target.is_scalar:
        # <C, s P> = s <P, C>: a scalar factor s gets <P, C>
        return E.inner(E.mul(*rest), C)
    # <C, P L M R> = <P L' C R', M>  (P the scalar factors, L and R the chain around M)
    scal = [a for a in n.args if a.is_scalar]
    chain = [a for a in n.args if not a.is_scalar]
    k = i - len(scal)  # canonical products keep scalar factors first
    left, right = chain[:k], chain[k + 1:]
    seq = list(scal)
    if left:
        seq.append(E.transpose(E.mul(*left)))
    seq.append(C)
    if right:
        seq.append(E.transpose(E.mul(*right)))
    return E.mul(*seq)


@rule("vec.mul", "vec(S*L*M*R) = S*kron(R', L)*vec(M) ; vec(P*s) = vec(P)*s",
      r"\operatorname{vec}(S L M R) = S\,(R^T \otimes L)\operatorname{vec}M",
      "Matrix Cookbook (520)")
def _mul_vec(n, i, J):
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


# ---------------------------------------------------------------------------- transpose
@rule("d.transpose", "d(A') = (dA)'", r"\mathrm{d}(A^T) = (\mathrm{d}A)^T", "Matrix Cookbook (44)")
def _transpose_jvp(n, d):
    return None if d(0) is None else E.transpose(d(0))


@rule("T.transpose", "<C, M'> = <C', M>", r"\langle C, M^T\rangle = \langle C^T, M\rangle",
      "definition")
def _transpose_transpose(n, C, i):
    return E.transpose(C)


@rule("vec.transpose", "vec(M') = K(m, n)*vec(M) (M m x n)",
      r"\operatorname{vec}(M^T) = K_{m,n}\operatorname{vec}M",
      "definition of K; Magnus & Neudecker (1979), Ann. Statist. 7(2)")
def _transpose_vec(n, i, J):
    M = n.args[0]
    return E.mul(E.commutation(M.rows, M.cols), J)


# ---------------------------------------------------------------------------- scalar power
@rule("d.pow", "d(b^e) = e*b^(e-1)*db + log(b)*b^e*de (scalars)",
      r"\mathrm{d}(b^e) = e\,b^{e-1}\mathrm{d}b + \log(b)\,b^e\,\mathrm{d}e", "calculus")
def _pow_jvp(n, d):
    b, e = n.args
    db, de = d(0), d(1)
    terms = []
    if db is not None:
        terms.append(E.mul(e, E.power(b, E.add(e, E.const(-1))), db))
    if de is not None:
        terms.append(E.mul(E.fn("log", b), n, de))
    return zero_sum(terms)


# ---------------------------------------------------------------------------- Hadamard
@rule("d.had", "d(A .* B) = dA .* B + A .* dB",
      r"\mathrm{d}(A \circ B) = \mathrm{d}A \circ B + A \circ \mathrm{d}B", "Matrix Cookbook (38)")
def _had_jvp(n, d):
    terms = []
    for i in range(len(n.args)):
        da = d(i)
        if da is not None:
            terms.append(E.had(*n.args[:i], da, *n.args[i + 1:]))
    return zero_sum(terms)


@rule("T.had", "<C, A .* M> = <A .* C, M>",
      r"\langle C, A \circ M\rangle = \langle A \circ C, M\rangle", "definition")
def _had_transpose(n, C, i):
    return E.had(C, *[a for j, a in enumerate(n.args) if j != i])


@rule("vec.had", "vec(A .* M) = diag(vec(A))*vec(M)",
      r"\operatorname{vec}(A \circ M) = \operatorname{diag}(\operatorname{vec}A)\operatorname{vec}M",
      "definition: (A .* M)_ij = A_ij*M_ij")
def _had_vec(n, i, J):
    others = [a for j, a in enumerate(n.args) if j != i]
    return E.mul(E.diagm(E.vec(E.had(*others))), J)


@rule("d.hpow", "d(A .^ P) = P .* A.^(P-1) .* dA + log(A) .* A.^P .* dP (P a scalar or an array)",
      r"\mathrm{d}(A^{\circ P}) = P \circ A^{\circ(P-1)} \circ \mathrm{d}A + \log(A) \circ A^{\circ P}"
      r" \circ \mathrm{d}P", "calculus")
def _hpow_jvp(n, d):
    A, p = n.args
    dA, dp = d(0), d(1)
    terms = []
    if p.is_scalar:  # a scalar exponent (and its differential) scales
        if dA is not None:
            terms.append(E.mul(p, E.had(E.hpow(A, E.add(p, E.const(-1))), dA)))
        if dp is not None:
            terms.append(E.mul(dp, E.had(E.fn("log", A), n)))
        return zero_sum(terms)
    if dA is not None:
        pm1 = E.add(p, E.bcast(E.const(-1), p.shape))
        terms.append(E.had(p, E.hpow(A, pm1), dA))
    if dp is not None:
        terms.append(E.had(E.fn("log", A), n, dp))
    return zero_sum(terms)


# ---------------------------------------------------------------------------- elementwise functions
@rule("d.fn", "d f(A) = f'(A) .* dA (f applied entry by entry; f' from its declaration)",
      r"\mathrm{d}f(A) = f'(A) \circ \mathrm{d}A", "calculus: chain rule")
def _fn_jvp(n, d):
    dA = d(0)
    if dA is None:
        return None
    fp = _ew.ELEMENTWISE[n.attr].derivative(n.args[0], n)
    if fp is None:
        return None
    return E.had(fp, dA)


# ---------------------------------------------------------------------------- facts (transfer rules)
def _transpose_facts(n, fs):
    (a,) = fs
    return replace(a, lower=a.upper, upper=a.lower)


def _transposed(t):
    """t' with the transpose pushed through a product (s*A*B)' = s*B'*A'."""
    if t.op == "mul":
        c, s, ch = E.factors(t)
        return E.mul(E.const(c), *s, *[E.transpose(f) for f in reversed(ch)])
    return E.transpose(t)


def _add_facts(n, fs):
    r = interval(fs[0])
    for f in fs[1:]:
        r = iadd(r, interval(f))
    sym = all(f.symmetric for f in fs)
    if not sym:  # terms closed under transposition: A + A', X*Y + Y'*X'
        terms = set(n.args)
        sym = all(_transposed(t) in terms for t in n.args)
    psd = all(f.psd for f in fs)
    return Facts(symmetric=sym, psd=psd, pd=psd and any(f.pd for f in fs),
                 lower=all(f.lower for f in fs), upper=all(f.upper for f in fs),
                 diagonal=all(f.diagonal for f in fs), lo=r[0], hi=r[1])


def _chain_facts(chain, cf) -> Facts:
    """Facts of a matrix chain F1*...*Fk (k >= 1) from the facts of its factors."""
    k = len(chain)
    if k == 1:
        return cf[0]
    # a palindrome F1..Fj M Fj'..F1' (pairs transposed, or one symmetric factor twice) is
    # symmetric when its middle is; it is G*M*G' with G = F1..Fj: psd when M is (or absent)
    pal = True
    for i in range(k // 2):
        a, b = chain[i], chain[k - 1 - i]
        if E.transpose(a) is not b and not (a is b and cf[i].symmetric):
            pal = False
            break
    mid = cf[k // 2] if k % 2 else None
    sym = pal and (mid is None or mid.symmetric)
    psd = pal and (mid is None or mid.psd)
    # (the factors' nonsingularity first: it is usually unknown, and then the squareness of
    # every factor need not be compared)
    nonsing = all(f.nonsingular for f in cf) and all(f.rows == f.cols for f in chain)
    pd = psd and nonsing and (mid is None or mid.pd)
    # entries: a sum of products, so only the sign is known, where every factor has one
    lo, hi = -INF, INF
    if all(f.lo >= 0 or f.hi <= 0 for f in cf):
        neg = sum(1 for f in cf if not f.lo >= 0) % 2
        lo, hi = (-INF, 0.0) if neg else (0.0, INF)
    return Facts(symmetric=sym or all(f.diagonal for f in cf), psd=psd, pd=pd,
                 lower=all(f.lower for f in cf), upper=all(f.upper for f in cf),
                 diagonal=all(f.diagonal for f in cf), orthogonal=all(f.orthogonal for f in cf),
                 nonsingular=nonsing, lo=lo, hi=hi)


_get_is_scalar, _closed = attrgetter("is_scalar"), methodcaller("closed")


def _mul_facts(n, fs):
    # scalar factors scale (an interval product); the matrix chain keeps its structure,
    # and a nonnegative scale keeps (semi)definiteness: c*X'*X, x'*S*x with S psd
    scal, chain, cf = (1.0, 1.0), [], []
    if True not in map(_get_is_scalar, n.args):  # a chain alone (long in gradients): C loops
        if not any(map(is_not, fs, repeat(NOTHING))):
            # nothing known of any factor (general matrices): only a palindrome F*M*F' of
            # even length can be symmetric (a middle factor of nothing known is not), so
            # nothing is known of the product either unless its ends are transposes
            k = len(n.args)
            if k % 2 or E.transpose(n.args[0]) is not n.args[-1]:
                return NOTHING
        chain, cf = list(n.args), list(map(_closed, fs))
    else:
        for a, f in zip(n.args, fs):
            if a.is_scalar:
                scal = imul(scal, interval(f))
            else:
                chain.append(a)
                cf.append(f.closed())
    if not chain:
        return Facts(lo=scal[0], hi=scal[1])
    c = _chain_facts(chain, cf)
    r = imul(scal, interval(c))
    pos, nonzero = scal[0] >= 0, scal[0] > 0 or scal[1] < 0
    return Facts(symmetric=c.symmetric, psd=c.psd and pos, pd=c.pd and scal[0] > 0,
                 lower=c.lower, upper=c.upper, diagonal=c.diagonal,
                 orthogonal=c.orthogonal and scal == (1.0, 1.0), nonsingular=c.nonsingular and nonzero,
                 lo=r[0], hi=r[1])


def _had_facts(n, fs):
    # Schur product theorem: A .* B is psd (pd) when A and B are; a diagonal factor zeroes
    # everything off the diagonal
    r = interval(fs[0])
    for f in fs[1:]:
        r = imul(r, interval(f))
    diag = any(f.diagonal for f in fs)
    psd = all(f.psd for f in fs)
    return Facts(symmetric=all(f.symmetric for f in fs) or diag, psd=psd, pd=all(f.pd for f in fs),
                 lower=any(f.lower for f in fs), upper=any(f.upper for f in fs), diagonal=diag,
                 lo=r[0], hi=r[1])


def _power_facts(fb: Facts, p, elementwise: bool) -> Facts:
    """Facts of b^p (scalar) or b.^p (entrywise), p a scalar."""
    if p.op == "const":
        r = ipow(interval(fb), p.attr)
        keeps_zero = p.attr > 0
    else:  # x^y >= 0 for x >= 0; otherwise nothing (an integer y may make it negative)
        r = (0.0, INF) if fb.lo >= 0 else (-INF, INF)
        keeps_zero = False
    if not elementwise:
        return Facts(lo=r[0], hi=r[1])
    # A .^ k = A .* ... .* A (k a positive integer): psd (pd) for A psd (pd), by Schur
    k = p.attr if p.op == "const" else None
    schur = k is not None and k.denominator == 1 and k > 0
    return Facts(psd=schur and fb.psd, pd=schur and fb.pd, symmetric=fb.symmetric,
                 diagonal=fb.diagonal and keeps_zero, lower=fb.lower and keeps_zero,
                 upper=fb.upper and keeps_zero, lo=r[0], hi=r[1])


def _power_sample(n):
    # a fractional, negative or non-constant power needs a positive base (a^b = exp(b*log(a)))
    p = n.args[1]
    if p.op != "const" or p.attr.denominator != 1 or p.attr < 0:
        return ("positive", "any")
    return "any"


def _fn_facts(n, fs):
    # entrywise: the range is the function's; f(S) is symmetric for symmetric S, and f keeps
    # the zeros of a diagonal/triangular matrix when f(0) = 0
    d = _ew.ELEMENTWISE.get(n.attr)
    (a,) = fs
    lo, hi = d.range if d is not None else (None, None)
    zero = d is not None and d.at_zero == 0
    return Facts(symmetric=a.symmetric, diagonal=a.diagonal and zero, lower=a.lower and zero,
                 upper=a.upper and zero, lo=-INF if lo is None else float(lo),
                 hi=INF if hi is None else float(hi))


def _fn_sample(n):
    # inside the function's domain: one bounded below only, from 0 or above (log, sqrt) or from -1
    # (log1p), needs positive entries (those are inside it); a bounded domain (arcsin, tan) is
    # met by the checker's draws of smaller inputs when the first ones leave it
    d = _ew.ELEMENTWISE.get(n.attr)
    lo, hi = d.domain if d is not None else (None, None)
    return "positive" if lo is not None and lo >= -1 and (hi is None or hi == INF) else "any"


ARITH = [
    OpDef("add", rank=12, jvp=_add_jvp, facts=_add_facts, build=E.add, transpose=_add_transpose, vec=_add_vec,
          examples=(Example("sum((X + A).*(X + A))"),)),
    OpDef("mul", rank=4, jvp=_mul_jvp, facts=_mul_facts, build=E.mul, transpose=_mul_transpose, vec=_mul_vec,
          examples=(Example("tr(A*X*B*X)", shapes={"A": "n,m", "X": "m,n", "B": "n,m"}),
                    Example("sum(X*A*X'*x)*(x'*x)", shapes={"X": "n,m", "x": "n"}),
                    Example("x'*A*x*(x'*x)", wrt="x", shapes={"x": "n"}))),
    OpDef("transpose", rank=3, jvp=_transpose_jvp, build=E.transpose, transpose=_transpose_transpose,
          vec=_transpose_vec, kind="matrix", aliases=("traspose",), language=("transpose",), arity=1, shape="transpose", keeps_name=True,
          text="{0}'", latex="{0}^{{T}}", facts=_transpose_facts,
          examples=(Example("sum(transpose(X)*A)", shapes={"X": "n,m", "A": "n,k"}),),
          meaning="the transpose {0}' (postfix ' binds tightest)"),
    OpDef("pow", rank=8, jvp=_pow_jvp, build=E.power, sample=_power_sample,
          facts=lambda n, fs: _power_facts(fs[0], n.args[1], False),
          examples=(Example("(x'*x)^3 + (x'*x)^(1/2)", wrt="x", shapes={"x": "n"}),
                    Example("a^(x'*x)", wrt="x", shapes={"x": "n", "a": ""}))),
    OpDef("had", rank=10, jvp=_had_jvp, facts=_had_facts, build=E.had, transpose=_had_transpose, vec=_had_vec,
          examples=(Example("sum(X .* A .* X)"),)),
    OpDef("hpow", rank=10, jvp=_hpow_jvp, build=E.hpow, sample=_power_sample,
          facts=lambda n, fs: _power_facts(fs[0], n.args[1], True),
          examples=(Example("sum(X .^ 3 + X .^ 0.5)"),
                    Example("sum(A .^ (x'*x))", wrt="x", shapes={"x": "n", "A": "n,m"}),
                    Example("sum(X .^ A)", wrt="A"), Example("sum(X .^ A)"),
                    Example("sum(x .^ y)", wrt="y", shapes={"x": "n", "y": "n"}),
                    Example("sum(A .^ X)", shapes={"A": "n,m", "X": "n,m"}))),
    OpDef("fn", rank=9, jvp=_fn_jvp, build=E.fn, rebuild=lambda n, a: E.fn(n.attr, a[0]),
          facts=_fn_facts, sample=_fn_sample),
]
