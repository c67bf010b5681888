"""Printing is pure: no parser, no recursion over depth, no process-wide state."""

from __future__ import annotations

import sys

import pytest

import matdiff
from matdiff.lang import parsing
from matdiff.lang.parsing import MAX_DEPTH


def _forbid_parser(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("printing ran the parser")

    monkeypatch.setattr(parsing, "_lark", boom)
    monkeypatch.setattr(parsing, "parse_full", boom)
    monkeypatch.setattr(parsing, "_syntax_tree", boom)


@pytest.mark.parametrize("expr, wrt, shapes", [
    ("x'*A*x + tr(X*B*X')", ["x", "X"], {"x": "n", "A": "n,n", "X": "m,n", "B": "n,n"}),
    ("logdet(X) + tr(inv(X)*A)", ["X"], None),
    ("sum(log(1 + exp(A*w)))", ["w"], None),
    ("A^3", ["A"], None),
    ("kron(A, B)*x", ["x"], {"A": "n,n", "B": "m,m"}),
    ("1 + exp(x)", ["x"], None),
])
def test_printing_results_does_not_run_the_parser(monkeypatch, expr, wrt, shapes):
    d = matdiff.derive(expr, wrt=wrt, shapes=shapes)
    results = [d.expr, d.differential, *d.jacobians.values()]
    if d.expr.is_scalar:
        results += [*d.gradients.values(), d.second_differential, *d.hvps.values(), *d.hessians.values()]
    _forbid_parser(monkeypatch)
    from matdiff.render import text

    text._TEXT_CACHE.clear()
    for e in results:
        assert str(e) and e.latex()
    assert d.latex() and d.latex_lines() and d.to_dict()


def _nested(depth):
    e = "x"
    for i in range(depth):
        e = f"exp({e})" if i % 2 else f"(A*{e} + x)"
    return e


def test_deep_expressions_derive_and_print_with_the_default_recursion_limit():
    limit = sys.getrecursionlimit()
    text = _nested(MAX_DEPTH // 3)
    d = matdiff.derive(f"sum({text})", wrt="x")
    assert d.expr.depth > 60
    g = d.gradient
    assert str(g) and g.latex() and d.latex() and str(d.expr)
    d.to_dict()
    assert sys.getrecursionlimit() == limit


def test_printing_a_very_deep_expression_is_iterative():
    """Deeper than the default recursion limit: built directly, printed, LaTeX'd."""
    from matdiff.core import expr as E

    x = E.var("x", (5, 1))
    A = E.var("A", (5, 5))
    e = x
    for i in range(3 * sys.getrecursionlimit()):
        e = E.fn("exp", e) if i % 2 else E.add(E.mul(A, e), x)
    assert e.depth > sys.getrecursionlimit()
    limit = sys.getrecursionlimit()
    s = str(e)
    assert s.count("exp(") == 3 * sys.getrecursionlimit() // 2
    assert e.latex().count("\\exp") == s.count("exp(")
    assert sys.getrecursionlimit() == limit


def test_bare_constants_only_where_the_text_sizes_them():
    """I/ones/zeros print bare exactly where the rest of the text determines their size,
    and the text parses back to the same expression either way."""
    shapes = {"A": "n,n", "x": "n", "X": "n,m"}
    cases = {"I + A": "A + I", "tr(I)": None, "X'*ones(n)": "X'*ones(n, 1)", "sum(ones(n, m))": None,
             "x'*ones(n, m)*X'*x": "x'*ones*X'*x",
             "kron(I, A)": None, "x*ones(m)'": None}
    for src, want in cases.items():
        e = matdiff.parse(src, shapes=shapes)
        s = str(e)
        if want is not None:
            assert s == want, (src, s)
        assert matdiff.parse(s, shapes=shapes) is e, (src, s)


@pytest.mark.parametrize("text, shapes, kind, pos, end, suggestion", [
    ("tr(X*", None, "parse", 4, 5, None),
    ("x + (A", {"x": "n"}, "parse", 5, 6, None),
    ("traec(X)", None, "parse", 0, 5, "did you mean 'trace' or 'tr'?"),
    ("A*x + y'", {"A": "n,n", "x": "n", "y": "n"}, "shape", 4, 5, None),
    ("x*y", {"x": "n", "y": "n"}, "shape", 1, 2, "did you mean x'*y (a scalar) or x*y' (a matrix)?"),
])
def test_errors_carry_structured_fields(text, shapes, kind, pos, end, suggestion):
    with pytest.raises(matdiff.MatdiffError) as info:
        matdiff.derive(text, wrt="X" if "X" in text else "x", shapes=shapes)
    e = info.value
    assert e.kind == kind and (e.pos, e.end) == (pos, end), e.fields()
    assert e.suggestion == suggestion, e.suggestion
    # the caret text is derived from the same span and str(e) is the message plus it
    from matdiff.core.errors import caret

    assert str(e) == e.message + "\n" + caret(text, e.pos, e.end - e.pos)
    from matdiff.render.json import error_dict

    assert error_dict(e)["error"]["pos"] == pos and error_dict(e)["error"]["text"] == str(e)


def test_errors_without_a_place_have_none_fields():
    with pytest.raises(matdiff.MatdiffError) as info:
        matdiff.derive("tr(X)", wrt="Y")
    e = info.value
    assert e.kind == "derivation" and e.pos is None and e.end is None and e.message == str(e)
