"""An independent oracle for values: evaluate the *syntax tree* straight with NumPy.

Gradient checks compare matdiff's derivative with finite differences of matdiff's own
value, so a wrong canonicalization in the constructors (say ``A*B -> B*A``) would make a
consistent, wrong pair. Here the value of the typed, canonicalized, simplified and
compiled expression is compared with a direct evaluation of what the user typed: the
parse tree of ``matdiff.parsing`` (before any Expr is built), read by the small
interpreter in tests/reference.py, with shapes from the parser's unification.
"""

from __future__ import annotations

import math

import numpy as np
from exprgen import KINDS, n_examples, scalar_expressions, shapes_for, variables_in
from gradcheck import concrete_shape, declared_in, names_in, random_value
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st
from reference import reference_value

import matdiff


@settings(max_examples=n_examples(100), deadline=None)
@given(data=st.data())
def test_compiled_value_matches_the_syntax_tree(data):
    """matdiff's value (parsed, canonicalized, compiled) equals a direct evaluation of the input."""
    text, with_sym = data.draw(scalar_expressions(max_depth=5), label="expr")
    shapes = declared_in(text, shapes_for(with_sym))
    names = variables_in(text)
    symmetric = names_in(text, ["S"])
    sizes = {"n": data.draw(st.integers(2, 4)), "m": data.draw(st.integers(2, 4))}
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    d = matdiff.derive(text, wrt=names[0], shapes=shapes, symmetric=symmetric)
    values = {nm: random_value(concrete_shape(d.shapes[nm], sizes), KINDS.get(nm, "any"), rng,
                               symmetric=nm in symmetric) for nm in names}
    with np.errstate(all="ignore"):
        got = float(d.value_numpy()(**values))
        want = float(reference_value(text, shapes, symmetric, values, sizes)[0, 0])
    assume(math.isfinite(want) and abs(want) < 1e8)
    note(f"{text}: matdiff {got!r}, reference {want!r}")
    assert got == want or abs(got - want) <= 1e-8 * max(1.0, abs(want)), (text, got, want)


def test_reference_evaluator_self_check():
    """The oracle itself: a few hand-computed values (and it can disagree)."""
    rng = np.random.default_rng(0)
    A, x = rng.standard_normal((3, 3)), rng.standard_normal(3)
    sh = {"A": "n,n", "x": "n"}
    assert np.isclose(reference_value("x'*A*x", sh, [], {"A": A, "x": x}, {"n": 3})[0, 0], x @ A @ x)
    assert np.isclose(reference_value("tr(A^2)", sh, [], {"A": A, "x": x}, {"n": 3})[0, 0],
                      np.trace(A @ A))
    assert not np.isclose(reference_value("tr(A*A')", sh, [], {"A": A, "x": x}, {"n": 3})[0, 0],
                          np.trace(A @ A))
