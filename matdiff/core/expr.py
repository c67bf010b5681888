"""Expression nodes: one immutable, hash-consed type ``Expr(op, args, shape, attr)``.

Structurally equal nodes are the same object, so a derivation is a DAG, shared
subexpressions are computed once and "nothing changed" is an identity check.

The constructor functions below (``add``, ``mul``, ``transpose``, ...) build nodes in a
light canonical form that is valid for every input: nested sums and products are
flattened, constants folded, like terms collected (``2*A + 3*A -> 5*A``), scalar
factors of a product gathered in front (``A*s*B -> s*A*B``), powers of the same
base merged (``A*A -> A^2``, ``s*s^-1 -> 1``), zeros and identities dropped.
Oriented rewriting toward Matrix-Cookbook forms lives in :mod:`matdiff.simplify`.

Op names (the ``op`` field):
  leaves    var  dvar  const  eye  ones  zero  K
  algebra   add  mul  transpose  trace  det  logdet  inv  mpow  pow
  elementw. had  hpow  fn(attr = function name)
  reduce    sum  norm2
  reshape   diagm (vector -> diagonal matrix)  diagv (square -> diagonal vector)
            vec  unvec  kron  kronadj1  kronadj2  bcast (scalar -> array)
"""

from __future__ import annotations

import threading
import weakref
import zlib
from fractions import Fraction
from itertools import filterfalse
from operator import attrgetter, itemgetter
from operator import is_ as _is
from operator import mul as _mul_int

from ..ops.base import Rule
from ..passes.trace import _TRACER, Step
from .shapes import dim_add, dim_mul, dim_parts, is_scalar_shape, make_dim, shape_str

SCALAR = (1, 1)

_HASH_MOD = (1 << 61) - 1
_TABLE_LOCK = threading.Lock()  # hash-consing stays one-node-per-structure across threads

# Ranks give a stable, readable order of terms in sums and of scalar factors: one per op,
# from its declaration (matdiff.ops.registry fills this table and _REBUILD when it loads,
# which the end of this module makes sure of).
_RANK: dict = {}
# ops that mul() may merge, split, drop or regroup inside a matrix chain (powers, inverses,
# identities, ones, diagonals, blocks, broadcasts, zeros, constants, nested products): a
# chain of non-scalar factors none of which has one of these ops is its own normal form
# unless two neighbours are equal (A*A = A^2) or a vector stands inside it (a scalar stretch)
_NOT_PLAIN_FACTOR = frozenset(("mul", "const", "bcast", "eye", "block", "zero", "ones", "diagm", "inv", "mpow"))
_get_flags, _get_shape = attrgetter("flags"), attrgetter("shape")
_get_depth, _get_key, _get_hash = attrgetter("depth"), attrgetter("key"), itemgetter(2)
_get_op = attrgetter("op")
_get_is_scalar, _get_args = attrgetter("is_scalar"), attrgetter("args")
_get_first = itemgetter(0)
_get_T = attrgetter("_T")
_get_rows, _get_cols = itemgetter(0), itemgetter(1)
_HASH_BASE = 1000003
_HASH_POWERS = [1]  # _HASH_BASE**j % _HASH_MOD


def _powers(n: int) -> list:
    """:data:`_HASH_POWERS`, grown to hold B^0 .. B^n."""
    pw = _HASH_POWERS
    while len(pw) <= n:
        pw.append(pw[-1] * _HASH_BASE % _HASH_MOD)
    return pw


def _chain_poly(args) -> int:
    """sum_i a_i*B^(n-1-i) (mod M) over the arguments' hashes a_i: the part of a node's hash
    that its arguments make (the node's own is h0*B^n, see ``Expr.__new__``), computed by C
    loops. A product spliced from products combines their parts in O(1) each:
    poly(u + v) = poly(u)*B^len(v) + poly(v), which is what keeps splicing long chains cheap."""
    n = len(args)
    pw = _powers(n)
    hs = map(_get_hash, map(_get_key, args))
    return sum(map(_mul_int, hs, reversed(pw[:n]))) % _HASH_MOD


# ---------------------------------------------------------------------------- named normal forms
# The rewrites the constructors apply, as data: each has a name, its identity and a citation,
# and is reported to an installed tracer (matdiff.passes.trace) when it fires.

NORMAL_FORMS: dict = {}


def _nf(name, identity, latex, cite="definition") -> Rule:
    r = Rule(name, identity, latex, cite)
    NORMAL_FORMS[name] = r
    return r


NF_ADD_FLATTEN = _nf("add.flatten", "(A + B) + C = A + B + C", r"(A + B) + C = A + B + C", "associativity")
NF_ADD_ZERO = _nf("add.zero", "A + 0 = A", r"A + 0 = A")
NF_ADD_COLLECT = _nf("add.collect", "a*A + b*A = (a + b)*A", r"aA + bA = (a + b)A", "distributivity")
NF_ADD_BCAST = _nf("add.broadcast", "s*ones + t*ones = (s + t)*ones", r"s\mathbf{1} + t\mathbf{1} = (s + t)\mathbf{1}",
                   "distributivity")
NF_ADD_ORDER = _nf("add.order", "B + A = A + B (terms in rank order)", r"B + A = A + B", "commutativity")
NF_MUL_FLATTEN = _nf("mul.flatten", "(A*B)*C = A*B*C", r"(AB)C = ABC", "associativity")
NF_MUL_CONST = _nf("mul.constants", "2*A*3 = 6*A (rational constants folded in front)", r"2A \cdot 3 = 6A",
                   "commutativity of scalars")
NF_MUL_BCAST = _nf("mul.broadcast-factor", "(s*ones)*A = s*(ones*A)", r"(s\mathbf{1})A = s(\mathbf{1}A)",
                   "linearity")
NF_MUL_ZERO = _nf("mul.zero", "0*A = 0 ; A*zeros = zeros", r"0 A = 0")
NF_MUL_SPOWERS = _nf("mul.scalar-powers", "s^a*s^b = s^(a+b) (s*s^-1 = 1)", r"s^a s^b = s^{a+b}",
                     "exponent laws")
NF_MUL_CPOWERS = _nf("mul.chain-powers", "A^j*A^k = A^(j+k) ; inv(A)*A = I", r"A^j A^k = A^{j+k}",
                     "associativity; definition of the inverse")
NF_MUL_IDENTITY = _nf("mul.identity", "I*A = A*I = A", r"IA = AI = A")
NF_MUL_ONES_DIAG = _nf("mul.ones_diag", "ones(1, n)*diag(v) = v', diag(v)*ones(n, 1) = v, "
                       "ones(a, n)*ones(n, b) = sum(ones(n, 1))*ones(a, b)",
                       r"\mathbf{1}^T \operatorname{diag}(v) = v^T,\ \operatorname{diag}(v) \mathbf{1} = v,\ "
                       r"\mathbf{1}_{a \times n} \mathbf{1}_{n \times b} = n \mathbf{1}_{a \times b}")
NF_MUL_STRETCH = _nf("mul.scalar-stretch", "A*x*y'*z = (y'*z)*A*x (a 1x1 stretch of a chain is a scalar)",
                     r"A x y^T z = (y^T z) A x", "associativity")
NF_MUL_SCALAR_CHAIN = _nf("mul.scalar-chain", "(x'*x)*x'*x = (x'*x)^2 (a scalar chain joins the scalars)",
                          r"(x^T x)\, x^T x = (x^T x)^2", "commutativity of scalars")
NF_MUL_SPLICE = _nf("mul.splice", "s*(x'*A*y) = s*x'*A*y (the only chain is the product's own)",
                    r"s\,(x^T A y) = s\, x^T A y", "associativity")
NF_MUL_TO_BCAST = _nf("mul.to-broadcast", "s*ones = bcast(s)", r"s\mathbf{1} = s\mathbf{1}", "definition")
NF_MUL_ORDER = _nf("mul.order", "A*s = s*A (scalar factors first, in rank order)", r"A s = s A",
                   "commutativity of scalars")
NF_T_INVOLUTION = _nf("transpose.involution", "(A')' = A", r"(A^T)^T = A")
NF_T_SYMMETRIC = _nf("transpose.symmetric", "S' = S for I, diag(v), a symmetric variable",
                     r"S^T = S")
NF_T_SCALED = _nf("transpose.scaled", "(s*A)' = s*A'", r"(sA)^T = sA^T", "linearity")
NF_TR_TRANSPOSE = _nf("trace.transpose", "tr(A') = tr(A)", r"\operatorname{tr}A^T = \operatorname{tr}A",
                      "Matrix Cookbook (13)")
NF_TR_SCALED = _nf("trace.scaled", "tr(s*A) = s*tr(A)", r"\operatorname{tr}(sA) = s\operatorname{tr}A",
                   "linearity")
NF_INV_INVOLUTION = _nf("inv.involution", "inv(inv(A)) = A", r"(A^{-1})^{-1} = A")
NF_INV_TRANSPOSE = _nf("inv.transpose", "inv(A') = inv(A)'", r"(A^T)^{-1} = (A^{-1})^T", "Matrix Cookbook (3)")
NF_INV_SCALED = _nf("inv.scaled", "inv(s*A) = s^-1*inv(A)", r"(sA)^{-1} = s^{-1}A^{-1}")
NF_LOGDET_INV = _nf("logdet.inv", "logdet(inv(A)) = -logdet(A)", r"\log|A^{-1}| = -\log|A|",
                    "Matrix Cookbook (22): det(inv(A)) = 1/det(A)")
NF_FN_CONST = _nf("fn.constant", "f(c) folded for a constant c where exact (exp(0) = 1, log(1) = 0, ...)",
                  r"f(c) = \text{value}", "calculus")
NF_LOG_EXP = _nf("fn.log-exp", "log(exp(x)) = x", r"\log e^x = x", "calculus")
NF_LOG_SCALED_EXP = _nf("fn.log-scaled-exp", "log(c*exp(u)) = u + log(c) (also for c <= 0, nan alike)",
                        r"\log(c e^u) = u + \log c", "calculus")
NF_LOG_RECIPROCAL = _nf("fn.log-reciprocal", "log(1/s) = -log(s)", r"\log(1/s) = -\log s", "calculus")
NF_POW_SQRT = _nf("pow.sqrt", "sqrt(s)^2 = s (s >= 0, where sqrt is real)", r"\left(\sqrt{s}\right)^2 = s", "calculus")
NF_ABS_NONNEG = _nf("fn.abs-nonnegative", "abs(f(x)) = f(x) for f >= 0 (abs, exp, sqrt, sigmoid, relu)",
                    r"|f(x)| = f(x)", "calculus")


def _fire(rule: Rule, before, after, op=None, attr=None):
    """Report a named normal-form step to the installed tracer, if any; returns ``after``.

    ``before`` is what the constructor was given: the operands of a sum or product (a tuple),
    or with ``op`` the argument of a one-argument constructor, reported as the node ``op(before)``
    as it would be without the rewrite (``(A')'`` for ``(A')' = A``), so that both sides of the
    step are the same value; that node is built only while a tracer is installed."""
    tr = _TRACER.get()
    if tr is not None:
        if op is not None:
            before = _unnormalised(op, before, attr)
        tr.append(Step(rule, before, after, ("normal", rule.name.split(".")[0])))
    return after


def _unnormalised(op: str, a, attr=None) -> Expr:
    """``op`` applied to ``a`` without the constructor's rewrites (only for a tracer's report)."""
    if op == "block":  # a is the tuple of blocks, attr the partition
        return Expr("block", a, (dim_add(*attr[0]), dim_add(*attr[1])), attr)
    shape = {"transpose": (a.shape[1], a.shape[0]), "inv": a.shape, "fn": a.shape}.get(op, SCALAR)
    return Expr(op, (a,), shape, attr)


class Expr:
    """An immutable, hash-consed expression node.

    ``op``: operation name; ``args``: child nodes; ``shape``: (rows, cols);
    ``attr``: hashable extra data (variable name, constant value, function name, power).
    Equality is identity: build nodes only through the constructor functions.
    """

    __slots__ = ("op", "args", "shape", "attr", "key", "depth", "is_scalar", "flags", "_factors",
                 "_argops", "_opsin", "_T", "_facts", "_poly", "_plainchain", "__weakref__")
    _table: weakref.WeakValueDictionary = weakref.WeakValueDictionary()

    def __new__(cls, op: str, args: tuple = (), shape=SCALAR, attr=None, _poly=None, _depth=None):
        # _poly, _depth: the arguments' part of the hash (:func:`_chain_poly`) and their
        # greatest depth, when the caller has them already (mul's splice of long products)
        k = (op, args, shape, attr)
        node = cls._table.get(k)
        if node is not None:
            return node
        node = object.__new__(cls)
        node.op = op
        node.args = args
        node.shape = shape
        node.attr = attr
        # a deterministic sort key, cheap to compare whatever the depth: (rank, leading
        # name, structural hash); it orders terms of sums and factors of products. The hash
        # is h0*B^n + sum_i a_i*B^(n-1-i) (mod M), h0 from the node's own fields, a_i the
        # arguments' hashes: h = (h*B + a_i) % M folded from h0
        h = zlib.crc32(f"{op}|{attr}|{shape}".encode())
        n = len(args)
        if _poly is not None:
            poly = _poly
            node.depth = 1 + _depth
        elif n <= 8:
            poly = 0
            for a in args:
                poly = (poly * _HASH_BASE + a.key[2]) % _HASH_MOD
            node.depth = 1 + max((a.depth for a in args), default=0)
        else:  # the same sum in closed form, at C speed per argument (long products)
            poly = _chain_poly(args)
            node.depth = 1 + max(map(_get_depth, args))
        h = (h * _powers(n)[n] + poly) % _HASH_MOD if n else h
        if op == "mul":
            node._poly = poly
        lead = attr[0] if op in ("var", "dvar") else (args[0].key[1] if args else "")
        node.key = (_RANK.get(op, 99), lead, h)
        row, col = shape[0] == 1, shape[1] == 1
        node.is_scalar = row and col
        # one row / one column / a plain factor of a matrix chain, read by mul's fast path
        node.flags = (row | (col << 1)
                      | ((not (row and col) and op not in _NOT_PLAIN_FACTOR) << 2))
        with _TABLE_LOCK:  # another thread may have built the same node meanwhile: keep one
            existing = cls._table.get(k)
            if existing is not None:
                return existing
            cls._table[k] = node
        return node

    def __reduce__(self):
        return (Expr, (self.op, self.args, self.shape, self.attr))

    # identity semantics (hash-consing makes structural equality identity)
    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __lt__(self, other):
        return self.key < other.key

    @property
    def rows(self):
        return self.shape[0]

    @property
    def cols(self):
        return self.shape[1]

    def __str__(self) -> str:
        from ..render.text import to_text

        return to_text(self)

    def __repr__(self) -> str:
        return f"Expr<{self}: {shape_str(self.shape)}>"

    def latex(self) -> str:
        from ..render.latex import to_latex

        return to_latex(self)

    def _repr_latex_(self) -> str:
        return "$" + self.latex() + "$"

    def to_sympy(self):
        """This expression in SymPy: ``MatrixSymbol`` leaves of symbolic size, ``Trace``,
        ``Inverse``, ... (:mod:`matdiff.interop.sympy`; a 1x1 expression is a SymPy scalar)."""
        from ..interop.sympy import to_sympy
        from .errors import api_boundary

        return api_boundary(to_sympy)(self)

    def walk(self):
        """All nodes of the DAG, each once, children before parents (iterative)."""
        return postorder([self])

    def free_vars(self) -> set:
        return {n.attr[0] for n in self.walk() if n.op == "var"}

    def has_op(self, op: str) -> bool:
        """Some node of the DAG has this op (memoized per node: linear over a whole walk)."""
        return op in _ops_in(self)


def _ops_in(e: Expr) -> frozenset:
    """The ops of every node under ``e``, memoized per node (in the node); iterative, stopping
    at nodes already known, so asking at every node of a deep chain costs linear time in all."""
    try:
        return e._opsin
    except AttributeError:
        pass
    stack = [(e, False)]
    while stack:
        node, ready = stack.pop()
        if ready:
            node._opsin = frozenset((node.op,)).union(*[a._opsin for a in node.args])
            continue
        if hasattr(node, "_opsin"):
            continue
        stack.append((node, True))
        stack.extend((a, False) for a in node.args if not hasattr(a, "_opsin"))
    return e._opsin


def postorder(roots, known=()) -> list:
    """Every node reachable from ``roots`` (anything with ``.args``), each once, children
    before parents; iterative, so depth is no concern. Nodes in ``known`` (a set or dict,
    closed under taking arguments, as a pass's memo is) are left out and not entered."""
    seen = set()
    order = []
    stack = [(r, False) for r in reversed(roots) if r not in known]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        if known:  # the arguments not known yet, picked out by a C loop (a new node over known ones)
            for a in list(filterfalse(known.__contains__, reversed(node.args))):
                if id(a) not in seen:
                    stack.append((a, False))
        else:
            for a in reversed(node.args):
                if id(a) not in seen:
                    stack.append((a, False))
    return order


# ---------------------------------------------------------------------------- leaves


def var(name: str, shape, symmetric: bool = False) -> Expr:
    return Expr("var", (), shape, (name, bool(symmetric)))


def dvar(name: str, shape, symmetric: bool = False) -> Expr:
    """The differential ``dX`` of variable X (a leaf)."""
    return Expr("dvar", (), shape, (name, bool(symmetric)))


def const(value) -> Expr:
    if not isinstance(value, Fraction):
        value = Fraction(value)
    return Expr("const", (), SCALAR, value)


ONE = const(1)
ZERO_S = const(0)


def eye(n) -> Expr:
    if n == 1:
        return ONE
    return Expr("eye", (), (n, n))


def ones(shape) -> Expr:
    if is_scalar_shape(shape):
        return ONE
    return Expr("ones", (), tuple(shape))


def zero(shape) -> Expr:
    if is_scalar_shape(shape):
        return ZERO_S
    return Expr("zero", (), tuple(shape))


def commutation(m, n) -> Expr:
    """K(m,n): the mn x mn commutation matrix, K vec(A) = vec(A') for A m x n."""
    if m == 1 or n == 1:
        return eye(dim_mul(m, n))
    size = dim_mul(m, n)
    return Expr("K", (), (size, size), (m, n))


def is_zero(e: Expr) -> bool:
    return e.op == "zero" or (e.op == "const" and e.attr == 0)


def is_const(e: Expr, value=None) -> bool:
    return e.op == "const" and (value is None or e.attr == value)


# ---------------------------------------------------------------------------- sums


def split_coeff(e: Expr):
    """e == c * rest with c a rational constant."""
    if e.op == "const":
        return e.attr, ONE
    if e.op == "mul" and e.args[0].op == "const":
        rest = e.args[1:]
        if len(rest) == 1:
            return e.args[0].attr, rest[0]
        return e.args[0].attr, Expr("mul", rest, e.shape)
    return Fraction(1), e


def add(*terms: Expr) -> Expr:
    """Sum of same-shaped terms (scalars must be broadcast explicitly with ``bcast``)."""
    tr = _TRACER.get()
    flat = []
    stack = list(reversed(terms))
    while stack:
        t = stack.pop()
        if t.op == "add":
            stack.extend(reversed(t.args))
        else:
            flat.append(t)
    if not flat:
        raise ValueError("add() needs at least one term")
    if tr is not None and len(flat) != len(terms):
        tr.append(Step(NF_ADD_FLATTEN, terms, tuple(flat), ("normal", "add")))
    if len(flat) > 1 and any(t.op == "block" or (t.op == "mul" and t.args[-1].op == "block") for t in flat):
        merged = _add_blocks(flat)
        if merged is not None:
            return merged
    shape = flat[0].shape
    for t in flat:
        if t.shape != shape:
            raise AssertionError(f"internal: add of shapes {shape_str(shape)} and {shape_str(t.shape)}")
    coeffs: dict = {}
    order = []
    bcasts = []
    for t in flat:
        if is_zero(t):
            continue
        if t.op == "bcast":
            bcasts.append(t.args[0])
            continue
        if t.op == "ones":  # 1 broadcast
            bcasts.append(ONE)
            continue
        c, rest = split_coeff(t)
        if rest in coeffs:
            coeffs[rest] += c
        else:
            coeffs[rest] = c
            order.append(rest)
    out = []
    for rest in order:
        c = coeffs[rest]
        if c != 0:
            out.append(scale(c, rest))
    if bcasts:
        b = bcast(add(*bcasts), shape)
        if not is_zero(b):
            out.append(b)
    if tr is not None:
        _add_steps(tr, flat, order, bcasts, out)
    if not out:
        return zero(shape)
    if len(out) == 1:
        return out[0]
    before = tr is not None and tuple(out)
    out.sort(key=lambda e: split_coeff(e)[1].key)
    if before and before != tuple(out):
        tr.append(Step(NF_ADD_ORDER, before, tuple(out), ("normal", "add")))
    return Expr("add", tuple(out), shape)


def _add_steps(tr, flat, order, bcasts, out):
    """Which of add's normal-form steps fired (only called while tracing)."""
    if any(is_zero(t) for t in flat):
        tr.append(Step(NF_ADD_ZERO, tuple(flat), tuple(t for t in flat if not is_zero(t)), ("normal", "add")))
    if len(order) + len(bcasts) < len([t for t in flat if not is_zero(t)]) or len(out) < len(order):
        tr.append(Step(NF_ADD_COLLECT, tuple(flat), tuple(out), ("normal", "add")))
    if len(bcasts) > 1:
        tr.append(Step(NF_ADD_BCAST, tuple(flat), tuple(out), ("normal", "add")))


def sub(a: Expr, b: Expr) -> Expr:
    return add(a, neg(b))


def neg(a: Expr) -> Expr:
    return scale(-1, a)


def scale(c, e: Expr) -> Expr:
    """c * e for a rational c."""
    c = Fraction(c)
    if c == 1:
        return e
    return mul(const(c), e)


# ---------------------------------------------------------------------------- products


def _chain_base(f: Expr):
    """f == base^k in the matrix-power sense: (base, k)."""
    if f.op == "mpow":
        b, k = f.args[0], f.attr
        if b.op == "inv":
            return b.args[0], -k
        return b, k
    if f.op == "inv":
        return f.args[0], -1
    return f, 1


def _chain_power(base: Expr, k: int) -> Expr:
    if k == 0 or base.op == "eye":  # I^k = I
        return eye(base.rows)
    if k == 1:
        return base
    if k == -1:
        return Expr("inv", (base,), base.shape)
    if k > 1:
        return Expr("mpow", (base,), base.shape, k)
    return Expr("mpow", (Expr("inv", (base,), base.shape),), base.shape, -k)


def _scalar_base(f: Expr):
    """f == base^e with e a constant: (base, e)."""
    if f.op == "pow" and f.args[1].op == "const":
        return f.args[0], f.args[1].attr
    return f, Fraction(1)


def factors(e: Expr):
    """(coeff, scalar factors, matrix chain) of a product (or of any node as a 1-factor product).

    The lists are the caller's own; a product's split is computed once per node (rules ask
    for it at every visit, and gradient terms are long chains)."""
    if e.op == "const":
        return e.attr, [], []
    if e.op != "mul":
        return (Fraction(1), [e], []) if e.is_scalar else (Fraction(1), [], [e])
    coeff, scal, chain = _split(e)
    return coeff, list(scal), list(chain)


def _split(e: Expr):
    """factors() of a product as tuples, cached in the node."""
    try:
        return e._factors
    except AttributeError:
        coeff = Fraction(1)
        scal, chain = [], []
        args = e.args
        isc = list(map(_get_is_scalar, args))
        j = isc.index(False) if False in isc else len(isc)
        if True not in isc[j:]:  # scalars first, then the chain (the normal form)
            chain, args = list(args[j:]), args[:j]
        for a in args:
            if a.op == "const":
                coeff *= a.attr
            elif a.is_scalar:
                scal.append(a)
            else:
                chain.append(a)
        out = e._factors = (coeff, tuple(scal), tuple(chain))
        return out


def argops(e: Expr) -> frozenset:
    """The ops of the node's arguments (not deeper), computed once per node: a rule that needs
    a factor of some op rejects a product without one at no cost per factor."""
    try:
        return e._argops
    except AttributeError:
        ops = e._argops = frozenset([a.op for a in e.args])
        return ops


def _mul_plain(args):
    """mul(*args) when the product is already in normal form once nested products are
    spliced in, else None (then mul's general path decides). Normal already: constants
    (nonzero) and non-scalar products of no scalar factor, spliced, leave a chain of at least
    two plain non-scalar factors (no op that mul merges, splits or regroups: see
    ``_NOT_PLAIN_FACTOR``), no two neighbours the same node (A*A is A^2), no one-row factor
    but the first and no one-column factor but the last (u'*v inside a chain is a scalar
    stretch). Then every rewrite of the general path is the identity, and the product is
    built directly, in time linear at C speed in the length of the chain, which is what keeps
    the derivation of long products (tr(X*A1*X*A2*...)) from costing many Python steps per
    factor. Never used under a tracer (explanations record the normal-form steps)."""
    coeff = 1
    chain: list = []
    ops = list(map(_get_op, args))
    if "mul" in ops:
        done = _mul_splice(args)
        if done is not _NO_SPLICE:
            return done
    else:  # the usual cases, with no Python step per factor
        n_const = ops.count("const")
        if n_const == 0:
            args, chain = (), list(args)
        elif n_const == 1 and ops[0] == "const":
            coeff, args, chain = args[0].attr, (), list(args[1:])
    for a in args:
        op = a.op
        if op == "mul":
            if a.is_scalar:
                return None
            c, s, ch = _split(a)
            if s:
                return None
            coeff *= c
            chain.extend(ch)
        elif op == "const":
            coeff *= a.attr
        else:
            chain.append(a)
    if coeff == 0 or len(chain) < 2:
        return None
    # (map/attrgetter and list comparisons: the per-factor work runs in C)
    fl = list(map(_get_flags, chain))
    if (fl[0] & 6) != 4 or (fl[-1] & 5) != 4 or fl.count(4) < len(fl) - 2 + (fl[0] == 4) + (fl[-1] == 4):
        return None
    if any(map(_is, chain, chain[1:])):
        return None
    shapes = list(map(_get_shape, chain))
    if list(map(_get_cols, shapes[:-1])) != list(map(_get_rows, shapes[1:])):
        return None  # the general path reports the mismatch
    shape = (shapes[0][0], shapes[-1][1])
    node = Expr("mul", tuple(chain) if coeff == 1 else (const(coeff), *chain), shape)
    node._plainchain = True
    return node


_NO_SPLICE = object()  # _mul_splice's "not a splice of plain chains": the general check decides


def _mul_splice(args):
    """_mul_plain for a product of plain chains (products _mul_plain built: its checks hold
    inside each) and plain single factors, constants in front: only the joints are checked,
    and the hash and depth come from the parts', so the work per part is a few Python steps
    plus the C copy of its factors. ``_NO_SPLICE`` when a part is none of these or a joint
    needs the general path's rewrites (then the general check decides)."""
    coeff = 1
    segs = []
    polys = []
    joints = []  # (the factor left of a joint, the one right of it, the right one's position)
    depth = 0
    n = 0
    last = None
    for a in args:
        op = a.op
        if op == "const":
            if segs:
                return _NO_SPLICE
            coeff *= a.attr
            continue
        if op == "mul":
            try:
                if not a._plainchain:
                    return _NO_SPLICE
            except AttributeError:
                return _NO_SPLICE
            seg = a.args
            p = a._poly
            if seg[0].op == "const":  # c*chain: the coefficient joins ours
                c0 = seg[0]
                coeff *= c0.attr
                seg = seg[1:]
                p = (p - c0.key[2] * _powers(len(seg))[len(seg)]) % _HASH_MOD
            d = a.depth - 1
        else:
            if not a.flags & 4:  # a scalar, or an op mul merges or regroups
                return _NO_SPLICE
            seg = (a,)
            p = a.key[2]
            d = a.depth
        head = seg[0]
        if last is not None:
            if last is head or last.shape[1] != head.shape[0]:
                return _NO_SPLICE
            joints.append((last, head, n))
        last = seg[-1]
        n += len(seg)
        segs.append(seg)
        polys.append(p)
        if d > depth:
            depth = d
    if coeff == 0 or n < 2 or not segs:
        return _NO_SPLICE
    first = segs[0][0]
    if (first.flags & 6) != 4 or (last.flags & 5) != 4:
        return _NO_SPLICE
    for left, right, pos in joints:  # a factor inside the chain: plain, and no vector
        if (pos - 1 > 0 and left.flags != 4) or (pos < n - 1 and right.flags != 4):
            return _NO_SPLICE
    chain = []
    poly = 0
    for seg, p in zip(segs, polys):
        chain.extend(seg)
        poly = (poly * _powers(len(seg))[len(seg)] + p) % _HASH_MOD
    if coeff != 1:
        c = const(coeff)
        poly = (c.key[2] * _powers(n)[n] + poly) % _HASH_MOD
        depth = max(depth, c.depth)
        chain.insert(0, c)
    node = Expr("mul", tuple(chain), (first.shape[0], last.shape[1]), None, poly, depth)
    node._plainchain = True
    return node


def mul(*args: Expr) -> Expr:
    """Product: matrix product of the non-scalar factors (in order), scaled by the scalar ones."""
    tr = _TRACER.get()
    if tr is None and len(args) > 1:
        done = _mul_plain(args)
        if done is not None:
            return done
    coeff = Fraction(1)
    scal: list = []
    chain: list = []
    for a in args:
        if a.op == "mul":
            c, s, ch = factors(a)
            coeff *= c
            scal.extend(s)
            if a.is_scalar and ch:
                # a scalar-valued chain (x'*y) stays grouped: it commutes as a whole
                scal.append(ch[0] if len(ch) == 1 else Expr("mul", tuple(ch), SCALAR))
            else:
                chain.extend(ch)
        elif a.op == "const":
            coeff *= a.attr
        elif a.is_scalar:
            scal.append(a)
        else:
            chain.append(a)
    if tr is not None:
        if any(a.op == "mul" for a in args):
            tr.append(Step(NF_MUL_FLATTEN, args, ((const(coeff),) if coeff != 1 else ()) + tuple(scal + chain),
                           ("normal", "mul")))
        if coeff != 1 or sum(a.op == "const" for a in args) > 1:
            tr.append(Step(NF_MUL_CONST, args, (const(coeff), *scal, *chain), ("normal", "mul")))
    if any(a.op == "bcast" for a in chain):  # s*ones inside a product: s joins the scalars
        if tr is not None:
            tr.append(Step(NF_MUL_BCAST, tuple(chain), tuple(chain), ("normal", "mul")))
        scal.extend(a.args[0] for a in chain if a.op == "bcast")
        chain = [ones(a.shape) if a.op == "bcast" else a for a in chain]
        if coeff != 1 or any(f.op in ("const", "mul") or is_zero(f) for f in scal):
            return mul(const(coeff), *scal, *chain)
    # shape of the result
    if chain:
        for left, right in zip(chain, chain[1:]):
            if left.cols != right.rows:
                raise AssertionError(
                    f"internal: product of {shape_str(left.shape)} and {shape_str(right.shape)}")
        shape = (chain[0].rows, chain[-1].cols)
    else:
        shape = SCALAR
    if coeff == 0 or any(is_zero(a) for a in scal) or any(a.op == "zero" for a in chain):
        return zero(shape) if tr is None else _fire(NF_MUL_ZERO, args, zero(shape))
    if len(chain) > 1 and any(a.op == "block" for a in chain):
        merged = _mul_blocks(chain)
        if merged is not None:
            return mul(const(coeff), *scal, *merged)
    # merge powers of equal scalar bases: s * s^-1 -> 1, s*s -> s^2
    if len(scal) > 1:
        before = tuple(scal)
        exps: dict = {}
        order = []
        # a symbolic exponent merges too, where its base occurs again: det(X)*det(X)^(1/n - 1)
        # = det(X)^(1/n); alone, s^a keeps its form
        symbolic = [f.op == "pow" and f.args[1].op != "const" for f in scal]
        if any(symbolic):
            bases = [f.args[0] if sy else _scalar_base(f)[0] for f, sy in zip(scal, symbolic)]
            repeated = {b for b in bases if bases.count(b) > 1}
        for i, f in enumerate(scal):
            if symbolic[i] and f.args[0] in repeated:
                b, e = f.args
            else:
                b, e = _scalar_base(f)
            if b in exps:
                exps[b].append(e)
            else:
                exps[b] = [e]
                order.append(b)
        scal = []
        for b in order:
            es = exps[b]
            if all(isinstance(e, Fraction) for e in es):
                p = power(b, const(sum(es, Fraction(0))))
            else:
                p = power(b, add(*[const(e) if isinstance(e, Fraction) else e for e in es]))
            if p.op == "const":
                coeff *= p.attr
            elif p.op == "mul":
                c, s, ch = factors(p)
                coeff *= c
                scal.extend(s)
                if ch:
                    scal.append(Expr("mul", tuple(ch), SCALAR))
            else:
                scal.append(p)
        if tr is not None and len(order) < len(before):
            tr.append(Step(NF_MUL_SPOWERS, before, tuple(scal), ("normal", "mul")))
        if coeff == 0:
            return zero(shape)
    # merge adjacent powers in the chain: A*A -> A^2, inv(A)*A -> I; drop identities
    if chain:
        before = tuple(chain)
        merged: list = []
        for f in chain:
            if f.op == "eye":  # I*A -> A, I*I -> I (not I^2)
                continue
            b, k = _chain_base(f)
            if merged and merged[-1][0] is b:
                merged[-1][1] += k
            else:
                merged.append([b, k])
        chain = []
        for b, k in merged:
            p = _chain_power(b, k)
            if p.op != "eye":
                chain.append(p)
        if not chain:
            chain = [eye(shape[0])]
        if tr is not None and tuple(chain) != before:
            if any(f.op == "eye" for f in before):
                tr.append(Step(NF_MUL_IDENTITY, before, tuple(chain), ("normal", "mul")))
            if len(merged) < len([f for f in before if f.op != "eye"]):
                tr.append(Step(NF_MUL_CPOWERS, before, tuple(chain), ("normal", "mul")))
    # a row (column) of ones next to a diagonal matrix picks its vector: ones(1, n)*diag(v) = v'
    # ones(a, n)*ones(n, b) = n*ones(a, b), n as sum(ones(n, 1)) when it is a size name
    if len(chain) >= 2 and any(f.op in ("diagm", "ones") for f in chain):
        picked: list = []
        for f in chain:
            if f.op == "ones" and picked and picked[-1].op == "ones":
                scal = [*scal, sum_(ones((f.rows, 1)))]
                picked[-1] = ones((picked[-1].rows, f.cols))
            elif f.op == "diagm" and picked and picked[-1].op == "ones" and picked[-1].rows == 1:
                picked[-1] = transpose(f.args[0])
            elif f.op == "ones" and f.cols == 1 and picked and picked[-1].op == "diagm":
                picked[-1] = picked[-1].args[0]
            else:
                picked.append(f)
        if len(picked) < len(chain):
            if tr is not None:
                tr.append(Step(NF_MUL_ONES_DIAG, tuple(chain), tuple(picked), ("normal", "mul")))
            return mul(const(coeff), *scal, *picked)
    # a scalar-valued stretch inside a chain (A*x*y'*z -> (y'*z)*A*x) is a scalar factor
    if len(chain) >= 3:
        groups, rest, i, n = [], [], 0, len(chain)
        while i < n:
            if chain[i].rows == 1:
                j = next((j for j in range(i + 1, n) if chain[j].cols == 1), None)
                if j is not None and not (i == 0 and j == n - 1):
                    groups.append(mul(*chain[i:j + 1]))
                    i = j + 1
                    continue
            rest.append(chain[i])
            i += 1
        if groups:
            if tr is not None:
                tr.append(Step(NF_MUL_STRETCH, tuple(chain), (*groups, *rest), ("normal", "mul")))
            return mul(const(coeff), *scal, *groups, *rest)
    # a scalar-valued chain next to other scalar factors is one of them: (x'*x)*x'*x -> (x'*x)^2
    if len(chain) >= 2 and shape == SCALAR and any(s.op in ("mul", "pow") for s in scal):
        grouped = Expr("mul", tuple(chain), SCALAR)
        if tr is not None:
            tr.append(Step(NF_MUL_SCALAR_CHAIN, tuple(chain), (grouped,), ("normal", "mul")))
        return mul(const(coeff), *scal, grouped)
    # a scalar product with no chain of its own but one grouped chain: splice it back
    if not chain and len([s for s in scal if s.op == "mul"]) == 1:
        grp = next(s for s in scal if s.op == "mul")
        if not any(a.is_scalar for a in grp.args):
            scal = [s for s in scal if s is not grp]
            chain = list(grp.args)
            if tr is not None:
                tr.append(Step(NF_MUL_SPLICE, (grp,), tuple(chain), ("normal", "mul")))
    if tr is not None and len(scal) > 1:
        before = tuple(scal)
        scal.sort()
        if tuple(scal) != before:
            tr.append(Step(NF_MUL_ORDER, before, tuple(scal), ("normal", "mul")))
    else:
        scal.sort()
    if len(chain) == 1 and chain[0].op == "ones" and (scal or coeff != 1):  # s * ones is a broadcast scalar
        out = bcast(mul(const(coeff), *scal), shape)
        return out if tr is None else _fire(NF_MUL_TO_BCAST, args, out)
    out = ([const(coeff)] if coeff != 1 else []) + scal + chain
    if not out:
        return ONE
    if len(out) == 1:
        return out[0]
    if not chain and coeff != 1 and not scal:
        return const(coeff)
    return Expr("mul", tuple(out), shape)


def power(b: Expr, e: Expr) -> Expr:
    """Scalar power b^e (both scalars)."""
    if e.op == "const":
        p = e.attr
        if p == 0:
            return ONE
        if p == 1:
            return b
        if b.op == "const":
            if p.denominator == 1 and not (b.attr == 0 and p < 0):
                return const(b.attr ** int(p))
        if b.op == "pow" and b.args[1].op == "const" and p.denominator == 1:
            return power(b.args[0], const(b.args[1].attr * p))
        if b.op == "fn" and b.attr == "sqrt" and p.denominator == 1 and p % 2 == 0:
            return _fire(NF_POW_SQRT, Expr("pow", (b, e), SCALAR), power(b.args[0], const(p / 2)))
        if b.op == "mul" and p.denominator == 1:
            c, s, ch = factors(b)
            parts = [const(c ** int(p))] if c != 0 or p > 0 else []
            parts += [power(f, e) for f in s]
            if ch:
                parts.append(Expr("pow", (Expr("mul", tuple(ch), SCALAR), e), SCALAR))
            return mul(*parts)
    return Expr("pow", (b, e), SCALAR)


def div(a: Expr, s: Expr) -> Expr:
    """a / s for a scalar s."""
    return mul(a, power(s, const(-1)))


# ---------------------------------------------------------------------------- matrix functions


def transpose(a: Expr) -> Expr:
    if a.is_scalar:
        return a
    if _TRACER.get() is None:  # a node's transpose is computed once (gradients transpose long chains)
        try:
            return a._T
        except AttributeError:
            t = a._T = _transpose(a)
            return t
    return _transpose(a)


def transposes(factors) -> list:
    """[transpose(f) for f in factors], from the nodes' remembered transposes where every
    factor has one (a C loop: gradients transpose long chains factor by factor)."""
    factors = list(factors)
    if _TRACER.get() is None:
        try:
            return list(map(_get_T, factors))
        except AttributeError:
            pass
    return [transpose(f) for f in factors]


def _transpose(a: Expr) -> Expr:
    op = a.op
    if op == "transpose":
        return _fire(NF_T_INVOLUTION, a, a.args[0], "transpose")
    if op in ("var", "dvar") and a.attr[1]:
        return _fire(NF_T_SYMMETRIC, a, a, "transpose")
    if op in ("eye", "diagm"):
        return _fire(NF_T_SYMMETRIC, a, a, "transpose")
    if op == "K":  # K(m,n)' = K(n,m) (its inverse: a permutation)
        return commutation(a.attr[1], a.attr[0])
    if op in ("zero", "ones"):
        return Expr(op, (), (a.cols, a.rows))
    if op == "bcast":
        return bcast(a.args[0], (a.cols, a.rows))
    if op == "block":
        g = block_grid(a)
        return _fire(NF_BLOCK_T, a, block([[transpose(g[i][j]) for i in range(len(g))]
                                             for j in range(len(g[0]))]), "transpose")
    if op == "mul":
        c, s, ch = factors(a)
        if len(ch) == 1:  # (s*A)' -> s*A'
            return _fire(NF_T_SCALED, a, mul(const(c), *s, transpose(ch[0])), "transpose")
    return Expr("transpose", (a,), (a.cols, a.rows))


def trace(a: Expr) -> Expr:
    if a.is_scalar:
        return a
    op = a.op
    if op == "zero":
        return ZERO_S
    if op == "eye" and isinstance(a.rows, int):
        return const(a.rows)
    if op == "transpose":
        return _fire(NF_TR_TRANSPOSE, a, trace(a.args[0]), "trace")
    if op == "block" and a.attr[0] == a.attr[1]:  # square diagonal blocks
        g = block_grid(a)
        return _fire(NF_BLOCK_TRACE, a, add(*(trace(g[i][i]) for i in range(len(g)))), "trace")
    if op == "mul":
        c, s, ch = factors(a)
        if c != 1 or s:
            return _fire(NF_TR_SCALED, a, mul(const(c), *s, trace(mul(*ch))), "trace")
    return Expr("trace", (a,), SCALAR)


def det(a: Expr) -> Expr:
    if a.is_scalar:
        return a
    if a.op == "eye":
        return ONE
    if a.op == "transpose":
        return det(a.args[0])
    return Expr("det", (a,), SCALAR)


def logdet(a: Expr) -> Expr:
    if a.is_scalar:
        return fn("log", fn("abs", a))
    if a.op == "eye":
        return ZERO_S
    if a.op == "transpose":
        return logdet(a.args[0])
    if a.op == "inv":
        return _fire(NF_LOGDET_INV, a, neg(logdet(a.args[0])), "logdet")
    return Expr("logdet", (a,), SCALAR)


def inv(a: Expr) -> Expr:
    if a.is_scalar:
        return power(a, const(-1))
    if a.op == "inv":
        return _fire(NF_INV_INVOLUTION, a, a.args[0], "inv")
    if a.op == "eye":
        return a
    if a.op == "transpose":
        return _fire(NF_INV_TRANSPOSE, a, transpose(inv(a.args[0])), "inv")
    if a.op == "mpow":
        return _chain_power(*_chain_mul_base(a, -1))
    if a.op == "mul":
        c, s, ch = factors(a)
        if (c != 1 or s) and len(ch) == 1:  # inv(s*A) = s^-1 inv(A)
            return _fire(NF_INV_SCALED, a, mul(power(mul(const(c), *s), const(-1)), inv(ch[0])), "inv")
    return Expr("inv", (a,), a.shape)


def _chain_mul_base(a, k):
    b, j = _chain_base(a)
    return b, j * k


def mpow(a: Expr, k: int) -> Expr:
    """Matrix power A^k for integer k (A square)."""
    if a.is_scalar:
        return power(a, const(k))
    b, j = _chain_base(a)
    return _chain_power(b, j * k)


# ---------------------------------------------------------------------------- elementwise


def _pull_scalars(e: Expr):
    """e == s * M with s a scalar (possibly 1) and M non-scalar: (scalar factors, M)."""
    if e.op == "mul":
        c, s, ch = factors(e)
        if c != 1 or s:
            s2, m = _pull_scalars(mul(*ch))
            return ([const(c)] if c != 1 else []) + s + s2, m
    if e.op == "bcast":
        return [e.args[0]], ones(e.shape)
    return [], e


def had_fraction(e: Expr):
    """The factors of a Hadamard product as ``(numerator, denominator)`` lists: a factor
    ``B.^-k`` is ``B.^k`` in the denominator (how A ./ B is printed and evaluated)."""
    num, den = [], []
    for f in e.args:
        if f.op == "hpow" and f.args[1].op == "const" and f.args[1].attr < 0:
            den.append(hpow(f.args[0], const(-f.args[1].attr)))
        else:
            num.append(f)
    return num, den


def had(*args: Expr) -> Expr:
    """Elementwise (Hadamard) product; scalar arguments scale."""
    shape = SCALAR
    for a in args:
        if not a.is_scalar:
            shape = a.shape
    if shape == SCALAR:
        return mul(*args)
    scal = []
    flat = []
    stack = list(reversed(args))
    while stack:
        a = stack.pop()
        if a.is_scalar:
            scal.append(a)
            continue
        if a.shape != shape:
            raise AssertionError(f"internal: .* of {shape_str(shape)} and {shape_str(a.shape)}")
        s, m = _pull_scalars(a)
        scal.extend(s)
        if m.op == "had":
            stack.extend(reversed(m.args))
        elif m.op == "zero":
            return zero(shape)
        elif m.op != "ones":
            flat.append(m)
    # merge powers of the same base: A .* A -> A.^2
    exps: dict = {}
    order = []
    for f in flat:
        if f.op == "hpow" and f.args[1].op == "const":
            b, p = f.args[0], f.args[1].attr
        else:
            b, p = f, Fraction(1)
        if b in exps:
            exps[b] += p
        else:
            exps[b] = p
            order.append(b)
    flat = [hpow(b, const(exps[b])) for b in order]
    flat = [f for f in flat if f.op != "ones"]
    if not flat:
        inner = ones(shape)
    elif len(flat) == 1:
        inner = flat[0]
    else:
        flat.sort()
        inner = Expr("had", tuple(flat), shape)
    return mul(*scal, inner) if scal else inner


def hpow(a: Expr, p: Expr) -> Expr:
    """Elementwise power a .^ p: p a scalar, or an array of a's shape (entry by entry; a
    scalar a is then broadcast to p's shape)."""
    if not p.is_scalar:
        if p.op == "bcast":  # a .^ (s*1) = a .^ s
            return hpow(bcast(a, p.shape) if a.is_scalar else a, p.args[0])
        if a.is_scalar:
            a = bcast(a, p.shape)
        if tuple(a.shape) != tuple(p.shape):
            raise ValueError(f"hpow: exponent of shape {p.shape} for a base of shape {a.shape}")
        if a.op == "ones":
            return a
        return Expr("hpow", (a, p), a.shape)
    if a.is_scalar:
        return power(a, p)
    if p.op == "const":
        k = p.attr
        if k == 0:
            return ones(a.shape)
        if k == 1:
            return a
        if a.op == "ones":
            return a
        if a.op == "bcast" and a.args[0].op == "const" and k.denominator == 1:  # (c*1).^k = c^k*1
            return bcast(power(a.args[0], p), a.shape)
        if a.op == "hpow" and a.args[1].op == "const" and k.denominator == 1:
            return hpow(a.args[0], const(a.args[1].attr * k))
        if a.op == "had" and k.denominator == 1:
            return had(*[hpow(f, p) for f in a.args])
    s, m = _pull_scalars(a)
    if s and m is not a and p.op == "const" and p.attr.denominator == 1:  # (s*M).^k = s^k * M.^k
        return mul(power(mul(*s), p), hpow(m, p))
    return Expr("hpow", (a, p), a.shape)


# the elementwise functions are declared in matdiff/ops/elementwise.py (the only list)


def fn(name: str, a: Expr) -> Expr:
    """Elementwise function (ordinary function on scalars)."""
    table = _ew.ELEMENTWISE
    at_zero = table[name].at_zero if name in table else None
    if a.op == "const":
        v = a.attr
        if v == 0 and at_zero is not None:  # f(0), from the function's declaration
            return _fire(NF_FN_CONST, a, const(at_zero), "fn", name)
        if name == "log" and v == 1:
            return _fire(NF_FN_CONST, a, ZERO_S, "fn", name)
        if name == "abs":
            return _fire(NF_FN_CONST, a, const(abs(v)), "fn", name)
        if name == "sign":
            return _fire(NF_FN_CONST, a, const((v > 0) - (v < 0)), "fn", name)
        if name == "step":
            return _fire(NF_FN_CONST, a, const(1 if v > 0 else 0), "fn", name)
    if a.op == "zero" and at_zero == 0:  # f(0) = 0 entry by entry
        return _fire(NF_FN_CONST, a, a, "fn", name)
    if name == "log" and a.op == "fn" and a.attr == "exp":  # log(exp(x)) = x
        return _fire(NF_LOG_EXP, a, a.args[0], "fn", name)
    if name == "log" and a.op == "mul":
        # log(c*exp(u)) = u + log(c) for a scalar c, also where c <= 0 (nan, -inf alike): the
        # log of a softmax, log(exp(u)/sum(exp(u))), is u - log(sum(exp(u))), stable and short
        coeff, scal, chain = factors(a)
        pool = chain if chain else scal
        if len(chain) <= 1 and any(f.op == "fn" and f.attr == "exp" for f in pool):
            e = next(f for f in pool if f.op == "fn" and f.attr == "exp")
            rest = fn("log", mul(const(coeff), *[f for f in scal if f is not e]))
            u = e.args[0]
            return _fire(NF_LOG_SCALED_EXP, a, add(u, rest if u.is_scalar else bcast(rest, u.shape)),
                         "fn", name)
    if name == "log" and a.op == "pow" and a.is_scalar and a.args[1].op == "const" \
            and a.args[1].attr == -1:  # log(1/s) = -log(s), also for s <= 0 (nan, inf alike)
        return _fire(NF_LOG_RECIPROCAL, a, neg(fn("log", a.args[0])), "fn", name)
    if name == "abs" and a.op == "fn" and a.attr in ("abs", "exp", "sqrt", "sigmoid", "relu"):
        return _fire(NF_ABS_NONNEG, a, a, "fn", name)
    return Expr("fn", (a,), a.shape, name)


# ---------------------------------------------------------------------------- reductions, reshapes


def sum_(a: Expr) -> Expr:
    """Sum of all entries."""
    if a.is_scalar:
        return a
    if a.op == "zero":
        return ZERO_S
    if a.op == "transpose":
        return sum_(a.args[0])
    if a.op == "block":
        return _fire(NF_BLOCK_SUM, a, add(*(sum_(b) for b in a.args)), "sum")
    if a.op == "ones":
        n = dim_mul(a.rows, a.cols)
        if isinstance(n, int):
            return const(n)
    s, m = _pull_scalars(a)
    if s and m is not a:
        return mul(*s, sum_(m))
    return Expr("sum", (a,), SCALAR)


def norm2(a: Expr) -> Expr:
    """Euclidean norm of a vector, Frobenius norm of a matrix."""
    if a.is_scalar:
        return fn("abs", a)
    if a.op == "transpose":
        return norm2(a.args[0])
    if a.op == "zero":
        return ZERO_S
    return Expr("norm2", (a,), SCALAR)


def diagm(v: Expr) -> Expr:
    """Vector -> diagonal matrix."""
    if v.is_scalar:
        return v
    if v.op == "zero":
        return zero((v.rows, v.rows))
    if v.op == "ones":
        return eye(v.rows)
    s, m = _pull_scalars(v)
    if s and m is not v:
        return mul(*s, diagm(m))
    return Expr("diagm", (v,), (v.rows, v.rows))


def diagv(a: Expr) -> Expr:
    """Square matrix -> vector of its diagonal."""
    if a.is_scalar:
        return a
    if a.op == "diagm":
        return a.args[0]
    if a.op == "eye":
        return ones((a.rows, 1))
    if a.op == "zero":
        return zero((a.rows, 1))
    if a.op == "transpose":
        return diagv(a.args[0])
    s, m = _pull_scalars(a)
    if s and m is not a:
        return mul(*s, diagv(m))
    return Expr("diagv", (a,), (a.rows, 1))


def vec(a: Expr) -> Expr:
    """Column-major stacking into a column vector."""
    if a.cols == 1:
        return a
    if a.op == "unvec":
        return a.args[0]
    if a.op in ("zero", "ones"):
        return Expr(a.op, (), (dim_mul(a.rows, a.cols), 1))
    if a.rows == 1:  # vec(r) = r' for a row vector r
        return transpose(a)
    s, m = _pull_scalars(a)
    if s and m is not a:
        return mul(*s, vec(m))
    return Expr("vec", (a,), (dim_mul(a.rows, a.cols), 1))


def unvec(v: Expr, rows, cols) -> Expr:
    """Inverse of vec: a (rows*cols)-vector reshaped column-major to rows x cols."""
    if cols == 1:
        return v
    if rows == 1:  # unvec(v, 1) = v' (a column reshaped to one row)
        return transpose(v)
    if v.op == "vec" and v.args[0].shape == (rows, cols):
        return v.args[0]
    if v.op in ("zero", "ones"):
        return Expr(v.op, (), (rows, cols))
    s, m = _pull_scalars(v)
    if s and m is not v:
        return mul(*s, unvec(m, rows, cols))
    return Expr("unvec", (v,), (rows, cols))


def kron(a: Expr, b: Expr) -> Expr:
    if a.is_scalar:
        return mul(a, b)
    if b.is_scalar:
        return mul(b, a)
    shape = (dim_mul(a.rows, b.rows), dim_mul(a.cols, b.cols))
    if a.op == "zero" or b.op == "zero":
        return zero(shape)
    sa, ma = _pull_scalars(a)
    sb, mb = _pull_scalars(b)
    if sa or sb:
        return mul(*sa, *sb, kron(ma, mb))
    if a.op == "eye" and b.op == "eye":
        return eye(shape[0])
    return Expr("kron", (a, b), shape)


def trace_of_kron(a: Expr, b: Expr):
    """tr(kron(a, b)) in closed form where one holds for these shapes, else None.

    For A p x q and B r x s (pr = qs) the trace sums A[i,j]*B[k,l] over i*r + k = j*s + l.
    That is tr(A)*tr(B) only when A and B are both square; for a column u and a row w'
    it is w'*u, for a row u' and a column w it is u'*w. Other shapes (say X k x m with
    S m x k) have no closed form here: the caller keeps tr(kron(A, B)).
    """
    if a.rows == a.cols and b.rows == b.cols:  # tr(kron(A, B)) = tr(A)*tr(B)  (A, B square)
        return mul(trace(a), trace(b))
    if a.cols == 1 and b.rows == 1:  # tr(kron(u, w')) = w'*u
        return mul(b, a)
    if a.rows == 1 and b.cols == 1:  # tr(kron(u', w)) = u'*w
        return mul(a, b)
    return None


def dim_div(a, b):
    """a / b for dimensions, or None if b does not divide a."""
    ca, na = dim_parts(a)
    cb, nb = dim_parts(b)
    if cb == 0 or ca % cb:
        return None
    rest = list(na)
    for x in nb:
        if x not in rest:
            return None
        rest.remove(x)
    return make_dim(ca // cb, rest)


def _outer_factors(c: Expr):
    """(u, v) with c == u*v' for column vectors u, v (c a product with a 1-wide middle), else None."""
    if c.op != "mul":
        return None
    k, s, ch = factors(c)
    if k != 1 or s:
        return None
    for j in range(1, len(ch)):
        if ch[j - 1].cols == 1:
            return mul(*ch[:j]), transpose(mul(*ch[j:]))
    return None


def kronadj1(c: Expr, b: Expr) -> Expr:
    """Adjoint of M -> kron(M, B) applied to C: sum_kl B[k,l] C[i*p+k, j*q+l] (shape of M)."""
    if b.is_scalar:  # kron(M, s) = s*M, so kronadj1(C, s) = s*C
        return mul(b, c)
    rows, cols = dim_div(c.rows, b.rows), dim_div(c.cols, b.cols)
    if is_zero(c):
        return zero((rows, cols))
    if c.op == "kron" and c.args[1].shape == b.shape:  # kronadj1(kron(M, N), B) = <B, N> M
        return mul(inner(b, c.args[1]), c.args[0])
    if c.op == "ones":  # kronadj1(1, B) = sum(B) 1
        return mul(sum_(b), ones((rows, cols)))
    if c.op == "eye" and b.rows == b.cols and rows == cols:  # kronadj1(I, B) = tr(B) I  (B square)
        return mul(trace(b), eye(rows))
    if b.rows == 1:  # kronadj1(C, w') = C*kron(I, w)   (so kronadj1(I, w') = kron(I, w), M*w' -> C*w)
        return mul(c, kron(eye(cols), transpose(b)))
    if b.cols == 1:  # kronadj1(C, w) = kron(I, w')*C   (so kronadj1(I, w) = kron(I, w'))
        return mul(kron(eye(rows), transpose(b)), c)
    uv = _outer_factors(c)
    if uv is not None:  # kronadj1(u*v', B) = unvec(u, p)'*B*unvec(v, q)   (B p x q; vec(B*Y*A') trick)
        u, v = uv
        return mul(transpose(unvec(u, b.rows, rows)), b, unvec(v, b.cols, cols))
    s, m = _pull_scalars(c)
    if s and m is not c:
        return mul(*s, kronadj1(m, b))
    return Expr("kronadj1", (c, b), (rows, cols))


def kronadj2(a: Expr, c: Expr) -> Expr:
    """Adjoint of M -> kron(A, M) applied to C: sum_ij A[i,j] C[i*p+k, j*q+l] (shape of M)."""
    if a.is_scalar:  # kron(s, M) = s*M, so kronadj2(s, C) = s*C
        return mul(a, c)
    rows, cols = dim_div(c.rows, a.rows), dim_div(c.cols, a.cols)
    if is_zero(c):
        return zero((rows, cols))
    if c.op == "kron" and c.args[0].shape == a.shape:  # kronadj2(A, kron(M, N)) = <A, M> N
        return mul(inner(a, c.args[0]), c.args[1])
    if c.op == "ones":  # kronadj2(A, 1) = sum(A) 1
        return mul(sum_(a), ones((rows, cols)))
    if c.op == "eye" and a.rows == a.cols and rows == cols:  # kronadj2(A, I) = tr(A) I  (A square)
        return mul(trace(a), eye(rows))
    if a.cols == 1:  # kronadj2(u, C) = kron(u', I)*C   (so kronadj2(u, I) = kron(u', I))
        return mul(kron(transpose(a), eye(rows)), c)
    if a.rows == 1:  # kronadj2(u', C) = C*kron(u, I)   (so kronadj2(u', I) = kron(u, I))
        return mul(c, kron(transpose(a), eye(cols)))
    uv = _outer_factors(c)
    if uv is not None:  # kronadj2(A, u*v') = unvec(u, p)*A*unvec(v, q)'   (M p x q)
        u, v = uv
        return mul(unvec(u, rows, a.rows), a, transpose(unvec(v, cols, a.cols)))
    s, m = _pull_scalars(c)
    if s and m is not c:
        return mul(*s, kronadj2(a, m))
    return Expr("kronadj2", (a, c), (rows, cols))


def bcast(s: Expr, shape) -> Expr:
    """A scalar broadcast to an array of the given shape (s * ones)."""
    if is_scalar_shape(shape):
        return s
    if is_zero(s):
        return zero(shape)
    if is_const(s, 1):  # one canonical all-ones array
        return ones(shape)
    return Expr("bcast", (s,), tuple(shape))


def inner(a: Expr, b: Expr) -> Expr:
    """The Frobenius inner product <a, b> = tr(a'*b), written the way the Cookbook does."""
    if a.is_scalar:
        return mul(a, b)
    if a.op == "eye":
        return trace(b)
    if b.op == "eye":
        return trace(a)
    if a.op == "ones":
        return sum_(b)
    if b.op == "ones":
        return sum_(a)
    if a.cols == 1:
        return mul(transpose(a), b)
    if a.rows == 1:
        return mul(a, transpose(b))
    return trace(mul(transpose(a), b))


# ---------------------------------------------------------------------------- block matrices
NF_BLOCK_MUL = _nf("block.mul", "[A, B]*[C; D] = A*C + B*D;  [A; B]*M = [A*M; B*M];  M*[A, B] = [M*A, M*B]",
                   r"\begin{bmatrix}A & B\end{bmatrix}\begin{bmatrix}C\\ D\end{bmatrix} = AC + BD",
                   "partitioned matrices: the product of conformally partitioned matrices")
NF_BLOCK_ADD = _nf("block.add", "[A, B] + [C, D] = [A + C, B + D];  s*[A, B] = [s*A, s*B]",
                   r"\begin{bmatrix}A & B\end{bmatrix} + \begin{bmatrix}C & D\end{bmatrix} = "
                   r"\begin{bmatrix}A + C & B + D\end{bmatrix}", "partitioned matrices")
NF_BLOCK_T = _nf("block.transpose", "[A, B; C, D]' = [A', C'; B', D']",
                 r"\begin{bmatrix}A & B\\ C & D\end{bmatrix}^T = \begin{bmatrix}A^T & C^T\\ B^T & D^T\end{bmatrix}",
                 "partitioned matrices")
NF_BLOCK_TRACE = _nf("block.trace", "tr([A, B; C, D]) = tr(A) + tr(D) (square diagonal blocks)",
                     r"\operatorname{tr}\begin{bmatrix}A & B\\ C & D\end{bmatrix} = \operatorname{tr}A + "
                     r"\operatorname{tr}D", "partitioned matrices")
NF_BLOCK_SUM = _nf("block.sum", "sum([A, B; C, D]) = sum(A) + sum(B) + sum(C) + sum(D)",
                   r"\operatorname{sum}\begin{bmatrix}A & B\\ C & D\end{bmatrix} = \sum_{ij} \operatorname{sum} B_{ij}",
                   "partitioned matrices")
NF_BLOCK_EYE = _nf("block.identity", "[I, 0; 0, I] = I", r"\begin{bmatrix}I & 0\\ 0 & I\end{bmatrix} = I",
                   "partitioned matrices")


def block(rows) -> Expr:
    """The block (partitioned) matrix with these rows of blocks: ``rows`` is a list of lists
    of Exprs, all rows equally long; the blocks of a row have equal heights, those of a
    column equal widths. Sizes add up (``[A; B]`` has ``m + n`` rows). A 1x1 grid is its
    block; all-zero blocks make a zero; identity blocks on the diagonal and zeros elsewhere
    make an identity. ``attr`` is ``(row heights, column widths)``."""
    rows = [list(r) for r in rows]
    if not rows or not rows[0] or any(len(r) != len(rows[0]) for r in rows):
        raise ValueError("block(): give a non-empty grid of blocks, every row equally long")
    heights = tuple(r[0].rows for r in rows)
    widths = tuple(b.cols for b in rows[0])
    for i, r in enumerate(rows):
        for j, b in enumerate(r):
            if b.rows != heights[i] or b.cols != widths[j]:
                raise AssertionError(f"internal: block ({i + 1}, {j + 1}) is {shape_str(b.shape)}, "
                                     f"not {shape_str((heights[i], widths[j]))}")
    if len(rows) == 1 and len(widths) == 1:
        return rows[0][0]
    args = tuple(b for r in rows for b in r)
    shape = (dim_add(*heights), dim_add(*widths))
    if all(is_zero(a) for a in args):
        return zero(shape)
    if heights == widths and all((b.op == "eye" or is_const(b, 1)) if i == j else is_zero(b)
                                 for i, r in enumerate(rows) for j, b in enumerate(r)):
        return _fire(NF_BLOCK_EYE, args, eye(shape[0]), "block", (heights, widths))
    return Expr("block", args, shape, (heights, widths))


def block_grid(e: Expr) -> list:
    """The blocks of a block node as a list of rows."""
    nc = len(e.attr[1])
    return [list(e.args[i * nc:(i + 1) * nc]) for i in range(len(e.attr[0]))]


def block_selector(sizes, i) -> Expr:
    """The block row ``[0, ..., I, ..., 0]`` (``sizes[i]`` rows, ``sum(sizes)`` columns) that
    picks block ``i`` of a matrix partitioned by rows into ``sizes``."""
    return block([[eye(sizes[i]) if j == i else zero((sizes[i], sizes[j])) for j in range(len(sizes))]])


def _block_product(L: Expr, R: Expr):
    """L*R as one block matrix when a partitioned product applies, else None."""
    if L.op == "block" and R.op == "block" and L.attr[1] == R.attr[0]:
        gl, gr = block_grid(L), block_grid(R)
        return block([[add(*(mul(gl[i][k], gr[k][j]) for k in range(len(gr))))
                       for j in range(len(gr[0]))] for i in range(len(gl))])
    if L.op == "block" and len(L.attr[1]) == 1 and R.op != "block":
        return block([[mul(r[0], R)] for r in block_grid(L)])
    if R.op == "block" and len(R.attr[0]) == 1 and L.op != "block":
        return block([[mul(L, b) for b in block_grid(R)[0]]])
    return None


def _mul_blocks(chain):
    """A product chain with conformal block factors multiplied out (None: nothing to do)."""
    out, i, changed = list(chain), 0, False
    while i < len(out) - 1:
        m = _block_product(out[i], out[i + 1])
        if m is None:
            i += 1
            continue
        out[i:i + 2] = [m]
        changed = True
        i = max(i - 1, 0)
    if not changed:
        return None
    _fire(NF_BLOCK_MUL, tuple(chain), tuple(out))
    return out


def _scaled_block(t: Expr):
    """``(scalar factors, block)`` when t is a block times scalars, else None."""
    if t.op == "block":
        return (), t
    if t.op == "mul":
        c, s, ch = factors(t)
        if len(ch) == 1 and ch[0].op == "block":
            return ((const(c),) if c != 1 else ()) + tuple(s), ch[0]
    return None


def _add_blocks(flat):
    """A sum with two or more (scaled) blocks of one partition added blockwise (None: none)."""
    groups: dict = {}
    for t in flat:
        sb = _scaled_block(t)
        if sb is not None:
            groups.setdefault(sb[1].attr, []).append((t, sb))
    merge = [g for g in groups.values() if len(g) > 1]
    if not merge:
        return None
    used = {id(t) for g in merge for t, _ in g}
    rest = [t for t in flat if id(t) not in used]
    for g in merge:
        grids = [(s, block_grid(b)) for _, (s, b) in g]
        first = grids[0][1]
        rest.append(block([[add(*(mul(*s, gr[i][j]) for s, gr in grids)) for j in range(len(first[0]))]
                           for i in range(len(first))]))
    out = add(*rest)
    return _fire(NF_BLOCK_ADD, tuple(flat), out)


# ---------------------------------------------------------------------------- generic rebuild


def rebuild(node: Expr, args) -> Expr:
    """The node with new arguments, through its canonicalizing constructor."""
    if all(map(_is, args, node.args)):
        return node
    op = node.op
    b = _REBUILD.get(op)
    if b is None:
        return Expr(op, tuple(args), node.shape, node.attr)
    return b(node, args)


_REBUILD: dict = {}  # op -> rebuild(node, args), from the declarations (OpDef.rebuild_node)


def _rekey():
    """Give nodes built before the registry loaded (module constants) their op's rank."""
    for node in list(Expr._table.values()):
        rank = _RANK.get(node.op, 99)
        if node.key[0] != rank:
            node.key = (rank,) + node.key[1:]


def substitute(e: Expr, mapping: dict) -> Expr:
    """Replace leaves (or any nodes) by identity; iterative over the DAG."""
    memo = {}
    for node in e.walk():
        if node in mapping:
            memo[node] = mapping[node]
        elif node.args:
            memo[node] = rebuild(node, [memo[a] for a in node.args])
        else:
            memo[node] = node
    return memo[e]


# the declarations (ranks, rebuilds) load with this module, whichever is imported first
from ..ops import elementwise as _ew  # noqa: E402  (a module: it may be the one loading us)
from ..ops import registry as _registry  # noqa: E402, F401
