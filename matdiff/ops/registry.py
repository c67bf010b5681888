"""The operation registry: one entry per operation, carrying everything about it.

For each internal op (the ``op`` field of :class:`~matdiff.expr.Expr`) an :class:`Op` holds

* ``jvp(node, d)``: the differential rule. ``d(i)`` returns the differential of argument
  ``i`` (``None`` when it is zero); the rule returns ``d(node)``, linear in the ``dX``
  leaves, or ``None`` for zero. Every rule states its identity in a comment.
* ``adjoint(node, C, i)``: for ops that can be linear in argument ``i``, the transpose
  rule pulling a cotangent ``C`` (shaped like ``node``) back to argument ``i``
  (``<C, L(M)> = <adjoint(C), M>``). The gradient pass is a single generic walk using these.
* ``text``/``latex``: templates for function-style printing.

NumPy code is not a per-op template: :mod:`matdiff.codegen` lowers whole products, traces
and solves at once (chain order, ``solve`` for ``inv(A)*B``, ``sum(A*B')`` for traces),
which needs the context of neighbouring nodes.

The language-level functions (what a user may call, their arity, shape rule and builder)
are in :data:`matdiff.parsing.FUNCTIONS`; the grammar never names a function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..core import expr as E
from ..core.expr import Expr
from .elementwise import ELEMENTWISE


@dataclass
class Op:
    name: str
    jvp: Callable | None = None
    adjoint: Callable | None = None
    text: str | None = None  # function-style text template, e.g. "tr({0})"
    latex: str | None = None


OPS: dict[str, Op] = {}


def op(name, **kw):
    OPS[name] = Op(name, **kw)


def _sum_nonzero(terms):
    terms = [t for t in terms if t is not None]
    return E.add(*terms) if terms else None


# ---------------------------------------------------------------------------- leaves
# d X = dX for a variable of differentiation; constants have zero differential.
op("var", jvp=lambda n, d: None)  # handled by the differentiator (needs wrt)
op("dvar", jvp=lambda n, d: None)
op("const", jvp=lambda n, d: None)
op("eye", jvp=lambda n, d: None)
op("ones", jvp=lambda n, d: None)
op("zero", jvp=lambda n, d: None)
op("K", jvp=lambda n, d: None)


# ---------------------------------------------------------------------------- sums and products
# d(A + B) = dA + dB
op("add",
   jvp=lambda n, d: _sum_nonzero(d(i) for i in range(len(n.args))),
   adjoint=lambda n, C, i: C)


def _mul_jvp(n, d):
    # product rule: d(F1 F2 ... Fk) = sum_i F1 ... dFi ... Fk
    terms = []
    for i in range(len(n.args)):
        da = d(i)
        if da is not None:
            terms.append(E.mul(*n.args[:i], da, *n.args[i + 1:]))
    return _sum_nonzero(terms)


def _mul_adjoint(n, C, i):
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


op("mul", jvp=_mul_jvp, adjoint=_mul_adjoint)

# d(A') = (dA)' ;  <C, M'> = <C', M>
op("transpose",
   jvp=lambda n, d: None if d(0) is None else E.transpose(d(0)),
   adjoint=lambda n, C, i: E.transpose(C),
   text="{0}'", latex="{0}^{{T}}")

# d tr(A) = tr(dA) ;  <C, tr(M)> = <C I, M>
op("trace",
   jvp=lambda n, d: None if d(0) is None else E.trace(d(0)),
   adjoint=lambda n, C, i: E.mul(C, E.eye(n.args[0].rows)),
   text="tr({0})", latex="\\operatorname{{tr}}\\left({0}\\right)")

# d det(A) = det(A) tr(inv(A) dA)            (Matrix Cookbook eq. 46)
op("det",
   jvp=lambda n, d: None if d(0) is None else E.mul(n, E.trace(E.mul(E.inv(n.args[0]), d(0)))),
   text="det({0})", latex="\\det\\left({0}\\right)")

# d log|det A| = tr(inv(A) dA)               (Matrix Cookbook eq. 50)
op("logdet",
   jvp=lambda n, d: None if d(0) is None else E.trace(E.mul(E.inv(n.args[0]), d(0))),
   text="logdet({0})", latex="\\log\\left|{0}\\right|")

# d inv(A) = -inv(A) dA inv(A)               (Matrix Cookbook eq. 59)
op("inv",
   jvp=lambda n, d: None if d(0) is None else E.neg(E.mul(n, d(0), n)),
   text="inv({0})", latex="{0}^{{-1}}")


def _mpow_jvp(n, d):
    # d(A^k) = sum_{i=0}^{k-1} A^i dA A^(k-1-i)   (k >= 2; negative powers are inv(A)^k)
    dA = d(0)
    if dA is None:
        return None
    A, k = n.args[0], n.attr
    return E.add(*[E.mul(E.mpow(A, i), dA, E.mpow(A, k - 1 - i)) for i in range(k)])


op("mpow", jvp=_mpow_jvp)


def _pow_jvp(n, d):
    # d(b^e) = e b^(e-1) db + log(b) b^e de     (scalars)
    b, e = n.args
    db, de = d(0), d(1)
    terms = []
    if db is not None:
        terms.append(E.mul(e, E.power(b, E.add(e, E.const(-1))), db))
    if de is not None:
        terms.append(E.mul(E.fn("log", b), n, de))
    return _sum_nonzero(terms)


op("pow", jvp=_pow_jvp)


# ---------------------------------------------------------------------------- elementwise
def _had_jvp(n, d):
    # d(A .* B) = dA .* B + A .* dB
    terms = []
    for i in range(len(n.args)):
        da = d(i)
        if da is not None:
            terms.append(E.had(*n.args[:i], da, *n.args[i + 1:]))
    return _sum_nonzero(terms)


# <C, A .* M> = <A .* C, M>
op("had", jvp=_had_jvp,
   adjoint=lambda n, C, i: E.had(C, *[a for j, a in enumerate(n.args) if j != i]))


def _hpow_jvp(n, d):
    # d(A .^ p) = p A.^(p-1) .* dA + log(A) .* A.^p dp
    A, p = n.args
    dA, dp = d(0), d(1)
    terms = []
    if dA is not None:
        terms.append(E.mul(p, E.had(E.hpow(A, E.add(p, E.const(-1))), dA)))
    if dp is not None:
        terms.append(E.mul(dp, E.had(E.fn("log", A), n)))
    return _sum_nonzero(terms)


op("hpow", jvp=_hpow_jvp)


def _fn_derivative(name: str, a: Expr, node: Expr) -> Expr | None:
    """f'(a) for an elementwise function (shape of a); None when it is zero almost everywhere."""
    return ELEMENTWISE[name].derivative(a, node)


def _one_like(a: Expr) -> Expr:
    return E.ONE if a.is_scalar else E.bcast(E.ONE, a.shape)


def _fn_jvp(n, d):
    # d f(A) = f'(A) .* dA   (chain rule, elementwise)
    dA = d(0)
    if dA is None:
        return None
    fp = _fn_derivative(n.attr, n.args[0], n)
    if fp is None:
        return None
    return E.had(fp, dA)


op("fn", jvp=_fn_jvp)

_LATEX_FN = {name: d.latex for name, d in ELEMENTWISE.items()}


# ---------------------------------------------------------------------------- reductions
# d sum(A) = sum(dA) ;  <C, sum(M)> = <C 1, M>
op("sum",
   jvp=lambda n, d: None if d(0) is None else E.sum_(d(0)),
   adjoint=lambda n, C, i: E.mul(C, E.ones(n.args[0].shape)),
   text="sum({0})", latex="\\operatorname{{sum}}\\left({0}\\right)")

# d ||A|| = <A, dA> / ||A||                   (Matrix Cookbook eq. 131, Frobenius)
op("norm2",
   jvp=lambda n, d: None if d(0) is None else E.div(E.inner(n.args[0], d(0)), n),
   text="norm2({0})", latex="\\left\\|{0}\\right\\|")


# ---------------------------------------------------------------------------- reshapes (all linear)
def _linear1(build):
    return lambda n, d: None if d(0) is None else build(n, d(0))


# diag(v): <C, diag(v)> = <diag(C), v>
op("diagm", jvp=_linear1(lambda n, dv: E.diagm(dv)), adjoint=lambda n, C, i: E.diagv(C),
   text="diag({0})", latex="\\operatorname{{diag}}\\left({0}\\right)")
# diag(A) (the diagonal as a vector): <c, diag(M)> = <diag(c), M>
op("diagv", jvp=_linear1(lambda n, dA: E.diagv(dA)), adjoint=lambda n, C, i: E.diagm(C),
   text="diag({0})", latex="\\operatorname{{diag}}\\left({0}\\right)")
# vec: <c, vec(M)> = <unvec(c), M>
op("vec", jvp=_linear1(lambda n, dA: E.vec(dA)),
   adjoint=lambda n, C, i: E.unvec(C, n.args[0].rows, n.args[0].cols),
   text="vec({0})", latex="\\operatorname{{vec}}\\left({0}\\right)")
op("unvec", jvp=_linear1(lambda n, dv: E.unvec(dv, n.rows, n.cols)),
   adjoint=lambda n, C, i: E.vec(C),
   latex="\\operatorname{{unvec}}_{{{r}}}\\left({0}\\right)")
# broadcast of a scalar: <C, s 1> = s sum(C)
op("bcast", jvp=_linear1(lambda n, ds: E.bcast(ds, n.shape)), adjoint=lambda n, C, i: E.sum_(C))


def _kron_jvp(n, d):
    # d kron(A, B) = kron(dA, B) + kron(A, dB)
    A, B = n.args
    terms = []
    if d(0) is not None:
        terms.append(E.kron(d(0), B))
    if d(1) is not None:
        terms.append(E.kron(A, d(1)))
    return _sum_nonzero(terms)


def _kron_adjoint(n, C, i):
    A, B = n.args
    return E.kronadj1(C, B) if i == 0 else E.kronadj2(A, C)


op("kron", jvp=_kron_jvp, adjoint=_kron_adjoint,
   text="kron({0}, {1})", latex="{0} \\otimes {1}")


def _kronadj1_jvp(n, d):
    C, B = n.args
    terms = []
    if d(0) is not None:
        terms.append(E.kronadj1(d(0), B))
    if d(1) is not None:
        terms.append(E.kronadj1(C, d(1)))
    return _sum_nonzero(terms)


def _kronadj2_jvp(n, d):
    A, C = n.args
    terms = []
    if d(0) is not None:
        terms.append(E.kronadj2(d(0), C))
    if d(1) is not None:
        terms.append(E.kronadj2(A, d(1)))
    return _sum_nonzero(terms)


# kronadj1(C, B) is bilinear: <G, kronadj1(C, B)> = <kron(G, B), C> = <kronadj2(G, C)... >
op("kronadj1", jvp=_kronadj1_jvp,
   adjoint=lambda n, C, i: E.kron(C, n.args[1]) if i == 0 else E.kronadj2(C, n.args[0]),
   text="kronadj1({0}, {1})", latex="\\operatorname{{kronadj}}_1\\left({0}, {1}\\right)")
op("kronadj2", jvp=_kronadj2_jvp,
   adjoint=lambda n, C, i: E.kronadj1(n.args[1], C) if i == 0 else E.kron(n.args[0], C),
   text="kronadj2({0}, {1})", latex="\\operatorname{{kronadj}}_2\\left({0}, {1}\\right)")
