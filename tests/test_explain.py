"""Explain (issue 13): every step of every explanation is an equality, checked numerically.

Both sides of each step are evaluated from their text in matdiff's language by the
independent evaluator of ``reference.py`` (the syntax tree with NumPy), at random inputs:

* a differential step ``d(M) = L``: central differences of M along a random dX (Richardson
  extrapolated) against L at that dX; second-differential steps the same with dX held fixed;
* an inner-product (transpose) step ``<C, L(dX)> = <L^T(C), M>``: once with the cotangent the
  pass carried, once with the rule applied again to a random C (a new variable);
* a vec step ``vec(L(dX)) = J*vec(dX)``, a simplification ``A = B``: both sides at a random point.

on the Cookbook cases, the README's examples and random expressions of the project's
generator (more than 200 expressions in all). A step that is not an equality at two random
points in a row fails. Every rule an explanation can name states its identity and source.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from exprgen import (
    KINDS,
    array_expressions,
    n_examples,
    random_corpus,
    scalar_expressions,
    shapes_for,
    variables_in,
)
from gradcheck import concrete_shape, declared_in, names_in, random_value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import reference_function
from test_cookbook import ALL as COOKBOOK

import matdiff
from matdiff.cli import main
from matdiff.core.shapes import shape_to_dims
from matdiff.render.explain import EXPLAIN_RULES, ExplainStep, reachable_rules
from matdiff.render.text import to_text

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _dims(shape) -> str:
    return ",".join(str(x) for x in shape_to_dims(shape))


_FNS: dict = {}  # compiled reference evaluators, shared by the points of one expression


class _Point:
    """Random values of the variables (and of dX for each wrt) at concrete sizes."""

    def __init__(self, d, sizes, kinds, rng):
        self.d, self.sizes, self.rng = d, sizes, rng
        self.shapes = {n: ",".join(str(x) for x in dims) for n, dims in d.shapes.items()}
        self.symmetric = set(d.symmetric)
        self.values = {}
        for name, dims in d.shapes.items():
            kind = kinds.get(name, "spd" if name in self.symmetric else "any")
            self.values[name] = random_value(concrete_shape(dims, sizes), kind, self.rng,
                                             symmetric=name in self.symmetric)
        for name in d.wrt:
            dn = "d" + name
            self.shapes[dn] = self.shapes[name]
            if name in self.symmetric:
                self.symmetric.add(dn)
            v = random_value(concrete_shape(d.shapes[name], sizes), "any", self.rng,
                             symmetric=name in d.symmetric)
            self.values[dn] = v

    def fn(self, text, extra=None):
        shapes = dict(self.shapes, **(extra or {}))
        key = (text, tuple(sorted(shapes.items())), tuple(sorted(self.symmetric)), tuple(sorted(self.sizes.items())))
        if key not in _FNS:
            _FNS[key] = reference_function(text, shapes, sorted(self.symmetric), self.sizes)
        return _FNS[key]

    def value(self, text, values=None, extra=None):
        with np.errstate(all="ignore"):
            return np.asarray(self.fn(text, extra)(values or self.values), dtype=float)

    def along(self, text, name, h):
        """``text`` at ``name + h*d name`` (every other value, dX included, fixed)."""
        vals = dict(self.values)
        vals[name] = np.asarray(self.values[name]) + h * np.asarray(self.values["d" + name])
        return self.value(text, vals)


def _close(a, b, tol=1e-6) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size != b.size:
        return False
    a, b = a.reshape(-1), b.reshape(-1)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise _Inconclusive  # an overflow at this point (exp of exp ...) proves nothing either way
    scale = max(1.0, float(np.max(np.abs(a), initial=0)), float(np.max(np.abs(b), initial=0)))
    return bool(np.max(np.abs(a - b), initial=0) <= tol * scale)


class _Inconclusive(Exception):
    """Both sides of a step could not be compared at the random point (a value overflowed)."""


def _fd(pt, text, names, h=1e-3):
    """Directional derivative of ``text`` along (dX for X in names), Richardson-extrapolated."""
    def at(h):
        vals = dict(pt.values)
        for n in names:
            vals[n] = np.asarray(pt.values[n]) + h * np.asarray(pt.values["d" + n])
        return pt.value(text, vals)

    def cd(h):
        return (at(h) - at(-h)) / (2 * h)

    return (4 * cd(h / 2) - cd(h)) / 3


def step_holds(step: ExplainStep, pt: _Point, d) -> tuple[bool, str]:
    """Whether both sides of the step agree at the point (and why not)."""
    before, after = step.texts()
    if step.relation == "differential":
        rhs = pt.value(after)
        if step.partial is not None:  # the line as shown, its d(...) replaced by the lines expanding them
            from matdiff.core import expr as E

            shown = to_text(E.substitute(step.partial, {p: st.after for p, st in step.opened.items()}))
            if not _close(pt.value(shown), rhs, 1e-8):
                return False, f"as shown, {step.shown[1]} = {shown} is not {after}"
        for h in (1e-3, 1e-4, 1e-5):  # a steep or fast-oscillating function needs a smaller step
            lhs = _fd(pt, before, d.wrt, h)
            if _close(lhs, rhs, 1e-5):
                return True, ""
        return False, f"d({before}) = {after}: {lhs.ravel()[:4]} vs {rhs.ravel()[:4]}"
    if step.relation == "equal":
        lhs, rhs = pt.value(before), pt.value(after)
        return _close(lhs, rhs, 1e-8), f"{before} = {after}: {lhs.ravel()[:4]} vs {rhs.ravel()[:4]}"
    if step.relation == "vec":
        lhs, rhs = pt.value(before), pt.value(after)
        return _close(lhs, rhs, 1e-8), f"{before} = {after}: {lhs.ravel()[:4]} vs {rhs.ravel()[:4]}"
    if step.relation == "inner":
        lhs, rhs = pt.value(before), pt.value(after)
        if not _close(lhs, rhs, 1e-8):
            return False, f"{before} = {after}: {lhs} vs {rhs}"
        # the same rule applied to a random cotangent C
        from matdiff.core import expr as E

        C = E.var("Cq", step.node.shape)
        pulled = step.rule(step.node, C, step.index)
        extra = {"Cq": _dims(step.node.shape)}
        vals = dict(pt.values, Cq=pt.rng.standard_normal(concrete_shape(shape_to_dims(step.node.shape), pt.sizes)))
        from matdiff.render.explain import _inner_text

        lt, rt = _inner_text(C, step.before), _inner_text(pulled, step.arg)
        lhs, rhs = pt.value(lt, vals, extra), pt.value(rt, vals, extra)
        return _close(lhs, rhs, 1e-8), f"random C: {lt} = {rt}: {lhs} vs {rhs}"
    assert step.relation == "normal", step.relation
    # a constructor's normal form: the sum (product) of the operands it was given, or the node
    # as it was before the rewrite ((X')' for (X')' = X), against what it built
    lhs, rhs = pt.value(before), pt.value(after)
    return _close(lhs, rhs, 1e-8), f"{before} = {after}: {lhs.ravel()[:4]} vs {rhs.ravel()[:4]}"


def results_hold(ex, pt: _Point, d) -> tuple[bool, str]:
    """The closing lines: df = sum_X <G_X, dX> (each gradient and each G_X line),
    vec(dF) = sum_X J_X*vec(dX), d2f = sum_X <dX, H[dX]_X> (the Hessian's bilinear form)."""
    def inner(G, name):
        return f"({G})*(d{name})" if G.is_scalar else f"sum(({to_text(G)}) .* (d{name}))"

    by = {}
    for _, lhs, e in ex.results:
        by.setdefault(lhs, e)
    df = to_text(by["df" if d.expr.is_scalar else "dF"])
    checks = []
    if d.expr.is_scalar:
        checks.append(("grad", " + ".join(inner(by[f"grad_{n} f"], n) for n in d.wrt)))
        if len(d.wrt) > 1:
            checks.append(("G_X", " + ".join(inner(by[f"G_{n}"], n) for n in d.wrt if f"G_{n}" in by) or "0"))
        else:
            g = by.get(f"df = <G, d{d.wrt[0]}>, G")
            if g is not None:
                checks.append(("G", inner(g, d.wrt[0])))
        pairs = [(df, text) for _, text in checks]
        if "d2f" in by:
            hv = [k for k in by if k.startswith("H[")]
            sub = {v: "d" + n for n, v in d.hvp_variables.items()}
            terms = []
            for n in d.wrt:
                key = next(k for k in hv if len(d.wrt) == 1 or k.endswith("_" + n))
                h = re.sub(r"\b(" + "|".join(map(re.escape, sub)) + r")\b", lambda m: sub[m.group(1)],
                           to_text(by[key]))
                terms.append(f"({h})*(d{n})" if by[key].is_scalar else f"sum(({h}) .* (d{n}))")
            pairs.append((to_text(by["d2f"]), " + ".join(terms)))
    else:
        pairs = [(f"vec({df})", " + ".join(f"({to_text(by[f'dvec(F)/dvec({n})'])})*vec(d{n})" for n in d.wrt))]
    for lhs_t, rhs_t in pairs:
        lhs, rhs = pt.value(lhs_t), pt.value(rhs_t)
        if not _close(lhs, rhs, 1e-8):
            return False, f"{lhs_t} = {rhs_t}: {lhs.ravel()[:4]} vs {rhs.ravel()[:4]}"
    return True, ""


def check_explained(d, kinds=None, sizes=None, seed=0, hessian=False) -> int:
    """Check every step of d.explain(full=True); returns the number of steps evaluated."""
    kinds = dict(KINDS, **(kinds or {}))
    sizes = sizes or {"n": 3, "m": 2, "k": 2, "p": 3, "q": 2}
    ex = d.explain(full=True, hessian=hessian)
    # no step is needed where the expression is a variable itself (vec(x') is x) or a constant
    assert ex.steps or d.expr.op in ("const", "var") or not any(n.op == "var" for n in d.expr.walk()) or \
        all(matdiff.core.expr.is_zero(g) for g in (d.gradients if d.expr.is_scalar else d.jacobians).values()), d.text
    checked = 0
    for step in ex.steps:
        msgs, holds = [], False
        for attempt in range(6):  # a kink or an unlucky point: another point must fail too
            pt = _Point(d, _sizes_for(d, sizes), kinds, np.random.default_rng(seed + 17 * attempt + step.number))
            try:
                holds, msg = step_holds(step, pt, d)
            except _Inconclusive:
                continue  # a value overflowed at this point: draw another
            if holds:
                break
            msgs.append(msg)
            if len(msgs) == 2:
                break
        if not holds and not msgs:
            continue  # overflowed at every point drawn: no evidence either way, not counted
        if not holds:
            raise AssertionError(f"{d.text!r} by {d.wrt}: step ({step.number}) {step.rule.name} is not an "
                                 f"equality: {msgs}")
        checked += 1
    msgs = []
    for attempt in range(2):
        pt = _Point(d, _sizes_for(d, sizes), kinds, np.random.default_rng(seed + 17 * attempt))
        ok, msg = results_hold(ex, pt, d)
        if ok:
            break
        msgs.append(msg)
    else:
        raise AssertionError(f"{d.text!r} by {d.wrt}: a closing line is not an equality: {msgs}")
    return checked


def _sizes_for(d, sizes):
    out = dict(sizes)
    for dims in d.shapes.values():
        for x in dims:
            for name in re.findall(r"[A-Za-z_]\w*", str(x)):
                out.setdefault(name, 3)
    return out


# ---------------------------------------------------------------------------- the corpora

def _cookbook_cases():
    for g in COOKBOOK:
        kw = {}
        if g.shapes is not None:
            kw["shapes"] = g.shapes
        if g.sym:
            kw["symmetric"] = list(g.sym)
        sizes = dict(g.sizes[0]) if g.sizes else None
        yield pytest.param(g.expr, g.wrt, kw, dict(g.kinds), sizes, id=g.id)


def readme_commands() -> list:
    """(expression, wrt, shapes, symmetric) of every ``$ matdiff EXPR ...`` in the README."""
    out = []
    for line in README.splitlines():
        if not line.startswith("$ matdiff ") or line.startswith(("$ matdiff check", "$ matdiff codegen")):
            continue
        try:
            argv = shlex.split(line[2:])[1:]
        except ValueError:
            continue
        expr, wrt, shapes, sym = None, [], {}, []
        i = 0
        while i < len(argv):
            a = argv[i]
            if a in ("--wrt", "--shape", "--symmetric", "--format") and i + 1 < len(argv):
                v = argv[i + 1]
                if a == "--wrt":
                    wrt.append(v)
                elif a == "--shape":
                    k, _, s = v.partition("=")
                    shapes[k] = s
                elif a == "--symmetric":
                    sym.append(v)
                i += 2
                continue
            if not a.startswith("--") and expr is None:
                expr = a
            i += 1
        if expr and wrt and (expr, tuple(wrt)) not in [(o[0], tuple(o[1])) for o in out]:
            out.append((expr, wrt, shapes, sym))
    return out


def _derive_or_none(text, wrt, shapes, sym):
    try:
        return matdiff.derive(text, wrt=wrt, shapes=shapes or None, symmetric=sym)
    except matdiff.MatdiffError:
        return None


@pytest.mark.parametrize("text,wrt,kw,kinds,sizes", list(_cookbook_cases()))
def test_cookbook_explanations_are_equalities(text, wrt, kw, kinds, sizes):
    d = matdiff.derive(text, wrt=wrt, **kw)
    assert check_explained(d, kinds, sizes) > 0


README_CASES = readme_commands()


@pytest.mark.parametrize("text,wrt,shapes,sym", README_CASES, ids=[c[0] for c in README_CASES])
def test_readme_explanations_are_equalities(text, wrt, shapes, sym):
    d = _derive_or_none(text, wrt, shapes, sym)
    if d is None:
        pytest.skip("an error example")
    kinds = {"X": "wc"} if re.search(r"\b(inv|det|logdet|solve)\(", text) else {}
    if "logdet" in text or "log(det" in text or "chol(" in text or "sqrtm" in text:
        kinds = {n: "spd" for n in d.shapes if len(d.shapes[n]) == 2}
    if "sqrt(" in text:  # sqrt(lambda): its scalars in sqrt's domain
        kinds.update({n: "pos" for n in d.shapes if len(d.shapes[n]) == 0})
    check_explained(d, kinds, hessian=d.expr.is_scalar and len(d.wrt) == 1)


RANDOM = random_corpus(120, seed=13) + random_corpus(50, seed=14, arrays=True)  # with the Cookbook and README cases, over 200


def test_random_explanations_are_equalities():
    """At least 200 random expressions (scalar and array-valued, symmetric variables, one to
    two variables): every step of every explanation holds numerically."""
    done = 0
    for i, (text, with_sym) in enumerate(RANDOM):
        shapes = declared_in(text, shapes_for(with_sym))
        symmetric = names_in(text, ["S"])
        names = variables_in(text)
        wrt = names[: 1 + i % 2]
        d = matdiff.derive(text, wrt=wrt, shapes=shapes, symmetric=symmetric)
        pt = _Point(d, {"n": 3, "m": 2}, KINDS, np.random.default_rng(i))
        if not np.all(np.isfinite(pt.value(to_text(d.expr)))):
            continue
        check_explained(d, seed=i, hessian=(i % 5 == 0 and d.expr.is_scalar))
        done += 1
    cookbook_and_readme = len(COOKBOOK) + len(README_CASES)
    assert done + cookbook_and_readme >= 200, (done, cookbook_and_readme)


@settings(max_examples=n_examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.one_of(scalar_expressions(max_depth=4), array_expressions(max_depth=3)), data=st.data())
def test_hypothesis_explanations_are_equalities(case, data):
    """The project's Hypothesis strategies: the steps of random explanations hold."""
    text, with_sym = case
    names = variables_in(text)
    wrt = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=min(2, len(names)), unique=True))
    d = matdiff.derive(text, wrt=wrt, shapes=declared_in(text, shapes_for(with_sym)),
                       symmetric=names_in(text, ["S"]))
    pt = _Point(d, {"n": 3, "m": 2}, KINDS, np.random.default_rng(0))
    if np.all(np.isfinite(pt.value(to_text(d.expr)))):
        check_explained(d)


def test_several_variables_and_hessian():
    d = matdiff.derive("norm2(X - U*V')^2", wrt=["U", "V"])
    assert check_explained(d) > 3
    d = matdiff.derive("logdet(X)", wrt="X")
    ex = d.explain(hessian=True)
    assert any(s.section == "hessian" for s in ex.steps)
    assert check_explained(d, {"X": "spd"}, hessian=True) > 0


# ---------------------------------------------------------------------------- rules and forms

@pytest.mark.parametrize("rule", reachable_rules(), ids=lambda r: r.name)
def test_every_rule_an_explanation_can_name_states_identity_and_source(rule):
    assert rule.identity.strip() and "=" in rule.identity, rule.name
    assert rule.latex.strip() and rule.cite.strip(), rule.name


def test_explain_rules_are_reachable():
    names = {r.name for r in reachable_rules()}
    assert {r.name for r in EXPLAIN_RULES} <= names


def test_explanation_of_trace_xax_top_down():
    d = matdiff.derive("trace(X*A*X)", wrt="X")
    ex = d.explain()
    rules = [s.rule.name for s in ex.steps]
    assert rules[:2] == ["d.trace", "d.mul"]
    assert ex.steps[0].shown[:2] == ("d(tr(X*A*X))", "tr(d(X*A*X))")
    assert ex.steps[0].refs == (ex.steps[1],)
    assert "T.trace" in rules and "T.mul" in rules
    assert "T.add" not in rules  # <C, A + B> = <C, A> + <C, B> only with full
    assert "T.add" in [s.rule.name for s in d.explain(full=True).steps]
    text = str(ex)
    assert "grad_X f = A'*X' + X'*A'" in text
    assert "<I, dX*A*X + X*A*dX>" in text
    assert ex.latex().startswith("\\begin{aligned}") and ex._repr_latex_().startswith("$$")


def test_shared_subexpression_is_derived_once():
    d = matdiff.derive("tr(inv(X)) + sum(inv(X))", wrt="X")
    ex = d.explain()
    inv_lines = [s for s in ex.steps if s.rule.name == "d.inv"]
    assert len(inv_lines) == 1
    users = [s for s in ex.steps if inv_lines[0] in s.refs]
    assert len(users) == 2


def test_jacobian_explanation_names_the_kronecker_identity():
    d = matdiff.derive("A*X*B", wrt="X", shapes={"X": "n,m", "A": "k,n", "B": "m,p"})
    ex = d.explain()
    vec = [s for s in ex.steps if s.section == "jacobian"]
    assert vec and vec[0].rule.name == "vec.mul"
    assert "kron(B', A)" in str(ex)
    assert check_explained(d) > 0


def test_symmetric_variable():
    d = matdiff.derive("x'*inv(S)*x + logdet(S)", wrt="S", symmetric=["S"])
    ex = d.explain()
    assert any(s.rule.name == "explain.symmetric" for s in ex.steps)
    assert check_explained(d, {"S": "spd"}) > 0
    # a G that is not symmetric: the line sym(G) = grad is evaluated, both sides
    d = matdiff.derive("tr(A*S)", wrt="S", symmetric=["S"])
    (st,) = [s for s in d.explain().steps if s.rule.name == "explain.symmetric"]
    assert st.texts() == ("sym(A')", to_text(d.gradient)) and st.texts()[0] != st.texts()[1]
    assert check_explained(d) > 0


def test_tuple_valued_ops_give_one_line_per_output_used():
    """lu, eigmax: d(luU(A)) = ... by d.lu, not a line for the op itself (no language name)."""
    d = matdiff.derive("x'*luU(A)*y + tr(luL(A))", wrt="A")
    ex = d.explain()
    lines = {s.shown[0]: s for s in ex.steps if s.section == "differential"}
    assert lines["d(luU(A))"].rule.name == lines["d(luL(A))"].rule.name == "d.lu"
    assert "proj" not in str(ex) and "d(lu(A))" not in str(ex)
    assert check_explained(d, {"A": "wc"}) > 0
    d = matdiff.derive("eigmax(S)", wrt="S", symmetric=["S"])
    text = str(d.explain())
    assert "<function" not in text and "d(eigmax(S)) = eigvecmax(S)'*dS*eigvecmax(S)" in text
    assert check_explained(d) > 0


def test_normal_forms_show_the_node_before_the_rewrite():
    """--explain=full: (X')' = X, not X' = X; tr(s*A) = s*tr(A), not s*A = s*tr(A)."""
    text = str(matdiff.derive("tr(X'*B*X)", wrt="X").explain(full=True))
    assert "(X')' = X" in text and "\n  (" in text
    text = str(matdiff.derive("tr(inv(X)*A)", wrt="X").explain(full=True))
    assert "tr(-inv(X)*dX*inv(X)*A) = -tr(inv(X)*dX*inv(X)*A)" in text


def test_full_splits_a_sum_once_and_the_gradient_reads_left_to_right():
    d = matdiff.derive("trace(X*A*X)", wrt="X")
    text = str(d.explain(full=True))
    assert "<I, dX*A*X + X*A*dX> = <I, dX*A*X> + <I, X*A*dX>" in text
    assert "<I, dX*A*X> = <I, dX*A*X>" not in text  # no line that says nothing
    grad = [s.shown[0] for s in d.explain().steps if s.rule.name == "T.mul"]
    assert grad == ["<I, dX*A*X>", "<I, X*A*dX>"]  # the terms in df's order


def _parse_cases():
    for c in _cookbook_cases():
        yield c.values[0], c.values[1], c.values[2]
    for t, w, sh, sy in README_CASES:
        yield t, w, {"shapes": sh or None, "symmetric": sy}


def test_json_before_and_after_parse_back():
    """Every step's before and after (full explanations with the second order) is text in
    matdiff's language: it parses, with dX declared like X."""
    n = 0
    for text, wrt, kw in _parse_cases():
        d = _derive_or_none(text, wrt, kw.get("shapes"), kw.get("symmetric", []))
        if d is None:
            continue
        shapes = {k: ",".join(str(x) for x in v) for k, v in d.shapes.items()}
        shapes.update({"d" + w: shapes[w] for w in d.wrt})
        for s in d.explain(full=True, hessian=d.expr.is_scalar).as_list():
            for side in ("before", "after"):
                matdiff.parse(s[side], shapes=shapes, symmetric=sorted(d.symmetric | {"d" + w for w in d.wrt
                                                                                       if w in d.symmetric}))
                n += 1
    assert n > 500


def test_cli_explain_text_json_latex_and_check():
    r = CliRunner()
    out = r.invoke(main, ["trace(X*A*X)", "--wrt", "X", "--explain"])
    assert out.exit_code == 0 and "d.mul" in out.output and "grad_X f" in out.output
    out = r.invoke(main, ["trace(X*A*X)", "--wrt", "X", "--explain=full", "--format", "json"])
    import json

    steps = json.loads(out.output)["steps"]
    assert {"rule", "identity", "identity_latex", "citation", "before", "after"} <= set(steps[0])
    for s in steps:  # before/after are matdiff's language
        for side in ("before", "after"):
            matdiff.parse(s[side].replace("dX", "X"), shapes={"X": "n,n", "A": "n,n"})
    out = r.invoke(main, ["trace(X*A*X)", "--wrt", "X", "--explain", "--format", "latex"])
    assert out.output.startswith("\\begin{aligned}")
    out = r.invoke(main, ["check", "tr(X*A*X)", "--wrt", "X", "--claim", "2*A'*X'", "--explain"])
    assert out.exit_code == 1 and "WRONG" in out.output and "The correct derivation" in out.output


def test_explanation_ends_with_the_results_named_as_derive_prints_them():
    """Issue 13 with issue 12: the user's names (and generated ones) in a closing summary."""
    d = matdiff.derive("h = tanh(W1*x + b1); sum((W2*h - y).^2)", wrt="W1")
    text = str(d.explain())
    tail = text[text.index("In short, with named intermediates:"):]
    assert "grad_W1 f = 2*((W2'*(W2*h - y)) .* (1 - h.^2))*x'" in tail
    assert "where h = tanh(b1 + W1*x)" in tail
    assert "In short" not in str(matdiff.derive("det(X)", wrt="X").explain())  # nothing to name


def test_the_lines_use_the_users_names():
    """h = ...: the lines say d(h), (1 - h.^2), under a where line; the JSON's before/after
    are in full (they parse without h) and every line still holds."""
    d = matdiff.derive("h = tanh(W1*x + b1); sum((W2*h - y).^2)", wrt="W1")
    ex = d.explain()
    text = str(ex)
    assert text.splitlines()[1] == "  where h = tanh(b1 + W1*x)"
    assert "(5) d(h) = d(b1 + W1*x) .* (1 - h.^2)" in text and "<2*(W2*h - y)" in text
    for s in ex.as_list():
        assert not re.search(r"\bh\b", s["before"] + s["after"]), s
    assert check_explained(d) > 0


def test_an_expression_that_is_a_variable_has_a_stepless_explanation():
    """vec(x') is x itself: the explanation is dF = dx and the identity Jacobian, no rule."""
    d = matdiff.derive("vec(x')", wrt="x")
    assert check_explained(d) == 0 and "dvec(F)/dvec(x) = eye(n)" in str(d.explain())


def test_the_differential_reads_top_down_left_to_right():
    """Outermost first, and of two arguments the left one's lines first (the pass goes right to left)."""
    ex = matdiff.derive("x'*inv(S)*x + logdet(S)", wrt="S", symmetric=["S"]).explain()
    shown = [s.shown[0] for s in ex.steps if s.section == "differential"]
    assert shown == ["d(x'*inv(S)*x + logdet(S))", "d(x'*inv(S)*x)", "d(inv(S))", "d(logdet(S))"]
    assert [r.number for r in ex.steps[0].refs] == [2, 4]


def test_latex_explanation_cites_each_rule_with_text_mode_escapes():
    import re

    from matdiff.render.explain import _latex_text

    tex = matdiff.derive("det(X)", "X").explain().latex()
    assert "\\text{[Matrix Cookbook (42), (46)]}" in tex
    # a citation's &, %, _, #, $, braces, ^, ~ and backslash cannot break the LaTeX
    raw = r"Magnus & Neudecker (1979), 7(2) 50% #1 a_b {x} $ ^ ~ \ end"
    out = _latex_text(raw)
    assert re.search(r"(?<!\\)[&%#_$]", out) is None
    assert out.count("\\textbackslash{}") == 1 and "\\{x\\}" in out
