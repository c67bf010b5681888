"""Property-based tests: random well-typed expression strings (tests/exprgen.py).

* gradients of random scalar expressions agree with finite differences at random
  sizes, for random subsets of the variables (including a symmetric matrix S);
* the input expression and every gradient print to text that parses back to an
  equal expression, and printing is idempotent.

Examples whose value (or gradient) is not finite or is huge are skipped with
``assume``: the generator keeps domains safe, but nested exp / powers can still
overflow.
"""

from __future__ import annotations

import math

import numpy as np
from exprgen import KINDS, n_examples, scalar_expressions, shapes_for, variables_in
from gradcheck import (
    GradientMismatch,
    Inconclusive,
    check_function,
    concrete_shape,
    declared_in,
    names_in,
    random_value,
    shapes_as_strings,
)
from hypothesis import assume, event, given, note, settings
from hypothesis import strategies as st

import matdiff

MAX_ABS = 1e6


def _evaluate_inputs(d, names, sizes, kinds, symmetric, seed):
    rng = np.random.default_rng(seed)
    inputs, cshapes = {}, {}
    for name in names:
        shp = concrete_shape(d.shapes[name], sizes)
        cshapes[name] = shp
        inputs[name] = random_value(shp, kinds.get(name, "any"), rng, symmetric=name in symmetric)
    return inputs, cshapes, rng


@settings(max_examples=n_examples(400), deadline=None)
@given(data=st.data())
def test_random_expression_gradients(data):
    text, with_sym = data.draw(scalar_expressions(max_depth=5), label="expr")
    shapes = declared_in(text, shapes_for(with_sym))
    names = variables_in(text)
    symmetric = names_in(text, ["S"])
    wrt = data.draw(
        st.lists(st.sampled_from(names), min_size=1, max_size=min(3, len(names)), unique=True), label="wrt"
    )
    n = data.draw(st.integers(2, 4), label="n")
    m = data.draw(st.integers(2, 4), label="m")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    note(f"derive({text!r}, wrt={wrt}, symmetric={symmetric}) at n={n}, m={m}")

    single = len(wrt) == 1
    d = matdiff.derive(text, wrt=wrt[0] if single else wrt, shapes=shapes, symmetric=symmetric)
    assert sorted(d.variables) == names, f"d.variables {d.variables} != names in text {names}"
    note(f"gradients: { {k: str(v) for k, v in d.gradients.items()} }")
    f = d.to_numpy()

    inputs, cshapes, rng = _evaluate_inputs(d, names, {"n": n, "m": m}, KINDS, set(symmetric), seed)
    with np.errstate(all="ignore"):
        value, grad = f(**inputs)
    value = float(np.asarray(value, dtype=float).reshape(()))
    grads = {wrt[0]: grad} if single else grad
    finite = (
        math.isfinite(value)
        and abs(value) < MAX_ABS
        and all(
            np.all(np.isfinite(np.asarray(grads[w], dtype=float)))
            and np.all(np.abs(np.asarray(grads[w])) < 1e8)
            for w in wrt
        )
    )
    if not finite:
        event("skipped: value or gradient not finite / huge")
    assume(finite)
    # A wrong derivative is wrong almost everywhere; finite differences that roundoff defeats
    # (sin of a huge argument) fail at one point. So a mismatch is confirmed at two more
    # random points before it counts.
    for attempt in range(3):
        try:
            with np.errstate(all="ignore"):
                check_function(
                    f,
                    inputs,
                    wrt,
                    cshapes,
                    symmetric=symmetric,
                    rng=rng,
                    single=single,
                    context=f"{text!r} by {wrt} at n={n}, m={m}",
                )
            return
        except Inconclusive:
            event("skipped: finite differences cannot resolve the derivative")
            assume(False)
        except GradientMismatch:
            if attempt == 2:
                raise
            event("mismatch at one point: confirming at another")
            inputs, cshapes, rng = _evaluate_inputs(d, names, {"n": n, "m": m}, KINDS, set(symmetric),
                                                    seed + 1000 * (attempt + 1))


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
