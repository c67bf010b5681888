"""The command-line interface (click command ``matdiff.cli.main``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from gradcheck import compact

import matdiff

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def main():
    from matdiff.cli import main as cli_main

    return cli_main


def invoke(main, args):
    return CliRunner().invoke(main, args, catch_exceptions=True)


def assert_ok(res):
    assert res.exit_code == 0, (
        f"exit {res.exit_code}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}\n{res.exception!r}"
    )
    assert "Traceback" not in res.output


def assert_user_error(res, *needles):
    assert res.exit_code == 2, f"expected exit code 2, got {res.exit_code}\n{res.output}\n{res.exception!r}"
    assert "Traceback" not in res.output
    # the exception that ended the command is click's SystemExit, not a leaked error
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    err = res.stderr
    assert err.strip(), "error message should go to stderr"
    assert not res.stdout.strip(), f"nothing should be printed on stdout on error, got: {res.stdout!r}"
    assert len(err.strip().splitlines()) <= 6, f"error message should be short:\n{err}"
    for n in needles:
        assert n in err, f"{n!r} not in error message:\n{err}"


# ----------------------------------------------------------------------------- text


def test_text_output_contains_gradient(main):
    res = invoke(main, ["tr(A*X*B)", "--wrt", "X"])
    assert_ok(res)
    d = matdiff.derive("tr(A*X*B)", wrt="X")
    assert str(d.gradient) in res.stdout
    assert "A'*B'" in compact(res.stdout)


def test_text_output_gradient_parses_back(main):
    res = invoke(main, ["x'*A*x", "--wrt", "x", "--shape", "x=n", "--shape", "A=n,n"])
    assert_ok(res)
    d = matdiff.derive("x'*A*x", wrt="x", shapes={"x": "n", "A": "n,n"})
    assert str(d.gradient) in res.stdout


def test_multiple_wrt(main):
    res = invoke(main, ["norm2(X - U*V')^2", "--wrt", "U", "--wrt", "V"])
    assert_ok(res)
    d = matdiff.derive("norm2(X - U*V')^2", wrt=["U", "V"])
    for name in ("U", "V"):
        assert str(d.gradients[name]) in res.stdout


def test_scalar_shape_declaration(main):
    # s would be a vector by default (h-z); "s=" declares it scalar
    res = invoke(main, ["exp(s)*sin(s)^2", "--wrt", "s", "--shape", "s="])
    assert_ok(res)
    d = matdiff.derive("exp(s)*sin(s)^2", wrt="s", shapes={"s": ""})
    assert str(d.gradient) in res.stdout


def test_symmetric_option(main):
    res = invoke(main, ["x'*inv(S)*x + logdet(S)", "--wrt", "S", "--symmetric", "S"])
    assert_ok(res)
    d = matdiff.derive("x'*inv(S)*x + logdet(S)", wrt="S", symmetric=["S"])
    assert str(d.gradient) in res.stdout


def test_integer_shapes(main):
    res = invoke(main, ["x'*A*x", "--wrt", "A", "--shape", "A=3,3", "--shape", "x=3"])
    assert_ok(res)


# ----------------------------------------------------------------------------- latex / json


def test_latex_output(main):
    res = invoke(main, ["det(X)", "--wrt", "X", "--format", "latex"])
    assert_ok(res)
    out = res.stdout
    assert "\\" in out
    assert out.count("{") == out.count("}")


def test_json_output(main):
    args = ["a'*X*b", "--wrt", "X", "--shape", "a=n", "--shape", "b=m", "--format", "json"]
    res = invoke(main, args)
    assert_ok(res)
    data = json.loads(res.stdout)
    assert {"input", "shapes", "differential", "gradient"} <= set(data)
    assert data["input"] == "a'*X*b" or compact(data["input"]) == "a'*X*b"
    assert isinstance(data["shapes"], dict) and {"a", "X", "b"} <= set(data["shapes"])
    assert set(data["differential"]) >= {"text", "latex"}
    assert set(data["gradient"]) == {"X"}
    assert set(data["gradient"]["X"]) >= {"text", "latex"}
    d = matdiff.derive("a'*X*b", wrt="X", shapes={"a": "n", "b": "m"})
    assert data["gradient"]["X"]["text"] == str(d.gradient)
    assert compact(data["gradient"]["X"]["text"]) == "a*b'"
    assert data["differential"]["text"] == str(d.differential)


def test_json_several_wrt_and_gradient_is_usable(main):
    res = invoke(main, ["tr(A'*A) + tr(B'*B)", "--wrt", "A", "--wrt", "B", "--format", "json"])
    assert_ok(res)
    data = json.loads(res.stdout)
    assert set(data["gradient"]) == {"A", "B"}
    # the text parses back in the input language
    for name, g in data["gradient"].items():
        e = matdiff.parse(g["text"])
        assert compact(str(e)) == f"2*{name}"


# ----------------------------------------------------------------------------- user errors -> exit 2


def test_parse_error_exit_code_and_caret(main):
    res = invoke(main, ["x + * y", "--wrt", "x"])
    assert_user_error(res, "^")


def test_unknown_function_error(main):
    res = invoke(main, ["trce(X)", "--wrt", "X"])
    assert_user_error(res, "trce")


def test_shape_error(main):
    res = invoke(main, ["A*x", "--wrt", "x", "--shape", "A=n,m", "--shape", "x=k"])
    assert_user_error(res)


def test_wrt_not_in_expression(main):
    res = invoke(main, ["tr(X)", "--wrt", "Y"])
    assert_user_error(res, "Y")


@pytest.mark.parametrize("bad", ["X", "X=n,,m", "=n", "X=n;m"])
def test_bad_shape_option(main, bad):
    res = invoke(main, ["sum(X)", "--wrt", "X", "--shape", bad])
    assert_user_error(res)


def test_bad_format(main):
    res = invoke(main, ["tr(X)", "--wrt", "X", "--format", "yaml"])
    assert_user_error(res)


def test_pathological_input_is_clean(main):
    res = invoke(main, ["(" * 5000 + "x'*x" + ")" * 5000, "--wrt", "x"])
    assert res.exit_code in (0, 2), res.output[-2000:]
    assert "Traceback" not in res.output


# ----------------------------------------------------------------------------- entry points


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _python_m_matdiff(*args):
    """Run `python -m matdiff ARGS` from the repository root."""
    return subprocess.run([sys.executable, "-m", "matdiff", *args], capture_output=True, text=True,
                          check=False, timeout=60, cwd=ROOT, env=_env())


def test_python_dash_m():
    proc = _python_m_matdiff("tr(X)", "--wrt", "X")
    assert proc.returncode == 0, proc.stderr
    assert str(matdiff.derive("tr(X)", wrt="X").gradient) in proc.stdout


def test_python_dash_m_user_error_exit_code():
    proc = _python_m_matdiff("tr(X", "--wrt", "X")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip()


def test_console_script_if_installed():
    exe = Path(sys.executable).with_name("matdiff")
    if not exe.exists():
        pytest.skip("console script not installed (run `make setup`)")
    proc = subprocess.run(
        [str(exe), "trace(X*A*X)", "--wrt", "X"], capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    d = matdiff.derive("trace(X*A*X)", wrt="X")
    assert str(d.gradient) in proc.stdout
    # numerically sane: the gradient of tr(XAX) is (AX + XA)'
    f = d.to_numpy()
    rng = np.random.default_rng(0)
    X, A = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    _, g = f(X=X, A=A)
    np.testing.assert_allclose(g, (A @ X + X @ A).T, rtol=1e-10)


def test_declared_but_absent_wrt_gives_zero_gradient(main):
    res = invoke(main, ["tr(A)", "--wrt", "A", "--wrt", "X", "--shape", "X=n,m"])
    assert_ok(res)
    d = matdiff.derive("tr(A)", wrt=["A", "X"], shapes={"X": "n,m"})
    assert str(d.gradients["X"]) in res.stdout


def test_expression_starting_with_minus_is_not_an_option():
    """`matdiff "-x'*x" --wrt x` and `matdiff -- "-x'*x" --wrt x` both differentiate."""
    from click.testing import CliRunner

    from matdiff.cli import main

    runner = CliRunner()
    for args in (["-x'*x", "--wrt", "x"], ["--", "-x'*x", "--wrt", "x"],
                 ["codegen", "-x'*x", "--wrt", "x"], ["--wrt", "x", "x'*x"]):
        r = runner.invoke(main, args)
        assert r.exit_code == 0, (args, r.output)
    assert "-2*x" in runner.invoke(main, ["-x'*x", "--wrt", "x"]).output


def test_json_format_reports_errors_as_json_with_their_fields(main):
    """--format json: a program reading stdout gets the error's fields (kind, span, message,
    suggestion) as JSON; the readable message still goes to stderr; exit 2."""
    import json

    r = CliRunner().invoke(main, ["x'*A*x + tr(B)", "--wrt", "x", "--shape", "x=n", "--shape", "B=n,m",
                                  "--format", "json"])
    assert r.exit_code == 2
    err = json.loads(r.stdout)["error"]
    assert err["kind"] == "shape" and "square" in err["message"] and err["pos"] == 9
    assert err["text"].startswith(err["message"]) and "^" in err["text"]
    assert "matdiff: error:" in r.stderr
    r = CliRunner().invoke(main, ["tr(X", "--wrt", "X", "--format", "json"])
    assert r.exit_code == 2 and json.loads(r.stdout)["error"]["kind"] == "parse"
