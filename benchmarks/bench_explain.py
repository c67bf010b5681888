"""What --explain adds to each command-line example of the README (issue 13: under 20 ms each).

    python benchmarks/bench_explain.py [runs]      (default 5 runs of each)

Each README command ``$ matdiff EXPR ...`` (its --explain dropped) runs in a fresh process,
as the command line does: after the import and one unrelated derivation, the CLI's main() is
timed in CPU seconds of that process (so that other work on the machine does not count), with
and without --explain. One row per command: the extra milliseconds (median of the runs) and
the two times; last, the largest and the median extra.
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = r'''
import contextlib, io, json, sys, time
import matdiff
from matdiff.cli import main
matdiff.derive("tr(Q*Z)", wrt="Z").gradient
buf = io.StringIO()
t0 = time.process_time()
with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
    try:
        main(json.loads(sys.argv[1]), standalone_mode=False)
    except BaseException:
        pass
print(json.dumps(time.process_time() - t0))
'''


def commands() -> list:
    out = []
    for line in (ROOT / "README.md").read_text().splitlines():
        if not line.startswith("$ matdiff ") or line.startswith(("$ matdiff check", "$ matdiff codegen")):
            continue
        try:
            argv = [a for a in shlex.split(line[2:])[1:] if not a.startswith("--explain")]
        except ValueError:
            continue
        if argv not in out and "-" not in argv and not any(a.startswith("@") for a in argv):
            out.append(argv)
    return out


def cpu_ms(argv, runs: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return statistics.median(
        json.loads(subprocess.run([sys.executable, "-c", CHILD, json.dumps(argv)], capture_output=True,
                                  text=True, env=env, check=True).stdout) for _ in range(runs)) * 1e3


def main(runs: int = 5) -> None:
    rows = []
    for argv in commands():
        a, b = cpu_ms(argv, runs), cpu_ms(argv + ["--explain"], runs)
        rows.append((b - a, a, b, " ".join(shlex.quote(x) for x in argv)))
    rows.sort(reverse=True)
    for extra, a, b, cmd in rows:
        print(f"{extra:+7.2f} ms  ({a:6.2f} -> {b:6.2f} ms)  matdiff {cmd[:80]}")
    print(f"{len(rows)} commands; largest extra {rows[0][0]:.2f} ms, median "
          f"{statistics.median(r[0] for r in rows):.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
