"""SymPy both ways: matdiff expressions as SymPy matrix expressions and back.

:func:`to_sympy` writes an :class:`~matdiff.expr.Expr` with ``MatrixSymbol`` leaves whose
dimensions are SymPy symbols (``n`` for a size named n): ``Trace``, ``Inverse``,
``Determinant``, ``HadamardProduct``, ``HadamardPower``, ``KroneckerProduct``, ``MatPow``,
``DiagMatrix``, ``DiagonalOf``, ``BlockMatrix``, elementwise functions as
``ElementwiseApplyFunction``. A matdiff scalar (1x1) is a SymPy scalar: ``x'*A*x`` is
``(x.T*A*x)[0, 0]``; ``sum(A)`` is ``(ones(1, m)*A*ones(n, 1))[0, 0]``. What SymPy cannot
represent (vec, the commutation matrix, matrix functions, factorizations, ...) is a
:class:`~matdiff.MatdiffError` naming the operation.

:func:`sympy_to_text` reads a SymPy matrix expression back as text in matdiff's language with
the declared shapes of its ``MatrixSymbol``s and scalar ``Symbol``s; :func:`from_sympy` parses
that text, so every shape rule of the language applies to SymPy input too.

Both directions walk the expression iteratively (children first), whatever its depth.
"""

from __future__ import annotations

import functools
from fractions import Fraction

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf
from sympy.matrices.expressions.hadamard import HadamardPower, HadamardProduct
from sympy.matrices.expressions.kronecker import KroneckerProduct
from sympy.matrices.expressions.matexpr import MatrixElement

from ..core.errors import MatdiffError
from ..core.expr import Expr
from ..core.shapes import Dim, Plus

_t = sp.Dummy("t")
# matdiff's elementwise functions as SymPy callables (scalars) / Lambdas (applyfunc)
_FUNCS = {
    "exp": sp.exp, "log": sp.log, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "tanh": sp.tanh,
    "sqrt": sp.sqrt, "abs": sp.Abs, "sign": sp.sign, "step": sp.Heaviside, "arcsin": sp.asin,
    "arccos": sp.acos, "arctan": sp.atan, "sinh": sp.sinh, "cosh": sp.cosh, "erf": sp.erf,
    "sigmoid": sp.Lambda(_t, 1 / (1 + sp.exp(-_t))),
    "relu": sp.Lambda(_t, sp.Max(_t, 0)),
    "softplus": sp.Lambda(_t, sp.log(1 + sp.exp(_t))),
    "log1p": sp.Lambda(_t, sp.log(1 + _t)),
    "expm1": sp.Lambda(_t, sp.exp(_t) - 1),
}
# SymPy function classes back to matdiff's names
_FROM_FUNC = {sp.exp: "exp", sp.log: "log", sp.sin: "sin", sp.cos: "cos", sp.tan: "tan", sp.tanh: "tanh",
              sp.Abs: "abs", sp.sign: "sign", sp.Heaviside: "step", sp.asin: "arcsin", sp.acos: "arccos",
              sp.atan: "arctan", sp.sinh: "sinh", sp.cosh: "cosh", sp.erf: "erf"}

_WHY = {
    "vec": "SymPy has no vec of a matrix expression",
    "unvec": "SymPy has no unvec of a matrix expression",
    "K": "SymPy has no commutation matrix K(m, n) of symbolic size",
}


def _dim(d):
    """A matdiff dimension as a SymPy expression (sizes named n are Symbol('n'))."""
    if isinstance(d, int):
        return sp.Integer(d)
    if isinstance(d, Plus):
        return sp.Add(*(_dim(t) for t in d.terms))
    if isinstance(d, Dim):
        return sp.Integer(d.coeff) * sp.Mul(*(sp.Symbol(a) if isinstance(a, str) else _dim(a) for a in d.names))
    raise MatdiffError(f"a dimension SymPy cannot represent: {d}")


def _scalar_of(m):
    """A 1x1 SymPy matrix expression as a scalar (matdiff's 1x1 values are scalars)."""
    return MatrixElement(m, 0, 0) if isinstance(m, sp.MatrixExpr) else m


def _apply(name: str, a, scalar: bool):
    f = _FUNCS.get(name)
    if f is None:
        raise MatdiffError(f"SymPy cannot represent the elementwise function {name!r} (no SymPy form known)")
    if scalar:
        return f(a)
    lam = f if isinstance(f, sp.Lambda) else sp.Lambda(_t, f(_t))
    return ElementwiseApplyFunction(lam, a)


def _node(e: Expr, a: list):
    """One node of ``e`` in SymPy from its children's SymPy forms ``a``."""
    op, scalar = e.op, e.is_scalar
    if op == "var":
        name = e.attr[0]
        return sp.Symbol(name) if scalar else sp.MatrixSymbol(name, _dim(e.rows), _dim(e.cols))
    if op == "dvar":
        name = "d" + e.attr[0]
        return sp.Symbol(name) if scalar else sp.MatrixSymbol(name, _dim(e.rows), _dim(e.cols))
    if op == "const":
        return sp.Rational(e.attr.numerator, e.attr.denominator)
    if op == "eye":
        return sp.Identity(_dim(e.rows))
    if op == "ones":
        return sp.OneMatrix(_dim(e.rows), _dim(e.cols))
    if op == "zero":
        return sp.ZeroMatrix(_dim(e.rows), _dim(e.cols))
    matrix = any(isinstance(x, sp.MatrixExpr) for x in a)
    if op == "add":  # (MatAdd / MatMul: Python's operators would expand a 1x1 entry into a Sum)
        return sp.MatAdd(*a) if matrix else sp.Add(*a)
    if op == "mul":
        out = sp.MatMul(*a) if matrix else sp.Mul(*a)
        return _scalar_of(out) if scalar else out
    if op == "transpose":
        return a[0] if scalar else sp.Transpose(a[0])
    if op == "pow":
        return a[0] ** a[1]
    if op == "had":
        return sp.Mul(*a) if scalar else HadamardProduct(*a)
    if op == "hpow":
        return a[0] ** a[1] if scalar else HadamardPower(a[0], a[1])
    if op == "fn":
        return _apply(e.attr, a[0], scalar)
    if op == "trace":
        return sp.Trace(a[0]) if isinstance(a[0], sp.MatrixExpr) else a[0]
    if op == "det":
        return sp.Determinant(a[0]) if isinstance(a[0], sp.MatrixExpr) else a[0]
    if op == "logdet":
        inner = sp.Determinant(a[0]) if isinstance(a[0], sp.MatrixExpr) else a[0]
        return sp.log(sp.Abs(inner))
    if op == "inv":
        return 1 / a[0] if scalar else sp.Inverse(a[0])
    if op == "mpow":
        return a[0] ** e.attr if scalar else sp.MatPow(a[0], e.attr)
    if op in ("sum", "norm2"):
        A, arg = a[0], e.args[0]
        if not isinstance(A, sp.MatrixExpr):
            s = A if op == "sum" else A * A
        else:
            if op == "norm2":
                A = HadamardProduct(A, A)
            s = _scalar_of(sp.OneMatrix(1, _dim(arg.rows)) * A * sp.OneMatrix(_dim(arg.cols), 1))
        return s if op == "sum" else sp.sqrt(s)
    if op == "diagm":
        return a[0] if scalar else DiagMatrix(a[0])
    if op == "diagv":
        return a[0] if scalar else DiagonalOf(a[0])
    if op == "bcast":
        return sp.MatMul(a[0], sp.OneMatrix(_dim(e.rows), _dim(e.cols)))
    if op == "kron":
        return KroneckerProduct(*(x if isinstance(x, sp.MatrixExpr) else sp.Identity(1) * x for x in a))
    if op == "block":
        rows, cols = e.attr
        blocks = [[a[i * len(cols) + j] for j in range(len(cols))] for i in range(len(rows))]
        return sp.BlockMatrix(blocks)
    from ..render.text import to_text

    why = _WHY.get(op, "SymPy has no symbolic form of it for matrices of symbolic size")
    raise MatdiffError(f"SymPy cannot represent the operation {op!r} (in {to_text(e)}): {why}")


def to_sympy(e: Expr):
    """``e`` as a SymPy expression: a matrix expression, or a scalar one for a 1x1 ``e``."""
    done: dict = {}
    names = {n.attr[0] for n in e.walk() if n.op in ("var", "dvar")}
    sizes = {str(s) for n in e.walk() for d in n.shape for s in _dim(d).free_symbols}
    if names & sizes:
        raise MatdiffError(f"{sorted(names & sizes)[0]!r} names both a variable and a size: SymPy would "
                           "read them as one symbol; rename the variable")
    for node in e.walk():  # children first
        done[node] = _node(node, [done[a] for a in node.args])
    return done[e]


# ---------------------------------------------------------------------------- SymPy -> matdiff


def _dim_text(d) -> str:
    d = sp.sympify(d)
    if d.is_Integer:
        return str(int(d))
    if d.is_Symbol:
        return d.name
    if isinstance(d, (sp.Add, sp.Mul)):
        return str(d).replace(" ", "")
    raise MatdiffError(f"a SymPy dimension matdiff cannot read: {d}")


def _num_text(v) -> str:
    q = Fraction(str(v)) if v.is_Float else Fraction(int(v.p), int(v.q))
    s = str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"
    return f"({s})"


def _lambda_name(lam) -> str | None:
    """The matdiff name of an elementwise function given as a SymPy Lambda (or class)."""
    if lam in _FROM_FUNC:
        return _FROM_FUNC[lam]
    if not isinstance(lam, sp.Lambda) or len(lam.variables) != 1:
        return None
    body = lam.expr.xreplace({lam.variables[0]: _t})
    for name, f in _FUNCS.items():
        if body == (f.expr if isinstance(f, sp.Lambda) else f(_t)):
            return name
    return None


def _fn_text(name: str, args: list) -> str:
    return f"{name}({', '.join(args)})"


def _text_node(x, a: list, shapes: dict) -> str:
    """One SymPy node as matdiff text (fully parenthesised) from its children's texts ``a``."""
    if isinstance(x, sp.MatrixSymbol):
        name = x.name
        r, c = x.shape
        decl = _dim_text(r) if c == 1 else f"{_dim_text(r)},{_dim_text(c)}"
        if r == 1 and c == 1:
            decl = ""
        if shapes.setdefault(name, decl) != decl:
            raise MatdiffError(f"SymPy input uses {name!r} with two shapes")
        return name
    if isinstance(x, sp.Symbol):
        if shapes.setdefault(x.name, "") != "":
            raise MatdiffError(f"SymPy input uses {x.name!r} both as a scalar and as a matrix")
        return x.name
    if isinstance(x, (sp.Integer, sp.Rational, sp.Float)):
        return _num_text(x)
    if isinstance(x, (sp.Add, sp.MatAdd)):
        return "(" + " + ".join(a) + ")"
    if isinstance(x, (sp.Mul, sp.MatMul)):
        return "(" + "*".join(a) + ")"
    if isinstance(x, sp.Pow):
        if x.exp == sp.Rational(1, 2):
            return _fn_text("sqrt", a[:1])
        return f"({a[0]}^{a[1]})"
    if isinstance(x, sp.MatPow):
        return f"({a[0]}^{a[1]})"
    if isinstance(x, sp.Inverse):
        return _fn_text("inv", a[:1])
    if isinstance(x, sp.Transpose):
        return f"({a[0]})'"
    if isinstance(x, sp.Trace):
        return _fn_text("tr", a[:1])
    if isinstance(x, sp.Determinant):
        return _fn_text("det", a[:1])
    if isinstance(x, HadamardProduct):
        return "(" + " .* ".join(a) + ")"
    if isinstance(x, HadamardPower):
        return f"({a[0]} .^ {a[1]})"
    if isinstance(x, KroneckerProduct):
        return functools.reduce(lambda p, q: _fn_text("kron", [p, q]), a)
    if isinstance(x, sp.Identity):
        return _fn_text("eye", [_dim_text(x.rows)])
    if isinstance(x, sp.ZeroMatrix):
        return _fn_text("zeros", [_dim_text(x.rows), _dim_text(x.cols)])
    if isinstance(x, sp.OneMatrix):
        return _fn_text("ones", [_dim_text(x.rows), _dim_text(x.cols)])
    if isinstance(x, (DiagMatrix, DiagonalOf)):
        return _fn_text("diag", a[:1])
    if _is_sum(x):
        return _fn_text("sum", a)
    if isinstance(x, MatrixElement):
        if x.parent.shape == (1, 1) and x.i == 0 and x.j == 0:
            return a[0]
        raise MatdiffError(f"matdiff reads whole matrices, not the entry {x} of SymPy input")
    if isinstance(x, sp.BlockMatrix):
        return "[" + "; ".join(", ".join(a[i * x.blockshape[1]:(i + 1) * x.blockshape[1]])
                              for i in range(x.blockshape[0])) + "]"
    if _is_logdet(x):
        return _fn_text("logdet", a)
    if isinstance(x, ElementwiseApplyFunction):
        name = _lambda_name(x.function)
        if name is None:
            raise MatdiffError(f"matdiff has no elementwise function for SymPy's {x.function}")
        return _fn_text(name, a[-1:])
    if isinstance(x, sp.Function):
        name = _FROM_FUNC.get(x.func)
        if name is None:
            raise MatdiffError(f"matdiff has no function for SymPy's {type(x).__name__} (in {x})")
        return _fn_text(name, a)
    raise MatdiffError(f"matdiff cannot read SymPy's {type(x).__name__} (in {x})")


def _is_logdet(x) -> bool:
    """x is log(Abs(Determinant(M))), which matdiff writes logdet(M)."""
    return (isinstance(x, sp.log) and isinstance(x.args[0], sp.Abs)
            and isinstance(x.args[0].args[0], sp.Determinant))


def _is_sum(x) -> bool:
    """x is (ones(1, n)*A*ones(m, 1))[0, 0], the sum of A's entries."""
    if not (isinstance(x, MatrixElement) and isinstance(x.parent, sp.MatMul) and x.parent.shape == (1, 1)):
        return False
    return _summand(x) is not None


def _summand(x):
    """A in (ones(1, n)*A*ones(m, 1))[0, 0] (a ones factor of a vector A is dropped by SymPy)."""
    f = list(x.parent.args)
    lead = bool(f) and isinstance(f[0], sp.OneMatrix) and f[0].rows == 1
    trail = bool(f) and isinstance(f[-1], sp.OneMatrix) and f[-1].cols == 1
    rest = f[int(lead):len(f) - int(trail)]
    if not (lead or trail) or not rest:
        return None
    m = rest[0] if len(rest) == 1 else sp.MatMul(*rest)
    if (lead or m.rows == 1) and (trail or m.cols == 1):
        return m
    return None


_KNOWN = (sp.MatrixSymbol, sp.Symbol, sp.Number, sp.Add, sp.MatAdd, sp.Mul, sp.MatMul, sp.Pow, sp.MatPow,
          sp.Inverse, sp.Transpose, sp.Trace, sp.Determinant, HadamardProduct, HadamardPower, KroneckerProduct,
          sp.Identity, sp.ZeroMatrix, sp.OneMatrix, DiagMatrix, DiagonalOf, MatrixElement, sp.BlockMatrix,
          ElementwiseApplyFunction)


def _children(x) -> tuple:
    """The SymPy sub-expressions a node's text is made of (dimensions and indices are not)."""
    if not isinstance(x, _KNOWN) and not (isinstance(x, sp.Function) and x.func in _FROM_FUNC):
        raise MatdiffError(f"matdiff cannot read SymPy's {type(x).__name__} (in {x})")
    if _is_sum(x):
        return (_summand(x),)
    if _is_logdet(x):
        return (x.args[0].args[0].arg,)
    if isinstance(x, (sp.MatrixSymbol, sp.Identity, sp.ZeroMatrix, sp.OneMatrix, sp.Symbol, sp.Number)):
        return ()
    if isinstance(x, MatrixElement):
        return (x.parent,)
    if isinstance(x, ElementwiseApplyFunction):
        return (x.expr,)
    if isinstance(x, sp.BlockMatrix):
        return tuple(x.blocks[i, j] for i in range(x.blockshape[0]) for j in range(x.blockshape[1]))
    if isinstance(x, sp.Trace):
        return (x.arg,)
    return tuple(x.args)


def sympy_to_text(x) -> tuple[str, dict]:
    """(text in matdiff's language, declared shapes) of a SymPy (matrix) expression."""
    x = sp.sympify(x)
    shapes: dict = {}
    texts: dict = {}
    stack = [(x, False)]
    while stack:
        node, ready = stack.pop()
        if node in texts:
            continue
        kids = _children(node)
        if ready:
            texts[node] = _text_node(node, [texts[k] for k in kids], shapes)
            continue
        stack.append((node, True))
        stack.extend((k, False) for k in kids if k not in texts)
    return texts[x], shapes


def from_sympy(x, shapes: dict | None = None) -> Expr:
    """A SymPy matrix expression as a matdiff :class:`~matdiff.expr.Expr`; each
    ``MatrixSymbol``'s shape becomes its declared shape, a ``Symbol`` is a scalar."""
    from ..lang.parsing import parse

    text, decl = sympy_to_text(x)
    decl.update(shapes or {})
    return parse(text, decl)
