"""Reductions to a scalar: the sum of all entries, the Euclidean/Frobenius norm, the largest and
smallest entry."""

from __future__ import annotations

from ..core import expr as E
from ..core.facts import Facts, interval, sign_of_sums
from ..core.record import replace
from ..core.shapes import dim_mul
from .base import Example, Kink, OpDef, rule


@rule("d.sum", "d sum(A) = sum(dA)", r"\mathrm{d}\operatorname{sum}(A) = \operatorname{sum}(\mathrm{d}A)",
      "calculus: linearity")
def _sum_jvp(n, d):
    return None if d(0) is None else E.sum_(d(0))


@rule("T.sum", "<c, sum(M)> = <c*ones, M>",
      r"\langle c, \operatorname{sum}M\rangle = \langle c\mathbf{1}, M\rangle", "definition")
def _sum_transpose(n, C, i):
    return E.mul(C, E.ones(n.args[0].shape))


@rule("vec.sum", "sum(M) = ones'*vec(M)", r"\operatorname{sum}M = \mathbf{1}^T\operatorname{vec}M",
      "definition")
def _sum_vec(n, i, J):
    M = n.args[0]
    return E.mul(E.ones((1, dim_mul(M.rows, M.cols))), J)


@rule("d.norm2", "d norm2(A) = <A, dA>/norm2(A)",
      r"\mathrm{d}\|A\| = \frac{\langle A, \mathrm{d}A\rangle}{\|A\|}", "Matrix Cookbook (129) with a = 0, applied to vec(A)")
def _norm2_jvp(n, d):
    return None if d(0) is None else E.div(E.inner(n.args[0], d(0)), n)


def _extreme(op: str):
    """The constructor of max or min: of a scalar, itself; of A', that of A."""

    def build(a):
        while a.op == "transpose":
            a = a.args[0]
        return a if a.is_scalar else E.Expr(op, (a,), E.SCALAR)

    build.__name__ = f"{op}_"
    return build


def _extreme_weights(n):
    """W = M/sum(M), M = ismax(A) (ismin(A)) the indicator of the entries of A = n.args[0] equal
    to n = max(A) (min(A)). At a unique extreme entry W is its one-hot indicator; where k entries
    tie W puts 1/k on each, a convex combination of the one-hot indicators: a subgradient of the
    convex max (a supergradient of the concave min), and for a symmetric A whose extreme is the
    pair A[i, j] = A[j, i], the derivative along symmetric directions."""
    M = E.Expr("is" + n.op, (n.args[0],), n.args[0].shape)
    return E.div(M, E.sum_(M))


@rule("d.ismax", "d ismax(A) = 0 (away from ties)", r"\mathrm{d}\operatorname{ismax}A = 0",
      "calculus: piecewise constant")
def _indicator_jvp(n, d):
    return None


@rule("d.max", "d max(A) = <M, dA>/sum(M), M = ismax(A) (the maximisers; a subgradient at ties)",
      r"\mathrm{d}\max A = \frac{\langle M, \mathrm{d}A\rangle}{\operatorname{sum}M},\ "
      r"M = \operatorname{ismax}(A)", "calculus; Danskin's theorem at ties")
def _max_jvp(n, d):
    return None if d(0) is None else E.inner(_extreme_weights(n), d(0))


@rule("d.min", "d min(A) = <M, dA>/sum(M), M = ismin(A) (the minimisers; a supergradient at ties)",
      r"\mathrm{d}\min A = \frac{\langle M, \mathrm{d}A\rangle}{\operatorname{sum}M},\ "
      r"M = \operatorname{ismin}(A)", "calculus; Danskin's theorem at ties")
def _min_jvp(n, d):
    return None if d(0) is None else E.inner(_extreme_weights(n), d(0))


def _extreme_facts(n, fs):
    return Facts(lo=fs[0].lo, hi=fs[0].hi)


def _indicator_facts(n, fs):
    return Facts(lo=0.0, hi=1.0)


def _indicator(op: str, f: str) -> OpDef:
    """ismax(A) / ismin(A): 1 where an entry of A equals max(A) (min(A)), else 0; computed by
    comparing with the extreme in one expression, so rounding never loses the extreme entry."""
    return OpDef(op, rank=11, jvp=_indicator_jvp if op == "ismax" else replace(
        _indicator_jvp, name="d.ismin", identity="d ismin(A) = 0 (away from ties)",
        latex=r"\mathrm{d}\operatorname{ismin}A = 0"),
        build=lambda a: E.Expr(op, (a,), a.shape), kind="structure", language=(op,), arity=1,
        shape="same", text=op + "({0})", latex="\\operatorname{{" + op + "}}\\left({0}\\right)",
        facts=_indicator_facts, kink=Kink(_TIES.format("largest" if op == "ismax" else "smallest")
                                           + " (a jump)", f"{op}(A) is piecewise constant: its derivative "
                                           "is taken as 0, also at a tie", _tie_gap),
        lower={"numpy": "({0} == {xp}." + f + "({0})).astype(float)",
               "jax": "({0} == jnp." + f + "({0})).astype({0}.dtype)",
               "torch": "({0} == torch." + f + "({0})).to({0}.dtype)"},
        examples=(Example(f"sum({op}(X) .* A)", wrt="A", shapes={"X": "n,m", "A": "n,m"}),),
                 meaning="1 where an entry of {0} equals " + f + "({0}), else 0 (in gradients of " + f + ")")


def _tie_gap(a):
    """:class:`Kink` distance of max/min (and their indicators): the gap between the two largest
    (for min also: the two smallest) entries, 0 at a tie; infinite for a single entry."""
    import numpy as np

    v = np.sort(np.asarray(a, dtype=float).ravel())
    if v.size < 2:
        return np.array(np.inf)
    return np.array(min(v[-1] - v[-2], v[1] - v[0]))


def _norm2_distance(a):
    """:class:`Kink` distance of norm2: its value over sqrt(size), at most the largest entry."""
    import numpy as np

    a = np.asarray(a, dtype=float)
    return np.array(np.sqrt(np.mean(np.square(a))) if a.size else np.inf)


_TIES = "where several entries tie for the {0}"
_TIE_DERIVATIVE = ("d {0}(A) = <M, dA>/sum(M) with M = is{0}(A): at a tie the average of the tied entries' "
                   "one-hot indicators, a {1}gradient")
_MAX_KINK = Kink(_TIES.format("largest"), _TIE_DERIVATIVE.format("max", "sub"), _tie_gap)
_MIN_KINK = Kink(_TIES.format("smallest"), _TIE_DERIVATIVE.format("min", "super"), _tie_gap)
_NORM2_KINK = Kink("where its argument is 0", "norm2 has no derivative at A = 0: the gradient A/norm2(A) is not finite there",
                   _norm2_distance, noted=False)


def _sum_facts(n, fs):
    r = sign_of_sums(interval(fs[0]))
    return Facts(lo=r[0], hi=r[1])


def _norm2_facts(n, fs):
    return Facts(lo=0.0)


REDUCE = [
    OpDef("sum", rank=11, jvp=_sum_jvp, build=E.sum_, transpose=_sum_transpose, vec=_sum_vec,
          kind="reduction", language=("sum",), arity=1, shape="scalar", text="sum({0})",
          latex="\\operatorname{{sum}}\\left({0}\\right)", facts=_sum_facts,
          examples=(Example("sum(X .* X)", shapes={"X": "n,m"}),), meaning="the sum of all entries of {0}"),
    OpDef("norm2", rank=11, jvp=_norm2_jvp, build=E.norm2, kind="reduction", aliases=("norm", "fro", "frobenius", "norm_fro", "normfro"), language=("norm2",), arity=1,
          shape="scalar", text="norm2({0})", latex="\\left\\|{0}\\right\\|", facts=_norm2_facts,
          kink=_NORM2_KINK,
          examples=(Example("norm2(X*A)", shapes={"X": "n,m", "A": "m,k"}),
                    Example("norm2(x)", wrt="x", shapes={"x": "n"})),
          meaning="the Euclidean norm of a vector, the Frobenius norm of a matrix"),
    OpDef("max", rank=11, jvp=_max_jvp, build=_extreme("max"), kind="reduction", aliases=("amax",),
          language=("max",), arity=1, shape="scalar", text="max({0})", latex="\\max\\left({0}\\right)",
          facts=_extreme_facts, kink=_MAX_KINK, lower={"numpy": "{xp}.max({0})", "jax": "jnp.max({0})", "torch": "torch.max({0})"},
          examples=(Example("max(X .* A)", shapes={"X": "n,m", "A": "n,m"}),
                    Example("max(x)", wrt="x", shapes={"x": "n"})), meaning="the largest entry of {0}"),
    OpDef("min", rank=11, jvp=_min_jvp, build=_extreme("min"), kind="reduction", aliases=("amin",),
          language=("min",), arity=1, shape="scalar", text="min({0})", latex="\\min\\left({0}\\right)",
          facts=_extreme_facts, kink=_MIN_KINK, lower={"numpy": "{xp}.min({0})", "jax": "jnp.min({0})", "torch": "torch.min({0})"},
          examples=(Example("min(X*A)", shapes={"X": "n,m", "A": "m,k"}),
                    Example("min(x)", wrt="x", shapes={"x": "n"})), meaning="the smallest entry of {0}"),
    _indicator("ismax", "max"),
    _indicator("ismin", "min"),
]
