"""'Did you mean' for unknown functions suggests only names that plausibly mean the same
thing: never an elementwise function for a matrix one (expm is not exp), never another
norm (norm1 is not norm2) or an inverse trigonometric function's namesake (arctan is not
tan); known functions matdiff lacks get a note on what to write instead."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

import matdiff
from matdiff.cli import main
from matdiff.core.errors import (
    FUNCTION_ALIASES,
    FUNCTION_HINTS,
    FUNCTION_KINDS,
    _guess_kind,
    suggest_function,
)
from matdiff.lang.parsing import FUNCTION_NAMES

KIND = {f: k for k, names in FUNCTION_KINDS.items() for f in names}


def message(text: str) -> str:
    with pytest.raises(matdiff.ParseError) as ei:
        matdiff.parse(text, {"X": "n,n", "x": "n", "Y": "n,n"})
    return str(ei.value).splitlines()[0]


def suggested(msg: str) -> list:
    m = re.search(r"did you mean (.*)\?\)", msg)
    return re.findall(r"'([^']+)'", m.group(1)) if m else []


def test_the_kind_table_covers_exactly_the_language_functions():
    assert set(KIND) == FUNCTION_NAMES
    assert set(FUNCTION_ALIASES.values()) <= FUNCTION_NAMES
    assert not (set(FUNCTION_HINTS) | set(FUNCTION_ALIASES)) & FUNCTION_NAMES


def test_expm_is_not_exp():
    assert str(matdiff.parse("expm(X)", {"X": "n,n"})) == "expm(X)"  # the matrix exponential
    msg = message("tanm(X)")  # a matrix function matdiff lacks: never the elementwise tan
    assert suggested(msg) == [] and "matrix function" in msg


@pytest.mark.parametrize("name", ["norm_1", "l1"])
def test_norm1_is_not_norm2(name):
    msg = message(f"{name}(x)")
    assert suggested(msg) == ["norm1"]


@pytest.mark.parametrize("name", ["arctanh", "atanh", "arcsinh", "acosh", "atan2"])
def test_inverse_trigonometric_functions_are_not_their_namesakes(name):
    msg = message(f"{name}(x)")
    assert suggested(msg) == [] and "not supported" in msg


@pytest.mark.parametrize("name, want", [
    ("trce", {"trace", "tr"}), ("trcae", {"trace", "tr"}), ("sigmod", {"sigmoid"}), ("logdt", {"logdet"}),
    ("tanhh", {"tanh"}), ("dett", {"det"}), ("transp", {"transpose"}), ("nrom2", {"norm2"}),
    ("Exp", {"exp"}), ("ln", {"log"}), ("inverse", {"inv"}), ("sigm", {"sigmoid"}), ("cosine", {"cos"}),
    ("logd", {"logdet"}), ("sig", {"sigmoid", "sign"}),
])
def test_typos_aliases_and_abbreviations_find_the_function(name, want):
    assert set(suggested(message(f"{name}(X)"))) == want


@pytest.mark.parametrize("name, note", [
    ("tanm", "matrix function"), ("sinhm", "matrix function"),
    ("tanhm", "matrix function"), ("log2", "log(x)/log(2)"),
    ("maximum", "relu"), ("argmax", "not supported"),
    ("cumsum", "not supported"), ("sinc", "not supported"), ("logit", "log(x ./ (1 - x))"),
    ("norm", "norm2"),
])
def test_known_functions_matdiff_lacks_say_what_to_write(name, note):
    msg = message(f"{name}(x)")
    assert note in msg
    assert set(suggested(msg)) <= ({"norm2"} if name == "norm" else set())


@pytest.mark.parametrize("name", ["kronadj3", "logdet2", "norm3", "frobnicate", "nansum", "log2x", "exp10"])
def test_no_suggestion_rather_than_a_different_function(name):
    assert suggested(message(f"{name}(X)")) == []


def test_suggestions_never_cross_kinds_or_digits():
    """For every elementwise f, 'fm' (the matrix-function convention) suggests no elementwise
    function; a changed digit never suggests the other numbered function; every name with a
    known kind is only ever answered with functions of that kind."""
    for f in FUNCTION_KINDS["elementwise"]:
        got = suggested(suggest_function(f + "m", FUNCTION_NAMES))
        assert not [g for g in got if KIND[g] == "elementwise"], (f, got)
    for f in ("kronadj1", "kronadj2", "norm2"):
        for d in "0123456789":
            name = f[:-1] + d
            if name != f and name not in FUNCTION_NAMES:
                assert f not in suggested(suggest_function(name, FUNCTION_NAMES)), name
    for name in list(FUNCTION_HINTS) + list(FUNCTION_ALIASES) + [f + "m" for f in FUNCTION_KINDS["elementwise"]]:
        kind = _guess_kind(name)
        for g in suggested(suggest_function(name, FUNCTION_NAMES)):
            assert KIND[g] == kind, (name, g, kind)


def _typos(name):
    for i in range(len(name)):
        if len(name) >= 4:
            yield name[:i] + name[i + 1:]  # a dropped letter
        yield name[:i] + name[i] + name[i:]  # a doubled letter
        if i + 1 < len(name):
            yield name[:i] + name[i + 1] + name[i] + name[i + 2:]  # swapped neighbours


def test_single_typos_of_every_function_are_recovered():
    """A dropped, doubled or swapped letter in any function name of 3+ letters suggests that
    function, unless the typo spells a name with another meaning or loses or doubles a digit
    (kronadj: 1 or 2?); then it is not suggested."""
    for f in sorted(FUNCTION_NAMES):
        if len(f) < 3:
            continue
        for t in set(_typos(f)) - FUNCTION_NAMES:
            got = suggested(suggest_function(t, FUNCTION_NAMES))
            other_meaning = (t.lower() in FUNCTION_HINTS or _guess_kind(t) not in (None, KIND[f])
                             or sorted(filter(str.isdigit, t)) != sorted(filter(str.isdigit, f)))
            if t.lower() in FUNCTION_ALIASES:  # another library's name: its meaning decides
                assert got == [FUNCTION_ALIASES[t.lower()]], (t, got)
            elif other_meaning:
                assert f not in got, (t, got)
            else:
                assert f in got, (f, t, got)


def test_cli_reports_the_note_and_exits_2():
    r = CliRunner().invoke(main, ["tanm(X)", "--wrt", "X", "--shape", "X=n,n"])
    assert r.exit_code == 2
    assert "matrix function" in r.output and "did you mean" not in r.output


def test_an_unknown_function_lists_the_functions_of_its_family():
    """Issue 10: the error names the family the suggestion (or the name) belongs to, and lists
    it; a name of no recognizable family lists every family."""
    def message(text):
        with pytest.raises(matdiff.ParseError) as e:
            matdiff.parse(text)
        return str(e.value)

    m = message("tanhh(x)")
    assert "did you mean 'tanh'" in m and "elementwise functions: abs" in m and "logsumexp" not in m
    m = message("lse(x)")
    assert "'logsumexp'" in m and "reductions and scalar functions:" in m and "norm1" in m
    m = message("frob(A)")
    assert "elementwise functions:" in m and "reductions and scalar functions:" in m


@pytest.mark.parametrize("name,outputs", [("lu", ("luL(A)", "luU(A)")), ("qr", ("qrQ(A)", "qrR(A)")),
                                          ("eig", ("eigvals(S)", "eigvecs(S)", "eigmax(A)")),
                                          ("eigh", ("eigvals(S)", "eigvecs(S)")), ("LU", ("luL(A)", "luU(A)"))])
def test_a_decomposition_with_several_outputs_names_each_of_them(name, outputs):
    hint = suggest_function(name, FUNCTION_NAMES)
    assert all(o in hint for o in outputs), hint


def test_the_svd_says_what_to_write():
    assert "sqrt(eigvals(A'*A))" in suggest_function("svd", FUNCTION_NAMES)
