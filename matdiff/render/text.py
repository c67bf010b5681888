"""Text in matdiff's own input language: it parses back to an equal expression (a test
property; printing never runs the parser). Function-style ops take their templates from the
op registry. Printing is iterative (children first, one (text, precedence) per node), so
the depth of an expression is no concern.
"""

from __future__ import annotations

import weakref
from fractions import Fraction

from ..core import expr as E
from ..core.expr import Expr
from ..core.shapes import dim_str
from ..ops.registry import OPS

# precedence levels: higher binds tighter
P_ADD, P_MUL, P_NEG, P_POW, P_POST, P_ATOM = 1, 2, 3, 4, 5, 6


# ---------------------------------------------------------------------------- numbers


def _num_text(v: Fraction) -> tuple[str, int]:
    if v.denominator == 1:
        s = str(v.numerator)
    else:
        d = v.denominator
        while d % 2 == 0:
            d //= 2
        while d % 5 == 0:
            d //= 5
        if d == 1:  # terminating decimal: exact
            s = _decimal(v)
        else:
            return f"{v.numerator}/{v.denominator}", P_MUL
    return s, (P_NEG if v < 0 else P_ATOM)


def _decimal(v: Fraction) -> str:
    sign = "-" if v < 0 else ""
    v = abs(v)
    whole = v.numerator // v.denominator
    rem = v - whole
    digits = ""
    while rem:
        rem *= 10
        digits += str(rem.numerator // rem.denominator)
        rem -= rem.numerator // rem.denominator
    return f"{sign}{whole}.{digits}"


# ---------------------------------------------------------------------------- text


def _split_mul(e: Expr):
    """(coeff, numerator factors, denominator factors) of a product."""
    coeff, scal, chain = E.factors(e)
    num, den = [], []
    for f in scal:
        if f.op == "pow" and f.args[1].op == "const" and f.args[1].attr < 0:
            den.append(E.power(f.args[0], E.const(-f.args[1].attr)))
        else:
            num.append(f)
    return coeff, num + chain, den


def _sum_of_exp_arg(S: Expr):
    """u when S is sum(exp(u)), else None."""
    if S.op == "sum" and S.args[0].op == "fn" and S.args[0].attr == "exp" and not S.args[0].is_scalar:
        return S.args[0].args[0]
    return None


def _softmax_use(f: Expr):
    """(u, how) when the factor f is exp(u) ("col"), exp(u)' ("row") or diag(exp(u)) ("diag")
    for a column vector u, else None."""
    how = "col"
    if f.op == "transpose":
        f, how = f.args[0], "row"
    elif f.op == "diagm":
        f, how = f.args[0], "diag"
    if f.op == "fn" and f.attr == "exp" and f.cols == 1 and not f.is_scalar:
        return f.args[0], how
    return None


def named_factors(num: list, den: list):
    """The factors of a product with softmax named (issue 10): each power of a denominator
    sum(exp(u)) (u a column vector) is paired with a numerator factor exp(u), exp(u)' or
    diag(exp(u)), and the pair prints as softmax(u), softmax(u)' or diag(softmax(u)) - the
    language function ``softmax`` builds exactly exp(u)/sum(exp(u)), so the text parses back to
    the same expression. Returns (num, den), paired numerator entries as ("softmax", u, how)."""
    if not den or not num:
        return num, den
    num, out_den = list(num), []
    for d in den:
        S, k = d, Fraction(1)
        if d.op == "pow" and d.args[1].op == "const":
            S, k = d.args[0], d.args[1].attr
        u = _sum_of_exp_arg(S)
        if u is None or k.denominator != 1 or k < 1:
            out_den.append(d)
            continue
        for i, f in enumerate(num):
            if k and isinstance(f, Expr):
                use = _softmax_use(f)
                if use is not None and use[0] is u:
                    num[i] = ("softmax", *use)
                    k -= 1
        if k:
            out_den.append(E.power(S, E.const(k)) if k != 1 else S)
    return num, out_den


def _dvar_position(e: Expr) -> float:
    """Index of the first dX leaf in a left-to-right (preorder) reading of e; inf if none."""
    sizes: dict = {}
    has: dict = {}
    for node in e.walk():  # children first
        sizes[node] = 1 + sum(sizes[a] for a in node.args)
        has[node] = node.op == "dvar" or any(has[a] for a in node.args)
    if not has[e]:
        return float("inf")
    pos, node = 0, e
    while node.op != "dvar":
        pos += 1
        for a in node.args:
            if has[a]:
                node = a
                break
            pos += sizes[a]
    return pos


_METHODS: dict = {}  # (printer class, op) -> the method printing that op


class TextPrinter:
    """Text in the input language with minimal but safe parentheses.

    One printer prints one expression: ``p(e)`` is ``(text, precedence)`` of a node, memoized,
    computed children first with an explicit stack. The ``p_<op>`` methods print one node
    from its children's entries (nodes they build on the fly, such as ``-t`` for a term,
    are shallow: their children are already printed).
    """

    explicit = False  # print sizes: eye(n), ones(n, m), zeros(n, m)

    def __init__(self, explicit: bool = False):
        self.explicit = explicit
        self.memo: dict = {}

    def __call__(self, e: Expr) -> str:
        return self.p(e)[0]

    def wrap(self, e: Expr, min_prec: int) -> str:
        s, prec = self.p(e)
        return s if prec >= min_prec else self.paren(s)

    def paren(self, s: str) -> str:
        return f"({s})"

    def p(self, e: Expr) -> tuple[str, int]:
        r = self.memo.get(e)
        return r if r is not None else self._print_iteratively(e)

    def _print_iteratively(self, root: Expr) -> tuple[str, int]:
        memo = self.memo
        stack = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if node in memo:
                continue
            if ready:
                memo[node] = self.node(node)
                continue
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args) if a not in memo)
        return memo[root]

    def node(self, e: Expr) -> tuple[str, int]:
        """(text, precedence) of ``e``, its children already printed."""
        cls = type(self)
        meth = _METHODS.get((cls, e.op))
        if meth is None:
            meth = _METHODS[(cls, e.op)] = getattr(cls, "p_" + e.op, cls.template)
        return meth(self, e)

    def template(self, e: Expr) -> tuple[str, int]:
        """Function-style printing from the op registry's text template."""
        op = e.op
        o = OPS[op]
        args = [self.p(a)[0] for a in e.args]
        if callable(o.text):  # a template that needs the node (proj: its output's index)
            return o.text(e, *args), P_ATOM
        if o.text:
            return o.text.format(*args), (P_POST if o.text.startswith("{0}") else P_ATOM)
        return f"{op}({', '.join(args)})", P_ATOM

    # leaves
    def p_var(self, e):
        return e.attr[0], P_ATOM

    def p_dvar(self, e):
        return "d" + e.attr[0], P_ATOM

    def p_const(self, e):
        return _num_text(e.attr)

    def p_eye(self, e):
        return (f"eye({dim_str(e.rows)})" if self.explicit else "I"), P_ATOM

    def p_ones(self, e):
        return (f"ones({dim_str(e.rows)}, {dim_str(e.cols)})" if self.explicit else "ones"), P_ATOM

    def p_zero(self, e):
        return (f"zeros({dim_str(e.rows)}, {dim_str(e.cols)})" if self.explicit else "zeros"), P_ATOM

    def p_K(self, e):
        m, n = e.attr
        return f"K({dim_str(m)}, {dim_str(n)})", P_ATOM

    # sums
    def p_add(self, e):
        terms = list(e.args)
        if any(t.has_op("dvar") for t in terms):
            # a differential reads like the product rule: terms in the order dX appears in
            # them, d(A^3) = dA*A^2 + A*dA*A + A^2*dA (display order only: the sum is the same)
            terms.sort(key=_dvar_position)
        # start with a positive term where there is one
        for i, t in enumerate(terms):
            if E.split_coeff(t)[0] > 0:
                terms = [t] + terms[:i] + terms[i + 1:]
                break
        parts = []
        for i, t in enumerate(terms):
            if t.op == "bcast":  # a broadcast scalar prints as the scalar: 1 + exp(x)
                t = t.args[0]
            elif t.op == "ones":
                t = E.ONE
            c, _ = E.split_coeff(t)
            if i > 0 and c < 0:
                parts.append(" - " + self.wrap(E.neg(t), P_MUL))
            elif i > 0:
                parts.append(" + " + self.wrap(t, P_MUL))
            else:
                parts.append(self.wrap(t, P_MUL))
        return "".join(parts), P_ADD

    # products
    def softmax(self, u: Expr, how: str) -> tuple[str, int]:
        """softmax(u) printed as a factor: of a column ("col"), its transpose ("row"), diag."""
        s = f"softmax({self.p(u)[0]})"
        return {"col": (s, P_ATOM), "row": (s + "'", P_POST), "diag": (f"diag({s})", P_ATOM)}[how]

    def factor(self, f, min_prec) -> str:
        """A product's factor: an Expr, or a named ("softmax", u, how) of :func:`named_factors`."""
        if isinstance(f, tuple):
            s, prec = self.softmax(f[1], f[2])
            return s if prec >= min_prec else self.paren(s)
        return self.wrap(f, min_prec)

    def p_mul(self, e):
        coeff, num, den = _split_mul(e)
        num, den = named_factors(num, den)
        if not num:
            num_s = _num_text(coeff)[0] if coeff.denominator == 1 or not den else None
            if num_s is None:
                num_s = f"({_num_text(coeff)[0]})"
            head = num_s
            prec = P_MUL
        else:
            if len(num) == 1 and isinstance(num[0], Expr) and num[0].op == "had" and not den:
                # -(a .* b) prints as -a .* b, which parses to the same canonical node
                body = self.p(num[0])[0]
            else:
                body = "*".join(self.factor(f, P_POW if isinstance(f, Expr) and f.is_scalar and f.op == "mul"
                                            else P_NEG + 0.5) for f in num)
            if coeff == 1:
                head, prec = body, P_MUL
            elif coeff == -1:
                head, prec = "-" + body, P_NEG
            else:
                cs, cp = _num_text(coeff)
                if cp == P_MUL:  # a fraction p/q
                    cs = f"({cs})"
                head, prec = cs + "*" + body, (P_NEG if coeff < 0 else P_MUL)
        if den:
            dstr = den[0] if len(den) == 1 else E.mul(*den)
            ds = self.wrap(dstr, P_NEG + 0.5)
            if prec < P_MUL:
                head = f"({head})"
            return f"{head}/{ds}", P_MUL
        return head, (prec if num else P_MUL if coeff.denominator != 1 or coeff < 0 else P_ATOM)

    def p_bcast(self, e):
        s = e.args[0]
        if s is E.const(-1):  # -ones, not (-1)*ones
            return "-" + self.p_ones(e)[0], P_NEG
        parts = s.args if s.op == "mul" else (s,)
        if all(f.op == "pow" and f.args[1].op == "const" and f.args[1].attr < 0 for f in parts):
            # a reciprocal divides: ones(n, m)/a, not a^-1*ones(n, m)
            den = E.mul(*[E.power(f.args[0], E.const(-f.args[1].attr)) for f in parts])
            return self.p_ones(e)[0] + "/" + self.wrap(den, P_NEG + 0.5), P_MUL
        return self.wrap(s, P_NEG + 0.5) + "*" + self.p_ones(e)[0], P_MUL

    def p_transpose(self, e):
        return self.wrap(e.args[0], P_ATOM) + "'", P_POST

    def p_pow(self, e):
        b, x = e.args
        if x.op == "const" and x.attr < 0:  # a reciprocal on its own: 1/n, 1/s^2 (not n^-1)
            return "1/" + self.wrap(E.power(b, E.const(-x.attr)), P_NEG + 0.5), P_MUL
        return self.wrap(b, P_ATOM) + "^" + self._exponent(x), P_POW

    def _exponent(self, x):
        if x.op == "const":
            s, p = _num_text(x.attr)
            return s if p >= P_NEG else f"({s})"
        return self.wrap(x, P_POST)

    def p_mpow(self, e):
        return self.wrap(e.args[0], P_ATOM) + "^" + str(e.attr), P_POW

    def p_had(self, e):
        num, den = E.had_fraction(e)
        s = " .* ".join(self.wrap(f, P_NEG + 0.5) for f in num) if num else "1"
        for f in den:
            s += " ./ " + self.wrap(f, P_NEG + 0.5)
        return s, P_MUL

    def p_hpow(self, e):
        b, x = e.args
        if x.op == "const" and x.attr < 0:
            return "1 ./ " + self.wrap(E.hpow(b, E.const(-x.attr)), P_NEG + 0.5), P_MUL
        return self.wrap(b, P_ATOM) + ".^" + self._exponent(x), P_POW

    def p_fn(self, e):
        u = _sum_of_exp_arg(e.args[0]) if e.attr == "log" else None
        if u is not None:  # the language function logsumexp(u) builds exactly log(sum(exp(u)))
            return f"logsumexp({self.p(u)[0]})", P_ATOM
        return f"{e.attr}({self.p(e.args[0])[0]})", P_ATOM

    def p_unvec(self, e):
        return f"unvec({self.p(e.args[0])[0]}, {dim_str(e.rows)})", P_ATOM


def to_text(e: Expr) -> str:
    """Text in the matdiff input language; it parses back to ``e`` given the variables' shapes.

    ``I``, ``ones`` and ``zeros`` are printed bare when the shapes around them determine
    their size (see :func:`sizes_determined`), and as ``eye(n)``, ``ones(n, m)``,
    ``zeros(n, m)`` otherwise.
    """
    s = _TEXT_CACHE.get(e)
    if s is None:
        s = TextPrinter(explicit=not sizes_determined(e))(e)
        _TEXT_CACHE[e] = s
    return s


_TEXT_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------------------- bare I, ones, zeros

_CONSTANTS = ("eye", "ones", "zero", "bcast")  # bcast prints as s*ones
# How sizes flow is the parser's shape rule, which each op declares by name (OpDef.shape):
# "scalar_of_square" (tr, det, logdet), "scalar" (sum, norm2: any argument), "same" and
# "square_same" (the argument's shape); internal ops without a language name by op below.
_SAME = ("fn", "mpow")  # the argument's shape (mpow: square)
# shape rules whose sizes are products of the arguments' sizes: (rows, cols, *argument
# slots) -> [(x, y, z): x = y*z]; the parser solves such an equation when two are known
_SIZED_BY_PRODUCTS = {
    "kron": lambda r, c, a, b: [(r, a[0], b[0]), (c, a[1], b[1])],
    "vec": lambda r, c, a: [(r, a[0], a[1])],
    "unvec": lambda r, c, v: [(v[0], r, c)],
    "kronadj1": lambda r, c, C, B: [(C[0], r, B[0]), (C[1], c, B[1])],
    "kronadj2": lambda r, c, A, C: [(C[0], A[0], r), (C[1], A[1], c)],
}


_SIZES_DETERMINED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_HAS_CONSTANT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # a bare I/ones/zeros under the node


def sizes_determined(e: Expr) -> bool:
    """Would the text of ``e`` with bare ``I``/``ones``/``zeros`` determine every size?
    (Remembered per node: the namer asks once per printed piece, and a long result has
    many pieces over one DAG.)"""
    known = _SIZES_DETERMINED.get(e)
    if known is None:
        known = _SIZES_DETERMINED[e] = _sizes_determined(e)
    return known


def _sizes_determined(e: Expr) -> bool:
    """Would the text of ``e`` with bare ``I``/``ones``/``zeros`` determine every size?

    Mirrors the parser's shape inference on the printed form without running it: one
    union-find over the (rows, cols) slots of every occurrence (a DAG node shared by
    several parents is an occurrence per parent, as in the text). Sizes flow through
    sums, elementwise operations and transposes (same shape), products (inner sizes) and
    square-argument functions; a size that is a product of two others (kron, vec, unvec,
    kronadj) is known once the other two are; sizes do not flow into the argument of a
    reduction, nor into an operand whose scalar-ness (or, for diag, column-ness) the parser
    decides on the spot (scalar factors, divisors, exponents, broadcast scalars). An occurrence of a constant is sized when its slots meet a
    known size; anything not covered here counts as not determined (printed explicitly).
    """
    has = _HAS_CONSTANT

    def contains(root) -> bool:  # does the subtree hold a bare-printable constant?
        known = has.get(root)
        if known is not None:
            return known
        for n in postorder_new(root, has):
            has[n] = n.op in _CONSTANTS or any(has[a] for a in n.args)
        return has[root]

    if not contains(e):
        return True
    if e.has_op("dvar"):  # a differential: dX reads back as a plain name, so say every size
        return False
    parent: list = []
    known: list = []

    def slot(k: bool = False) -> int:
        parent.append(len(parent))
        known.append(k)
        return len(parent) - 1

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
            known[rb] = known[rb] or known[ra]

    def know(*slots) -> None:
        for i in slots:
            known[find(i)] = True

    required: list = []  # slots that must end up known
    products: list = []  # (x, y, z): size x = y*z
    stack: list = [(e, slot(), slot())]

    def alone(a) -> None:  # an operand sized by itself (nothing flows in from its context)
        ra, ca = slot(), slot()
        required.extend((ra, ca))
        stack.append((a, ra, ca))

    while stack:
        n, r, c = stack.pop()
        op = n.op
        od = OPS.get(op)
        rule = od.shape if od is not None else None
        if not contains(n):
            know(r, c)
        elif op == "eye":
            union(r, c)
            required.append(r)
        elif op in ("ones", "zero"):
            required.extend((r, c))
        elif op == "bcast":  # s*ones: the ones takes this occurrence's slots
            alone(n.args[0])
            required.extend((r, c))
        elif op == "transpose":
            stack.append((n.args[0], c, r))
        elif op in ("add", "had") and n.is_scalar:  # the parser sees each term is a scalar
            for t in n.args:
                alone(t)
            know(r, c)
        elif op == "add":
            arrays = 0
            for t in n.args:
                if t.op == "bcast":  # printed as the scalar, broadcast by the sum
                    alone(t.args[0])
                elif t.op != "ones":  # printed as 1
                    arrays += 1
                    stack.append((t, r, c))
            if not arrays:
                return False
        elif op == "mul":
            _, scal, chain = E.factors(n)
            for f in scal:
                alone(f)
            if not chain:
                know(r, c)
                continue
            prev = r
            for f in chain:
                rf, cf = slot(), slot()
                union(prev, rf)
                stack.append((f, rf, cf))
                prev = cf
            union(prev, c)
        elif op == "had":
            for f in n.args:
                if f.is_scalar and not n.is_scalar:
                    alone(f)
                else:
                    stack.append((f, r, c))
        elif op == "hpow":
            alone(n.args[1])
            stack.append((n.args[0], r, c))
        elif op == "pow":
            alone(n.args[0])
            alone(n.args[1])
            know(r, c)
        elif op in _SAME or rule in ("same", "square_same"):
            if op == "mpow" or rule == "square_same":
                union(r, c)
            stack.append((n.args[0], r, c))
        elif rule == "scalar_of_square":
            know(r, c)
            ra = slot()
            stack.append((n.args[0], ra, ra))
        elif rule == "scalar":
            know(r, c)
            stack.append((n.args[0], slot(), slot()))
        elif rule in _SIZED_BY_PRODUCTS:
            args = [(slot(), slot()) for _ in n.args]
            for (x, y, z) in _SIZED_BY_PRODUCTS[rule](r, c, *args):
                products.append((x, y, z))
            if op == "vec":
                know(c)
            elif op == "unvec":  # printed unvec(v, rows); v must be seen to be a column
                know(r)
                required.append(args[0][1])
            stack.extend((a, ra, ca) for a, (ra, ca) in zip(n.args, args))
        elif op == "diagm":  # diag(v): the parser must see a column
            rv, cv = slot(), slot()
            union(r, c)
            union(r, rv)
            required.append(cv)
            stack.append((n.args[0], rv, cv))
        elif op == "diagv":
            know(c)
            stack.append((n.args[0], r, r))
        else:  # an op not covered here: its arguments must size themselves
            for a in n.args:
                alone(a)
    # a size that is a product of two others is known once two of the three are
    changed = True
    while changed:
        changed = False
        for x, y, z in products:
            k = [known[find(i)] for i in (x, y, z)]
            if sum(k) == 2:
                know((x, y, z)[k.index(False)])
                changed = True
            elif k[0] and not k[1] and find(y) == find(z):  # x = y*y
                know(y)
                changed = True
    return all(known[find(i)] for i in required)


def postorder_new(root: Expr, seen: dict) -> list:
    """The nodes under ``root`` not in ``seen``, children first (iterative)."""
    out: list = []
    marked: set = set()
    stack = [(root, False)]
    while stack:
        n, ready = stack.pop()
        if ready:
            out.append(n)
            continue
        if n in seen or n in marked:
            continue
        marked.add(n)
        stack.append((n, True))
        stack.extend((a, False) for a in reversed(n.args) if a not in seen and a not in marked)
    return out


# ---------------------------------------------------------------------------- a derivation


def render_derivation(d, second_order: bool = False, names: bool = True) -> str:
    """The command line's text report of a :class:`~matdiff.api.Derivation`: expression,
    shapes, differential, gradients (Jacobians for a non-scalar expression); with
    ``second_order`` also d2f, the Hessian-vector products and the Hessian (by blocks).

    ``names``: repeated subexpressions and the user's named intermediates are printed by
    name, defined once in a closing ``where`` block (:mod:`matdiff.render.names`); each
    result with those definitions reads back as ``G where s1 = ..., s2 = ...``."""
    from .names import _printer, definitions, result_names, where_lines

    nm, shown, display = result_names(d, second_order) if names else ({}, [], {})
    user = dict(getattr(d, "names", {}) or {}) if names else {}

    def show(e: Expr) -> str:
        if not nm:
            return to_text(e)
        e = display.get(e, e)
        return nm[e] if e in nm else _printer(e, nm)(e)

    expr_text = to_text(d.expr) if not user else show(d.expr)
    diff_text = _differential_text(d.differential) if not user else show(d.differential)
    lines = [f"expression    {expr_text}",
             f"shapes        {d.shape_text()}",
             f"differential  d({expr_text}) = {diff_text}"]
    if d.expr.is_scalar:
        for n, g in d.gradients.items():
            note = ""
            if E.is_zero(g):
                note = f"   (the expression does not depend on {n}: the gradient is zero)"
            label = "gradient" if n == d.wrt[0] else ""
            lines.append(f"{label:<13} df/d{n} = {show(g)}{note}")
    else:
        # vec(dF) = J vec(dX): column-major vec, numerator layout (size(F) rows, size(X) columns)
        for n, J in d.jacobians.items():
            label = "jacobian" if n == d.wrt[0] else ""
            note = f"   (the expression does not depend on {n})" if E.is_zero(J) else ""
            lines.append(f"{label:<13} dvec(F)/dvec({n}) = {show(J)}{note}")
        lines.append(f"{'':<13} (vec(dF) = J*vec(dX), vec column-major; J is size(F) x size(X))")
    if second_order:
        lines += _second_order_lines(d, show)
    for i, line in enumerate(where_lines(definitions(shown, nm)) if nm else ()):
        lines.append(f"{'where' if i == 0 else '':<13} {line}")
    return "\n".join(lines)


def _differential_text(df: Expr) -> str:
    """The differential as text with one spelling of the identity per result: ``I`` bare when
    the sizes are determined with each ``dX`` read as shaped like ``X`` (as the shapes line
    says), so that the gradient's ``I`` and the differential's agree; ``eye(n)`` otherwise."""
    primal = E.substitute(df, {n: E.var(n.attr[0], n.shape) for n in df.walk() if n.op == "dvar"})
    if sizes_determined(primal):
        return TextPrinter(explicit=False)(df)
    return to_text(df)


def _second_order_lines(d, show=to_text) -> list:
    d2, hv, H, vn = d.second_differential, d.hvps, d.hessians, d.hvp_variables
    dirs = ", ".join(vn[a] for a in d.wrt)
    single = len(d.wrt) == 1
    lines = [f"{'second diff':<13} d2f = {show(d2)}"]
    for i, b in enumerate(d.wrt):
        label = "hvp" if i == 0 else ""
        lines.append(f"{label:<13} H[{dirs}]" + ("" if single else f" for {b}") + f" = {show(hv[b])}")
    for i, (a, b) in enumerate((a, b) for a in d.wrt for b in d.wrt):
        label = "hessian" if i == 0 else ""
        lines.append(f"{label:<13} " + ("H" if single else f"H({a},{b})") + f" = {show(H[(a, b)])}")
    if single:
        x, v = d.wrt[0], vn[d.wrt[0]]
        lines.append(f"{'':<13} (H[{v}] = d(df/d{x})[{v}], {v} shaped like {x}; "
                     f"H on column-major vec({x}): vec(H[{v}]) = H*vec({v}))")
    else:
        lines.append(f"{'':<13} (directions {', '.join(f'{vn[a]} shaped like {a}' for a in d.wrt)}; "
                     f"H(X,Y) = d vec(df/dX) / d vec(Y), column-major vec)")
    return lines
