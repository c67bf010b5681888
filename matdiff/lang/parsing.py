"""Parsing: text -> typed, shaped :class:`~matdiff.expr.Expr`.

Three steps:

1. Lark (LALR, grammar in ``grammar/matdiff.lark``) with an inline transformer builds a
   light syntax tree of :class:`Node` (no recursion: deep or long input cannot overflow
   the stack; sums and products are flattened as they are reduced).
2. Shape inference over that tree: declared shapes are rigid, undeclared dimensions are
   free and unified (:class:`~matdiff.shapes.Unifier`); a mismatch is a ``ShapeError``
   naming the operation, both shapes and the position in the input.
3. Free dimensions left over get names (``n``, ``m``, ...), and the ``Expr`` is built
   through the canonicalizing constructors.
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction
from pathlib import Path

from ..core import expr as E
from ..core.errors import (
    MatdiffError,
    ParseError,
    ShapeError,
    caret,
    declare,
    function_family,
    option,
    suggest,
    suggest_function,
    where,
)
from ..core.facts import check_call
from ..core.shapes import (
    Dim,
    Free,
    Unifier,
    dim_add,
    dim_leaves,
    dim_map,
    dim_mul,
    dims_to_shape,
    parse_dims,
    shape_str,
    sym,
)
from ..ops.registry import language_functions
from ..ops.registry import version as registry_version

MAX_DEPTH = 200
MAX_INPUT = 65_536  # characters; real expressions are far shorter, and this bounds the time

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
    "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon",
    "phi", "varphi", "chi", "psi", "omega",
}
CONSTANT_NAMES = {"I": "eye", "eye": "eye", "ones": "ones", "zeros": "zeros"}


def default_kind(name: str) -> str:
    """matrixcalculus.org's convention: 'scalar' (a-g, Greek), 'vector' (h-z), 'matrix' (A-Z)."""
    base = re.match(r"[A-Za-z]+", name).group(0)
    if base.lower() in GREEK and base[0].islower():
        return "scalar"
    c = name[0]
    if c.isupper():
        return "matrix"
    return "scalar" if c <= "g" else "vector"


# ---------------------------------------------------------------------------- syntax tree


class Node:
    __slots__ = ("kind", "children", "pos", "end", "value", "depth", "shape", "how", "ops", "paren", "ns",
                 "brackets")

    def __init__(self, kind, children=(), pos=0, end=0, value=None, ops=None):
        self.kind = kind
        self.children = list(children)
        self.pos = pos
        self.end = end
        self.value = value
        self.ops = ops  # for flattened sums/products: operator and its position per child
        self.depth = 1 + max((c.depth for c in self.children), default=0)
        self.shape = None
        self.how = None
        self.paren = False
        self.ns = False  # a scalar because an undeclared name was read as one (see _Reading)
        self.brackets = None  # f(a)[e1, e2]: (its position, how many arguments were in brackets)


class _Builder:
    """Inline LALR callbacks (lark calls them as it reduces; no tree, no recursion)."""

    def __init__(self, text):
        self.text = text

    def _check_depth(self, node):
        if node.depth > MAX_DEPTH:
            raise ParseError(f"expression nested too deeply (more than {MAX_DEPTH} levels) at "
                             f"{where(self.text, node.pos)}\n{caret(self.text, node.pos)}")
        return node

    def _binary(self, kind, flat_kind, children):
        left, tok, right = children
        if left.kind == flat_kind and not left.paren:
            # extend the flattened sum/product in place: linear time for long input
            node = left
            node.children.append(right)
            node.ops.append((kind, tok.start_pos))
            node.end = right.end
            node.depth = max(node.depth, 1 + right.depth)
        else:
            node = Node(flat_kind, [left, right], left.pos, right.end,
                        ops=[(None, left.pos), (kind, tok.start_pos)])
        return self._check_depth(node)

    def add(self, c):
        return self._binary("+", "sum", c)

    def sub(self, c):
        return self._binary("-", "sum", c)

    def mul(self, c):
        return self._binary("*", "prod", c)

    def div(self, c):
        return self._binary("/", "prod", c)

    def hadamard(self, c):
        return self._binary(".*", "prod", c)

    def hdiv(self, c):
        return self._binary("./", "prod", c)

    def neg(self, c):
        tok, x = c
        return self._check_depth(Node("neg", [x], tok.start_pos, x.end))

    def pos(self, c):
        return c[1]

    def pow(self, c):
        b, tok, e = c
        return self._check_depth(Node("pow", [b, e], b.pos, e.end, value=tok.start_pos))

    def hpow(self, c):
        b, tok, e = c
        return self._check_depth(Node("hpow", [b, e], b.pos, e.end, value=tok.start_pos))

    def transpose(self, c):
        x, tok = c
        return self._check_depth(Node("transpose", [x], x.pos, tok.end_pos, value=tok.start_pos))

    def number(self, c):
        (tok,) = c
        return Node("number", [], tok.start_pos, tok.end_pos, value=Fraction(str(tok)))

    def name(self, c):
        (tok,) = c
        return Node("name", [], tok.start_pos, tok.end_pos, value=str(tok))

    def atom(self, c):  # "(" expr ")"
        node = c[1]
        node.paren = True
        return node

    def args(self, c):
        return [x for x in c if isinstance(x, Node)]

    def brows(self, c):
        return [x for x in c if isinstance(x, list)]

    def bracket(self, c):
        rows = c[1]
        node = Node("block", [x for r in rows for x in r], c[0].start_pos, c[-1].end_pos,
                    value=tuple(len(r) for r in rows))
        return self._check_depth(node)

    def call(self, c):
        name = c[0]
        args = c[2] if len(c) > 3 and c[2] is not None else []
        node = Node("call", args, name.start_pos, c[-1].end_pos, value=str(name))
        return self._check_depth(node)

    def dcall(self, c):
        """``Dexpm(A)[E]``, ``D2expm(A)[M, N]``: the directions of a Fréchet derivative in
        brackets (as it prints in LaTeX); the same node as ``Dexpm(A, E)`` (checked in
        :func:`_infer_call`)."""
        name, lpar, args, rpar, lsqb, dirs, rsqb = c
        node = Node("call", (args or []) + dirs, name.start_pos, rsqb.end_pos, value=str(name))
        node.brackets = (lsqb.start_pos, len(dirs))
        return self._check_depth(node)


_PARSER = None


def _grammar_text() -> str:
    pkg = Path(__file__).resolve().parent.parent  # the matdiff package
    for p in (pkg / "grammar" / "matdiff.lark", pkg.parent / "grammar" / "matdiff.lark"):
        if p.exists():
            return p.read_text()
    raise MatdiffError("matdiff installation is broken: grammar/matdiff.lark not found")


_CALLBACKS = ("add", "sub", "mul", "div", "hadamard", "hdiv", "neg", "pos", "pow", "hpow",
              "transpose", "number", "name", "atom", "args", "call", "dcall", "brows", "bracket")


_CURRENT = threading.local()  # the builder of the parse in progress, per thread


class _Dispatch:
    """The transformer handed to Lark once (callbacks are bound when the parser is built);
    each callback forwards to the builder of the parse in progress."""


for _cb in _CALLBACKS:
    setattr(_Dispatch, _cb, (lambda name: lambda self, c: getattr(_CURRENT.builder, name)(c))(_cb))


def _lark():
    global _PARSER
    if _PARSER is None:
        from lark import Lark

        # LALR with an inline transformer: callbacks run as rules are reduced, so no parse
        # tree is built and nothing recurses on the depth of the input.
        _PARSER = Lark(_grammar_text(), parser="lalr", keep_all_tokens=True,
                       maybe_placeholders=True, transformer=_Dispatch(), cache=True)
    return _PARSER


def _syntax_tree(text: str) -> Node:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

    if len(text) > MAX_INPUT:
        raise ParseError(f"input is too long ({len(text):,} characters; the limit is {MAX_INPUT:,})")
    if not text.strip():
        raise ParseError("empty expression: type something like  trace(X*A*X)")
    lark = _lark()
    _CURRENT.builder = _Builder(text)
    try:
        return lark.parse(text)
    except UnexpectedCharacters as e:
        pos = e.pos_in_stream
        ch = text[pos] if pos < len(text) else ""
        hint = ""
        if ch in "{}":
            hint = "; write a block matrix or a literal with brackets: [A, B; C, D], [1, 2; 3, 4]"
        elif ch == "_":
            hint = "; names must start with a letter"
        from .habits import hint_at

        hint = hint_at(text, pos) or hint
        raise ParseError(f"unexpected character {ch!r} at {where(text, pos)}{hint}\n"
                         f"{caret(text, pos)}") from None
    except UnexpectedToken as e:
        raise ParseError(_unexpected_token_message(text, e)) from None
    except UnexpectedEOF:
        raise ParseError(f"unexpected end of input: the expression is incomplete\n"
                         f"{caret(text, len(text))}") from None
    except UnexpectedInput as e:  # pragma: no cover - other lark errors
        raise ParseError(f"syntax error at {where(text, getattr(e, 'pos_in_stream', None))}") from None
    finally:
        _CURRENT.builder = None


_EXPECT_NAMES = {
    "NUMBER": "a number", "NAME": "a name", "LPAR": "'('", "RPAR": "')'", "PLUS": "'+'",
    "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'", "CIRCUMFLEX": "'^'", "QUOTE": "\"'\"",
    "COMMA": "','", "$END": "end of input", "LSQB": "'['", "RSQB": "']'", "SEMICOLON": "';'",
}


def _unexpected_token_message(text, e) -> str:
    tok = e.token
    pos = tok.start_pos if tok.start_pos is not None else len(text)
    got = "end of input" if tok.type == "$END" else repr(str(tok))
    exp = sorted({_EXPECT_NAMES.get(x, repr(_anon(x))) for x in e.expected})
    if len(exp) > 6:
        exp_s = "an operand (a name, a number, '(' or a function call)" \
            if "a name" in exp else ", ".join(exp[:6]) + ", ..."
    else:
        exp_s = " or ".join(exp)
    hint = ""
    if tok.type == "LSQB" and pos > 0 and (text[pos - 1].isalnum() or text[pos - 1] in ")]'"):
        hint = " (matdiff has no indexing: [ ] writes a block matrix such as [A, B; C, D])"
    elif tok.type in ("SEMICOLON", "RSQB"):
        hint = " (';' and ']' belong inside a block matrix such as [A, B; C, D])"
    from .habits import hint_at

    hint = hint_at(text, pos) or hint
    return f"unexpected {got} at {where(text, pos)}: expected {exp_s}{hint}\n{caret(text, pos)}"


def _anon(term: str) -> str:
    try:
        t = _lark().get_terminal(term)
        return t.pattern.value
    except Exception:  # noqa: BLE001 - only used for a message
        return term


# ---------------------------------------------------------------------------- shapes of the tree


def _is_scalar(U: Unifier, shape) -> bool:
    return U.resolve(shape[0]) == 1 and U.resolve(shape[1]) == 1


def _is_colvec(U, shape) -> bool:
    return U.resolve(shape[1]) == 1


class _Declarations:
    """The user's shape declarations, checked once (every reading of the names shares them)."""

    def __init__(self, shapes):
        self.shapes = {}
        self.rigid_names = set()
        if shapes is not None and not hasattr(shapes, "items"):
            raise ShapeError(f"shapes must be a mapping from names to shapes, e.g. "
                             f"{declare('x', 'n')}, not a {type(shapes).__name__}")
        for name, spec in (shapes or {}).items():
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
                raise ShapeError(f"bad variable name {name!r} in the shape declarations")
            if name in CONSTANT_NAMES:
                raise ShapeError(f"{name!r} is reserved for the identity/all-ones matrix; "
                                 f"choose another variable name")
            dims = parse_dims(spec, name)
            for d in dims:
                self.rigid_names.update(str(a) for a in dim_leaves(d))
            self.shapes[name] = dims_to_shape(dims)


class _Context:
    """Shape inference of one reading: ``kinds`` fixes each undeclared lowercase name as a
    'scalar' or a 'vector' (see :func:`_choose_reading`)."""

    def __init__(self, text, decl: _Declarations, symmetric, kinds=None):
        self.text = text
        self.U = Unifier()
        self.declared = decl.shapes
        self.symmetric = set(symmetric or ())
        self.rigid_names = set(decl.rigid_names)
        self.kinds = kinds or {}
        self.env = {}  # variable name -> inferred shape
        self.first_pos = {}  # variable name -> offset of its first occurrence
        self.order = []  # variables in order of appearance
        self.name_broadcasts = 0  # names read as scalars and broadcast over an array
        self.nodes = []  # every inferred node (has_array looks at their final shapes)

    def has_array(self) -> bool:
        """Some subexpression is a vector or a matrix (so a scalar whole is a reduction)."""
        return any(not _is_scalar(self.U, n.shape) for n in self.nodes)

    def fail(self, msg, pos, hint=""):
        raise ShapeError(f"{msg} at {where(self.text, pos)}{hint}\n{caret(self.text, pos)}",
                         suggestion=hint.lstrip(";").strip() or None)

    def sstr(self, shape) -> str:
        r, c = (self.U.resolve(d) for d in shape)
        fmt = lambda d: "?" if any(isinstance(a, Free) for a in dim_leaves(d)) else str(d)  # noqa: E731
        if r == 1 and c == 1:
            return "scalar"
        if c == 1:
            return "vector" if fmt(r) == "?" else f"vector of length {fmt(r)}"
        if r == 1:
            return "row vector" if fmt(c) == "?" else f"row vector of length {fmt(c)}"
        if fmt(r) == fmt(c) == "?":
            return "matrix"
        return f"{fmt(r)}x{fmt(c)} matrix"

    def unify(self, a, b, what, pos, sa, sb):
        if not self.U.unify(a, b):
            self.fail(f"shape mismatch in {what}: {self.sstr(sa)} and {self.sstr(sb)}", pos)

    def kind_of(self, name) -> str:
        return self.kinds.get(name) or default_kind(name)

    def var_shape(self, name, pos):
        if name in self.env:
            return self.env[name]
        if name in self.declared:
            shape = self.declared[name]
        else:
            # vectors and matrices are never silently 1-sized: the operation that would make
            # them so fails, and that is where the error points
            kind = self.kind_of(name)
            if kind == "scalar":
                shape = (1, 1)
            elif kind == "vector":
                shape = (self.U.fresh_dim(nonunit=True), 1)
            else:
                shape = (self.U.fresh_dim(nonunit=True), self.U.fresh_dim(nonunit=True))
        if name in self.symmetric:
            if not self.U.unify(shape[0], shape[1]):
                self.fail(f"symmetric variable {name!r} must be square, but it is {self.sstr(shape)}",
                          pos)
        self.env[name] = shape
        self.order.append(name)
        self.first_pos[name] = pos
        return shape

    def settle(self):
        """Solve the size equations left open (products of unknown sizes) or fail where one arose."""
        bad = self.U.settle()
        if bad is not None:
            a, b, pos = bad
            self.fail(f"shape mismatch: sizes {_ds(self.U, a)} and {_ds(self.U, b)} cannot be made "
                      f"equal (Kronecker factors whose sizes are not declared)", pos)

    def check_defaults(self):
        """An undeclared vector or matrix whose size came out as 1 (possible only through
        Kronecker products of undeclared factors) is almost always a slip: say so rather than
        silently making it a scalar or a row."""
        for name, shape in self.env.items():
            if name in self.declared:
                continue
            kind = self.kind_of(name)
            r, c = (self.U.resolve(d) for d in shape)
            if kind == "vector" and r == 1:
                self.fail(f"{name!r} is read as a vector, but here it would have length 1",
                          self.first_pos[name], f"; did you mean {name}' (a row) or .* ? If {name} is a "
                          f"scalar, declare it: {declare(name, '')}")
            if kind == "matrix" and (r == 1 or c == 1):
                self.fail(f"{name!r} is a matrix (capital names are), but here it would be a "
                          f"{self.sstr(shape)}", self.first_pos[name],
                          f"; declare its shape if that is meant ({declare(name, '1,m' if r == 1 else 'n,1')}"
                          f"), else check the order of the product")


def _infer(ctx: _Context, node: Node):
    """Shape inference: sets node.shape (inference dims) and node.how (decisions)."""
    U = ctx.U
    k = node.kind
    dimargs = _tables().dim_args.get(node.value, ()) if k == "call" else ()
    for i, c in enumerate(node.children):
        if i not in dimargs:  # dimension arguments (eye(n), K(m, n)) are not expressions
            _infer(ctx, c)
    U.site = node.pos  # where a deferred size equation arises
    if k == "number":
        node.shape = (1, 1)
    elif k == "name":
        name = node.value
        if name in CONSTANT_NAMES and name not in ctx.declared:
            node.how = CONSTANT_NAMES[name]
            if node.how == "eye":
                f = U.fresh_dim(nonunit=True)  # I takes its size from its neighbours, never 1
                node.shape = (f, f)
            else:
                node.shape = (U.fresh_dim(), U.fresh_dim())
        else:
            # a variable may share a function's name; only calls are functions
            node.how = "var"
            node.shape = ctx.var_shape(name, node.pos)
            node.ns = ctx.kinds.get(name) == "scalar"
    elif k == "sum":
        shape = node.children[0].shape
        hows = []
        for i, c in enumerate(node.children):
            if i == 0:
                hows.append(None)
                continue
            opname, pos = node.ops[i]
            what = "sum" if opname == "+" else "difference"
            if _is_scalar(U, shape) and not _is_scalar(U, c.shape):
                hows.append("bcast_left")
                ctx.name_broadcasts += any(x.ns for x in node.children[:i])
                shape = c.shape
            elif _is_scalar(U, c.shape) and not _is_scalar(U, shape):
                hows.append("bcast_right")
                ctx.name_broadcasts += c.ns
            else:
                ctx.unify(shape[0], c.shape[0], what, pos, shape, c.shape)
                ctx.unify(shape[1], c.shape[1], what, pos, shape, c.shape)
                hows.append("same")
        node.how = hows
        node.shape = shape
        node.ns = any(c.ns for c in node.children)
    elif k == "prod":
        shape = node.children[0].shape
        hows = [None]
        for i, c in enumerate(node.children[1:], 1):
            opname, pos = node.ops[i]
            ls, rs = shape, c.shape
            if opname == "*":
                if _is_scalar(U, ls):
                    hows.append("scale")
                    shape = rs
                elif _is_scalar(U, rs):
                    hows.append("scale")
                else:
                    if not U.unify(ls[1], rs[0]):
                        same = lambda a, b: U.resolve(a) == U.resolve(b)  # noqa: E731
                        left, right = _snippet(ctx, node.children[:i]), _snippet(ctx, [c])
                        if same(ls[1], 1) and same(rs[1], 1):  # two column vectors
                            hint = (f"; did you mean {left}'*{right} (a scalar) or {left}*{right}' "
                                    f"(a matrix)?" + _default_vector_hint(ctx, node.children[i - 1]))
                        elif _same(U, ls, rs):
                            hint = "; for an elementwise product use .*"
                        elif same(ls[0], rs[0]):
                            hint = "; did you mean to transpose the left operand (A'*B)?"
                        elif same(ls[1], rs[1]):
                            hint = "; did you mean to transpose the right operand (A*B')?"
                        elif same(ls[1], 1) and U.is_nonunit(ls[0]) and U.is_nonunit(rs[0]):
                            hint = (f"; did you mean to transpose the left operand "
                                    f"({_flip(ctx, node.children[:i])}*{right})?")
                        elif same(rs[0], 1) and U.is_nonunit(rs[1]) and U.is_nonunit(ls[1]):
                            hint = (f"; did you mean to transpose the right operand "
                                    f"({left}*{_flip(ctx, [c])})?")
                        else:
                            hint = ""
                        ctx.fail(f"shape mismatch in matrix product: {ctx.sstr(ls)} times "
                                 f"{ctx.sstr(rs)} (inner dimensions {_ds(U, ls[1])} and "
                                 f"{_ds(U, rs[0])} differ)", pos, hint)
                    hows.append("matmul")
                    shape = (ls[0], rs[1])
            elif opname == "/":
                if not _is_scalar(U, rs):
                    ctx.fail(f"division by a non-scalar ({ctx.sstr(rs)})", pos,
                             "; use ./ for elementwise division or inv() for a matrix inverse")
                hows.append("div")
            else:  # .* ./
                what = "elementwise product" if opname == ".*" else "elementwise division"
                if _is_scalar(U, ls):
                    if not _is_scalar(U, rs):
                        ctx.name_broadcasts += any(x.ns for x in node.children[:i])
                    shape = rs
                elif _is_scalar(U, rs):
                    ctx.name_broadcasts += c.ns
                else:
                    ctx.unify(ls[0], rs[0], what, pos, ls, rs)
                    ctx.unify(ls[1], rs[1], what, pos, ls, rs)
                hows.append(opname)
        node.how = hows
        node.shape = shape
        node.ns = any(c.ns and _is_scalar(U, c.shape) for c in node.children)
    elif k == "neg":
        node.shape = node.children[0].shape
        node.ns = node.children[0].ns
    elif k == "transpose":
        s = node.children[0].shape
        node.shape = (s[1], s[0])
        node.ns = node.children[0].ns
    elif k in ("pow", "hpow"):
        b, e = node.children
        if k == "hpow" and not _is_scalar(U, e.shape):  # an array exponent: entry by entry
            if not _is_scalar(U, b.shape):
                ctx.unify(b.shape[0], e.shape[0], "the elementwise power .^", node.value, b.shape, e.shape)
                ctx.unify(b.shape[1], e.shape[1], "the elementwise power .^", node.value, b.shape, e.shape)
            node.how = "elementwise"
            node.shape = e.shape
        elif not _is_scalar(U, e.shape):
            hint = "; for an elementwise power with an array exponent use .^"
            if e.kind == "name" and e.value in ("T", "H", "t"):  # MATLAB/LaTeX habit X^T
                hint = f"; the transpose is X' (X^{e.value} raises X to a variable named {e.value})"
            elif _is_scalar(U, b.shape) and not _vector_shape(U, e.shape):  # e^A, 2^A: the course's e^A
                base = "e" if (b.kind == "name" and b.value == "e") or (
                    b.kind == "call" and b.value == "exp" and len(b.children) == 1
                    and b.children[0].kind == "number" and b.children[0].value == 1) else None
                hint = ("; the matrix exponential e^A is written expm(A) (exp(A) is elementwise)" if base else
                        "; a scalar to a matrix power, c^A, is expm(log(c)*A) (elementwise: c.^A)")
            ctx.fail(f"the exponent must be a scalar, not a {ctx.sstr(e.shape)}", node.value, hint)
        elif k == "hpow" or _is_scalar(U, b.shape):
            node.how = "scalar" if _is_scalar(U, b.shape) else "elementwise"
            node.shape = b.shape
        else:
            kval = _integer_literal(e)
            if kval is None:
                ctx.fail("a matrix power needs an integer exponent (A^2, A^-1)", node.value,
                         "; for an elementwise power use .^")
            if _vector_shape(U, b.shape) or not U.unify(b.shape[0], b.shape[1]):
                ctx.fail(f"a matrix power needs a square matrix, not a {ctx.sstr(b.shape)}", node.value,
                         "; for an elementwise power use .^ (for a vector's squared norm, x'*x)"
                         + _default_vector_hint(ctx, b))
            node.how = kval
            node.shape = b.shape
        node.ns = b.ns or e.ns
    elif k == "block":
        _infer_block(ctx, node)
    elif k == "call":
        _infer_call(ctx, node)
        # a reduction (tr, det, sum, norm2, ...) of names is not a name; elementwise
        # functions (and diag/kron of scalars) keep the flag
        node.ns = node.value in _tables().keeps_name and any(c.ns for c in node.children)
    else:  # pragma: no cover
        raise AssertionError(k)
    ctx.nodes.append(node)


def _block_rows(node: Node) -> list:
    out, i = [], 0
    for n in node.value:
        out.append(node.children[i:i + n])
        i += n
    return out


def _infer_block(ctx: _Context, node: Node):
    """``[A, B; C, D]``: the blocks of a row have one height; with equally many blocks in
    every row, the blocks of a column have one width (a grid); rows of different lengths
    are stacked whole, so each row's total width must agree. Sizes add up."""
    U = ctx.U
    rows = _block_rows(node)
    for i, row in enumerate(rows, 1):
        for b in row[1:]:
            if not U.unify(row[0].shape[0], b.shape[0]):
                ctx.fail(f"block matrix: the blocks of row {i} have different heights: "
                         f"{ctx.sstr(row[0].shape)} and {ctx.sstr(b.shape)}", b.pos,
                         _zero_hint(row[0], b))
    grid = len(set(node.value)) == 1
    if grid:
        for j in range(len(rows[0])):
            for i in range(1, len(rows)):
                a, b = rows[0][j], rows[i][j]
                if not U.unify(a.shape[1], b.shape[1]):
                    ctx.fail(f"block matrix: the blocks of column {j + 1} have different widths: "
                             f"{ctx.sstr(a.shape)} (row 1) and {ctx.sstr(b.shape)} (row {i + 1})",
                             b.pos, _zero_hint(a, b))
        width = dim_add(*(U.resolve(b.shape[1]) for b in rows[0]))
    else:
        widths = [dim_add(*(U.resolve(b.shape[1]) for b in row)) for row in rows]
        for i, w in enumerate(widths[1:], 2):
            if not U.unify(widths[0], w):
                ctx.fail(f"block matrix: row {i} is {_ds(U, w)} wide but row 1 is "
                         f"{_ds(U, widths[0])} wide", rows[i - 1][0].pos)
        width = U.resolve(widths[0])
    node.how = "grid" if grid else "rows"
    node.shape = (dim_add(*(U.resolve(row[0].shape[0]) for row in rows)), width)


def _zero_hint(a: Node, b: Node) -> str:
    if any(x.kind == "number" and x.value == 0 for x in (a, b)):
        return "; a 0 in a block matrix is a 1x1 zero: write zeros for a zero block of inferred size"
    return ""


def _flip(ctx, nodes) -> str:
    """The text of a product operand, transposed: x -> x', x' -> x."""
    if len(nodes) == 1 and nodes[0].kind == "transpose" and not nodes[0].paren:
        return _snippet(ctx, nodes[0].children)
    return _snippet(ctx, nodes) + "'"


def _snippet(ctx, nodes) -> str:
    """The input text of a run of product operands (for hints), shortened if long."""
    t = ctx.text[nodes[0].pos:nodes[-1].end].strip()
    if len(nodes) > 1 or nodes[0].kind not in ("name", "call"):
        t = f"({t})"
    return t if len(t) <= 30 else "(...)"


def _same(U, a, b):
    return U.resolve(a[0]) == U.resolve(b[0]) and U.resolve(a[1]) == U.resolve(b[1])


def _ds(U, d):
    d = U.resolve(d)
    return "?" if any(isinstance(a, Free) for a in dim_leaves(d)) else str(d)


def _integer_literal(node: Node):
    sign = 1
    while node.kind == "neg":
        sign = -sign
        node = node.children[0]
    if node.kind == "number" and node.value.denominator == 1:
        return sign * int(node.value)
    return None


# ---------------------------------------------------------------------------- functions


def _square(ctx, node, s, fname):
    if _vector_shape(ctx.U, s) or not ctx.U.unify(s[0], s[1]):
        ctx.fail(f"{fname}() needs a square matrix, but its argument is a {ctx.sstr(s)}", node.pos,
                 _default_vector_hint(ctx, node))


def _default_vector_hint(ctx, node) -> str:
    """'; note that s is read as a vector (...)' for undeclared names under node that are
    read as vectors, else ''."""
    names, stack = [], [node]
    while stack:
        n = stack.pop()
        if n.kind == "name" and n.how == "var" and n.value not in ctx.declared \
                and ctx.kind_of(n.value) == "vector" and n.value not in names:
            names.append(n.value)
        stack.extend(n.children)
    if not names:
        return ""
    v = names[0]
    return (f"; note that {v} is read as a vector (names h-z are, unless the expression needs a "
            f"scalar loss); {declare(v, '')} makes it a scalar")


def _vector_shape(U, s) -> bool:
    """A (row or column) vector that squareness would silently turn into a scalar."""
    r, c = U.resolve(s[0]), U.resolve(s[1])
    return (r == 1) != (c == 1)


def _f_scalar_of_square(ctx, node, shapes):
    _square(ctx, node, shapes[0], node.value)
    return (1, 1)


def _f_square_same(ctx, node, shapes):
    _square(ctx, node, shapes[0], node.value)
    return shapes[0]


def _f_same(ctx, node, shapes):
    return shapes[0]


def _f_scalar(ctx, node, shapes):
    return (1, 1)


def _f_transpose(ctx, node, shapes):
    return (shapes[0][1], shapes[0][0])


def _f_diag(ctx, node, shapes):
    s = shapes[0]
    U = ctx.U
    if _is_scalar(U, s):
        node.how = "scalar"
        return s
    if _is_colvec(U, s):
        node.how = "diagm"
        return (s[0], s[0])
    _square(ctx, node, s, "diag")
    node.how = "diagv"
    return (s[0], 1)


def _f_vec(ctx, node, shapes):
    r, c = shapes[0]
    return (dim_mul(r, c), 1)


def _f_kron(ctx, node, shapes):
    a, b = shapes
    return (dim_mul(a[0], b[0]), dim_mul(a[1], b[1]))


def _f_unvec(ctx, node, shapes):
    v = shapes[0]
    if not _is_colvec(ctx.U, v):
        ctx.fail(f"unvec() needs a vector, not a {ctx.sstr(v)}", node.pos)
    r = node.how
    cols = ctx.U.fresh_dim()
    if not ctx.U.unify(v[0], dim_mul(r, cols)):
        ctx.fail(f"unvec(): the vector's length {_ds(ctx.U, v[0])} is not a multiple of {r}", node.pos)
    return (r, cols)


def _f_bcast(ctx, node, shapes):
    """vector(c), matrix(c): c in every entry; the size is inferred like I's (never 1)."""
    if not _is_scalar(ctx.U, shapes[0]):
        ctx.fail(f"{node.value}() fills an array with a scalar, but its argument is a "
                 f"{ctx.sstr(shapes[0])}", node.pos, _default_vector_hint(ctx, node.children[0]))
    rows = ctx.U.fresh_dim(nonunit=True)
    return (rows, 1) if node.value == "vector" else (rows, ctx.U.fresh_dim(nonunit=True))


def _f_kronadj1(ctx, node, shapes):
    c, b = shapes
    m, n = ctx.U.fresh_dim(), ctx.U.fresh_dim()
    ctx.unify(c[0], dim_mul(m, b[0]), "kronadj1", node.pos, c, b)
    ctx.unify(c[1], dim_mul(n, b[1]), "kronadj1", node.pos, c, b)
    return (m, n)


def _f_kronadj2(ctx, node, shapes):
    a, c = shapes
    p, q = ctx.U.fresh_dim(), ctx.U.fresh_dim()
    ctx.unify(c[0], dim_mul(a[0], p), "kronadj2", node.pos, a, c)
    ctx.unify(c[1], dim_mul(a[1], q), "kronadj2", node.pos, a, c)
    return (p, q)


def _f_solve(ctx, node, shapes):
    a, b = shapes
    _square(ctx, node, a, "solve")
    if not ctx.U.unify(a[1], b[0]):
        ctx.fail(f"solve(A, B) needs as many rows in B as A has columns, but A is a {ctx.sstr(a)} "
                 f"and B a {ctx.sstr(b)}", node.pos)
    return (a[0], b[1])


def _f_colvec_same(ctx, node, shapes):
    s = shapes[0]
    if not _is_colvec(ctx.U, s):
        ctx.fail(f"{node.value}() needs a column vector, but its argument is a {ctx.sstr(s)}", node.pos)
    return s


def _f_colvec_of_square(ctx, node, shapes):
    _square(ctx, node, shapes[0], node.value)
    return (shapes[0][0], 1)


def _f_square_of_colvec(ctx, node, shapes):
    s = shapes[0]
    if not _is_colvec(ctx.U, s):
        ctx.fail(f"{node.value}() needs a column vector, but its argument is a {ctx.sstr(s)}", node.pos)
    return (s[0], s[0])


def _f_frechet(ctx, node, shapes):
    """Dexpm(A, E), D2expm(A, E, F): A square, the directions of A's shape."""
    a = shapes[0]
    _square(ctx, node, a, node.value)
    for m in shapes[1:]:
        ctx.unify(a[0], m[0], node.value, node.pos, a, m)
        ctx.unify(a[1], m[1], node.value, node.pos, a, m)
    return a


def _f_square_kron(ctx, node, shapes):
    """Jexpm(A), J2expm(A, E): A square n x n (E too), the result n^2 x n^2."""
    _f_frechet(ctx, node, shapes)
    n2 = dim_mul(shapes[0][0], shapes[0][1])
    return (n2, n2)


def _f_square_of_cols(ctx, node, shapes):
    s = shapes[0]
    if _vector_shape(ctx.U, s) and not _is_colvec(ctx.U, s):
        ctx.fail(f"{node.value}() needs a matrix with at least as many rows as columns, but its argument "
                 f"is a {ctx.sstr(s)}", node.pos)
    return (s[1], s[1])


# the parser's shape rules, by the name an op's declaration gives (OpDef.shape); "dims": the
# arguments are sizes (eye, ones, zeros, K), handled in _infer_call
SHAPE_RULES = {
    "scalar_of_square": _f_scalar_of_square, "square_same": _f_square_same, "same": _f_same,
    "scalar": _f_scalar, "transpose": _f_transpose, "diag": _f_diag, "vec": _f_vec,
    "unvec": _f_unvec, "kron": _f_kron, "kronadj1": _f_kronadj1, "kronadj2": _f_kronadj2, "dims": None,
    "bcast": _f_bcast,
    "solve": _f_solve, "colvec_same": _f_colvec_same,
    "colvec_of_square": _f_colvec_of_square, "square_of_colvec": _f_square_of_colvec,
    "frechet": _f_frechet, "square_kron": _f_square_kron,
    "square_of_cols": _f_square_of_cols,
}

class _Tables:
    """The language's function tables, generated from the op declarations (rebuilt when a
    declaration is added or removed: :func:`matdiff.ops.registry.version`)."""

    def __init__(self, version: int):
        self.version = version
        self.language = language_functions()
        # name -> (arity, shape rule, builder(node, *args))
        self.functions = {name: (f.arity, SHAPE_RULES[f.shape], f.build) for name, f in self.language.items()}
        # arguments that are dimensions (a positive integer, a size name, or a product n*m)
        self.dim_args = {name: f.dim_args for name, f in self.language.items() if f.dim_args}
        self.names = frozenset(self.functions)
        # calls whose scalar result is still "a name" when an argument is (elementwise
        # functions); any other call of scalars (tr, det, sum, norm2, ...) is a reduction
        self.keeps_name = {name for name, f in self.language.items() if f.keeps_name}
        # functions whose last arguments are directions (Fréchet derivatives: Dexpm(A, E)),
        # which may also be written in brackets, Dexpm(A)[E]: name -> how many
        self.directions = {name: len(f.op.linear_in) for name, f in self.language.items()
                           if getattr(f.op, "linear_in", None)
                           and tuple(f.op.linear_in) == tuple(range(f.arity - len(f.op.linear_in), f.arity))}


_TABLES: list = [None]


def _tables() -> _Tables:
    t = _TABLES[0]
    v = registry_version()
    if t is None or t.version != v:
        t = _TABLES[0] = _Tables(v)
    return t


_MODULE_TABLES = {"FUNCTIONS": "functions", "FUNCTION_NAMES": "names", "DIM_ARGS": "dim_args",
                  "_LANGUAGE": "language", "_KEEPS_NAME": "keeps_name"}


def __getattr__(name):  # the tables as module attributes, always current
    if name in _MODULE_TABLES:
        return getattr(_tables(), _MODULE_TABLES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_directions(ctx: _Context, node: Node, arity: int, tables: _Tables):
    """``f(a)[e]`` is only the direction notation of a Fréchet derivative (``Dexpm(A)[E]``)."""
    name, (pos, k) = node.value, node.brackets
    want = tables.directions.get(name)
    if want is None:
        examples = ", ".join(sorted(n for n in tables.directions if n.startswith("D") and not n.startswith("D2")))
        raise ParseError(f"unexpected '[' after {name}(...) at {where(ctx.text, pos)}: matdiff has no indexing; "
                         f"brackets after a call only give the direction of a Fréchet derivative "
                         f"({examples}: Dexpm(A)[E] is Dexpm(A, E))\n{caret(ctx.text, pos)}")
    if k != want or len(node.children) != arity:
        form = (f"{name}(A)[E]" if want == 1 else f"{name}(A)[" + ", ".join("MNPQ"[:want]) + "]")
        raise ParseError(f"{name}() takes {arity - want} argument{'s' if arity - want > 1 else ''} in "
                         f"parentheses and {want} direction{'s' if want > 1 else ''} in brackets, {form}, "
                         f"got {len(node.children) - k} and {k} at {where(ctx.text, node.pos)}\n"
                         f"{caret(ctx.text, node.pos, len(name))}")


def _infer_call(ctx: _Context, node: Node):
    name = node.value
    tables = _tables()
    if name not in tables.functions:
        if name in ctx.declared or name in ctx.env or (name[0].isupper() and len(name) == 1):
            ctx.fail(f"{name!r} is a variable, not a function; write {name}*(...) for a product",
                     node.pos)
        hint = suggest_function(name, tables.names)
        raise ParseError(f"unknown function {name!r} at {where(ctx.text, node.pos)}{hint}"
                         f"{function_family(name, hint, tables.names)}\n{caret(ctx.text, node.pos, len(name))}")
    arity, rule, _ = tables.functions[name]
    if node.brackets is not None:
        _check_directions(ctx, node, arity, tables)
    if name in ("eye", "ones", "zeros"):  # eye(n), ones(n), ones(n, m), zeros(n, m)
        nargs = len(node.children)
        if not 1 <= nargs <= (1 if name == "eye" else 2):
            raise ParseError(f"{name}() takes {'1' if name == 'eye' else '1 or 2'} dimension "
                             f"argument(s), got {nargs} at {where(ctx.text, node.pos)}\n"
                             f"{caret(ctx.text, node.pos, len(name))}")
        dims = [_dimension_argument(ctx, c, f"{name}(...)") for c in node.children]
        node.how = name
        node.shape = (dims[0], dims[0]) if name == "eye" else (dims[0], dims[1] if nargs == 2 else 1)
        return
    if len(node.children) != arity:
        raise ParseError(f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, "
                         f"got {len(node.children)} at {where(ctx.text, node.pos)}\n"
                         f"{caret(ctx.text, node.pos, len(name))}")
    if name == "K":  # K(m, n): the commutation matrix; its arguments are dimensions
        dims = [_dimension_argument(ctx, c, "K(m, n)") for c in node.children]
        node.how = tuple(dims)
        size = dim_mul(dims[0], dims[1])
        node.shape = (size, size)
        return
    if name == "unvec":
        node.how = _dimension_argument(ctx, node.children[1], "unvec(v, r)")
        node.shape = rule(ctx, node, [node.children[0].shape])
        return
    node.shape = rule(ctx, node, [c.shape for c in node.children])


def _dimension_argument(ctx: _Context, dimnode: Node, usage: str):
    """A positive integer or a dimension name given as a function argument."""
    if dimnode.kind == "number" and dimnode.value.denominator == 1 and dimnode.value > 0:
        return int(dimnode.value)
    if dimnode.kind == "name":
        ctx.rigid_names.add(dimnode.value)
        return sym(dimnode.value)
    if dimnode.kind == "prod" and all(op in (None, "*") for op, _ in dimnode.ops):  # n*m
        d = 1
        for c in dimnode.children:
            d = dim_mul(d, _dimension_argument(ctx, c, usage))
        return d
    if dimnode.kind == "sum" and all(op in (None, "+") for op, _ in dimnode.ops):  # m+n, (m+n)*k
        return dim_add(*(_dimension_argument(ctx, c, usage) for c in dimnode.children))
    raise ParseError(f"{usage}: arguments must be positive integers or dimension names, at "
                     f"{where(ctx.text, dimnode.pos)}\n{caret(ctx.text, dimnode.pos)}")


# ---------------------------------------------------------------------------- building Exprs


class _Resolver:
    def __init__(self, ctx: _Context):
        self.ctx = ctx
        self.names = {}
        # sizes are named apart from the declared sizes and from the expression's variables: in
        # sum(X)/n the scalar n is not X's size (X: pxm would read as p rows, not n)
        used = set(ctx.rigid_names) | set(ctx.env)
        self.pool = [n for n in ("n", "m", "k", "p", "q", "r", "s", "t", "u", "v", "w")
                     if n not in used]
        self.extra = 0

    def dim(self, d):
        return dim_map(self.ctx.U.resolve(d), self._atom)

    def _atom(self, a):
        if isinstance(a, Free):
            if a not in self.names:
                if self.pool:
                    self.names[a] = self.pool.pop(0)
                else:
                    self.extra += 1
                    self.names[a] = f"n{self.extra}"
            return sym(self.names[a])
        return Dim(1, (a,))

    def shape(self, s):
        return (self.dim(s[0]), self.dim(s[1]))


def _build(ctx: _Context, R: _Resolver, node: Node) -> E.Expr:
    k = node.kind
    if k == "number":
        return E.const(node.value)
    if k == "name":
        shape = R.shape(node.shape)
        if node.how == "eye":
            return E.eye(shape[0])
        if node.how == "ones":
            return E.ones(shape)
        if node.how == "zeros":
            return E.zero(shape)
        return E.var(node.value, shape, node.value in ctx.symmetric)
    if k == "block":
        rows, i = [], 0
        blocks = [_build(ctx, R, c) for c in node.children]
        for n in node.value:
            rows.append(blocks[i:i + n])
            i += n
        if node.how == "grid":
            return E.block(rows)
        return E.block([[E.block([row])] for row in rows])
    skip = _tables().dim_args.get(node.value, ()) if k == "call" else ()
    args = [_build(ctx, R, c) for i, c in enumerate(node.children) if i not in skip]
    if k == "sum":
        shape = R.shape(node.shape)
        terms = []
        for i, t in enumerate(args):
            if i and node.ops[i][0] == "-":
                t = E.neg(t)
            if t.shape != shape:  # a scalar added to an array: broadcast
                t = E.bcast(t, shape)
            terms.append(t)
        return E.add(*terms)  # one call: linear time for long sums
    if k == "prod":
        # left to right; a run of matrix products is built with one constructor call
        # (linear time for long chains); scaling by a scalar product such as (x'*x)*B
        # closes the run, so x'*x*B is (x'*x)*B as shape inference decided
        acc = args[0]
        run: list = []
        for i in range(1, len(args)):
            opname, b = node.ops[i][0], args[i]
            if opname == "*" and (node.how[i] == "matmul" or (b.is_scalar and acc.is_scalar and
                                                              all(r.is_scalar for r in run[-1:]))):
                run.append(b)  # a matrix chain, or a product of scalars: one call either way
                continue
            if run:
                acc, run = E.mul(acc, *run), []
            if opname == "*":
                acc = E.mul(acc, b)
            elif opname == "/":
                acc = E.div(acc, b)
            elif opname == ".*":
                acc = E.had(acc, b)
            else:
                acc = E.had(acc, E.hpow(b, E.const(-1)))
        return E.mul(acc, *run) if run else acc
    if k == "neg":
        return E.neg(args[0])
    if k == "transpose":
        return E.transpose(args[0])
    if k == "pow":
        if node.how == "scalar":
            return E.power(args[0], args[1])
        return E.mpow(args[0], node.how)
    if k == "hpow":
        return E.hpow(args[0], args[1])
    if k == "call":
        name = node.value
        if name in ("unvec", "eye", "ones", "zeros"):
            shape = R.shape(node.shape)
            return {"unvec": lambda: E.unvec(args[0], shape[0], shape[1]), "eye": lambda: E.eye(shape[0]),
                    "ones": lambda: E.ones(shape), "zeros": lambda: E.zero(shape)}[name]()
        if _tables().language[name].shape == "bcast":  # vector(c), matrix(c): the final size
            node.how = R.shape(node.shape)
        args = check_call(_tables().language[name].op, args, ctx.text, node.pos,  # the facts it requires
                          [c.pos for i, c in enumerate(node.children) if i not in skip], name)
        return _tables().functions[name][2](node, *args)
    raise AssertionError(k)  # pragma: no cover


class Parsed:
    """The result of parsing: the expression and what was learnt about its variables."""

    def __init__(self, expr, shapes, order, symmetric, fresh=()):
        self.expr = expr
        self.fresh = set(fresh)  # dimension names made up for sizes nothing determined
        self.shapes = shapes  # name -> (rows, cols) with final dims
        self.order = order
        self.symmetric = symmetric
        self.inferred = {}  # undeclared lowercase name -> 'scalar' | 'vector' (the reading taken)
        self.notes = []  # one line per choice the naming convention made between readings
        self.guessed = False  # some size was matched by a guess (see Unifier.settle)
        self.names = {}  # named intermediates of the input: {value Expr: name} (lang/names.py)


# ---------------------------------------------------------------------------- readings
#
# The kind of an undeclared lowercase (or Greek) name is inferred from how the expression
# uses it, as its sizes are. Each name is a scalar or a vector; of the assignments that
# type-check (a *reading*), matdiff takes the best by, in this order:
#   1. fewest names read as scalars and broadcast over an array (b in A*x - b is a vector);
#   2. a scalar computed from arrays, i.e. a loss (phi'*A*phi: phi is a vector), over
#      anything else;
#   3. the notation: a name written transposed (b'*x) or reduced whole (norm2(r), sum(w))
#      is a vector, one raised to a power (sigma^2) a scalar;
#   4. the naming convention (a-g and Greek scalars, h-z vectors): fewest departures.
# A name h-z is read as a scalar only in a reading that is a loss (x*A*x stays an error that
# points at x, rather than becoming x^2*A; log(x) stays a vector function).
# When rule 4 decided between readings that rules 1-3 cannot tell apart, a note names the
# other reading and the declaration that selects it.

_EXHAUSTIVE = 8  # up to 2**8 readings are tried; with more names, a local search (see below)


def _free_names(tree: Node, decl: _Declarations) -> list:
    """Undeclared lowercase variable names, in order of first appearance."""
    found, stack = {}, [tree]
    while stack:
        n = stack.pop()
        if n.kind == "name":
            v = n.value
            if v not in decl.shapes and v not in CONSTANT_NAMES and v[0].islower():
                found[v] = min(found.get(v, n.pos), n.pos)
        skip = _tables().dim_args.get(n.value, ()) if n.kind == "call" else ()
        stack.extend(c for i, c in enumerate(n.children) if i not in skip)
    return sorted(found, key=found.get)


def _usage_kinds(tree: Node, names) -> dict:
    """Kinds suggested by how a name is written: transposed (b'*x) or reduced as a whole
    (norm2(r), sum(w)) it is a vector; raised to a power (sigma^2) a scalar (rule 3 above,
    and a starting point of the local search)."""
    out, stack = {}, [tree]
    while stack:
        n = stack.pop()
        stack.extend(n.children)
        kids = [c for c in n.children if c.kind == "name" and c.value in names]
        if n.kind == "transpose" or (n.kind == "call" and n.value in ("norm2", "sum", "vec")):
            out.update((c.value, "vector") for c in kids)
        elif n.kind == "pow" and kids and kids[0] is n.children[0]:
            out[kids[0].value] = "scalar"
    return out


class _Reading:
    def __init__(self, kinds, ctx, departures, usage):
        self.kinds = kinds
        self.ctx = ctx
        r = ctx.U
        whole = ctx.nodes[-1].shape  # the root is inferred last
        self.loss = r.resolve(whole[0]) == 1 and r.resolve(whole[1]) == 1 and ctx.has_array()
        self.departures = departures
        against_usage = sum(kinds[n] != k for n, k in usage.items())
        self.score = (ctx.name_broadcasts, 0 if self.loss else 1, against_usage, len(departures))


def _choose_reading(text, tree, decl, symmetric, expected=None):
    """Infer shapes for the best reading of the undeclared names; returns (ctx, kinds, notes)."""
    from itertools import combinations

    names = _free_names(tree, decl)
    conv = {n: default_kind(n) for n in names}
    usage = _usage_kinds(tree, set(names))
    tried = {}  # frozenset of departures -> _Reading or None (does not type-check)

    def run(kinds):
        ctx = _Context(text, decl, symmetric, kinds)
        _infer(ctx, tree)
        if expected is not None:
            _expect(ctx, tree, expected)
        ctx.settle()
        ctx.check_defaults()
        return ctx

    def reading(flips) -> _Reading | None:
        key = frozenset(flips)
        if key not in tried:
            kinds = {n: ("vector" if conv[n] == "scalar" else "scalar") if n in key else conv[n]
                     for n in names}
            try:
                r = _Reading(kinds, run(kinds), tuple(n for n in names if n in key), usage)
            except ShapeError:
                r = None
            if r is not None and not r.loss and any(conv[n] == "vector" for n in key):
                r = None  # h-z names become scalars only to make a loss
            tried[key] = r
        return tried[key]

    try:
        first = reading(())
        if first is None:  # the convention reading fails: keep its error to report
            run(conv)
    except ShapeError as e:
        error = e
    if not names:
        if first is None:
            raise error
        return first.ctx, {}, []
    notes = []
    if len(names) <= _EXHAUSTIVE:
        for level in range(1, len(names) + 1):
            for flips in combinations(names, level):
                reading(flips)
    else:
        # local search: from the convention and from the kinds the notation suggests, move
        # to the best reading one or two departures away until nothing improves
        hinted = frozenset(n for n, k in usage.items() if k != conv[n])
        for start in (frozenset(), hinted):
            current = start
            while True:
                around = [current ^ {a} for a in names] + [current ^ {a, b}
                                                          for a, b in combinations(names, 2)]
                cands = [(r.score, i) for i, r in enumerate(map(reading, around)) if r is not None]
                here = reading(current)
                best_i = min(cands)[1] if cands else None
                if best_i is None or (here is not None and min(cands)[0] >= here.score):
                    break
                current = around[best_i]
        notes.append(f"note: {len(names)} undeclared lowercase names: matdiff searched "
                     f"{len(tried)} of their {2 ** len(names):,} readings; declare shapes to be sure")
    readings = [r for r in tried.values() if r is not None]
    if not readings:
        raise error
    # min is stable and tried is in search order: fewest departures first, then first found
    best = min(readings, key=lambda r: r.score)
    rivals = [r for r in readings if r is not best and r.score[:3] == best.score[:3]]
    if rivals:
        notes.insert(0, _note(best, min(rivals, key=lambda r: r.score)))
    ctx = run(best.kinds)  # the tree's annotations are the last run's
    return ctx, best.kinds, notes


def _note(best: _Reading, other: _Reading) -> str:
    """'note: read x as a vector (...); --shape x= reads it as a scalar'."""
    diff = [n for n in best.kinds if best.kinds[n] != other.kinds[n]]
    R = _Resolver(other.ctx)
    decls = []
    for n in diff:
        if other.kinds[n] == "scalar":
            decls.append(declare(n, ""))
        else:
            decls.append(declare(n, str(R.dim(other.ctx.env[n][0]))))
    taken = ", ".join(f"{n} as a {best.kinds[n]}" for n in diff)
    alt = ", ".join(f"{n} a {other.kinds[n]}" for n in diff)
    return (f"note: read {taken} by the naming convention (a-g and Greek names scalars, h-z "
            f"vectors); {' '.join(decls)} makes {alt}")


_MATRIX_FUNCTION_OF = {"exp": "expm", "log": "logm", "sqrt": "sqrtm", "sin": "sinm", "cos": "cosm"}


def _elementwise_matrix_notes(e: E.Expr) -> list:
    """One note per elementwise function of _MATRIX_FUNCTION_OF applied to a square matrix
    (exp(A) is entry by entry, as in NumPy; expm(A) is the matrix exponential)."""
    out, seen = [], set()
    for n in e.walk():
        if n.op == "fn" and n.attr in _MATRIX_FUNCTION_OF and n.attr not in seen \
                and not n.is_scalar and n.rows == n.cols:
            seen.add(n.attr)
            m = _MATRIX_FUNCTION_OF[n.attr]
            out.append(f"note: {n.attr}() of a square matrix is elementwise (entry by entry, as in "
                       f"NumPy); the matrix function is {m}()")
    return out


def parse_full(text: str, shapes=None, symmetric=(), expected=None) -> Parsed:
    """Parse ``text`` with declared ``shapes`` into a :class:`Parsed`.

    ``expected``: the shape ``(rows, cols)`` the whole expression must have (dimensions
    ints or names, as in :func:`~matdiff.shapes.dims_to_shape`); sizes nothing else fixes,
    such as those of ``I`` or ``ones``, are taken from it (a claimed gradient ``tr(A)*I``)."""
    if not isinstance(text, str):
        raise ParseError(f"expected the expression as a string, got {type(text).__name__}")
    if ";" in text or "where" in text:  # named intermediates: h = ...; f(h)  or  f(h) where h = ...
        from .names import inline

        body, bindings = inline(text)
        if bindings:
            return _parse_named(body, bindings, shapes, symmetric, expected)
    symmetric = [symmetric] if isinstance(symmetric, str) else list(symmetric or ())
    decl = _Declarations(shapes)
    tree = _syntax_tree(text)
    ctx, kinds, notes = _choose_reading(text, tree, decl, symmetric, expected)
    for s in symmetric:
        if s not in ctx.env and s not in ctx.declared:
            raise ShapeError(f"{option('symmetric', s)}: {s!r} does not occur in the expression"
                             f"{suggest(s, ctx.env)}")
    R = _Resolver(ctx)
    final = {name: R.shape(ctx.env[name]) for name in ctx.order}
    e = _build(ctx, R, tree)
    parsed = Parsed(e, final, list(ctx.order), set(symmetric), R.names.values())
    parsed.inferred = kinds
    parsed.notes = notes + _elementwise_matrix_notes(e)
    parsed.guessed = ctx.U.guessed
    if ctx.U.guessed_sums:
        parsed.notes.append("note: the sizes of blocks that are not declared were matched block by "
                            "block in the order written (the first block gets the first size of the "
                            "sum, as the shapes line shows); declare shapes to be sure")
    elif ctx.U.guessed:
        parsed.notes.append("note: sizes of Kronecker factors were matched assuming corresponding "
                            "factors agree (m*f = n*g read as f = n, g = m); declare shapes to be sure")
    # declared variables that do not occur keep their declared shapes (a zero gradient)
    parsed.absent = {n: R.shape(sh) for n, sh in ctx.declared.items() if n not in ctx.env}
    return parsed


def _spec(shape) -> str:
    """A final shape as a declaration: '' (scalar), 'n' (vector), 'n,m'."""
    from ..core.shapes import dim_str

    if shape == (1, 1):
        return ""
    return dim_str(shape[0]) if shape[1] == 1 else f"{dim_str(shape[0])},{dim_str(shape[1])}"


def _parse_named(body, bindings, shapes, symmetric, expected) -> Parsed:
    """:func:`parse_full` of a text with named intermediates: the inlined expression, and
    ``names`` ({value: name}) from each binding read with the shapes found for the whole."""
    for name, _ in bindings:
        if shapes and name in shapes:
            raise ShapeError(f"{name!r} is bound to a value and also declared as a variable")
        if name in CONSTANT_NAMES or name in language_functions():
            raise ParseError(f"{name!r} cannot be bound: it names "
                             f"{'a constant' if name in CONSTANT_NAMES else 'a function'}; choose another name")
    parsed = parse_full(body, shapes, symmetric, expected)
    names: dict = {}
    for name, value in bindings:
        used = {n: sh for n, sh in parsed.shapes.items()
                if re.search(r"(?<![A-Za-z0-9_.])" + re.escape(n) + r"(?![A-Za-z0-9_(])", value)}
        decl = {n: _spec(sh) for n, sh in used.items()}
        e = parse_full(value, decl, [s for s in parsed.symmetric if s in used]).expr
        if e.op not in ("var", "const"):
            names.setdefault(e, name)
    parsed.names = names
    return parsed


def _expect(ctx: _Context, tree: Node, expected) -> None:
    """Unify the shape of the whole expression with ``expected`` (a rigid shape)."""
    for d in expected:
        ctx.rigid_names.update(str(a) for a in dim_leaves(d))
    got = ctx.sstr(tree.shape)
    if not (ctx.U.unify(tree.shape[0], expected[0]) and ctx.U.unify(tree.shape[1], expected[1])):
        raise ShapeError(f"the expression is a {got}, but shape {shape_str(expected)} is expected here")


def parse(text: str, shapes=None, symmetric=()) -> E.Expr:
    """Parse ``text`` into a typed, shaped :class:`~matdiff.expr.Expr`.

    >>> str(parse("trace(X*A*X)"))
    'tr(X*A*X)'
    """
    return parse_full(text, shapes, symmetric).expr

