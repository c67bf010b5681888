"""Habits from other tools get a hint with the matdiff spelling, never a reinterpretation (issue 15)."""

from __future__ import annotations

import pytest

import matdiff

CASES = [
    ("X^T*A*X", "the transpose is X'"),
    ("A.'*B", "the transpose is A'"),
    ("X.T*A", "the transpose is X' (X.T is NumPy's spelling)"),
    ("A @ B", "the matrix product is *"),
    ("x**2", "powers are ^ (x^2, X^2 the matrix power) or .^ entry by entry (x.^2)"),
    ("np.trace(X)", "np.trace is written tr"),
    ("np.linalg.inv(X)", "write inv(...) without np.linalg."),
    ("numpy.foo(X)", "matdiff has no modules or methods"),
    ("\\det(X)", "\\det is written det(X)"),
    ("\\mathrm{tr}(X)", "\\mathrm{tr} is written tr"),
    ("\\operatorname{tr}(X)", "\\operatorname{tr} is written tr"),
    ("X^{-1}", "X^{-1} is written X^-1"),
    ("X^{T}*X", "the transpose is X'"),
    ("X\u1d40*X", "write X' (the transpose is a quote)"),
    ("\u03bb*x", "write lambda"),
    ("X\u2019*X", "a plain quote"),
    ("X *\u00a0Y", "non-breaking space"),
]


@pytest.mark.parametrize("text,hint", CASES, ids=[c[0] for c in CASES])
def test_habit_hint(text, hint):
    with pytest.raises(matdiff.MatdiffError) as err:
        matdiff.derive(text, wrt="X" if "X" in text else "x")
    assert hint in str(err.value)
    assert "Traceback" not in str(err.value)


def test_caret_keeps_tabs_aligned():
    with pytest.raises(matdiff.ParseError) as err:
        matdiff.parse("X\t*\t@Y")
    line, marks = str(err.value).splitlines()[-2:]
    assert marks == "   \t \t^" and line[len(marks) - 1] == "@"


def test_overflow_hint():
    d = matdiff.derive("exp(exp(100 + sum(X.*X)))", wrt="X")
    with pytest.raises(matdiff.MatdiffError, match="may overflow at these sizes"):
        d.check(sizes={"n": 2, "m": 2})

