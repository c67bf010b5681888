"""Issue 12: results that read like the Cookbook.

Each row of the issue's table prints the expected collected form, and the printed gradient
is right: checked against finite differences by :func:`gradcheck.check_gradient` (the rules
behind each row are value-checked one by one in ``tests/test_simplify.py``). Plus: one
spelling of the identity per result, and Hessians of vector functions without Kronecker
factors.
"""

from __future__ import annotations

import pytest
from gradcheck import check_gradient

import matdiff
from matdiff.render.text import render_derivation

LOGISTIC = "sum(y .* log(sigmoid(X*w)) + (1 - y) .* log(1 - sigmoid(X*w)))"

# (expression, wrt, shapes, symmetric, expected printed gradient)
ROWS = [
    ("tr(X^3)", "X", None, (), "3*(X^2)'"),
    ("tr(A^4)", "A", None, (), "4*(A^3)'"),
    ("det(X^3)", "X", None, (), "3*det(X^3)*inv(X)'"),
    ("(x'*A*x)/(x'*x)", "x", None, ("A",), "2*(A*x - (x'*A*x)*x/(x'*x))/(x'*x)"),
    ("sin(x'*A*x)", "x", None, (), "cos(x'*A*x)*(A + A')*x"),
    (LOGISTIC, "w", None, (), "X'*(y - sigmoid(X*w))"),
    ("x'*(A + eye)*x", "x", None, (), "(A + A' + 2*I)*x"),
    ("trace(W'*X'*X*W) - logdet(W'*W)", "W", {"W": "n,m", "X": "k,n"}, (), "2*X'*X*W - 2*W*inv(W'*W)"),
    # a rational factor common to a sum inside a product goes in front, as the Cookbook writes it
    ("0.5*x'*A*x", "x", None, (), "0.5*(A + A')*x"),
    ("3*tr(X'*A*X)", "X", None, (), "3*(A + A')*X"),
]


@pytest.mark.parametrize("text, wrt, shapes, sym, expected", ROWS, ids=[r[0] for r in ROWS])
def test_row_prints_the_collected_form(text, wrt, shapes, sym, expected):
    d = matdiff.derive(text, wrt, shapes, symmetric=sym)
    assert str(d.gradient) == expected


@pytest.mark.parametrize("text, wrt, shapes, sym, expected", ROWS, ids=[r[0] for r in ROWS])
def test_row_gradient_is_right(text, wrt, shapes, sym, expected):
    kinds = {"X": "wc"} if text.startswith("det") else None
    sizes = [{"n": 4, "m": 2, "k": 5}, {"n": 5, "m": 3, "k": 3}] if "W" in text else None
    check_gradient(text, wrt, shapes, symmetric=sym, sizes=sizes, kinds=kinds)


def test_printed_collected_form_parses_back_to_the_same_value():
    # the expected text of each row, parsed as an expression, is the gradient matdiff computes
    for text, wrt, shapes, sym, expected in ROWS:
        d = matdiff.derive(text, wrt, shapes, symmetric=sym)
        r = d.check(claim=expected)
        assert r.claim_ok, (text, str(r))


def test_one_spelling_of_the_identity_per_result():
    out = render_derivation(matdiff.derive("x'*(A + eye)*x", "x"))
    assert "eye(" not in out, out
    assert "x'*(A + I)*dx" in out


def test_hessian_of_a_vector_function_has_no_kron():
    d = matdiff.derive("exp(x'*A*x)", "x")
    H = str(d.hessian)
    assert "kron" not in H and "vec" not in H, H
    assert H == "exp(x'*A*x)*(A + A' + (A + A')*x*x'*(A + A'))"


# ---------------------------------------------------------------------------- named intermediates

from click.testing import CliRunner  # noqa: E402

from matdiff.cli import main  # noqa: E402
from matdiff.core.errors import MatdiffError  # noqa: E402
from matdiff.lang.parsing import parse_full  # noqa: E402
from matdiff.render.names import choose_names, where_text  # noqa: E402

LOGLOSS = "sum(log(1 + exp(-y .* (X*w))))"
NET3 = "sum((W3*tanh(W2*tanh(W1*x)) - y).^2)"


def cli(*args) -> str:
    r = CliRunner().invoke(main, list(args))
    assert r.exit_code == 0, r.output
    return r.output


def reparse(text: str, d) -> object:
    return parse_full(text, dict(d.shapes), d.symmetric).expr


def test_logistic_hessian_names_the_sigmoid_and_reads_back():
    d = matdiff.derive(LOGLOSS, "w")
    nm = choose_names([d.gradient, d.hvp, d.hessian])
    text = where_text(d.hessian, nm)
    assert text == "X'*diag(s1 .* y.^2 .* (1 - s1))*X where s1 = sigmoid(-y .* (X*w))"
    assert reparse(text, d) is d.hessian  # the where form parses back to the same expression
    out = cli("derive", LOGLOSS, "--wrt", "w", "--hessian")
    assert "H = X'*diag(s1 .* y.^2 .* (1 - s1))*X" in out and "where         s1 = sigmoid(-y .* (X*w))" in out
    plain = cli("derive", LOGLOSS, "--wrt", "w", "--hessian", "--no-names")
    assert "where" not in plain and "H = X'*diag(sigmoid(-y .* (X*w)) .* y.^2" in plain


def test_three_layer_network_shows_each_layer_once():
    out = cli("derive", NET3, "--wrt", "W1", "--wrt", "W2", "--wrt", "W3")
    results = out.split("gradient", 1)[1]
    # each of the two tanh layers is printed once (defined in the where block, named elsewhere)
    assert results.count("tanh(") == 2 and results.count("tanh(W1*x)") == 1, out
    d = matdiff.derive(NET3, ["W1", "W2", "W3"])
    gs = list(d.gradients.values())
    nm = choose_names(gs)
    for g in gs:
        assert reparse(where_text(g, nm), d) is g


def test_generated_names_do_not_collide_with_user_names():
    d = matdiff.derive("sum(log(1 + exp(-s1 .* (X*w))))", "w", {"s1": "n"})
    nm = choose_names([d.gradient, d.hessian], taken=d.variables)
    assert "s1" not in nm.values() and nm
    text = where_text(d.hessian, nm)
    assert reparse(text, d) is d.hessian


def test_json_and_latex_show_the_definitions():
    import json

    out = json.loads(cli("derive", LOGLOSS, "--wrt", "w", "--hessian", "--format", "json"))
    assert out["named"]["definitions"][0]["name"] == "s1"
    assert out["named"]["definitions"][0]["text"] == "sigmoid(-y .* (X*w))"
    assert out["hessian"]["text"].startswith("X'*diag(sigmoid(")  # the plain form stays
    tex = cli("derive", LOGLOSS, "--wrt", "w", "--hessian", "--format", "latex")
    assert "\\text{where}\\quad \\begin{aligned} s_{1} &= \\sigma" in tex
    assert "H = X^{T} \\operatorname{diag}\\left(s_{1}" in tex


@pytest.mark.parametrize("text", [
    "h = tanh(W1*x + b1); sum((W2*h - y).^2)",
    "sum((W2*h - y).^2) where h = tanh(W1*x + b1)",
])
def test_user_names_are_kept_in_results(text):
    d = matdiff.derive(text, ["W1", "W2"])
    plain = matdiff.derive("sum((W2*tanh(W1*x + b1) - y).^2)", ["W1", "W2"])
    assert d.expr is plain.expr and d.gradients == plain.gradients  # the same derivation
    out = cli("derive", text, "--wrt", "W1", "--wrt", "W2")
    assert "df/dW1 = 2*((W2'*(W2*h - y)) .* (1 - h.^2))*x'" in out
    assert "df/dW2 = 2*(W2*h - y)*h'" in out
    assert "where         h = tanh(b1 + W1*x)" in out


def test_bindings_chain_and_bad_bindings_are_clear_errors():
    d = matdiff.derive("a = W1*x; h = tanh(a); sum(h .* h)", "W1")
    assert d.expr is matdiff.derive("sum(tanh(W1*x) .* tanh(W1*x))", "W1").expr
    for bad in ["h = tanh(x); h = x; sum(h)", "h = tanh(x);", "2 = x; sum(x)", "h tanh(x); sum(h)",
                "I = x*x'; tr(I)", "tr = x'*x; tr + 1", "sum(x) where", "sum(h) where h tanh(x)"]:
        with pytest.raises(MatdiffError):
            matdiff.derive(bad, "x")


def test_user_names_in_generated_code():
    import numpy as np

    d = matdiff.derive("h = tanh(W1*x + b1); sum((W2*h - y).^2)", ["W1", "W2"])
    src = d.numpy_source()
    assert "    h = np.tanh(" in src, src
    plain = matdiff.derive("sum((W2*tanh(W1*x + b1) - y).^2)", ["W1", "W2"])
    rng = np.random.default_rng(3)
    args = dict(W2=rng.standard_normal((3, 4)), W1=rng.standard_normal((4, 2)), x=rng.standard_normal(2),
                b1=rng.standard_normal(4), y=rng.standard_normal(3))
    v1, g1 = d.to_numpy()(**args)
    v2, g2 = plain.to_numpy()(**args)
    assert np.isclose(v1, v2) and all(np.allclose(g1[k], g2[k]) for k in ("W1", "W2"))


def test_long_trace_chain_shares_pieces_and_reads_back():
    from matdiff.render.names import flatten_unnamed, share_chains

    k = 16
    shapes = {"X": "n,n", **{f"A{i}": "n,n" for i in range(1, k + 1)}}
    d = matdiff.derive("tr(" + "*".join(f"X*A{i}" for i in range(1, k + 1)) + ")", "X", shapes)
    g = d.gradient
    disp, pieces = share_chains([g])
    nm = choose_names([disp[g]], pieces=pieces)
    (G,), nm = flatten_unnamed([disp[g]], nm)
    text = where_text(G, nm)
    assert len(text) < 0.6 * len(str(g))
    assert reparse(text, d) is g


def test_trace_chain_gradient_prints_in_linear_size():
    from matdiff.render.text import render_derivation

    sizes = {}
    for k in (32, 64):
        shapes = {"X": "n,n", **{f"A{i}": "n,n" for i in range(1, k + 1)}}
        d = matdiff.derive("tr(" + "*".join(f"X*A{i}" for i in range(1, k + 1)) + ")", "X", shapes)
        out = render_derivation(d)
        sizes[k] = len(out[out.index("gradient"):])
        assert sizes[k] < 0.5 * len(str(d.gradient))
        # the gradient line with its definitions reads back as the gradient
        lines = out[out.index("gradient"):].splitlines()
        g = lines[0].split(" = ", 1)[1]
        defs = " ".join(line.strip().removeprefix("where").strip() for line in lines[1:])
        assert reparse(f"{g} where {defs}", d) is d.gradient
    assert sizes[64] < 2.3 * sizes[32]  # about linear: twice k, about twice the text


def test_python_users_get_the_named_report_too():
    """Derivation.report(): the command line's report, with named intermediates, in Python."""
    d = matdiff.derive("h = tanh(W*x); sum(h.^2)", wrt="W")
    text = d.report()
    assert "df/dW = 2*(h .* (1 - h.^2))*x'" in text and text.splitlines()[-1].startswith("where")
    assert "h = tanh(W*x)" not in d.report(names=False) and "where" not in d.report(names=False)
    assert "\\text{where}" in d.report("latex")
    assert '"named"' in d.report("json")
    with pytest.raises(matdiff.DerivationError):
        d.report("html")


@pytest.mark.parametrize("text, expected", [
    ("sum(X)/a", "ones(n, m)/a"),
    ("sum(x)/(a*b)^2", "ones(n, 1)/(a^2*b^2)"),
    ("sum(X)*a/b", "(a/b)*ones(n, m)"),
    ("sum(X)/n", "ones(m, k)/n"),  # the scalar n is not a size: the sizes are named apart
])
def test_a_broadcast_reciprocal_divides_and_reads_back(text, expected):
    from matdiff.lang.parsing import parse_full

    d = matdiff.derive(text, "X" if "X" in text else "x")
    assert str(d.gradient) == expected
    assert parse_full(expected, dict(d.shapes), set()).expr is d.gradient


def test_powers_with_a_symbolic_exponent_merge_and_reciprocals_print_as_divisions():
    import numpy as np

    d = matdiff.derive("det(X)^(1/n)", "X")
    assert str(d.gradient) == "det(X)^(1/n)*inv(X)'/n"  # not det(X)*det(X)^(n^-1 - 1)*inv(X)'/n
    f = d.to_numpy()
    rng = np.random.default_rng(1)
    X, n = np.eye(3) + 0.2 * rng.standard_normal((3, 3)), 2.5
    V = rng.standard_normal((3, 3))
    h = 1e-6
    fd = (f(X=X + h * V, n=n)[0] - f(X=X - h * V, n=n)[0]) / (2 * h)
    assert np.isclose(np.sum(f(X=X, n=n)[1] * V), fd, rtol=1e-6)
    assert str(matdiff.derive("log(sum(exp(u))) + log(w'*exp(u))", "u").gradient) \
        == "exp(u) .* (1/sum(exp(u)) + w/(w'*exp(u)))"
