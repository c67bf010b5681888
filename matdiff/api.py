"""The Python API: :func:`derive` and the :class:`Derivation` it returns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .core import expr as E
from .core.errors import DerivationError, ShapeError, api_boundary, api_class, option, suggest
from .core.expr import Expr
from .core.shapes import shape_str, shape_to_dims
from .lang.parsing import parse_full
from .passes.differentiate import differential, dvars_for
from .passes.simplify import simplify, sym
from .passes.transpose import transpose_linear


# code generation loads on first use: the CLI's default path (derive and print) never needs it
def generate(*args, **kwargs):
    from .backends.emit import generate as _generate

    return _generate(*args, **kwargs)


def compile_source(source: str, fname: str):
    from .backends.emit import compile_source as _compile

    return _compile(source, fname)


def py_name(name: str) -> str:
    from .backends.emit import py_name as _py_name

    return _py_name(name)


@api_class
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
    jacobians : ``{name: J}`` with ``vec(dF) = sum J vec(dX)`` (column-major vec, numerator
        layout: ``size(F)`` rows, ``size(X)`` columns); for a scalar f, ``vec(gradient)'``
    jacobian : the Jacobian when there is a single ``wrt`` variable
    second_differential, hvp, hvp_variable, hessian : second derivatives of a scalar
        expression by its single ``wrt`` variable (computed on first use)
    steps : every rule applied to get the first-order results, in order (on first use)
    explain() : those steps as the course writes them, top-down, each with its identity and
        source (:mod:`matdiff.render.explain`)

    >>> d = derive("logdet(X)", wrt="X")
    >>> str(d.gradient), str(d.hvp)
    ("inv(X)'", "-inv(X)'*V'*inv(X)'")
    """

    def __init__(self, text: str, wrt, shapes=None, symmetric=()):
        wrt = _names(wrt, "wrt")
        if not wrt:
            raise DerivationError(f"nothing to differentiate by: give {option('wrt', 'X')}")
        if len(set(wrt)) != len(wrt):
            raise DerivationError(f"a variable is repeated in wrt: {wrt}")
        self.text = text
        self._declared = shapes
        self._steps = None
        self.symmetric = set(_names(symmetric, "symmetric"))
        parsed = parse_full(text, shapes, self.symmetric)
        self.expr: Expr = parsed.expr
        self._shapes = parsed.shapes
        self.variables = list(parsed.order)
        #: what each undeclared lowercase name was read as: {'b': 'vector', ...}
        self.inferred: dict = dict(parsed.inferred)
        #: one line per choice the naming convention made between readings that differ
        self.notes: list = list(parsed.notes)
        #: the user's named intermediates ({value: name}, from ``h = ...; f(h)``), kept in results
        self.names: dict = dict(parsed.names)
        from .ops.registry import kink_notes

        self.notes += kink_notes(self.expr)  # nonsmooth functions: their derivative at the kink
        for name in parsed.absent:
            if name not in wrt:  # a declaration of a name that is not there is a slip
                raise ShapeError(
                    f"shape declared for {name!r}, which does not occur in the expression"
                    f"{suggest(name, self._shapes)} (variables: {', '.join(self.variables) or 'none'})")
        for name in wrt:
            if name not in self._shapes and name in parsed.absent:
                # declared but absent: f does not depend on it; its gradient is zero
                self._shapes[name] = parsed.absent[name]
                self.variables.append(name)
            if name not in self._shapes:
                raise DerivationError(
                    f"cannot differentiate by {name!r}: it is not a variable of the expression"
                    f"{suggest(name, self._shapes)} (variables: {', '.join(self.variables) or 'none'})")
        self.wrt = wrt
        self._dvars = dvars_for(self._shapes, wrt, self.symmetric)
        raw = differential(self.expr, self._dvars)
        self._raw_differential = raw
        self.differential: Expr = simplify(raw, factor=False)  # the course form: unfactored
        self._gradients = None
        self._jacobians = None
        self._d2 = self._hvp = self._hess = None  # second order, on first use
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

    @property
    def steps(self) -> list:
        """Every rule applied to derive the differential and the gradients (or Jacobians), in
        order: :class:`~matdiff.passes.trace.Step` ``(rule, before, after, path)``, each
        ``rule`` stating its identity (``rule.identity``, ``rule.latex``) and its source
        (``rule.cite``). Computed on first use, by deriving again under a tracer."""
        if self._steps is None:
            from .passes.trace import tracing

            with tracing() as steps:
                again = Derivation(self.text, self.wrt, self._declared, self.symmetric)
                if not again.expr.is_scalar:
                    again.jacobians  # noqa: B018 (computed for its steps)
            self._steps = steps
        return self._steps

    def explain(self, full: bool = False, hessian: bool = False):
        """The derivation step by step, top-down, as a course derives it by hand: the
        differential (outermost operation first), the inner-product moves to the gradient (or
        the vec/Kronecker identities to the Jacobian), the simplifications, and with
        ``hessian`` the second differential. Every line names its rule, identity and source.
        ``full``: every rule application (constructor normal forms included). Returns an
        :class:`~matdiff.render.explain.Explanation` (``.steps``; ``str`` is the text, in
        Jupyter it shows as aligned LaTeX)."""
        from .render.explain import explain

        return explain(self, full=full, hessian=hessian)

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

    @property
    def jacobians(self) -> dict:
        """``{name: J}``: ``vec(dF) = J vec(dX)`` summed over the variables (see :mod:`matdiff.jacobian`)."""
        if self._jacobians is None:
            from .passes.vecpass import jacobian_of_gradient, jacobians

            if self._gradients is not None:
                self._jacobians = {n: jacobian_of_gradient(g) for n, g in self._gradients.items()}
            else:
                self._jacobians = jacobians(self.differential, self.wrt, self._shapes)
        return dict(self._jacobians)

    @property
    def jacobian(self) -> Expr:
        """The Jacobian by the single ``wrt`` variable, e.g. ``kron(B', A)`` for ``A*X*B`` by X."""
        j = self.jacobians
        if len(j) != 1:
            raise DerivationError(f"several variables ({', '.join(self.wrt)}): use .jacobians[name]")
        return next(iter(j.values()))

    # ------------------------------------------------------------------ second order
    def _second_order_check(self):
        if not self.expr.is_scalar:
            raise DerivationError("Hessians are for scalar expressions; this one is "
                                  f"{shape_str(self.expr.shape)} (use the Jacobian)")

    def _single(self, what: str, several: str) -> str:
        self._second_order_check()
        if len(self.wrt) != 1:
            raise DerivationError(f"{what} is for one variable; with several ({', '.join(self.wrt)}) "
                                  f"use {several}")
        return self.wrt[0]

    @property
    def second_differential(self) -> Expr:
        """d2f, the quadratic form in dX: ``logdet(X)`` gives ``-tr(inv(X)*dX*inv(X)*dX)``."""
        if self._d2 is None:
            self._second_order_check()
            from .passes.hessian import second_differential

            self._d2 = second_differential(self._raw_differential, self._dvars)
        return self._d2

    @property
    def hvp_variables(self) -> dict:
        """``{X: name}``: the direction of each variable in :attr:`hvps` (V for one variable)."""
        from .passes.hessian import hvp_names

        return hvp_names(self.wrt, self._shapes)

    @property
    def hvp_variable(self) -> str:
        """The name of the direction V in :attr:`hvp` (V unless the expression uses it)."""
        return self.hvp_variables[self._single("hvp_variable", "hvp_variables")]

    @property
    def hvps(self) -> dict:
        """``{X: H[V]_X}``: the Hessian-vector product, one expression per variable, linear in
        the directions :attr:`hvp_variables`; nothing of size n² x n² is formed."""
        if self._hvp is None:
            self._second_order_check()
            from .passes.hessian import hvps

            self._hvp = hvps(self.gradients, self.wrt, self._shapes, self.symmetric, self.hvp_variables)
        return dict(self._hvp)

    @property
    def hvp(self) -> Expr:
        """The Hessian-vector product H[V] (X's shape, linear in :attr:`hvp_variable`)."""
        return self.hvps[self._single("hvp", "hvps")]

    @property
    def hessians(self) -> dict:
        """``{(X, Y): H_XY}`` with ``H_XY = d vec(df/dX) / d vec(Y)``: the blocks of the
        Hessian on the stacked ``[vec(X); vec(Y); ...]`` in ``wrt`` order."""
        if self._hess is None:
            self._second_order_check()
            from .passes.hessian import hessian_blocks

            self._hess = hessian_blocks(self.gradients, self.wrt, self._shapes, self.symmetric)
        return dict(self._hess)

    @property
    def hessian(self) -> Expr:
        """The Hessian matrix on vec(X), size(X) x size(X) (``x'*A*x`` gives ``A + A'``)."""
        x = self._single("hessian", "hessians[(X, Y)]")
        return self.hessians[(x, x)]

    def zero_gradient(self, name: str) -> bool:
        """True when f does not depend on ``name`` (its gradient is identically zero)."""
        return E.is_zero(self.gradients[name])

    def shape_text(self, names: Mapping | None = None) -> str:
        """'X: nxm; x: vector n; s: scalar' (``names``: how to call each variable)."""
        parts = []
        for n in self.variables:
            dims = shape_to_dims(self._shapes[n])
            s = "scalar" if not dims else ("vector " + str(dims[0]) if len(dims) == 1
                                           else f"{dims[0]}x{dims[1]}")
            if n in self.symmetric:
                s += ", symmetric"
            parts.append(f"{(names or {}).get(n, n)}: {s}")
        return "; ".join(parts)

    def _code_shapes(self) -> str:
        """The Shapes line of a generated docstring, by Python parameter name (a keyword gets
        a trailing underscore), saying which formula name each renamed parameter stands for."""
        from .backends.emit import py_names

        names = py_names(self.variables)
        renamed = [f"{p} is {n}" for n, p in names.items() if p != n]
        note = f" (in the formulas {', '.join(renamed)})" if renamed else ""
        return f"Shapes: {self.shape_text(names)}{note}"

    def __repr__(self) -> str:
        return f"<Derivation of {self.text!r} by {', '.join(self.wrt)}>"

    def _repr_latex_(self) -> str:
        """Jupyter: f, df and the gradients (Jacobians), aligned; d2f, H[V] and the Hessian
        too once they are computed (``d.hessian``)."""
        from .render.latex import derivation_display

        return "$$" + derivation_display(self) + "$$"

    def latex(self) -> str:
        """LaTeX of the result: the gradients (or the differential for non-scalar expressions)."""
        from .render.latex import derivation_latex

        return derivation_latex(self)

    def latex_lines(self) -> list:
        """The derivation in LaTeX, one equation a line: ``f = ...``, ``df = ...``, then the
        gradients (``F``, its differential and Jacobians for a non-scalar expression)."""
        from .render.latex import latex_lines

        return latex_lines(self)

    def report(self, format: str = "text", second_order: bool = False, names: bool = True) -> str:
        """The derivation as the command line prints it (``format``: "text", "latex" or
        "json"): expression, shapes, differential, gradients or Jacobians, with
        ``second_order`` the Hessian too; with ``names`` repeated subexpressions and your
        named intermediates are printed once, by name, in a closing ``where`` block.

        >>> print(derive("h = tanh(W*x); sum(h.^2)", wrt="W").report().splitlines()[-1])
        where         h = tanh(W*x)
        """
        if format == "json":
            from .render.json import render_derivation
        elif format == "latex":
            from .render.latex import render_derivation
        elif format == "text":
            from .render.text import render_derivation
        else:
            raise DerivationError(f"unknown format {format!r}: use text, latex or json")
        return render_derivation(self, second_order=second_order, names=names)

    def to_dict(self, second_order: bool = False) -> dict:
        """A JSON-ready description: input, shapes, differential, gradients (text and LaTeX)."""
        from .render.json import derivation_dict

        return derivation_dict(self, second_order)

    # ------------------------------------------------------------------ NumPy
    def _input_list(self):
        return [(n, self._shapes[n]) for n in self.variables]

    def numpy_source(self, name: str = "f", hints: Mapping | None = None, hessian: bool = False,
                     hvp: bool = False, target: str = "numpy") -> str:
        """Python source (imports only NumPy) of ``name(...) -> (value, gradient)``
        (``(value, J)`` for a non-scalar expression, J the 2-D Jacobian).

        ``hints``: ``{dimension name: typical size}`` used to choose the multiplication
        order of matrix chains (symbolic sizes default to 1000). ``target``: ``numpy``,
        ``jax`` or ``torch`` (the same function, importing only that library)."""
        if not name.isidentifier():
            raise DerivationError(f"bad function name {name!r}: use a Python identifier")
        name = py_name(name)
        hints = _check_hints(hints, self._shapes)
        _check_target(target)
        if hessian or hvp:
            return self._hessian_source(name, hints, hvp, target)
        outputs = [("value", self.expr, "value")]
        if self._gradients is not None:
            grads = self.gradients
            for n in self.wrt:
                outputs.append((n, grads[n], "value"))
        else:
            jacs = self.jacobians
            for n in self.wrt:
                outputs.append((n, jacs[n], "matrix"))
        doc = self._docstring()
        mdoc = f"Generated by matdiff: {name}(...) for  {self.text}\n\nImports only {_LIBRARY[target]}."
        result = None if len(self.wrt) == 1 else _dict_result(self.wrt)
        # gradients may go into the caller's arrays (out=; on back-ends that write in place)
        out_for = None
        if self._gradients is not None:
            out_for = [(i + 1, None if len(self.wrt) == 1 else n) for i, n in enumerate(self.wrt)]
        return generate(outputs, self._input_list(), name, doc, result=result, size_hints=hints,
                        module_doc=mdoc, target=target, names=self.names, out_for=out_for)

    def source(self, target: str = "numpy", name: str = "f", hints: Mapping | None = None,
               hessian: bool = False, hvp: bool = False) -> str:
        """Source of the generated module for ``target`` (``numpy``, ``jax``, ``torch``), as
        :meth:`numpy_source`."""
        return self.numpy_source(name, hints=hints, hessian=hessian, hvp=hvp, target=target)

    def _hessian_source(self, name, hints, hvp: bool, target: str = "numpy") -> str:
        from .backends.emit import block_of, dict_of, tuple_of

        self._second_order_check()
        mdoc = f"Generated by matdiff: {name}(...) for  {self.text}\n\nImports only {_LIBRARY[target]}."
        wrt = self.wrt
        if hvp:
            vn = self.hvp_variables
            hv = self.hvps
            doc = "\n    ".join([f"Hessian-vector product of  {self.text}", "",
                                 f"{self._code_shapes()}; directions "
                                 + ", ".join(f"{vn[a]} shaped like {a}" for a in wrt)]
                                + [f"H[{', '.join(vn.values())}]_{b} = {hv[b]}" for b in wrt])
            # the directions are parameters named as the docstring and the CLI's help say
            extra = [(py_name(vn[a]), py_name(vn[a]), self._shapes[a]) for a in wrt]
            outputs = [(b, hv[b], "value") for b in wrt]
            result = None if len(wrt) == 1 else dict_of((b, i) for i, b in enumerate(wrt))
            out_for = [(i, None if len(wrt) == 1 else b) for i, b in enumerate(wrt)]
            return generate(outputs, self._input_list(), name, doc, size_hints=hints,
                            module_doc=mdoc, extra_params=extra, result=result, target=target,
                            out_for=out_for, out_what="result")
        H = self.hessians
        grads = self.gradients
        lines = [f"Value, gradient and Hessian of  {self.text}", "", self._code_shapes()]
        lines += [f"Gradient by {a}: {grads[a]}" for a in wrt]
        if len(wrt) == 1:
            lines.append(f"Hessian on vec({wrt[0]}): {H[(wrt[0], wrt[0])]}")
        else:
            lines.append("Hessian on [" + "; ".join(f"vec({a})" for a in wrt) + "], by blocks:")
            lines += [f"  d vec(df/d{a}) / d vec({b}) = {H[(a, b)]}" for a in wrt for b in wrt]
        outputs = [("value", self.expr, "value")] + [(a, grads[a], "value") for a in wrt]
        blocks = [(a, b) for a in wrt for b in wrt]
        outputs += [(f"H_{a}_{b}", H[(a, b)], "matrix") for a, b in blocks]
        result = None
        if len(wrt) > 1:
            k = len(wrt)
            # the dense Hessian on the stacked [vec(X1); vec(X2); ...] from its blocks
            result = tuple_of(0, dict_of((a, i + 1) for i, a in enumerate(wrt)),
                              block_of([[1 + k + i * k + j for j in range(k)] for i in range(k)]))
        return generate(outputs, self._input_list(), name, "\n    ".join(lines), size_hints=hints,
                        module_doc=mdoc, result=result, target=target)

    def check(self, sizes: Mapping | None = None, directions: int = 5, seed: int | None = 0,
              claim=None, steps: bool = False, hessian: bool = False, exact: bool = False):
        """Check the derivative against finite differences at random inputs.

        ``exact``: also prove it (and the claims) with SymPy at small concrete sizes (every
        size 2, then 3; ``sizes`` to choose): ``result.exact`` (:mod:`matdiff.check.exact`).

        ``claim``: hand-derived derivatives to check as well (text, a list of texts, or
        ``{name: text}``): a gradient, Jacobian, differential ``dF = ...``, or with
        ``hessian=True`` a Hessian or Hessian-vector product (see :func:`matdiff.check.check`).
        ``hessian``: also check matdiff's Hessian-vector product.
        Returns a :class:`~matdiff.check.CheckResult` (``ok``, ``verdict``, ``errors``,
        ``max_error``, ``table``; ``str()`` is a readable report).

        >>> derive("tr(X*A*X)", wrt="X").check(claim="2*A'*X'").claim_ok
        False
        """
        from .check.checker import check

        res = check(self, sizes=sizes, directions=directions, seed=seed, claim=claim, steps=steps,
                    hessian=hessian)
        if exact:
            from .check.exact import exact_check

            res.exact = exact_check(self, sizes=dict(sizes) if sizes else None, claim=claim, hessian=hessian)
        return res

    def _docstring(self) -> str:
        what = "gradient" if self._gradients is not None else "Jacobian (vec(dF) = J vec(dX))"
        lines = [f"Value and {what} of  {self.text}", "", self._code_shapes()]
        for n, g in (self._gradients or {}).items():
            lines.append(f"Gradient by {n}: {g}")
        if self._gradients is None:
            for n, J in self.jacobians.items():
                lines.append(f"Jacobian by {n}: {J}")
        return "\n    ".join(lines)

    def to_numpy(self, jvp: bool = False, vjp: bool = False, hessian: bool = False, hvp: bool = False):
        """A compiled NumPy function ``f(**inputs) -> (value, gradient)``.

        Inputs are passed by variable name (or positionally in the order of
        :attr:`variables`); vectors are 1-D arrays, scalars floats. With several ``wrt``
        variables the gradient is a dict by name. For a non-scalar expression the second
        item is the Jacobian, a 2-D array (``vec(dF) = J vec(dX)``, column-major vec).

        ``jvp=True``: ``f(dX=..., **inputs) -> (value, dF)``, the differential in the
        direction dX (one keyword ``d<name>`` per ``wrt`` variable, all required).
        ``vjp=True``: ``f(C, **inputs) -> (value, G)``, the adjoint map: ``G`` (shaped like
        X; a dict for several variables) with ``<C, dF> = <G, dX>``. Neither builds J.
        ``hessian=True``: ``f(**inputs) -> (value, grad, H)``, H the dense Hessian on
        column-major vec(X) (a float for a scalar X).
        ``hvp=True``: ``f(V=..., **inputs) -> H[V]`` (X's shape), never forming H.

        The gradient, ``vjp=True`` and ``hvp=True`` functions also take ``out=``: a float64
        array of the result's shape (a dict ``{name: array}`` for some of several ``wrt``
        variables) that the result is written into and returned in place of a new array,
        as a loop that reuses its buffer wants; it must share no memory with an input. A
        variable named ``out`` keeps its name: the array is then ``out_=``.
        """
        return self._compiled("numpy", jvp, vjp, hessian, hvp)

    def to_jax(self, jvp: bool = False, vjp: bool = False, hessian: bool = False, hvp: bool = False):
        """As :meth:`to_numpy`, a JAX function: jit-compatible (``jax.jit(d.to_jax())``),
        scalars as 0-d arrays, inputs converted to JAX's default float type. Needs jax."""
        return self._compiled("jax", jvp, vjp, hessian, hvp)

    def to_torch(self, jvp: bool = False, vjp: bool = False, hessian: bool = False, hvp: bool = False):
        """As :meth:`to_numpy`, a PyTorch function of CPU or CUDA tensors (also under
        ``torch.compile``), scalars as 0-d tensors; inputs that are not floating tensors
        become float64 tensors. Needs torch."""
        return self._compiled("torch", jvp, vjp, hessian, hvp)

    def _compiled(self, target, jvp, vjp, hessian, hvp):
        _check_installed(target)
        if sum(map(bool, (jvp, vjp, hessian, hvp))) > 1:
            raise DerivationError("ask for one of jvp=True, vjp=True, hessian=True, hvp=True")
        if hessian or hvp:
            fname = "_matdiff_h"
            src = self.numpy_source(fname, hessian=hessian, hvp=hvp, target=target)
            fn = compile_source(src, fname)
            if hessian:
                return _bind_names(fn, self.variables, src)
            order, vn = list(self.variables), self.hvp_variables

            out = self._out_keyword(target, [py_name(vn[a]) for a in self.wrt], hvp=True)

            def call(*args, **kwargs):
                dirs = []
                for a in self.wrt:
                    if vn[a] not in kwargs:
                        raise TypeError(f"missing the direction {vn[a]}=... (shaped like {a})")
                    dirs.append(kwargs.pop(vn[a]))
                buffer = kwargs.pop(out) if out is not None and out in kwargs else None
                values = _collect(order, args, kwargs)
                return fn(*[values[n] for n in order], *dirs, **({out: buffer} if out else {}))

            call.source = src
            call.directions = dict(vn)
            if len(self.wrt) == 1:
                call.direction = vn[self.wrt[0]]
            return call
        if jvp:
            return self._jvp_numpy(target)
        if vjp:
            return self._vjp_numpy(target)
        fname = "_matdiff_f"
        src = self.numpy_source(fname, target=target)
        fn = compile_source(src, fname)
        return _bind_names(fn, self.variables, src, out=self._out_keyword(target))

    def _out_keyword(self, target, extra=(), hvp=False, vjp=False):
        """The keyword of a compiled function's out= array (None: it has none): the gradient
        function's, or with ``hvp``/``vjp`` that function's (``extra``: its further
        parameters' Python names, which the keyword must not take)."""
        from .backends.emit import out_param, printer_for, py_names
        from .core.shapes import is_scalar_shape

        if not printer_for(target).in_place:
            return None
        if not (hvp or vjp) and self._gradients is None:
            return None
        if all(is_scalar_shape(self._shapes[n]) for n in self.wrt):
            return None
        return out_param(set(py_names(self.variables).values()) | set(extra))

    def _jvp_numpy(self, target: str = "numpy"):
        """``(dX=..., **inputs) -> (value, dF)``: dF from the differential (never J)."""
        tangents = {n: "d" + n for n in self.wrt}
        clash = [t for t in tangents.values() if t in self._shapes]
        if clash:
            raise DerivationError(f"jvp: the tangent name {clash[0]!r} is also a variable of the expression")
        extra = [(f"tangent d{n}", "_d_" + py_name(n), self._shapes[n]) for n in self.wrt]
        outputs = [("value", self.expr, "value"), ("dF", self.differential, "value")]
        fname = "_matdiff_jvp"
        src = generate(outputs, self._input_list(), fname, f"Value and differential of  {self.text}",
                       extra_params=extra, target=target)
        fn = compile_source(src, fname)
        order = list(self.variables)

        def call(*args, **kwargs):
            dirs = []
            for n in self.wrt:
                t = kwargs.pop(tangents[n], None)
                if t is None:
                    raise TypeError(f"missing tangent {tangents[n]!r} (the direction for {n})")
                dirs.append(t)
            values = _collect(order, args, kwargs)
            return fn(*[values[n] for n in order], *dirs)

        call.source = src
        call.tangents = dict(tangents)
        call.__doc__ = fn.__doc__
        return call

    def _vjp_numpy(self, target: str = "numpy"):
        """``(C, **inputs) -> (value, G)``: the transpose pass applied to C (never J)."""
        cname = "cotangent C"
        C = E.var(cname, self.expr.shape)
        adj, _ = transpose_linear(self.differential, self.wrt, cotangent=C)
        outs = []
        for n in self.wrt:
            g = adj[n]
            g = E.zero(self._shapes[n]) if g is None else simplify(g)
            if n in self.symmetric:
                g = sym(g)
            outs.append((n, g, "value"))
        fname = "_matdiff_vjp"
        extra = [(cname, "_cot", self.expr.shape)]
        result = None if len(self.wrt) == 1 else _dict_result(self.wrt)
        out_for = [(i + 1, None if len(self.wrt) == 1 else n) for i, n in enumerate(self.wrt)]
        src = generate([("value", self.expr, "value")] + outs, self._input_list(), fname,
                       f"Value and vector-Jacobian product of  {self.text}", extra_params=extra,
                       result=result, target=target, out_for=out_for, out_what="result")
        fn = compile_source(src, fname)
        order = list(self.variables)
        out = self._out_keyword(target, ["_cot"], vjp=True)

        def call(C, *args, **kwargs):
            buffer = kwargs.pop(out) if out is not None and out in kwargs else None
            values = _collect(order, args, kwargs)
            return fn(*[values[n] for n in order], C, **({out: buffer} if out else {}))

        call.source = src
        call.__doc__ = fn.__doc__
        return call

    def value_numpy(self):
        """A compiled NumPy function of the inputs returning the value only."""
        src = generate([("value", self.expr, "value")], self._input_list(), "_matdiff_v", "value")
        return _bind_names(compile_source(src, "_matdiff_v"), self.variables, src)


_LIBRARY = {"numpy": "NumPy", "jax": "JAX", "torch": "PyTorch"}


def _check_target(target) -> None:
    if target not in _LIBRARY:
        raise DerivationError(f"unknown target {target!r}{suggest(str(target), _LIBRARY)}: "
                              f"use one of {', '.join(_LIBRARY)}")


def _check_installed(target) -> None:
    """A compiled function needs its library: a clear error, not an ImportError from inside
    the generated module."""
    import importlib.util

    module = {"jax": "jax", "torch": "torch"}.get(target)
    try:
        found = module is None or importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or stubbed-out installation
        found = False
    if not found:
        raise DerivationError(f"to_{target}() needs {module}, which is not installed: "
                              f"pip install 'matdiff[backends]' (or {module}); "
                              f"d.source({target!r}) gives the code without it")


def _dict_result(names):
    """The result spec of a generated function with one result per variable: (value, {name: ...})."""
    from .backends.emit import dict_of, tuple_of

    return tuple_of(0, dict_of((n, i + 1) for i, n in enumerate(names)))


def _collect(order, args, kwargs) -> dict:
    """Inputs by position and by user name -> {name: value}, with clear errors."""
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
    return values


def _check_hints(hints, shapes) -> dict:
    """Validate ``{dimension name: size}`` hints against the dimensions in use."""
    if not hints:
        return {}
    from .core.shapes import dim_leaves

    known = {str(n) for s in shapes.values() for d in s for n in dim_leaves(d)}
    out = {}
    for k, v in dict(hints).items():
        if str(k) not in known:
            raise DerivationError(f"hint for {k!r}: no dimension of that name{suggest(str(k), known)}"
                                  f" (dimensions: {', '.join(sorted(known)) or 'none'})")
        try:
            v = int(v)
        except (TypeError, ValueError):
            raise DerivationError(f"hint {k}={v!r}: the size must be a positive integer") from None
        if v < 1:
            raise DerivationError(f"hint {k}={v}: the size must be a positive integer")
        out[str(k)] = v
    return out


def _bind_names(fn, names, source, out=None):
    """Accept inputs by their user names (which may be Python keywords) or by position;
    ``out``: the keyword of the function's out= array, passed through (None: none)."""
    order = list(names)

    def call(*args, **kwargs):
        if out is not None and out in kwargs:
            buffer = kwargs.pop(out)
            values = _collect(order, args, kwargs)
            return fn(*[values[n] for n in order], **{out: buffer})
        values = _collect(order, args, kwargs)
        return fn(*[values[n] for n in order])

    call.source = source
    call.__doc__ = fn.__doc__
    return call


def _names(value, what: str) -> list:
    """A name or an iterable of names (``"Sigma"`` is one name, not five letters)."""
    if isinstance(value, str):
        return [value]
    if value is None:
        if what == "wrt":
            raise DerivationError(f"nothing to differentiate by: give {option('wrt', 'X')}")
        return []
    try:
        out = list(value)
    except TypeError:
        out = [value]
    bad = [v for v in out if not isinstance(v, str)]
    if bad:
        raise DerivationError(f"{what} takes variable names (a string or a list of strings), "
                              f"got {bad[0]!r}")
    return out


@api_boundary
def derive(expr: str, wrt: str | Sequence[str], shapes: Mapping | None = None,
           symmetric: Iterable[str] = ()) -> Derivation:
    """Differentiate a matrix expression.

    >>> d = derive("x'*A*x", wrt="x", shapes={"x": "n", "A": "n,n"})
    >>> str(d.gradient)
    "(A + A')*x"

    ``expr`` may also be a SymPy matrix expression (its ``MatrixSymbol`` shapes become declared
    shapes, :func:`matdiff.from_sympy`); ``wrt`` may then be ``MatrixSymbol``s or ``Symbol``s.
    """
    if not isinstance(expr, str) and type(expr).__module__.startswith("sympy"):
        from .interop.sympy import sympy_to_text

        expr, declared = sympy_to_text(expr)
        declared.update(shapes or {})
        shapes = declared
        wrt = [getattr(w, "name", w) for w in ([wrt] if not isinstance(wrt, (list, tuple)) else wrt)]
    return Derivation(expr, wrt, shapes, symmetric)
