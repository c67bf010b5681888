"""Every operation of the language, checked numerically against finite differences.

One parametrised test per operation family.  Each case is commented with the
differential identity it exercises; the checker (tests/gradcheck.py) draws
random inputs at two (mostly non-square) sizes and compares the gradient from
``derive(...).to_numpy()`` with central finite differences of the value, along
every coordinate direction and along random directions.

Notation in comments: <G, dX> = sum(G .* dX) = tr(G' dX); the gradient is G.
"""

from __future__ import annotations

import pytest
from gradcheck import check_gradient


def case(expr, wrt, shapes=None, kinds=None, sym=(), sizes=None, id=None):
    return pytest.param(expr, wrt, shapes, kinds or {}, tuple(sym), sizes, id=id or f"{expr} by {wrt}")


def run(expr, wrt, shapes, kinds, sym, sizes):
    check_gradient(expr, wrt, shapes=shapes, symmetric=sym, kinds=kinds, sizes=sizes)


TALL = ({"n": 4, "m": 2}, {"n": 3, "m": 2})  # X n x m with n > m (X'X invertible)

# ----------------------------------------------------------------------------- products


PRODUCTS = [
    # d tr(A X B) = tr(B A dX)  ->  A' B'
    case("tr(A*X*B)", "X", {"A": "k,n", "X": "n,m", "B": "m,k"}),
    # d u'X v = u' dX v  ->  u v'  (and dX-free terms for u, v: X v, X' u)
    case("u'*X*v", ["u", "X", "v"], {"u": "n", "X": "n,m", "v": "m"}),
    # d sum(A X) = 1' A dX 1  ->  A' 1 1'  ;  by A: 1 1' X'
    case("sum(A*X)", ["A", "X"], {"A": "k,n", "X": "n,m"}),
    # d (a tr X) = da tr X + a tr dX  ->  tr(X), a I
    case("a*tr(X)", ["a", "X"], {"a": "", "X": "n,n"}),
    # scalar on the right of a matrix scales too: d sum(X a) = a sum(dX) + sum(X) da
    case("sum(X*a)", ["a", "X"], {"a": "", "X": "n,m"}),
    # product of three scalars
    case("a*b*alpha", ["a", "b", "alpha"]),
    # outer product: d sum(x y') = (1'dx)(y'1) + (1'x)(dy'1)
    case("sum(x*y')", ["x", "y"], {"x": "n", "y": "m"}),
    # inner product: d x'y = dx'y + x'dy  ->  y, x
    case("x'*y", ["x", "y"], {"x": "n", "y": "n"}),
    # a 1x1 product scaling a vector: d sum(x (y'z)) = sum(dx)(y'z) + sum(x)(dy'z + y'dz)
    case("sum(x*(y'*z))", ["x", "y", "z"], {"x": "n", "y": "m", "z": "m"}),
    # dims inferred by unification (no shapes declared): d tr(A X' B X) = tr(A dX' B X) + tr(A X' B dX)
    case("tr(A*X'*B*X)", ["X", "A", "B"]),
    # rectangular chain: d tr(X' A X) = tr(dX'(A + A')X)  ->  (A + A') X
    case("tr(X'*A*X)", ["X", "A"], {"X": "n,m", "A": "n,n"}),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", PRODUCTS)
def test_products(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


# ----------------------------------------------------------------------------- + - unary minus, broadcast

ADDITIVE = [
    # d sum(X + Y) = sum(dX) + sum(dY)  ->  ones, ones
    case("sum(X + Y)", ["X", "Y"], {"X": "n,m", "Y": "n,m"}),
    # d tr(X - 2Y) = tr(dX) - 2 tr(dY)  ->  I, -2 I
    case("tr(X - 2*Y)", ["X", "Y"], {"X": "n,n", "Y": "n,n"}),
    # unary minus: d sum(-X .* Y) = -sum(dX .* Y + X .* dY)  ->  -Y, -X
    case("sum(-X .* Y)", ["X", "Y"], {"X": "n,m", "Y": "n,m"}),
    # unary minus on scalars: d(-a b) = -b da - a db
    case("-a*b", ["a", "b"]),
    # double negation
    case("-(-x'*y)", ["x", "y"], {"x": "n", "y": "n"}),
    # scalar broadcast: d sum(X + a) = sum(dX) + n m da  ->  ones, n*m
    case("sum(X + a)", ["X", "a"], {"X": "n,m", "a": ""}),
    # d ||X - a||^2 = 2 <X - a, dX - da>  ->  2 (X - a), -2 sum(X - a)
    case("norm2(X - a)^2", ["X", "a"], {"X": "n,m"}),
    # scalar minus vector broadcast: d ||a - x||^2 = 2 <a - x, da - dx>
    case("norm2(a - x)^2", ["x", "a"], {"x": "n"}),
    # d sum((X + a) .* (X - b)) = sum((dX + da) .* (X - b) + (X + a) .* (dX - db))
    case("sum((X + a) .* (X - b))", ["X", "a", "b"], {"X": "n,m"}),
    # scalar + 1x1 product: d (1 + x'y) = dx'y + x'dy
    case("1 + x'*y - a", ["x", "y", "a"], {"x": "n", "y": "n"}),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", ADDITIVE)
def test_add_sub_neg_broadcast(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


# ----------------------------------------------------------------------------- division by a scalar

DIVISION = [
    # d (X/a) = dX/a - X da/a^2  ->  ones/a, -sum(X)/a^2
    case("sum(X / a)", ["X", "a"], {"X": "n,m"}, {"a": "pos"}),
    # d tr(X)/(1 + a^2) = tr(dX)/(1 + a^2) - 2 a tr(X) da/(1 + a^2)^2
    case("tr(X) / (1 + a*a)", ["X", "a"], {"X": "n,n"}),
    # d (a/b) = da/b - a db/b^2
    case("a / b", ["a", "b"], None, {"b": "pos"}),
    # d ||x/b||^2 = 2 <x/b, dx/b - x db/b^2>
    case("norm2(x / b)^2", ["x", "b"], {"x": "n"}, {"b": "pos"}),
    # division by a 1x1 product: d (sum(X) / (x'x)) with x'x > 0
    case("sum(X) / (x'*x)", ["X", "x"], {"X": "n,m", "x": "k"}),
    # left-associativity: a / b / c = (a/b)/c
    case("a / b / c", ["a", "b", "c"], None, {"b": "pos", "c": "pos"}),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", DIVISION)
def test_division_by_scalar(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


# ----------------------------------------------------------------------------- transpose

TRANSPOSE = [
    # d tr(X' A) = tr(dX' A)  ->  A
    case("tr(X'*A)", ["X", "A"], {"X": "n,m", "A": "n,m"}),
    # function form: d sum(transpose(X) A) = 1' dX' A 1  ->  1 1' A'
    case("sum(transpose(X)*A)", ["X", "A"], {"X": "n,m", "A": "n,k"}),
    # double transpose is the identity: d tr((X')' A) = tr(dX A)  ->  A'
    case("tr((X')'*A)", "X", {"X": "n,m", "A": "m,n"}),
    # d x'A'y = dx'A'y + x'dA'y + x'A'dy  ->  A'y, y x', A x
    case("x'*A'*y", ["x", "A", "y"], {"x": "n", "A": "m,n", "y": "m"}),
    # transpose of a product: d sum((A X)' .* B) = sum((A dX)' .* B)  ->  A' B'
    case("sum((A*X)' .* B)", ["X", "A"], {"A": "k,n", "X": "n,m", "B": "m,k"}),
    # transpose binds tightest: x'*x is (x')*x
    case("x'*x", "x", {"x": "n"}),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", TRANSPOSE)
def test_transpose(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


# ----------------------------------------------------------------------------- elementwise .* ./ .^

ELEMENTWISE = [
    # d sum(X .* Y) = sum(dX .* Y + X .* dY)  ->  Y, X
    case("sum(X .* Y)", ["X", "Y"], {"X": "n,m", "Y": "n,m"}),
    # d sum(X ./ Y) = sum(dX ./ Y - X .* dY ./ Y.^2)
    case("sum(X ./ Y)", ["X", "Y"], {"X": "n,m", "Y": "n,m"}, {"Y": "pos"}),
    # d sum(X .^ 3) = sum(3 X.^2 .* dX)
    case("sum(X .^ 3)", "X", {"X": "n,m"}),
    # d sum(Y .^ 0.5) = sum(0.5 Y.^-0.5 .* dY)   (Y > 0)
    case("sum(Y .^ 0.5)", "Y", {"Y": "n,m"}, {"Y": "pos"}),
    # negative exponent: d sum(Y .^ -1) = -sum(Y.^-2 .* dY)
    case("sum(Y .^ -1)", "Y", {"Y": "n,m"}, {"Y": "pos"}),
    # parenthesised negative exponent: d sum(Y .^ (-2)) = -2 sum(Y.^-3 .* dY)
    case("sum(Y .^ (-2))", "Y", {"Y": "n,m"}, {"Y": "pos"}),
    # scalar variable exponent: d sum(Y.^a) = sum(a Y.^(a-1) .* dY) + sum(log(Y) .* Y.^a) da
    case("sum(Y .^ a)", ["Y", "a"], {"Y": "n,m"}, {"Y": "pos"}),
    # vectors: d x'(y .* z) = dx'(y.*z) + x'(dy .* z) + x'(y .* dz)
    case("x'*(y .* z)", ["x", "y", "z"], {"x": "n", "y": "n", "z": "n"}),
    # d sum(x ./ (1 + y.*y))
    case("sum(x ./ (1 + y .* y))", ["x", "y"], {"x": "n", "y": "n"}),
    # elementwise ops on a transposed operand: d sum(X' .* A) -> A'
    case("sum(X' .* A)", ["X", "A"], {"X": "n,m", "A": "m,n"}),
    # .* between a 1x1 product and a matrix scales: d sum((x'y) .* X)
    case("sum((x'*y) .* X)", ["x", "y", "X"], {"x": "n", "y": "n", "X": "n,m"}),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", ELEMENTWISE)
def test_elementwise_binary(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


# ----------------------------------------------------------------------------- matrix power, scalar power

POWERS = [
    # d tr(X^2) = tr(dX X + X dX) = 2 tr(X dX)  ->  2 X'
    case("tr(X^2)", "X", {"X": "n,n"}),
    # d tr(X^3) = 3 tr(X^2 dX)  ->  3 (X^2)'
    case("tr(X^3)", "X", {"X": "n,n"}),
    # d sum(X^3) = sum(dX X X + X dX X + X X dX)
    case("sum(X^3)", "X", {"X": "n,n"}),
    # X^-1 = inv(X): d tr(X^-1 A) = -tr(X^-1 dX X^-1 A)  ->  -X^-T A' X^-T
    case("tr(X^-1*A)", ["X", "A"], {"X": "n,n", "A": "n,n"}, {"X": "wc"}),
    # X^-2 = inv(X)^2: d tr(X^-2) = -2 tr(X^-3 dX)  ->  -2 (X^-3)'
    case("tr(X^-2)", "X", {"X": "n,n"}, {"X": "wc"}),
    # X^0 = I (constant), X^1 = X: d tr(X^0 + X^1) = tr(dX)  ->  I
    case("tr(X^0 + X^1)", "X", {"X": "n,n"}),
    # transpose binds tighter than ^: X'^2 = (X')^2
    case("sum(X'^2 .* A)", ["X", "A"], {"X": "n,n", "A": "n,n"}),
    # scalar power with variable exponent: d a^b = b a^(b-1) da + a^b log(a) db
    case("a^b", ["a", "b"], None, {"a": "pos"}),
    # d (a^3 + a^-1 + a^0.5) = (3a^2 - a^-2 + 0.5 a^-0.5) da
    case("a^3 + a^-1 + a^0.5", "a", None, {"a": "pos"}),
    # d (1 + a^2)^-1.5 = -1.5 (1 + a^2)^-2.5 2a da
    case("(1 + a^2)^-1.5", "a"),
    # a 1x1 product raised to a scalar power: d (x'x)^2 = 2 (x'x) 2 x'dx
    case("(x'*x)^2", "x", {"x": "n"}),
    # scalar power of a trace: d tr(X)^3 = 3 tr(X)^2 tr(dX)
    case("tr(X)^3", "X", {"X": "n,n"}),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", POWERS)
def test_powers(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


# ----------------------------------------------------------------------------- trace

TRACE = [
    # d tr X = tr dX  ->  I
    case("tr(X)", "X", {"X": "n,n"}),
    # alias trace: d tr(X'X) = 2 tr(X' dX)  ->  2 X
    case("trace(X'*X)", "X", {"X": "n,m"}),
    # d tr(A X') = tr(A dX')  ->  A
    case("tr(A*X')", ["A", "X"], {"A": "n,m", "X": "n,m"}),
    # trace of an outer product: d tr(x y') = d y'x
    case("tr(x*y')", ["x", "y"], {"x": "n", "y": "n"}),
    # trace of a 1x1: tr(x'y) = x'y
    case("tr(x'*y)", ["x", "y"], {"x": "n", "y": "n"}),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", TRACE)
def test_trace(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


# ----------------------------------------------------------------------------- det, logdet, inv

DETERMINANTS = [
    # d det X = det(X) tr(inv(X) dX)  ->  det(X) X^-T
    case("det(X)", "X", {"X": "n,n"}, {"X": "wc"}, id="det(X) det>0"),
    case("det(X)", "X", {"X": "n,n"}, {"X": "wcneg"}, id="det(X) det<0"),
    # d det(A X B) = det(AXB) tr(X^-1 dX) (A, B square)  ->  det(AXB) X^-T ; same for A, B
    case(
        "det(A*X*B)", ["X", "A", "B"], {"A": "n,n", "X": "n,n", "B": "n,n"}, {"A": "wc", "X": "wc", "B": "wc"}
    ),
    # tall X: d det(X'X) = 2 det(X'X) tr((X'X)^-1 X' dX)  ->  2 det(X'X) X (X'X)^-1
    case("det(X'*X)", "X", {"X": "n,m"}, sizes=TALL),
    # d det(a X) = d (a^n det X): n a^(n-1) det(X) da + a^n det(X) tr(X^-1 dX)
    case("det(a*X)", ["a", "X"], {"X": "n,n"}, {"X": "wc", "a": "pos"}),
    # d log|det X| = tr(X^-1 dX)  ->  X^-T     (Cookbook (57): holds for det < 0 too)
    case("logdet(X)", "X", {"X": "n,n"}, {"X": "wc"}, id="logdet(X) det>0"),
    case("logdet(X)", "X", {"X": "n,n"}, {"X": "wcneg"}, id="logdet(X) det<0"),
    # d logdet(X'X) = 2 tr((X'X)^-1 X' dX)  ->  2 X (X'X)^-1
    case("logdet(X'*X)", "X", {"X": "n,m"}, sizes=TALL),
    # d logdet(I + X X') = tr((I + XX')^-1 (dX X' + X dX'))  ->  2 (I + XX')^-1 X
    case("logdet(I + X*X')", "X", {"X": "n,m"}),
    # d logdet(a*X) = n da/a + tr(X^-1 dX)
    case("logdet(a*X)", ["a", "X"], {"X": "n,n"}, {"X": "wc", "a": "pos"}),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", DETERMINANTS)
def test_det_logdet(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


INVERSES = [
    # d inv(X) = -inv(X) dX inv(X):  d tr(inv(X) A) -> -X^-T A' X^-T ; by A: X^-T
    case("tr(inv(X)*A)", ["X", "A"], {"X": "n,n", "A": "n,n"}, {"X": "wc"}),
    # d sum(inv(X)) = -1' X^-1 dX X^-1 1  ->  -X^-T 1 1' X^-T
    case("sum(inv(X))", "X", {"X": "n,n"}, {"X": "wc"}),
    # d x' X^-1 y = dx' X^-1 y - x' X^-1 dX X^-1 y + x' X^-1 dy   (Cookbook (61))
    case("x'*inv(X)*y", ["x", "X", "y"], {"x": "n", "X": "n,n", "y": "n"}, {"X": "wc"}),
    # d tr((I + X X')^-1) = -tr((I+XX')^-2 (dX X' + X dX'))  ->  -2 (I + XX')^-2 X
    case("tr(inv(I + X*X'))", "X", {"X": "n,m"}),
    # d sum(inv(X) inv(X)) (product rule on two inverses)
    case("sum(inv(X)*inv(X))", "X", {"X": "n,n"}, {"X": "wc"}),
    # inverse of a transpose, of a scaled matrix: d tr(inv(a X')) = -tr(inv(aX')^2 (da X' + a dX'))
    case("tr(inv(a*X'))", ["a", "X"], {"X": "n,n"}, {"X": "wc", "a": "pos"}),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", INVERSES)
def test_inverse(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


# ----------------------------------------------------------------------------- elementwise functions

# function -> (input kind, derivative identity)
ELEMENTWISE_FUNCTIONS = {
    "exp": ("any", "d exp(X) = exp(X) .* dX"),
    "log": ("pos", "d log(X) = dX ./ X"),
    "sin": ("any", "d sin(X) = cos(X) .* dX"),
    "cos": ("any", "d cos(X) = -sin(X) .* dX"),
    "tan": ("small", "d tan(X) = (1 + tan(X).^2) .* dX"),
    "tanh": ("any", "d tanh(X) = (1 - tanh(X).^2) .* dX"),
    "sqrt": ("pos", "d sqrt(X) = dX ./ (2 sqrt(X))"),
    "abs": ("any", "d abs(X) = sign(X) .* dX   (X != 0)"),
    "sigmoid": ("any", "d sigmoid(X) = sigmoid(X) .* (1 - sigmoid(X)) .* dX"),
    "relu": ("any", "d relu(X) = (X > 0) .* dX   (X != 0)"),
}

ELEMENTWISE_FUNCTION_CASES = []
for _fn, (_kind, _rule) in ELEMENTWISE_FUNCTIONS.items():
    # matrix argument, weighted by a second matrix: d sum(f(X) .* A) = sum(f'(X) .* A .* dX) ; by A: f(X)
    ELEMENTWISE_FUNCTION_CASES.append(
        case(
            f"sum({_fn}(X) .* A)",
            ["X", "A"],
            {"X": "n,m", "A": "n,m"},
            {"X": _kind},
            id=f"{_fn} matrix: {_rule}",
        )
    )
    # vector argument: d y'f(x) = y' (f'(x) .* dx) + dy' f(x)
    ELEMENTWISE_FUNCTION_CASES.append(
        case(f"y'*{_fn}(x)", ["x", "y"], {"x": "n", "y": "n"}, {"x": _kind}, id=f"{_fn} vector")
    )
    # scalar argument: d f(a) = f'(a) da
    ELEMENTWISE_FUNCTION_CASES.append(case(f"{_fn}(a)", "a", None, {"a": _kind}, id=f"{_fn} scalar"))
    # composition with an affine matrix argument: d sum(f(A X)) = sum(f'(AX) .* (A dX))
    _aff_kind = {"log": "pos", "sqrt": "pos", "tan": "small"}.get(_fn, "any")
    if _aff_kind == "any":
        ELEMENTWISE_FUNCTION_CASES.append(
            case(f"sum({_fn}(A*X))", ["A", "X"], {"A": "k,n", "X": "n,m"}, id=f"{_fn} of a product")
        )
    else:
        # keep the argument in the domain: A, X positive -> A X positive; tan: scale into (-1, 1)
        _arg = "A*X" if _aff_kind == "pos" else "tanh(A*X)"
        ELEMENTWISE_FUNCTION_CASES.append(
            case(
                f"sum({_fn}({_arg}))",
                ["A", "X"],
                {"A": "k,n", "X": "n,m"},
                {"A": "pos", "X": "pos"},
                id=f"{_fn} of a product",
            )
        )


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", ELEMENTWISE_FUNCTION_CASES)
def test_elementwise_functions(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


# ----------------------------------------------------------------------------- sum, norm2

REDUCTIONS = [
    # d sum(X) = sum(dX)  ->  ones(n, m)
    case("sum(X)", "X", {"X": "n,m"}),
    case("sum(x)", "x", {"x": "n"}),
    # sum of a scalar is the scalar
    case("sum(a)", "a"),
    # d sum(X x) = 1'(dX x + X dx)  ->  1 x', X'1
    case("sum(X*x)", ["X", "x"], {"X": "n,m", "x": "m"}),
    # d ||x|| = x'dx / ||x||  ->  x / ||x||
    case("norm2(x)", "x", {"x": "n"}),
    # Frobenius: d ||X||_F = <X, dX> / ||X||_F
    case("norm2(X)", "X", {"X": "n,m"}),
    # d ||X||_F^2 = 2 <X, dX>  ->  2 X
    case("norm2(X)^2", "X", {"X": "n,m"}),
    # d ||A x - b|| = (Ax - b)'(dA x + A dx - db) / ||Ax - b||
    case("norm2(A*x - b)", ["A", "x", "b"], {"A": "n,m", "x": "m", "b": "n"}),
    # norm of a row vector equals the norm of the column
    case("norm2(x')", "x", {"x": "n"}),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", REDUCTIONS)
def test_sum_norm2(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


# ----------------------------------------------------------------------------- diag, vec, kron

STRUCTURAL = [
    # diag(x) vector -> matrix: d tr(diag(x) A) = diag(A)'dx  ->  diag(A) ; by A: diag(x)
    case("tr(diag(x)*A)", ["x", "A"], {"x": "n", "A": "n,n"}),
    # d sum(diag(x) X) = sum(diag(dx) X)  ->  X 1
    case("sum(diag(x)*X)", ["x", "X"], {"x": "n", "X": "n,m"}),
    # diag(X) square -> vector: d y'diag(X) = y'diag(dX)  ->  diag(y) ; by y: diag(X)
    case("y'*diag(X)", ["y", "X"], {"y": "n", "X": "n,n"}),
    # d ||diag(X)||^2 = 2 diag(X)'diag(dX)  ->  2 diag(diag(X))
    case("norm2(diag(X))^2", "X", {"X": "n,n"}),
    # diag(diag(X)) keeps the diagonal: d sum(diag(diag(X))) = tr(dX)  ->  I
    case("sum(diag(diag(X)))", "X", {"X": "n,n"}),
    # vec: vec(X)'vec(Y) = tr(X'Y)  ->  Y, X
    case("vec(X)'*vec(Y)", ["X", "Y"], {"X": "n,m", "Y": "n,m"}),
    # d sum(vec(X)) = sum(dX)  ->  ones
    case("sum(vec(X))", "X", {"X": "n,m"}),
    # d vec(X)'vec(X A) = tr(dX' X A) + tr(X' dX A)  ->  X A + X A'
    case("vec(X)'*vec(X*A)", ["X", "A"], {"X": "n,m", "A": "m,m"}),
    # kron: tr(A (x) X) = tr(A) tr(X)  ->  tr(A) I ; by A: tr(X) I        (Cookbook (105))
    case("tr(kron(A, X))", ["A", "X"], {"A": "n,n", "X": "m,m"}),
    # sum(X (x) Y) = sum(X) sum(Y)
    case("sum(kron(X, Y))", ["X", "Y"], {"X": "n,m", "Y": "k,n"}),
    # ||X (x) Y||_F^2 = ||X||^2 ||Y||^2
    case("norm2(kron(X, Y))^2", ["X", "Y"], {"X": "n,m", "Y": "m,k"}),
    # mixed product: tr((X (x) Y)(A (x) B)) = tr(XA) tr(YB)
    case("tr(kron(X, Y)*kron(A, B))", ["X", "Y", "A"], {"X": "n,m", "Y": "k,n", "A": "m,n", "B": "n,k"}),
    # kron of vectors: sum(x (x) y) = sum(x) sum(y)
    case("sum(kron(x, y))", ["x", "y"], {"x": "n", "y": "m"}),
    # (B (x) X) vec(C) = vec(X C B'):  vec(C)'(B (x) X)vec(C) = tr(C' X C B'); needs m*n == n*m
    case("vec(C)'*kron(B, X)*vec(C)", ["X", "B", "C"], {"C": "n,m", "B": "m,m", "X": "n,n"}),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", STRUCTURAL)
def test_diag_vec_kron(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


# ----------------------------------------------------------------------------- I / eye / ones / numbers

CONSTANTS = [
    # tr(X + I) = tr(X) + n  ->  I
    case("tr(X + I)", "X", {"X": "n,n"}),
    # sum(X .* I) = tr(X)  ->  I
    case("sum(X .* I)", "X", {"X": "n,n"}),
    # eye alias: tr(eye X) = tr(X)
    case("tr(eye*X)", "X", {"X": "n,n"}),
    # ones of inferred shape: sum(ones .* X) = sum(X)  ->  ones
    case("sum(ones .* X)", "X", {"X": "n,m"}),
    # ones between two vectors is n x m: x' ones z = sum(x) sum(z)  ->  sum(z) 1, sum(x) 1
    case("x'*ones*z", ["x", "z"], {"x": "n", "z": "m"}),
    # ones vector fixed by X: X*ones with ones m x 1 = row sums;  d ||X 1||^2 -> 2 X 1 1'
    case("norm2(X*ones - x)^2", ["X", "x"], {"X": "n,m", "x": "n"}),
    # tr(X ones) with ones m x n = sum(X)
    case("tr(X*ones)", "X", {"X": "n,m"}),
    # x'(A + I)x  ->  (A + A' + 2I) x ; by A: x x'
    case("x'*(A + I)*x", ["x", "A"], {"x": "n", "A": "n,n"}),
    # ||X - ones||^2  ->  2 (X - ones)
    case("norm2(X - ones)^2", "X", {"X": "n,m"}),
    # number literals 2, 0.5, 1e-3, 2.5e-1
    case("2*tr(X) + 0.5*sum(X) + 1e-3*norm2(X)^2 - 3", "X", {"X": "n,n"}),
    case("2.5e-1*sum(X .^ 2) + 1e2*a", ["X", "a"], {"X": "n,m"}),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", CONSTANTS)
def test_identity_ones_numbers(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


# ----------------------------------------------------------------------------- explicitly sized constants

SIZED_CONSTANTS = [
    # eye(n): tr(eye(n) X) = tr(X)  ->  I
    case("tr(eye(n)*X)", "X", {"X": "n,n"}),
    # ones(n, m): sum(ones(n, m) .* X) = sum(X)  ->  ones
    case("sum(ones(n, m) .* X)", "X", {"X": "n,m"}),
    # ones(m, 1) column: ||X ones(m,1)||^2  ->  2 X 1 1'
    case("norm2(X*ones(m, 1))^2", "X", {"X": "n,m"}),
    # zeros(n, m) adds nothing: sum((X + zeros(n, m)) .^ 2)  ->  2 X
    case("sum((X + zeros(n, m)) .^ 2)", "X", {"X": "n,m"}),
    # integer sizes: tr(eye(3) X) with X 3x3
    case("tr(eye(3)*X) + sum(ones(3, 3) .* X)", "X", {"X": "3,3"}),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", SIZED_CONSTANTS)
def test_sized_constants(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


# ----------------------------------------------------------------------------- symmetric variables

SYMMETRIC = [
    # Frobenius gradient G = A; symmetric S: grad = sym(A) = (A + A')/2
    case("tr(S*A)", "S", {"S": "n,n", "A": "n,n"}, sym=["S"]),
    # G = x x' (already symmetric)
    case("x'*S*x", ["S", "x"], {"S": "n,n", "x": "n"}, sym=["S"]),
    # G = inv(S)
    case("logdet(S)", "S", {"S": "n,n"}, sym=["S"]),
    # G = det(S) inv(S)
    case("det(S)", "S", {"S": "n,n"}, sym=["S"]),
    # G = -inv(S) A' inv(S); grad = sym(G)
    case("tr(inv(S)*A)", "S", {"S": "n,n", "A": "n,n"}, sym=["S"]),
    # Gaussian negative log-likelihood kernel: grad = -inv(S) x x' inv(S) + inv(S)
    case("x'*inv(S)*x + logdet(S)", "S", {"S": "n,n", "x": "n"}, sym=["S"]),
    # symmetric and non-symmetric variables together: G_S = A, G_A = S
    case("sum(S .* A)", ["S", "A"], {"S": "n,n", "A": "n,n"}, sym=["S"]),
    # G_S = 2 (S x - y) x', grad = sym(G_S)
    case("norm2(S*x - y)^2", ["S", "x", "y"], {"S": "n,n", "x": "n", "y": "n"}, sym=["S"]),
    # two symmetric variables: tr(S T S) -> G_S = (T S + S T)' = S T + T S
    case("tr(S*T*S)", ["S", "T"], {"S": "n,n", "T": "n,n"}, {"T": "sym"}, sym=["S", "T"]),
    # shapes of symmetric variables inferred (no declaration)
    case("tr(S*A*S*B)", "S", None, {"S": "sym"}, sym=["S"]),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", SYMMETRIC)
def test_symmetric_variables(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


# ----------------------------------------------------------------- default naming rules / inference

INFERENCE = [
    # no declarations: x, y vectors (h-z), A matrix; dims from unification (A is n x m)
    case("x'*A*y", ["x", "A", "y"]),
    # chain of three undeclared matrices: A p x q, B q x r, C r x p
    case("tr(A*B*C)", ["A", "B", "C"]),
    # Greek names are scalars
    case("alpha*sum(X) + beta^2", ["alpha", "beta", "X"]),
    # 'lambda' is a Python keyword: must still work as a variable name
    case("lambda*norm2(w)^2 + mu", ["lambda", "w", "mu"]),
    case("sigma^2*tr(X'*X) + exp(gamma)", ["sigma", "X", "gamma"]),
    # a-g scalars, h-z vectors
    case("c*h'*k + g", ["c", "h", "k", "g"]),
    # integer dimensions
    case("x'*A*x", ["x", "A"], {"x": "3", "A": "3,3"}),
    # tuple shapes
    case("u'*X*v", ["u", "X", "v"], {"u": ("n",), "X": ("n", "m"), "v": ("m",)}),
    # partially declared: v's dimension inferred from X
    case("u'*X*v", ["X", "v"], {"X": "n,m"}),
    # size-1 dimensions are legitimate sizes
    case(
        "x'*A*y + tr(A'*A)",
        ["x", "A", "y"],
        {"x": "n", "A": "n,m", "y": "m"},
        sizes=({"n": 1, "m": 3}, {"n": 2, "m": 1}),
        id="size-1 dims",
    ),
]


@pytest.mark.parametrize("expr,wrt,shapes,kinds,sym,sizes", INFERENCE)
def test_inference_and_naming(expr, wrt, shapes, kinds, sym, sizes):
    run(expr, wrt, shapes, kinds, sym, sizes)


ALL_CASES = (
    PRODUCTS
    + ADDITIVE
    + DIVISION
    + TRANSPOSE
    + ELEMENTWISE
    + POWERS
    + TRACE
    + DETERMINANTS
    + INVERSES
    + ELEMENTWISE_FUNCTION_CASES
    + REDUCTIONS
    + STRUCTURAL
    + CONSTANTS
    + SIZED_CONSTANTS
    + SYMMETRIC
    + INFERENCE
)
