"""Emission: naming shared nodes, and assembling a generated module for one back-end.

:func:`generate` lowers the outputs once (:mod:`.lower`), then the chosen back-end's
printer (:mod:`.numpy`, :mod:`.jax`, :mod:`.torch`) spells each lowered node. The emitter
counts uses in the lowered DAG, binds every node used more than once (or too long to read
inline) to a name ``_tK`` and inlines the rest, with minimal parentheses. The printer also
owns the boundary: converting and checking inputs, and packaging outputs (a *result spec*,
see :func:`generate`).

Conventions inside generated code: vectors are column arrays ``(n, 1)`` (converted from
and to 1-D at the boundary). Generated names start with an underscore, which no user name
can; user names that are Python keywords or builtins get a trailing underscore (never
colliding with another user name), and a module alias (``np``, ``jnp``, ``torch``) gets a
leading underscore when a user name or the function is called like it. No user text
reaches the generated source except names (identifiers) and sizes (integers).
"""

from __future__ import annotations

import builtins
import importlib
import keyword
import re
import sys
import types
from abc import ABC, abstractmethod

from ..core import expr as E
from ..core.errors import DerivationError
from ..core.shapes import Dim, Plus, dim_add, dim_leaves, dim_parts, make_dim, shape_to_dims, sym
from ..ops.base import Unsupported
from ..ops.elementwise import ELEMENTWISE
from .lower import P_ATOM, Lowerer, dims_expr

_RESERVED = set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins))

TARGETS = ("numpy", "jax", "torch")

_MODULES = 0  # generated PyTorch modules registered in sys.modules (for torch.compile)


def py_name(name: str, taken=()) -> str:
    """A Python identifier for a user name: keywords and builtins get trailing '_'s,
    never colliding with a name in ``taken``."""
    if name not in _RESERVED:
        return name
    out = name + "_"
    while out in _RESERVED or out in taken:
        out += "_"
    return out


def py_names(names) -> dict:
    """``{user name: Python identifier}`` for the parameters of a generated function."""
    names = list(names)
    out: dict = {}
    for name in names:
        out[name] = py_name(name, set(names) | set(out.values()))
    return out


def out_param(taken) -> str:
    """The name of a generated function's ``out=`` parameter (the caller's array for the
    gradient): ``out``, with trailing '_'s where a parameter already has that name."""
    name = "out"
    while name in taken or name in _RESERVED:
        name += "_"
    return name


def printer_for(target: str):
    """The printer of a back-end (``numpy``, ``jax`` or ``torch``): imports neither jax nor torch."""
    if target not in TARGETS:
        raise DerivationError(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")
    return importlib.import_module(f".{target}", __package__).PRINTER


# ---------------------------------------------------------------------------- printers


# Spellings of the lowered operations shared by the array modules (NumPy's, and the default
# of every back-end: a printer lists only where its library differs). Text templates use
# {0}, {1}... (arguments' code), {a0}, {a1}... (attributes), {args} and {xp} (the array module).
ARRAY_TEMPLATES = {
    "name": "{a0}", "num": "{a0}", "int": "{a0}",
    "f64": "{xp}.float64({0})",
    "eye": "{xp}.eye({a0})",
    "ones": "{xp}.ones(({a0}, {a1}))",
    "zeros": "{xp}.zeros(({a0}, {a1}))",
    "full": "{xp}.full(({a0}, {a1}), {0})",
    "commutation": "_commutation({a0}, {a1})",
    "T": "{0}.T",
    "add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "div": "{0} / {1}",
    "matmul": "{0} @ {1}", "pow": "{0} ** {1}", "neg": "-{0}",
    "outer": "{0} * {1}",  # a column (m, 1) times a row (1, n), broadcast
    "det": "{xp}.linalg.det({0})",
    "inv": "{xp}.linalg.inv({0})",
    "slogdet": "{xp}.linalg.slogdet({0})",
    "matrix_power": "{xp}.linalg.matrix_power({0}, {a0})",
    "solve": "{xp}.linalg.solve({0}, {1})",
    "cholesky": "{xp}.linalg.cholesky({0})",
    "chol_logdet": "_chol_logdet({0})",
    "cho_solve": "_cho_solve({0}, {1})",
    "cho_inv": "_cho_inv({0})",
    "symfun": '_symfun("{a0}", {0}, {1})',
    "index": "{0}[{a0}]",
    "softplus": "{xp}.logaddexp({0}, 0.0)",
    "max_shift": "_max_shift({args})",
    "row_max_shift": "_row_max_shift({0})",
    "sum": "{xp}.sum({0})",
    "sum_axis": "{xp}.sum({0}, axis={a0}, keepdims=True)",
    "vdot": "{xp}.vdot({0}, {1})",
    "norm": "{xp}.linalg.norm({0})",
    "trace": "{xp}.trace({0})",
    "diagflat": "{xp}.diagflat({0})",
    "diag": "{xp}.diag({0})",
    "col": "{0}[:, None]",
    "einsum_col": '{xp}.einsum("{a0}", {0}, {1})[:, None]',
    "vec": '{0}.reshape(-1, 1, order="F")',
    "unvec": '{0}.reshape({a0}, {a1}, order="F")',
    "kron": "{xp}.kron({0}, {1})",
    "kronadj1": "_kronadj1({0}, {1})",
    "kronadj2": "_kronadj2({0}, {1})",
    "kron_matmul": "_kron_matmul({0}, {1}, {2})",
    "commute_rows": "_commute_rows({a0}, {a1}, {0})",
    "list": "[{args}]",
    "multi_dot": "{xp}.linalg.multi_dot({0})",
    "block": "_block({a0}, {args})",
}


def _atomic(template: str) -> bool:
    """The template is one operand (a call, an attribute, an index): nothing at the top level
    of its parentheses but names, dots and {placeholders}, so no operator binds into it."""
    depth = 0
    for ch in template:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and not (ch.isalnum() or ch in "_.{}"):
            return False
    return True


class Printer(ABC):
    """A back-end: spellings of the lowered operations plus boundary code and capabilities.

    ``templates``: ``{op: text or callable}``; text is formatted with the argument code
    ``{0}``, ``{1}``..., the attributes ``{a0}``, ``{a1}``..., ``{args}`` (all arguments,
    comma-separated) and the module aliases (``{xp}`` the array module); a callable gets
    ``(printer, parts, raw, attrs)`` with ``raw`` the ``(code, precedence)`` of each
    argument. A name called as ``_name(`` is a helper from ``helpers`` (its source, using the
    default aliases), emitted once in the module when used.

    Capabilities: ``in_place`` (``out=`` and augmented assignment on a fresh product are
    allowed), ``jit_safe`` (no ``float()``/``.item()``/Python branching on values inside the
    generated function).
    """

    target = ""
    aliases: dict = {}  # default alias -> the module it names
    xp = ""  # the default alias of the array module
    in_place = False
    jit_safe = True
    # how an output that is an input (or a view of one: A', x as a column) is copied, so
    # that the caller's arrays are never returned to be changed in place ("": immutable)
    copy_suffix = ""
    templates: dict = {}
    helpers: dict = {}

    def __init__(self, taken):
        self.alias = {}
        for a in self.aliases:
            name = a
            while name in taken:
                name = "_" + name
            self.alias[a] = name
        self.used_helpers: set = set()

    # ------------------------------------------------------------ spelling
    def sub_aliases(self, text: str) -> str:
        """Package text written with the default aliases, spelled with the chosen ones."""
        if all(a == b for a, b in self.alias.items()):
            return text
        pat = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, self.alias)) + r")\.")
        return pat.sub(lambda m: self.alias[m.group(1)] + ".", text)

    def fmt(self, template: str, parts, attrs) -> str:
        kw = {f"a{i}": a for i, a in enumerate(attrs)}
        kw["args"] = ", ".join(parts)
        kw["xp"] = self.alias[self.xp]
        for h in re.findall(r"(?<![\w.])(_[a-z][a-z0-9_]*)\(", template):
            if h not in self.helpers:
                raise DerivationError(f"internal: the {self.target} back-end has no helper {h} "
                                      f"(used by the template {template!r})")
            self.used_helpers.add(h)
        # aliases in the package's template, never in the (user-named) arguments
        return self.sub_aliases(template).format(*parts, **kw)

    def code(self, n, parts, raw, text=None) -> str:
        """Source of node ``n`` from its arguments' code (``parts``, parenthesized as the
        lowering asked; ``raw``: ``(code, precedence)``; ``text``: {node: (code, precedence)}
        of every node emitted so far)."""
        if n.op == "fn":
            return self.elementwise(n.attrs[0], raw[0])
        if n.op == "op_call":
            return self.op_call(n.attrs[0], raw)
        t = self.templates.get(n.op)
        if t is None:
            raise AssertionError(f"internal: the {self.target} printer has no spelling of {n.op}")
        if callable(t):
            return t(self, parts, raw, n.attrs) if n.op != "matmul" else t(self, parts, raw, n, text)
        return self.fmt(t, parts, n.attrs)

    def elementwise(self, name: str, arg) -> str:
        """``ELEMENTWISE[name].lower[target]`` applied to the argument."""
        d = ELEMENTWISE.get(name)
        return self.declared_call(name, None if d is None else d.lower, [arg])

    def op_call(self, op: str, raw) -> str:
        """An op lowered by its declaration's template (``OPS[op].lower[target]``)."""
        from ..ops.registry import OPS

        return self.declared_call(op, OPS[op].lower, raw)

    def declared_call(self, name: str, lowering, raw) -> str:
        """A declared template (``{0}``, ``{1}``... the arguments) for this back-end; an
        argument is parenthesized unless the template only passes it to a call."""
        t = None if lowering is None else lowering.get(self.target)
        if t is None or isinstance(t, Unsupported):
            why = f" ({t.reason})" if isinstance(t, Unsupported) and t.reason else ""
            raise DerivationError(f"{name} has no {self.target} lowering{why}")
        parts = []
        for i, (code, prec) in enumerate(raw):
            slot = re.escape("{" + str(i) + "}")
            if prec < P_ATOM and re.search(rf"(?<!\()(?<!, ){slot}|{slot}(?![),])", t):
                code = f"({code})"
            parts.append(code)
        code = self.fmt(t, parts, ())
        return code if _atomic(t) else f"({code})"  # the result is used as an operand

    @staticmethod
    def atom(raw) -> str:
        code, prec = raw
        return code if prec >= P_ATOM else f"({code})"

    # ------------------------------------------------------------ module and boundary
    def import_lines(self, text: str) -> list:
        """Imports of the array module and of the other aliases ``text`` uses."""
        out = []
        for a, module in self.aliases.items():
            name = self.alias[a]
            if a == self.xp or re.search(rf"(?<![\w.]){re.escape(name)}\.", text):
                out.append(f"import {module}" if name == module else f"import {module} as {name}")
        return out

    def helper_sources(self) -> list:
        return [self.sub_aliases(self.helpers[h]) for h in sorted(self.used_helpers)]

    input_note = ""  # the docstring's sentence on how inputs are converted (dtype, complex)

    @abstractmethod
    def convert(self, name: str, p: str) -> list:
        """Lines converting parameter ``p`` (the user's ``name``) to an array of this back-end;
        complex input is a TypeError."""

    @abstractmethod
    def scalar_lines(self, name: str, p: str) -> list:
        """Lines checking that ``p`` holds one number and making it a scalar."""

    def prologue(self, first: str, body: str) -> list:
        """Lines after the input checks (``first``: an array parameter; ``body``: the code)."""
        return []

    @abstractmethod
    def scalar_out(self, code: str, prec: int, literal: bool, node) -> str:
        """A scalar output (``literal``: a float literal tagged scalar; ``node``: its LNode)."""

    def vector_out(self, code: str, prec: int) -> str:
        return f"{code}.ravel()" if prec == P_ATOM else f"({code}).ravel()"

    def block(self, rows, scalar) -> str:
        """The dense matrix from blocks (``rows``: lists of code; ``scalar``: same shape, True
        where the block is a scalar)."""
        body = ", ".join("[" + ", ".join(r) + "]" for r in rows)
        return f"{self.alias[self.xp]}.block([{body}])"

    def in_place_update(self, n, name, other, i) -> str | None:
        """``name <op>= other`` for an add/sub node whose operand i is the fresh product bound
        to ``name`` (None: not supported by this back-end)."""
        return None


# ---------------------------------------------------------------------------- emission


# the longest expression a line of generated code holds (``    _t12 = `` before it): with the
# input checks, every line fits ruff's (and black's) default 88 columns, so ``ruff format``
# leaves generated modules as they are
CODE_LIMIT = 72
LINE_LIMIT = 88


class Emitter:
    """Names shared or long nodes and spells the rest inline, through a printer."""

    def __init__(self, roots, printer: Printer, names: dict | None = None):
        self.printer = printer
        self.names = dict(names or {})  # node -> the user's name for it (bound where computed)
        self.uses: dict = {}
        order = E.postorder(roots)
        for n in order:
            for a in n.args:
                self.uses[a] = self.uses.get(a, 0) + 1
        for r in roots:
            self.uses[r] = self.uses.get(r, 0) + 1
        self.order = order
        self.text: dict = {}
        self.lines: list = []
        self.counter = 0
        # roots written into the caller's array (out=) where given: kept inline when long, so
        # that only the branch that has no such array builds them (see into())
        self.inline_roots: set = set()

    def _code(self, n) -> str:
        parts = []
        raw = [self.text[a] for a in n.args]
        for (s, p), m in zip(raw, n.argmin):
            parts.append(s if p >= m else f"({s})")
        return self.printer.code(n, parts, raw, self.text)

    def _bind(self, n, code) -> None:
        self.counter += 1
        name = f"_t{self.counter}"
        self.lines += self._in_place(n, name) or [f"{name} = {code}"]
        self.text[n] = (name, P_ATOM)

    def _shorten(self, n, code) -> str:
        """``n``'s code within :data:`CODE_LIMIT` characters where that can be had: its longest
        inline arguments are bound to temporaries first (so no line of the module needs
        wrapping: generated modules are ``ruff format``-clean)."""
        while len(code) > CODE_LIMIT:
            inline = [a for a in dict.fromkeys(n.args) if not self.text[a][0].isidentifier()
                      and len(self.text[a][0]) > 8]
            if not inline:
                break
            longest = max(inline, key=lambda a: len(self.text[a][0]))
            self._bind(longest, self.text[longest][0])
            code = self._code(n)
        return code

    def emit(self):
        for n in self.order:
            code = self._shorten(n, self._code(n))
            if n in self.names and n.args:
                self.lines.append(f"{self.names[n]} = {code}")
                self.text[n] = (self.names[n], P_ATOM)
            elif not n.cheap and n.args and (self.uses.get(n, 0) > 1
                                             or (len(code) > CODE_LIMIT and n not in self.inline_roots)):
                self._bind(n, code)
            else:
                self.text[n] = (code, n.prec)

    def _in_place(self, n, name):
        """``A - B @ C`` as ``t = B @ C`` then an in-place update of t: the fresh product
        takes the result, saving an allocation and a pass over memory (lines, or None)."""
        if not self.printer.in_place or n.op not in ("sub", "add"):
            return None
        for i, a in enumerate(n.args):
            if a.tag == "mm" and self.uses.get(a, 0) == 1 and self.text[a][1] != P_ATOM:
                other = self.text[n.args[1 - i]][0]
                upd = self.printer.in_place_update(n, name, other, i)
                if upd is None:
                    return None
                return [f"{name} = {self.text[a][0]}", upd]
        return None

    def final(self, n) -> str:
        return self.text[n][0]

    def into(self, n, dest: str) -> list:
        """Lines that compute node ``n`` into the existing array ``dest`` (the code of a
        writable view of n's shape, the caller's out= array): a product, an outer product,
        an elementwise operation or a negation writes there itself (out=), a scalar multiple
        of a product scales it there, a transpose writes into ``dest.T``; anything else, and
        a node computed already (a name), is copied in. Every value is the one ``n``'s own
        code computes, bit for bit: the same operations on the same operands."""
        xp = self.printer.alias[self.printer.xp]
        code = self.text[n][0]
        if not n.args or code.isidentifier():
            return [f"{xp}.copyto({dest}, {code})"]
        op = n.op
        a = [self.text[x][0] for x in n.args]  # call arguments: no parentheses needed

        def fresh(x):  # a product not computed yet: it can be written into dest
            return x.op in ("matmul", "outer") and not self.text[x][0].isidentifier()

        def scalar(x):
            return x.tag in ("scalar", "npscalar")

        if op == "matmul":
            return [f"{xp}.matmul({a[0]}, {a[1]}, out={dest})"]
        if op == "outer" and "_outer" in self.printer.helpers:
            self.printer.used_helpers.add("_outer")
            return [f"_outer({a[0]}, {a[1]}, {dest})"]
        if op == "T":
            return self.into(n.args[0], f"{dest}.T")
        if op == "neg":
            if fresh(n.args[0]):
                return self.into(n.args[0], dest) + [f"{xp}.negative({dest}, out={dest})"]
            return [f"{xp}.negative({a[0]}, out={dest})"]
        ufunc = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "divide"}.get(op)
        if ufunc is not None and len(a) == 2:
            x, y = n.args
            if op == "mul" and scalar(x) and fresh(y):
                return self.into(y, dest) + [f"{xp}.multiply({a[0]}, {dest}, out={dest})"]
            if op in ("mul", "div") and scalar(y) and fresh(x):
                return self.into(x, dest) + [f"{xp}.{ufunc}({dest}, {a[1]}, out={dest})"]
            return [f"{xp}.{ufunc}({a[0]}, {a[1]}, out={dest})"]
        return [f"{xp}.copyto({dest}, {code})"]


# ---------------------------------------------------------------------------- inputs


def _input_lines(name, pyname, shape, printer: Printer, dims):
    """Convert one input and check its shape; binds the symbolic sizes it shows first."""
    ud = shape_to_dims(shape)
    lines = printer.convert(name, pyname)
    if not ud:
        return lines + printer.scalar_lines(name, pyname)
    if len(ud) == 1:
        lines += [f"if {pyname}.ndim == 2 and {pyname}.shape[1] == 1:",
                  f"    {pyname} = {pyname}[:, 0]"]
    # bind simple symbolic sizes on first sight
    bind = []
    for axis, d in enumerate(ud):
        c, names = dim_parts(d)
        if isinstance(d, Dim) and c == 1 and len(names) == 1 and isinstance(names[0], str) \
                and names[0] not in dims:
            dims[names[0]] = "_" + names[0]
            bind.append(f"_{names[0]} = {pyname}.shape[{axis}]")
    # sizes that are products with one unknown factor, or sums with one unknown term: solve
    for axis, d in enumerate(ud):
        c, names = dim_parts(d)
        unknown = [x for x in dim_leaves(d) if x not in dims]
        if len(unknown) != 1:
            continue
        x = unknown[0]
        if x in names:
            known = dims_expr(_dim_without(d, x), dims)
            bind.append(f"_{x} = {pyname}.shape[{axis}] // ({known})")
        else:
            terms = _sum_terms(d)
            if terms is None or sym(x) not in terms:
                continue
            rest = [t for t in terms if t != sym(x)]
            bind.append(f"_{x} = {pyname}.shape[{axis}] - ({dims_expr(dim_add(*rest), dims)})")
        dims[x] = "_" + x
    expected = tuple(dims_expr(d, dims) if all(x in dims for x in dim_leaves(d)) else None for d in ud)
    label = "(" + ", ".join(str(d) for d in ud) + ("," if len(ud) == 1 else "") + ")"
    what = "a vector (1-D array)" if len(ud) == 1 else "a matrix (2-D array)"
    lines += [f"if {pyname}.ndim != {len(ud)}:",
              (f"    raise ValueError(f\"{name}: expected {what} of shape {label}, got shape "
               f"{{{pyname}.shape}}\")")]
    lines += bind
    if all(x is not None for x in expected):
        tup = "(" + ", ".join(expected) + ("," if len(expected) == 1 else "") + ")"
        if any(not (isinstance(d, Dim) and dim_parts(d)[0] == 1 and len(dim_parts(d)[1]) == 1
                    and f"_{dim_parts(d)[1][0]} = {pyname}.shape[{ax}]" in bind)
               for ax, d in enumerate(ud)):
            vals = ", ".join("{" + x + "}" for x in expected)
            lines += [f"if {pyname}.shape != {tup}:",
                      (f"    raise ValueError(f\"{name}: expected shape {label} = ({vals}"
                       f"{',' if len(ud) == 1 else ''}), got {{{pyname}.shape}}\")")]
    if len(ud) == 1:
        lines.append(f"{pyname} = {pyname}.reshape(-1, 1)")
    return lines


def _sum_terms(d):
    """The terms of a sum of sizes ``d`` (None if ``d`` is not a plain sum)."""
    c, names = dim_parts(d)
    if c == 1 and len(names) == 1 and isinstance(names[0], Plus):
        return list(names[0].terms)
    return None


def _dim_without(d, name):
    c, names = dim_parts(d)
    rest = list(names)
    rest.remove(name)
    return make_dim(c, rest)


# ---------------------------------------------------------------------------- results


def tuple_of(*items):
    """Result spec: a tuple (at the top: ``return a, b``)."""
    return ("tuple", list(items))


def dict_of(pairs):
    """Result spec: a dict ``{name: item}`` (names are user names, printed with repr)."""
    return ("dict", [(str(k), v) for k, v in pairs])


def block_of(rows):
    """Result spec: the dense matrix assembled from blocks (rows of output indexes)."""
    return ("block", [list(r) for r in rows])


def _quoted(text: str) -> str:
    """A string literal in double quotes, as ruff format writes it."""
    r = repr(text)
    if r.startswith("'") and '"' not in text:
        r = '"' + r[1:-1].replace("\\'", "'") + '"'
    return r


def wrap_call_line(line: str) -> list:
    """A line longer than :data:`LINE_LIMIT` that is one call, ``raise ValueError(f"...")``
    or ``_t3 = np.linalg.multi_dot([...])``, as ruff format writes it: the arguments on a line
    of their own, indented once more (where they fit there; other lines are left as they are)."""
    m = re.match(r"^(\s*)(raise [\w.]+|[\w.]+ = [\w.]+)\((.*)\)$", line)
    if len(line) <= LINE_LIMIT or m is None:
        return [line]
    indent, head, inner = m.groups()
    depth = 0
    for ch in inner:  # the call's own parentheses must be the outer ones
        depth += (ch in "([{") - (ch in ")]}")
        if depth < 0:
            return [line]
    if len(indent) + 4 + len(inner) > LINE_LIMIT and not head.startswith("raise"):
        return [line]  # (one string argument is wrapped even where it stays too long)
    return [f"{indent}{head}(", f"{indent}    {inner}", f"{indent})"]


def _view_of_input(n) -> bool:
    """The lowered node is an input, or a view of one (its transpose, its column, its vec)."""
    while n.op in ("T", "col", "vec", "unvec"):
        n = n.args[0]
    return n.op == "name"


def _call_lines(head: str, args: list, items: list) -> list:
    """``head(*args, (items...))`` as lines (of the function body, indented 4 more when
    written) the way ruff format writes it: on one line where it fits, else the arguments on
    a line of their own, else one argument a line (the tuple of ``items`` too, if long)."""
    tup = "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    one = f"{head}({', '.join(args + [tup])})"
    if 4 + len(one) <= LINE_LIMIT:
        return [one]
    if 8 + len(", ".join(args + [tup])) <= LINE_LIMIT:
        return [f"{head}(", f"    {', '.join(args + [tup])}", ")"]
    lines = [f"{head}("] + [f"    {a}," for a in args]
    if 8 + len(tup) + 1 <= LINE_LIMIT:
        lines.append(f"    {tup},")
    else:
        lines += ["    ("] + [f"        {x}," for x in items] + ["    ),"]
    return lines + [")"]


def _pack(spec, results, scalar, printer: Printer, top=False, bind=None) -> str:
    """Print a result spec: an int is output ``spec``; tuples, dicts, blocks nest (no
    recursion over expression depth: specs are at most two levels deep)."""
    if isinstance(spec, int):
        return results[spec]
    kind, items = spec
    if kind == "tuple":
        inner = ", ".join(_pack(x, results, scalar, printer, bind=bind) for x in items)
        return inner if top else f"({inner}{',' if len(items) == 1 else ''})"
    if kind == "dict":
        return "{" + ", ".join(f"{_quoted(k)}: {_pack(v, results, scalar, printer, bind=bind)}"
                               for k, v in items) + "}"
    if kind == "block":
        code = printer.block([[results[i] for i in r] for r in items], [[scalar[i] for i in r] for r in items])
        return bind(code) if bind is not None else code
    raise AssertionError(f"internal: bad result spec {kind!r}")


# ---------------------------------------------------------------------------- entry points


def generate(outputs: list, inputs: list, fname: str = "f", doc: str = "", np_name: str = "np",
             extra_params: list | None = None, result=None, size_hints: dict | None = None,
             module_doc: str | None = None, target: str = "numpy", names: dict | None = None,
             out_for: list | None = None, out_what: str = "gradient") -> str:
    """Source of a module defining ``fname(*inputs)`` that returns the outputs.

    ``outputs``: list of (label, Expr, kind); kind 'value' returns a scalar as a 0-d value
    (a float in NumPy), a vector as 1-D, a matrix as 2-D. ``inputs``: list of (name, shape).
    ``extra_params``: further (name, pyname, shape) parameters such as tangent directions
    (``dX`` leaves read ``_d_<pyname>``). ``result``: a result spec built from output
    indexes with :func:`tuple_of`, :func:`dict_of`, :func:`block_of` (default: all outputs
    as a tuple).
    ``size_hints``: ``{dim name: size}`` estimates for choosing the multiplication order of
    matrix chains. ``target``: ``numpy``, ``jax`` or ``torch``. ``np_name`` is accepted for
    compatibility; every back-end picks its aliases itself. ``names``: the user's named
    intermediates ``{Expr: name}``; each is computed once into a variable of that name.
    ``out_for``: ``[(output index, key)]``, the outputs (arrays) the caller may have written
    into arrays of their own, on a back-end that writes in place: the function then takes
    ``out=None`` (:func:`out_param` names it), one array (key None) or a dict by key;
    ``out_what`` names those outputs in the docstring ("gradient", "result").
    """
    cls = printer_for(target)
    pynames = py_names(n for n, _ in inputs)
    params_taken = set(pynames.values()) | {p for _, p, _ in (extra_params or [])}
    out_for = [(i, k) for i, k in (out_for or []) if not outputs[i][1].is_scalar] if cls.in_place else []
    outp = out_param(params_taken) if out_for else None
    taken = params_taken | {fname} | ({outp} if outp else set())
    bound: dict = {}
    for e, nm in (names or {}).items():
        py = py_name(nm, taken)
        if py.isidentifier() and not py.startswith("_") and py not in taken:
            bound[e] = py
            taken.add(py)
    printer = cls(taken)
    dims: dict = {}
    body: list[str] = []
    # inputs whose sizes are plain names first, so sizes that are products (m*p from a
    # Kronecker product) can be solved from them
    order = sorted(inputs, key=lambda item: max((len(dim_leaves(d)) for d in item[1]), default=0))
    for name, shape in order:  # messages name the parameter the caller passed
        body += _input_lines(pynames[name], pynames[name], shape, printer, dims)
    for name, pyn, shape in (extra_params or []):
        body += _input_lines(name, pyn, shape, printer, dims)
    all_inputs = dict(pynames)
    for name, pyn, _ in (extra_params or []):
        all_inputs[name] = pyn
    buffers: dict = {}  # output index -> the variable holding the caller's array, or None
    if out_for:
        keys = [k for _, k in out_for if k is not None]
        keys_code = "(" + ", ".join(map(_quoted, keys)) + ("," if len(keys) == 1 else "") + ")" if keys else "()"
        printer.used_helpers.add("_out")
        # the arrays an out array must not overlap: the inputs, and the out arrays before it
        taken_arrays = [pynames[n] for n, s in inputs if shape_to_dims(s)]
        taken_arrays += [p for _, p, s in (extra_params or []) if shape_to_dims(s)]
        for j, (i, key) in enumerate(out_for, 1):
            e = outputs[i][1]
            shape = f"({dims_expr(e.rows, dims)},)" if e.cols == 1 else \
                f"({dims_expr(e.rows, dims)}, {dims_expr(e.cols, dims)})"
            key_code = "None" if key is None else _quoted(key)
            body += _call_lines(f"_o{j} = _out", [outp, shape, key_code, keys_code], taken_arrays)
            taken_arrays = taken_arrays + [f"_o{j}"]
            buffers[i] = f"_o{j}"
    roots = [e for _, e, _ in outputs]
    low = Lowerer(dims, all_inputs, roots, size_hints, lowrank=getattr(printer, "lowrank", False))
    lowered = [low.lower(e) for e in roots]
    em = Emitter(lowered, printer, {low.memo[e]: py for e, py in bound.items() if e in low.memo})
    em.inline_roots = {lowered[i] for i in buffers}
    em.emit()
    results, scalar = [], []
    for i, ((_label, e, kind), n) in enumerate(zip(outputs, lowered)):
        r = em.final(n)
        prec = em.text[n][1]
        if not e.is_scalar and printer.copy_suffix and _view_of_input(n):
            # d tr(A*X)/dX = A': the gradient would be the caller's own A (a view of it)
            r, prec = f"{r if prec >= P_ATOM else '(' + r + ')'}{printer.copy_suffix}", P_ATOM
        if i in buffers:  # into the caller's array where given, else as it is
            o, vector = buffers[i], e.cols == 1 and kind == "value"
            r = printer.vector_out(r, prec) if vector else r
            g = f"_g{list(buffers).index(i) + 1}"
            em.lines += [f"if {o} is None:", f"    {g} = {r}", "else:"]
            em.lines += ["    " + line for line in em.into(n, f"{o}[:, None]" if vector else o)]
            em.lines.append(f"    {g} = {o}")
            results.append(g)
            scalar.append(False)
            continue
        if prec != P_ATOM and len(r) + 20 > CODE_LIMIT:  # room for float(...), .ravel()
            em.counter += 1
            em.lines.append(f"_t{em.counter} = {r}")
            r, prec = f"_t{em.counter}", P_ATOM
        if e.is_scalar:
            r = printer.scalar_out(r, prec, n.tag == "scalar" and n.cheap, n)
        elif e.cols == 1 and kind == "value":
            r = printer.vector_out(r, prec)
        results.append(r)
        scalar.append(e.is_scalar)
    spec = result if result is not None else tuple_of(*range(len(results)))
    ret = "return " + _pack(spec, results, scalar, printer, top=True)
    if len(ret) + 4 > LINE_LIMIT:  # each result on a line of its own first
        for i, r in enumerate(results):
            if not r.isidentifier():
                em.counter += 1
                em.lines.append(f"_t{em.counter} = {r}")
                results[i] = f"_t{em.counter}"

        def bind(code):
            em.counter += 1
            em.lines.append(f"_t{em.counter} = {code}")
            return f"_t{em.counter}"

        ret = "return " + _pack(spec, results, scalar, printer, top=True, bind=bind)
    arrays = [pynames[n] for n, s in order if shape_to_dims(s)] or [pynames[n] for n, _ in order]
    body += printer.prologue(arrays[0] if arrays else "", "\n".join(em.lines + [ret]))
    body += em.lines
    body.append(ret)
    params = [pynames[n] for n, _ in inputs] + [p for _, p, _ in (extra_params or [])]
    if outp:
        params.append(f"{outp}=None")
    out = []
    helpers = printer.helper_sources()
    if module_doc and any("import scipy" in h for h in helpers):  # (the matrix functions' helper)
        module_doc = module_doc.replace("Imports only NumPy.", "Imports NumPy, and SciPy (scipy.linalg) "
                                        "for the matrix functions.")
    if module_doc:
        out += ['"""' + module_doc.replace('"""', "'''").replace("\\", "\\\\").rstrip() + '\n"""', ""]
    out += printer.import_lines("\n".join(body + helpers)) + [""]
    for h in helpers:
        out += ["", h, ""]
    out += ["", f"def {fname}({', '.join(params)}):"]
    if doc and inputs:
        doc = doc.rstrip() + "\n\n    " + printer.input_note
    if doc and outp:
        text = (f"{outp}: a float64 array of the {out_what}'s shape to write the {out_what} into\n"
                "(it is returned in place of a new array)")
        if any(k is not None for _, k in out_for):
            text += f"; with several {out_what}s a dict\n{{name: array}} for some of them"
        doc = doc.rstrip() + "\n\n    " + (text + ".").replace("\n", "\n    ")
    if doc:
        out.append('    """' + doc.replace('"""', "'''").replace("\\", "\\\\").rstrip() + "\n    \"\"\"")
    out += [w for line in body for w in wrap_call_line("    " + line)]
    text = "\n".join(out)
    while "\n\n\n\n" in text:
        text = text.replace("\n\n\n\n", "\n\n\n")
    return "\n".join(line.rstrip() for line in text.split("\n")) + "\n"


def compile_source(source: str, fname: str):
    """Compile generated source (matdiff's own output, never user text) into a function.
    The module's own imports load its back-end (numpy, jax or torch)."""
    namespace: dict = {"__name__": "matdiff_generated"}
    if re.search(r"^import torch\b", source, re.MULTILINE):
        # torch.compile imports the module a function's globals name: give it a real one
        global _MODULES
        _MODULES += 1
        mod = types.ModuleType(f"matdiff_generated_{_MODULES}")
        sys.modules[mod.__name__] = mod
        namespace = mod.__dict__
    code = compile(source, "<matdiff-generated>", "exec")
    exec(code, namespace)  # noqa: S102 - generated code: identifiers validated, numbers formatted
    fn = namespace[fname]
    fn.source = source
    return fn
