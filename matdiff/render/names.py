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
MIN_LAYER_CHARS = 8  # an elementwise function of a non-leaf (a layer, tanh(W*x)) repeated this long is named
PACK = 8  # more definitions than this are printed several a line, comma-separated
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


def _is_layer(node: Expr) -> bool:
    """An elementwise function of a computed argument: an activation such as tanh(W1*x + b1)
    or sigmoid(X*w), which a person names wherever it repeats (not exp(x) of a variable)."""
    return node.op == "fn" and not node.is_scalar and node.args[0].op not in _LEAVES


def choose_names(exprs, user: dict | None = None, taken=(), pieces=frozenset(), prune: bool = True) -> dict:
    """``{node: name}`` for the results ``exprs``: the user's names of values that occur, then
    generated names for repeated subexpressions, longest saving first."""
    user = dict(user or {})
    present = {n for e in exprs for n in E.postorder([e])}
    names = {v: n for v, n in user.items() if v in present and v not in exprs}
    used = set(taken) | set(user.values()) | {n.attr[0] for n in present if n.op in ("var", "dvar")}
    counter = 0
    if pieces:  # shared pieces of long products (share_chains): named where they repeat, in one pass
        occ = _occurrences(list(exprs), set())
        for v in E.postorder(list(exprs)):
            if v in pieces and occ.get(v, 0) >= 2:
                counter += 1
                while f"s{counter}" in used:
                    counter += 1
                names[v] = f"s{counter}"
                used.add(f"s{counter}")
        # a piece too short to be worth its definition goes back into the pieces around it
        occ = _occurrences(list(exprs), set(names))
        for v in E.postorder(list(exprs)) if prune else ():
            if v in pieces and v in names:
                k, size = occ.get(v, 0), len(_printer(v, names, own=v)(v))
                if (k - 1) * size - 2 * k < MIN_GAIN:
                    del names[v]
    generic = len(names)
    unused: set = set()  # candidates the printer never shows (exp(u) inside a printed softmax(u))
    while len(names) < generic + MAX_NAMES:
        occ = _occurrences(list(exprs), set(names))
        best, gain = None, 0
        for node, k in occ.items():
            if k < 2 or node in names or node in unused or node.op in _LEAVES or node.op == "transpose" \
                    or node.is_scalar and node.op == "pow" or node.has_op("dvar"):
                continue  # (a differential dX is no intermediate: (X*dw).^2 is printed in place)
            size = len(_printer(node, names, own=node)(node))  # as printed with the names so far
            saved = (k - 1) * size - 2 * k
            if _is_layer(node):  # a repeated activation is named as a person would (h1 = tanh(W1*x))
                worth = size >= MIN_LAYER_CHARS and saved > 0
            else:
                worth = size >= MIN_CHARS and saved >= MIN_GAIN
            if worth and saved > gain:
                best, gain = node, saved
        if best is None:
            break
        counter += 1
        while f"s{counter}" in used:
            counter += 1
        names[best] = f"s{counter}"
        if not _printed_at_least_twice(exprs, names, best):
            del names[best]
            unused.add(best)
            counter -= 1
            continue
        used.add(f"s{counter}")
    # generated names numbered s1, s2, ... in the order their definitions are printed
    generated = [v for v in E.postorder(list(exprs)) if v in names and v not in user]
    free = set(taken) | set(user.values()) | {n.attr[0] for n in present if n.op in ("var", "dvar")}
    i = 0
    for v in generated:
        i += 1
        while f"s{i}" in free:
            i += 1
        names[v] = f"s{i}"
    return names


def _printed_at_least_twice(exprs, names: dict, node: Expr) -> bool:
    """The name of ``node`` occurs twice or more in the results and the other definitions as
    printed: a printed form may hide a subexpression (exp(u) ./ sum(exp(u)) prints softmax(u))."""
    import re

    texts = [names[e] if e in names else _printer(e, names)(e) for e in exprs]
    texts += [_printer(v, names, own=v)(v) for v in names if v is not node]
    return len(re.findall(rf"(?<![A-Za-z0-9_]){re.escape(names[node])}(?![A-Za-z0-9_])", " ".join(texts))) >= 2


_BASE: tuple = (None, None, None)  # (names dict, a copy of it, its printer memo): the last one built


def _base_memo(names: dict) -> dict:
    """``{node: (name, P_ATOM)}`` for ``names``, rebuilt only when ``names`` changed (the
    namer asks for a printer per candidate, and candidates are many when results are long)."""
    global _BASE
    seen, copy, base = _BASE
    if seen is names and copy == names:
        return base
    base = {v: (n, P_ATOM) for v, n in names.items()}
    _BASE = (names, dict(names), base)
    return base


def _printer(e: Expr, names: dict, own: Expr | None = None, explicit: bool = False) -> TextPrinter:
    p = TextPrinter(explicit=explicit or not sizes_determined(e))
    p.memo.update(_base_memo(names))
    if own is not None:
        p.memo.pop(own, None)
    return p


def definitions(exprs, names: dict) -> list:
    """``[(name, value text)]`` of the names the texts of ``exprs`` use, each after the names
    its value uses (so the ``where`` list reads, and parses, in order). One spelling of the
    identity for the whole list: ``eye(n)`` in every definition when one needs it."""
    defs = definition_exprs(exprs, names)
    explicit = any(not sizes_determined(v) for _, v in defs)
    return [(n, _printer(v, names, own=v, explicit=explicit)(v)) for n, v in defs]


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
    """``(names, shown, display)`` of a derivation: the names its results print with (the
    user's and generated ones), the display forms whose definitions are listed, and
    ``{result: display form}`` (long products share pieces, :func:`share_chains`)."""
    user = dict(getattr(d, "names", {}) or {})
    results = list(d.gradients.values()) if d.expr.is_scalar else list(d.jacobians.values())
    if second_order:  # d2f too: it shows the user's names and the results' definitions
        results += [d.second_differential] + list(d.hvps.values()) + list(d.hessians.values())
    best = None
    for sharer in (None, share_chains, share_cycle):  # the shortest printed form wins
        disp, pieces = sharer(results) if sharer is not None else ({}, set())
        if sharer is not None and not disp:
            continue
        shown = [disp.get(r, r) for r in results]
        nm = choose_names(shown, user, taken=d.variables, pieces=pieces, prune=sharer is not share_cycle)
        flat, nm = flatten_unnamed(shown, nm)
        # a definition costs a line of the where block: label column, "name = ", its value
        # the results, and the where block as printed (a label column of 14 a line)
        size = sum(len(to_text_named(f, nm)[0]) for f in flat) + sum(
            len(line) + 15 for line in where_lines(definitions(flat, nm)))
        if best is None or size < best[0]:
            best = (size, flat, nm)
    _, flat, nm = best
    display = {r: f for r, f in zip(results, flat)}
    if user:
        display[d.expr], display[d.differential] = d.expr, d.differential
        flat = [d.expr, d.differential, *flat]
    return nm, flat, display


def definition_exprs(exprs, names: dict) -> list:
    """``[(name, value Expr)]`` in definition order (see :func:`definitions`)."""
    # the named nodes strictly under some result (those under a needed name are under that
    # result too): one walk over the results' arguments, not one per name
    needed = {node for node in E.postorder([a for e in exprs for a in e.args]) if node in names}
    return [(names[v], v) for v in E.postorder(list(exprs)) if v in needed]


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


# ---------------------------------------------------------------------------- shared chain pieces

MIN_CHAIN = 4  # products with fewer matrix factors are left alone


def share_chains(exprs) -> tuple:
    """``({result: display form}, pieces)``: long matrix products of the results rewritten so that an
    adjacent pair of factors repeated across them is one node (a product ``A*B`` of two
    factors, itself possibly such a pair), most frequent pair first, while a pair saves at
    least :data:`MIN_GAIN` characters (greedy pair compression, Re-Pair). The display forms
    print (and, with their names, parse back) to the same expressions; the pieces are named
    by :func:`choose_names` as repeated subexpressions. The rotations of one long product
    (the gradient of ``tr(X*A1*X*A2*...*X*Ak)``) share their pieces: the printed size
    grows about as k log k instead of k^2."""
    chains: dict = {}  # mul node -> [scalars, factors]
    for node in E.postorder(list(exprs)):
        if node.op == "mul":
            c, s, ch = E.factors(node)
            if len(ch) >= MIN_CHAIN:
                chains[node] = ([E.const(c)] if c != 1 else []) + s, list(ch)
    if len(chains) < 2:
        return {}, set()
    made = False
    every: set = set()
    changed = True
    while changed:  # one round pairs up each chain left to right: about log(length) rounds
        changed = False
        count: dict = {}
        for _, ch in chains.values():
            for i in range(len(ch) - 1):
                count[(ch[i], ch[i + 1])] = count.get((ch[i], ch[i + 1]), 0) + 1
        pieces: dict = {}
        for _, ch in chains.values():
            out, i = [], 0
            while i < len(ch):
                if i + 1 < len(ch) and count[(ch[i], ch[i + 1])] >= 2:
                    a, b = ch[i], ch[i + 1]
                    piece = pieces.get((a, b))
                    if piece is None:
                        piece = pieces[(a, b)] = E.Expr("mul", (a, b), (a.rows, b.cols))
                    out.append(piece)
                    i += 2
                else:
                    out.append(ch[i])
                    i += 1
            if len(out) < len(ch):
                ch[:] = out
                changed = True
        made = made or changed
        every.update(pieces.values())
    if not made:
        return {}, set()
    new: dict = {}
    for node in E.postorder(list(exprs)):
        if node in chains:
            s, ch = chains[node]
            parts = tuple(s) + tuple(new.get(f, f) for f in ch)
            new[node] = parts[0] if len(parts) == 1 else E.Expr("mul", parts, node.shape)
        elif node.args and any(a in new for a in node.args):
            new[node] = E.Expr(node.op, tuple(new.get(a, a) for a in node.args), node.shape, node.attr)
    return {e: new[e] for e in exprs if e in new}, every


def flatten_unnamed(exprs, names: dict) -> tuple:
    """``(exprs, names)`` with every product piece of :func:`share_chains` that got no name
    spliced back into the product around it (so it prints without parentheses)."""
    new: dict = {}
    for node in E.postorder(list(exprs)):
        if not node.args:
            continue
        args = []
        for a in node.args:
            b = new.get(a, a)
            if node.op == "mul" and b.op == "mul" and a not in names and not b.is_scalar \
                    and not any(x.is_scalar for x in b.args):
                args.extend(b.args)
            else:
                args.append(b)
        if tuple(args) != node.args:
            new[node] = E.Expr(node.op, tuple(args), node.shape, node.attr)
    return [new.get(e, e) for e in exprs], {new.get(v, v): n for v, n in names.items()}


# ---------------------------------------------------------------------------- windows of one cycle


def _cycle_of(chains: list):
    """``(W, offsets)`` when every chain (equal lengths) is a window of one cyclic word W
    (the cyclic rotations of a product, as in the gradient of a long trace), else None."""
    L = len(chains[0])
    base = chains[0]
    seq = list(base)
    offsets = {0: 0}
    todo = list(range(1, len(chains)))
    pos = 0  # offset of `cur` in seq
    cur = base
    # the next chain is the one that overlaps `cur` the most (the smallest shift d; the first
    # in `todo` among equals): candidates come from an index of the chains' first factors, so
    # a step costs about L lookups, not len(todo)*L comparisons of slices
    p = min(4, L - 1)
    index: dict = {}
    for j in todo:
        index.setdefault(tuple(map(id, chains[j][:p])), []).append(j)
    while todo:
        best = None
        waiting = set(todo)
        for d in range(1, L):
            if L - d >= p:
                cands = [j for j in index.get(tuple(map(id, cur[d:d + p])), ()) if j in waiting]
            else:
                cands = todo
            hits = [j for j in cands if chains[j][:L - d] == cur[d:]]
            if hits:
                best = (min(hits, key=todo.index), d)
                break
        if best is None:
            return None
        j, d = best
        pos += d
        seq += chains[j][L - d:]
        offsets[j] = pos
        cur = chains[j]
        todo.remove(j)
    # the smallest period N >= L of seq (the word wraps around)
    for N in range(L, len(seq) + 1):
        if all(seq[i] is seq[i - N] for i in range(N, len(seq))):
            W = seq[:N]
            offs = [offsets[i] % N for i in range(len(chains))]
            return W, offs
    return None


def share_cycle(exprs) -> tuple:
    """``({result: display form}, pieces)`` like :func:`share_chains`, for results whose long
    products are windows of one cyclic word W: each window that wraps is
    ``S_s * P_e`` with the suffixes ``S_s = W[s]*S_(s+1)`` and prefixes ``P_e = P_(e-1)*W[e-1]``
    of W defined once each, so k windows of length about k print in size linear in k."""
    chains: dict = {}
    for node in E.postorder(list(exprs)):
        if node.op == "mul":
            c, s, ch = E.factors(node)
            if len(ch) >= MIN_CHAIN and not s and c == 1:
                chains[node] = ch
    groups: dict = {}
    for node, ch in chains.items():
        groups.setdefault(len(ch), []).append(node)
    pieces: set = set()
    new: dict = {}
    for nodes in groups.values():
        if len(nodes) < 3:
            continue
        found = _cycle_of([chains[n] for n in nodes])
        if found is None:
            continue
        W, offs = found
        N, L = len(W), len(chains[nodes[0]])
        suffix: dict = {N - 1: W[N - 1]}
        for s in range(N - 2, -1, -1):
            suffix[s] = E.Expr("mul", (W[s], suffix[s + 1]), (W[s].rows, W[-1].cols))
        prefix: dict = {1: W[0]}
        for e in range(2, N + 1):
            prefix[e] = E.Expr("mul", (prefix[e - 1], W[e - 1]), (W[0].rows, W[e - 1].cols))
        for n, s in zip(nodes, offs):
            if s + L > N:  # wraps: W[s:] then W[:e]
                e = s + L - N
                new[n] = E.Expr("mul", (suffix[s], prefix[e]), n.shape)
            elif s + L == N:
                new[n] = suffix[s]
            elif s == 0:
                new[n] = prefix[L]
        pieces.update(suffix.values())
        pieces.update(prefix.values())
    if not new:
        return {}, set()
    out: dict = {}
    for node in E.postorder(list(exprs)):
        if node in new:
            out[node] = new[node]
        elif node.args and any(a in out for a in node.args):
            out[node] = E.Expr(node.op, tuple(out.get(a, a) for a in node.args), node.shape, node.attr)
    pieces -= {W_ for W_ in pieces if not W_.args or W_.op != "mul"}
    return {e: out[e] for e in exprs if e in out}, pieces


def where_lines(defs, width: int = 96) -> list:
    """The where block's lines: one definition a line, or for more than :data:`PACK` several
    a line, comma-separated (as ``G where a = ..., b = ...`` reads)."""
    items = [f"{n} = {v}" for n, v in defs]
    if len(items) <= PACK:
        return items
    lines, cur = [], ""
    for it in items:
        if cur and len(cur) + len(it) + 2 > width:
            lines.append(cur + ",")
            cur = it
        else:
            cur = f"{cur}, {it}" if cur else it
    lines.append(cur)
    return lines
