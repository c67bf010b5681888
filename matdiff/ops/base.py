"""What an operation declaration is made of: ``OpDef``, ``ElementwiseDef``, ``Rule``.

One declaration per operation carries everything matdiff knows about it (issue 9): its
language name(s) and arity, shape rule, canonicalizing constructor, the facts it requires
and produces, its JVP rule, its transpose rule where it is linear, its vec rule, its text
and LaTeX printing, the numeric domain the checker samples, and a lowering per back-end
or an explicit :data:`UNSUPPORTED`. Rules are data: each states its identity as text and
LaTeX, and cites where it comes from, so a tracer can show which rule was applied.

Lowering templates (``ElementwiseDef.lower``) are back-end spellings of one call: ``{0}``
is the argument (already a simple expression), ``{xp}`` the back-end's array module
(``np``, ``jnp``, ``torch``). A name starting with ``_`` is a helper the back-end defines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

BACKENDS = ("numpy", "jax", "torch")


class Unsupported:
    """An explicit "this back-end cannot lower this op" (with the reason users will read)."""

    def __init__(self, reason: str = ""):
        self.reason = reason

    def __repr__(self) -> str:
        return f"UNSUPPORTED({self.reason!r})" if self.reason else "UNSUPPORTED"


UNSUPPORTED = Unsupported()


@dataclass(frozen=True)
class Rule:
    """One identity, as data: ``fn`` applies it; the rest says what it is and where from."""

    name: str  # short and unique, e.g. "d.inv"
    identity: str  # in the input language, e.g. "d inv(A) = -inv(A)*dA*inv(A)"
    latex: str  # the same identity in LaTeX
    cite: str  # "Matrix Cookbook (59)", "18.S096 lecture 2", a paper
    fn: Callable | None = field(default=None, compare=False, repr=False)

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


@dataclass(frozen=True)
class ElementwiseDef:
    """An ordinary scalar function applied entry by entry: one entry per function.

    ``derivative(a, node)`` builds f'(a) (shape of ``a``; ``node`` is f(a) itself, for
    f' = f-style rules) or returns None where f' is zero almost everywhere.
    ``range``/``domain`` are closed-or-open intervals as (lo, hi) floats (None: unbounded)
    used by the facts layer (sign, range) and the checker's sampling.
    """

    name: str
    derivative: Rule
    latex: str  # e.g. "\\exp"; the argument is printed in \left( \right)
    lower: dict  # back-end -> template (see the module docstring) or UNSUPPORTED
    range: tuple = (None, None)
    domain: tuple = (None, None)  # where the function is real and smooth enough to sample
    at_zero: object = None  # f(0) as an exact number when it is one (constant folding)
