"""Issue 15's CLI and display items: the expression from stdin (-) or a file (@file), and a
readable CheckResult display."""

from __future__ import annotations

from click.testing import CliRunner

import matdiff
from matdiff.cli import main


def test_expression_from_stdin_and_file(tmp_path):
    out = CliRunner().invoke(main, ["-", "--wrt", "x"], input="x'*A*x\n")
    assert out.exit_code == 0 and "df/dx = (A + A')*x" in out.output
    f = tmp_path / "loss.txt"
    f.write_text("# a comment line\ntr(X*A*X)\n  + logdet(X)\n")
    out = CliRunner().invoke(main, ["check", f"@{f}", "--wrt", "X"])
    assert out.exit_code == 0 and "tr(X*A*X)   + logdet(X)" in out.output and "verdict: OK" in out.output
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
