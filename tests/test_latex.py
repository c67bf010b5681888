"""LaTeX output means what it says: constants printed without their size show their
orientation, and the CLI's ``--format latex`` renders names exactly as the API does."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

import matdiff
from matdiff.cli import main
from matdiff.render.latex import latex_name


def tex(text, shapes):
    return matdiff.parse(text, shapes).latex()


def test_transposed_all_ones_vectors_show_the_transpose():
    """The issue's example: ones(n)'*X*ones(m) is 1^T X 1, not 1X1."""
    assert tex("ones(n)'*X*ones(m)", {"X": "n,m"}) == "\\mathbf{1}^{T} X \\mathbf{1}"


@pytest.mark.parametrize("text, shapes, want", [
    ("ones(n)'*exp(u)", {"u": "n"}, "\\mathbf{1}^{T} \\exp\\left(u\\right)"),
    ("exp(u)'*ones(n)", {"u": "n"}, "\\exp\\left(u\\right)^{T} \\mathbf{1}"),
    ("u*ones(m)'", {"u": "n"}, "u \\mathbf{1}^{T}"),
    ("ones(n)*ones(m)'", {}, "\\mathbf{1} \\mathbf{1}^{T}"),
    ("ones(n, m)", {}, "\\mathbf{1} \\mathbf{1}^{T}"),
    ("2*ones(1, n)", {}, "2 \\mathbf{1}^{T}"),
    ("2*ones(n, 1)", {}, "2 \\mathbf{1}"),
    ("a*ones(n, m)", {"a": ""}, "a \\mathbf{1} \\mathbf{1}^{T}"),
    ("zeros(1, n)", {}, "\\mathbf{0}^{T}"),
    ("zeros(n, 1)", {}, "\\mathbf{0}"),
    ("X*eye(m)*Y", {"X": "n,m", "Y": "m,k"}, "X Y"),
    ("eye(n)", {}, "I"),
])
def test_bare_constants_show_their_orientation(text, shapes, want):
    assert tex(text, shapes) == want


@pytest.mark.parametrize("a, b, shapes", [
    ("u*ones(m)'", "ones(n)*v'", {"u": "n", "v": "m"}),
    ("ones(n)'*X", "X'*ones(n)", {"X": "n,m"}),
])
def test_expressions_of_different_shape_print_differently(a, b, shapes):
    ea, eb = matdiff.parse(a, shapes), matdiff.parse(b, shapes)
    assert ea is not eb and ea.latex() != eb.latex()


def test_all_ones_matrix_is_parenthesised_where_it_binds_loosely():
    s = tex("tr(ones(n, n)*X)", {"X": "n,n"})
    assert s.count("{") == s.count("}") and "\\mathbf{1} \\mathbf{1}^{T}" in s


@pytest.mark.parametrize("name, want", [
    ("W1", "W_{1}"), ("Sigma", "\\Sigma"), ("x_i", "x_{i}"), ("V_W1", "V_{W_{1}}"),
    ("V_Sigma", "V_{\\Sigma}"), ("alpha", "\\alpha"), ("abc", "\\mathrm{abc}"), ("x_12", "x_{12}"),
])
def test_latex_names(name, want):
    assert latex_name(name) == want


def _cli(*args):
    r = CliRunner().invoke(main, list(args))
    assert r.exit_code == 0, r.output
    return r.output


def test_cli_latex_renders_names_like_the_api():
    """--format latex prints W_{1} and \\Sigma under the partials, as Derivation.latex()
    does (the CLI calls the same function)."""
    args = ["tr(W1'*Sigma*W1)", "--wrt", "W1", "--wrt", "Sigma", "--shape", "W1=n,m", "--shape", "Sigma=n,n"]
    out = _cli(*args, "--format", "latex")
    assert "\\partial W_{1}}" in out and "\\partial \\Sigma}" in out
    assert not re.search(r"\\partial (W1|Sigma)\b", out)
    d = matdiff.derive("tr(W1'*Sigma*W1)", ["W1", "Sigma"], {"W1": "n,m", "Sigma": "n,n"})
    api = d.latex().split(" ,\\quad ")
    assert out.strip().splitlines()[2:] == api
    assert out.strip().splitlines() == d.latex_lines()


def test_cli_latex_jacobian_matches_the_api():
    shapes = {"A": "p,n", "X1": "n,m", "B": "m,k"}
    out = _cli("A*X1*B", "--wrt", "X1", *[f"--shape={n}={s}" for n, s in shapes.items()], "--format", "latex")
    d = matdiff.derive("A*X1*B", "X1", shapes)
    assert out.strip().splitlines()[-1] == d.latex().split(" ,\\quad ")[-1]
    assert "\\operatorname{vec} X_{1}}" in out


def test_cli_hessian_latex_renders_names():
    out = _cli("tr(W1'*Sigma*W1)", "--wrt", "W1", "--wrt", "Sigma", "--shape", "W1=n,m", "--shape",
               "Sigma=n,n", "--hessian", "--format", "latex")
    assert "H[V_{W_{1}}, V_{\\Sigma}]_{W_{1}} = " in out and "H_{W_{1},\\Sigma} = " in out
    assert "Sigma}" not in out.replace("\\Sigma}", "")
