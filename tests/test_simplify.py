"""Every simplification rule, checked two ways: it fires on an expression written for it,
and the simplified expression has the same value as the original on random inputs.

``test_every_rule_is_exercised`` fails when a rule is added to ``simplify.RULES`` without
a case here.
"""

from __future__ import annotations

import numpy as np
import pytest

from matdiff.backends.emit import compile_source, generate
from matdiff.core import expr as E
from matdiff.lang.parsing import parse_full
from matdiff.passes.simplify import RULES, is_symmetric, simplify, sym

# (rule name, expression, shapes, symmetric): the expression contains a node the rule rewrites
CASES = [
    ("_t_symmetric", "(S*A*A'*S)'", {}, ["S"]),
    ("_t_symmetric", "(A + A')'", {}, []),
    ("_t_mul", "(A*B*x)'", {}, []),
    ("_t_kron", "kron(A, B)'", {}, []),
    ("_tr_rotate", "tr(A*x*y')", {}, []),
    ("_tr_sym_transposes", "tr(A'*B'*C')", {}, []),
    ("_factor", "A*x + A'*x", {}, []),
    ("_factor", "x'*A + x'*B", {"B": "n,n"}, []),
    ("_had_sigmoid", "exp(x) ./ (1 + exp(x))", {}, []),
    ("_had_sigmoid", "exp(-x) .* (1 + exp(-x)).^-2", {}, []),
    ("_mul_sigmoid", "exp(a)/(1 + exp(a))", {}, []),
    ("_mul_sigmoid", "a/(1 + exp(-b))", {}, []),
    ("_mul_scalar_orient", "dx'*A*x", {"dx": "n"}, []),
    ("_mul_negated_sum", "A*(-B - C)", {}, []),
    ("_mul_sum_common_rational", "A*(3*B + 6*C)*x", {}, []),
    ("_mul_sum_common_rational", "(0.5*B - 1.5*C')*A", {}, []),
    ("_mul_negated_sum", "(-B - C)'*A", {}, []),
    ("_mul_inv_transpose", "inv(A)'*A'*B", {}, []),
    ("_tr_kron", "tr(kron(A, B))", {}, []),
    ("_tr_kron", "tr(kron(x, y'))", {"x": "n", "y": "n"}, []),
    ("_tr_kron", "tr(kron(x', y))", {"x": "n", "y": "n"}, []),
    ("_mul_kron_kron", "kron(A, B)*kron(C, D)", {}, []),
    ("_mul_commute_kron", "K(p, m)*kron(A, B)*vec(X)", {"A": "m,n", "B": "p,q", "X": "q,n"}, []),
    ("_mul_commute_kron", "K(p, m)*K(m, p)*vec(X)", {"X": "m,p"}, []),
    ("_mul_vec_eye_kron", "vec(I)'*kron(B', A)", {"A": "n,m", "B": "m,n"}, []),
    ("_tr_frechet", "tr(Dexpm(A, B*C))", {}, []),
    ("_tr_daleckii_krein", "tr(eigvecs(S)*(Fexpm(eigvals(S)) .* (eigvecs(S)'*B*eigvecs(S)))*eigvecs(S)')", {}, ["S"]),
    ("_mul_daleckii_krein_identity", "B*eigvecs(S)*((eigvecs(S)'*eigvecs(S)) .* Fsinm(eigvals(S)))*eigvecs(S)'",
     {}, ["S"]),
    ("_tr_frechet", "tr(Dsinm(A, B))", {}, []),
    ("_tr_frechet", "tr(Dcosm(A', B))", {}, []),
    ("_mpow_transpose", "(A')^3", {}, []),
    ("_mpow_transpose", "(inv(A)')^2*B", {}, []),
    ("_mul_transpose_collapse", "B*A'*(A^2)'", {}, []),
    ("_mul_transpose_collapse", "(A^2)'*inv(A)'*x", {}, []),
    ("_add_transpose_sum", "(A + B)' + A' + C", {}, []),
    ("_add_transpose_sum", "a*(A*B + inv(S))' + B'*A' - a*inv(S)", {}, ["S"]),
    ("_add_sum_collect", "1/a - (b + 1/a)", {}, []),
    ("_add_sum_collect", "2*(A + B) - 2*B + C", {"A": "n,m"}, []),
    ("_add_sum_collect", "exp(a)*(b*x + y) - exp(a)*y", {"x": "n"}, []),
    ("_add_had_expand", "y .* (1 - s) - s .* (1 - y)", {"y": "n", "s": "n"}, []),
    ("_add_had_expand", "X .* (Y + 1) - Y .* X", {"X": "n,m", "Y": "n,m"}, []),
    ("_add_common_scalar", "cos(a)*A + cos(a)*A'", {}, []),
    ("_add_common_scalar", "2*A*x/a - 2*b*x/a^2", {}, []),
    ("_add_common_scalar", "-exp(a)*x - exp(a)*y - exp(a)^2*z", {"x": "n", "y": "n", "z": "n"}, []),
    ("_add_had_factor", "u .* sigmoid(v).^2 .* w.^2 - sigmoid(v) .* u .* w.^2", {"u": "n", "v": "n", "w": "n"}, []),
    ("_add_had_factor", "X .* exp(Y) + X .* exp(Z) .* Y", {"X": "n,m", "Y": "n,m", "Z": "n,m"}, []),
    ("_add_had_factor", "u .* exp(w) ./ v - exp(w) .* u ./ v.^3", {"u": "n", "v": "n", "w": "n"}, []),
    ("_add_diag_sum", "diag(u) - 2*diag(v .* w)", {"u": "n", "v": "n", "w": "n"}, []),
    ("_add_diag_sum", "a*diag(A) + diag(B*C) + x", {"A": "n,n", "B": "n,m", "C": "m,n", "x": "n"}, []),
    ("_add_scalar_orient", "V'*A*x + x'*A*V", {"V": "n", "x": "n"}, []),
    ("_add_scalar_orient", "2*v'*B*C*u + a*u'*v - 3*u'*C'*B'*v", {"B": "n,m", "C": "m,n", "u": "n", "v": "n"}, []),
    ("_factor_identity", "2*(x - P*x) - 2*P*(x - P*x)", {"P": "n,n", "x": "n"}, []),
    ("_factor_identity", "2*(x - y)'*B*C - 2*(x - y)'", {"B": "n,m", "C": "m,n", "x": "n", "y": "n"}, []),
]

# each rule is also checked at these sizes of the dimension symbols (non-square and vector shapes)
SIZES = [(3, 4, 5, 2), (2, 5, 3, 4), (4, 2, 6, 3)]

RULE_BY_NAME = {r.fn.__name__: r for rules in RULES.values() for r in rules}
RULE_OP = {r.fn.__name__: op for op, rules in RULES.items() for r in rules}  # the op a rule rewrites


def with_differential(e: E.Expr, name: str = "dx") -> E.Expr:
    """The variable ``dx`` of a test expression as the differential leaf d(x)."""
    return E.substitute(e, {n: E.dvar(name[1:], n.shape) for n in e.walk()
                            if n.op == "var" and n.attr[0] == name})


def without_differential(e: E.Expr) -> E.Expr:
    """Differential leaves back to plain variables (to evaluate)."""
    return E.substitute(e, {n: E.var("d" + n.attr[0], n.shape) for n in e.walk() if n.op == "dvar"})


def evaluate(e: E.Expr, values: dict):
    """The value of an expression, compiled with matdiff's code generator."""
    names = sorted({n.attr[0] for n in e.walk() if n.op == "var"})
    shapes = {n.attr[0]: n.shape for n in e.walk() if n.op == "var"}
    src = generate([("value", e, "matrix" if not e.is_scalar else "value")],
                   [(n, shapes[n]) for n in names], "_f")
    return compile_source(src, "_f")(*[values[n] for n in names])


def random_inputs(parsed, rng, sizes=(3, 4, 5, 2)):
    dimsize: dict = {}
    values = {}
    shapes = {n.attr[0]: n.shape for n in parsed.expr.walk() if n.op == "var"}
    for name, (r, c) in shapes.items():
        dims = []
        for d in (r, c):
            if isinstance(d, int):
                dims.append(d)
            else:
                key = str(d)
                if key not in dimsize:
                    dimsize[key] = sizes[len(dimsize) % len(sizes)]
                dims.append(dimsize[key])
        if dims == [1, 1]:
            values[name] = float(rng.uniform(0.5, 1.5))
        elif dims[1] == 1:
            values[name] = rng.standard_normal(dims[0])
        else:
            M = rng.standard_normal(dims)
            if dims[0] == dims[1]:
                M = M + 3 * dims[0] * np.eye(dims[0])
                if name in parsed.symmetric:
                    M = M + M.T
            values[name] = M
    return values


def test_every_rule_is_exercised():
    missing = sorted(set(RULE_BY_NAME) - {c[0] for c in CASES})
    assert not missing, f"add a case for {missing}"


@pytest.mark.parametrize("rule, text, shapes, symmetric", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_rule_fires_and_preserves_the_value(rule, text, shapes, symmetric):
    parsed = parse_full(text, shapes or None, symmetric)
    e = with_differential(parsed.expr)
    fires = [n for n in e.walk() if n.op == RULE_OP[rule] and RULE_BY_NAME[rule](n) not in (None, n)]
    assert fires, f"{rule} does not fire on {text} ({e})"
    s = simplify(e)
    rng = np.random.default_rng(len(text))
    for sizes in SIZES:
        values = random_inputs(parsed, rng, sizes)
        ev = lambda x, values=values: evaluate(without_differential(x), values)  # noqa: E731
        np.testing.assert_allclose(ev(s), ev(e), rtol=1e-9, atol=1e-12)
        # and the rewrite of each firing node on its own
        for n in fires:
            np.testing.assert_allclose(ev(RULE_BY_NAME[rule](n)), ev(n), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("text, expected", [
    ("A + A'", True), ("A*A'", True), ("inv(S)*x*x'*inv(S)", True), ("A*B", False),
    ("kron(S, S)", True), ("x*y'", False), ("exp(S)", True),
])
def test_symmetry_detection_is_sound(text, expected):
    parsed = parse_full(text, None, ["S"] if "S" in text else [])
    assert is_symmetric(parsed.expr) is expected
    if expected:
        M = evaluate(parsed.expr, random_inputs(parsed, np.random.default_rng(0)))
        np.testing.assert_allclose(M, M.T, rtol=1e-12)


def test_sym_is_the_symmetric_part():
    parsed = parse_full("A*B", {"A": "n,n", "B": "n,n"}, [])
    G = sym(parsed.expr)
    values = random_inputs(parsed, np.random.default_rng(1))
    M = evaluate(parsed.expr, values)
    np.testing.assert_allclose(evaluate(G, values), (M + M.T) / 2, rtol=1e-12)
