"""Issue 12: results that read like the Cookbook.

Each row of the issue's table prints the expected collected form, and the printed gradient
is right: checked against finite differences by :func:`gradcheck.check_gradient` (the rules
behind each row are value-checked one by one in ``tests/test_simplify.py``). Plus: one
spelling of the identity per result, and Hessians of vector functions without Kronecker
factors.
"""

from __future__ import annotations

import pytest
from gradcheck import check_gradient

import matdiff
from matdiff.render.text import render_derivation

LOGISTIC = "sum(y .* log(sigmoid(X*w)) + (1 - y) .* log(1 - sigmoid(X*w)))"

# (expression, wrt, shapes, symmetric, expected printed gradient)
ROWS = [
    ("tr(X^3)", "X", None, (), "3*(X^2)'"),
    ("tr(A^4)", "A", None, (), "4*(A^3)'"),
    ("det(X^3)", "X", None, (), "3*det(X^3)*inv(X)'"),
    ("(x'*A*x)/(x'*x)", "x", None, ("A",), "2*(A*x - (x'*A*x)*x/(x'*x))/(x'*x)"),
    ("sin(x'*A*x)", "x", None, (), "cos(x'*A*x)*(A + A')*x"),
    (LOGISTIC, "w", None, (), "X'*(y - sigmoid(X*w))"),
    ("x'*(A + eye)*x", "x", None, (), "(A + A' + 2*I)*x"),
    ("trace(W'*X'*X*W) - logdet(W'*W)", "W", {"W": "n,m", "X": "k,n"}, (), "2*X'*X*W - 2*W*inv(W'*W)"),
]


@pytest.mark.parametrize("text, wrt, shapes, sym, expected", ROWS, ids=[r[0] for r in ROWS])
def test_row_prints_the_collected_form(text, wrt, shapes, sym, expected):
    d = matdiff.derive(text, wrt, shapes, symmetric=sym)
    assert str(d.gradient) == expected


@pytest.mark.parametrize("text, wrt, shapes, sym, expected", ROWS, ids=[r[0] for r in ROWS])
def test_row_gradient_is_right(text, wrt, shapes, sym, expected):
    kinds = {"X": "wc"} if text.startswith("det") else None
    sizes = [{"n": 4, "m": 2, "k": 5}, {"n": 5, "m": 3, "k": 3}] if "W" in text else None
    check_gradient(text, wrt, shapes, symmetric=sym, sizes=sizes, kinds=kinds)


def test_printed_collected_form_parses_back_to_the_same_value():
    # the expected text of each row, parsed as an expression, is the gradient matdiff computes
    for text, wrt, shapes, sym, expected in ROWS:
        d = matdiff.derive(text, wrt, shapes, symmetric=sym)
        r = d.check(claim=expected)
        assert r.claim_ok, (text, str(r))


def test_one_spelling_of_the_identity_per_result():
    out = render_derivation(matdiff.derive("x'*(A + eye)*x", "x"))
    assert "eye(" not in out, out
    assert "x'*(A + I)*dx" in out


def test_hessian_of_a_vector_function_has_no_kron():
    d = matdiff.derive("exp(x'*A*x)", "x")
    H = str(d.hessian)
    assert "kron" not in H and "vec" not in H, H
    assert H == "exp(x'*A*x)*(A + A' + (A + A')*x*x'*(A + A'))"
