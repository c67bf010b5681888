"""Jacobians of matrix- and vector-valued expressions (matdiff.jacobian, issue 3).

Convention checked everywhere: vec is column-major and Jacobians are numerator layout,
vec(dF) = J vec(dX) with J of size(F) rows and size(X) columns. Every Jacobian is compared
with central differences of vec(F) = F.reshape(-1, order="F") at random inputs, at several
sizes including non-square ones (a row-major vec or a transposed layout fails these).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

import matdiff
from matdiff.core import expr as E
from matdiff.ops.registry import OPS
from matdiff.passes.vecpass import VEC_RULES

H = 1e-6
SIZES = [{"n": 2, "m": 3, "k": 4, "p": 2}, {"n": 3, "m": 2, "k": 3, "p": 4}]


# ---------------------------------------------------------------------------- helpers


def terms(text: str) -> list:
    """The signed top-level terms of a printed sum, sorted: compares sums up to term order
    (the canonical order of terms in a sum is an implementation detail)."""
    import re

    text = re.sub(r"\beye\([^()]*\)", "I", text)  # identities may print with their size
    out, depth, cur, sign = [], 0, "", "+"
    i = 0
    while i < len(text):
        ch = text[i]
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and text[i:i + 3] in (" + ", " - "):
            out.append(sign + cur)
            sign, cur = text[i + 1], ""
            i += 3
            continue
        cur += ch
        i += 1
    out.append(sign + cur)
    if out[0].startswith("+-"):
        out[0] = out[0][1:]
    return sorted(out)


def vec(a) -> np.ndarray:
    """Column-major vec of a NumPy value (scalar, 1-D vector or 2-D matrix)."""
    return np.asarray(a, dtype=float).reshape(-1, order="F")


def concrete(dims, sizes) -> tuple:
    return tuple(d if isinstance(d, int) else sizes[d] for d in dims)


def make_inputs(d, sizes, rng, spd=()):
    """Random inputs for every variable; names in ``spd`` get well-conditioned matrices."""
    out = {}
    for name, dims in d.shapes.items():
        shp = concrete(dims, sizes)
        if name in spd:
            out[name] = rng.standard_normal(shp) * 0.3 + 2.0 * np.eye(shp[0])
        elif not shp:
            out[name] = float(rng.standard_normal())
        else:
            out[name] = rng.standard_normal(shp)
    return out


def numeric_jacobian(value_fn, inputs, name) -> np.ndarray:
    """Central differences of vec(F) along each column-major coordinate of vec(X)."""
    x = np.asarray(inputs[name], dtype=float)
    cols = []
    for k in range(max(x.size, 1)):
        e = np.zeros(x.size)
        e[k] = H
        step = e.reshape(x.shape, order="F") if x.shape else float(e[0])
        plus, minus = dict(inputs), dict(inputs)
        plus[name], minus[name] = x + step, x - step
        cols.append((vec(value_fn(**plus)) - vec(value_fn(**minus))) / (2 * H))
    return np.stack(cols, axis=1)


def assert_close(an, fd, what):
    an = np.asarray(an, dtype=float)
    assert an.shape == fd.shape, f"{what}: shape {an.shape}, expected {fd.shape}"
    scale = 1.0 + np.max(np.abs(fd))
    err = np.max(np.abs(an - fd)) if an.size else 0.0
    assert err <= 1e-5 * scale, f"{what}: max error {err:.3g} (scale {scale:.3g})\n{an}\nvs\n{fd}"


def check_jacobians(d, sizes, seed=0, spd=()):
    rng = np.random.default_rng(seed)
    inputs = make_inputs(d, sizes, rng, spd)
    f = d.to_numpy()
    value, J = f(**inputs)
    Js = J if len(d.wrt) > 1 else {d.wrt[0]: J}
    vf = d.value_numpy()
    for name in d.wrt:
        fd = numeric_jacobian(vf, inputs, name)
        size_f = int(np.prod(np.shape(value))) if np.ndim(value) else 1
        size_x = int(np.prod(np.shape(inputs[name]))) if np.ndim(inputs[name]) else 1
        assert fd.shape == (size_f, size_x)
        assert_close(Js[name], fd, f"J of {d.text} by {name} at {sizes}")
    return inputs


# ---------------------------------------------------------------------------- the cases of the issue

# (expression, wrt, shapes, well-conditioned square inputs)
CASES = [
    ("X*A*X", "X", {"X": "n,m", "A": "m,n"}, ()),
    ("A^3", "A", {"A": "n,n"}, ()),
    ("inv(A)", "A", {"A": "n,n"}, ("A",)),
    ("A*X*B", "X", {"A": "n,m", "X": "m,k", "B": "k,p"}, ()),
    ("X'", "X", {"X": "n,m"}, ()),
    ("X .* X", "X", {"X": "n,m"}, ()),
    ("A*x", "x", {"A": "n,m", "x": "m"}, ()),
    ("exp(x)", "x", {"x": "n"}, ()),
    ("x/norm2(x)", "x", {"x": "n"}, ()),
    ("kron(X, B)", "X", {"X": "n,m", "B": "k,p"}, ()),
    ("kron(A, X)", "X", {"X": "n,m", "A": "k,p"}, ()),
    ("X'*X", "X", {"X": "n,m"}, ()),
    ("det(X)*inv(X)", "X", {"X": "n,n"}, ("X",)),
    ("tanh(W*x)", "W", {"W": "n,m", "x": "m"}, ()),
    # more of the vec rules: trace, sum, diag both ways, vec/unvec, broadcast, elementwise
    ("trace(X)*A", "X", {"X": "n,n", "A": "m,k"}, ()),
    ("sum(X)*X + X", "X", {"X": "n,m"}, ()),
    ("diag(x)", "x", {"x": "n"}, ()),
    ("diag(X)", "X", {"X": "n,n"}, ()),
    ("diag(diag(X))*A", "X", {"X": "n,n", "A": "n,m"}, ()),
    ("vec(X*A)", "X", {"X": "n,m", "A": "m,k"}, ()),
    ("unvec(x, 2)", "x", {"x": "6"}, ()),
    ("sum(X)*ones + X", "X", {"X": "n,m"}, ()),
    ("x*x'", "x", {"x": "n"}, ()),
    ("sigmoid(X) .* log(exp(X) + 1)", "X", {"X": "n,m"}, ()),
    ("A*X*B + C*X'*D", "X", {"A": "n,m", "X": "m,k", "B": "k,p", "C": "n,k", "D": "m,p"}, ()),
    ("a*X + X*a^2", "a", {"X": "n,m"}, ()),
    ("logdet(S)*x", "S", {"S": "n,n", "x": "m"}, ("S",)),
    ("kronadj1(X, B)", "X", {"X": "6,4", "B": "2,2"}, ()),
    ("kronadj2(A, X)", "X", {"X": "6,6", "A": "2,3"}, ()),
    # the bilinear adjoints by their other argument (met in Hessians of logdet(kron(A, A)))
    ("kronadj1(C, X)", "X", {"C": "6,4", "X": "2,2"}, ()),
    ("kronadj1(C, X)", "X", {"C": "6,6", "X": "3,2"}, ()),
    ("kronadj2(X, C)", "X", {"C": "6,4", "X": "2,1"}, ()),
    ("kronadj2(X, C)", "X", {"C": "6,6", "X": "2,3"}, ()),
    ("kronadj1(kron(X, X'), X) + kronadj2(X, kron(X, X'))", "X", {"X": "n,m"}, ()),
]


@pytest.mark.parametrize("sizes", SIZES, ids=["small", "other"])
@pytest.mark.parametrize("text,wrt,shapes,spd", CASES, ids=[c[0] for c in CASES])
def test_jacobian_matches_finite_differences(text, wrt, shapes, spd, sizes):
    d = matdiff.derive(text, wrt, shapes)
    check_jacobians(d, sizes, seed=len(text), spd=spd)


# golden forms: the identity each one is
GOLDEN = [
    ("A*X*B", "X", {}, "kron(B', A)"),  # vec(AXB) = (B' (x) A) vec(X)
    ("A*x", "x", {}, "A"),
    ("exp(x)", "x", {}, "diag(exp(x))"),
    ("X'", "X", {"X": "n,m"}, "K(n, m)"),  # vec(X') = K(n,m) vec(X)
    ("X*A*X", "X", {}, "kron(X'*A', I) + kron(I, X*A)"),
    ("inv(A)", "A", {}, "-kron(inv(A)', inv(A))"),
    ("X .* X", "X", {}, "2*diag(vec(X))"),
    ("x/norm2(x)", "x", {}, "I/norm2(x) - x*x'/norm2(x)^3"),
    ("X*Y", "Y", {}, "kron(I, X)"),
    ("tanh(W*x)", "W", {}, "diag(1 - tanh(W*x).^2)*kron(x', I)"),
    ("det(X)*inv(X)", "X", {}, "det(X)*(vec(inv(X))*vec(inv(X)')' - kron(inv(X)', inv(X)))"),
]


@pytest.mark.parametrize("text,wrt,shapes,expected", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_jacobians(text, wrt, shapes, expected):
    d = matdiff.derive(text, wrt, shapes)
    assert terms(str(d.jacobian)) == terms(expected), str(d.jacobian)
    assert matdiff.parse(str(d.jacobian), {k: ",".join(v) for k, v in d.shapes.items()}) is d.jacobian


@pytest.mark.parametrize("text,wrt,expected", [
    ("X*A*X", "X", "dX*A*X + X*A*dX"),
    ("A^3", "A", "dA*A^2 + A*dA*A + A^2*dA"),
    ("inv(A)", "A", "-inv(A)*dA*inv(A)"),
    ("X'*X", "X", "dX'*X + X'*dX"),
])
def test_differential_reads_like_the_product_rule(text, wrt, expected):
    assert str(matdiff.derive(text, wrt).differential) == expected


def test_scalar_jacobian_is_the_gradient_as_a_row():
    # f = x'*A*x: grad = (A + A')*x, J = ((A + A')*x)' = x'*(A + A')
    d = matdiff.derive("x'*A*x", "x", {"x": "n", "A": "n,n"})
    assert str(d.gradient) == "(A + A')*x"
    assert str(d.jacobian) in ("x'*(A + A')", "x'*(A + A')'", "((A + A')*x)'")
    d2 = matdiff.derive("tr(A*X)", "X", {"X": "n,m"})
    J = d2.jacobian
    assert J.shape[0] == 1 and str(J) == "vec(A')'"


def test_several_variables():
    # d(U*V) = dU*V + U*dV: J_U = kron(V', I), J_V = kron(I, U)
    d = matdiff.derive("U*V", ["U", "V"], {"U": "n,m", "V": "m,k"})
    assert set(d.jacobians) == {"U", "V"}
    assert terms(str(d.jacobians["U"])) == ["+kron(V', I)"]
    assert terms(str(d.jacobians["V"])) == ["+kron(I, U)"]
    with pytest.raises(matdiff.DerivationError):
        d.jacobian
    for sizes in SIZES:
        check_jacobians(d, sizes)


def test_jacobian_zero_block_for_unused_variable():
    # sign() is piecewise constant: F does not vary with y
    d = matdiff.derive("A*x + sign(y)", ["A", "y"], {"A": "n,m", "x": "m", "y": "n"})
    J = d.jacobians["y"]
    assert E.is_zero(J)
    value, Js = d.to_numpy()(A=np.ones((2, 3)), x=np.ones(3), y=np.ones(2))
    assert Js["y"].shape == (2, 2) and not Js["y"].any()
    assert Js["A"].shape == (2, 6)


def test_to_numpy_shapes():
    rng = np.random.default_rng(0)
    d = matdiff.derive("A*x", "x", {"A": "n,m", "x": "m"})
    A, x = rng.standard_normal((3, 2)), rng.standard_normal(2)
    value, J = d.to_numpy()(A=A, x=x)
    assert value.shape == (3,) and J.shape == (3, 2)
    np.testing.assert_allclose(J, A)
    d = matdiff.derive("A*X*B", "X", {"A": "n,m", "X": "m,k", "B": "k,p"})
    A, X, B = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    value, J = d.to_numpy()(A=A, X=X, B=B)
    assert value.shape == (2, 5) and J.shape == (10, 12)
    np.testing.assert_allclose(J, np.kron(B.T, A))
    # a scalar variable: a column
    d = matdiff.derive("a*X", "a", {"X": "n,m"})
    value, J = d.to_numpy()(a=2.0, X=X)
    np.testing.assert_allclose(J, vec(X)[:, None])


def test_commutation_matrix_convention():
    # K(n,m) vec(X) = vec(X') for X n x m
    d = matdiff.derive("X'", "X", {"X": "n,m"})
    X = np.arange(6.0).reshape(2, 3)
    value, K = d.to_numpy()(X=X)
    np.testing.assert_allclose(K @ vec(X), vec(X.T))
    assert d.jacobian.latex() == "K_{n,m}"


def test_every_linear_op_has_a_vec_rule():
    # an op with a transpose rule can carry dX; it needs a vec rule too
    missing = [name for name, o in OPS.items() if o.adjoint is not None and name not in VEC_RULES]
    assert not missing, f"ops with an adjoint but no vec rule: {missing}"


def test_hessian_through_kronadj_by_its_second_argument():
    """logdet(kron(A, A)) has the gradient kronadj2(A, G) + kronadj1(G, A) (G = inv(kron(A, A))');
    its Hessian needs the Jacobian of kronadj1/kronadj2 by the factor argument."""
    d = matdiff.derive("logdet(kron(A, B*A))", "A", {"A": "n,n", "B": "n,n"})
    rng = np.random.default_rng(3)
    A = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    B = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    H = np.asarray(d.to_numpy(hessian=True)(A=A, B=B)[2], dtype=float)
    g = d.to_numpy()
    fd = numeric_jacobian(lambda **kw: g(**kw)[1], {"A": A, "B": B}, "A")
    assert_close(H, fd, "Hessian of logdet(kron(A, B*A))")


# ---------------------------------------------------------------------------- jvp / vjp


JVP_CASES = [
    ("X*A*X", ["X"], {"X": "n,m", "A": "m,n"}, ()),
    ("inv(A)", ["A"], {"A": "n,n"}, ("A",)),
    ("A*X*B", ["X"], {"A": "n,m", "X": "m,k", "B": "k,p"}, ()),
    ("tanh(W*x)", ["W", "x"], {"W": "n,m", "x": "m"}, ()),
    ("x/norm2(x)", ["x"], {"x": "n"}, ()),
    ("kron(X, B)", ["X", "B"], {"X": "n,m", "B": "k,p"}, ()),
    ("det(X)*inv(X)", ["X"], {"X": "n,n"}, ("X",)),
    ("x'*A*x", ["x", "A"], {"x": "n", "A": "n,n"}, ()),
]


@pytest.mark.parametrize("sizes", SIZES, ids=["small", "other"])
@pytest.mark.parametrize("text,wrt,shapes,spd", JVP_CASES, ids=[c[0] for c in JVP_CASES])
def test_jvp_vjp_adjoint_and_finite_differences(text, wrt, shapes, spd, sizes):
    d = matdiff.derive(text, wrt, shapes)
    rng = np.random.default_rng(7)
    inputs = make_inputs(d, sizes, rng, spd)
    jvp = d.to_numpy(jvp=True)
    vjp = d.to_numpy(vjp=True)
    vf = d.value_numpy()
    tangents = {}
    for n in wrt:
        shp = np.shape(inputs[n])
        tangents["d" + n] = rng.standard_normal(shp) if shp else float(rng.standard_normal())
    value, dF = jvp(**tangents, **inputs)
    value0 = vf(**inputs)
    np.testing.assert_allclose(value, value0)
    assert np.shape(dF) == np.shape(value0)
    # jvp against finite differences along the direction
    plus, minus = dict(inputs), dict(inputs)
    for n in wrt:
        plus[n] = inputs[n] + H * tangents["d" + n]
        minus[n] = inputs[n] - H * tangents["d" + n]
    fd = (vec(vf(**plus)) - vec(vf(**minus))) / (2 * H)
    assert_close(vec(dF), fd, f"jvp of {text}")
    # <C, jvp(dX)> == <vjp(C), dX>
    C = rng.standard_normal(np.shape(value0)) if np.ndim(value0) else float(rng.standard_normal())
    value2, G = vjp(C, **inputs)
    Gs = G if len(wrt) > 1 else {wrt[0]: G}
    for n in wrt:
        assert np.shape(Gs[n]) == np.shape(inputs[n])
    lhs = float(np.sum(np.asarray(C) * np.asarray(dF)))
    rhs = sum(float(np.sum(np.asarray(Gs[n]) * np.asarray(tangents["d" + n]))) for n in wrt)
    assert abs(lhs - rhs) <= 1e-9 * (1 + abs(lhs)), (lhs, rhs)
    # and the Jacobian agrees with both: J vec(dX) = vec(dF)
    if np.ndim(value0):
        _, J = d.to_numpy()(**inputs)
        Js = J if len(wrt) > 1 else {wrt[0]: J}
        total = sum(Js[n] @ vec(tangents["d" + n]) for n in wrt)
        assert_close(total, vec(dF), f"J vs jvp of {text}")


def test_jvp_and_vjp_never_build_the_jacobian():
    d = matdiff.derive("A*X*B", "X", {"A": "n,m", "X": "m,k", "B": "k,p"})
    for f in (d.to_numpy(jvp=True), d.to_numpy(vjp=True)):
        assert "kron" not in f.source and "_commutation" not in f.source
    d = matdiff.derive("X'", "X", {"X": "n,m"})
    assert "_commutation" not in d.to_numpy(jvp=True).source
    assert "_commutation" not in d.to_numpy(vjp=True).source


def test_jvp_requires_tangent():
    d = matdiff.derive("A*x", "x")
    with pytest.raises(TypeError, match="dx"):
        d.to_numpy(jvp=True)(A=np.ones((2, 2)), x=np.ones(2))


# ---------------------------------------------------------------------------- CLI


def test_cli_text_and_json():
    from matdiff.cli import render

    d = matdiff.derive("X*A*X", "X")
    out = render(d, "text")
    assert "d(X*A*X) = dX*A*X + X*A*dX" in out
    line = next(x for x in out.splitlines() if x.startswith("jacobian"))
    prefix = "jacobian      dvec(F)/dvec(X) = "
    assert line.startswith(prefix)
    assert terms(line[len(prefix):]) == terms("kron(X'*A', I) + kron(I, X*A)")
    data = json.loads(render(d, "json"))
    assert terms(data["jacobian"]["X"]["text"]) == terms("kron(X'*A', I) + kron(I, X*A)")
    assert "\\otimes" in data["jacobian"]["X"]["latex"]
    latex = render(matdiff.derive("A*X*B", "X"), "latex")
    assert "B^{T} \\otimes A" in latex


def test_cli_command(tmp_path):
    from click.testing import CliRunner

    from matdiff.cli import main

    r = CliRunner().invoke(main, ["A*X*B", "--wrt", "X"])
    assert r.exit_code == 0, r.output
    assert "kron(B', A)" in r.output


# ---------------------------------------------------------------------------- random expressions

# Matrix-valued (n x n) and vector-valued (n) expressions over X, Y (n x n) and x (n).


@st.composite
def matrix_expr(draw, depth):
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(["X", "Y", "X'", "B"]))
    kind = draw(st.sampled_from(["mul", "add", "sub", "t", "had", "fn", "scale", "inv", "outer", "diag"]))
    a = draw(matrix_expr(depth - 1))
    if kind == "t":
        return f"({a})'"
    if kind == "fn":
        return f"{draw(st.sampled_from(['tanh', 'sin', 'sigmoid']))}({a})"
    if kind == "scale":
        s = draw(st.sampled_from(["tr(X)", "sum(Y)", "x'*x", "2", "norm2(X)"]))
        return f"({s})*({a})"
    if kind == "inv":  # I + M'*M is symmetric positive definite
        return f"inv(I + ({a})'*({a}))"
    if kind == "outer":
        return f"({a})*x*x'"
    if kind == "diag":
        return f"diag(diag({a}))"
    b = draw(matrix_expr(depth - 1))
    op = {"mul": "*", "add": " + ", "sub": " - ", "had": " .* "}[kind]
    return f"({a}){op}({b})"


@st.composite
def array_expr(draw):
    m = draw(matrix_expr(3))
    top = draw(st.sampled_from(["m", "m", "vec", "mx", "tanh", "kron"]))
    if top == "vec":
        return f"vec({m})"
    if top == "mx":
        return f"({m})*x"
    if top == "tanh":
        return f"tanh(({m})*x) .* x"
    if top == "kron":
        return f"kron({m}, C)"
    return m


@settings(max_examples=100, deadline=None)
@given(text=array_expr(), data=st.data(), n=st.integers(2, 3), seed=st.integers(0, 2**16))
def test_random_array_expressions(text, data, n, seed):
    shapes = {"X": "n,n", "Y": "n,n", "B": "n,n", "x": "n", "C": "2,3"}
    names = [v for v in ("X", "Y", "x") if v in _names(text)]
    assume(names)
    wrt = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    note(f"derive({text!r}, {wrt})")
    d = matdiff.derive(text, wrt, {k: v for k, v in shapes.items() if k in _names(text)})
    assume(not d.expr.is_scalar)
    rng = np.random.default_rng(seed)
    inputs = {k: v for k, v in make_inputs(d, {"n": n}, rng).items()}
    with np.errstate(all="ignore"):
        value, J = d.to_numpy()(**inputs)
        Js = J if len(wrt) > 1 else {wrt[0]: J}
        ok = np.all(np.isfinite(value)) and np.max(np.abs(value)) < 1e4 and all(
            np.all(np.isfinite(Js[w])) and np.max(np.abs(Js[w])) < 1e4 for w in wrt)
        assume(ok)
        vf = d.value_numpy()
        for w in wrt:
            note(f"J[{w}] = {d.jacobians[w]}")
            assert_close(Js[w], numeric_jacobian(vf, inputs, w), f"{text} by {w}")


def _names(text: str) -> set:
    import re

    return set(re.findall(r"\b[A-Za-z]\w*\b", text)) - {"tr", "sum", "norm2", "inv", "diag", "vec",
                                                         "tanh", "sin", "sigmoid", "kron", "I"}


def test_commutation_matrix_parses_back():
    from matdiff.lang.parsing import parse

    d = matdiff.derive("X'", "X", {"X": "n,m"})
    assert parse(str(d.jacobian), {"X": "n,m"}) is d.jacobian
    e = parse("K(2, 3)*vec(X)", {"X": "2,3"})
    X = np.arange(6.0).reshape(2, 3)
    f = matdiff.derive("K(2, 3)*vec(X)", "X", {"X": "2,3"}).to_numpy()
    value, J = f(X=X)
    np.testing.assert_allclose(value, vec(X.T))
    assert e.shape == (6, 1)
    # a variable named K is still a variable
    assert str(parse("K*x")) == "K*x"


def test_module_doctest():
    import doctest

    import matdiff.passes.vecpass

    assert doctest.testmod(matdiff.passes.vecpass).failed == 0
