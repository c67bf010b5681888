"""Named intermediates in results (issue 12): ``G where s1 = ..., s2 = ...``.

A subexpression that a result repeats, and that is long enough to be worth a name, is
printed once in a definition and by its name elsewhere, as a person would write it; the
user's own names (``h = tanh(W1*x + b1); ...``, see :mod:`matdiff.lang.names`) are kept
wherever their value occurs. Generated names are ``s1``, ``s2``, ... skipping every name
the expression or the user already uses, so they cannot collide. The text form parses back
(the ``where`` construct of the input language) to the same expression.
"""

from __future__ import annotations

from ..core import expr as E
from ..core.expr import Expr
from .text import P_ATOM, TextPrinter, sizes_determined, to_text

MIN_CHARS = 12  # a repeated subexpression shorter than this is printed in place
MIN_GAIN = 24  # characters a name must save (its repeats less the names) to be worth a definition
MAX_NAMES = 26
_LEAVES = ("var", "dvar", "const", "eye", "ones", "zero", "bcast")


def _occurrences(roots, cut) -> dict:
    """How often each node is printed when the nodes in ``cut`` are printed as names and
    defined once each: occurrences in the tree the DAG unfolds to."""
    order = E.postorder(list(roots))
    occ: dict = {}
    for r in roots:
        occ[r] = occ.get(r, 0) + 1
    for node in reversed(order):  # parents before children
        k = 1 if node in cut else occ.get(node, 0)  # a named node's value is printed once
        if not k:
            continue
        for a in node.args:
            occ[a] = occ.get(a, 0) + k
    return occ


def choose_names(exprs, user: dict | None = None, taken=()) -> dict:
    """``{node: name}`` for the results ``exprs``: the user's names of values that occur, then
    generated names for repeated subexpressions, longest saving first."""
    user = dict(user or {})
    present = {n for e in exprs for n in E.postorder([e])}
    names = {v: n for v, n in user.items() if v in present and v not in exprs}
    used = set(taken) | set(user.values()) | {n.attr[0] for n in present if n.op in ("var", "dvar")}
    counter = 0
    while len(names) < MAX_NAMES:
        occ = _occurrences(list(exprs), set(names))
        best, gain = None, 0
        for node, k in occ.items():
            if k < 2 or node in names or node.op in _LEAVES or node.op == "transpose" or node.is_scalar \
                    and node.op == "pow":
                continue
            size = len(_printer(node, names, own=node)(node))  # as printed with the names so far
            saved = (k - 1) * size - 2 * k
            if size >= MIN_CHARS and saved >= MIN_GAIN and saved > gain:
                best, gain = node, saved
        if best is None:
            break
        counter += 1
        while f"s{counter}" in used:
            counter += 1
        names[best] = f"s{counter}"
        used.add(f"s{counter}")
    # generated names numbered in the order their definitions are printed (inner first)
    generated = [v for v in E.postorder(list(names)) if v in names and v not in user]
    fresh = iter(sorted((names[v] for v in generated), key=lambda n: int(n[1:])))
    for v in generated:
        names[v] = next(fresh)
    return names


def _printer(e: Expr, names: dict, own: Expr | None = None) -> TextPrinter:
    p = TextPrinter(explicit=not sizes_determined(e))
    for v, n in names.items():
        if v is not own:
            p.memo[v] = (n, P_ATOM)
    return p


def definitions(exprs, names: dict) -> list:
    """``[(name, value text)]`` of the names the texts of ``exprs`` use, each after the names
    its value uses (so the ``where`` list reads, and parses, in order)."""
    return [(n, _printer(v, names, own=v)(v)) for n, v in definition_exprs(exprs, names)]


def to_text_named(e: Expr, names: dict) -> tuple:
    """``(text, [(name, value text)])``: ``e`` printed with ``names``; the text alone when
    no name occurs (``[]``)."""
    if not names:
        return to_text(e), []
    return _printer(e, names, own=None)(e) if e not in names else names[e], definitions([e], names)


def where_text(e: Expr, names: dict) -> str:
    """``G where s1 = ..., s2 = ...`` (or ``G`` alone): parses back to ``e``."""
    text, defs = to_text_named(e, names)
    if not defs:
        return text
    return text + " where " + ", ".join(f"{n} = {v}" for n, v in defs)


def result_names(d, second_order: bool = False) -> tuple:
    """``(names, shown)`` of a derivation: the names its results print with (the user's
    and generated ones) and the expressions whose definitions are listed."""
    user = dict(getattr(d, "names", {}) or {})
    results = list(d.gradients.values()) if d.expr.is_scalar else list(d.jacobians.values())
    if second_order:
        results += list(d.hvps.values()) + list(d.hessians.values())
    nm = choose_names(results, user, taken=d.variables)
    return nm, ([d.expr, d.differential, *results] if user else results)


def definition_exprs(exprs, names: dict) -> list:
    """``[(name, value Expr)]`` in definition order (see :func:`definitions`)."""
    needed: set = set()
    stack = list(exprs)
    while stack:
        e = stack.pop()
        for node in E.postorder([e]):
            if node in names and node is not e and node not in needed:
                needed.add(node)
                stack.append(node)
    return [(names[v], v) for v in E.postorder(list(needed)) if v in needed]


def to_latex_named(e: Expr, names: dict, own: Expr | None = None) -> str:
    """LaTeX of ``e`` with ``names`` (other than ``own``) printed as names."""
    from .latex import LatexPrinter, latex_name

    if e in names and e is not own:
        return latex_name(names[e])
    p = LatexPrinter()
    for v, n in names.items():
        if v is not own:
            p.memo[v] = (latex_name(n), P_ATOM)
    return p(e)


def latex_where(exprs, names: dict) -> str:
    """``\\text{where}\\; \\begin{aligned} s_{1} &= ... \\end{aligned}`` ('' without names)."""
    from .latex import latex_name

    defs = definition_exprs(exprs, names)
    if not defs:
        return ""
    rows = " \\\\ ".join(f"{latex_name(n)} &= {to_latex_named(v, names, own=v)}" for n, v in defs)
    return f"\\text{{where}}\\quad \\begin{{aligned}} {rows} \\end{{aligned}}"
