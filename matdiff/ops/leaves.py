"""Leaves: variables, their differentials, constants, I, ones, zeros, commutation matrices.

Their differential is zero (a variable of differentiation is handled by the differentiator,
which knows ``wrt``): ``d X = dX`` for X differentiated, ``d C = 0`` for anything else.
"""

from __future__ import annotations

from ..core import expr as E
from ..core.facts import Facts
from .base import Example, OpDef, Rule

CONSTANT = Rule("d.const", "d C = 0 (C does not depend on the variables)", r"\mathrm{d}C = 0",
                "definition", lambda n, d: None)
VARIABLE = Rule("d.var", "d X = dX (X differentiated), d Y = 0 (Y held fixed)",
                r"\mathrm{d}X = \mathrm{d}X", "definition", lambda n, d: None)


def _var_facts(n, fs):
    # a variable declared symmetric is symmetric (so is its differential dS)
    return Facts(symmetric=n.attr[1])


def _const_facts(n, fs):
    v = float(n.attr)
    return Facts(lo=v, hi=v)


def _eye_facts(n, fs):
    return Facts(pd=True, diagonal=True, orthogonal=True, lo=0.0, hi=1.0)


def _ones_facts(n, fs):
    # 1 1' is positive semidefinite (when square)
    return Facts(psd=True, lo=1.0, hi=1.0)


def _zero_facts(n, fs):
    return Facts(psd=True, diagonal=True, lo=0.0, hi=0.0)


def _commutation_facts(n, fs):
    # a permutation matrix; K(n, n) is its own transpose (K(m, n)' = K(n, m))
    m, k = n.attr
    return Facts(orthogonal=True, symmetric=m == k, lo=0.0, hi=1.0)


LEAVES = [
    OpDef("var", rank=1, jvp=VARIABLE, facts=_var_facts),
    OpDef("dvar", rank=2, jvp=CONSTANT, facts=_var_facts),
    OpDef("const", rank=0, jvp=CONSTANT, facts=_const_facts),
    OpDef("eye", rank=13, jvp=CONSTANT, facts=_eye_facts, aliases=("identity",), language=("eye",), arity=1, shape="dims", dim_args=(0,),
          examples=(Example("tr(eye(n)*X*X)", shapes={"X": "n,n"}, square_only=True),),
          meaning="the {0}x{0} identity matrix (I or eye alone: of inferred size)", params=("n",)),
    OpDef("ones", rank=0, jvp=CONSTANT, facts=_ones_facts, language=("ones",), arity=2, shape="dims", dim_args=(0, 1),
          examples=(Example("sum(ones(m, n)*X)", shapes={"X": "n,k"}),),
          meaning="the {0}x{1} matrix of ones (ones alone: of inferred size)", params=("n", "m")),
    OpDef("zero", rank=13, jvp=CONSTANT, facts=_zero_facts, language=("zeros",), arity=2, shape="dims",
          dim_args=(0, 1), examples=(Example("sum(zeros(n, n)*X + X.*X)", shapes={"X": "n,k"}),),
          meaning="the {0}x{1} zero matrix (zeros alone: of inferred size)", params=("n", "m")),
    # K(m, n): the mn x mn commutation matrix, K(m, n)*vec(A) = vec(A') for A m x n
    OpDef("K", rank=19, jvp=CONSTANT, facts=_commutation_facts, language=("K",), arity=2, shape="dims", dim_args=(0, 1),
          parse_build=lambda node: E.commutation(*node.how),
          examples=(Example("vec(X)'*K(m, n)*vec(X')", shapes={"X": "n,m"}),),
          meaning="the commutation matrix: K({0}, {1})*vec(A) = vec(A') for A {0}x{1}", params=("m", "n")),
]
