"""Explain a derivation step by step, top-down, as the course derives it by hand (issue 13).

The passes report every rule they apply to a tracer (:mod:`matdiff.passes.trace`); this
module derives again phase by phase under tracers and turns the raw steps into the
sections a person writes:

1. **differential**: ``df``, outermost operation first; each line is one node's JVP rule with
   the differentials of its arguments left as ``d(...)`` (each of those is a later line,
   shown once however often it is used);
2. **gradient**: the inner-product moves the transpose pass makes, ``<C, L(M)> = <L'(C), M>``,
   pulling the cotangent from ``df = <1, df>`` down to ``<G, dX>``, then ``grad f = G``;
   for a non-scalar expression instead the **Jacobian**: the vec/Kronecker identities
   ``vec(L(M)) = B*vec(M)`` pushed forward from ``vec(dX)``;
3. **simplify**: the rewrites that shortened the result, each with its identity;
4. with ``hessian=True`` the **second differential** (``d`` of ``df`` with ``dX`` fixed) and
   the bilinear form ``d2f = <dX, H[dX]>``.

Every line is an equality (the tests evaluate both sides at random points). ``full=True``
shows every rule application, including the normal forms inside the constructors and the
trivial moves through sums.
"""

from __future__ import annotations

import contextvars
import heapq
import json
import re
from dataclasses import dataclass

from ..core import expr as E
from ..core.expr import Expr
from ..ops.base import Rule
from ..ops.elementwise import ELEMENTWISE
from ..ops.registry import OPS
from ..passes.trace import tracing
from .latex import latex_name, to_latex
from .text import to_text

SECTIONS = ("differential", "gradient", "jacobian", "simplify", "hessian")
TITLES = {"differential": "The differential, outermost operation first",
          "gradient": "The gradient: pull the cotangent through df = <1, df> down to <G, dX>",
          "jacobian": "The Jacobian: vec/Kronecker identities from vec(dX) up to vec(dF)",
          "simplify": "Simplification",
          "hessian": "Second order: the differential of df with dX held fixed"}
LATEX_TITLES = {"differential": r"\text{The differential, outermost operation first}",
                "gradient": r"\text{The gradient: pull the cotangent through } \mathrm{d}f = \langle 1, "
                            r"\mathrm{d}f\rangle \text{ down to } \langle G, \mathrm{d}X\rangle",
                "jacobian": r"\text{The Jacobian: vec/Kronecker identities from } \operatorname{vec}"
                            r"(\mathrm{d}X) \text{ up to } \operatorname{vec}(\mathrm{d}F)",
                "simplify": r"\text{Simplification}",
                "hessian": r"\text{Second order: the differential of } \mathrm{d}f \text{ with } "
                           r"\mathrm{d}X \text{ held fixed}"}

# rules the explanation itself states (the passes' own rules live on the op declarations)
INNER = Rule("explain.inner-product", "df = <G, dX> = tr(G'*dX)  =>  grad f = G",
             r"\mathrm{d}f = \langle G, \mathrm{d}X\rangle = \operatorname{tr}(G^T \mathrm{d}X)"
             r"\Rightarrow \nabla f = G", "18.S096 lecture 1 (gradient as the Riesz representer)")
SYMMETRIC = Rule("explain.symmetric", "X = X': <G, dX> = <(G + G')/2, dX> for symmetric dX, grad f = sym(G)",
                 r"X = X^T:\ \langle G, \mathrm{d}X\rangle = \langle \tfrac{1}{2}(G + G^T), \mathrm{d}X\rangle",
                 "Matrix Cookbook sec. 2.8 (structured matrices)")
VEC_RESULT = Rule("explain.vec-jacobian", "vec(dF) = J*vec(dX)  =>  dvec(F)/dvec(X) = J",
                  r"\operatorname{vec}(\mathrm{d}F) = J \operatorname{vec}(\mathrm{d}X)"
                  r"\Rightarrow \frac{\partial \operatorname{vec} F}{\partial \operatorname{vec} X} = J",
                  "Magnus & Neudecker, Ch. 9 (first identification theorem)")
HESSIAN = Rule("explain.hessian", "d2f = <dX, H[dX]>, H[V] = d(grad f)[V]",
               r"\mathrm{d}^2 f = \langle \mathrm{d}X, H[\mathrm{d}X]\rangle",
               "Magnus & Neudecker, Ch. 10 (second identification theorem)")
EXPLAIN_RULES = (INNER, SYMMETRIC, VEC_RESULT, HESSIAN)
_RESULT_RULES = {"grad": INNER, "dvec": VEC_RESULT, "H": HESSIAN}  # the closing lines' identities


@dataclass
class ExplainStep:
    """One line of an explanation.

    ``relation`` says how ``before`` and ``after`` (Exprs) are related, which is what the tests
    evaluate: ``"differential"`` (the differential of ``before`` along ``dX`` is ``after``;
    ``shown`` is the line as written, ``partial``, with the arguments' differentials left as
    ``d(...)``: placeholders that ``opened`` maps to the lines expanding them), ``"equal"``
    (``before = after``; ``before`` may be text in the language), ``"inner"``
    (``<cotangent, before> = <after, arg>``, the adjoint of a linear map), ``"vec"``
    (``vec(before) = after*vec(dX)``), ``"normal"`` (a constructor's normal form: ``before``
    is the operands of a sum or product it was given, or the node as it was before the
    rewrite, ``(A')'`` for ``(A')' = A``)."""

    section: str
    rule: Rule
    relation: str
    before: object
    after: object  # an Expr (text in the language for a few 'equal' lines)
    cotangent: Expr | None = None
    arg: Expr | None = None
    shown: tuple = ()  # (lhs text, rhs text, lhs latex, rhs latex) as displayed
    refs: tuple = ()  # numbers of the lines that expand the d(...) this line leaves open
    number: int = 0
    wrt: str = ""
    detail: bool = False  # only with full=True
    node: Expr | None = None  # the node a transpose or vec rule was applied to, and at which argument
    index: int = 0
    partial: Expr | None = None  # a differential line as shown: placeholders for the d(...) left open
    opened: dict | None = None  # placeholder -> the step that expands it

    def texts(self) -> tuple:
        """(before, after) as text in matdiff's language (see :meth:`as_dict`)."""
        if self.relation == "differential":
            return to_text(self.before), to_text(self.after)
        if self.relation == "inner":
            return _inner_text(self.cotangent, self.before), _inner_text(self.after, self.arg)
        if self.relation == "vec":
            return f"vec({to_text(self.before)})", f"{_p(self.after)}*vec(d{self.wrt})"
        if self.relation == "normal":  # the operands of a sum or product, or the node un-rewritten
            b = self.before
            if isinstance(b, Expr):
                return to_text(b), _after_text(self.after)
            join = _NORMAL_JOIN.get(self.rule.name, _NORMAL_JOIN.get(self.rule.name.split(".")[0], ", "))
            empty = {" + ": "0", "*": "1"}.get(join, "")  # an empty sum, an empty product
            b, a = join.join(_after_text(x, join) for x in b), _after_text(self.after, join)
            return b or empty, a or empty
        return tuple(x if isinstance(x, str) else to_text(x) for x in (self.before, self.after))

    def as_dict(self) -> dict:
        """``{rule, identity, identity_latex, citation, before, after, ...}``: ``before`` and
        ``after`` in matdiff's language (a differential step: the expression and its
        differential; an inner-product step: ``sum(C .* M)`` on both sides; a vec step:
        ``vec(M)`` and ``J*vec(dX)``)."""
        before, after = self.texts()
        out = {"number": self.number, "section": self.section, "rule": self.rule.name,
               "identity": self.rule.identity, "identity_latex": self.rule.latex,
               "citation": self.rule.cite, "relation": self.relation, "before": before, "after": after,
               "shown": self.shown[0] + " = " + self.shown[1]}
        if self.refs:
            out["refs"] = [r.number for r in self.refs]
        if self.wrt:
            out["wrt"] = self.wrt
        return out


# how a constructor's operands (a tuple) combine: a sum's terms, a product's factors
_NORMAL_JOIN = {"add": " + ", "mul": "*", "block.add": " + ", "block.mul": "*"}


# the user's names of intermediates (``h = tanh(W1*x + b1); ...``): {node: name}, while an
# explanation is built or printed; the lines as shown print those values by name, the JSON's
# before/after (which must parse on their own) in full
_USER_NAMES: contextvars.ContextVar = contextvars.ContextVar("matdiff_explain_names", default=None)


class _NamedText:
    """Text with the user's names, printers shared by all the lines (each node printed once)."""

    def __init__(self, names: dict):
        self.names, self.printers, self.cache = names, {}, {}

    def __call__(self, e: Expr) -> str:
        t = self.cache.get(e)
        if t is None:
            from .text import P_ATOM, TextPrinter, sizes_determined

            explicit = not sizes_determined(e)
            p = self.printers.get(explicit)
            if p is None:
                p = self.printers[explicit] = TextPrinter(explicit=explicit)
                p.memo.update({v: (n, P_ATOM) for v, n in self.names.items()})
            t = self.cache[e] = p(e)
        return t


def _show(e: Expr) -> str:
    """``e`` as a line shows it: the user's names for their values."""
    named = _USER_NAMES.get()
    return to_text(e) if named is None else named(e)


def _ps(e: Expr) -> str:
    t = _show(e)
    return t if _atomic(t) else f"({t})"


def _after_text(a, join: str = ", ") -> str:
    if isinstance(a, Expr):
        return to_text(a) if join in (", ", "; ") else _p(a)
    if isinstance(a, tuple):
        return join.join(_after_text(x, join) for x in a)
    return str(a)


def _bare_eye(t: str) -> str:
    """Display text: ``eye(n)`` read as ``I``, ``ones(n, 1)`` as ``ones`` (the sizes are clear
    on the line)."""
    return re.sub(r"\bones\([^()]*\)", "ones", re.sub(r"\beye\([^()]*\)", "I", t))


def _p(e: Expr) -> str:
    t = to_text(e)
    return t if _atomic(t) else f"({t})"


def _atomic(t: str) -> bool:
    if t.replace("_", "").isalnum():
        return True
    if t.endswith("'") and _atomic(t[:-1]):
        return True
    depth = 0
    for i, ch in enumerate(t):  # a call f(...) whose parentheses close at the end
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and ch == ")" and i != len(t) - 1:
            return False
        if depth == 0 and ch in " +-*/.^,;":
            return False
    return t.endswith(")") and "(" in t and t[0].isalpha()


def _inner_text(C: Expr, M: Expr) -> str:
    """<C, M> in the language: ``sum(C .* M)`` (``C*M`` for scalars, ``M`` for C = 1)."""
    if C is E.ONE:
        return to_text(M)
    if C.is_scalar and M.is_scalar:
        return f"{_p(C)}*{_p(M)}"
    return f"sum({_p(C)} .* {_p(M)})"


def _inner_show(C: Expr, M: Expr) -> tuple:
    if C is E.ONE:
        return _show(M), to_latex(M)
    return (_bare_eye(f"<{_show(C)}, {_show(M)}>"),
            f"\\left\\langle {to_latex(C)},\\ {to_latex(M)} \\right\\rangle")


def restricted(node: Expr, i: int) -> Expr:
    """``node`` as a function of argument ``i`` alone: the other arguments that depend on a
    ``dX`` set to zero (a sum or block matrix with ``dX`` in several places)."""
    dep = [j for j, a in enumerate(node.args) if a.has_op("dvar")]
    if dep == [i]:
        return node
    args = [E.zero(a.shape) if (j != i and j in dep) else a for j, a in enumerate(node.args)]
    return OPS[node.op].rebuild_node(node, args)


class _Placeholders:
    """Leaves standing for ``d(M)`` of a sub-expression M inside a partially expanded line."""

    def __init__(self):
        self.by_node: dict = {}
        self.text: dict = {}
        self.tex: dict = {}

    def of(self, node: Expr) -> Expr:
        ph = self.by_node.get(node)
        if ph is None:
            k = len(self.by_node)
            name = "Zq" + "".join(chr(ord("a") + int(c)) for c in str(k))
            ph = E.dvar(name, node.shape)
            self.by_node[node] = ph
            self.text[to_text(ph)] = "d(" + _show(node) + ")"
            self.tex[to_latex(ph)] = "\\mathrm{d}\\left(" + to_latex(node) + "\\right)"
        return ph

    def show(self, e: Expr) -> tuple:
        t, x = _show(e), to_latex(e)
        for k in sorted(self.text, key=len, reverse=True):
            t = t.replace(k, self.text[k])
        for k in sorted(self.tex, key=len, reverse=True):
            x = x.replace(k, self.tex[k])
        return t, x


def _differential_steps(raw_steps, root: Expr, wrt_names, section: str, full: bool) -> list:
    """The JVP steps, outermost node first, each shown with its arguments' differentials open.

    A tuple-valued op (``lu``, ``eigh``, ``eigmax``) is used only through its outputs
    (``proj``): each output used gets one line, ``d(luU(A)) = ...`` by the op's rule, with the
    arguments of the op left open; the op itself (which has no name in the language) no line."""
    by_node: dict = {}
    chain: dict = {}
    for s in raw_steps:
        if not s.path or s.path[0] != "differentiate":
            continue
        if len(s.path) > 1:  # an elementwise function's own derivative, then the chain rule
            chain[s.before] = s.rule
            continue
        by_node[s.before] = s
    ph = _Placeholders()
    out, line_of = [], {}

    def open_args(node):
        args, opened = [], []
        for a in node.args:
            if a.op == "var" and a.attr[0] in wrt_names:
                args.append(E.dvar(a.attr[0], a.shape, a.attr[1]))
            elif a.op == "dvar":  # second order: dX is held fixed
                args.append(None)
            elif a in by_node and not _folded(a, by_node):
                args.append(ph.of(a))
                opened.append(a)
            else:
                args.append(None)
        return args, opened

    nodes = root.walk()
    rank = _top_down(root, set(nodes))  # outermost first; of two arguments, the left one first
    order = sorted((n for n in nodes if n in by_node and not _folded(n, by_node)), key=rank.__getitem__)
    for node in order:
        s = by_node[node]
        rule = s.rule
        if _folded_output(node, by_node):  # d(output k of T) = output k of T's rule
            multi = node.args[0]
            rule = by_node[multi].rule
            args, opened = open_args(multi)
            partial = rule(multi, lambda i, args=args: args[i])[node.attr]
            partial = partial() if callable(partial) else partial
        else:
            args, opened = open_args(node)
            partial = s.rule(node, lambda i, args=args: args[i])
        partial = E.zero(node.shape) if partial is None else partial
        rhs_t, rhs_x = ph.show(partial)
        lhs_t, lhs_x = "d(" + _show(node) + ")", "\\mathrm{d}\\left(" + to_latex(node) + "\\right)"
        if node in chain:
            rule = Rule(f"{s.rule.name} + {chain[node].name}", f"{s.rule.identity}; {chain[node].identity}",
                        f"{s.rule.latex};\\ {chain[node].latex}", f"{s.rule.cite}; {chain[node].cite}")
        after = E.zero(node.shape) if s.after is None else s.after
        st = ExplainStep(section, rule, "differential", node, after, shown=(lhs_t, rhs_t, lhs_x, rhs_x))
        st.refs = tuple(opened)  # resolved to numbers below
        st.partial, st.opened = partial, dict(ph.by_node)
        line_of[node] = st
        out.append(st)
    for st in out:
        st.refs = tuple(line_of[a] for a in st.refs if a in line_of)
        st.opened = {p: line_of[a] for a, p in st.opened.items() if a in line_of}
    return out


def _folded(node: Expr, by_node: dict) -> bool:
    """A tuple-valued op's node: its lines are those of its outputs (:func:`_folded_output`)."""
    return isinstance(by_node[node].after, tuple)


def _folded_output(node: Expr, by_node: dict) -> bool:
    return node.op == "proj" and node.args[0] in by_node and _folded(node.args[0], by_node)


def _reading_order(steps: list, root: Expr) -> list:
    """The transpose steps in the order one reads df: a term followed down to its ``dX`` before
    the next term (the pass itself goes right to left). Any order in which a node comes after
    every node that passes it a cotangent is the pass's own computation, reordered."""
    nodes = root.walk()
    dep = set()
    for n in nodes:
        if n.op == "dvar" or any(a in dep for a in n.args):
            dep.add(n)
    rank = _top_down(root, dep)
    return sorted(steps, key=lambda st: (rank.get(st.node, -1), st.index))


def _top_down(root: Expr, within: set) -> dict:
    """{node: position} of the nodes of ``within`` under root, parents before children (every
    parent in ``within`` first) and, among the nodes that are ready, the leftmost in the
    printed expression first: the order a person writes a derivation top-down."""
    first, stack, seen = {}, [root], set()
    while stack:  # left-to-right preorder positions
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        first[n] = len(first)
        stack.extend(a for a in reversed(n.args) if a in within)
    waiting = {n: 0 for n in first}
    for n in first:
        for a in set(n.args):
            if a in within:
                waiting[a] += 1
    ready, rank = [(first[root], root)] if root in within else [], {}
    while ready:
        _, n = heapq.heappop(ready)
        rank[n] = len(rank)
        for a in set(n.args):
            if a in within:
                waiting[a] -= 1
                if waiting[a] == 0:
                    heapq.heappush(ready, (first[a], a))
    return rank


def _simplify_steps(raw_steps, section: str, full: bool) -> list:
    out, seen = [], set()
    for s in raw_steps:
        if not s.path:
            continue
        if s.path[0] == "simplify":
            key = (s.rule.name, s.before)
            if key in seen:
                continue
            seen.add(key)
            out.append(ExplainStep(section, s.rule, "equal", s.before, s.after,
                                   shown=(_show(s.before), _show(s.after),
                                          to_latex(s.before), to_latex(s.after))))
        elif s.path[0] == "normal" and full:
            st = ExplainStep(section, s.rule, "normal", s.before, s.after, detail=True)
            b, a = st.texts()
            st.shown = (b, a, b, a)
            out.append(st)
    return out


def _normal_steps(raw_steps, section: str, full: bool) -> list:
    return [s for s in _simplify_steps([x for x in raw_steps if x.path and x.path[0] == "normal"],
                                       section, full)] if full else []


class Explanation:
    """The steps of a derivation (``.steps``, a list of :class:`ExplainStep`), printable as
    text (``str``), aligned LaTeX (:meth:`latex`, Jupyter's ``_repr_latex_``) and JSON
    (:meth:`as_list`, :meth:`to_json`)."""

    def __init__(self, d, full: bool = False, hessian: bool = False):
        # the user's names whose values occur in the expression: the lines print them by name
        present = set(d.expr.walk())
        self.names = {v: n for v, n in (getattr(d, "names", None) or {}).items() if v in present}
        self._named = _NamedText(self.names) if self.names else None
        token = _USER_NAMES.set(self._named)
        try:
            self._build(d, full, hessian)
        finally:
            _USER_NAMES.reset(token)

    def _build(self, d, full: bool, hessian: bool) -> None:
        from ..passes.simplify import simplify
        from ..passes.transpose import transpose_linear
        from ..passes.vecpass import jacobians

        self.derivation, self.full, self.hessian = d, full, hessian
        self.steps: list = []
        self.results: list = []  # (section, lhs text, rhs Expr) closing lines
        wrt = set(d.wrt)
        with tracing() as t_d:
            from ..passes.differentiate import differential

            raw = differential(d.expr, d._dvars)
        self._add(_differential_steps(t_d, d.expr, wrt, "differential", full))
        self._add(_normal_steps(t_d, "differential", full))
        with tracing() as t_s:
            df = simplify(raw, factor=False)
        self._add(_simplify_steps(t_s, "simplify", full))
        self.results.append(("differential", "d" + ("f" if d.expr.is_scalar else "F"), df))
        self.raw = raw if raw is not df else None  # what the transpose pass starts from
        if d.expr.is_scalar:
            with tracing() as t_g:
                grads, _ = transpose_linear(raw, d.wrt)
            self._add(_reading_order(self._transpose_steps(t_g, full), raw))
            for name in d.wrt:
                g = grads[name]
                with tracing() as t_gs:
                    g2 = E.zero(d._shapes[name]) if g is None else simplify(g)
                if g is not None:  # several variables: G_X, the part of df in dX
                    self.results.append(("gradient", f"df = <G, d{name}>, G" if len(d.wrt) == 1
                                         else f"G_{name}", g))
                self._add(_simplify_steps(t_gs, "simplify", full))
                if name in d.symmetric:  # sym(G) = (G + G')/2, in the language (a macro)
                    s = d.gradients[name]
                    self._add([ExplainStep("simplify", SYMMETRIC, "equal", f"sym({to_text(g2)})", s,
                                           shown=(f"grad_{name} f", f"sym({_show(g2)}) = {_show(s)}",
                                                  f"\\nabla_{{{latex_name(name)}}} f",
                                                  f"\\operatorname{{sym}}({to_latex(g2)}) = {to_latex(s)}"))])
                self.results.append(("gradient", f"grad_{name} f", d.gradients[name]))
        else:
            with tracing() as t_v:
                blocks = jacobians(d.differential, d.wrt, d._shapes, simplified=False)
            self._add(self._vec_steps(t_v, full))
            for name in d.wrt:
                with tracing() as t_vs:
                    simplify(blocks[name])
                self._add(_simplify_steps(t_vs, "simplify", full))
                self.results.append(("jacobian", f"dvec(F)/dvec({name})", d.jacobians[name]))
        if hessian and d.expr.is_scalar:
            with tracing() as t_h:
                differential(raw, d._dvars)
            self._add(_differential_steps(t_h, raw, wrt, "hessian", full))
            self.results.append(("hessian", "d2f", d.second_differential))
            for b in d.wrt:
                self.results.append(("hessian", f"H[{', '.join(d.hvp_variables.values())}]"
                                     + ("" if len(d.wrt) == 1 else f"_{b}"), d.hvps[b]))
        # shown section by section, numbered in that order
        self.steps.sort(key=lambda st: SECTIONS.index(st.section))
        for k, st in enumerate(self.steps, 1):
            st.number = k

    def _add(self, steps) -> None:
        for s in steps:
            s.number = len(self.steps) + 1
            self.steps.append(s)

    def _transpose_steps(self, raw, full: bool) -> list:
        out, split = [], set()
        for s in raw:
            if not s.path or s.path[0] != "transpose":
                continue
            node, i = s.before, s.path[1]
            C, arg = s.data["cotangent"], node.args[i]
            if node.op == "add":  # <C, A + B> = <C, A> + <C, B>: a course does not say it
                if full and (node, C) not in split:  # one line for the sum, not one a term
                    split.add((node, C))
                    out.append(self._sum_split(s.rule, node, C))
                continue
            lt, lx = _inner_show(C, restricted(node, i))
            rt, rx = _inner_show(s.after, arg)
            name = next((n.attr[0] for n in arg.walk() if n.op == "dvar"), "")
            out.append(ExplainStep("gradient", s.rule, "inner", restricted(node, i), s.after, cotangent=C,
                                   arg=arg, shown=(lt, rt, lx, rx), wrt=name, node=node, index=i))
        return out

    @staticmethod
    def _sum_split(rule, node: Expr, C: Expr) -> ExplainStep:
        """``<C, A + B> = <C, A> + <C, B>`` for a sum in df (shown with ``full=True`` only)."""
        lt, lx = _inner_show(C, node)
        parts = [_inner_show(C, a) for a in node.args]
        before = _inner_text(C, node)
        after = " + ".join(_inner_text(C, a) for a in node.args)
        return ExplainStep("gradient", rule, "equal", before, after, shown=(
            lt, " + ".join(p[0] for p in parts), lx, " + ".join(p[1] for p in parts)), detail=True, node=node)

    def _vec_steps(self, raw, full: bool) -> list:
        out = []
        for s in raw:
            if not s.path or s.path[0] != "vec":
                continue
            node, name, i = s.before, s.path[1], s.path[2]
            trivial = node.op == "add"
            if trivial and not full:
                continue
            lhs = restricted(node, i)
            others = {n: E.zero(n.shape) for n in lhs.walk() if n.op == "dvar" and n.attr[0] != name}
            if others:  # several variables: this block is the part in d<name>
                lhs = E.substitute(lhs, others)
            out.append(ExplainStep("jacobian", s.rule, "vec", lhs, s.after, arg=node.args[i], node=node, index=i,
                                   shown=(f"vec({_show(lhs)})", f"{_ps(s.after)}*vec(d{name})",
                                          f"\\operatorname{{vec}}\\left({to_latex(lhs)}\\right)",
                                          f"{to_latex(s.after)}\\,\\operatorname{{vec}}(\\mathrm{{d}}"
                                          f"{latex_name(name)})"),
                                   wrt=name, detail=trivial))
        return out

    # ------------------------------------------------------------------ rendering
    def __iter__(self):
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def _ref_text(self, st) -> str:
        return "  [" + ", ".join(f"({r.number})" for r in st.refs) + "]" if st.refs else ""

    def _title(self, section: str) -> str:
        """The section's title, in the variables' names (``<G, dw>``, ``vec(dU)``...)."""
        wrt = self.derivation.wrt
        t = TITLES[section]
        if section == "gradient":
            target = " + ".join(f"<G_{v}, d{v}>" for v in wrt) if len(wrt) > 1 else f"<G, d{wrt[0]}>"
            return t.replace("<G, dX>", target)
        if section in ("jacobian", "hessian"):
            return t.replace("dX", ", ".join("d" + v for v in wrt))
        return t

    def __str__(self) -> str:
        token = _USER_NAMES.set(self._named)
        try:
            return self._text()
        finally:
            _USER_NAMES.reset(token)

    def _text(self) -> str:
        d = self.derivation
        lines = [f"Explain: {d.text} by {', '.join(d.wrt)}"]
        if self.names:  # the user's names, as the lines use them
            from .names import _printer

            lines += [f"  where {n} = {_printer(v, self.names, own=v)(v)}" for v, n in self.names.items()]
        used: dict = {}
        for section in SECTIONS:
            steps = [s for s in self.steps if s.section == section]
            results = [r for r in self.results if r[0] == section]
            if not steps and not results:
                continue
            lines.append("")
            lines.append(self._title(section) + ":")
            if section == "gradient" and self.raw is not None:
                lines.append(f"  (from df as differentiated, before simplification: {_show(self.raw)})")
            for s in steps:
                lhs, rhs = s.shown[0], s.shown[1]
                lines.append(f"  ({s.number}) {lhs} = {rhs}{self._ref_text(s)}")
                if s.rule.name in used:
                    lines.append(f"        by {s.rule.name} (as in ({used[s.rule.name]}))")
                else:
                    used[s.rule.name] = s.number
                    lines.append(f"        by {s.rule.name}: {s.rule.identity}  [{s.rule.cite}]")
            for _, lhs, e in results:
                lines.append(f"  => {lhs} = {_show(e)}")
                rule = _RESULT_RULES.get(lhs.split("_")[0].split("[")[0].split("(")[0])
                if rule is not None and rule.name not in used:
                    used[rule.name] = 0
                    lines.append(f"        by {rule.name}: {rule.identity}  [{rule.cite}]")
        return "\n".join(lines + self._named_summary())

    def _named_summary(self) -> list:
        """The results once more with named intermediates, as the derive command prints them
        (issue 12: a repeated subexpression once, by name, in a where block); nothing when
        no name shortens them."""
        from .names import definitions, result_names, where_lines

        d = self.derivation
        hessian = any(sec == "hessian" for sec, _, _ in self.results)
        names, shown, display = result_names(d, second_order=hessian)
        if not names:
            return []
        from .names import _printer

        out = ["", "In short, with named intermediates:"]
        for _, lhs, e in self.results:
            if e in display:
                f = display[e]
                out.append(f"  {lhs} = {names[f] if f in names else _printer(f, names)(f)}")
        out += [f"  where {line}" for line in where_lines(definitions(shown, names))]
        return out

    def __repr__(self) -> str:
        return f"<Explanation of {self.derivation.text!r}: {len(self.steps)} steps>"

    def latex(self) -> str:
        """An aligned LaTeX derivation: one ``lhs &= rhs`` line per step, the rule as a tag."""
        rows = []
        for section in SECTIONS:
            steps = [s for s in self.steps if s.section == section]
            results = [r for r in self.results if r[0] == section]
            if not steps and not results:
                continue
            rows.append(f"&{LATEX_TITLES[section]}")
            for s in steps:
                rule = s.rule.name.replace("_", "\\_")
                cite = f"\\ \\text{{[{_latex_text(s.rule.cite)}]}}" if s.rule.cite else ""
                rows.append(f"({s.number})\\quad {s.shown[2]} &= {s.shown[3]} && \\text{{{rule}: }} "
                            f"{s.rule.latex}{cite}")
            for _, lhs, e in results:
                rows.append(f"\\Rightarrow\\quad {_lhs_latex(lhs)} &= {to_latex(e)}")
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def _repr_latex_(self) -> str:
        return "$$" + self.latex() + "$$"

    def as_list(self) -> list:
        """The steps as JSON-ready dicts (:meth:`ExplainStep.as_dict`)."""
        return [s.as_dict() for s in self.steps]

    def to_json(self) -> str:
        d = self.derivation
        return json.dumps({"input": d.text, "wrt": list(d.wrt), "steps": self.as_list(),
                           "results": [{"section": sec, "lhs": lhs, "text": to_text(e), "latex": to_latex(e)}
                                       for sec, lhs, e in self.results]}, indent=2)


def _lhs_latex(lhs: str) -> str:
    """The left-hand side of a result line (``grad_X f``, ``df = <G, dX>, G``...) in LaTeX."""
    m = re.fullmatch(r"grad_(\w+) f", lhs)
    if m:
        return f"\\nabla_{{{latex_name(m.group(1))}}} f"
    m = re.fullmatch(r"df = <G, d(\w+)>, G", lhs)
    if m:
        return f"\\mathrm{{d}}f = \\langle G, \\mathrm{{d}}{latex_name(m.group(1))}\\rangle,\\ G"
    m = re.fullmatch(r"dvec\(F\)/dvec\((\w+)\)", lhs)
    if m:
        return f"\\frac{{\\partial \\operatorname{{vec}} F}}{{\\partial \\operatorname{{vec}} {latex_name(m.group(1))}}}"
    m = re.fullmatch(r"G_(\w+)", lhs)
    if m:
        return f"G_{{{latex_name(m.group(1))}}}"
    if lhs in ("df", "dF"):
        return f"\\mathrm{{d}}{lhs[1]}"
    if lhs == "d2f":
        return "\\mathrm{d}^2 f"
    return "\\text{" + lhs.replace("_", "\\_") + "}"


def explain(d, full: bool = False, hessian: bool = False) -> Explanation:
    """The explanation of a :class:`~matdiff.api.Derivation` (see the module docstring)."""
    return Explanation(d, full=full, hessian=hessian)


def reachable_rules() -> list:
    """Every rule an explanation can name: the ops' JVP/transpose/vec rules, the elementwise
    derivatives, the simplifier's rules, the constructors' normal forms and this module's."""
    from ..passes.simplify import RULES

    out = []
    for od in OPS.values():
        out += [r for r in (od.jvp, od.transpose, od.vec) if r is not None]
    out += [d.derivative for d in ELEMENTWISE.values()]
    out += [r for rs in RULES.values() for r in rs]
    out += list(E.NORMAL_FORMS.values())
    out += list(EXPLAIN_RULES)
    return out


__all__ = ["Explanation", "ExplainStep", "explain", "reachable_rules"]


_TEXT_ESCAPES = {"\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "#": "\\#", "_": "\\_",
                 "$": "\\$", "{": "\\{", "}": "\\}", "^": "\\^{}", "~": "\\~{}"}


def _latex_text(t: str) -> str:
    """Plain text (a citation) for LaTeX's text mode: its special characters escaped (one pass)."""
    import re

    return re.sub(r"[\\&%#_${}^~]", lambda m: _TEXT_ESCAPES[m.group(0)], t)
