"""Exact verification with SymPy at small sizes (issue 15): check(exact=True), check --exact."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import matdiff
from matdiff.check.exact import exact_check
from matdiff.cli import main

pytest.importorskip("sympy")


def test_gradient_and_claims_proven_or_refuted_at_2_and_3():
    d = matdiff.derive("tr(X*A*X)", wrt="X")
    r = exact_check(d, claim=["2*A'*X'"])
    assert r.verdict == "PROVEN" and r.claim_verdict == "WRONG"
    assert [it.size for it in r.items] == ["n=2", "n=2", "n=3", "n=3"]
    assert "rational point" in r.items[1].detail
    assert exact_check(d, claim="(A*X + X*A)'").claim_verdict == "PROVEN"


@pytest.mark.parametrize("text,wrt,claim,hessian", [
    ("logdet(X)", "X", "inv(X)'", False),
    ("det(X)", "X", "det(X)*inv(X)'", False),
    ("inv(X)", "X", "dF = -inv(X)*dX*inv(X)", False),
    ("x'*A*x", "x", "A + A'", True),
    ("sum(exp(X) .* A)", "X", "exp(X) .* A", False),
])
def test_proven_at_2(text, wrt, claim, hessian):
    d = matdiff.derive(text, wrt=wrt)
    r = exact_check(d, sizes={"n": 2, "m": 2}, claim=claim, hessian=hessian)
    assert r.verdict == "PROVEN", str(r)
    assert r.claim_verdict == "PROVEN", str(r)


def test_jacobian_claims():
    d = matdiff.derive("inv(X)", wrt="X")
    assert exact_check(d, sizes={"n": 2}, claim="-kron(inv(X)', inv(X))").claim_verdict == "PROVEN"
    assert exact_check(d, sizes={"n": 2}, claim="-kron(inv(X), inv(X))").claim_verdict == "WRONG"
    d = matdiff.derive("A*X*B", wrt="X")
    assert exact_check(d, sizes={"n": 2, "m": 3, "k": 2, "p": 3}, claim="kron(B', A)").claim_verdict == "PROVEN"


def test_wrong_hessian_claim():
    d = matdiff.derive("x'*A*x", wrt="x")
    r = exact_check(d, sizes={"n": 2}, claim="2*A", hessian=True)
    assert r.verdict == "PROVEN" and r.claim_verdict == "WRONG"


def test_time_budget_is_an_honest_undecided():
    d = matdiff.derive("tr(inv(X)*A)", wrt="X")
    r = exact_check(d, budget=0.001)
    assert r.verdict == "UNDECIDED"
    assert "time budget" in str(r) and "numerical verdict" in str(r)


def test_symmetric_and_unrepresentable_are_undecided():
    r = exact_check(matdiff.derive("tr(S*A)", wrt="S", symmetric=["S"]), sizes={"n": 2})
    assert r.verdict == "UNDECIDED" and "symmetric" in str(r)
    r = exact_check(matdiff.derive("tr(expm(X))", wrt="X"), sizes={"n": 2})
    assert r.verdict in ("UNDECIDED", "PROVEN")


def test_api_and_cli():
    res = matdiff.derive("tr(X*A*X)", wrt="X").check(claim="2*A'*X'", exact=True, sizes={"n": 2})
    assert res.exact.claim_verdict == "WRONG" and "exact (SymPy" in str(res)
    out = CliRunner().invoke(main, ["check", "tr(X*A*X)", "--wrt", "X", "--exact", "--size", "n=2",
                                    "--claim", "(A*X + X*A)'"])
    assert out.exit_code == 0, out.output
    assert "claim df/dX = (A*X + X*A)' at n=2: PROVEN" in out.output
    out = CliRunner().invoke(main, ["check", "tr(X*A*X)", "--wrt", "X", "--exact", "--size", "n=2",
                                    "--claim", "2*A'*X'"])
    assert out.exit_code == 1 and "WRONG (entry" in out.output
