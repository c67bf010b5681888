"""Rules as data, passes observable: every rule states its identity; a tracer sees each step.

# d tr(X*A*X) = tr(dX*A*X + X*A*dX): the JVP steps of mul and trace; the gradient
# (A*X + X*A)' = X'*A' + A'*X' from the transpose steps of trace, add and mul.
"""

from __future__ import annotations

import pytest

from matdiff.core import expr as E
from matdiff.lang.parsing import parse_full
from matdiff.ops.elementwise import ELEMENTWISE
from matdiff.ops.registry import OPS
from matdiff.passes.differentiate import differential, dvars_for
from matdiff.passes.simplify import RULES, simplify
from matdiff.passes.trace import Step, current, tracing
from matdiff.passes.transpose import transpose_linear


def all_rules():
    for name, od in OPS.items():
        for kind in ("jvp", "transpose", "vec"):
            r = getattr(od, kind)
            if r is not None:
                yield f"{name}.{kind}", r
    for name, d in ELEMENTWISE.items():
        yield f"fn.{name}", d.derivative
    for op, rules in RULES.items():
        for r in rules:
            yield f"simplify.{op}.{r.name}", r
    for name, r in E.NORMAL_FORMS.items():
        yield f"normal.{name}", r


@pytest.mark.parametrize("where,rule", list(all_rules()), ids=lambda x: x if isinstance(x, str) else "")
def test_every_rule_states_its_identity_latex_and_source(where, rule):
    assert rule.name and rule.identity.strip() and rule.latex.strip() and rule.cite.strip(), where
    assert "=" in rule.identity, (where, rule.identity)


def test_rule_names_are_unique_within_each_table():
    simp = [r.name for rs in RULES.values() for r in rs]
    assert len(simp) == len(set(simp))
    jvps = [od.jvp.name for od in OPS.values() if od.jvp.name not in ("d.const", "d.var")]
    assert len(jvps) == len(set(jvps))


def _gradient(text, shapes, wrt="X"):
    p = parse_full(text, shapes)
    dv = dvars_for(p.shapes, [wrt])
    df = simplify(differential(p.expr, dv))
    g, _ = transpose_linear(df, [wrt])
    return df, simplify(g[wrt])


def test_a_traced_derivation_records_jvp_transpose_and_normal_form_steps():
    shapes = {"X": "n,n", "A": "n,n"}
    with tracing() as steps:
        df, g = _gradient("tr(X*A*X)", shapes)
    names = steps.rules()
    for expected in ("d.mul", "d.trace", "T.trace", "T.mul", "T.add"):
        assert expected in names, (expected, names)
    assert all(isinstance(s, Step) for s in steps)
    d_mul = next(s for s in steps if s.rule.name == "d.mul")
    assert str(d_mul.before) == "X*A*X" and str(d_mul.after) == "dX*A*X + X*A*dX"
    assert d_mul.path == ("differentiate",)
    d_tr = next(s for s in steps if s.rule.name == "d.trace")
    assert str(d_tr.before) == "tr(X*A*X)" and isinstance(d_tr.after, E.Expr)
    t_steps = [s for s in steps if s.path and s.path[0] == "transpose"]
    assert t_steps and all(isinstance(s.before, E.Expr) and isinstance(s.after, E.Expr) for s in t_steps)
    assert any(s.path[0] == "normal" for s in steps)  # the constructors report their steps too
    assert current() is None  # uninstalled after the block


def test_tracing_off_gives_identical_results():
    shapes = {"X": "n,n", "A": "n,n"}
    plain = _gradient("tr(X*A*X) + logdet(X) + sum(exp(X) .* A)", shapes)
    with tracing() as steps:
        traced = _gradient("tr(X*A*X) + logdet(X) + sum(exp(X) .* A)", shapes)
    assert steps and plain[0] is traced[0] and plain[1] is traced[1]


def test_named_normal_form_steps_fire():
    X = E.var("X", ("n", "n"))
    with tracing() as steps:
        E.mul(X, E.inv(X), X)
        E.transpose(E.transpose(X))
        E.add(X, E.scale(2, X))
        E.fn("log", E.fn("exp", X))
    names = steps.rules()
    for expected in ("mul.chain-powers", "add.collect", "fn.log-exp"):
        assert expected in names, (expected, names)


def test_simplify_reports_its_rewrites():
    p = parse_full("(A*B)'")
    with tracing() as steps:
        out = simplify(p.expr)
    step = next(s for s in steps if s.rule.name == "simplify.transpose-product")
    assert step.before is p.expr and step.after is out and step.path == ("simplify",)


def test_vec_pass_reports_its_rules():
    from matdiff.passes.vecpass import jacobians

    p = parse_full("A*X*B", {"X": "n,m"})
    dv = dvars_for(p.shapes, ["X"])
    with tracing() as steps:
        jacobians(differential(p.expr, dv), ["X"], p.shapes)
    assert "vec.mul" in steps.rules()


def test_a_derivation_lists_the_rules_it_applied():
    """Derivation.steps: the rules behind the result, each with its identity and source,
    recorded by deriving again under a tracer (the results are the same objects)."""
    import matdiff

    d = matdiff.derive("tr(X*A*X)", wrt="X", shapes={"X": "n,n", "A": "n,n"})
    names = [s.rule.name for s in d.steps]
    for rule in ("d.mul", "d.trace", "T.trace", "T.mul"):
        assert rule in names, names
    assert all(s.rule.identity and s.rule.cite for s in d.steps)
    assert d.steps is d.steps  # computed once
    J = matdiff.derive("A*X*B", wrt="X", shapes={"X": "n,m", "A": "k,n", "B": "m,p"})
    assert any(s.rule.name.startswith("vec.") for s in J.steps)
    assert str(J.jacobian) == "kron(B', A)"
