"""The property layer (matdiff/core/facts.py): facts of expressions, requirements, several
outputs, the checker's sampling needs, and a property test that every claim holds.

The property test evaluates every node of random expressions with NumPy (an evaluator over
the Expr DAG written here, itself checked against the syntax-tree oracle of
tests/reference.py at the root) and confirms each claim: symmetric up to rounding,
eigenvalues >= -tol for psd, zeros off the diagonal / triangle, Q'Q = I for orthogonal,
entries inside the claimed interval. A wrong transfer rule fails it.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from exprgen import KINDS, SHAPES, random_corpus, shapes_for, variables_in
from gradcheck import random_value
from reference import _commutation, _size, reference_value

import matdiff
from matdiff.core import errors as ER
from matdiff.core import expr as E
from matdiff.core import facts as F
from matdiff.core.errors import RequirementError
from matdiff.core.facts import Facts, facts
from matdiff.core.multi import is_multi, multi, outputs, proj
from matdiff.lang import parsing as P
from matdiff.ops import registry as R
from matdiff.ops.base import OpDef, Rule

SYM = {"S"}


def _parse(text, sym=("S",)):
    shapes = dict(SHAPES, S="n,n", X="n,m", Y="m,n", v="m")
    return P.parse(text, shapes, symmetric=[s for s in sym if s in text])


# ---------------------------------------------------------------------------- facts of expressions

CASES = [
    # symmetric
    ("A + A'", dict(symmetric=True, psd=False)),
    ("A*B + B'*A'", dict(symmetric=True)),
    ("X'*X", dict(symmetric=True, psd=True, pd=False)),
    ("X*X'", dict(symmetric=True, psd=True)),
    ("Y*S*Y'", dict(symmetric=True, psd=False)),
    ("Y*A*Y'", dict(symmetric=False)),
    ("X'*(A'*A)*X", dict(symmetric=True, psd=True)),
    ("inv(S)", dict(symmetric=True, nonsingular=True, psd=False)),
    ("S^3", dict(symmetric=True, psd=False)),
    ("S^2", dict(symmetric=True, psd=True)),
    ("A", dict(symmetric=False)),
    ("A*A", dict(symmetric=False)),
    ("A'*B*A", dict(symmetric=False)),
    ("exp(S)", dict(symmetric=True, lo=0.0)),
    ("S.*(A + A')", dict(symmetric=True)),
    ("A.*I", dict(diagonal=True, symmetric=True)),
    ("kron(S, A'*A)", dict(symmetric=True, psd=False)),
    ("kron(X'*X, A*A')", dict(psd=True)),
    ("(S + A*A')'", dict(symmetric=True)),
    ("K(n, n)", dict(symmetric=True, orthogonal=True)),
    ("K(n, m)", dict(symmetric=False, orthogonal=True, lo=0.0, hi=1.0)),
    # definite
    ("A*A' + I", dict(pd=True, nonsingular=True)),
    ("inv(A*A' + I)", dict(pd=True)),
    ("2*X'*X", dict(psd=True)),
    ("-2*X'*X", dict(psd=False, symmetric=True)),
    ("(X'*X).*(X'*X)", dict(psd=True)),
    ("exp(x)*exp(x)'", dict(psd=True, lo=0.0)),
    ("diag(exp(x))", dict(psd=True, pd=False, diagonal=True, lo=0.0)),  # exp underflows to 0
    ("diag(1 + exp(x))", dict(pd=True, diagonal=True, lo=0.0)),
    ("diag(x)", dict(diagonal=True, psd=False)),
    ("I", dict(pd=True, orthogonal=True, diagonal=True)),
    ("ones(n, n)", dict(psd=True, lo=1.0, hi=1.0)),
    # signs and ranges
    ("sigmoid(x)", dict(lo=0.0, hi=1.0)),
    ("1 - sigmoid(x)", dict(lo=0.0, hi=1.0)),
    ("1 - tanh(x).^2", dict(lo=0.0, hi=1.0)),
    ("1 - sin(x).^2", dict(lo=0.0, hi=1.0)),
    ("exp(x)", dict(lo=0.0, hi=math.inf)),
    ("x.^2", dict(lo=0.0)),
    ("x.^3", dict(lo=-math.inf)),
    ("x.^-2", dict(lo=0.0)),
    ("x.^0.5", dict(lo=0.0)),
    ("exp(x).^-1", dict(lo=0.0)),
    ("2 + cos(x)", dict(lo=1.0, hi=3.0)),
    ("sum(exp(X))", dict(lo=0.0)),
    ("sum(-exp(X))", dict(hi=0.0)),
    ("sum(X)", dict(lo=-math.inf, hi=math.inf)),
    ("x'*x", dict(lo=0.0, psd=True)),
    ("x'*S*x", dict(lo=-math.inf)),
    ("x'*(A'*A)*x", dict(lo=0.0)),
    ("tr(X'*X)", dict(lo=0.0)),
    ("det(X'*X)", dict(lo=0.0)),
    ("norm2(X)", dict(lo=0.0)),
    ("sigmoid(a)*sigmoid(b)", dict(lo=0.0, hi=1.0)),
    ("exp(X)*exp(Y)", dict(lo=0.0)),
    ("-exp(X)*exp(Y)", dict(hi=0.0)),
    ("abs(a)^0.5", dict(lo=0.0)),
    ("relu(x) + step(x)", dict(lo=0.0)),
    ("a^2 + b^2", dict(lo=0.0, pd=False)),
    ("1 + a^2", dict(lo=1.0, pd=True, nonsingular=True)),
]


@pytest.mark.parametrize("text, want", CASES, ids=[c[0] for c in CASES])
def test_facts_of_expressions(text, want):
    f = facts(_parse(text))
    for k, v in want.items():
        assert getattr(f, k) == v, f"{text}: {k} is {getattr(f, k)}, expected {v} ({f.describe()})"


def test_facts_are_memoized_and_iterative():
    """Deep expressions need no recursion; a node's facts are computed once."""
    x = E.var("x", ("n", 1))
    e = x
    for _ in range(5000):
        e = E.fn("sigmoid", E.add(e, x))
    assert facts(e).hi == 1.0
    assert facts(e) is facts(e)
    assert e._facts is facts(e)  # remembered in the node
    assert all(hasattr(a, "_facts") for a in e.walk())  # every node under it computed once


def test_closed_and_meets():
    assert Facts(pd=True).closed() == Facts(pd=True, psd=True, symmetric=True, nonsingular=True)
    assert Facts(diagonal=True).closed().lower
    assert Facts(pd=True, lo=0.0).meets(Facts(symmetric=True, lo=-1.0))
    assert not Facts(psd=True).meets(Facts(pd=True))
    assert not Facts(lo=-1.0).meets(Facts(lo=0.0))


def test_intervals():
    from fractions import Fraction as Q

    assert F.ipow((-2.0, 3.0), Q(2)) == (0.0, 9.0)
    assert F.ipow((-2.0, 3.0), Q(3)) == (-8.0, 27.0)
    assert F.ipow((1.0, 2.0), Q(-1)) == (0.5, 1.0)
    assert F.ipow((0.0, 2.0), Q(-1)) == (0.5, math.inf)
    assert F.ipow((-1.0, 2.0), Q(-1)) == (-math.inf, math.inf)
    assert F.ipow((-1.0, 2.0), Q(-2)) == (0.25, math.inf)
    assert F.ipow((-4.0, 4.0), Q(1, 2)) == (0.0, 2.0)
    assert F.ipow((1e200, math.inf), Q(3)) == (math.inf, math.inf)
    assert F.imul((0.0, 1.0), (-math.inf, math.inf)) == (-math.inf, math.inf)
    assert F.imul((0.0, 0.0), (-math.inf, math.inf)) == (0.0, 0.0)


# ---------------------------------------------------------------------------- the three analyses read it


def test_simplifier_codegen_checker_read_the_facts():
    from matdiff.backends import lower
    from matdiff.core import facts
    from matdiff.passes import simplify

    assert lower.is_nonnegative is facts.is_nonnegative  # code generation reads the facts layer
    e = _parse("1 - tanh(x).^2")
    assert lower.is_nonnegative(e) and not lower.is_nonnegative(_parse("tanh(x)"))
    assert facts.in_unit_interval(_parse("sigmoid(x)"))
    assert simplify.is_symmetric(_parse("Y*S*Y'")) and not simplify.is_symmetric(_parse("Y*A*Y'"))
    # S' -> S for a symmetric sum kept under a transpose
    t = E.transpose(E.add(_parse("S"), _parse("A*A'")))
    assert t.op == "transpose"
    assert simplify.simplify(t) is t.args[0]


@pytest.mark.parametrize("text, positive", [
    ("log(x'*x)", {"x"}),  # x'*x may be 0: still drawn positive, as before
    ("log(1 + x'*x)", set()),  # the argument is >= 1 for every x
    ("log(sigmoid(x))", {"x"}),  # sigmoid may underflow to 0
    ("sqrt(x)", {"x"}),
    ("x.^0.5 + y.^2", {"x"}),
    ("a^b", {"a"}),
    ("logdet(A)", {"A"}),
    ("logdet(S)", {"S"}),
    ("det(A) + tr(inv(B))", {"A", "B"}),
    ("A^3", set()),  # a positive matrix power is defined at every A
    ("A^-2", {"A"}),  # inv(A)^2
    ("inv(A*A' + I)", set()),  # positive definite: nonsingular for every A
    ("logdet(exp(x)*exp(x)' + I)", set()),
    ("tan(x)", set()),  # a bounded domain around 0 is not a positive one
])
def test_checker_positive_variables(text, positive):
    from matdiff.check.checker import _positive_vars

    assert _positive_vars(_parse(text)) == positive


def test_checker_samples_negative_where_the_facts_allow():
    """log(1 + x'*x): x is no longer forced positive, and the check still agrees."""
    r = matdiff.derive("log(1 + x'*x)", wrt="x").check(seed=1)
    assert r.ok, r


# ---------------------------------------------------------------------------- requirements


_NO_JVP = Rule("d.test", "a test-only op: not differentiated", "-", "test", lambda n, d: None)


@pytest.fixture
def chol_op(declared):
    """A test-only chol-like op that requires a symmetric argument (how: given by the test),
    declared like any other op: the requirement is part of its OpDef."""
    def install(how="error"):
        declared(OpDef("tchol", rank=21, jvp=_NO_JVP, build=lambda a: E.Expr("tchol", (a,), a.shape),
                       language=("tchol",), arity=1, shape="square_same", facts=F.no_facts,
                       requires=(F.require(0, Facts(symmetric=True), how=how),)))
    return install


def test_registered_test_op_is_removed_afterwards(declared):
    declared(OpDef("tgone", rank=21, jvp=_NO_JVP, facts=F.no_facts))
    assert "tgone" in R.OPS
    with R.registered(OpDef("tgone2", rank=21, jvp=_NO_JVP)):
        assert "tgone2" in R.OPS and E._RANK["tgone2"] == 21
    assert "tgone2" not in R.OPS and "tgone2" not in E._RANK
    with pytest.raises(ValueError):  # a requirement is a Requirement, made by require()
        R.register(OpDef("tbad", rank=21, jvp=_NO_JVP, requires=("symmetric",)))
    assert "tbad" not in R.OPS


def test_requirement_met(chol_op):
    chol_op()
    e = P.parse("tchol(S)", {"S": "n,n"}, symmetric=["S"])
    assert e.op == "tchol" and e.args[0].op == "var"
    e = P.parse("tchol(A'*A)", {"A": "m,n"})
    assert e.args[0] is _parse_plain("A'*A", {"A": "m,n"})
    e = P.parse("tchol(X*S*X' + I)", {"S": "n,n", "X": "m,n"}, symmetric=["S"])
    assert e.op == "tchol"


def _parse_plain(text, shapes):
    return P.parse(text, shapes)


def test_requirement_error_names_requirement_position_and_declaration(chol_op):
    chol_op()
    with pytest.raises(RequirementError) as ex:
        P.parse("x'*tchol(A)*x", {"A": "n,n"})
    msg = str(ex.value)
    assert "symmetric" in msg and "column 10" in msg and "symmetric=['A']" in msg
    assert "         ^" in msg  # the caret under the argument
    token = ER.INTERFACE.set("cli")
    try:
        with pytest.raises(RequirementError, match="--symmetric A"):
            P.parse("tchol(A)", {"A": "n,n"})
    finally:
        ER.INTERFACE.reset(token)
    with pytest.raises(RequirementError, match=r"declare A, B symmetric \(symmetric=\['A', 'B'\]\)"):
        P.parse("tchol(A + B')", {"A": "n,n", "B": "n,n"})
    with pytest.raises(RequirementError) as ex:  # declaring A and B would not help A*B
        P.parse("tchol(A*B)", {"A": "n,n", "B": "n,n"})
    assert "declare" not in str(ex.value) and "write a symmetric expression" in str(ex.value)
    with pytest.raises(matdiff.MatdiffError):  # through the API too, a MatdiffError
        matdiff.derive("tr(tchol(A))", wrt="A")


def test_requirement_symmetrize(chol_op):
    chol_op(how="symmetrize")
    e = P.parse("tchol(A)", {"A": "n,n"})
    A = P.parse("A", {"A": "n,n"})
    assert e.args[0] is F.symmetrize(A)
    assert str(e.args[0]) == "0.5*(A + A')"
    assert facts(e.args[0]).symmetric
    e = P.parse("tchol(S)", {"S": "n,n"}, symmetric=["S"])  # already symmetric: unchanged
    assert e.args[0].op == "var"


def test_require_rejects_bad_declarations():
    with pytest.raises(ValueError):
        F.require(0, Facts(symmetric=True), how="guess")
    with pytest.raises(ValueError):
        F.require(0, Facts(pd=True), how="symmetrize")


# ---------------------------------------------------------------------------- several outputs


@pytest.fixture
def eigh_op(declared):
    """A test-only eigendecomposition: one tuple-valued node, two outputs, declared with its
    transfer rule (a tuple of Facts)."""
    def t_eigh(node, fs):
        (s,) = fs
        return (Facts(lo=0.0) if s.psd else Facts(), Facts(orthogonal=True))
    declared(OpDef("teigh", rank=21, jvp=_NO_JVP, facts=t_eigh))

    def build(S):
        return multi("teigh", (S,), [(S.rows, 1), S.shape])
    return build


def test_several_outputs_share_one_node(eigh_op):
    X = E.var("X", ("m", "n"))
    G = E.mul(E.transpose(X), X)
    t = eigh_op(G)
    w, V = outputs(t)
    assert is_multi(t) and not is_multi(w)
    assert w.args[0] is V.args[0] is t and proj(t, 1) is V
    assert w.shape == ("n", 1) and V.shape == ("n", "n")
    # facts per output
    ft = facts(t)
    assert isinstance(ft, tuple) and len(ft) == 2
    assert facts(w).lo == 0.0 and facts(V).orthogonal and facts(V).nonsingular
    assert facts(proj(eigh_op(E.var("S", ("n", "n"), True)), 0)).lo == -math.inf  # S: not psd
    # the projections are ordinary nodes: products, sums; one decomposition feeds both
    R = E.mul(V, E.diagm(w), E.transpose(V))  # V diag(w) V' rebuilds G
    assert facts(R).psd and facts(R).symmetric
    shared = [n for n in R.walk() if n.op == "teigh"]
    assert shared == [t]
    # substitution rebuilds the tuple node once, still shared
    Y = E.var("Y", ("m", "n"))
    R2 = E.substitute(R, {X: Y})
    assert [n.args[0] for n in R2.walk() if n.op == "teigh"] == [E.mul(E.transpose(Y), Y)]
    with pytest.raises(ValueError):
        proj(t, 2)
    with pytest.raises(ValueError):
        proj(G, 0)
    with pytest.raises(ValueError):
        multi("teigh", (t,), [(1, 1), (1, 1)])


def test_several_outputs_numerically(eigh_op):
    """The facts claimed per output hold for NumPy's eigh."""
    rng = np.random.default_rng(0)
    X = E.var("X", (5, 3))
    t = eigh_op(E.mul(E.transpose(X), X))
    w, V = outputs(t)
    vals = {"X": rng.standard_normal((5, 3))}
    ev, evecs = np.linalg.eigh(vals["X"].T @ vals["X"])
    got = {t: (ev.reshape(-1, 1), evecs)}
    _check_claims(w, got[t][0])
    _check_claims(V, got[t][1])


# ---------------------------------------------------------------------------- property test


def _fn(name, x):
    return {"exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh,
            "sqrt": np.sqrt, "abs": np.abs, "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
            "relu": lambda v: np.maximum(v, 0), "sign": np.sign,
            "step": lambda v: (v > 0).astype(float)}[name](x)


def _kronadj(c, b, first):
    """Adjoint of M -> kron(M, B) (first) or M -> kron(A, M) at C, by its definition."""
    if first:
        p, q = b.shape
        r, s = c.shape[0] // p, c.shape[1] // q
        return np.array([[np.sum(b * c[i * p:(i + 1) * p, j * q:(j + 1) * q]) for j in range(s)]
                         for i in range(r)])
    a = b
    p, q = c.shape[0] // a.shape[0], c.shape[1] // a.shape[1]
    out = np.zeros((p, q))
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out += a[i, j] * c[i * p:(i + 1) * p, j * q:(j + 1) * q]
    return out


def evaluate(e, values, sizes) -> dict:
    """NumPy value (2-D) of every node of ``e``, children first; NaN where undefined."""
    val: dict = {}
    for n in e.walk():
        shp = None if is_multi(n) else (_size(n.rows, sizes), _size(n.cols, sizes))
        a = [val[x] for x in n.args]
        op = n.op
        try:
            with np.errstate(all="ignore"):
                if op == "var":
                    v = np.asarray(values[n.attr[0]], dtype=float).reshape(shp, order="F")
                elif op == "const":
                    v = np.array([[float(n.attr)]])
                elif op == "eye":
                    v = np.eye(shp[0])
                elif op in ("ones", "zero"):
                    v = np.full(shp, 1.0 if op == "ones" else 0.0)
                elif op == "K":
                    v = _commutation(_size(n.attr[0], sizes), _size(n.attr[1], sizes))
                elif op == "add":
                    v = sum(a[1:], a[0])
                elif op == "mul":  # scalar factors scale, the others form a matrix chain
                    v = _mul_scalars_then_chain(n, a)
                elif op == "transpose":
                    v = a[0].T
                elif op == "trace":
                    v = np.array([[np.trace(a[0])]])
                elif op == "det":
                    v = np.array([[np.linalg.det(a[0])]])
                elif op == "logdet":
                    v = np.array([[np.linalg.slogdet(a[0])[1]]])
                elif op == "inv":
                    v = np.linalg.inv(a[0])
                elif op == "mpow":
                    v = np.linalg.matrix_power(a[0], n.attr)
                elif op in ("pow", "hpow"):
                    v = a[0] ** a[1][0, 0]
                elif op == "had":
                    v = a[0]
                    for x in a[1:]:
                        v = v * x
                elif op == "fn":
                    v = _fn(n.attr, a[0])
                elif op == "sum":
                    v = np.array([[a[0].sum()]])
                elif op == "norm2":
                    v = np.array([[np.linalg.norm(a[0])]])
                elif op == "diagm":
                    v = np.diagflat(a[0])
                elif op == "diagv":
                    v = np.diag(a[0]).reshape(-1, 1)
                elif op == "vec":
                    v = a[0].reshape(-1, 1, order="F")
                elif op == "unvec":
                    v = a[0].reshape(shp, order="F")
                elif op == "kron":
                    v = np.kron(a[0], a[1])
                elif op == "kronadj1":
                    v = _kronadj(a[0], a[1], True)
                elif op == "kronadj2":
                    v = _kronadj(a[1], a[0], False)
                elif op == "bcast":
                    v = np.full(shp, a[0][0, 0])
                else:
                    raise AssertionError(op)
        except np.linalg.LinAlgError:
            v = np.full(shp, np.nan)
        assert v.shape == shp, (op, v.shape, shp)
        val[n] = v
    return val


def _mul_scalars_then_chain(n, a):
    s = 1.0
    chain = []
    for x, xv in zip(n.args, a):
        if x.is_scalar:
            s = s * xv[0, 0]
        else:
            chain.append(xv)
    v = np.array([[1.0]])
    if chain:
        v = chain[0]
        for xv in chain[1:]:
            v = v @ xv
    return s * v


class _Why:
    """The assertion message, built only when shown (str() of a test-only op would fail)."""

    def __init__(self, node, f):
        self.node, self.f = node, f

    def __repr__(self):
        try:
            text = str(self.node)
        except Exception:  # noqa: BLE001
            text = self.node.op
        return f"{text}: {self.f.describe()}"


def _check_claims(node, v):
    """Every claim of facts(node) holds for the value v (up to rounding); NaN is no claim."""
    f = facts(node)
    v = np.asarray(v, dtype=float)
    fin = v[np.isfinite(v)]
    scale = max(1.0, float(np.max(np.abs(fin)))) if fin.size else 1.0
    tol = 1e-7 * scale
    why = _Why(node, f)
    if fin.size:
        assert np.all(fin >= f.lo - 1e-9 * max(1.0, abs(f.lo)) - (tol if f.lo != 0 else 1e-12 * scale)), \
            (why, float(fin.min()))
        assert np.all(fin <= f.hi + 1e-9 * max(1.0, abs(f.hi)) + (tol if f.hi != 0 else 1e-12 * scale)), \
            (why, float(fin.max()))
    if not np.all(np.isfinite(v)) or v.shape[0] != v.shape[1]:
        return
    if f.symmetric:
        assert np.max(np.abs(v - v.T)) <= tol, why
    if f.psd:
        assert np.min(np.linalg.eigvalsh((v + v.T) / 2)) >= -tol, why
    if f.lower:
        assert np.max(np.abs(np.triu(v, 1)), initial=0.0) <= tol, why
    if f.upper:
        assert np.max(np.abs(np.tril(v, -1)), initial=0.0) <= tol, why
    if f.orthogonal:
        assert np.max(np.abs(v.T @ v - np.eye(len(v)))) <= 1e-8 * scale, why


def _draw(parsed_shapes, sym, sizes, rng, spd):
    """Random inputs: the generator's kinds (well-conditioned A, B, M), S spd or just symmetric."""
    values = {}
    for name, shp in parsed_shapes.items():
        r, c = _size(shp[0], sizes), _size(shp[1], sizes)
        kind = ("spd" if spd else "sym") if name in sym else KINDS.get(name, "any")
        values[name] = random_value((r, c), kind, rng, name in sym) if (r, c) != (1, 1) else \
            random_value((), kind, rng)
    return values


def _structured(rnd: random.Random, depth: int) -> str:
    """A random n x n expression built from structure-making forms (X'X, A + A', inv, .^2 ...)."""
    if depth == 0:
        return rnd.choice(["A", "B", "S", "I", "ones(n, n)", "diag(x)", "x*x'", "x*y'", "C*C'",
                           "diag(exp(y))", "x'*y*I"])
    a = _structured(rnd, depth - 1)
    b = _structured(rnd, depth - 1)
    form = rnd.choice([
        "({a})'*({a})", "({a})*({a})'", "({a}) + ({a})'", "({a})*({b})", "({a}) + ({b})",
        "({a}) - ({b})", "({a}).*({b})", "({a}).^2", "({a})^2", "({a})^3", "inv(({a})'*({a}) + I)",
        "inv(({a})*({a})' + I)*({b})", "exp({a})", "sigmoid({a})", "tanh({a})", "2*({a})", "-({a})",
        "({b})'*({a})*({b})", "({b})*({a})*({b})", "({b})*({a})'*({a})*({b})", "diag(diag({a}))", "tr({a})*({b})", "sum({a})*({b})", "abs({a})",
        "sqrt(abs({a}))", "({a})*S*({a})'", "ones(n, n) - sigmoid({a})", "ones(n, n) - tanh({a}).^2",
        "({a}).*I", "({a})'", "x'*({a})*x*({b})", "(x'*({a})'*({a})*x)*({b})", "({a}).^-2",
        "({a}).*({a})'", "inv(S)*({a})*inv(S)", "kron({a}, {b})", "unvec(vec({a}), n)",
        "(1 - sigmoid(sum({a})))*({b})", "({a}).^0.5",
    ])
    e = form.format(a=a, b=b)
    if "kron" in form:  # n*n x n*n: back to n x n through the adjoint of the Kronecker product
        e = f"kronadj1({e}, {b})"
    return e


# near misses of each rule (a claim here that does not hold fails the property test)
NEAR_MISSES = [
    "B*S*B", "B*(A + A')*B", "B'*S*B", "C'*B*S*B*C", "A*A", "A + B'", "A*B + B*A", "A*B + B'*A'",
    "A*B + A'*B'", "S*A*S", "(A + A').*B", "(A'*A).^3", "(A'*A).^-1", "(A'*A).^0.5", "S.^2",
    "inv(A + A')", "(A + A')^2", "(A + A')^3", "-(A'*A)", "(a - b^2)*A'*A",
    "diag(x)*A", "diag(x)*diag(y)", "x'*(A + A')*x", "x'*S*x", "det(A'*A + I)", "det(A + A')",
    "sum(tanh(A))", "tr(S)", "tr(-S)", "tr(-(A + A'))", "tr(B + B' - 10*I)", "det(-(A'*A) - I)", "tr(S^2)", "tr((A + A')^2)", "logdet(A'*A + I)", "sum(A.*A)",
    "1 - tanh(x).^3", "1 - sin(x).^2", "1 - sigmoid(x).^2", "sigmoid(x) - 1", "exp(x) - exp(y)",
    "x.^-3", "x.^-2", "abs(x).^-1", "kron(A'*A, S)", "kron(A'*A, B*B')", "kron(x, y')",
    "ones(n, n) - x*y'", "vec(exp(A))", "diag(diag(A'*A))", "diag(diag(S))",
]


def _corpus():
    rnd = random.Random(7)
    out = [(t, True) for t in NEAR_MISSES]
    for _ in range(100):
        out.append((_structured(rnd, rnd.randint(1, 3)), True))
    for _ in range(20):
        s = _structured(rnd, rnd.randint(1, 2))
        wrap = rnd.choice(["tr({})", "sum({})", "det({})", "x'*({})*x", "norm2({})", "logdet({})"])
        out.append((wrap.format(s), True))
    out += random_corpus(60, seed=3, max_depth=4)
    out += random_corpus(40, seed=4, max_depth=3, arrays=True)
    return out


@pytest.mark.parametrize("text, with_sym", _corpus())
def test_every_claim_holds_numerically(text, with_sym):
    """For every node of the expression, what facts claim holds at random inputs."""
    shapes = shapes_for(with_sym)
    sym = ["S"] if with_sym and "S" in variables_in(text) else []
    parsed = P.parse_full(text, shapes, symmetric=sym)
    e = parsed.expr
    rng = np.random.default_rng(abs(hash(text)) % 2**32)
    for trial in range(3):
        sizes = {"n": int(rng.integers(2, 5)), "m": int(rng.integers(2, 5))}
        for fresh in parsed.fresh:
            sizes.setdefault(str(fresh), 2)
        values = _draw(parsed.shapes, sym, sizes, rng, spd=trial != 1)
        val = evaluate(e, values, sizes)
        # the evaluator agrees with the syntax-tree oracle (which has no kronadj)
        with np.errstate(all="ignore"):
            want = None if "kronadj" in text else reference_value(text, shapes, sym, values, sizes)
        got = val[e]
        if want is not None and np.all(np.isfinite(want)) and np.all(np.abs(want) < 1e6):
            assert np.allclose(got.reshape(want.shape), want, rtol=1e-6, atol=1e-8), text
        for node in e.walk():
            _check_claims(node, val[node])


def test_nothing_known_is_one_object_and_chains_of_it_take_the_short_cut_exactly():
    """Facts equal to "nothing known" are the NOTHING object (rules over long chains test
    it by identity), and the product rule's short cut for chains of such factors gives
    what the general rule gives, palindromes (G*G', G*M*G') included."""
    from matdiff.core.shapes import sym as dim
    from matdiff.ops import arith

    k = dim("k")
    A, B, C = (E.var(v, (k, k)) for v in "ABC")
    S = E.var("S", (k, k), symmetric=True)
    assert facts(A) is F.NOTHING and facts(E.transpose(B)) is F.NOTHING
    rng = random.Random(11)
    pool = [A, B, C, E.transpose(A), E.transpose(B), S]
    seen_pal = 0
    for _ in range(300):
        chain = [rng.choice(pool) for _ in range(rng.randint(2, 9))]
        if rng.random() < 0.4:  # a palindrome G*G' or G*M*G'
            mid = [rng.choice(pool)] if rng.random() < 0.5 else []
            chain = chain + mid + [E.transpose(f) for f in reversed(chain)]
        chain = [f for i, f in enumerate(chain) if i == 0 or f is not chain[i - 1]]
        p = E.mul(*chain)
        if p.op != "mul":
            continue
        fs = [facts(a) for a in p.args]
        general = F._finish(p, arith._chain_facts(list(p.args), [f.closed() for f in fs]))
        assert F._finish(p, arith._mul_facts(p, fs)) == general, str(p)
        seen_pal += general.symmetric
    assert seen_pal > 10  # the palindromes were reached, and kept their symmetry
