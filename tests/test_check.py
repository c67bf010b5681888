"""The gradient checker (matdiff/check.py): d.check(), claims, and `matdiff check`."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner
from gradcheck import declared_in

import matdiff
from matdiff.check.checker import CheckResult
from matdiff.cli import main
from matdiff.core import expr as E


def derive(text, wrt, shapes=None, symmetric=()):
    ws = [wrt] if isinstance(wrt, str) else list(wrt)
    shapes = shapes and {**declared_in(text, shapes), **{w: shapes[w] for w in ws if w in shapes}}
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


# ---------------------------------------------------------------------------- no false verdicts
# Finite differences with a fixed step called right gradients wrong at points where the
# function is curved (issue 8); the checker extrapolates the step to 0 with an error
# estimate, redraws ill-conditioned points and says INCONCLUSIVE rather than FAILED.

SEEDS = range(2, 8)
COOKBOOK = [
    # (expression, symmetric, the Matrix Cookbook's gradient (C, B symmetric))
    ("tr(inv(X'*C*X)*A)", ("C",), "-C*X*inv(X'*C*X)*(A + A')*inv(X'*C*X)"),
    ("tr(inv(X'*C*X)*(X'*B*X))", ("C", "B"),
     "-2*C*X*inv(X'*C*X)*X'*B*X*inv(X'*C*X) + 2*B*X*inv(X'*C*X)"),
]
XCX_SHAPES = {"X": "n,m", "C": "n,n", "A": "m,m", "B": "n,n"}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("text", ["tr(inv(X'*C*X)*A)", "tr(inv(X'*C*X)*(X'*B*X))"])
def test_no_false_failed_on_curved_functions(text, seed):
    res = derive(text, "X", XCX_SHAPES).check(seed=seed)
    assert res.verdict == "OK" and res.ok, str(res)
    assert max(res.errors) < 1e-8 and all(math.isfinite(e) for e in res.estimates)
    # the estimates are honest: each is at least the error it estimates, to a factor of SAFETY
    assert all(err <= max(1e-6, 100 * est) for err, est in zip(res.errors, res.estimates))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("text,sym,claim", COOKBOOK, ids=[c[0] for c in COOKBOOK])
def test_cookbook_claims_are_right_at_every_seed(text, sym, claim, seed):
    res = derive(text, "X", XCX_SHAPES, sym).check(seed=seed, claim=claim)
    assert res.claim_verdict == "RIGHT" and res.ok, str(res)
    assert "WRONG" not in str(res) and "FAILED" not in str(res)


@pytest.mark.parametrize("seed", SEEDS)
def test_cli_curved_function_passes(seed):
    r = run("tr(inv(X'*C*X)*A)", "--wrt", "X", "--shape", "X=n,m", "--seed", str(seed))
    assert r.exit_code == 0, r.output
    assert "verdict: OK" in r.stdout


def test_ill_conditioned_function_is_inconclusive_not_failed():
    # X - X' is singular for odd n: the function is ill-conditioned at every point
    d = derive("tr(inv(X - X' + 1e-9*I))", "X", {"X": "n,n"})
    for seed in range(3):
        res = d.check(sizes={"n": 3}, seed=seed)
        assert res.verdict == "INCONCLUSIVE" and not res.ok and res.inconclusive, str(res)
        assert "condition number" in res.reason and "error estimate" in res.reason
        assert "FAILED" not in str(res) and "DISAGREES" not in str(res)
    r = run("tr(inv(X - X' + 1e-9*I))", "--wrt", "X", "--shape", "X=n,n", "--size", "n=3")
    assert r.exit_code == 4, r.output
    assert "INCONCLUSIVE" in r.stdout


# ---------------------------------------------------------------------------- domains


@pytest.mark.parametrize("seed", range(4))
def test_rank_deficient_products_get_sizes_that_make_them_invertible(seed):
    # A is m x n: A*A' and A*diag(x)*A' are invertible only when m <= n
    res = derive("logdet(A*A')", "A", {"A": "m,n"}).check(seed=seed)
    assert res.ok, str(res)
    assert res.sizes["m"] <= res.sizes["n"]
    res = derive("tr(inv(A*diag(x)*A'))", "A", {"A": "m,n", "x": "n"}).check(seed=seed)
    assert res.ok, str(res)
    assert res.sizes["m"] <= res.sizes["n"]
    res = derive("logdet(X'*X)", "X", {"X": "n,m"}).check(seed=seed, sizes={"m": 2})
    assert res.ok and res.sizes["n"] >= 2, str(res)


def test_impossible_sizes_are_a_clear_error():
    d = derive("logdet(A*A')", "A", {"A": "m,n"})
    with pytest.raises(matdiff.MatdiffError, match="rank at most 3"):
        d.check(sizes={"m": 4, "n": 3})
    with pytest.raises(matdiff.MatdiffError, match="singular for every choice of sizes"):
        derive("logdet(x*x')", "x", {"x": "n"}).check()
    r = run("logdet(A*A')", "--wrt", "A", "--shape", "A=m,n", "--size", "m=4", "--size", "n=3")
    assert r.exit_code == 2 and "rank" in r.output and "internal" not in r.output, r.output


def test_cli_domain_examples_give_verdicts():
    for args in (["logdet(A*A')", "--wrt", "A", "--shape", "A=m,n"],
                 ["tr(inv(A*diag(x)*A'))", "--wrt", "A", "--shape", "A=m,n", "--shape", "x=n"]):
        r = run(*args)
        assert r.exit_code == 0 and "verdict: OK" in r.stdout, r.output


@pytest.mark.parametrize("seed", range(8))
def test_power_with_variable_exponent_draws_a_positive_base(seed):
    for wrt in ("b", "a"):
        res = derive("a^b", wrt, {"a": "", "b": ""}).check(seed=seed)
        assert res.ok, str(res)
    r = run("a^b", "--wrt", "b", "--shape", "a=", "--shape", "b=", "--seed", str(seed))
    assert r.exit_code == 0 and "internal" not in r.output, r.output


def test_nowhere_finite_expression_is_a_clear_error():
    d = derive("exp(exp(exp(10 + x'*x)))", "x", {"x": "n"})
    with pytest.raises(matdiff.MatdiffError, match="could not find random inputs"):
        d.check()
    r = run("exp(exp(exp(10 + x'*x)))", "--wrt", "x", "--shape", "x=n")
    assert r.exit_code == 2 and "internal" not in r.output, r.output


# ---------------------------------------------------------------------------- claims of every kind

RIGHT_KINDS = [
    # (expression, wrt, shapes, symmetric, claim, hessian, kind)
    ("tr(A)^9", "A", {"A": "n,n"}, (), "9*tr(A)^8*I", False, "gradient"),
    ("tr(X'*A*X)", "X", {"X": "n,m", "A": "n,n"}, (), "A*X + A'*X", False, "gradient"),
    ("sum(X) + tr(X'*X)", "X", {"X": "n,m"}, (), "ones + 2*X", False, "gradient"),
    ("inv(X)", "X", {"X": "n,n"}, (), "-kron(inv(X)', inv(X))", False, "jacobian"),
    ("A*X*B", "X", {"A": "k,n", "X": "n,m", "B": "m,p"}, (), "kron(B', A)", False, "jacobian"),
    ("exp(x)", "x", {"x": "n"}, (), "dvec(F)/dvec(x) = diag(exp(x))", False, "jacobian"),
    ("inv(S)", "S", {"S": "n,n"}, ("S",), "-kron(inv(S), inv(S))", False, "jacobian"),
    ("inv(X)", "X", {"X": "n,n"}, (), "dF = -inv(X)*dX*inv(X)", False, "differential"),
    ("tr(X*A*X)", "X", {"X": "n,n", "A": "n,n"}, (), "d(tr(X*A*X)) = tr(dX*A*X) + tr(X*A*dX)", False,
     "differential"),
    ("x'*A*y", ["x", "y"], {"x": "n", "y": "m", "A": "n,m"}, (), "dF = dx'*A*y + x'*A*dy", False, "differential"),
    ("x'*A*x", "x", {"x": "n", "A": "n,n"}, (), "A + A'", True, "hessian"),
    ("tr(X'*A*X)", "X", {"X": "n,m", "A": "n,n"}, (), "kron(I, A + A')", True, "hessian"),
    ("logdet(X)", "X", {"X": "n,n"}, (), "H[V] = -inv(X)'*V'*inv(X)'", True, "hvp"),
    ("logdet(X)", "X", {"X": "n,n"}, (), "-inv(X)'*V'*inv(X)'", True, "hvp"),
    ("logdet(S)", "S", {"S": "n,n"}, ("S",), "-inv(S)*V*inv(S)", True, "hvp"),
    ("x'*A*x", "x", {"x": "n", "A": "n,n"}, (), "H[W] = A*W + A'*W", True, "hvp"),
]


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("text,wrt,shapes,sym,claim,hessian,kind", RIGHT_KINDS,
                         ids=[f"{r[0]} {r[6]} {r[4]}" for r in RIGHT_KINDS])
def test_right_claims_of_every_kind(text, wrt, shapes, sym, claim, hessian, kind, seed):
    res = derive(text, wrt, shapes, sym).check(claim=claim, hessian=hessian, seed=seed)
    assert res.claim_verdict == "RIGHT" and res.ok, str(res)
    (item,) = [it for it in res.items if it.who == "claim"]
    assert item.kind == kind
    assert item.formula_error < 1e-8  # and it equals matdiff's formula at the random point


WRONG_KINDS = [
    # (expression, wrt, shapes, symmetric, claim, hessian, phrase in the diagnosis)
    ("tr(A)^9", "A", {"A": "n,n"}, (), "8*tr(A)^8*I", False, "factor of 0.888889"),
    ("tr(A)^9", "A", {"A": "n,n"}, (), "9.001*tr(A)^8*I", False, "factor of 1.00011"),
    ("inv(X)", "X", {"X": "n,n"}, (), "-kron(inv(X), inv(X)')", False, "transpose of the correct Jacobian"),
    ("A*X*B", "X", {"A": "k,n", "X": "n,m", "B": "m,p"}, (), "kron(B', A)*1.0001", False, "factor"),
    ("inv(X)", "X", {"X": "n,n"}, (), "dF = -inv(X)*dX'*inv(X)", False, "dX' where the correct"),
    ("inv(X)", "X", {"X": "n,n"}, (), "dF = inv(X)*dX*inv(X)", False, "wrong sign"),
    ("tr(X*A*X)", "X", {"X": "n,n", "A": "n,n"}, (), "dF = 2*tr(X*A*dX)", False, "entries differ"),
    ("x'*A*x", "x", {"x": "n", "A": "n,n"}, (), "2*A", True, "those two terms differ"),
    ("tr(X'*A*X)", "X", {"X": "n,m", "A": "n,n"}, (), "kron(A + A', I)", True, "entries differ"),
    ("logdet(X)", "X", {"X": "n,n"}, (), "-inv(X)'*V*inv(X)'", True, "V' where the correct"),
    ("logdet(X)", "X", {"X": "n,n"}, (), "H[V] = -1.001*inv(X)'*V'*inv(X)'", True, "factor of 1.001"),
]


@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize("text,wrt,shapes,sym,claim,hessian,phrase", WRONG_KINDS,
                         ids=[f"{r[0]} claim {r[4]}" for r in WRONG_KINDS])
def test_wrong_claims_of_every_kind_are_wrong(text, wrt, shapes, sym, claim, hessian, phrase, seed):
    res = derive(text, wrt, shapes, sym).check(claim=claim, hessian=hessian, seed=seed)
    assert res.claim_verdict == "WRONG" and res.claim_ok is False and not res.ok, str(res)
    assert res.verdict == "OK"  # matdiff's own derivative(s) still agree
    report = str(res)
    assert "the claim is WRONG" in report and "correct:" in report and phrase in report, report


def test_cli_claims_of_every_kind():
    r = run("inv(X)", "--wrt", "X", "--claim", "-kron(inv(X)', inv(X))")
    assert r.exit_code == 0 and "RIGHT" in r.stdout, r.output
    r = run("inv(X)", "--wrt", "X", "--claim", "dF = -inv(X)*dX*inv(X)")
    assert r.exit_code == 0 and "RIGHT" in r.stdout, r.output
    r = run("tr(A)^9", "--wrt", "A", "--shape", "A=n,n", "--claim", "9*tr(A)^8*I")
    assert r.exit_code == 0 and "RIGHT" in r.stdout, r.output
    r = run("x'*A*x", "--wrt", "x", "--shape", "x=n", "--shape", "A=n,n", "--hessian", "--claim", "A + A'")
    assert r.exit_code == 0 and "RIGHT" in r.stdout and "Hessian-vector product agrees" in r.stdout, r.output
    r = run("x'*A*x", "--wrt", "x", "--shape", "x=n", "--shape", "A=n,n", "--hessian", "--claim", "H[V] = 2*A*V")
    assert r.exit_code == 1 and "WRONG" in r.stdout, r.output
    r = run("x'*A*y", "--wrt", "x", "--wrt", "y", "--shape", "x=n", "--shape", "y=m", "--shape", "A=n,m",
            "--claim", "dF = dx'*A*y + x'*A*dy")
    assert r.exit_code == 0 and "RIGHT" in r.stdout, r.output


@pytest.mark.parametrize("claim,hessian,needle", [
    ("H = A", False, "single variable"),
    ("H[V] = A*V", True, "single variable"),
    ("dF = x'*A*dz", False, "'dz', which is not a variable"),
    ("foo(x) = A*y", False, "cannot tell what"),
    ("df/dq = A*y", False, "'q' is not differentiated by"),
    ("x = A*y", False, ""),  # fine alone: one claim for x
])
def test_claim_input_errors(claim, hessian, needle):
    d = derive("x'*A*y", ["x", "y"], {"x": "n", "y": "m", "A": "n,m"})
    if not needle:
        assert d.check(claim=claim).claim_ok
        return
    with pytest.raises(matdiff.MatdiffError, match=needle):
        d.check(claim=claim, hessian=hessian)


def test_claim_shape_error_names_the_expected_shape():
    d = derive("inv(X)", "X", {"X": "n,n"})
    with pytest.raises(matdiff.ShapeError, match=r"the claim for dvec\(F\)/dvec\(X\) has shape nxn"):
        d.check(claim="-inv(X)")
    d = derive("x'*A*x", "x", {"x": "n", "A": "n,n"})
    with pytest.raises(matdiff.ShapeError, match="the Hessian on vec"):
        d.check(claim="(A + A')*x", hessian=True)
    with pytest.raises(matdiff.MatdiffError, match="the direction of a Hessian-vector product is V"):
        d.check(claim="A*W", hessian=True)
    with pytest.raises(matdiff.MatdiffError, match="Hessians are for scalar"):
        derive("inv(X)", "X").check(claim="H = X", hessian=True)


def test_matdiff_second_order_is_checked_and_can_fail():
    d = derive("logdet(X) + tr(X*A*X)", "X", {"X": "n,n", "A": "n,n"})
    res = d.check(hessian=True)
    assert res.ok and [it.verdict for it in res.items] == ["agree", "agree"], str(res)
    d = derive("x'*A*y", ["x", "y"], {"x": "n", "y": "m", "A": "n,m"})
    assert d.check(hessian=True).ok  # several variables: one HVP per variable
    d = derive("logdet(X)", "X", {"X": "n,n"})
    d.hvps  # computed, then sabotaged: transposed direction
    V = E.var(d.hvp_variable, d._shapes["X"])
    d._hvp = {"X": E.substitute(d._hvp["X"], {V: E.transpose(V)})}
    res = d.check(hessian=True)
    assert res.verdict == "FAILED" and not res.ok, str(res)
    assert "Hessian-vector product DISAGREES" in str(res)


def test_parse_full_expected_shape_sizes_identity_and_ones():
    from matdiff.core.shapes import sym
    from matdiff.lang.parsing import parse_full

    n, m = sym("n"), sym("m")
    assert parse_full("9*tr(A)^8*I", {"A": "n,n"}, expected=(n, n)).expr.shape == (n, n)
    assert parse_full("I", {}, expected=(m, m)).expr.shape == (m, m)
    assert parse_full("ones", {}, expected=(n, m)).expr.shape == (n, m)
    assert parse_full("kron(I, A)", {"A": "n,n"}, expected=(E.dim_mul(m, n),) * 2).expr.shape == \
        (E.dim_mul(m, n),) * 2
    with pytest.raises(matdiff.ShapeError, match="expected here"):
        parse_full("X", {"X": "n,m"}, expected=(n, n))
    with pytest.raises(matdiff.ShapeError, match="expected here"):
        parse_full("I", {}, expected=(n, m))  # an identity is square
