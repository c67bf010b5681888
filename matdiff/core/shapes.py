"""Shapes and dimensions.

A shape is a pair ``(rows, cols)`` of dimensions; scalars are ``(1, 1)``, vectors are
columns ``(n, 1)``. A dimension is either an ``int`` or a :class:`Dim`, a monomial
``coeff * atom1 * atom2 * ...`` in symbolic size names (products arise from Kronecker
products and ``vec``). An atom may also be a :class:`Plus`, a sum of two or more
monomials (block matrices stack sizes: ``[A; B]`` has ``m + n`` rows); sums are kept
canonical by :func:`dim_add` (like terms combined, a constant factor distributed), so
equal sums compare equal.

During type inference dimensions may also contain *free* atoms (unknown sizes of
undeclared variables). :class:`Unifier` binds free atoms by unification; declared
names are rigid: ``n`` and ``m`` are different sizes unless the user says otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from math import gcd
from typing import Union

from .errors import ShapeError


@dataclass(frozen=True, order=True)
class Dim:
    """A symbolic dimension ``coeff * prod(names)``; ``names`` is sorted, repeats allowed."""

    coeff: int
    names: tuple

    def __str__(self) -> str:
        if self.coeff == 1 and len(self.names) == 1 and isinstance(self.names[0], Plus):
            return self.names[0].bare()
        parts = [str(self.coeff)] if self.coeff != 1 else []
        parts += [str(n) for n in self.names]
        return "*".join(parts)

    def __repr__(self) -> str:
        return f"Dim({self})"


DimT = Union[int, Dim]  # noqa: UP007 (a runtime alias; X | Y needs 3.10 at runtime)


@dataclass(frozen=True, order=True)
class Free:
    """An unknown dimension during inference (printed ``?k``)."""

    id: int

    def __str__(self) -> str:
        return f"?{self.id}"


class Plus:
    """A sum of two or more monomial sizes (ints and :class:`Dim`), in canonical order: an
    atom of a :class:`Dim` (``Dim(1, (Plus((m, n)),))`` is ``m + n``). Build with
    :func:`dim_add`, never directly."""

    __slots__ = ("terms", "order", "_hash")

    def __init__(self, terms: tuple, order: tuple | None = None):
        self.terms = terms
        # the terms in the order they were written ([b; zeros] has b's size first): equal
        # sums may differ in it; it only guides matching the blocks of two sums (settle)
        self.order = terms if order is None else order
        self._hash = hash(("Plus", terms))

    def __eq__(self, other):
        return isinstance(other, Plus) and self.terms == other.terms

    def __hash__(self):
        return self._hash

    # atoms sort names first, then unknowns, then sums (see _atom_key); Dim's ordering
    # compares atom tuples, so a sum must compare with the other atom kinds
    def __lt__(self, other):
        return _atom_key(self) < _atom_key(other)

    def __gt__(self, other):
        return _atom_key(self) > _atom_key(other)

    def __le__(self, other):
        return _atom_key(self) <= _atom_key(other)

    def __ge__(self, other):
        return _atom_key(self) >= _atom_key(other)

    def bare(self) -> str:
        return "+".join(str(t) for t in self.terms)

    def __str__(self) -> str:
        return f"({self.bare()})"

    def __repr__(self) -> str:
        return f"Plus({self.bare()})"


def sym(name: str) -> Dim:
    return Dim(1, (name,))


_DIMS: dict = {}  # one object per size built here (sums excepted), so that size comparisons are mostly `is`


def make_dim(coeff: int, names) -> DimT:
    names = tuple(sorted(names, key=_atom_key))
    if not names or coeff == 0:
        return coeff
    d = Dim(coeff, names)
    for a in names:
        if isinstance(a, Plus):  # equal sums may differ in their written order: not shared
            return d
    if len(_DIMS) > 50000:  # a bound for long sessions (sizes of fresh unknowns accumulate)
        _DIMS.clear()
    return _DIMS.setdefault(d, d)


def _atom_key(a):
    if isinstance(a, Free):
        return (1, a.id, "")
    if isinstance(a, Plus):
        return (2, 0, a.bare())
    return (0, 0, a)


def _term_key(t):
    c, names = dim_parts(t)
    return (not names, tuple(str(_atom_key(a)) for a in names), c)


def _terms(d) -> list:
    """``d`` as a list of monomial terms ``(coeff, atoms)``: a sum's terms (times its
    factor), or ``d`` itself."""
    c, names = dim_parts(d)
    if len(names) == 1 and isinstance(names[0], Plus):
        return [(c * tc, tn) for tc, tn in map(dim_parts, names[0].order)]
    return [(c, names)]


def dim_add(*ds) -> DimT:
    """The canonical sum of sizes: like terms combined (``n + n = 2*n``), a sum times a
    constant distributed, constants last; a single term is returned as itself."""
    acc: dict = {}
    for d in ds:
        for c, names in _terms(d):
            acc[names] = acc.get(names, 0) + c
    order = tuple(make_dim(c, names) for names, c in acc.items() if c)
    if not order:
        return 0
    if len(order) == 1:
        return order[0]
    return Dim(1, (Plus(tuple(sorted(order, key=_term_key)), order),))


def dim_leaves(d) -> list:
    """The size names and unknowns ``d`` is made of (inside sums too), with repeats."""
    out, todo = [], [d]
    while todo:
        for a in dim_parts(todo.pop())[1]:
            if isinstance(a, Plus):
                todo.extend(a.terms)
            else:
                out.append(a)
    return out


def dim_map(d, f) -> DimT:
    """``d`` with each leaf atom (a name or an unknown) replaced by ``f(atom)`` (a size)."""
    c, names = dim_parts(d)
    out: DimT = c
    for a in names:
        if isinstance(a, Plus):
            out = dim_mul(out, dim_add(*(dim_map(t, f) for t in a.order)))
        else:
            out = dim_mul(out, f(a))
    return out


def dim_value(d, sizes) -> int:
    """The number ``d`` stands for, given ``sizes`` ({name: int}; names as strings)."""
    c, names = dim_parts(d)
    for a in names:
        c *= dim_value_sum(a, sizes) if isinstance(a, Plus) else sizes[str(a)]
    return c


def dim_value_sum(p: Plus, sizes) -> int:
    return sum(dim_value(t, sizes) for t in p.terms)


def dim_code(d, name_code, top: bool = True) -> str:
    """Python code for the size ``d``: ``name_code(name)`` spells a size name."""
    c, names = dim_parts(d)
    if len(names) == 1 and isinstance(names[0], Plus) and c == 1:
        code = " + ".join(dim_code(t, name_code, False) for t in names[0].terms)
        return code if top else f"({code})"
    parts = [str(c)] if c != 1 or not names else []
    for a in names:
        parts.append(dim_code(Dim(1, (a,)), name_code, False) if isinstance(a, Plus) else name_code(a))
    return " * ".join(parts)


def dim_parts(d: DimT) -> tuple[int, tuple]:
    if isinstance(d, int):
        return d, ()
    return d.coeff, d.names


def dim_mul(a: DimT, b: DimT) -> DimT:
    ca, na = dim_parts(a)
    cb, nb = dim_parts(b)
    d = make_dim(ca * cb, na + nb)
    if ca * cb not in (0, 1) and len(na + nb) == 1 and isinstance((na + nb)[0], Plus):
        return dim_add(d)  # 2*(m+n) is 2*m + 2*n, as dim_add writes it
    return d


def dim_str(d: DimT) -> str:
    return str(d)


def shape_str(shape) -> str:
    r, c = shape
    if r == 1 and c == 1:
        return "scalar"
    if c == 1:
        return f"vector({dim_str(r)})"
    return f"{dim_str(r)}x{dim_str(c)}"


def is_scalar_shape(shape) -> bool:
    return shape[0] == 1 and shape[1] == 1


_BY = re.compile(r"([A-Za-z]|\d+)\s*[x×]\s*([A-Za-z]|\d+)")


def parse_dims(spec, name: str = "?") -> tuple:
    """Parse a user shape declaration: ``"n,m"`` (or ``"nxm"``, ``"n×m"``), ``"n"``, ``""``,
    ``"3,3"`` (or ``"3x3"``) or a tuple. A single size (``"n"``) is a vector's length.

    Returns a tuple of 0, 1 or 2 dimensions (ints or :class:`Dim`).
    """
    if isinstance(spec, str):
        items = [s.strip() for s in spec.split(",")] if spec.strip() else []
        # "nxm", "n x m", "n×m", "3x3": the way matdiff prints a matrix's shape
        m = _BY.fullmatch(spec.strip())
        if m and len(items) == 1:
            items = [m.group(1), m.group(2)]
    elif isinstance(spec, int):
        items = [spec]
    else:
        items = list(spec)
    if len(items) > 2:
        raise ShapeError(f"shape of {name!r} has {len(items)} dimensions; matdiff handles scalars, "
                         f"vectors and matrices (at most 2)")
    dims = []
    for it in items:
        if isinstance(it, int) and not isinstance(it, bool):
            d = it
        elif isinstance(it, str) and it.isdigit():
            d = int(it)
        elif isinstance(it, str) and it.isidentifier() and not it.startswith("_"):
            d = sym(it)
        elif isinstance(it, str) and "+" in it and all(p.strip() for p in it.split("+")):
            # a sum of sizes, e.g. m+n (the rows of a block matrix [A; B])
            d = dim_add(*(parse_dims(part.strip(), name)[0] for part in it.split("+")))
        elif isinstance(it, str) and "*" in it and all(p.strip() for p in it.split("*")):
            d = 1  # a product of sizes, e.g. n*m (the length of vec of an n x m matrix)
            for part in it.split("*"):
                (f,) = parse_dims(part.strip(), name)
                d = dim_mul(d, f)
        else:
            raise ShapeError(f"bad dimension {it!r} in the shape of {name!r}: use a positive integer "
                             f"or a name such as n (e.g. {name}=n,m)")
        if isinstance(d, int) and d < 1:
            raise ShapeError(f"dimension {d} in the shape of {name!r} must be positive")
        dims.append(d)
    return tuple(dims)


def dims_to_shape(dims: tuple) -> tuple:
    if len(dims) == 0:
        return (1, 1)
    if len(dims) == 1:
        return (dims[0], 1)
    return (dims[0], dims[1])


def shape_to_dims(shape) -> tuple:
    """The user-facing view of a shape: () scalar, (n,) vector, (n, m) matrix."""
    r, c = shape
    if r == 1 and c == 1:
        return ()
    if c == 1:
        return (r,)
    return (r, c)


class Unifier:
    """Union-find over free dimension atoms, with monomial terms.

    A term is a pair ``(coeff, atoms)`` where atoms are rigid names (str) or :class:`Free`.
    """

    def __init__(self):
        self.binding: dict[Free, object] = {}
        self.counter = 0
        # atoms that may not become 1: the length of a vector, the sizes of a matrix or of an
        # identity whose size is inferred (a 1x1 "matrix" is a scalar in disguise, and the
        # operation that would make it one is where the error belongs)
        self.nonunit: set[Free] = set()
        # product equations with several solutions, kept until later uses decide them
        # (see settle); site is an opaque tag of where the equation arose
        self.defer = True
        self.pending: list = []
        self.site = None
        self.guessed = False  # some size equation was solved by a guess, not determined
        self.guessed_sums = False  # ... and one of them was a sum (blocks of a block matrix)

    def fresh(self) -> Free:
        self.counter += 1
        return Free(self.counter)

    def fresh_dim(self, nonunit: bool = False):
        f = self.fresh()
        if nonunit:
            self.nonunit.add(f)
        return Dim(1, (f,))

    def is_nonunit(self, d) -> bool:
        """True if d can never be 1: a rigid size name, an int other than 1, or a marked atom."""
        c, names = dim_parts(self.resolve(d))
        if not names:
            return c != 1
        return c != 1 or any(not isinstance(a, Free) or a in self.nonunit for a in names)

    def resolve(self, d):
        """Substitute bound free atoms, returning a canonical int/Dim."""
        c, names = dim_parts(d)
        binding = self.binding
        if any(isinstance(a, Free) and a in binding for a in names):
            out = []
            for a in names:
                if isinstance(a, Free) and a in binding:
                    bc, bn = dim_parts(self._find(a))
                    c *= bc
                    out.extend(bn)
                else:
                    out.append(a)
            names = tuple(out)
        if any(isinstance(a, Plus) for a in names):
            plain = [a for a in names if not isinstance(a, Plus)]
            d = make_dim(c, plain)
            for a in names:
                if isinstance(a, Plus):
                    d = dim_mul(d, dim_add(*(self.resolve(t) for t in a.order)))
            return d
        return make_dim(c, names)

    def _find(self, f):
        """The size a bound atom ``f`` stands for, with no bound atom left in it. The binding
        is compressed on the way (union-find path compression): a chain of bindings made by a
        long product (each factor's size bound to the next's) is followed once, not on every
        later lookup, so parsing stays linear in the length of the product. Safe with
        :meth:`settle`'s backtracking, which restores a copy of the whole binding."""
        binding = self.binding
        path = []
        cur = binding[f]
        # follow single-atom bindings iteratively (the long chains), then resolve the rest
        while True:
            c, names = dim_parts(cur)
            if c == 1 and len(names) == 1 and isinstance(names[0], Free) and names[0] in binding:
                path.append(names[0])
                cur = binding[names[0]]
                continue
            break
        c, names = dim_parts(cur)
        if any(isinstance(a, Free) and a in binding for a in names):
            cur = self.resolve(cur)
        binding[f] = cur
        for g in path:
            binding[g] = cur
        return cur

    def _reduced(self, a, b):
        """``a = b`` as ``ca*la = cb*lb`` with common atoms and common factors cancelled."""
        ca, na = dim_parts(self.resolve(a))
        cb, nb = dim_parts(self.resolve(b))
        la, lb = list(na), list(nb)
        for x in list(la):
            if x in lb:
                la.remove(x)
                lb.remove(x)
        g = gcd(ca, cb) or 1
        return ca // g, la, cb // g, lb

    def unify(self, a, b) -> bool:
        """Make dimensions a and b equal; False if impossible."""
        a = self.resolve(a)
        b = self.resolve(b)
        if a == b:
            return True
        if len(_terms(a)) > 1 or len(_terms(b)) > 1:
            return self._unify_sums(a, b)
        ca, la, cb, lb = self._reduced(a, b)
        if ca == cb and len(la) == len(lb) == 1 and isinstance(la[0], Plus) and isinstance(lb[0], Plus):
            return self._unify_sums(Dim(1, (la[0],)), Dim(1, (lb[0],)))  # (m+?)*k = (m+n)*k
        for (c1, n1, c2, n2) in ((ca, la, cb, lb), (cb, lb, ca, la)):
            if c1 == 1 and len(n1) == 1 and isinstance(n1[0], Free):
                f = n1[0]
                if f in dim_leaves(make_dim(c2, n2)):
                    return False
                target = make_dim(c2, n2)
                if f in self.nonunit:
                    if target == 1:
                        return False
                    if c2 == 1 and len(n2) == 1 and isinstance(n2[0], Free):
                        self.nonunit.add(n2[0])
                self.binding[f] = target
                return True
        if not any(isinstance(x, Free) for x in la + lb):
            return False
        for (c1, n1, c2, n2) in ((ca, la, cb, lb), (cb, lb, ca, la)):
            # f^k = c*names (kron(x, x) against a declared n*n): a unique positive solution
            if c1 == 1 and n1 and len(set(n1)) == 1 and isinstance(n1[0], Free) \
                    and not any(isinstance(x, Free) for x in n2):
                k = len(n1)
                root = round(c2 ** (1 / k))
                counts = {x: n2.count(x) for x in n2}
                if root ** k != c2 or any(v % k for v in counts.values()):
                    return False
                return self.unify(Dim(1, (n1[0],)),
                                  make_dim(root, [x for x, v in counts.items() for _ in range(v // k)]))
        # a product of unknowns equal to another product (Kronecker products of undeclared
        # factors: m*f = n*g) has many solutions; keep it until other uses decide (settle)
        if self.defer:
            self.pending.append((a, b, self.site))
            return True
        return False

    def _cancelled(self, a, b):
        """The terms of ``a`` and ``b`` (``{atoms: coeff}``, in written order) with the
        terms they share cancelled."""
        ta, tb = {}, {}
        for t, d in ((ta, self.resolve(a)), (tb, self.resolve(b))):
            for c, names in _terms(d):
                t[names] = t.get(names, 0) + c
        for k in set(ta) & set(tb):
            m = min(ta[k], tb[k])
            ta[k] -= m
            tb[k] -= m
        return {k: v for k, v in ta.items() if v}, {k: v for k, v in tb.items() if v}

    def _unify_sums(self, a, b) -> bool:
        """``a = b`` where one side is a sum of sizes: cancel like terms, then a lone unknown
        on one side is the sum of what remains on the other (``m + ? = m + n`` gives
        ``? = n``); sizes are positive, so an empty side against a non-empty one fails."""
        ta, tb = self._cancelled(a, b)
        if not ta and not tb:
            return True
        if not ta or not tb:
            return False
        for x, y in ((ta, tb), (tb, ta)):
            if len(x) == 1:
                ((names, c),) = x.items()
                if c == 1 and len(names) == 1 and isinstance(names[0], Free):
                    f = names[0]
                    target = dim_add(*(make_dim(v, k) for k, v in y.items()))
                    if f in dim_leaves(target) or (f in self.nonunit and target == 1):
                        return False
                    self.binding[f] = target
                    return True
        if len(ta) == 1 and len(tb) == 1:
            ((na, va),), ((nb, vb),) = ta.items(), tb.items()
            return self.unify(make_dim(va, na), make_dim(vb, nb))
        if any(isinstance(x, Free) for x in dim_leaves(a) + dim_leaves(b)) and self.defer:
            self.pending.append((a, b, self.site))
            return True
        return False

    def _pairings(self, a, b):
        """Candidate solutions of an open product equation, each a list of equations between
        single sizes: corresponding Kronecker factors agree (every order of the factors), or
        m*f = n*g read as f = n, g = m."""
        from itertools import permutations

        if len(_terms(a)) > 1 or len(_terms(b)) > 1:
            # sums of sizes (stacked blocks): the blocks correspond in the order written,
            # else in another order
            ta, tb = self._cancelled(a, b)
            if len(ta) != len(tb) or len(ta) > 5:
                return []
            la = [make_dim(v, k) for k, v in ta.items()]
            return [[(x, y) for x, y in zip(la, perm)]
                    for perm in dict.fromkeys(permutations([make_dim(v, k) for k, v in tb.items()]))]
        ca, la, cb, lb = self._reduced(a, b)
        out = []
        if ca == cb and len(la) == len(lb) <= 5:
            for perm in dict.fromkeys(permutations(lb)):
                out.append([(Dim(1, (x,)), Dim(1, (y,))) for x, y in zip(la, perm)])
        fa = [x for x in la if isinstance(x, Free)]
        fb = [x for x in lb if isinstance(x, Free)]
        if len(fa) == 1 and len(fb) == 1:
            ra = [x for x in la if not isinstance(x, Free)]
            rb = [x for x in lb if not isinstance(x, Free)]
            out.append([(Dim(1, (fa[0],)), make_dim(cb, rb)), (Dim(1, (fb[0],)), make_dim(ca, ra))])
        return out

    def _search(self, eqs) -> bool:
        """Solve open product equations by trying each candidate (depth first, undoing on
        failure) until all hold together."""
        eqs = [e for e in eqs if self.resolve(e[0]) != self.resolve(e[1])]
        if not eqs:
            return True
        (a, b, _), rest = eqs[0], eqs[1:]
        for cand in self._pairings(a, b):
            saved = dict(self.binding), set(self.nonunit)
            self.pending = []
            if all(self.unify(x, y) for x, y in cand) and self._search(rest + self.pending):
                return True
            self.binding, self.nonunit = saved
        return False

    def settle(self):
        """Solve the deferred product equations: first those that later uses determined, then
        the rest by :meth:`_search` (``guessed`` is then set). Returns ``(a, b, site)`` of an
        equation that cannot hold, else None."""
        progress = True
        while progress and self.pending:
            progress = False
            eqs, self.pending = self.pending, []
            for a, b, site in eqs:
                before = len(self.pending)
                if not self.unify(a, b):
                    return a, b, site
                progress = progress or len(self.pending) == before
        eqs, self.pending = self.pending, []
        if not eqs:
            return None
        self.guessed = True
        self.guessed_sums = any(len(_terms(a)) > 1 or len(_terms(b)) > 1 for a, b, _ in eqs)
        ok = self._search(eqs)
        self.pending = []
        return None if ok else eqs[0]
