"""User errors: clean MatdiffError subclasses with useful messages; no crashes or hangs
on pathological input."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import matdiff

ROOT = Path(__file__).resolve().parents[1]


def test_error_hierarchy():
    assert issubclass(matdiff.ParseError, matdiff.MatdiffError)
    assert issubclass(matdiff.ShapeError, matdiff.MatdiffError)
    assert issubclass(matdiff.MatdiffError, Exception)


# ----------------------------------------------------------------------------- parse errors


def _column_in(msg: str):
    m = re.search(r"col(?:umn)?\.?\s*:?\s*(\d+)", msg, re.IGNORECASE) or re.search(r"\b\d+:(\d+)\b", msg)
    return int(m.group(1)) if m else None


@pytest.mark.parametrize(
    "src,col",
    [
        ("x + * y", 5),  # unexpected '*'
        ("A $ B", 3),  # unexpected character
        ("tr(X))", 6),  # unbalanced ')'
        ("x'*A*", (5, 6)),  # unexpected end of input: at the last character or one past it
        ("2 3", 3),  # two operands without an operator
    ],
)
def test_parse_error_has_caret_and_column(src, col):
    with pytest.raises(matdiff.ParseError) as ei:
        matdiff.parse(src)
    msg = str(ei.value)
    assert "Traceback" not in msg
    # the (1-based) column is named in the message
    cols = col if isinstance(col, tuple) else (col,)
    col = _column_in(msg)
    assert col in cols, f"column {cols} not reported in:\n{msg}"
    # a caret line points at that column under an echo of the input
    lines = msg.splitlines()
    for i, line in enumerate(lines[:-1]):
        start = line.find(src)
        if start >= 0 and "^" in lines[i + 1]:
            assert lines[i + 1].index("^") - start == col - 1, f"caret misplaced in:\n{msg}"
            break
    else:
        pytest.fail(f"no input echo followed by a caret line in:\n{msg}")


@pytest.mark.parametrize("src", ["", "   ", "(", ")", "x +", "tr()", "tr(X,", "kron(A)", "A ** B", "x''' ++"])
def test_malformed_inputs_raise_matdiff_errors(src):
    with pytest.raises(matdiff.MatdiffError):
        matdiff.derive(src, wrt="x")


def test_unknown_function_suggests_trace():
    with pytest.raises(matdiff.MatdiffError) as ei:
        matdiff.parse("trce(X)")
    msg = str(ei.value)
    assert "trce" in msg
    assert "trace" in msg or re.search(r"(?<![A-Za-z])tr(?![A-Za-z])", msg), f"no suggestion in: {msg}"


def test_unknown_function_without_close_match_is_an_error():
    with pytest.raises(matdiff.MatdiffError) as ei:
        matdiff.parse("frobnicate(X)")
    assert "frobnicate" in str(ei.value)


# ----------------------------------------------------------------------------- shape errors


def _mentions_shape(msg: str, a: str, b: str | None = None) -> bool:
    if b is None:
        return re.search(rf"(?<![A-Za-z0-9_]){a}(?![A-Za-z0-9_])", msg) is not None
    return re.search(rf"(?<![A-Za-z0-9_]){a}\s*(?:,|x|×|\*|by)\s*{b}(?![A-Za-z0-9_])", msg) is not None


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(matdiff.ShapeError) as ei:
        matdiff.derive("A*x", wrt="x", shapes={"A": "n,m", "x": "k"})
    msg = str(ei.value)
    assert _mentions_shape(msg, "n", "m"), f"shape n,m of A not named in: {msg}"
    assert _mentions_shape(msg, "k"), f"shape k of x not named in: {msg}"


def test_declared_distinct_dims_do_not_unify():
    # x'*A needs x's length == A's rows, but they are declared as different dims
    with pytest.raises(matdiff.ShapeError):
        matdiff.derive("x'*A*y", wrt="x", shapes={"x": "n", "A": "m,m"})


def test_integer_dims_mismatch():
    with pytest.raises(matdiff.ShapeError) as ei:
        matdiff.parse("A*x", shapes={"A": "3,3", "x": "4"})
    msg = str(ei.value)
    assert "3" in msg and "4" in msg


@pytest.mark.parametrize(
    "src,shapes",
    [
        ("x*y", {"x": "n", "y": "n"}),  # (n x 1)(n x 1)
        ("A + x", {"A": "n,n", "x": "n"}),  # matrix + vector is not a broadcast
        ("X^2", {"X": "n,m"}),  # matrix power of a non-square matrix
        ("det(X)", {"X": "n,m"}),
        ("logdet(X)", {"X": "n,m"}),
        ("inv(X)", {"X": "n,m"}),
        ("tr(X)", {"X": "n,m"}),
        ("diag(X)", {"X": "n,m"}),
        ("X .* Y", {"X": "n,m", "Y": "m,n"}),
        ("X ./ Y", {"X": "n,m", "Y": "m,m"}),
    ],
)
def test_shape_errors(src, shapes):
    with pytest.raises(matdiff.ShapeError):
        matdiff.parse(src, shapes=shapes)


@pytest.mark.parametrize(
    "src,shapes",
    [
        ("A / B", {"A": "n,n", "B": "n,n"}),  # division only by a scalar
        ("x / y", {"x": "n", "y": "n"}),
        ("A^0.5", {"A": "n,n"}),  # matrix power needs an integer exponent
        ("A^a", {"A": "n,n"}),
    ],
)
def test_invalid_operations_raise_matdiff_errors(src, shapes):
    with pytest.raises(matdiff.MatdiffError):
        matdiff.parse(src, shapes=shapes)


@pytest.mark.parametrize("shape", ["n,,m", "n,m,k", "1.5", "n;m", "-3", "n,m x"])
def test_invalid_shape_declarations(shape):
    with pytest.raises(matdiff.MatdiffError):
        matdiff.derive("sum(X)", wrt="X", shapes={"X": shape})


def test_symmetric_non_square_is_an_error():
    with pytest.raises(matdiff.MatdiffError):
        matdiff.derive("sum(S)", wrt="S", shapes={"S": "n,m"}, symmetric=["S"])


# ----------------------------------------------------------------------------- wrt errors


def test_wrt_not_in_expression_is_an_error():
    with pytest.raises(matdiff.MatdiffError) as ei:
        matdiff.derive("tr(X)", wrt="Y")
    assert "Y" in str(ei.value)


# ----------------------------------------------------------------------------- pathological input

_RUNNER = textwrap.dedent(
    """
    import sys, time
    import matdiff
    src = sys.stdin.read()
    mode, wrt = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    try:
        if mode == "parse":
            e = matdiff.parse(src)
            out = str(e)
        else:
            d = matdiff.derive(src, wrt=wrt)
            out = str(d.gradient)
        status = "OK"
    except matdiff.MatdiffError as err:
        status, out = "MATDIFFERROR", type(err).__name__ + ": " + str(err)[:300]
    except RecursionError:
        status, out = "RECURSIONERROR", ""
    print(status, round(time.perf_counter() - t0, 3))
    print(out[:2000])
    """
)

TIME_LIMIT = 8.0  # seconds for the matdiff call itself ("a few seconds")


def _run_isolated(src: str, mode: str = "derive", wrt: str = "x"):
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _RUNNER, mode, wrt],
            input=src,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"hang: no result within 60 s for input of {len(src)} chars")
    assert proc.returncode == 0, f"crashed (rc={proc.returncode}):\n{proc.stderr[-3000:]}"
    first, _, rest = proc.stdout.partition("\n")
    status, elapsed = first.split()
    assert status in ("OK", "MATDIFFERROR"), f"{status}: {proc.stderr[-2000:]}"
    assert float(elapsed) < TIME_LIMIT, f"took {elapsed} s"
    return status, rest.strip()


def test_deeply_nested_parentheses():
    depth = 10_000
    status, out = _run_isolated("(" * depth + "x'*x" + ")" * depth)
    if status == "OK":
        assert out == str(matdiff.derive("x'*x", wrt="x").gradient)


def test_deeply_nested_function_calls():
    depth = 10_000
    _run_isolated("sin(" * depth + "a" + ")" * depth, wrt="a")


def test_deeply_nested_unary_minus_and_transposes():
    _run_isolated("-" * 10_000 + "a", wrt="a")
    _run_isolated("tr(X" + "'" * 10_000 + ")", wrt="X")


def test_one_megabyte_sum():
    term = "x'*x + "
    src = term * (1_000_000 // len(term)) + "x'*x"
    assert len(src) >= 1_000_000
    status, out = _run_isolated(src)
    if status == "OK":
        assert "x" in out


def test_one_megabyte_identifier():
    _run_isolated("tr(" + "X" * 1_000_000 + ")", mode="parse")


def test_one_megabyte_of_garbage():
    status, out = _run_isolated("@#!" * 350_000, mode="parse")
    assert status == "MATDIFFERROR"
    assert "ParseError" in out


@pytest.mark.parametrize("text", ["det(x)", "(a*x)^2", "inv(x')", "tr(x)", "logdet(y)"])
def test_square_operations_refuse_vectors(text):
    """det/inv/tr/logdet/^ of a vector is an error, not a silent length-1 'vector'."""
    with pytest.raises(matdiff.ShapeError, match="square"):
        matdiff.derive(text, wrt="x" if "x" in text else "y")


@pytest.mark.parametrize("text, column, hint", [
    ("x*y", 2, "x'*y (a scalar) or x*y' (a matrix)"),
    ("x*A", 2, "transpose the left operand (x'*A)"),
    ("x*A*x", 2, "transpose the left operand (x'*A)"),
    ("A*B*x'*y", 4, "transpose the right operand ((A*B)*x)"),
    ("y'*inv(K + s*I)*y", 13, "vector of length n times matrix"),  # s declared a vector: the error is at s*I, not at K
])
def test_undeclared_sizes_are_not_silently_one(text, column, hint):
    """An undeclared vector or matrix is never silently given size 1: the error points at the
    operation that would make it so, and says what was probably meant."""
    shapes = {"s": "n"} if "s" in text else None
    with pytest.raises(matdiff.ShapeError) as info:
        matdiff.parse(text, shapes=shapes)
    msg = str(info.value)
    assert f"at column {column}" in msg and hint in msg, msg


def test_declared_unit_sizes_are_legal():
    assert matdiff.parse("x*y", shapes={"y": ""}).shape[1] == 1  # y declared scalar
    assert matdiff.parse("x*A", shapes={"A": "1,m"}).shape[0] != 1  # A declared a row


@pytest.mark.parametrize("b, hint", [("n,k", "transpose the left"), ("k,m", "transpose the right"),
                                     ("n,m", "elementwise")])
def test_product_mismatch_suggests_the_fix(b, hint):
    with pytest.raises(matdiff.ShapeError, match=hint):
        matdiff.parse("A*B", shapes={"A": "n,m", "B": b})


def test_vector_by_default_hint():
    """s is a vector by convention; sin(s)^2 says so and says how to make s a scalar."""
    with pytest.raises(matdiff.ShapeError, match=r"shapes=\{'s': ''\} makes it a scalar"):
        matdiff.parse("exp(s)*sin(s)^2")
    assert matdiff.parse("exp(s)*sin(s)^2", shapes={"s": ""}).is_scalar
