"""Property-based tests: random well-typed expression strings (tests/exprgen.py).

* the value of random scalar, vector and matrix expressions equals an independent
  evaluation of the syntax tree (tests/reference.py), and their gradients / Jacobians agree
  with finite differences of that reference value, at random sizes, for random subsets of
  the variables (including a symmetric matrix S); the expressions include Kronecker
  products of non-square and vector factors, kron inside tr/det, products of krons,
  vec/unvec and commutation matrices (tests/randcheck.py does the checking);
* the input expression and every gradient print to text that parses back to an
  equal expression, and printing is idempotent.

Examples whose value (or gradient) is not finite or is huge are skipped with
``assume``: the generator keeps domains safe, but nested exp / powers can still
overflow.
"""

from __future__ import annotations

from exprgen import array_expressions, n_examples, random_corpus, scalar_expressions, shapes_for, variables_in
from gradcheck import declared_in, names_in, shapes_as_strings
from hypothesis import assume, event, given, note, settings
from hypothesis import strategies as st
from randcheck import Skip, check_case

import matdiff


def _check(data, text, with_sym, max_vars):
    names = variables_in(text)
    wrt = data.draw(
        st.lists(st.sampled_from(names), min_size=1, max_size=min(max_vars, len(names)), unique=True),
        label="wrt")
    sizes = {"n": data.draw(st.integers(2, 4), label="n"), "m": data.draw(st.integers(2, 4), label="m")}
    seed = data.draw(st.integers(0, 2**16), label="seed")
    note(f"derive({text!r}, wrt={wrt}) at {sizes}")
    try:
        return check_case(text, with_sym, wrt, sizes, seed)
    except Skip as e:
        event(f"skipped: {e}")
        assume(False)


@settings(max_examples=n_examples(300), deadline=None)
@given(data=st.data())
def test_random_expression_gradients(data):
    """Scalar expressions: matdiff's value equals NumPy on the syntax tree, and the gradient
    agrees with finite differences of that reference value (not of matdiff's own)."""
    text, with_sym = data.draw(scalar_expressions(max_depth=5), label="expr")
    assert _check(data, text, with_sym, 3) == "gradient"


@settings(max_examples=n_examples(75), deadline=None)
@given(data=st.data())
def test_random_expression_jacobians(data):
    """Vector- and matrix-valued expressions (Kronecker products, vec/unvec, K, product
    sizes included): value against the syntax tree, Jacobian against finite differences
    of the reference value."""
    text, with_sym = data.draw(array_expressions(max_depth=4), label="expr")
    assert _check(data, text, with_sym, 2) == "jacobian"


def test_generator_reaches_the_kronecker_regions():
    """The random expressions cover what the issue found wrong: kron of non-square and vector
    factors, row vectors, kron inside tr/det/logdet, products of krons, vec/unvec and K."""
    texts = [t for t, _ in random_corpus(400, seed=7)] + [t for t, _ in random_corpus(200, seed=7, arrays=True)]
    found = {
        "tr(kron(col, row))": r"tr\(kron\([a-z]\b[^,]*, [a-z]'\)\)",
        "tr(kron(n x m, m x n))": r"tr\(kron\(C, D\)\)|tr\(kron\(D, C\)\)",
        "det(I + kron)": r"det\((I|eye) \+ kron\(",
        "logdet(kron)": r"logdet\(kron\(",
        "kron*kron": r"kron\([^;]*\)\*kron\(",
        "kron of a row": r"kron\([a-z]'",
        "K(": r"\bK\(",
        "unvec(": r"\bunvec\(",
    }
    import re

    missing = [k for k, rx in found.items() if not any(re.search(rx, t) for t in texts)]
    assert not missing, f"random expressions never reach {missing}"


def _draw_case(data):
    text, with_sym = data.draw(scalar_expressions(max_depth=4), label="expr")
    shapes = declared_in(text, shapes_for(with_sym))
    names = variables_in(text)
    symmetric = names_in(text, ["S"])
    return text, shapes, names, symmetric


@settings(max_examples=n_examples(150), deadline=None)
@given(data=st.data())
def test_random_input_round_trip(data):
    """parse(str(e)) == e and printing is idempotent, for random input expressions."""
    text, shapes, names, symmetric = _draw_case(data)
    e = matdiff.parse(text, shapes=shapes, symmetric=symmetric)
    printed = str(e)
    note(f"parsed {text!r} -> printed {printed!r}")
    back = matdiff.parse(printed, shapes=shapes, symmetric=symmetric)
    assert str(back) == printed, f"printing is not idempotent: {printed!r} -> {str(back)!r}"
    assert back == e, f"{text!r} printed as {printed!r}, which parses to a different expression"
    d = matdiff.derive(text, wrt=names[0], shapes=shapes, symmetric=symmetric)
    assert d.expr == e, "derive(...).expr differs from parse(...) of the same text"


@settings(max_examples=n_examples(150), deadline=None)
@given(data=st.data())
def test_random_gradient_round_trip(data):
    """For the gradients of random expressions: the printed text parses and re-prints the
    same (stable), and parse(str(g), shapes=d.shapes) == g (round trip)."""
    text, shapes, names, symmetric = _draw_case(data)
    wrt = data.draw(
        st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True), label="wrt"
    )
    d = matdiff.derive(text, wrt=wrt, shapes=shapes, symmetric=symmetric)
    sh = shapes_as_strings(d.shapes)
    for name, g in d.gradients.items():
        gt = str(g)
        note(f"gradient by {name}: {gt!r}")
        g2 = matdiff.parse(gt, shapes=sh, symmetric=names_in(gt, symmetric))
        assert str(g2) == gt, f"gradient by {name}: printing not idempotent: {gt!r} -> {str(g2)!r}"
        assert g2 == g, f"gradient by {name} printed as {gt!r} does not parse back to itself ({str(g2)!r})"
