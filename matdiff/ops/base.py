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

from ..core.record import field, record

BACKENDS = ("numpy", "jax", "torch")

# sampling domains an op may declare for its arguments (``OpDef.sample``): what the checker's
# sampler (and the registry tests) must make true of an argument for the value to be defined
SAMPLE_KINDS = ("any", "positive", "nonsingular", "positive-definite")


class Unsupported:
    """An explicit "this back-end cannot lower this op" (with the reason users will read)."""

    def __init__(self, reason: str = ""):
        self.reason = reason

    def __repr__(self) -> str:
        return f"UNSUPPORTED({self.reason!r})" if self.reason else "UNSUPPORTED"


UNSUPPORTED = Unsupported()


@record
class Rule:
    """One identity, as data: ``fn`` applies it; the rest says what it is and where from."""

    name: str  # short and unique, e.g. "d.inv"
    identity: str  # in the input language, e.g. "d inv(A) = -inv(A)*dA*inv(A)"
    latex: str  # the same identity in LaTeX
    cite: str  # "Matrix Cookbook (59)", "18.S096 lecture 2", a paper
    fn: Callable | None = field(default=None, compare=False, repr=False)

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


@record
class Kink:
    """Where an op is not differentiable, and what matdiff's derivative is there (issue 10).

    ``where`` and ``derivative`` are sentences for users (the README, the CLI's note);
    ``distance(a)`` takes the value of the op's (first) argument as an array and returns the
    distance of each entry (or of the whole argument) to the kink, in the argument's units and
    1-Lipschitz in its entries up to a factor of 2, so that the checker can keep its finite
    differences off the kink: a point is redrawn where a step would cross it."""

    where: str  # e.g. "where its argument is 0", "where several entries tie for the largest"
    derivative: str  # e.g. "abs'(0) is taken as sign(0) = 0, a subgradient"
    distance: Callable = field(compare=False, repr=False)
    noted: bool = True  # False: a single point that squares smooth over (norm2 at 0): no CLI note


def entry_distance(a):
    """:class:`Kink` distance of a kink at 0 of each entry: |a|."""
    import numpy as np

    return np.abs(np.asarray(a, dtype=float))


@record
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
    aliases: tuple = ()  # other libraries' names for it (suggested for an unknown name)
    names: tuple = ()  # further language names that parse as this function (asin for arcsin)
    kink: Kink | None = None  # where it is not differentiable, and its derivative there
    meaning: str = ""  # what it computes, one line (`matdiff functions`)


@record
class Example:
    """A text in the input language that exercises an op, for the registry-driven tests.

    ``wrt`` is the variable its JVP is checked by; ``shapes`` declares what must be declared;
    ``square_only``: the op needs square arguments, so the non-square size set is skipped."""

    text: str
    wrt: str = "X"
    shapes: dict = field(default_factory=dict)
    square_only: bool = False


@record(eq=False)
class OpDef:
    """Everything matdiff knows about one internal op (``Expr.op``), in one declaration.

    * ``build``: the canonicalizing constructor (in :mod:`matdiff.core.expr`), called with the
      argument Exprs; ``rebuild(node, args)`` where the node carries data the arguments do not
      (an exponent, a function name, a shape). Leaves have neither.
    * ``rank``: where nodes of this op sort among terms of a sum and scalar factors.
    * ``jvp``: ``fn(node, d)`` with ``d(i)`` the differential of argument ``i`` (None: zero);
      returns the node's differential, linear in the ``dX`` leaves, or None for zero (a
      tuple-valued op: a tuple of its outputs' differentials, see :mod:`matdiff.ops.multi`).
    * ``transpose``: for ops linear in an argument, ``fn(node, C, i)`` pulls the cotangent C
      back to argument ``i`` (``<C, L(M)> = <transpose(C), M>``).
    * ``vec``: for ops linear in an argument, ``fn(node, i, J)``, the Jacobian block of the
      node from argument ``i``'s block ``J`` (``vec(L(M)) = B vec(M)``: returns ``B*J``).
    * ``linear_in``: the argument positions the transpose and vec rules hold for (None: every
      argument; a Fréchet derivative ``Dexpm(A, E)`` is linear in E only).
    * ``language``, ``arity``, ``shape`` (the name of the parser's shape rule), ``dim_args``
      (positions of size arguments), ``parse_build(syntax node, *args)`` (when the language
      function is not ``build(*args)``), ``keeps_name`` (an elementwise-like call: its scalar
      result is still "a name").
    * ``text``/``latex``: function-style templates (``{0}`` the argument) or None where the
      printers have a method of their own.
    * ``sample``: the sampling domain of its arguments, one of :data:`SAMPLE_KINDS` ("any",
      "positive" entries, "nonsingular", "positive-definite"): one kind for every argument, a
      tuple of kinds (one per argument), or ``fn(node)`` returning either where it depends on
      the node (a power's exponent). The checker's sampler (through
      :func:`matdiff.core.facts.sampling_needs`) and the registry tests both read it.
    * ``requires``: what the op needs of its arguments, a tuple of
      :class:`matdiff.core.facts.Requirement` (:func:`matdiff.core.facts.require`), checked
      where a call is built from user input.
    * ``facts``: the transfer rule ``fn(node, arg_facts) -> Facts`` (a tuple of Facts for a
      tuple-valued op) of the property layer; :func:`matdiff.core.facts.no_facts` states
      that the op yields none.
    * ``examples``: language texts exercising the op (see :class:`Example`).
    * ``lower``: how code generation computes it. None: by the code generator's own decisions
      (:data:`matdiff.backends.lower.STRUCTURAL` lists those ops: products, solves, traces,
      reshapes, ...). Otherwise ``{back-end: template or UNSUPPORTED}`` for every back-end in
      :data:`BACKENDS`, a template being one call as in :class:`ElementwiseDef` (``{0}``,
      ``{1}``... the arguments, ``{xp}`` the array module); a tuple-valued op's template
      returns a tuple, which its ``proj`` nodes index.
    * ``kink``: where the op is not differentiable and what its derivative is there
      (:class:`Kink`); the checker keeps its points off it, the CLI notes it.
    * ``meaning`` and ``params``: the one-line description ``matdiff functions`` prints, the
      arguments written ``{0}``, ``{1}``... and named by ``params`` (default A, B, C).
    * ``kind`` and ``aliases``: what an unknown function name is matched against: a suggestion
      never crosses kinds (``expm`` is not ``exp``); ``aliases`` are other libraries' names with
      the same meaning (``inverse`` for ``inv``).
    """

    op: str
    rank: int
    jvp: Rule
    build: Callable | None = None
    rebuild: Callable | None = None
    transpose: Rule | None = None
    vec: Rule | None = None
    language: tuple = ()
    arity: int | None = None
    shape: str | None = None
    dim_args: tuple = ()
    parse_build: Callable | None = None
    keeps_name: bool = False
    text: str | Callable | None = None
    latex: str | Callable | None = None
    sample: str | tuple | Callable = "any"
    requires: tuple = ()
    facts: Callable | None = None
    examples: tuple = ()
    lower: dict | None = None
    kind: str = "structure"  # for suggestions: "matrix", "reduction", "structure" (never crossed)
    aliases: tuple = ()  # other libraries' names for its language name (suggested for an unknown name)
    kink: Kink | None = None  # where it is not differentiable, and its derivative there (``Kink``)
    linear_in: tuple | None = None  # positions the transpose/vec rules hold for (None: all)
    meaning: str = ""  # one line for `matdiff functions` ({0}, {1}: the arguments, named by params)
    params: tuple = ()  # the arguments' names in that line (default A, B, C)

    @property
    def name(self) -> str:
        return self.op

    @property
    def adjoint(self) -> Rule | None:
        """The transpose rule (the name the gradient pass has always used)."""
        return self.transpose

    def rebuild_node(self, node, args):
        """``node`` with new arguments, through the canonicalizing constructor."""
        if self.rebuild is not None:
            return self.rebuild(node, args)
        return self.build(*args)


def sample_kinds(od: OpDef, node) -> tuple:
    """The sampling domain (a kind of :data:`SAMPLE_KINDS`) of each argument of ``node``, an
    instance of the op declared by ``od``."""
    s = od.sample(node) if callable(od.sample) else od.sample
    if isinstance(s, str):
        s = (s,) * len(node.args)
    if len(s) != len(node.args) or any(k not in SAMPLE_KINDS for k in s):
        raise ValueError(f"{od.op}: sample must give one of {SAMPLE_KINDS} per argument, got {s!r}")
    return tuple(s)


def rule(name: str, identity: str, latex: str, cite: str = "calculus"):
    """Decorator: the function becomes the ``fn`` of a :class:`Rule` with this identity.

    >>> @rule("d.neg", "d(-A) = -dA", r"d(-A) = -dA", "calculus")
    ... def _neg(n, d):
    ...     return d(0)
    >>> _neg.identity
    'd(-A) = -dA'
    """

    def wrap(fn: Callable) -> Rule:
        return Rule(name, identity, latex, cite, fn)

    return wrap


def zero_sum(terms):
    """The sum of the terms that are not None (zero differentials), or None if all are."""
    from ..core import expr as E

    terms = [t for t in terms if t is not None]
    return E.add(*terms) if terms else None
