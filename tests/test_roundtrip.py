"""Printing round trip: str(e) is text in the input language that parses back to e.

    matdiff.parse(str(e), shapes=<same shapes>, symmetric=<same>) == e

for input expressions and gradients (differentials are excluded: they contain
d(X) terms that are not input-language expressions).  Expressions are
hash-consed, so structurally equal nodes are identical objects.
"""

from __future__ import annotations

import pytest
from exprgen import random_corpus, shapes_for
from gradcheck import declared_in, names_in, shapes_as_strings
from test_cookbook import ALL as COOKBOOK
from test_gradients_numeric import ALL_CASES

import matdiff


def _params():
    out = []
    for p in ALL_CASES:
        expr, wrt, shapes, _kinds, sym, _sizes = p.values
        out.append(pytest.param(expr, wrt, shapes, sym, id=p.id))
    for g in COOKBOOK:
        out.append(pytest.param(g.expr, g.wrt, g.shapes, g.sym, id="cookbook " + g.id))
    for i, (text, with_sym) in enumerate(random_corpus(40, seed=2024)):
        names = sorted(set(__import__("exprgen").variables_in(text)))
        out.append(
            pytest.param(text, names, shapes_for(with_sym), tuple(names_in(text, ["S"])), id=f"random-{i}")
        )
    return out


def _check_round_trip(e, shapes, sym, what, strict=True):
    text = str(e)
    assert isinstance(text, str) and text.strip(), f"{what}: empty printed form"
    assert "<" not in text and "object at" not in text, f"{what}: printed form looks like a repr: {text!r}"
    back = matdiff.parse(text, shapes=shapes, symmetric=names_in(text, sym))
    assert str(back) == text, f"{what}: printing is not idempotent: {text!r} -> {str(back)!r}"
    if strict:
        assert back == e, f"{what}: {text!r} parses to a different expression ({back!r} vs {e!r})"
        assert hash(back) == hash(e)


def _derive(expr, wrt, shapes, sym):
    kw = {"shapes": declared_in(expr, shapes)} if shapes is not None else {}
    if sym:
        kw["symmetric"] = list(sym)
    return matdiff.derive(expr, wrt=wrt, **kw), kw


@pytest.mark.parametrize("expr,wrt,shapes,sym", _params())
def test_round_trip_input_and_gradients(expr, wrt, shapes, sym):
    """parse(str(e), shapes=d.shapes) == e for the input and every gradient."""
    d, kw = _derive(expr, wrt, shapes, sym)
    sh = shapes_as_strings(d.shapes)
    _check_round_trip(d.expr, sh, sym, f"input {expr!r}")
    for name, g in d.gradients.items():
        _check_round_trip(g, sh, sym, f"gradient of {expr!r} by {name}")
    # the parsed input is the same node as derive's expr
    assert matdiff.parse(expr, **kw) == d.expr


@pytest.mark.parametrize("expr,wrt,shapes,sym", _params())
def test_printed_text_parses_and_is_stable(expr, wrt, shapes, sym):
    """Weaker than the round trip: the printed text parses and prints identically again."""
    d, _ = _derive(expr, wrt, shapes, sym)
    sh = shapes_as_strings(d.shapes)
    for name, g in [("<input>", d.expr)] + list(d.gradients.items()):
        _check_round_trip(g, sh, sym, f"{expr!r} by {name}", strict=False)


def test_hash_consing_identical_nodes():
    shapes = {"A": "n,n", "x": "n"}
    e1 = matdiff.parse("x'*A*x + tr(A)", shapes=shapes)
    e2 = matdiff.parse("x'*A*x + tr(A)", shapes=shapes)
    assert e1 is e2
    assert e1 == e2 and hash(e1) == hash(e2)
    assert matdiff.parse("A*x", shapes=shapes) is matdiff.parse("(A)*(x)", shapes=shapes)


@pytest.mark.parametrize(
    "a,b",
    [
        ("A'*B'", "(A')*(B')"),  # postfix transpose binds tightest
        ("x'*A*x", "((x')*A)*x"),  # * is left associative
        ("A*B + C", "(A*B) + C"),
        ("a - b - c", "(a - b) - c"),  # - is left associative
        ("a / b / c", "(a / b) / c"),
        ("2*a^2", "2*(a^2)"),  # ^ binds tighter than *
        ("-a^2", "-(a^2)"),  # ... and tighter than unary minus (-2^2 = -4)
        ("A'^2", "(A')^2"),  # ' binds tighter than ^
        ("A .* B + C", "(A .* B) + C"),
        ("transpose(A)", "A'"),  # aliases
        ("trace(A)", "tr(A)"),
        ("eye*A", "I*A"),
    ],
)
def test_precedence_and_aliases(a, b):
    shapes = {"A": "n,n", "B": "n,n", "C": "n,n", "x": "n"}
    assert matdiff.parse(a, shapes=shapes) == matdiff.parse(b, shapes=shapes)


@pytest.mark.parametrize(
    "a,b",
    [
        ("A*B", "B*A"),
        ("a - b - c", "a - (b - c)"),
        ("A'*B", "A*B'"),
        ("x'*A*y", "y'*A*x"),
        ("a / b / c", "a / (b / c)"),
    ],
)
def test_structurally_different_expressions_differ(a, b):
    shapes = {"A": "n,n", "B": "n,n", "x": "n", "y": "n"}
    assert matdiff.parse(a, shapes=shapes) != matdiff.parse(b, shapes=shapes)


@pytest.mark.parametrize(
    "text", ["2", "0.5", "1e-3", "a", "x'*y", "1 + a", "-a", "a^-1", "A^-1", "x .^ 2", "X ./ Y"]
)
def test_small_expressions_round_trip(text):
    shapes = {"X": "n,m", "Y": "n,m"}
    e = matdiff.parse(text, shapes=shapes)
    assert matdiff.parse(str(e), shapes=shapes) == e


def test_shapes_given_as_tuples_and_strings_agree():
    e1 = matdiff.parse("u'*X*v", shapes={"u": "n", "X": "n,m", "v": "m"})
    e2 = matdiff.parse("u'*X*v", shapes={"u": ("n",), "X": ("n", "m"), "v": ("m",)})
    assert e1 == e2


@pytest.mark.parametrize(
    "text",
    [
        # sub-expressions that simplify to 0 / I / ones while parsing: the printed result must
        # still be a fixed point of parse-then-print
        "tr((I + (x - x)*(x - x)')^-1)",
        "tr(inv(I + 0*A))",
        "det(I + (A - A))",
        "logdet(eye + (x - x)*x')",
        "sum((1 + abs(x - x)) .^ 0.5)",
        "x'*A*(1 + (x - x))",
        "sum(sqrt(1 + 0*A) .* A)",
        "tr(A^0*B)",
        "sum(kron(A - A, B))",
    ],
)
def test_degenerate_simplifications_round_trip(text):
    shapes = {"A": "n,n", "B": "n,n", "x": "n"}
    e = matdiff.parse(text, shapes=shapes)
    printed = str(e)
    back = matdiff.parse(printed, shapes=shapes)
    assert str(back) == printed, f"{text!r} prints as {printed!r}, which re-prints as {str(back)!r}"
    assert back == e


@pytest.mark.parametrize("expr,wrt,shapes,sym", _params())
def test_round_trip_jacobians_and_hessians(expr, wrt, shapes, sym):
    """Second-order results and Jacobians hold I/ones/zeros, Kronecker products and K: the
    printer decides bare vs sized constants from the shapes alone, and the text parses back."""
    d, _ = _derive(expr, wrt, shapes, sym)
    sh = shapes_as_strings(d.shapes)
    results = list(d.jacobians.items())
    if len(d.wrt) <= 2:
        results += [(f"H{k}", H) for k, H in d.hessians.items()] + [(f"hvp {k}", h) for k, h in d.hvps.items()]
        sh = {**sh, **{v: sh[x] for x, v in d.hvp_variables.items()}}
    for name, e in results:
        symmetric = [n.attr[0] for n in e.walk() if n.op == "var" and n.attr[1]]  # S and its V
        _check_round_trip(e, sh, symmetric, f"{name} of {expr!r}")
