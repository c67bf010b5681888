#!/usr/bin/env python3
"""Install the frameworks the benchmarks compare matdiff with, one at a time, and carry on
past any that cannot be installed (no network, no wheel for this platform or Python).

The list is the project's "bench" extra (pyproject.toml), read from the installed matdiff's
metadata, or from pyproject.toml when matdiff is not installed. Each requirement gets its own
`pip install`, so a failure skips that framework only: the benchmarks print its column as
"missing". Always exits 0 (`make bench` runs it before the benchmarks).

Usage: python benchmarks/install_comparators.py [--dry-run]
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRA = "bench"


def bench_requirements() -> list[str]:
    try:
        from importlib.metadata import PackageNotFoundError, requires

        reqs = requires("matdiff")
    except PackageNotFoundError:
        reqs = None
    if reqs:
        marker = re.compile(r"""\s*;\s*extra\s*==\s*["']""" + EXTRA + r"""["']\s*$""")
        found = [marker.sub("", r) for r in reqs if marker.search(r)]
        if found:
            return found
    try:
        import tomllib
    except ImportError:  # Python 3.10 without matdiff installed: nothing to read the list with
        return []
    with open(ROOT / "pyproject.toml", "rb") as f:
        return list(tomllib.load(f)["project"]["optional-dependencies"].get(EXTRA, []))


def main(argv: list[str]) -> int:
    reqs = bench_requirements()
    if not reqs:
        print(f"install_comparators: no '{EXTRA}' extra found; installing nothing")
        return 0
    for req in reqs:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--retries", "1", "--timeout", "30", req]
        if "--dry-run" in argv:
            print(" ".join(cmd))
            continue
        rc = subprocess.run(cmd).returncode
        if rc != 0:
            print(
                f"install_comparators: skipping {req}: could not be installed (pip exit status {rc}); "
                "the benchmarks leave its column empty"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
