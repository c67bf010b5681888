"""Print every derivation of a corpus, to compare a change's printed results before and after.

    python benchmarks/dump_printed.py > before.txt    (then, after the change)
    python benchmarks/dump_printed.py > after.txt && diff before.txt after.txt

The corpus: every ``derive("...", "X")`` (or ``wrt=[...]``) quoted in tests/, the README and
benchmarks/, and trace chains tr(X*A1*...*X*Ak) for k = 8, 16, 33. For each: the
differential, the gradients (or Jacobians) and the Hessian-vector product, one line per
expression; an expression that needs shapes from its test prints its error instead. A
speed-only change must leave the output byte-identical; a readability change shows here
exactly which results it moves (several simplifier rules keep a rewrite only when the printed
text is shorter, so a printer change can move results it does not touch directly).
"""

from __future__ import annotations

import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import matdiff  # noqa: E402

_ONE = re.compile(r'derive\(\s*"([^"\n]+)"\s*,\s*(?:wrt\s*=\s*)?"([A-Za-z]\w*)"')
_MANY = re.compile(r'derive\(\s*"([^"\n]+)"\s*,\s*(?:wrt\s*=\s*)?\[([^\]]+)\]')


def corpus() -> list:
    cases = set()
    files = glob.glob(os.path.join(ROOT, "tests", "*.py")) + glob.glob(os.path.join(ROOT, "benchmarks", "*.py"))
    for f in files + [os.path.join(ROOT, "README.md")]:
        text = open(f, encoding="utf-8").read()
        cases.update((m.group(1), (m.group(2),)) for m in _ONE.finditer(text))
        for m in _MANY.finditer(text):
            wrt = tuple(w.strip().strip("'\"") for w in m.group(2).split(","))
            if all(re.fullmatch(r"[A-Za-z]\w*", w) for w in wrt):
                cases.add((m.group(1), wrt))
    for k in (8, 16, 33):
        cases.add(("tr(" + "*".join(f"X*A{i}" for i in range(1, k + 1)) + ")", ("X",)))
    return sorted(cases)


def line(text: str, wrt: tuple) -> str:
    try:
        d = matdiff.derive(text, list(wrt))
        parts = [str(d.differential)]
        if d.expr.is_scalar:
            parts += [f"{n}: {g}" for n, g in d.gradients.items()]
            try:
                parts.append("H " + str(d.hvp))
            except Exception as e:  # noqa: BLE001 - the error is part of the record
                parts.append("H! " + type(e).__name__)
        else:
            try:
                parts += [f"J{n}: {j}" for n, j in d.jacobians.items()]
            except Exception as e:  # noqa: BLE001
                parts.append("J! " + type(e).__name__)
        return f"{text} | {wrt} | " + " ;; ".join(parts)
    except Exception as e:  # noqa: BLE001
        return f"{text} | {wrt} | ERR {type(e).__name__}: {str(e)[:100]}"


if __name__ == "__main__":
    for text, wrt in corpus():
        print(line(text, wrt))
