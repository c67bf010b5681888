"""Printing: text in matdiff's own input language (it parses back to an equal
expression) and LaTeX. Function-style ops take their templates from the registry.
"""

from __future__ import annotations

import weakref
from fractions import Fraction

from ..core import expr as E
from ..core.expr import Expr
from ..core.shapes import dim_str
from ..ops.registry import _LATEX_FN, OPS

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


class TextPrinter:
    """Text in the input language with minimal but safe parentheses."""

    def __call__(self, e: Expr) -> str:
        return self.p(e)[0]

    def wrap(self, e: Expr, min_prec: int) -> str:
        s, prec = self.p(e)
        return s if prec >= min_prec else f"({s})"

    def p(self, e: Expr) -> tuple[str, int]:
        op = e.op
        meth = getattr(self, "p_" + op, None)
        if meth is not None:
            return meth(e)
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

    explicit = False  # print sizes: eye(n), ones(n, m), zeros(n, m)

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
    def p_mul(self, e):
        coeff, num, den = _split_mul(e)
        if not num:
            num_s = _num_text(coeff)[0] if coeff.denominator == 1 or not den else None
            if num_s is None:
                num_s = f"({_num_text(coeff)[0]})"
            head = num_s
            prec = P_MUL
        else:
            if len(num) == 1 and num[0].op == "had" and not den:
                # -(a .* b) prints as -a .* b, which parses to the same canonical node
                body = self.p(num[0])[0]
            else:
                body = "*".join(self.wrap(f, P_POW if f.is_scalar and f.op == "mul" else P_NEG + 0.5)
                                for f in num)
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
        return self.wrap(s, P_NEG + 0.5) + "*" + self.p_ones(e)[0], P_MUL

    def p_transpose(self, e):
        return self.wrap(e.args[0], P_ATOM) + "'", P_POST

    def p_pow(self, e):
        b, x = e.args
        return self.wrap(b, P_ATOM) + "^" + self._exponent(x), P_POW

    def _exponent(self, x):
        if x.op == "const":
            s, p = _num_text(x.attr)
            return s if p >= P_NEG else f"({s})"
        return self.wrap(x, P_POST)

    def p_mpow(self, e):
        return self.wrap(e.args[0], P_ATOM) + "^" + str(e.attr), P_POW

    def p_had(self, e):
        num, den = [], []
        for f in e.args:
            if f.op == "hpow" and f.args[1].op == "const" and f.args[1].attr < 0:
                den.append(E.hpow(f.args[0], E.const(-f.args[1].attr)))
            else:
                num.append(f)
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
        return f"{e.attr}({self.p(e.args[0])[0]})", P_ATOM

    def p_unvec(self, e):
        return f"unvec({self.p(e.args[0])[0]}, {dim_str(e.rows)})", P_ATOM

    def p_kron(self, e):
        return f"kron({self(e.args[0])}, {self(e.args[1])})", P_ATOM

    def p_kronadj1(self, e):
        return f"kronadj1({self(e.args[0])}, {self(e.args[1])})", P_ATOM

    def p_kronadj2(self, e):
        return f"kronadj2({self(e.args[0])}, {self(e.args[1])})", P_ATOM


_text = TextPrinter()
_text_explicit = TextPrinter()
_text_explicit.explicit = True


def to_text(e: Expr) -> str:
    """Text in the matdiff input language; it parses back to ``e`` given the variables' shapes.

    ``I``, ``ones`` and ``zeros`` are printed bare when their size follows from the rest
    of the expression, and as ``eye(n)``, ``ones(n, m)``, ``zeros(n, m)`` otherwise.
    """
    s = _TEXT_CACHE.get(e)
    if s is None:
        s = _text(e)
        # deciding bare vs explicit sizes re-parses the text: do it once per node
        if any(n.op in ("eye", "ones", "zero", "bcast") for n in e.walk()) and not _round_trips(s, e):
            s = _text_explicit(e)
        _TEXT_CACHE[e] = s
    return s


_TEXT_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _round_trips(s: str, e: Expr) -> bool:
    from ..core.errors import MatdiffError
    from ..core.shapes import shape_to_dims
    from ..lang.parsing import parse_full

    shapes, sym = {}, []
    for n in e.walk():
        if n.op in ("var", "dvar"):
            name = n.attr[0] if n.op == "var" else "d" + n.attr[0]
            shapes[name] = tuple(str(d) for d in shape_to_dims(n.shape))
            if n.attr[1]:
                sym.append(name)
    try:
        p = parse_full(s, shapes, sym)
        return p.expr is e and not p.fresh and not p.guessed  # every size determined, none guessed
    except (MatdiffError, RecursionError):
        return False


# ---------------------------------------------------------------------------- LaTeX


def _num_latex(v: Fraction) -> str:
    if v.denominator == 1:
        return str(v.numerator)
    s, p = _num_text(v)
    if p == P_MUL:
        sign = "-" if v < 0 else ""
        return f"{sign}\\frac{{{abs(v.numerator)}}}{{{v.denominator}}}"
    return s


def latex_name(name: str) -> str:
    """A variable name in LaTeX: W1 -> W_{1}, Sigma -> \\Sigma, x_i -> x_{i}, abc -> \\mathrm{abc}."""
    greek = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
             "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
             "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi",
             "Psi", "Omega"}
    base, _, sub = name.partition("_")
    if not sub:
        i = len(base)
        while i > 0 and base[i - 1].isdigit():
            i -= 1
        if 0 < i < len(base):
            base, sub = base[:i], base[i:]
    b = "\\" + base if base in greek else (base if len(base) == 1 else f"\\mathrm{{{base}}}")
    if sub in greek or "_" in sub or (sub[-1:].isdigit() and sub[:1].isalpha()):
        sub = latex_name(sub)  # a name as subscript: V_Sigma -> V_{\Sigma}, V_W1 -> V_{W_{1}}
    return f"{b}_{{{sub}}}" if sub else b


class LatexPrinter(TextPrinter):
    def p_var(self, e):
        return latex_name(e.attr[0]), P_ATOM

    def p_dvar(self, e):
        return "\\mathrm{d}" + latex_name(e.attr[0]), P_ATOM

    def p_const(self, e):
        return _num_latex(e.attr), (P_NEG if e.attr < 0 else P_ATOM)

    def p_ones(self, e):
        return _latex_ones(e.shape)

    def p_zero(self, e):
        # a row of zeros is a transposed (column) zero vector: 0^T
        return ("\\mathbf{0}^{T}", P_POST) if _is_row(e.shape) else ("\\mathbf{0}", P_ATOM)

    def p_K(self, e):
        m, n = e.attr
        return f"K_{{{dim_str(m)},{dim_str(n)}}}", P_ATOM

    def wrap(self, e, min_prec):
        s, prec = self.p(e)
        return s if prec >= min_prec else f"\\left({s}\\right)"

    def p(self, e):
        op = e.op
        meth = getattr(self, "p_" + op, None)
        if meth is not None:
            return meth(e)
        o = OPS[op]
        args = [self.p(a)[0] for a in e.args]
        if callable(o.latex):
            return o.latex(e, *args), P_ATOM
        if o.latex:
            return o.latex.format(*args, r=dim_str(e.rows)), P_ATOM
        return f"\\operatorname{{{op}}}\\left({', '.join(args)}\\right)", P_ATOM

    def p_mul(self, e):
        coeff, num, den = _split_mul(e)
        body = ""
        for i, f in enumerate(num):
            # a thin space after a differential: \mathrm{d}X \, X^{-1}, not dX X^{-1}
            sep = "" if i == 0 else (" \\, " if _is_differential(num[i - 1]) else " ")
            body += sep + self.wrap(f, P_NEG + 0.5)
        if den:
            d = den[0] if len(den) == 1 else E.mul(*den)
            c = abs(coeff)
            top = body if c == 1 else (_num_latex(c) + " " + body if body else _num_latex(c))
            s = f"\\frac{{{top or '1'}}}{{{self.p(d)[0]}}}"
            return ("-" + s, P_NEG) if coeff < 0 else (s, P_MUL)
        if coeff == 1:
            return body, P_MUL
        if coeff == -1:
            return "-" + body, P_NEG
        if not body:
            return self.p_const(E.const(coeff))
        cs = _num_latex(coeff)
        return cs + " " + body, (P_NEG if coeff < 0 else P_MUL)

    def p_bcast(self, e):
        return self.wrap(e.args[0], P_NEG + 0.5) + " " + _latex_ones(e.shape)[0], P_MUL

    def p_transpose(self, e):
        a = e.args[0]
        if a.op == "inv":
            return self.wrap(a.args[0], P_ATOM) + "^{-T}", P_POST
        return self.wrap(a, P_ATOM) + "^{T}", P_POST

    def p_inv(self, e):
        return self.wrap(e.args[0], P_ATOM) + "^{-1}", P_POST

    def p_pow(self, e):
        b, x = e.args
        if x.op == "const" and x.attr == Fraction(1, 2):
            return f"\\sqrt{{{self.p(b)[0]}}}", P_ATOM
        return self.wrap(b, P_ATOM) + "^{" + self.p(x)[0] + "}", P_POW

    def p_mpow(self, e):
        return self.wrap(e.args[0], P_ATOM) + "^{" + str(e.attr) + "}", P_POW

    def p_had(self, e):
        num, den = [], []
        for f in e.args:
            if f.op == "hpow" and f.args[1].op == "const" and f.args[1].attr < 0:
                den.append(E.hpow(f.args[0], E.const(-f.args[1].attr)))
            else:
                num.append(f)
        s = " \\odot ".join(self.wrap(f, P_NEG + 0.5) for f in num) if num else "\\mathbf{1}"
        for f in den:
            s += " \\oslash " + self.wrap(f, P_NEG + 0.5)
        return s, P_MUL

    def p_hpow(self, e):
        b, x = e.args
        if x.op == "const" and x.attr < 0:
            return "\\mathbf{1} \\oslash " + self.wrap(E.hpow(b, E.const(-x.attr)), P_NEG + 0.5), P_MUL
        return self.wrap(b, P_ATOM) + "^{\\circ " + self.p(x)[0] + "}", P_POW

    def p_fn(self, e):
        name = e.attr
        arg = self.p(e.args[0])[0]
        if name == "sqrt":
            return f"\\sqrt{{{arg}}}", P_ATOM
        if name == "abs" and e.is_scalar:
            return f"\\left|{arg}\\right|", P_ATOM
        return f"{_LATEX_FN[name]}\\left({arg}\\right)", P_ATOM

    def p_trace(self, e):
        return f"\\operatorname{{tr}}\\left({self.p(e.args[0])[0]}\\right)", P_ATOM

    def p_norm2(self, e):
        return f"\\left\\|{self.p(e.args[0])[0]}\\right\\|", P_ATOM

    def p_kron(self, e):
        return f"{self.wrap(e.args[0], P_POST)} \\otimes {self.wrap(e.args[1], P_POST)}", P_MUL

    def p_unvec(self, e):
        return f"\\operatorname{{unvec}}_{{{dim_str(e.rows)}}}\\left({self.p(e.args[0])[0]}\\right)", P_ATOM

    def p_kronadj1(self, e):
        return f"\\operatorname{{kronadj}}_1\\left({self(e.args[0])}, {self(e.args[1])}\\right)", P_ATOM

    def p_kronadj2(self, e):
        return f"\\operatorname{{kronadj}}_2\\left({self(e.args[0])}, {self(e.args[1])}\\right)", P_ATOM


def _is_row(shape) -> bool:
    return shape[0] == 1 and shape[1] != 1


def _latex_ones(shape):
    """All-ones arrays, which print without their size, show their orientation: a column
    1, a row 1^T (a transposed column), a matrix 1 1^T (so ones(n)'*X*ones(m) is 1^T X 1)."""
    if _is_row(shape):
        return "\\mathbf{1}^{T}", P_POST
    if shape[1] == 1:
        return "\\mathbf{1}", P_ATOM
    return "\\mathbf{1} \\mathbf{1}^{T}", P_MUL


def _is_differential(e: Expr) -> bool:
    return e.op == "dvar" or (e.op == "transpose" and e.args[0].op == "dvar")


_latex = LatexPrinter()


def to_latex(e: Expr) -> str:
    return _latex(e)
