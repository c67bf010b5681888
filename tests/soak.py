"""Soak: many random expressions, values and derivatives against the syntax-tree evaluator.

    python tests/soak.py --count 2000 --seeds 1,2,3,4,5     (what ``make soak`` runs)

For every seed it draws ``--count`` scalar expressions (gradients) and ``--count``
vector/matrix-valued ones (Jacobians) from tests/exprgen.py, with a random subset of
their variables to differentiate by and random sizes n, m in 2..4, and checks each with
tests/randcheck.py: matdiff's value against NumPy on the parse tree, and the gradient or
Jacobian against finite differences of that reference value. A case that fails is
re-checked at two more random points and counts only if it fails at all three. Cases
that cannot be checked (overflow, finite differences that cannot resolve the derivative)
are counted as skipped. An exception from matdiff on a well-typed expression is a
failure too. Prints a summary (with how often the Kronecker regions were reached) and
exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
for _p in (str(HERE.parent), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from exprgen import random_corpus, variables_in
from gradcheck import GradientMismatch
from randcheck import Skip, ValueMismatch, check_case

# regions of the expression space the soak reports on (substring / regex of the input text)
REGIONS = {
    "kron": re.compile(r"kron\("),
    "tr(kron": re.compile(r"tr\(kron\("),
    "det/logdet(.. kron": re.compile(r"(det|logdet)\([^;]*kron\("),
    "kron*kron": re.compile(r"kron\([^;]*\)\*kron\("),
    "K(": re.compile(r"\bK\("),
    "vec(": re.compile(r"\bvec\("),
    "unvec(": re.compile(r"\bunvec\("),
}


def run(count: int, seeds: list[int], kinds: list[str], max_depth: int, verbose: bool, fail_fast: bool):
    outcomes: Counter = Counter()
    regions: Counter = Counter()
    failures: list[tuple[str, str, str]] = []
    t0 = time.perf_counter()
    total = 0
    for seed in seeds:
        for kind in kinds:
            corpus = random_corpus(count, seed=seed, max_depth=max_depth, arrays=(kind == "jacobian"))
            rnd = random.Random(f"{seed}/{kind}")
            for i, (text, with_sym) in enumerate(corpus):
                total += 1
                for name, rx in REGIONS.items():
                    if rx.search(text):
                        regions[name] += 1
                names = variables_in(text)
                wrt = rnd.sample(names, rnd.randint(1, min(3, len(names))))
                sizes = {"n": rnd.randint(2, 4), "m": rnd.randint(2, 4)}
                case_seed = rnd.randint(0, 2**16)
                try:
                    what = check_case(text, with_sym, wrt, sizes, case_seed)
                    outcomes[f"{what}: ok"] += 1
                except Skip as e:
                    outcomes[f"{kind}: skipped ({e})"] += 1
                except ValueMismatch as e:
                    outcomes[f"{kind}: WRONG VALUE"] += 1
                    failures.append(("value", text, str(e)))
                except GradientMismatch as e:
                    outcomes[f"{kind}: WRONG DERIVATIVE"] += 1
                    failures.append(("derivative", text, str(e)))
                except Exception as e:  # any crash on a well-typed input is a finding
                    outcomes[f"{kind}: ERROR {type(e).__name__}"] += 1
                    failures.append(("error", text, f"wrt={wrt} sizes={sizes}: "
                                     + "".join(traceback.format_exception_only(type(e), e)).strip()))
                if verbose and (i + 1) % 500 == 0:
                    print(f"  seed {seed} {kind}: {i + 1}/{count}  ({time.perf_counter() - t0:.0f} s, "
                          f"{len(failures)} failures)", flush=True)
                if fail_fast and failures:
                    return total, outcomes, regions, failures, time.perf_counter() - t0
    return total, outcomes, regions, failures, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=2000, help="expressions per seed and kind (default 2000)")
    ap.add_argument("--seeds", default="1,2,3,4,5", help="comma-separated corpus seeds (default 1,2,3,4,5)")
    ap.add_argument("--kinds", default="gradient,jacobian", help="gradient, jacobian or both (default)")
    ap.add_argument("--max-depth", type=int, default=5)
    ap.add_argument("--show", type=int, default=20, help="failures to print in full (default 20)")
    ap.add_argument("--fail-fast", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true", help="progress every 500 expressions")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    bad = set(kinds) - {"gradient", "jacobian"}
    if bad:
        ap.error(f"unknown kind(s) {sorted(bad)}: use gradient and/or jacobian")
    total, outcomes, regions, failures, elapsed = run(args.count, seeds, kinds, args.max_depth,
                                                       args.verbose, args.fail_fast)
    print(f"soak: {total} random expressions (seeds {seeds}, {args.count} per seed and kind, "
          f"max depth {args.max_depth}) in {elapsed:.0f} s")
    for key in sorted(outcomes):
        print(f"  {key:60s} {outcomes[key]:7d}")
    print("  regions reached (expressions containing): "
          + ", ".join(f"{k} {regions[k]}" for k in REGIONS))
    for kind, text, msg in failures[:args.show]:
        print(f"\nFAILED ({kind}): {text}\n  {msg[:2000]}")
    checked = sum(v for k, v in outcomes.items() if k.endswith(": ok"))
    print(f"\n{'FAIL' if failures else 'PASS'}: {len(failures)} wrong values, derivatives or errors; "
          f"{checked} checked, {total - checked - len(failures)} skipped")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
