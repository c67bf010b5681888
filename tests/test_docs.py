"""The README's command-line examples are run, and every output line they show must appear
in the real output (the README may leave lines out, marked ``...``), so the examples
cannot drift from what matdiff prints."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from matdiff.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _blocks():
    """The contents of the README's fenced code blocks."""
    blocks, cur = [], None
    for line in README.splitlines():
        if line.startswith("```"):
            if cur is None:
                cur = []
            else:
                blocks.append(cur)
                cur = None
        elif cur is not None:
            cur.append(line)
    return blocks


def _examples():
    out = []
    for lines in _blocks():
        i = 0
        while i < len(lines):
            if lines[i].startswith("$ matdiff "):
                cmd = lines[i][2:]
                shown = []
                i += 1
                while i < len(lines) and not lines[i].startswith("$ "):  # blank lines included
                    shown.append(lines[i])
                    i += 1
                out.append((cmd, shown))
            else:
                i += 1
    return out


EXAMPLES = _examples()


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("cmd, shown", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_example_output(cmd, shown, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files (-o ls.py) write here
    args = shlex.split(cmd)[1:]
    result = CliRunner().invoke(main, args)
    text = result.output
    for line in shown:
        if line.strip() in ("...", "") or line.lstrip().startswith("..."):
            continue
        assert line.rstrip() in text, f"README shows {line!r} for `{cmd}`, matdiff printed:\n{text}"


def _python_blocks():
    """The README's ```python blocks (the API snippet, the SymPy one, generated code)."""
    out, cur = [], None
    for line in README.splitlines():
        if cur is None and line.startswith("```python"):
            cur = []
        elif cur is not None and line.startswith("```"):
            out.append("\n".join(cur))
            cur = None
        elif cur is not None:
            cur.append(line)
    return out


PYTHON_BLOCKS = _python_blocks()


def test_the_readme_has_python_blocks():
    assert len(PYTHON_BLOCKS) >= 3 and any("matdiff.derive(" in b for b in PYTHON_BLOCKS)


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[f"python-{i}" for i in range(len(PYTHON_BLOCKS))])
def test_readme_python_block_runs_as_written(block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {"__name__": "readme"})  # the README's own code
