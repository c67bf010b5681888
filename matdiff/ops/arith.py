"""Sums, products, powers, transposes, Hadamard products and powers, elementwise functions."""

from __future__ import annotations

from ..core import expr as E
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


@rule("d.hpow", "d(A .^ p) = p*A.^(p-1) .* dA + log(A) .* A.^p * dp",
      r"\mathrm{d}(A^{\circ p}) = p\,A^{\circ(p-1)} \circ \mathrm{d}A + \log(A) \circ A^{\circ p}"
      r"\,\mathrm{d}p", "calculus")
def _hpow_jvp(n, d):
    A, p = n.args
    dA, dp = d(0), d(1)
    terms = []
    if dA is not None:
        terms.append(E.mul(p, E.had(E.hpow(A, E.add(p, E.const(-1))), dA)))
    if dp is not None:
        terms.append(E.mul(dp, E.had(E.fn("log", A), n)))
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


ARITH = [
    OpDef("add", rank=12, jvp=_add_jvp, build=E.add, transpose=_add_transpose, vec=_add_vec,
          examples=(Example("sum((X + A).*(X + A))"),)),
    OpDef("mul", rank=4, jvp=_mul_jvp, build=E.mul, transpose=_mul_transpose, vec=_mul_vec,
          examples=(Example("tr(A*X*B*X)", shapes={"A": "n,m", "X": "m,n", "B": "n,m"}),
                    Example("sum(X*A*X'*x)*(x'*x)", shapes={"X": "n,m", "x": "n"}),
                    Example("x'*A*x*(x'*x)", wrt="x", shapes={"x": "n"}))),
    OpDef("transpose", rank=3, jvp=_transpose_jvp, build=E.transpose, transpose=_transpose_transpose,
          vec=_transpose_vec, language=("transpose",), arity=1, shape="transpose", keeps_name=True,
          text="{0}'", latex="{0}^{{T}}",
          examples=(Example("sum(transpose(X)*A)", shapes={"X": "n,m", "A": "n,k"}),)),
    OpDef("pow", rank=8, jvp=_pow_jvp, build=E.power, sample="pos",
          examples=(Example("(x'*x)^3 + (x'*x)^(1/2)", wrt="x", shapes={"x": "n"}),
                    Example("a^(x'*x)", wrt="x", shapes={"x": "n", "a": ""}))),
    OpDef("had", rank=10, jvp=_had_jvp, build=E.had, transpose=_had_transpose, vec=_had_vec,
          examples=(Example("sum(X .* A .* X)"),)),
    OpDef("hpow", rank=10, jvp=_hpow_jvp, build=E.hpow, sample="pos",
          examples=(Example("sum(X .^ 3 + X .^ 0.5)"),
                    Example("sum(A .^ (x'*x))", wrt="x", shapes={"x": "n", "A": "n,m"}))),
    OpDef("fn", rank=9, jvp=_fn_jvp, build=E.fn, rebuild=lambda n, a: E.fn(n.attr, a[0])),
]
