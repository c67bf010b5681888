"""Named intermediates in the input language (issue 12).

Two spellings, one meaning: ``h = tanh(W1*x + b1); sum((W2*h - y).^2)`` and
``sum((W2*h - y).^2) where h = tanh(W1*x + b1)`` (several bindings: ``a = ...; b = ...; e``
and ``e where a = ..., b = ...``; a binding may use the names bound before it). A bound name
stands for its value: the expression is read with each name replaced by its parenthesised
value, so derivatives, checks and generated code are those of the inlined expression, and
the printers show the names again (:func:`matdiff.render.text.to_text_named`).
"""

from __future__ import annotations

import re

from ..core.errors import ParseError

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_WHERE = re.compile(r"(?<![A-Za-z0-9_])where(?![A-Za-z0-9_])")


def _split_top(text: str, sep: str) -> list:
    """``text`` split at ``sep`` outside brackets and parentheses."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == sep and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def _binding(part: str, text: str) -> tuple:
    name, eq, value = part.partition("=")
    name = name.strip()
    if not eq or not value.strip() or "=" in value:
        raise ParseError(f"expected a binding `name = expression` in {text!r}, got {part.strip()!r}")
    if not _NAME.match(name):
        raise ParseError(f"{name!r} cannot be bound: a name starts with a letter (in {text!r})")
    return name, value.strip()


def split_bindings(text: str):
    """``(bindings, body)``: the ``name = value`` pairs in order and the expression text;
    ``([], text)`` when the text binds nothing."""
    bindings = []
    parts = _split_top(text, ";")
    if len(parts) > 1:
        bindings += [_binding(p, text) for p in parts[:-1]]
    body = parts[-1]
    m = None
    depth = 0
    for w in _WHERE.finditer(body):
        depth = body[:w.start()].count("(") + body[:w.start()].count("[") \
            - body[:w.start()].count(")") - body[:w.start()].count("]")
        if depth == 0:
            m = w
            break
    if m is not None:
        where = [_binding(p, text) for p in _split_top(body[m.end():], ",")]
        body = body[:m.start()]
        bindings += where
    if bindings and not body.strip():
        raise ParseError(f"{text!r} binds names but has no expression after them")
    seen = set()
    for name, _ in bindings:
        if name in seen:
            raise ParseError(f"{name!r} is bound twice in {text!r}")
        seen.add(name)
    return bindings, body.strip()


def substitute_names(text: str, values: dict) -> str:
    """``text`` with each bound name (not a function call) replaced by ``(value)``."""
    if not values:
        return text
    pat = re.compile(r"(?<![A-Za-z0-9_.])(" + "|".join(map(re.escape, values)) + r")(?![A-Za-z0-9_(])")
    return pat.sub(lambda m: "(" + values[m.group(1)] + ")", text)


def inline(text: str):
    """``(inlined body, [(name, inlined value text)])`` of a text with bindings."""
    bindings, body = split_bindings(text)
    values: dict = {}
    out = []
    for name, value in bindings:
        v = substitute_names(value, values)
        values[name] = v
        out.append((name, v))
    return substitute_names(body, values), out
