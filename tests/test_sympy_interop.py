"""SymPy both ways (issue 15): matdiff -> SymPy -> matdiff round trips on the Cookbook corpus,
SymPy's evaluation of ``to_sympy()`` at concrete sizes against the independent reference
evaluator, SymPy input to ``derive`` and ``from_sympy``, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from reference import reference_value
from test_cookbook import GOLDEN

import matdiff
from matdiff.core.shapes import dim_value

sp = pytest.importorskip("sympy")

CORPUS = [(g.expr, g.shapes or {}, g.sym) for g in GOLDEN]


def _derivation(text, shapes, sym, wrt=None):
    names = matdiff.parse(text, shapes or None, symmetric=sym).free_vars()
    return matdiff.derive(text, wrt=wrt or sorted(names)[0], shapes=shapes or None, symmetric=sym)


def _var_shapes(d) -> dict:
    return {n.attr[0]: n.shape for n in d.expr.walk() if n.op == "var"}


def _values(d, sizes, rng):
    """Positive entries; square matrices diagonally dominant (log, sqrt, det, inv all defined)."""
    vals = {}
    for name, shape in _var_shapes(d).items():
        r, c = (dim_value(x, sizes) for x in shape)
        v = rng.uniform(0.5, 1.5, (r, c))
        if r == c and r > 1:
            v = v + r * np.eye(r)
        if name in d.symmetric:
            v = (v + v.T) / 2
        vals[name] = v
    return vals


def _sympy_value(s, sizes, vals):
    """SymPy's own evaluation: sizes substituted, entries written out (.as_explicit()), values in."""
    s = s.subs({sp.Symbol(k): v for k, v in sizes.items()})
    rep = {}
    for name, v in vals.items():
        rep[sp.Symbol(name)] = sp.Float(v[0, 0])
        M = sp.MatrixSymbol(name, *v.shape)
        rep.update({M[i, j]: sp.Float(v[i, j]) for i in range(v.shape[0]) for j in range(v.shape[1])})
    out = s.as_explicit() if isinstance(s, sp.MatrixExpr) else s
    # each matrix written out entry by entry, then Trace, Determinant, Sum, ... at these sizes
    out = out.xreplace({M: sp.ImmutableMatrix(M.as_explicit()) for M in out.atoms(sp.MatrixSymbol)})
    for _ in range(3):
        out = out.doit()
    out = out.xreplace(rep).doit()
    if isinstance(out, sp.MatrixBase):
        return np.array(out.evalf(), dtype=float)
    return np.array([[float(out)]])


@pytest.mark.parametrize("text,shapes,sym", CORPUS, ids=[c[0] for c in CORPUS])
def test_round_trip_and_values(text, shapes, sym):
    d = _derivation(text, shapes, sym)
    sizes = {}
    for dims in _var_shapes(d).values():
        for x in dims:
            for n in getattr(x, "names", ()):
                sizes.setdefault(str(n), 3 - len(sizes) % 2)
    rng = np.random.default_rng(0)
    vals = _values(d, sizes, rng)
    for e in (d.expr, d.gradient):
        try:
            s = e.to_sympy()
        except matdiff.MatdiffError as err:
            assert "SymPy cannot represent" in str(err)
            continue
        back = matdiff.from_sympy(s, shapes={n: s_ for n, s_ in d.shapes.items()})
        ref = reference_value(str(back), d.shapes, d.symmetric, vals, sizes)
        mine = reference_value(str(e), d.shapes, d.symmetric, vals, sizes)
        np.testing.assert_allclose(np.atleast_2d(ref), np.atleast_2d(mine), rtol=1e-9, atol=1e-9)
        got = _sympy_value(s, sizes, vals)
        np.testing.assert_allclose(got.reshape(np.shape(np.atleast_2d(mine))), np.atleast_2d(mine),
                                   rtol=1e-8, atol=1e-8)


ROUND = ["x'*A*x", "tr(X*A)", "logdet(X)", "log(det(X))", "sum(X.*X)", "exp(X) + sigmoid(X)", "inv(X)^2",
         "kron(A, B)", "diag(x)", "diag(X)", "a*X.^2 + 2*X", "[A, B; C, D]", "sum(exp(x))/c",
         "sum(x'*A)", "exp(x'*x)*A*x", "relu(X) + softplus(X) + log1p(X) + expm1(X) + abs(X)"]


@pytest.mark.parametrize("text", ROUND)
def test_exact_round_trip(text):
    e = matdiff.parse(text)
    assert matdiff.from_sympy(e.to_sympy()) is e


def test_log_det_from_sympy():
    n = sp.Symbol("n")
    X = sp.MatrixSymbol("X", n, n)
    d = matdiff.derive(sp.log(sp.Determinant(X)), wrt=X)
    assert str(d.gradient) == "inv(X)'"
    assert tuple(d.shapes["X"]) == ("n", "n")
    A = sp.MatrixSymbol("A", n, 3)
    e = matdiff.from_sympy(sp.Trace(A.T * X * A))
    assert str(e) == "tr(A'*X*A)"
    assert str(matdiff.derive(sp.Trace(A.T * X * A), wrt=[X]).gradient) == "A*A'"


def test_gradient_to_sympy():
    d = matdiff.derive("logdet(X)", wrt="X")
    assert d.gradient.to_sympy() == sp.Transpose(sp.Inverse(sp.MatrixSymbol("X", sp.Symbol("n"), sp.Symbol("n"))))


@pytest.mark.parametrize("text,shapes,what", [
    ("vec(X)'*vec(X)", None, "'vec'"), ("expm(X)", None, "'expm'"),
    ("sum(exp(x))/n", {"x": "n"}, "'n' names both a variable and a size")])  # declared so
def test_unrepresentable_is_a_clear_error(text, shapes, what):
    with pytest.raises(matdiff.MatdiffError, match=what):
        matdiff.parse(text, shapes).to_sympy()


def test_inferred_sizes_are_named_apart_from_the_variables():
    # the scalar n is not x's length: the inferred size takes another name, and SymPy gets both
    d = matdiff.derive("sum(exp(x))/n", "x")
    assert d.shapes == {"x": ("m",), "n": ()}
    assert str(d.gradient) == "exp(x)/n"
    assert {str(s) for s in d.expr.to_sympy().free_symbols} >= {"n", "x"}


def test_unreadable_sympy_is_a_clear_error():
    X = sp.MatrixSymbol("X", 2, 2)
    with pytest.raises(matdiff.MatdiffError, match="entry"):
        matdiff.from_sympy(X[0, 1] * sp.Trace(X))
    with pytest.raises(matdiff.MatdiffError, match="Derivative"):
        matdiff.from_sympy(sp.Derivative(sp.Function("f")(sp.Symbol("t")), sp.Symbol("t")))


def test_cli_and_derive_stay_free_of_sympy():
    import subprocess
    import sys

    code = ("import sys, matdiff, matdiff.cli; matdiff.derive('tr(X)', wrt='X'); "
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_readme_sympy_snippet_runs():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    part = readme[readme.index("## SymPy, both ways"):]
    code = part[part.index("```python\n") + 10:]
    exec(code[:code.index("```")], {})
