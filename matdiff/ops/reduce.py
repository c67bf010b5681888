"""Reductions to a scalar: the sum of all entries and the Euclidean/Frobenius norm."""

from __future__ import annotations

from ..core import expr as E
from ..core.facts import Facts, interval, sign_of_sums
from ..core.shapes import dim_mul
from .base import Example, OpDef, rule


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


def _sum_facts(n, fs):
    r = sign_of_sums(interval(fs[0]))
    return Facts(lo=r[0], hi=r[1])


def _norm2_facts(n, fs):
    return Facts(lo=0.0)


REDUCE = [
    OpDef("sum", rank=11, jvp=_sum_jvp, build=E.sum_, transpose=_sum_transpose, vec=_sum_vec,
          kind="reduction", language=("sum",), arity=1, shape="scalar", text="sum({0})",
          latex="\\operatorname{{sum}}\\left({0}\\right)", facts=_sum_facts,
          examples=(Example("sum(X .* X)", shapes={"X": "n,m"}),)),
    OpDef("norm2", rank=11, jvp=_norm2_jvp, build=E.norm2, kind="reduction", aliases=("norm", "fro", "frobenius", "norm_fro", "normfro"), language=("norm2",), arity=1,
          shape="scalar", text="norm2({0})", latex="\\left\\|{0}\\right\\|", facts=_norm2_facts,
          examples=(Example("norm2(X*A)", shapes={"X": "n,m", "A": "m,k"}),
                    Example("norm2(x)", wrt="x", shapes={"x": "n"}))),
]
