"""Observable passes: which rule was applied where, as data.

Every JVP, transpose and vec rule of the op declarations, every simplifier rule and the
named normal-form steps inside the constructors (:data:`matdiff.core.expr.NORMAL_FORMS`) are
:class:`~matdiff.ops.base.Rule` objects. While a tracer is installed, each application is
reported as a :class:`Step`::

    >>> from matdiff.passes.trace import tracing
    >>> import matdiff
    >>> with tracing() as steps:
    ...     _ = matdiff.derive("tr(X*A)", wrt="X").gradient
    >>> "d.trace" in [s.rule.name for s in steps]
    True

With no tracer installed, reporting costs one context-variable read per constructor call or
pass (``current()`` returns None and nothing is built).
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

from ..core.record import field, record

_TRACER: contextvars.ContextVar = contextvars.ContextVar("matdiff_tracer", default=None)


@record
class Step:
    """One rule application: ``rule`` rewrote ``before`` into ``after``.

    ``path`` says where: the pass (``"differentiate"``, ``"transpose"``, ``"vec"``,
    ``"simplify"``, ``"normal"`` for a constructor's normal form) and what it was working on
    (the argument index a transpose or vec rule pulled back to, the variable). ``before`` and
    ``after`` are Exprs; a constructor step reports the operands it normalised as a tuple."""

    rule: object
    before: object
    after: object
    path: tuple = ()
    data: dict = field(default_factory=dict, compare=False)


class Tracer(list):
    """A list of :class:`Step`, in the order the rules were applied."""

    def step(self, rule, before, after, path=(), **data) -> None:
        self.append(Step(rule, before, after, tuple(path), data))

    def rules(self) -> list[str]:
        """The names of the rules applied, in order."""
        return [s.rule.name for s in self]


def current() -> Tracer | None:
    """The installed tracer, or None (tracing off)."""
    return _TRACER.get()


@contextmanager
def tracing(tracer: Tracer | None = None):
    """Install a tracer for the duration of the block; yields it (a list of steps).

    Tracers nest: the inner one receives the steps while it is installed."""
    tracer = Tracer() if tracer is None else tracer
    token = _TRACER.set(tracer)
    try:
        yield tracer
    finally:
        _TRACER.reset(token)
