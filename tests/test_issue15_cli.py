"""Issue 15's CLI and display items: the expression from stdin (-) or a file (@file), and a
readable CheckResult display."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import matdiff
from matdiff.cli import main


def test_expression_from_stdin_and_file(tmp_path):
    out = CliRunner().invoke(main, ["-", "--wrt", "x"], input="x'*A*x\n")
    assert out.exit_code == 0 and "df/dx = (A + A')*x" in out.output
    f = tmp_path / "loss.txt"
    f.write_text("# a comment line\ntr(X*A*X)\n  + logdet(X)\n")
    out = CliRunner().invoke(main, ["check", f"@{f}", "--wrt", "X"])
    assert out.exit_code == 0 and "tr(X*A*X) + logdet(X)" in out.output and "verdict: OK" in out.output
    out = CliRunner().invoke(main, ["@" + str(tmp_path / "missing.txt"), "--wrt", "X"])
    assert out.exit_code == 2 and "cannot read the expression from" in out.output
    out = CliRunner().invoke(main, ["-", "--wrt", "X"], input="# nothing\n")
    assert out.exit_code == 2 and "no expression in stdin" in out.output


def test_check_result_display_is_short():
    r = matdiff.derive("tr(X*A*X)", wrt="X").check(claim="2*A'*X'")
    text = repr(r)
    assert text.startswith("CheckResult(verdict='OK', claim_verdict='WRONG'") and len(text) < 150

    class P:
        def text(self, t):
            self.out = t

    p = P()
    r._repr_pretty_(p, False)
    assert p.out == str(r) and "verdict: the claim is WRONG" in p.out


def test_derive_help_is_accurate_about_hessians_of_several_variables():
    out = CliRunner().invoke(main, ["derive", "--help"])
    assert "one --wrt" not in out.output and "several --wrt" in out.output
    out = CliRunner().invoke(main, ["x'*A*y", "--wrt", "x", "--wrt", "y", "--hessian"])
    assert out.exit_code == 0 and "H(x,y) = A" in out.output


def test_help_lists_commands_with_examples():
    out = CliRunner().invoke(main, ["--help"])
    assert out.exit_code == 0
    for cmd in ("derive", "codegen", "check", "functions"):
        assert f"  {cmd} " in out.output
    assert "Examples:" in out.output and "matdiff functions" in out.output and "@" in out.output
    assert "..." not in out.output.split("Commands:")[1]  # one-line summaries, not cut off


def test_functions_lists_every_language_function_with_its_meaning():
    from matdiff.ops.registry import function_docs, language_functions

    out = CliRunner().invoke(main, ["functions"])
    assert out.exit_code == 0
    docs = function_docs()
    listed = {n for f in docs for n in f.names}
    assert listed == set(language_functions())  # nothing left out, nothing invented
    for f in docs:
        assert f.calls() in out.output and f.meaning in out.output and "{" not in f.meaning
    assert "  tr(A), trace(A)" in out.output and "the trace of a square A" in out.output
    assert "exp'(x) = exp(x)" in out.output  # elementwise: the derivative rule of the declaration


def test_a_function_declared_without_a_meaning_is_caught():
    from matdiff.ops.base import OpDef
    from matdiff.ops.leaves import CONSTANT
    from matdiff.ops.registry import function_docs, registered

    with registered(OpDef("testop15", rank=30, jvp=CONSTANT, language=("testop15",), arity=1)):
        with pytest.raises(ValueError, match="testop15"):
            function_docs()


def _readme_language_table():
    """{name: arity or None} of the function names in the first column of the README's
    language table (arity: the number of arguments where the row writes a call)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## The language\n", 1)[1].split("\n\n", 1)[0]
    names = {}
    for row in section.splitlines()[2:]:
        for span in re.findall(r"`([^`]*)`", row.split("|")[1]):
            for m in re.finditer(r"([A-Za-z_]\w*)(\(([^()]*)\))?", span):
                args = m.group(3)
                arity = None if m.group(2) is None else len(args.split(","))
                if names.get(m.group(1)) is None:
                    names[m.group(1)] = arity
    return names


def test_readme_language_table_agrees_with_matdiff_functions():
    from matdiff.ops.registry import language_functions

    functions = language_functions()
    table = _readme_language_table()
    called = {n for n, a in table.items() if a is not None}
    assert called <= set(functions), f"the table calls what is not a function: {called - set(functions)}"
    missing = set(functions) - set(table)
    assert not missing, f"`matdiff functions` lists functions the README's table does not: {sorted(missing)}"
    for name, arity in table.items():
        if arity is not None:
            assert functions[name].arity == arity, f"README writes {name} with {arity} arguments"


def test_several_expressions_one_a_line(tmp_path):
    f = tmp_path / "losses.txt"
    f.write_text("# losses\ntr(X*A*X)\nlogdet(X) +\n  tr(inv(X)*A)\n\nh = tanh(X);\nsum(h)\n-tr(X)\n")
    out = CliRunner().invoke(main, [f"@{f}", "--wrt", "X"])
    assert out.exit_code == 0, out.output
    exprs = [ln.split(None, 1)[1] for ln in out.output.splitlines() if ln.startswith("expression")]
    assert exprs == ["tr(X*A*X)", "logdet(X) + tr(inv(X)*A)", "sum(h)", "-tr(X)"]
    assert "df/dX = -eye(n)" in out.output and "where         h = tanh(X)" in out.output
    out = CliRunner().invoke(main, ["check", "-", "--wrt", "x"], input="x'*A*x\nnorm2(x)^2\n")
    assert out.exit_code == 0 and out.output.count("verdict: OK") == 2
    out = CliRunner().invoke(main, ["-", "--wrt", "x", "--format", "json"], input="x'*A*x\nsum(x)\n")
    assert out.exit_code == 0 and [d["input"] for d in json.loads(out.output)] == ["x'*A*x", "sum(x)"]


def test_one_bad_line_of_several_is_reported_with_its_line_and_the_rest_still_run():
    out = CliRunner().invoke(main, ["-", "--wrt", "X"], input="tr(X)\ntrce(X)\ndet(X)\n")
    assert out.exit_code == 2
    assert "matdiff: error: line 2: unknown function 'trce'" in out.output
    assert "d(tr(X))" in out.output and "d(det(X))" in out.output
    out = CliRunner().invoke(main, ["-", "--wrt", "X", "--format", "json"], input="tr(X)\ntrce(X)\n")
    data = json.loads(out.stdout)
    assert out.exit_code == 2 and data[0]["input"] == "tr(X)" and data[1]["error"]["kind"] == "parse"
    out = CliRunner().invoke(main, ["codegen", "-", "--wrt", "X"], input="tr(X)\ndet(X)\n")
    assert out.exit_code == 2 and "codegen writes one function: the input has 2 expressions" in out.output


def test_check_labels_of_a_matrix_valued_expression():
    """check "A*X*B": the differential and the claim are labelled dF and dvec(F)/dvec(X)
    (an old report printed 'd(F) by d = ...')."""
    out = CliRunner().invoke(main, ["check", "A*X*B", "--wrt", "X", "--claim", "kron(B', A)"])
    assert out.exit_code == 0, out.output
    assert "  matdiff   dF = A*dX*B" in out.output
    assert "  claim     dvec(F)/dvec(X) = kron(B', A)" in out.output
    assert "by d " not in out.output and "d(F)" not in out.output
    r = matdiff.derive("A*X*B", wrt="X").check(claim="dF = A*dX*B")
    assert "claim     dF = A*dX*B" in str(r) and "by d " not in str(r)
