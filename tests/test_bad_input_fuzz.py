"""Bad input gets a clear error, never a traceback: mutated expressions (tokens inserted,
deleted, swapped) from the expressions quoted in tests/ and the README go through derive()
and the command line. Every failure must be a MatdiffError with a message (the CLI: exit
status 2 and one "matdiff: error: ..." line); anything else is a bug in matdiff."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import matdiff
from matdiff.cli import main
from matdiff.core.errors import MatdiffError

ROOT = Path(__file__).resolve().parent.parent
_QUOTED = re.compile(r'derive\(\s*"([^"\n]+)"\s*,\s*(?:wrt\s*=\s*)?"([A-Za-z]\w*)"')
# pieces of the language and of what people mistype
TOKENS = ["*", "'", ".*", "./", ".^", "^", "+", "-", "/", "(", ")", "[", "]", ",", ";", "=", "x", "X",
          "A", "S", "b", "1", "0", "2.5", "1e308", "-1", "inv(", "tr(", "det(", "logdet(", "sum(",
          "norm2(", "kron(", "vec(", "diag(", "exp(", "log(", "expm(", "chol(", "eig(", "softmax(",
          "solve(", "ones(", "eye(", "zeros(", " ", "\t", "é", "∑", "x'", "h = ", "max(", "abs(",
          "sqrt(", "^-1", "^0.5", "^(1/2)", ":", "!", "@", "#", "\\", '"', "`", "1/0", "0^0", "n", "inf",
          "nan", "pi", "K(", "unvec(", "eigmax(", "sigmoid(", "relu(", "logsumexp("]


def _seeds() -> list:
    found = set()
    for path in sorted(ROOT.glob("tests/*.py")) + [ROOT / "README.md"]:
        found.update(_QUOTED.findall(path.read_text(encoding="utf-8")))
    return sorted(found)


def _mutate(text: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 3)):
        i = rng.randint(0, len(text))
        roll = rng.random()
        if roll < 0.4:
            text = text[:i] + rng.choice(TOKENS) + text[i:]
        elif roll < 0.75 and text:
            text = text[:i] + text[i + rng.randint(1, 4):]
        else:
            text = text[:i] + rng.choice(TOKENS) + text[i + 1:]
    return text


def _cases(count: int, seed: int) -> list:
    rng = random.Random(seed)
    seeds = _seeds()
    out = []
    for _ in range(count):
        text, wrt = rng.choice(seeds)
        out.append((_mutate(text, rng), wrt if rng.random() < 0.9 else rng.choice(["x", "X", "zz", ""])))
    return out


def test_the_corpus_is_there():
    assert len(_seeds()) > 100


def test_mutated_expressions_fail_only_with_matdiff_errors():
    derived = failed = 0
    for text, wrt in _cases(4000, seed=14):
        try:
            d = matdiff.derive(text, wrt)
            str(d.gradient if d.expr.is_scalar else d.jacobian)
            derived += 1
        except MatdiffError as e:
            assert str(e).strip(), f"empty message for {text!r} by {wrt!r}"
            failed += 1
        except Exception as e:  # noqa: BLE001 - what this test exists to catch
            pytest.fail(f"{type(e).__name__} from derive({text!r}, {wrt!r}): {e}")
    assert derived > 100 and failed > 1500  # both sides reached: valid mutations and errors


@pytest.mark.parametrize("text, wrt", _cases(60, seed=15))
def test_the_command_line_answers_bad_input_with_exit_status_2_and_one_line(text, wrt):
    r = CliRunner().invoke(main, [text, "--wrt", wrt or "X"])
    if r.exit_code == 0:
        return
    assert r.exit_code == 2, (text, r.output, r.exception)
    assert not isinstance(r.exception, Exception) or isinstance(r.exception, SystemExit), r.exception
    first = r.output.strip().split("\n")[0]
    assert first.startswith(("matdiff: error:", "Error:", "Usage:")), r.output
