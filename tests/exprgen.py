"""Random well-typed matdiff expression strings.

Shapes are tracked as (rows, cols) over the symbols {"1", "n", "m"}:
("1","1") scalar, (d,"1") column vector, ("1",d) row vector, otherwise matrix.
Every generated expression is well typed for the declared shapes in SHAPES,
and its domain is kept safe:

* log / sqrt / ./ / fractional powers only of positive things
  (1 + E.^2, exp(E), 2 + cos(E), sigmoid(E), 1 + abs(E));
* inv / det / logdet / ^-1 only of well-conditioned matrices
  (I + T*T' with T = tanh(E) or sigmoid(E), or the variables A, B, M, S whose random values are well conditioned, their
  Kronecker products, commutation matrices); det also of I + kron(E1, E2)/4 (a smooth
  function even where that matrix is singular);
* tan only of tanh(E) (inside (-pi/2, pi/2));
* norm2 without a square only of a variable (never of something that may be 0);
* division only by positive scalars;
* I / eye / ones only where the neighbouring operand fixes their size.

Besides the sizes n and m the generator uses the product sizes n*n, m*n and m*m (never
declared: they arise from ``kron``, ``vec``, ``K``), so that random expressions reach the
Kronecker regions: ``kron`` of non-square, column and row factors, Kronecker products
inside ``tr``/``det``/``logdet``, products of Kronecker products (a product through an
inner size m*n), ``vec``/``unvec`` and commutation matrices ``K(n, m)``.

The generator takes an ``integers(lo, hi)`` callable so that it can be driven
both by Hypothesis (``draw(st.integers(lo, hi))``, shrinkable) and by a plain
``random.Random`` (deterministic corpora for the round-trip tests).
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable

from hypothesis import strategies as st

# declared shapes (as strings, the form accepted by matdiff.derive / parse)
SHAPES = {
    "a": "",
    "b": "",
    "alpha": "",
    "x": "n",
    "y": "n",
    "z": "m",
    "A": "n,n",
    "B": "n,n",
    "M": "m,m",
    "C": "n,m",
    "D": "m,n",
}
SYM_SHAPES = {"S": "n,n"}

# random-input kinds for gradcheck.random_value
KINDS = {"A": "wc", "B": "wcneg", "M": "wc", "S": "spd"}

VARS = {
    ("1", "1"): ["a", "b", "alpha"],
    ("n", "1"): ["x", "y"],
    ("m", "1"): ["z"],
    ("n", "n"): ["A", "B"],
    ("m", "m"): ["M"],
    ("n", "m"): ["C"],
    ("m", "n"): ["D"],
}
NUMBERS = ["2", "0.5", "3", "1e-3", "1.5"]
WELL_CONDITIONED = {"n": ["A", "B"], "m": ["M"]}

BASE_DIMS = ("1", "n", "m")
PRODUCT_DIMS = ("m*n", "n*n", "m*m")  # products of two base sizes, names sorted


def dmul(a: str, b: str) -> str:
    """The product of two generator dimensions ("1", "n", "m", "m*n", ...)."""
    if a == "1":
        return b
    if b == "1":
        return a
    return "*".join(sorted(a.split("*") + b.split("*")))


def factor_pairs(d: str) -> list[tuple[str, str]]:
    """(d1, d2) with base dims d1*d2 == d (the row or column sizes of kron's factors)."""
    if d == "1":
        return [("1", "1")]
    if "*" not in d:
        return [(d, "1"), ("1", d)]
    a, b = d.split("*")
    return [(a, b)] if a == b else [(a, b), (b, a)]


def kron_factorizations(shp) -> list:
    """((r1, c1), (r2, c2)): shapes of non-scalar base factors with kron(F1, F2) of shape shp."""
    out = []
    for r1, r2 in factor_pairs(shp[0]):
        for c1, c2 in factor_pairs(shp[1]):
            f1, f2 = (r1, c1), (r2, c2)
            if f1 != ("1", "1") and f2 != ("1", "1"):
                out.append((f1, f2))
    return out


ALL_NAMES = sorted(set(SHAPES) | set(SYM_SHAPES), key=len, reverse=True)
_NAME_RE = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(ALL_NAMES) + r")(?![A-Za-z0-9_])")


def example_scale() -> float:
    """MATDIFF_HYPOTHESIS_SCALE=4 runs four times as many examples."""
    try:
        return float(os.environ.get("MATDIFF_HYPOTHESIS_SCALE", "1"))
    except ValueError:
        return 1.0


def n_examples(n: int) -> int:
    return max(1, int(n * example_scale()))


def variables_in(text: str) -> list[str]:
    """Declared variable names occurring in an expression text (sorted)."""
    return sorted(set(_NAME_RE.findall(text)))


def _matching_close(s: str, i: int) -> int:
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "(":
            depth += 1
        elif s[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    return -1


def is_atom(s: str) -> bool:
    """True if s binds tighter than any binary operator (safe as an operand)."""
    s = s.strip()
    core = s.rstrip("'")
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", core):
        return True
    if re.fullmatch(r"\d+(\.\d+)?(e-?\d+)?", core):
        return s == core  # 2' would be odd; keep numbers bare
    m = re.match(r"[A-Za-z_][A-Za-z0-9_]*\(", core)
    start = m.end() - 1 if m else (0 if core.startswith("(") else -1)
    if start < 0:
        return False
    return _matching_close(core, start) == len(core) - 1


def p(s: str) -> str:
    return s if is_atom(s) else f"({s})"


class Gen:
    """Random expression texts; ``kron=False`` keeps to the sizes 1, n, m (no Kronecker regions)."""

    def __init__(self, integers: Callable[[int, int], int], with_sym: bool = False, kron: bool = True):
        self.ri = integers
        self.with_sym = with_sym
        self.kron = kron

    # -- helpers
    def pick(self, seq):
        seq = list(seq)
        return seq[self.ri(0, len(seq) - 1)]

    def coin(self, num: int = 1, den: int = 2) -> bool:
        return self.ri(0, den - 1) < num

    def eye(self) -> str:
        return "I" if self.coin(3, 4) else "eye"

    def vars_of(self, shp):
        v = list(VARS.get(shp, []))
        if self.with_sym and shp == ("n", "n"):
            v.append("S")
        return v

    def wc_leaf(self, d):
        if "*" in d:  # kron of well-conditioned factors, or a commutation matrix (orthogonal)
            a, b = d.split("*")
            if self.coin(3, 4):
                return f"kron({self.wc_leaf(a)}, {self.wc_leaf(b)})"
            return f"K({a}, {b})" if a == b or self.coin() else f"K({b}, {a})"
        v = list(WELL_CONDITIONED[d])
        if self.with_sym and d == "n":
            v.append("S")
        return self.pick(v)

    # -- generation
    def expr(self, shp, depth: int) -> str:
        if depth <= 0:
            return self.leaf(shp)
        r, c = shp
        rules = [
            self.addsub,
            self.neg,
            self.scale,
            self.divide,
            self.matmul,
            self.matmul,
            self.hadamard,
            self.ewdiv,
            self.ewpow,
            self.ewfunc,
            self.ewfunc,
        ]
        if shp != ("1", "1"):
            rules += [self.transpose, self.broadcast]
        if r == c and r != "1":
            rules += [self.matpow, self.inverse, self.diag_mat, self.identity_op]
        if c == "1" and r != "1":
            rules += [self.diag_vec]
        if self.kron and shp != ("1", "1"):
            product = "*" in r or "*" in c
            if kron_factorizations(shp):
                rules += [self.kron_product] * (4 if product else 1)
            if c == "1" and r != "1":
                rules += [self.vec_of] * (2 if product else 1)
            if "*" not in r + c and c != "1":
                rules += [self.unvec_of]
            if product:
                rules += [self.commute, self.commute]
        if shp == ("1", "1"):
            rules = [self.addsub, self.scale, self.divide, self.ewfunc, self.spow, self.neg, self.ewdiv]
            rules += [self.reduce] * 8 + [self.bilinear] * 3
        return self.pick(rules)(shp, depth - 1)

    def leaf(self, shp, depth: int = 0) -> str:
        r, c = shp
        if shp == ("1", "1"):
            return self.pick(["a", "b", "alpha", "a", "b"] + NUMBERS)
        if r == "1":  # row vector: transpose of a column vector
            return p(self.leaf((c, "1"))) + "'"
        v = self.vars_of(shp)
        if v:
            return self.pick(v)
        return self.product_leaf(shp)

    def product_leaf(self, shp) -> str:
        """A leaf-like expression of a shape with a product size: kron of leaves, K, vec."""
        r, c = shp
        forms = ["kron"] * 3
        if r == c:
            forms.append("K")
        if c == "1":
            forms.append("vec")
        form = self.pick(forms)
        if form == "K":
            a, b = self.pick(factor_pairs(r))
            return f"K({a}, {b})"
        if form == "vec":
            a, b = self.pick([f for f in factor_pairs(r) if f[1] != "1"])
            return f"vec({self.leaf((a, b))})"
        f1, f2 = self.pick(kron_factorizations(shp))
        return f"kron({self.leaf(f1)}, {self.leaf(f2)})"

    def addsub(self, shp, depth):
        op = self.pick([" + ", " - "])
        return f"{self.expr(shp, depth)}{op}{p(self.expr(shp, depth))}"

    def neg(self, shp, depth):
        return f"-{p(self.expr(shp, depth))}"

    def broadcast(self, shp, depth):  # scalar + array
        s, e = p(self.expr(("1", "1"), depth)), p(self.expr(shp, depth))
        return self.pick([f"{e} + {s}", f"{s} - {e}", f"{e} - {s}"])

    def scale(self, shp, depth):
        s, e = p(self.expr(("1", "1"), depth)), p(self.expr(shp, depth))
        return f"{s}*{e}" if self.coin() else f"{e}*{s}"

    def pos_scalar(self, depth):
        s = p(self.expr(("1", "1"), depth))
        return self.pick([f"(1 + {s}^2)", f"exp({s})", f"(2 + sin({s}))", "2", f"(1 + sigmoid({s}))", "4"])

    def divide(self, shp, depth):
        return f"{p(self.expr(shp, depth))}/{self.pos_scalar(depth)}"

    def transpose(self, shp, depth):
        r, c = shp
        inner = self.expr((c, r), depth)
        return f"{p(inner)}'" if self.coin(2, 3) else f"transpose({inner})"

    def matmul(self, shp, depth):
        r, c = shp
        k = self.pick(BASE_DIMS) if not self.kron or self.coin(4, 5) else self.pick(PRODUCT_DIMS)
        return f"{p(self.expr((r, k), depth))}*{p(self.expr((k, c), depth))}"

    def kron_product(self, shp, depth):
        f1, f2 = self.pick(kron_factorizations(shp))
        return f"kron({self.expr(f1, depth)}, {self.expr(f2, depth)})"

    def vec_of(self, shp, depth):  # vec of a matrix (or of a row vector) of as many entries
        a, b = self.pick([f for f in factor_pairs(shp[0]) if f[1] != "1"])
        return f"vec({self.expr((a, b), depth)})"

    def unvec_of(self, shp, depth):  # unvec(v, rows): a (rows*cols)-vector reshaped
        r, c = shp
        return f"unvec({self.expr((dmul(r, c), '1'), depth)}, {r})"

    def commute(self, shp, depth):  # K(a, b)*E or E*K(a, b) at a product size a*b
        r, c = shp
        if "*" in r and ("*" not in c or self.coin()):
            a, b = self.pick(factor_pairs(r))
            return f"K({a}, {b})*{p(self.expr(shp, depth))}"
        a, b = self.pick(factor_pairs(c))
        return f"{p(self.expr(shp, depth))}*K({a}, {b})"

    def hadamard(self, shp, depth):
        return f"{p(self.expr(shp, depth))} .* {p(self.expr(shp, depth))}"

    def positive(self, shp, depth):
        """A positive-valued expression of shape shp."""
        e = p(self.expr(shp, depth))
        sq = f"{e}^2" if shp == ("1", "1") else f"{e} .^ 2"
        return self.pick(
            [
                f"(1 + {sq})",
                f"exp({e})",
                f"(2 + cos({e}))",
                f"sigmoid({e})",
                f"(1 + abs({e}))",
                f"(1 + exp({e}))",
            ]
        )

    def ewdiv(self, shp, depth):
        if shp == ("1", "1"):
            return f"{p(self.expr(shp, depth))}/{self.positive(shp, depth)}"
        return f"{p(self.expr(shp, depth))} ./ {self.positive(shp, depth)}"

    def ewpow(self, shp, depth):
        if shp == ("1", "1"):
            return self.spow(shp, depth)
        if self.coin():
            return f"{p(self.expr(shp, depth))} .^ {self.pick(['2', '3'])}"
        return f"{self.positive(shp, depth)} .^ {self.pick(['0.5', '1.5', '2.5'])}"

    def ewfunc(self, shp, depth):
        e = self.expr(shp, depth)
        fn = self.pick(["exp", "sin", "cos", "tanh", "sigmoid", "abs", "relu", "tan", "log", "sqrt"])
        if fn == "tan":
            return f"tan(tanh({e}))"
        if fn in ("log", "sqrt"):
            return f"{fn}({self.positive(shp, depth)})"
        return f"{fn}({e})"

    def matpow(self, shp, depth):
        r, _ = shp
        k = self.pick(["2", "3", "2", "-1"])
        if k == "-1":
            return f"{self.spd(r, depth)}^-1"
        return f"{p(self.expr(shp, depth))}^{k}"

    def spd(self, d, depth) -> str:
        """A well-conditioned square (d,d) matrix expression, parenthesised."""
        if self.coin():
            return self.wc_leaf(d)
        k = self.pick(BASE_DIMS) if not self.kron or self.coin(3, 4) else self.pick(PRODUCT_DIMS)
        # entries in (-1, 1): cond(I + E*E') <= 1 + 16*16 (an unbounded E, say 1e4 entries from
        # nested powers, makes it singular to working precision and the checks meaningless)
        e = f"{self.pick(['tanh', 'tanh', 'sigmoid'])}({self.expr((d, k), depth)})"
        return f"({self.eye()} + {e}*{e}')"

    def inverse(self, shp, depth):
        r, _ = shp
        return f"inv({self.spd(r, depth)})"

    def diag_mat(self, shp, depth):  # vector -> diagonal matrix
        r, _ = shp
        return f"diag({self.expr((r, '1'), depth)})"

    def diag_vec(self, shp, depth):  # square -> diagonal vector
        r, _ = shp
        return f"diag({self.expr((r, r), depth)})"

    def identity_op(self, shp, depth):
        e = p(self.expr(shp, depth))
        return self.pick(
            [
                f"{self.eye()} + {e}",
                f"{e} - {self.eye()}",
                f"{self.eye()} .* {e}",
                f"{e}*{self.eye()}",
                f"{e} .* ones",
                f"{e} + ones",
            ]
        )

    def spow(self, shp, depth):  # scalar power, any exponent
        e = p(self.expr(("1", "1"), depth))
        form = self.ri(0, 4)
        if form == 0:
            return f"{e}^2"
        if form == 1:
            return f"{e}^3"
        pos = self.positive(("1", "1"), depth)
        if form == 2:
            return f"{pos}^0.5"
        if form == 3:
            return f"{pos}^-1"
        return f"{pos}^{p(self.expr(('1', '1'), max(0, depth - 1)))}"

    def bilinear(self, shp, depth):
        i, j = self.square_dim(), self.square_dim()
        u = p(self.expr((i, "1"), depth))
        e = p(self.expr((i, j), depth))
        v = p(self.expr((j, "1"), depth))
        return f"{u}'*{e}*{v}"

    def square_dim(self) -> str:
        """n or m, now and then a product size (Kronecker regions)."""
        return self.pick(["n", "m"]) if not self.kron or self.coin(3, 4) else self.pick(PRODUCT_DIMS)

    def trace_kron(self, depth) -> str:
        """tr(kron(F1, F2)) for factor shapes whose Kronecker product is square: both square,
        column (x) row, row (x) column, or n x m (x) m x n (tr(A)*tr(B) holds only for the first)."""
        k, k2 = self.pick(["n", "m"]), self.pick(["n", "m"])
        f1, f2 = self.pick([((k, k), (k2, k2)), ((k, "1"), ("1", k)), (("1", k), (k, "1")),
                            (("n", "m"), ("m", "n")), (("m", "n"), ("n", "m"))])
        return f"tr(kron({self.expr(f1, depth)}, {self.expr(f2, depth)}))"

    def kron_reduce(self, depth) -> str:
        """Scalars of Kronecker products: products of two krons (mixed-product law applicable
        or not) under a trace, determinants of I + kron(...), logdet of well-conditioned krons."""
        form = self.ri(0, 3)
        if form == 0:  # tr(kron(F1, F2)*kron(G1, G2)): G any factor shapes of the right size
            f1, f2 = self.pick([((a, b), (c, d)) for a, b in (("n", "m"), ("m", "n"), ("n", "n"))
                                for c, d in (("n", "1"), ("1", "m"), ("m", "n"))])
            g1, g2 = self.pick(kron_factorizations((dmul(f1[1], f2[1]), dmul(f1[0], f2[0]))))
            return (f"tr(kron({self.expr(f1, depth)}, {self.expr(f2, depth)})*"
                    f"kron({self.expr(g1, depth)}, {self.expr(g2, depth)}))")
        if form == 1:  # det(I + kron(u, w')) = 1 + w'*u ; det(I + kron(X, Y)) with X n x m, Y m x n
            k = self.pick(["n", "m"])
            f1, f2 = self.pick([((k, "1"), ("1", k)), (("1", k), (k, "1")), (("n", "m"), ("m", "n"))])
            return f"det({self.eye()} + kron({self.expr(f1, depth)}, {self.expr(f2, depth)})/4)"
        if form == 2:
            a, b = self.pick(["n", "m"]), self.pick(["n", "m"])
            return f"logdet(kron({self.spd(a, depth)}, {self.spd(b, depth)}))"
        return self.trace_kron(depth)

    def reduce(self, shp, depth):
        k = self.square_dim()
        form = self.ri(0, 15 if self.kron else 13)
        if form == 0:
            return f"{self.pick(['tr', 'trace', 'tr'])}({self.expr((k, k), depth)})"
        if form == 1:
            return f"det({self.spd(k, depth)})"
        if form == 2:
            return f"logdet({self.spd(k, depth)})"
        if form == 3:
            return f"sum({self.expr(self.any_shape(), depth)})"
        if form == 4:
            shp2 = self.pick([s for s in VARS if s != ("1", "1")])
            return f"norm2({self.pick(self.vars_of(shp2))})"
        if form == 5:
            return f"norm2({self.expr(self.any_shape(), depth)})^2"
        if form == 6:
            s2 = self.any_shape()
            return f"vec({self.expr(s2, depth)})'*vec({self.expr(s2, depth)})"
        if form == 7:
            return f"sum(vec({self.expr(self.any_shape(), depth)}))"
        if form == 8:
            if not self.kron:
                k2 = self.pick(["n", "m"])
                return f"tr(kron({self.expr((k, k), depth)}, {self.expr((k2, k2), depth)}))"
            return self.trace_kron(depth)
        if form == 9:
            return f"sum(kron({self.expr(self.any_shape(), depth)}, {self.expr(self.any_shape(), depth)}))"
        if form == 10:
            return (
                f"norm2(kron({self.expr(self.any_shape(), depth)}, {self.expr(self.any_shape(), depth)}))^2"
            )
        if form == 11:
            return f"sum(diag({self.expr((k, k), depth)}))"
        if form == 12:
            return f"{self.pick(['tr', 'sum'])}({self.expr((k, k), depth)}*{self.expr((k, k), depth)})"
        if form >= 14:
            return self.kron_reduce(depth)
        return f"sum({self.expr((k, '1'), depth)})"

    def any_shape(self):
        if self.kron and self.coin(1, 4):
            return self.pick([("m*n", "1"), ("1", "m*n"), ("m*n", "m*n"), ("n*n", "n*n"), ("m*n", "n"),
                              ("n", "m*m"), ("m*m", "1"), ("n*n", "m")])
        return self.pick([("n", "n"), ("n", "m"), ("m", "n"), ("m", "m"), ("n", "1"), ("m", "1"), ("1", "n")])

    def scalar_expression(self, depth: int) -> str:
        e = self.expr(("1", "1"), depth)
        if not variables_in(e):
            extra = self.pick(["sum(x)", "tr(A)", "a", "norm2(C)^2", "z'*z"])
            e = f"{e} + {extra}"
        for v in _size_sources(e):
            e = f"{e} + sum({v})"
        return e

    def array_expression(self, depth: int) -> str:
        """A vector- or matrix-valued expression (shapes with product sizes included) that
        depends on at least one variable: for Jacobian checks."""
        shp = self.any_shape() if self.coin(3, 4) else self.pick([("n", "1"), ("1", "m"), ("n", "m")])
        e = self.expr(shp, depth)
        if not variables_in(e):  # (a leaf of a product size may be K(., .): scale it by a)
            e = f"{e} + a*{p(self.leaf(shp))}"
        for v in _size_sources(e):
            e = f"(1 + sum({v})^2)*{p(e)}"
        return e


_SIZE_ARG_RE = re.compile(r"\bK\(\s*(\w+)\s*,\s*(\w+)\s*\)|, (n|m)\)")
_SIZE_OF = {"n": {"x", "y", "A", "B", "C", "D", "S"}, "m": {"z", "M", "C", "D"}}


def _size_sources(text: str) -> list[str]:
    """Vectors to add so that every size named in K(a, b) or unvec(v, a) is also the size
    of some variable (else generated code cannot know it, a clear error by design)."""
    named = {d for m in _SIZE_ARG_RE.finditer(text) for d in m.groups() if d in _SIZE_OF}
    have = set(variables_in(text))
    return [{"n": "x", "m": "z"}[d] for d in sorted(named) if not have & _SIZE_OF[d]]


def _expressions(draw, kind: str, min_depth: int, max_depth: int, with_sym):
    if with_sym is None:
        with_sym = draw(st.booleans())
    depth = draw(st.integers(min_depth, max_depth))
    gen = Gen(lambda lo, hi: draw(st.integers(lo, hi)), with_sym=with_sym)
    return getattr(gen, f"{kind}_expression")(depth), with_sym


@st.composite
def scalar_expressions(draw, max_depth: int = 4, with_sym=None):
    """Strategy: (expr_text, with_sym) with a scalar-valued, well-typed expression."""
    return _expressions(draw, "scalar", 2, max_depth, with_sym)


@st.composite
def array_expressions(draw, max_depth: int = 4, with_sym=None):
    """Strategy: (expr_text, with_sym) with a vector- or matrix-valued, well-typed expression."""
    return _expressions(draw, "array", 1, max_depth, with_sym)


def shapes_for(with_sym: bool) -> dict[str, str]:
    out = dict(SHAPES)
    if with_sym:
        out.update(SYM_SHAPES)
    return out


def random_corpus(count: int, seed: int = 0, max_depth: int = 4, arrays: bool = False,
                  kron: bool = True) -> list[tuple[str, bool]]:
    """Deterministic list of (expr_text, with_sym) for parametrised tests and soaks:
    scalar expressions, or vector/matrix-valued ones with ``arrays=True``."""
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        with_sym = bool(i % 3 == 0)
        gen = Gen(lambda lo, hi: rnd.randint(lo, hi), with_sym=with_sym, kron=kron)
        if arrays:
            out.append((gen.array_expression(rnd.randint(1, max_depth)), with_sym))
        else:
            out.append((gen.scalar_expression(rnd.randint(2, max_depth)), with_sym))
    return out
