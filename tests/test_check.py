"""The gradient checker (matdiff/check.py): d.check(), claims, and `matdiff check`."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

import matdiff
from matdiff import expr as E
from matdiff.check import CheckResult
from matdiff.cli import main


def derive(text, wrt, shapes=None, symmetric=()):
    return matdiff.derive(text, wrt=wrt, shapes=shapes, symmetric=symmetric)


def run(*args):
    return CliRunner().invoke(main, ["check", *args])


# ---------------------------------------------------------------------------- API: derivations agree

AGREE = [
    ("tr(X*A*X)", "X", None, ()),
    ("logdet(X) + tr(inv(X)*A)", "X", None, ()),
    ("log(det(X))", "X", None, ()),
    ("det(X)", "X", None, ()),
    ("x'*inv(S)*x + logdet(S)", "S", None, ("S",)),
    ("norm2(A*x - b)^2", "x", {"b": "n"}, ()),
    ("sum(sqrt(X .* X + 1)) + sum(log(Y))", ["X", "Y"], {"Y": "n,m", "X": "n,m"}, ()),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", {"X": "n,m", "y": "n"}, ()),
    ("x'*A*y", ["x", "y", "A"], None, ()),
    ("norm2(X - U*V')^2", ["U", "V"], None, ()),
    ("tr(kron(A, X))", "X", {"A": "n,n", "X": "m,m"}, ()),
    ("exp(s)*sin(s)^2", "s", {"s": ""}, ()),
    ("logdet(X'*X)", "X", {"X": "n,m"}, ()),
    ("A*X*B", "X", None, ()),  # non-scalar: the differential is checked
    ("inv(X)*b", "X", {"b": "n"}, ()),
]


@pytest.mark.parametrize("text,wrt,shapes,sym", AGREE, ids=[a[0] for a in AGREE])
def test_matdiff_derivatives_agree(text, wrt, shapes, sym):
    res = derive(text, wrt, shapes, sym).check()
    assert isinstance(res, CheckResult)
    assert res.ok, str(res)
    assert len(res.errors) == 5 and res.max_error == max(res.errors) < 1e-6
    assert res.table and all(len(row) == 2 for row in res.table)
    assert "verdict: OK" in str(res)


def test_result_fields_and_table_shape():
    res = derive("logdet(X) + tr(inv(X)*A)", "X").check(directions=3, sizes={"n": 6}, steps=True)
    assert res.sizes == {"n": 6}
    assert len(res.errors) == 3
    steps = [h for h, _ in res.table]
    assert steps == sorted(steps, reverse=True) and steps[0] == pytest.approx(0.1)
    errs = dict(res.table)
    # truncation error for large steps, roundoff for tiny ones, a minimum in between
    best = min(errs.values())
    assert errs[steps[0]] > 100 * best and errs[steps[-1]] > 100 * best
    text = str(res)
    assert "truncation" in text and "roundoff" in text and "<- best" in text


def test_positive_definite_inputs_where_needed():
    # logdet of a non-symmetric X needs det > 0 for log(det(X)); sqrt/log need positive entries
    for text in ("log(det(X))", "sum(log(X))", "sum(sqrt(x))", "logdet(S) + tr(inv(S))"):
        res = derive(text, [t for t in ("X", "x", "S") if t in text][:1]).check(seed=3)
        assert res.ok and all(math.isfinite(e) for e in res.errors), str(res)


def test_symmetric_variables_get_symmetric_inputs_and_directions():
    res = derive("x'*S*x + tr(S*A)", "S", symmetric=("S",)).check()
    assert res.ok, str(res)


def test_a_wrong_derivative_is_caught():
    d = derive("tr(X*A*X)", "X")
    G = d._gradients["X"]
    d._gradients = {"X": E.transpose(G)}  # sabotage: a transposed gradient
    res = d.check()
    assert not res.ok and res.max_error > 1e-3
    assert "DISAGREES" in str(res) and "FAILED" in str(res)


# ---------------------------------------------------------------------------- claims

WRONG = [
    # (expression, wrt, claim, phrase expected in the diagnosis)
    ("tr(X*A*X)", "X", "A*X + X*A", "transpose"),  # missing transposes
    ("x'*A*x", "x", "A*x", "missing term"),  # the A'*x term is missing -> "misses the term"
    ("norm2(A*x - b)^2", "x", "A'*(A*x - b)", "factor of 0.5"),  # factor 2 lost
    ("logdet(X)", "X", "-inv(X)'", "wrong sign"),
    ("tr(X*A*X)", "X", "2*A'*X'", "those two terms differ"),  # not equal unless A, X commute
    ("tr(A*X) + 0*tr(X)", "X", "A", "transpose"),
]


@pytest.mark.parametrize("text,wrt,claim,phrase", WRONG, ids=[f"{w[0]} claim {w[2]}" for w in WRONG])
def test_wrong_claims(text, wrt, claim, phrase):
    shapes = {"b": "n"} if "b" in text else None
    res = derive(text, wrt, shapes).check(claim=claim)
    assert res.claim_ok is False and res.ok is False
    assert res.claim_error > 1e-3 and max(res.claim_errors) > 1e-3
    report = str(res)
    assert "the claim is WRONG" in report and "correct:" in report
    phrase = {"missing term": "misses the term"}.get(phrase, phrase)
    assert phrase in report, report
    assert "entries differ" in report or "claim" in report


RIGHT = [
    ("tr(X*A*X)", "X", "(X*A)' + (A*X)'"),
    ("tr(X*A*X)", "X", "A'*X' + X'*A'"),
    ("x'*A*x", "x", "A*x + A'*x"),
    ("norm2(A*x - b)^2", "x", "2*A'*A*x - 2*A'*b"),
    ("logdet(X) + tr(inv(X)*A)", "X", "inv(X') - inv(X')*A'*inv(X')"),
    ("det(X)", "X", "det(X)*inv(X)'"),
    ("x'*S*x", "S", "x*x'"),
]


@pytest.mark.parametrize("text,wrt,claim", RIGHT, ids=[f"{r[0]} claim {r[2]}" for r in RIGHT])
def test_right_claims_written_differently(text, wrt, claim):
    shapes = {"b": "n"} if "b" in text else None
    sym = ("S",) if "S" in text else ()
    res = derive(text, wrt, shapes, sym).check(claim=claim)
    assert res.claim_ok and res.ok, str(res)
    assert "the claim is RIGHT" in str(res)


def test_claim_for_symmetric_variable_judged_on_symmetric_matrices():
    # x*x' is sym(grad) itself; (A + A')/2 style: tr(A*S) has gradient sym(A'), claim A' is right there
    res = derive("tr(A*S)", "S", symmetric=("S",)).check(claim="A'")
    assert res.claim_ok, str(res)
    assert "symmetric" in str(res)


def test_claim_of_wrong_shape_is_an_error():
    d = derive("tr(X'*A*X)", "X", {"X": "n,m"})
    with pytest.raises(matdiff.ShapeError, match="shape"):
        d.check(claim="X'")
    with pytest.raises(matdiff.MatdiffError, match="not a variable"):
        d.check(claim="Y")
    with pytest.raises(matdiff.MatdiffError, match="claim"):
        d.check(claim="X*")


def test_claims_for_several_variables():
    d = derive("x'*A*y", ["x", "y"])
    assert d.check(claim={"x": "A*y", "y": "A'*x"}).claim_ok
    res = d.check(claim={"x": "A*y", "y": "2*A'*x"})
    assert res.claim_ok is False and "df/dy" in str(res)
    with pytest.raises(matdiff.MatdiffError, match="several"):
        d.check(claim="A*y")


# ---------------------------------------------------------------------------- CLI


def test_cli_check_ok_and_steps():
    r = run("logdet(X) + tr(inv(X)*A)", "--wrt", "X", "--steps")
    assert r.exit_code == 0, r.output
    assert "verdict: OK" in r.stdout and "rel. error" in r.stdout and "<- best" in r.stdout


def test_cli_check_size_and_symmetric():
    r = run("x'*inv(S)*x + logdet(S)", "--wrt", "S", "--symmetric", "S", "--size", "n=7", "--directions", "3")
    assert r.exit_code == 0, r.output
    assert "n=7" in r.stdout


def test_cli_wrong_claim_exit_1():
    r = run("tr(X*A*X)", "--wrt", "X", "--claim", "2*A'*X'")
    assert r.exit_code == 1, r.output
    assert "WRONG" in r.stdout and "correct:  df/dX = A'*X' + X'*A'" in r.stdout


def test_cli_right_claim_exit_0():
    r = run("tr(X*A*X)", "--wrt", "X", "--claim", "(X*A + A*X)'")
    assert r.exit_code == 0, r.output
    assert "RIGHT" in r.stdout


def test_cli_several_claims():
    r = run("x'*A*y", "--wrt", "x", "--wrt", "y", "--claim", "x=A*y", "--claim", "y=A'*x")
    assert r.exit_code == 0, r.output
    r = run("x'*A*y", "--wrt", "x", "--wrt", "y", "--claim", "A*y")
    assert r.exit_code == 2


@pytest.mark.parametrize("args,needle", [
    (["tr(X'*A*X)", "--wrt", "X", "--shape", "X=n,m", "--claim", "X'"], "shape"),
    (["tr(X)", "--wrt", "X", "--size", "q=3"], "q"),
    (["tr(X)", "--wrt", "X", "--size", "n=0"], "--size"),
    (["tr(X", "--wrt", "X"], "error"),
    (["tr(X)", "--wrt", "Y"], "Y"),
])
def test_cli_input_errors_exit_2(args, needle):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output
