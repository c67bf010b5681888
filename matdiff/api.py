"""The Python API: :func:`derive` and the :class:`Derivation` it returns."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterable, Mapping, Sequence

from . import expr as E
from .codegen import compile_source, generate, py_name
from .differentiate import differential, dvars_for
from .errors import DerivationError, suggest
from .expr import Expr
from .gradient import transpose_linear
from .parse import parse_full
from .shapes import shape_to_dims, shape_str
from .simplify import simplify, sym


@contextmanager
def _deep_stack():
    """Expression depth is bounded by the parser; give the recursive passes room for it."""
    old = sys.getrecursionlimit()
    if old < 20000:
        sys.setrecursionlimit(20000)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


class Derivation:
    """The result of :func:`derive`: the expression, its differential and derivatives.

    Attributes
    ----------
    text : the input expression as typed
    expr : the parsed expression (:class:`~matdiff.expr.Expr`)
    wrt : the variables of differentiation, in order
    shapes : ``{name: dims}`` for every variable, dims a tuple of ints / dimension names
    differential : ``d(expr)``, linear in ``dX`` for each ``X`` in ``wrt``
    gradients : ``{name: gradient}`` (scalar expressions only)
    gradient : the gradient when there is a single ``wrt`` variable
    """

    def __init__(self, text: str, wrt, shapes=None, symmetric=()):
        if isinstance(wrt, str):
            wrt = [wrt]
        wrt = list(wrt)
        if not wrt:
            raise DerivationError("nothing to differentiate by: give wrt=\"X\" (CLI: --wrt X)")
        if len(set(wrt)) != len(wrt):
            raise DerivationError(f"a variable is repeated in wrt: {wrt}")
        self.text = text
        self.symmetric = set(symmetric or ())
        with _deep_stack():
            parsed = parse_full(text, shapes, self.symmetric)
            self._parsed = parsed
            self.expr: Expr = parsed.expr
            self._shapes = parsed.shapes
            self.variables = list(parsed.order)
            for name in wrt:
                if name not in self._shapes:
                    raise DerivationError(
                        f"cannot differentiate by {name!r}: it is not a variable of the expression"
                        f"{suggest(name, self._shapes)} (variables: {', '.join(self.variables) or 'none'})")
            self.wrt = wrt
            self._dvars = dvars_for(self._shapes, wrt, self.symmetric)
            raw = differential(self.expr, self._dvars)
            self.differential: Expr = simplify(raw)
            self._gradients = None
            if self.expr.is_scalar:
                self._gradients = self._compute_gradients(raw)

    def _compute_gradients(self, raw_differential: Expr) -> dict:
        grads, _ = transpose_linear(raw_differential, self.wrt)
        out = {}
        for name in self.wrt:
            shape = self._shapes[name]
            g = grads[name]
            g = E.zero(shape) if g is None else simplify(g)
            if name in self.symmetric:
                g = sym(g)
            out[name] = g
        return out

    # ------------------------------------------------------------------ views
    @property
    def shapes(self) -> dict:
        """``{name: dims}``: () scalar, (n,) vector, (n, m) matrix; dims are ints or names."""
        return {n: tuple(d if isinstance(d, int) else str(d) for d in shape_to_dims(s))
                for n, s in self._shapes.items()}

    @property
    def gradients(self) -> dict:
        if self._gradients is None:
            raise DerivationError(
                f"the expression is not scalar ({shape_str(self.expr.shape)}): it has a Jacobian, "
                f"not a gradient")
        return dict(self._gradients)

    @property
    def gradient(self) -> Expr:
        g = self.gradients
        if len(g) != 1:
            raise DerivationError(f"several variables ({', '.join(self.wrt)}): use .gradients[name]")
        return next(iter(g.values()))

    def zero_gradient(self, name: str) -> bool:
        """True when f does not depend on ``name`` (its gradient is identically zero)."""
        return E.is_zero(self.gradients[name])

    def shape_text(self) -> str:
        parts = []
        for n in self.variables:
            dims = shape_to_dims(self._shapes[n])
            s = "scalar" if not dims else ("vector " + str(dims[0]) if len(dims) == 1
                                           else f"{dims[0]}x{dims[1]}")
            if n in self.symmetric:
                s += ", symmetric"
            parts.append(f"{n}: {s}")
        return "; ".join(parts)

    def __repr__(self) -> str:
        return f"<Derivation of {self.text!r} by {', '.join(self.wrt)}>"

    def _repr_latex_(self) -> str:
        return "$$" + self.latex() + "$$"

    def latex(self) -> str:
        """LaTeX of the result: the gradients (or the differential for non-scalar expressions)."""
        if self._gradients is None:
            return "d\\left(" + self.expr.latex() + "\\right) = " + self.differential.latex()
        lines = []
        for name, g in self._gradients.items():
            lines.append(f"\\frac{{\\partial f}}{{\\partial {E.var(name, (1, 1)).latex()}}} = {g.latex()}")
        return " ,\\quad ".join(lines)

    def to_dict(self) -> dict:
        """A JSON-ready description: input, shapes, differential, gradients (text and LaTeX)."""
        out = {
            "input": self.text,
            "expression": {"text": str(self.expr), "latex": self.expr.latex()},
            "shapes": {n: list(d) for n, d in self.shapes.items()},
            "symmetric": sorted(self.symmetric),
            "wrt": list(self.wrt),
            "differential": {"text": str(self.differential), "latex": self.differential.latex()},
        }
        if self._gradients is not None:
            out["gradient"] = {n: {"text": str(g), "latex": g.latex(), "zero": E.is_zero(g)}
                               for n, g in self._gradients.items()}
        return out

    # ------------------------------------------------------------------ NumPy
    def _input_list(self):
        return [(n, self._shapes[n]) for n in self.variables]

    def numpy_source(self, name: str = "f") -> str:
        """Python source (imports only NumPy) of ``name(...) -> (value, gradient)``."""
        if not name.isidentifier():
            raise DerivationError(f"bad function name {name!r}: use a Python identifier")
        name = py_name(name)
        outputs = [("value", self.expr, "value")]
        grads = self.gradients
        for n in self.wrt:
            outputs.append((n, grads[n], "value"))
        doc = self._docstring()
        if len(self.wrt) == 1:
            return generate(outputs, self._input_list(), name, doc)
        result = "return {0}, {{" + ", ".join(f"{n!r}: {{{i + 1}}}" for i, n in enumerate(self.wrt)) + "}}"
        return generate(outputs, self._input_list(), name, doc, result_code=result)

    def _docstring(self) -> str:
        lines = [f"Value and gradient of  {self.text}", "", f"Shapes: {self.shape_text()}"]
        for n, g in (self._gradients or {}).items():
            lines.append(f"Gradient by {n}: {g}")
        return "\n    ".join(lines)

    def to_numpy(self):
        """A compiled NumPy function ``f(**inputs) -> (value, gradient)``.

        Inputs are passed by variable name (or positionally in the order of
        :attr:`variables`); vectors are 1-D arrays, scalars floats. With several ``wrt``
        variables the gradient is a dict by name.
        """
        fname = "_matdiff_f"
        src = self.numpy_source(fname)
        fn = compile_source(src, fname)
        return _bind_names(fn, self.variables, src)

    def value_numpy(self):
        """A compiled NumPy function of the inputs returning the value only."""
        src = generate([("value", self.expr, "value")], self._input_list(), "_matdiff_v", "value")
        return _bind_names(compile_source(src, "_matdiff_v"), self.variables, src)


def _bind_names(fn, names, source):
    """Accept inputs by their user names (which may be Python keywords) or by position."""
    order = list(names)

    def call(*args, **kwargs):
        if len(args) > len(order):
            raise TypeError(f"expected at most {len(order)} positional inputs ({', '.join(order)})")
        values = dict(zip(order, args))
        for k, v in kwargs.items():
            if k not in order:
                raise TypeError(f"unexpected input {k!r}{suggest(k, order)}; inputs: {', '.join(order)}")
            if k in values:
                raise TypeError(f"input {k!r} given twice")
            values[k] = v
        missing = [n for n in order if n not in values]
        if missing:
            raise TypeError(f"missing input{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
        return fn(*[values[n] for n in order])

    call.source = source
    call.__doc__ = fn.__doc__
    return call


def derive(expr: str, wrt: str | Sequence[str], shapes: Mapping | None = None,
           symmetric: Iterable[str] = ()) -> Derivation:
    """Differentiate a matrix expression.

    >>> d = derive("x'*A*x", wrt="x", shapes={"x": "n", "A": "n,n"})
    >>> str(d.gradient)
    "(A + A')*x"
    """
    return Derivation(expr, wrt, shapes, symmetric)
