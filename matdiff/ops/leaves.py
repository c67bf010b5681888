"""Leaves: variables, their differentials, constants, I, ones, zeros, commutation matrices.

Their differential is zero (a variable of differentiation is handled by the differentiator,
which knows ``wrt``): ``d X = dX`` for X differentiated, ``d C = 0`` for anything else.
"""

from __future__ import annotations

from ..core import expr as E
from .base import Example, OpDef, Rule

CONSTANT = Rule("d.const", "d C = 0 (C does not depend on the variables)", r"\mathrm{d}C = 0",
                "definition", lambda n, d: None)
VARIABLE = Rule("d.var", "d X = dX (X differentiated), d Y = 0 (Y held fixed)",
                r"\mathrm{d}X = \mathrm{d}X", "definition", lambda n, d: None)

LEAVES = [
    OpDef("var", rank=1, jvp=VARIABLE, sample="any"),
    OpDef("dvar", rank=2, jvp=CONSTANT),
    OpDef("const", rank=0, jvp=CONSTANT),
    OpDef("eye", rank=13, jvp=CONSTANT, language=("eye",), arity=1, shape="dims", dim_args=(0,),
          examples=(Example("tr(eye(n)*X*X)", shapes={"X": "n,n"}, square_only=True),)),
    OpDef("ones", rank=0, jvp=CONSTANT, language=("ones",), arity=2, shape="dims", dim_args=(0, 1),
          examples=(Example("sum(ones(m, n)*X)", shapes={"X": "n,k"}),)),
    OpDef("zero", rank=13, jvp=CONSTANT, language=("zeros",), arity=2, shape="dims",
          dim_args=(0, 1), examples=(Example("sum(zeros(n, n)*X + X.*X)", shapes={"X": "n,k"}),)),
    # K(m, n): the mn x mn commutation matrix, K(m, n)*vec(A) = vec(A') for A m x n
    OpDef("K", rank=19, jvp=CONSTANT, language=("K",), arity=2, shape="dims", dim_args=(0, 1),
          parse_build=lambda node: E.commutation(*node.how),
          examples=(Example("vec(X)'*K(m, n)*vec(X')", shapes={"X": "n,m"}),)),
]
