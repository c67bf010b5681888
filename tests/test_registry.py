"""Tests driven by the op declarations (``matdiff.ops.registry.OPS``, ``ELEMENTWISE``), so a new
operation is checked the day it is declared. No list of ops is kept here.

For every op: its examples parse and build (and contain the op), print as text and LaTeX;
its JVP agrees with finite differences of the value at two size sets (non-square where the
example allows), values computed by the independent evaluator in ``tests/reference.py``;
an op with a transpose rule satisfies <C, L(M)> = <transpose(C), M>; an op with a vec rule
satisfies vec(L(M)) = B vec(M) and the vec pass's Jacobian agrees with finite differences.
Every op has a facts transfer rule (``facts.no_facts`` states that it yields none) and a
sampling domain the checker's sampler can meet; the examples are drawn from that domain.
Every elementwise function has a derivative that is right inside its domain, a lowering or
an explicit UNSUPPORTED for every back-end, and a LaTeX name.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import concrete_shape, random_value
from reference import reference_value

from matdiff.backends.lower import STRUCTURAL
from matdiff.check import checker
from matdiff.core import expr as E
from matdiff.core import facts as F
from matdiff.core.errors import FUNCTION_KINDS
from matdiff.core.multi import multi, outputs
from matdiff.core.record import replace
from matdiff.core.shapes import dim_mul
from matdiff.lang import parsing as P
from matdiff.ops import elementwise as EW
from matdiff.ops import registry as R
from matdiff.ops.base import BACKENDS, SAMPLE_KINDS, Example, OpDef, Rule, Unsupported, sample_kinds
from matdiff.ops.registry import OPS
from matdiff.passes.differentiate import differential
from matdiff.passes.vecpass import jacobians
from matdiff.render.latex import to_latex
from matdiff.render.text import to_text

SIZES = ({"n": 3, "m": 2, "k": 4}, {"n": 4, "m": 3, "k": 2})  # n > m: X'*X nonsingular
SQUARE_SIZES = ({"n": 2, "m": 2, "k": 2}, {"n": 3, "m": 3, "k": 3})
LEAVES_WITHOUT_LANGUAGE = {"var", "dvar", "const"}  # built by the parser from names and numbers
# ops no language name reads yet, so no text example can exercise them: each names the test
# here that exercises it instead (checked: the op really has no language name, the test exists)
NO_LANGUAGE_YET = {"proj": "test_proj_through_a_test_only_tuple_valued_op"}
# the kind of tests/gradcheck.random_value that draws each sampling domain
GRADCHECK_KIND = {"any": "any", "positive": "pos", "nonsingular": "wc", "positive-definite": "spd"}


def _example_kind(od: OpDef, ex: Example) -> str:
    """The gradcheck kind drawing the example's values inside the sampling domain its op
    declares (the strictest over the op's nodes in the example)."""
    e = P.parse_full(ex.text, ex.shapes or None).expr
    kinds = {k for n in e.walk() if n.op == od.op for k in sample_kinds(od, n)}
    for k in ("positive-definite", "positive", "nonsingular"):
        if k in kinds:
            return GRADCHECK_KIND[k]
    return "any"


def _elementwise_examples(name: str, d) -> tuple:
    return (Example(f"sum({name}(X) .* A)", shapes={"X": "n,m", "A": "n,m"}),
            Example(f"{name}(a)*b", wrt="a", shapes={"a": "", "b": ""}))


def _examples():
    """(id, op declaration, example, sample kind) for every example of every op."""
    out = []
    for name, od in OPS.items():
        for j, ex in enumerate(od.examples):
            out.append(pytest.param(od, ex, _example_kind(od, ex), id=f"{name}-{j}"))
    for name, d in EW.ELEMENTWISE.items():
        for j, ex in enumerate(_elementwise_examples(name, d)):
            out.append(pytest.param(OPS["fn"], ex, ("fn", name), id=f"fn.{name}-{j}"))
    return out


EXAMPLES = _examples()


# ---------------------------------------------------------------------------- completeness


def op_gaps(ops=None) -> list[str]:
    """What declarations lack: one line per missing capability (empty when complete)."""
    ops = OPS if ops is None else ops
    gaps = []
    for name, od in ops.items():
        if not isinstance(od.jvp, Rule) or od.jvp.fn is None:
            gaps.append(f"{name}: no JVP rule")
        for kind in ("jvp", "transpose", "vec"):
            r = getattr(od, kind)
            if r is not None and not (r.identity and r.latex and r.cite and r.name):
                gaps.append(f"{name}: its {kind} rule states no identity/LaTeX/cite")
        if (od.transpose is None) != (od.vec is None):
            gaps.append(f"{name}: a linear op needs both a transpose and a vec rule")
        if name not in LEAVES_WITHOUT_LANGUAGE and name != "fn" and not od.examples \
                and name not in NO_LANGUAGE_YET:
            gaps.append(f"{name}: no examples")
        if not callable(od.facts):
            gaps.append(f"{name}: no facts transfer rule (facts.no_facts states that it yields none)")
        if not callable(od.sample) and not (od.sample in SAMPLE_KINDS or (
                isinstance(od.sample, tuple) and all(k in SAMPLE_KINDS for k in od.sample))):
            gaps.append(f"{name}: sample {od.sample!r} is not a sampling domain of {SAMPLE_KINDS}")
        if od.language and od.kind not in FUNCTION_KINDS:
            gaps.append(f"{name}: kind {od.kind!r} is none of {sorted(FUNCTION_KINDS)} (suggestions need it)")
        for lang in od.language:
            if od.shape not in P.SHAPE_RULES:
                gaps.append(f"{name}: language name {lang} has no parser shape rule {od.shape!r}")
            if od.arity is None:
                gaps.append(f"{name}: language name {lang} has no arity")
        if name in STRUCTURAL and od.lower is not None:
            gaps.append(f"{name}: lowered both by the code generator and by a template")
        if name not in STRUCTURAL:
            if not isinstance(od.lower, dict):
                gaps.append(f"{name}: no lowering (OpDef.lower templates, or STRUCTURAL in backends/lower.py)")
            else:
                for b in BACKENDS:
                    low = od.lower.get(b)
                    if not (isinstance(low, Unsupported) or (isinstance(low, str) and "{0}" in low)):
                        gaps.append(f"{name}: no lowering (or UNSUPPORTED) for back-end {b}")
        if name not in E._RANK or (od.examples and name not in E._REBUILD and not od.dim_args
                                   and od.shape != "dims"):
            gaps.append(f"{name}: the constructors do not know its rank or how to rebuild it")
    gaps += [f"{name}: listed in backends/lower.py STRUCTURAL but not declared"
             for name in sorted(STRUCTURAL - set(ops)) if ops is OPS]
    return gaps


def elementwise_gaps(table=None) -> list[str]:
    """What elementwise declarations lack (empty when complete)."""
    table = EW.ELEMENTWISE if table is None else table
    gaps = []
    for name, d in table.items():
        if not d.latex:
            gaps.append(f"{name}: no LaTeX name")
        for b in BACKENDS:
            low = d.lower.get(b)
            if not (isinstance(low, Unsupported) or (isinstance(low, str) and "{0}" in low)):
                gaps.append(f"{name}: no lowering (or UNSUPPORTED) for back-end {b}")
        r = d.derivative
        if not (r.identity and r.latex and r.cite and r.fn is not None):
            gaps.append(f"{name}: its derivative rule states no identity/LaTeX/cite")
    return gaps


def test_every_op_declares_every_capability():
    assert op_gaps() == []


def test_every_elementwise_function_declares_every_capability():
    assert elementwise_gaps() == []


def test_suggestions_know_every_language_function_by_its_declared_kind():
    from matdiff.core.errors import _KIND_OF

    for name, od in OPS.items():
        for lang in od.language:
            assert _KIND_OF[lang] == od.kind, (name, lang)
    assert all(_KIND_OF[f] == "elementwise" for f in EW.ELEMENTWISE)


def test_every_language_function_comes_from_a_declaration():
    from matdiff.ops.macros import MACROS

    names = {lang for od in OPS.values() for lang in od.language} | set(EW.ELEMENTWISE)
    names |= {n for d in EW.ELEMENTWISE.values() for n in d.names}  # (asin for arcsin)
    assert set(P.FUNCTIONS) == names | {m.name for m in MACROS}


def test_deleting_a_capability_is_caught(monkeypatch):
    name = next(iter(EW.ELEMENTWISE))
    d = EW.ELEMENTWISE[name]
    monkeypatch.setitem(EW.ELEMENTWISE, name, replace(d, latex=""))
    assert any("LaTeX" in g for g in elementwise_gaps())
    monkeypatch.setitem(EW.ELEMENTWISE, name,
                        replace(d, lower={k: v for k, v in d.lower.items() if k != "torch"}))
    assert any("torch" in g for g in elementwise_gaps())
    monkeypatch.undo()
    linear = next(n for n, od in OPS.items() if od.vec is not None)
    broken = dict(OPS)
    broken[linear] = replace(OPS[linear], vec=None)
    assert any(linear in g for g in op_gaps(broken))
    no_id = replace(OPS[linear], jvp=replace(OPS[linear].jvp, identity=""))
    assert any(linear in g for g in op_gaps({linear: no_id}))


@pytest.mark.parametrize("name", list(OPS))
def test_deleting_a_facts_rule_or_sampling_domain_is_caught(monkeypatch, name):
    monkeypatch.setitem(OPS, name, replace(OPS[name], facts=None))
    assert any(g.startswith(f"{name}: no facts") for g in op_gaps())
    monkeypatch.setitem(OPS, name, replace(OPS[name], sample="wc"))
    assert any(g.startswith(f"{name}: sample") for g in op_gaps())


def test_facts_are_read_from_the_declaration(monkeypatch):
    """The property layer has no table of its own: replacing a declaration's rule changes it."""
    X = E.var("Xf", ("n", "n"))
    e = E.inv(E.add(X, E.transpose(X)))
    assert F.facts(e).symmetric
    monkeypatch.setitem(OPS, "inv", replace(OPS["inv"], facts=F.no_facts))
    assert not F.facts(E.inv(E.add(X, E.transpose(E.var("Yf", ("n", "n")))))).nonsingular
    assert F.sampling_needs(e) == [(0, F.DOMAIN_NEEDS["nonsingular"])]
    monkeypatch.setitem(OPS, "inv", replace(OPS["inv"], sample="any"))
    assert F.sampling_needs(e) == []


def test_exemptions_from_examples_are_checked():
    for name, test in NO_LANGUAGE_YET.items():
        assert name in OPS and not OPS[name].language, f"{name} has a language name now: give it examples"
        assert callable(globals().get(test)), f"{name}: its exemption names no test here ({test})"


@pytest.mark.parametrize("kind", SAMPLE_KINDS)
@pytest.mark.parametrize("symmetric", [False, True])
def test_the_checker_sampler_covers_every_sampling_domain(kind, symmetric):
    """What the checker draws for an argument that needs something (positive) meets every
    domain an op may declare: positive entries, det > 0, and positive definite when symmetric."""
    rng = np.random.default_rng(3)
    for n in (1, 2, 5):
        M = checker._draw((n, n), symmetric, True, rng)
        if kind == "positive":
            assert np.all(M > 0)
        elif kind == "nonsingular":
            assert np.linalg.det(M) > 0
        elif kind == "positive-definite" and symmetric:
            assert np.all(np.linalg.eigvalsh(M) > 0)
    assert kind in F.DOMAIN_NEEDS


def test_rank_and_rebuild_come_from_the_declarations():
    for name, od in OPS.items():
        assert E._RANK[name] == od.rank
    assert E.ONE.key[0] == OPS["const"].rank  # module constants re-keyed once the registry loaded


# ---------------------------------------------------------------------------- helpers


def _decl(shape) -> str:
    r, c = shape
    if r == 1 and c == 1:
        return ""
    return f"{r}" if c == 1 else f"{r},{c}"


def _sample(kind, shape, rng):
    if isinstance(kind, tuple):  # an elementwise function: inside its domain, away from kinks at 0
        lo, hi = EW.ELEMENTWISE[kind[1]].domain
        if lo is not None and lo >= -1 and (lo >= 0 or hi is None or hi == float("inf")):  # (log1p)
            return random_value(shape, "pos", rng)
        if hi is not None and hi < 2:
            return random_value(shape, "small", rng)
        v = rng.choice([-1.0, 1.0], size=shape or None) * rng.uniform(0.3, 1.5, size=shape or None)
        return float(v) if not shape else v
    return random_value(shape, kind, rng)


def _setup(ex: Example, sizes, kind, seed):
    p = P.parse_full(ex.text, ex.shapes or None)
    decl = {n: _decl(s) for n, s in p.shapes.items()}
    rng = np.random.default_rng(seed)
    vals = {}
    for n, s in p.shapes.items():
        shp = concrete_shape([str(d) for d in s], sizes)
        v = _sample(kind if n == ex.wrt else ("pos" if kind == "pos" else kind), shp, rng)
        if np.ndim(v) == 2 and shp[0] == shp[1] and kind == "wc":
            v = v + shp[0] * np.eye(shp[0])
        vals[n] = v
    return p, decl, vals, rng


def _value(text, decl, vals, sizes):
    return np.asarray(reference_value(text, decl, (), vals, sizes), dtype=float)


def _sizes_for(ex: Example):
    return SQUARE_SIZES if ex.square_only else SIZES


def _contains(e, op) -> bool:
    return any(n.op == op for n in e.walk())


# ---------------------------------------------------------------------------- per example


@pytest.mark.parametrize("od,ex,kind", EXAMPLES)
def test_example_parses_builds_and_prints(od: OpDef, ex: Example, kind):
    p = P.parse_full(ex.text, ex.shapes or None)
    e = p.expr
    if od.op in ("eye", "zero"):  # folded away by the constructors (I*A = A, 0*A = 0): parsed is enough
        pass
    elif od.op == "fn":
        assert any(n.op == "fn" and n.attr == kind[1] for n in e.walk()), str(e)
    else:
        assert _contains(e, od.op), (od.op, str(e))
    dX = E.dvar(ex.wrt, p.shapes[ex.wrt])
    for x in (e, differential(e, {ex.wrt: dX})):
        assert to_text(x)
        assert to_latex(x)
    assert P.parse(to_text(e), {n: _decl(s) for n, s in p.shapes.items()}) is e


@pytest.mark.parametrize("od,ex,kind", EXAMPLES)
@pytest.mark.parametrize("round_no", [0, 1])
def test_jvp_matches_finite_differences(od, ex, kind, round_no):
    sizes = _sizes_for(ex)[round_no]
    p, decl, vals, rng = _setup(ex, sizes, kind, 1000 * round_no + len(ex.text))
    dname = "d" + ex.wrt
    df = differential(p.expr, {ex.wrt: E.dvar(ex.wrt, p.shapes[ex.wrt])})
    X = vals[ex.wrt]
    V = rng.standard_normal(np.shape(X)) if np.ndim(X) else float(rng.standard_normal())
    an = _value(to_text(df), {**decl, dname: decl[ex.wrt]}, {**vals, dname: V}, sizes)

    def f(t):
        return _value(ex.text, decl, {**vals, ex.wrt: X + t * V}, sizes)

    h = 1e-3
    fd = (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)
    assert np.allclose(an, fd, rtol=1e-6, atol=1e-7), (ex.text, to_text(df), an, fd)


def _linear_nodes(od: OpDef, e):
    """Nodes of op ``od`` in e with the argument positions it is linear in (all, for the
    linear ops here: sums, products, Hadamard and Kronecker products are multilinear)."""
    return [n for n in e.walk() if n.op == od.op]


def _with_fresh_argument(node, i):
    M = E.var("Mq", node.args[i].shape)
    args = list(node.args)
    args[i] = M
    return E.Expr(node.op, tuple(args), node.shape, node.attr), M


LINEAR_EXAMPLES = [p for p in EXAMPLES if p.values[0].transpose is not None]


@pytest.mark.parametrize("od,ex,kind", LINEAR_EXAMPLES)
@pytest.mark.parametrize("round_no", [0, 1])
def test_transpose_and_vec_rules_agree_with_the_op(od, ex, kind, round_no):
    sizes = _sizes_for(ex)[round_no]
    p, decl, vals, rng = _setup(ex, sizes, kind, 77 + round_no)
    nodes = _linear_nodes(od, p.expr)
    assert nodes
    for node in nodes:
        for i in (range(len(node.args)) if od.linear_in is None else od.linear_in):
            L, M = _with_fresh_argument(node, i)
            C = E.var("Cq", node.shape)
            T = od.transpose(L, C, i)
            B = od.vec(L, i, E.eye(dim_mul(M.rows, M.cols)))
            d = {**decl, "Mq": _decl(M.shape), "Cq": _decl(C.shape)}
            v = {**vals,
                 "Mq": _sample(kind, concrete_shape([str(x) for x in M.shape], sizes), rng),
                 "Cq": rng.standard_normal(concrete_shape([str(x) for x in C.shape], sizes))}
            # L(M) - L(0): linear in M (sums are affine in one term)
            Lv = _value(to_text(L), d, v, sizes) - _value(to_text(L), d, {**v, "Mq": 0 * v["Mq"]}, sizes)
            Tv = _value(to_text(T), d, v, sizes)
            Mv = np.asarray(v["Mq"], dtype=float).reshape(np.shape(Tv))
            # <C, L(M)> = <transpose(C), M>   (L linear in M)
            assert np.isclose(np.sum(v["Cq"].reshape(Lv.shape) * Lv), np.sum(Tv * Mv)), (str(L), str(T))
            # vec(L(M)) = B vec(M)
            Bv = _value(to_text(B), d, v, sizes)
            assert np.allclose(Lv.reshape(-1, order="F"), Bv @ Mv.reshape(-1, order="F")), (str(L), str(B))


@pytest.mark.parametrize("od,ex,kind", LINEAR_EXAMPLES)
def test_vec_pass_jacobian_matches_finite_differences(od, ex, kind):
    sizes = _sizes_for(ex)[0]
    p, decl, vals, rng = _setup(ex, sizes, kind, 5)
    df = differential(p.expr, {ex.wrt: E.dvar(ex.wrt, p.shapes[ex.wrt])})
    J = jacobians(df, [ex.wrt], p.shapes)[ex.wrt]
    Jv = _value(to_text(J), decl, vals, sizes)
    X = np.asarray(vals[ex.wrt], dtype=float)
    for _ in range(2):
        V = rng.standard_normal(X.shape)

        def f(t, V=V):
            return _value(ex.text, decl, {**vals, ex.wrt: X + t * V}, sizes)

        h = 1e-3
        fd = (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)
        assert np.allclose(Jv @ V.reshape(-1, 1, order="F"), fd.reshape(-1, 1, order="F"),
                           rtol=1e-6, atol=1e-7), (ex.text, str(J))


# ---------------------------------------------------------------------------- elementwise


@pytest.mark.parametrize("name", list(EW.ELEMENTWISE))
def test_elementwise_derivative_is_right_inside_its_domain(name):
    d = EW.ELEMENTWISE[name]
    a = E.var("a", (1, 1))
    fp = d.derivative(a, E.fn(name, a))
    rng = np.random.default_rng(len(name))
    for _ in range(5):
        x = _sample(("fn", name), (), rng)
        h = 1e-4

        def f(t, x=x):
            return _value(f"{name}(a)", {"a": ""}, {"a": x + t}, {}).item()

        fd = (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)
        an = 0.0 if fp is None else _value(to_text(fp), {"a": ""}, {"a": x}, {}).item()
        assert np.isclose(an, fd, rtol=1e-7, atol=1e-8), (name, x, an, fd)
        lo, hi = d.range
        v = f(0.0)
        assert (lo is None or v >= lo) and (hi is None or v <= hi), (name, x, v, d.range)


@pytest.mark.parametrize("name", list(EW.ELEMENTWISE))
def test_elementwise_latex_prints_its_name(name):
    X = E.var("X", ("n", "m"))
    assert EW.ELEMENTWISE[name].latex in to_latex(E.fn(name, E.had(X, X))) or name in ("sqrt", "abs")


# ---------------------------------------------------------------------------- several outputs (proj)

_TEST_RULE = "a test-only tuple-valued op"


def _tpair_jvp(n, d):
    dA = d(0)
    if dA is None:
        return None
    A = n.args[0]
    return multi("tpack", (E.transpose(dA), E.mul(E.const(2), E.had(A, dA))), n.shape)


def _eval(e, vals):
    """NumPy value of every node of e (the few ops the test-only tuple-valued op needs)."""
    v = {}
    for n in e.walk():
        a = [v[x] for x in n.args]
        if n.op in ("var", "dvar"):
            v[n] = vals[("d" if n.op == "dvar" else "") + n.attr[0]]
        elif n.op == "const":
            v[n] = float(n.attr)
        elif n.op == "transpose":
            v[n] = a[0].T
        elif n.op == "had":
            v[n] = a[0] * a[1]
        elif n.op == "add":
            v[n] = sum(a)
        elif n.op == "mul":
            out = 1.0
            for x in a:
                out = out * x if np.ndim(x) == 0 or np.ndim(out) == 0 else out @ x
            v[n] = out
        elif n.op == "sum":
            v[n] = float(np.sum(a[0]))
        elif n.op == "tpair":
            v[n] = (a[0].T, a[0] * a[0])
        elif n.op == "tpack":
            v[n] = tuple(a)
        elif n.op == "proj":
            v[n] = a[0][n.attr]
        else:
            raise AssertionError(n.op)
    return v[e]


def test_proj_through_a_test_only_tuple_valued_op():
    """proj (no language name yet): its text and LaTeX name the output, its facts are those
    of the output, it rebuilds through substitution, and its JVP agrees with finite
    differences, through tpair(A) = (A', A .* A), a test-only op with two outputs."""
    od = OpDef("tpair", rank=21, build=lambda A: multi("tpair", (A,), [(A.cols, A.rows), A.shape]),
               jvp=Rule("d.tpair", "d(A', A.*A) = (dA', 2*A.*dA)", "-", _TEST_RULE, _tpair_jvp),
               facts=lambda n, fs: (F.Facts(lower=fs[0].upper, upper=fs[0].lower),
                                    F.Facts(lo=0.0, symmetric=fs[0].symmetric)))
    pack = OpDef("tpack", rank=21, jvp=Rule("d.tpack", "-", "-", _TEST_RULE, lambda n, d: None),
                 facts=lambda n, fs: tuple(fs))
    with R.registered(od, pack):
        X = E.var("X", ("n", "m"))
        B = E.var("B", ("m", "n"))
        t = od.build(X)
        T, Q = outputs(t)
        assert to_text(Q) == f"proj({to_text(t)}, 1)" and "_{2}" in to_latex(Q)
        assert F.facts(Q).lo == 0.0 and F.facts(T).lo == -np.inf
        assert F.facts(outputs(od.build(E.var("S", ("n", "n"), True)))[1]).symmetric
        Y = E.var("Y", ("n", "m"))
        assert E.substitute(Q, {X: Y}) is outputs(od.build(Y))[1]
        f = E.add(E.sum_(E.had(T, B)), E.sum_(Q))
        dX = E.dvar("X", X.shape)
        df = differential(f, {"X": dX})
        assert any(n.op == "proj" for n in df.walk())
        rng = np.random.default_rng(0)
        vals = {"X": rng.standard_normal((3, 2)), "B": rng.standard_normal((2, 3))}
        V = rng.standard_normal((3, 2))
        an = _eval(df, {**vals, "dX": V})
        h = 1e-4
        fd = (_eval(f, {**vals, "X": vals["X"] + h * V}) - _eval(f, {**vals, "X": vals["X"] - h * V})) / (2 * h)
        assert np.isclose(an, fd, rtol=1e-7), (an, fd)
    assert "tpair" not in OPS


# ---------------------------------------------------------------------------- lowering from declarations


def _cube_jvp(n, d):
    A = n.args[0]
    return None if d(0) is None else E.add(E.mul(d(0), A, A), E.mul(A, d(0), A), E.mul(A, A, d(0)))


def _available_targets():
    import importlib.util

    return ["numpy"] + [t for t, mod in (("jax", "jax"), ("torch", "torch")) if importlib.util.find_spec(mod)]


def _call(target, fn, **arrays):
    if target == "torch":
        import torch

        arrays = {k: torch.tensor(a) for k, a in arrays.items()}
    return [np.asarray(o) for o in fn(**arrays)]


@pytest.mark.parametrize("target", _available_targets())
def test_an_op_declared_in_one_place_generates_code_in_every_backend(declared, target):
    """A new matrix op is one declaration: its templates lower it in each back-end (here
    tcube(A) = A^3 through a call, not matdiff's own A^3), value and gradient agree with
    NumPy; an UNSUPPORTED back-end is a clear error naming the op and the back-end."""
    import matdiff
    from matdiff.core.errors import DerivationError

    cube = "{0} @ {0} @ {0}"
    declared(OpDef("tcube", rank=21, build=lambda A: E.Expr("tcube", (A,), A.shape),
                   jvp=Rule("d.tcube", "d tcube(A) = dA*A^2 + A*dA*A + A^2*dA", "-", _TEST_RULE, _cube_jvp),
                   language=("tcube",), arity=1, shape="square_same", facts=F.no_facts,
                   lower={"numpy": cube, "jax": cube, "torch": cube}))
    d = matdiff.derive("sum(B .* tcube(X))", wrt="X", shapes={"X": "n,n", "B": "n,n"})
    assert "tcube(X)" in str(d.expr)
    src = d.source(target) if hasattr(d, "source") else d.numpy_source()
    assert "tcube" not in src.rsplit('"""', 1)[1] and "@" in src  # the template computes it
    rng = np.random.default_rng(1)
    X, B = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    fn = {"numpy": d.to_numpy, "jax": getattr(d, "to_jax", None), "torch": getattr(d, "to_torch", None)}[target]()
    value, grad = _call(target, fn, X=X, B=B)
    G = B @ X.T @ X.T + X.T @ B @ X.T + X.T @ X.T @ B  # <B, dX X^2 + X dX X + X^2 dX> = <G, dX>
    assert np.isclose(value, np.sum(B * (X @ X @ X))) and np.allclose(grad, G)
    OPS["tcube"].lower[target] = Unsupported("no such kernel")
    d2 = matdiff.derive("sum(tcube(X))", wrt="X", shapes={"X": "n,n"})
    with pytest.raises(DerivationError, match=f"tcube has no {target} lowering .no such kernel."):
        d2.source(target)


def test_a_tuple_valued_op_is_computed_once_in_generated_code(declared):
    """Outputs of a tuple-valued op (proj) read one call's result: tpair(A) = (A', A .* A)."""
    from matdiff.backends.emit import compile_source, generate

    tmpl = "({0}.T, {0} * {0})"
    od = declared(OpDef("tpair", rank=21, build=lambda A: multi("tpair", (A,), [(A.cols, A.rows), A.shape]),
                        jvp=Rule("d.tpair", "d(A', A.*A) = (dA', 2*A.*dA)", "-", _TEST_RULE, _tpair_jvp),
                        facts=lambda n, fs: (F.NOTHING, F.NOTHING),
                        lower={"numpy": tmpl, "jax": tmpl, "torch": tmpl}))
    from matdiff.core.shapes import sym

    X = E.var("X", (sym("n"), sym("m")))
    T, Q = outputs(od.build(X))
    src = generate([("T", T, "value"), ("Q", Q, "value")], [("X", X.shape)], "f")
    assert src.count(".T, ") == 1, src  # one call, two outputs
    Xv = np.random.default_rng(2).standard_normal((3, 2))
    t, q = compile_source(src, "f")(Xv)
    assert np.allclose(t, Xv.T) and np.allclose(q, Xv * Xv)


def test_the_parser_follows_declarations_added_and_removed():
    """A declaration registered at run time is in the language at once, and gone after."""
    import matdiff

    od = OpDef("tneg", rank=21, build=lambda A: E.Expr("tneg", (A,), A.shape),
               jvp=Rule("d.tneg", "d tneg(A) = tneg(dA)", "-", _TEST_RULE, lambda n, d: None),
               language=("tneg",), arity=1, shape="same", facts=F.no_facts)
    with R.registered(od):
        assert matdiff.parse("tneg(X)", {"X": "n,m"}).op == "tneg"
        assert "tneg" in P.FUNCTION_NAMES
    with pytest.raises(matdiff.ParseError, match="unknown function 'tneg'"):
        matdiff.parse("tneg(X)", {"X": "n,m"})
