"""LaTeX of expressions (and, below, of a whole derivation). Function-style ops take their
templates from the op registry (``OPS[op].latex``) and elementwise functions theirs from
``ELEMENTWISE[name].latex``. Printing is iterative, as the text printer's.
"""

from __future__ import annotations

from fractions import Fraction

from ..core import expr as E
from ..core.expr import Expr
from ..core.shapes import dim_mul, dim_str
from ..ops.elementwise import ELEMENTWISE
from ..ops.registry import OPS
from .text import (
    P_ATOM,
    P_MUL,
    P_NEG,
    P_POST,
    P_POW,
    TextPrinter,
    _num_text,
    _split_mul,
    _sum_of_exp_arg,
    named_factors,
)


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
    """LaTeX with minimal parentheses (``\\left( \\right)``)."""

    def p_var(self, e):
        return latex_name(e.attr[0]), P_ATOM

    def p_dvar(self, e):
        return "\\mathrm{d}" + latex_name(e.attr[0]), P_ATOM

    def p_const(self, e):
        return _num_latex(e.attr), (P_NEG if e.attr < 0 else P_ATOM)

    def p_ones(self, e):
        return _latex_ones(e.shape)

    def p_sum(self, e):
        a = e.args[0]
        if a.op == "ones":  # sum(ones(n, 1)) is the size n (LaTeX need not parse back)
            n = dim_str(dim_mul(a.rows, a.cols))
            return n.replace("*", " "), P_ATOM
        return self.template(e)

    def p_zero(self, e):
        # a row of zeros is a transposed (column) zero vector: 0^T
        return ("\\mathbf{0}^{T}", P_POST) if _is_row(e.shape) else ("\\mathbf{0}", P_ATOM)

    def p_K(self, e):
        m, n = e.attr
        return f"K_{{{dim_str(m)},{dim_str(n)}}}", P_ATOM

    def paren(self, s: str) -> str:
        return f"\\left({s}\\right)"

    def template(self, e):
        op = e.op
        o = OPS[op]
        args = [self.p(a)[0] for a in e.args]
        if callable(o.latex):  # a template that needs the node (proj: its output's index)
            return o.latex(e, *args), P_ATOM
        if o.latex:
            return o.latex.format(*args, r=dim_str(e.rows)), P_ATOM
        return f"\\operatorname{{{op}}}\\left({', '.join(args)}\\right)", P_ATOM

    def softmax(self, u, how):
        s = f"\\operatorname{{softmax}}\\left({self.p(u)[0]}\\right)"
        return {"col": (s, P_ATOM), "row": (s + "^{T}", P_POST),
                "diag": (f"\\operatorname{{diag}}\\left({s}\\right)", P_ATOM)}[how]

    def p_mul(self, e):
        coeff, num, den = _split_mul(e)
        num, den = named_factors(num, den)
        body = ""
        for i, f in enumerate(num):
            # a thin space after a differential: \mathrm{d}X \, X^{-1}, not dX X^{-1}
            sep = "" if i == 0 else (" \\, " if isinstance(num[i - 1], Expr) and _is_differential(num[i - 1])
                                     else " ")
            body += sep + self.factor(f, P_NEG + 0.5)
        if den:
            d = den[0] if len(den) == 1 else E.mul(*den)
            c = abs(coeff)
            if c == 1 and len(num) == 1 and isinstance(num[0], Expr):
                body = self.p(num[0])[0]  # a fraction's bar groups its numerator: no parentheses
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
        if e.args[0] is E.const(-1):
            return "-" + _latex_ones(e.shape)[0], P_NEG
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
        num, den = E.had_fraction(e)
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
        u = _sum_of_exp_arg(e.args[0]) if name == "log" else None
        if u is not None:
            return f"\\operatorname{{logsumexp}}\\left({self.p(u)[0]}\\right)", P_ATOM
        arg = self.p(e.args[0])[0]
        if name == "sqrt":
            return f"\\sqrt{{{arg}}}", P_ATOM
        if name == "abs" and e.is_scalar:
            return f"\\left|{arg}\\right|", P_ATOM
        return f"{ELEMENTWISE[name].latex}\\left({arg}\\right)", P_ATOM

    def p_kron(self, e):
        return f"{self.wrap(e.args[0], P_POST)} \\otimes {self.wrap(e.args[1], P_POST)}", P_MUL


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


def to_latex(e: Expr) -> str:
    """LaTeX of ``e`` (constants without their size, showing their orientation)."""
    return LatexPrinter()(e)


# ---------------------------------------------------------------------------- a derivation


def derivation_latex(d) -> str:
    """One LaTeX line: the gradients (the differential and Jacobians for a non-scalar
    expression), as :meth:`~matdiff.api.Derivation.latex`."""
    lines = derivative_lines(d)
    if not d.expr.is_scalar:
        lines.insert(0, "\\mathrm{d}\\left(" + to_latex(d.expr) + "\\right) = " + to_latex(d.differential))
    return " ,\\quad ".join(lines)


def latex_lines(d) -> list:
    """The derivation in LaTeX, one equation a line: ``f = ...``, ``df = ...``, then the
    gradients (``F``, its differential and Jacobians for a non-scalar expression)."""
    f = "f" if d.expr.is_scalar else "F"
    return [f"{f} = {to_latex(d.expr)}", f"\\mathrm{{d}}{f} = {to_latex(d.differential)}",
            *derivative_lines(d)]


def derivation_display(d) -> str:
    """The Jupyter display of a derivation: f, df and the gradients (Jacobians for a
    non-scalar expression) as one aligned LaTeX block, with d2f, H[V] and the Hessian when
    they have been computed (asked for through ``d.hessian``, ``d.hvp``...)."""
    lines = latex_lines(d)
    if d.expr.is_scalar and any(x is not None for x in (d._d2, d._hvp, d._hess)):
        lines += second_order_lines(d)
    rows = [ln.replace(" = ", " &= ", 1) for ln in lines]
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def derivative_lines(d) -> list:
    """``\\frac{\\partial f}{\\partial X} = ...`` per variable (vec-Jacobians for a non-scalar f)."""
    if not d.expr.is_scalar:
        return [f"\\frac{{\\partial \\operatorname{{vec}} F}}"
                f"{{\\partial \\operatorname{{vec}} {latex_name(name)}}} = {to_latex(J)}"
                for name, J in d.jacobians.items()]
    return [f"\\frac{{\\partial f}}{{\\partial {latex_name(name)}}} = {to_latex(g)}"
            for name, g in d.gradients.items()]


def second_order_lines(d) -> list:
    """d2f, H[V] (one per variable) and the Hessian (by blocks) in LaTeX, one a line."""
    d2, hv, H, vn = d.second_differential, d.hvps, d.hessians, d.hvp_variables
    single = len(d.wrt) == 1
    tex = latex_name
    tdirs = ", ".join(tex(vn[a]) for a in d.wrt)
    lines = [f"\\mathrm{{d}}^2 f = {to_latex(d2)}"]
    lines += [f"H[{tdirs}]" + ("" if single else f"_{{{tex(b)}}}") + f" = {to_latex(hv[b])}" for b in d.wrt]
    lines += [("H" if single else f"H_{{{tex(a)},{tex(b)}}}") + f" = {to_latex(H[(a, b)])}"
              for a in d.wrt for b in d.wrt]
    return lines


def render_derivation(d, second_order: bool = False, names: bool = True) -> str:
    """The command line's ``--format latex``: :func:`latex_lines`, then with
    ``second_order`` :func:`second_order_lines`, one equation a line; with ``names`` the
    results use named intermediates, defined in a closing aligned ``where`` block."""
    lines = latex_lines(d) + (second_order_lines(d) if second_order else [])
    if not names:
        return "\n".join(lines)
    from .names import latex_where, result_names, to_latex_named

    nm, shown, display = result_names(d, second_order)
    if not nm:
        return "\n".join(lines)
    named = {to_latex(e): to_latex_named(f, nm) for e, f in display.items()}
    lines = [_replace_tail(line, named) for line in lines]
    return "\n".join([*lines, latex_where(shown, nm)])


def _replace_tail(line: str, named: dict) -> str:
    """``lhs = rhs`` with rhs replaced by its named form where it is one of the results."""
    lhs, sep, rhs = line.rpartition(" = ")
    return f"{lhs}{sep}{named[rhs]}" if sep and rhs in named else line
