"""The errors matdiff raises for bad input. All derive from :class:`MatdiffError`.

Each carries a message meant for a person: where in the input, what was expected,
and what would have been right. ``str(err)`` is that message (several lines when it
shows the input with a caret).
"""

from __future__ import annotations

import contextvars
import difflib

# Which interface the user is typing into: advice in messages is spelt for it
# ("--shape x=n" on the command line, "shapes={'x': 'n'}" in Python). The CLI sets "cli".
INTERFACE: contextvars.ContextVar[str] = contextvars.ContextVar("matdiff_interface", default="python")


def declare(name: str, spec: str) -> str:
    """How the user declares ``name`` with shape ``spec`` ('' scalar, 'n' vector, 'n,m')."""
    if INTERFACE.get() == "cli":
        return f"--shape {name}={spec}"
    return f"shapes={{{name!r}: {spec!r}}}"


def option(flag: str, value: str) -> str:
    """How the user passes an option: ``--wrt X`` on the command line, ``wrt='X'`` in Python."""
    if INTERFACE.get() == "cli":
        return f"--{flag} {value}"
    return f"{flag}={value!r}"


class MatdiffError(Exception):
    """Base class for every error caused by user input."""


class ParseError(MatdiffError):
    """The input is not a well-formed expression (or names an unknown function)."""


class ShapeError(MatdiffError):
    """Shapes do not agree, or a shape declaration is malformed."""


class DerivationError(MatdiffError):
    """The derivation cannot be done as asked (e.g. ``wrt`` names no variable)."""


def caret(text: str, pos: int | None, width: int = 1) -> str:
    """The line of ``text`` containing ``pos`` with a caret line under it."""
    if pos is None or not text:
        return ""
    pos = max(0, min(pos, len(text)))
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    end = len(text) if end == -1 else end
    line = text[start:end]
    col = pos - start
    # keep very long lines readable: show a window around the position
    if len(line) > 100:
        lo = max(0, col - 50)
        hi = min(len(line), lo + 100)
        prefix = "..." if lo > 0 else ""
        suffix = "..." if hi < len(line) else ""
        line = prefix + line[lo:hi] + suffix
        col = col - lo + len(prefix)
    return f"  {line}\n  {' ' * col}{'^' * max(1, width)}"


def where(text: str, pos: int | None) -> str:
    """'line L, column C' for a 0-based offset."""
    if pos is None:
        return ""
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}" if "\n" in text else f"column {col}"


def suggest(name: str, candidates) -> str:
    """' (did you mean "x"?)' or ''."""
    close = difflib.get_close_matches(name, sorted(candidates), n=2, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"
