"""Lowering: the expression DAG to a target-neutral DAG of array operations (``LNode``).

From a set of output expressions (value, gradients, ...) over the same inputs, build one
hash-consed DAG of typed array operations (``matmul``, ``solve``, ``slogdet``, ``index``,
``sum``, ``sum_axis``, ``vdot``, ``einsum_col``, ``kron_matmul``, ``commute_rows``,
``multi_dot``, ``fn`` (an elementwise function by its ``ELEMENTWISE`` name), ...), so every
common subexpression - also ones that only appear after lowering, such as ``A @ y`` shared
by ``x'*A*y`` and its gradient ``A*y``, or ``(A@B@C).T`` shared by ``tr(A*B*C*X)`` and its
gradient - is computed once. A back-end printer (:mod:`.numpy`, :mod:`.jax`, :mod:`.torch`)
spells each operation; every decision is made here, once for all targets:

* matrix chains are multiplied in the cheapest order for the shapes (:mod:`.chains`;
  symbolic sizes are estimated from ``size_hints``, default 1000, and a sub-chain that is
  computed anyway elsewhere costs nothing), or by ``multi_dot`` when the best order
  depends on sizes only known at call time;
* ``inv(A) @ B -> solve(A, B)``, ``B @ inv(A) -> solve(A.T, B.T).T`` when the inverse
  is not needed on its own (else it is formed once and reused);
* ``diag(v) @ M -> v * M``, ``M @ diag(v) -> M * v.T``; products with ``ones`` become
  row/column sums; ``kron(A, B) @ M`` and ``K @ M`` are evaluated without forming the
  Kronecker or commutation matrix; ``M'*diag(v)*M`` with ``v >= 0`` as ``Z.T @ Z`` (syrk);
* ``tr(A @ B @ C) -> sum((A @ B) * C.T)`` at the cheapest cyclic split, ``diag(A@B)``
  as an ``einsum``, ``sum(A @ B)`` as a product of column and row sums;
* ``logdet`` and ``log(det(.))`` through ``slogdet`` (through the Cholesky factor, shared with
  the inverses and solves of the same matrix, when its facts say it is SPD); ``norm2(v)^2`` as ``vdot(v, v)``;
  scalar-valued chains as ``vdot``; ``log(1 + exp(u))`` as ``softplus`` (``logaddexp``);
  log-sum-exp and softmax shifted by the maximum;
* for printers with the capability (NumPy), a residual ``X + c*P*Q`` of a low-rank product
  whose uses are ``||R||^2``, ``R*Q'`` and ``P'*R`` becomes one call of a helper that
  evaluates them through Gram matrices where that is cheaper and cannot cancel
  (:mod:`.lowrank`).

Nodes carry Python precedences (every target prints Python expressions): ``prec`` of the
node, ``argmin[i]`` the precedence argument i needs to go without parentheses.
"""

from __future__ import annotations

from fractions import Fraction

from ..core import expr as E
from ..core import facts as _facts
from ..core.errors import DerivationError
from ..core.expr import Expr
from ..core.facts import is_nonnegative
from ..core.shapes import dim_code, dim_leaves, dim_value
from .chains import best_parenthesization, chain_dp

_MISSING = object()

DEFAULT_SIZE = 1000.0  # size estimate of a symbolic dimension without a hint

# Python precedence levels of generated code (higher binds tighter)
P_ADD, P_MUL, P_NEG, P_POW, P_ATOM = 6, 7, 8, 9, 100

_BINOPS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "@": "matmul"}


def _num(v: Fraction) -> str:
    if v.denominator == 1 and abs(v.numerator) < 2**53:
        return f"{v.numerator}.0"
    return repr(float(v))


def _num_node_text(v: Fraction):
    s = _num(v)
    return (s, P_NEG) if s.startswith("-") else (s, P_ATOM)


def dims_expr(d, dims) -> str:
    """Python code for the size ``d`` from the bound size names ``dims`` ({name: code})."""
    return dim_code(d, lambda n: dims[n])


_dims_expr = dims_expr


class _Sizes(dict):
    """Sizes for estimates: ``first`` then the hints, else :data:`DEFAULT_SIZE`."""

    def __init__(self, hints, first=None):
        super().__init__(hints)
        self.update(first or {})

    def __missing__(self, key):
        return DEFAULT_SIZE


class LNode:
    """One array operation: ``op`` (its kind), ``attrs`` (static parameters: sizes as
    Python code, an axis, an einsum spec, a function name), ``args`` (operand nodes),
    hash-consed per lowering. ``cheap``: inline even when shared (names, literals, ``X.T``
    of a name); ``tag``: what later decisions need to know (``T``, ``scalar``, ``mm``...)."""

    __slots__ = ("argmin", "args", "attrs", "cheap", "op", "prec", "tag")

    def __init__(self, op, attrs, args, prec, argmin, cheap, tag):
        self.op, self.attrs, self.args, self.prec, self.argmin, self.cheap, self.tag = (
            op, attrs, args, prec, argmin, cheap, tag)

    def __repr__(self) -> str:
        return f"LNode({self.op}, {self.attrs}, {len(self.args)} args)"


# ops lowered by the decisions below (their declarations have lower=None); every other op is
# one call spelled by its declaration's lowering templates (OpDef.lower), per back-end
STRUCTURAL = frozenset({
    "var", "dvar", "const", "eye", "ones", "zero", "K", "add", "mul", "transpose", "trace",
    "det", "logdet", "inv", "mpow", "pow", "had", "hpow", "fn", "sum", "norm2", "diagm",
    "diagv", "vec", "unvec", "kron", "kronadj1", "kronadj2", "bcast", "proj", "block"})

_SYMFUN = frozenset({"expm", "logm", "sqrtm", "sinm", "cosm"})  # lowered through eigh when symmetric
_DEEP = 48  # lower() nesting beyond which subexpressions are lowered bottom-up first
_STRIDE = 16  # height between those checkpoints


class Lowerer:
    def __init__(self, dims: dict, inputs: dict, roots, size_hints=None, lowrank=False):
        self.dims = dims  # symbolic dim name -> python expression
        self.inputs = inputs  # var name -> python name
        self.hints = dict(size_hints or {})
        self.table: dict = {}
        self.memo: dict = {}
        self.seg_memo: dict = {}
        self._depth = 0  # nesting of lower() calls in progress (see lower())
        self.lowrank = lowrank  # the printer has the Gram-matrix helper (see .lowrank)
        self._analyse(roots)

    # ------------------------------------------------------------ node construction
    def node(self, op, *args, attrs=(), prec=P_ATOM, argmin=None, cheap=False, tag=None):
        if argmin is None:
            argmin = (0,) * len(args)
        key = (op, attrs, args, prec, argmin, tag)
        n = self.table.get(key)
        if n is None:
            n = LNode(op, attrs, args, prec, argmin, cheap, tag)
            self.table[key] = n
        return n

    def name(self, text):
        """A parameter (or a name the program binds)."""
        return self.node("name", attrs=(text,), cheap=True)

    def num(self, text, prec=P_ATOM, tag=None):
        """A float literal (``text`` is its Python spelling)."""
        return self.node("num", attrs=(text,), prec=prec, cheap=True, tag=tag)

    def fn(self, name, a):
        """An elementwise function (spelled by ``ELEMENTWISE[name].lower[target]``)."""
        return self.node("fn", a, attrs=(name,))

    def npf(self, a: LNode) -> LNode:
        """A Python float literal as ``np.float64``: ``(-8.0) ** 0.5`` would be a Python
        complex and ``1.0 / 0.0`` a ZeroDivisionError; NumPy gives nan / inf with a warning.
        Any other operand is a NumPy value already (inputs are float64 scalars or arrays)."""
        if a.tag == "scalar" and a.cheap:
            return self.node("f64", a, tag="npscalar")
        return a

    def div(self, a: LNode, b: LNode) -> LNode:
        """a / b, NumPy semantics also when b is a literal."""
        return self.binop("/", a, self.npf(b), P_MUL)

    def T(self, a: LNode) -> LNode:
        if a.tag == "T":
            return a.args[0]
        if a.tag == "scalar":
            return a
        return self.node("T", a, argmin=(P_ATOM,), cheap=a.cheap and a.prec == P_ATOM, tag="T")

    def binop(self, op, a, b, prec, tag=None):
        return self.node(_BINOPS[op], a, b, prec=prec, argmin=(prec, prec + 1), tag=tag)

    def neg(self, a):
        return self.node("neg", a, prec=P_NEG, argmin=(P_NEG,))

    def matmul(self, a, b, tag=None):
        return self.binop("@", a, b, P_MUL, tag=tag)

    def times(self, a, b):
        return self.binop("*", a, b, P_MUL)

    def call(self, op, *args, attrs=()):
        """A function call (an atom; its arguments need no parentheses)."""
        return self.node(op, *args, attrs=attrs)

    def dim(self, d) -> str:
        missing = [n for n in dim_leaves(d) if n not in self.dims]
        if missing:
            raise DerivationError(
                f"the size {missing[0]} is not determined by any input, so generated code cannot "
                f"know it: declare it through a variable's shape or write it out (e.g. ones(m, 3))")
        return _dims_expr(d, self.dims)

    def size(self, d) -> float:
        return float(dim_value(d, _Sizes(self.hints)))

    # ------------------------------------------------------------ analysis
    def _analyse(self, roots):
        """Which inverses may become solves; which chains are computed anyway."""
        nodes = []
        seen = set()
        for r in roots:
            for n in r.walk():
                if n not in seen:
                    seen.add(n)
                    nodes.append(n)
        # u for which log(1 + exp(u)) is computed: sigmoid(u) = exp(u - log(1 + exp(u))) then
        # costs one exp (and stays accurate in both tails)
        from ..passes.simplify import _one_plus_exp

        self.softplus_args = {_one_plus_exp(n.args[0]) for n in nodes
                              if n.op == "fn" and n.attr == "log"} - {None}
        self._analyse_lse(nodes)
        self._analyse_row_lse(nodes, roots)
        self._analyse_lowrank(nodes, roots)
        chain_uses: dict = {}
        other_uses: dict = {}
        # a product is materialised when something other than tr/diag/sum (which lower
        # chains their own way) uses it
        materialised = set(roots)
        for n in nodes:
            if n.op not in ("trace", "diagv", "sum"):
                materialised.update(n.args)
        self.known = set()
        for n in nodes:
            if n.op == "mul":
                _, _, ch = E.factors(n)
                if len(ch) >= 2 and n in materialised:
                    self.known.add(tuple(ch))
                    self.known.add(_transposed_chain(ch))
                if len(ch) >= 2:
                    for j, f in enumerate(ch):
                        inv = _inv_of(f)
                        if inv is not None:  # one solve per right-hand side (see _solve_key)
                            chain_uses.setdefault(inv, set()).add(_solve_key(ch, j))
                    others = [a for a in n.args if a.is_scalar]
                else:
                    others = list(n.args)
            else:
                others = list(n.args)
            for a in others:
                inv = _inv_of(a)
                if inv is not None and not (a.op == "inv" and n.op == "transpose"):
                    other_uses[inv] = other_uses.get(inv, 0) + 1
        for r in roots:
            inv = _inv_of(r)
            if inv is not None:
                other_uses[inv] = other_uses.get(inv, 0) + 1
        self.solvable = {i for i, k in chain_uses.items() if len(k) <= 2 and not other_uses.get(i)}

    def _analyse_lse(self, nodes):
        """Which exp(E) to evaluate shifted, as exp(E - m) with m = max(E).

        A sum of exponentials S = sum(exp(E)) (also ones'*exp(E), sum(w .* exp(E)), w'*exp(E))
        that is the argument of a log or a denominator makes log(S) = m + log(S/e^m) and
        every product in which exp(m) cancels (softmax exp(E)/S, the Hessian's
        exp(E)*exp(E)'/S^2, ...) computable from exp(E - m), which cannot overflow; the
        shifted S is at least 1 (the largest term), so nothing underflows that matters.
        ``self.lse``: {E: weight (None for a plain sum)}; ``self.deg``: {node: {E: k}}, the
        node's value carries exp(m_E)^k (homogeneous), or None (not a product of such)."""
        forms: dict = {}
        for n in nodes:
            cand = None
            if n.op == "fn" and n.attr == "log":
                c, rest = E.split_coeff(n.args[0])
                cand = rest if c > 0 else None
            elif n.op == "pow" and n.args[1].op == "const" and n.args[1].attr < 0:
                cand = n.args[0]
            f = _sum_of_exp(cand) if cand is not None else None
            if f is not None:
                forms.setdefault(f[0], {}).setdefault(f[1], set()).add(cand)
        # one shift per E: with differently weighted sums of the same exp(E) no single shift
        # is safe for all of them (a weight may vanish where E is largest), so none is made
        self.lse = {x: next(iter(ws)) for x, ws in forms.items() if len(ws) == 1}
        self.lse_forms = {f for x in self.lse for f in next(iter(forms[x].values()))}
        self.deg: dict = {}
        self.shift_map: dict = {}
        self.leaf_nodes: dict = {}
        if not self.lse:
            return
        for n in nodes:
            self.deg[n] = self._degree(n)
        for i, x in enumerate(sorted(self.lse, key=lambda x: x.key)):
            # exp(E) -> a leaf standing for exp(E - m) (a name no user variable can have)
            t = E.var(f"exp~shifted{i}", x.shape)
            self.shift_map[E.fn("exp", x)] = t
            self.leaf_nodes[t] = x

    def _analyse_row_lse(self, nodes, roots):
        """Which exp(E) (E n x k, k > 1) to evaluate shifted row by row: exp(E - m*ones(1, k)),
        m the largest entry of each row of E.

        Row sums R = exp(E)*ones(k, 1) in a log or a denominator (1 ./ R) - row-wise
        log-sum-exp and softmax, as typed in ``log(exp(X*W)*ones(k))`` - overflow for large
        logits. Row i of a node whose *row degree* is d carries exp(m_i)^d: exp(E) has 1, 1 ./ R
        has -1, Hadamard products add degrees, a product takes its first factor's, diag(v)
        keeps v's. When every node holding exp(E) has a row degree, every output has degree 0
        and log(R) is read as m + log(R shifted), all of them are computed from the shifted
        exp(E), which cannot overflow; otherwise nothing is shifted (the plain formula).
        ``self.row_shift``: {exp(E) or log(R): a leaf}; ``self.row_leaves``: {leaf: meaning};
        ``self.row_zero``: the nodes of degree 0 holding exp(E), computed by substitution."""
        self.row_shift: dict = {}
        self.row_leaves: dict = {}
        self.row_zero: set = set()
        cands: dict = {}
        for n in nodes:
            R = None
            if n.op == "fn" and n.attr == "log":
                R = n.args[0]
            elif n.op == "hpow" and n.args[1].op == "const" and n.args[1].attr == -1:
                R = n.args[0]
            x = _row_sum_of_exp(R) if R is not None else None
            if x is not None and x not in self.lse:
                cands.setdefault(x, R)
        for i, (x, R) in enumerate(sorted(cands.items(), key=lambda t: t[0].key)):
            deg = _row_degrees(nodes, roots, x, R)
            if deg is None:
                continue
            ex, log_r = E.fn("exp", x), E.fn("log", R)
            t = E.var(f"exp~rowshifted{i}", ex.shape)  # names no user variable can have
            self.row_shift[ex] = t
            self.row_leaves[t] = ("exp", x, None)
            if log_r in deg:
                lr = E.var(f"lse~row{i}", R.shape)
                self.row_shift[log_r] = lr
                self.row_leaves[lr] = ("log", x, R)
            self.row_zero.update(n for n, d in deg.items() if d == 0)

    def _analyse_lowrank(self, nodes, roots):
        """Residuals X + c*P*Q of a low-rank product whose uses (||R||^2, R*Q', P'*R) need
        not form R (:mod:`.lowrank`): ``self.lowrank_subs`` {node: expression lowered in its
        place}, ``self.lowrank_leaves`` {leaf: (residual, which output of the helper)}."""
        self.lowrank_subs: dict = {}
        self.lowrank_leaves: dict = {}
        if not self.lowrank:
            return
        from . import lowrank

        for res in lowrank.find(nodes, roots):
            if set(res.subs) & set(self.lowrank_subs):
                continue  # a node that uses two residuals: keep the first one's rewrite
            self.lowrank_subs.update(res.subs)
            for k, leaf in enumerate((res.value, res.rq, res.pr)):
                self.lowrank_leaves[leaf] = (res, k)

    def _lowrank_leaf(self, res, k) -> LNode:
        """Output k (||R||^2, R*Q', P'*R) of the helper's one call for the residual res."""
        call = self.call("lowrank", self.lower(res.X), self.lower(res.P), self.lower(res.Q),
                         self.lower(res.coef), attrs=(str("rq" in res.uses), str("pr" in res.uses)))
        return self.node("index", call, attrs=(k,), argmin=(P_ATOM,))

    def _row_leaf(self, kind, x, R) -> LNode:
        """exp(E - m*ones(1, k)) for a shifted exp(E); m + log(R shifted) for log(R)."""
        m = self.call("row_max_shift", self.lower(x))
        if kind == "exp":
            return self.fn("exp", self.binop("-", self.lower(x), m, P_ADD))
        shifted = {k: v for k, v in self.row_shift.items() if k.op == "fn" and k.attr == "exp"}
        return self.binop("+", m, self.fn("log", self.lower(E.substitute(R, shifted))), P_ADD)

    def _degree(self, n: Expr):
        """{E: k}: n's value is exp(m_E)^k times its value with every exp(E) shifted; None
        when it is not such a product (exp(E) inside another function, a sum of terms of
        different degrees, a denominator other than a recognised sum of exponentials)."""
        op = n.op
        if op == "fn" and n.attr == "exp" and n.args[0] in self.lse:
            return {n.args[0]: Fraction(1)}
        if not n.args:
            return {}
        args = [self.deg_of(a) for a in n.args]
        if any(d is None for d in args):
            return None
        if op in ("transpose", "sum", "trace", "diagm", "diagv", "vec", "unvec", "bcast"):
            return args[0]
        if op == "add":
            return args[0] if all(d == args[0] for d in args) else None
        if op in ("mul", "had", "kron"):
            out: dict = {}
            for d in args:
                for x, k in d.items():
                    out[x] = out.get(x, 0) + k
            return {x: k for x, k in out.items() if k != 0}
        if op in ("pow", "hpow"):
            (db, dx), b, x = args, n.args[0], n.args[1]
            if not db:
                return {} if not dx else None
            if dx or x.op != "const" or (x.attr < 0 and b not in self.lse_forms):
                return None
            return {y: k * x.attr for y, k in db.items()}
        return {} if not any(args) else None

    def deg_of(self, n: Expr):
        """The memoised :meth:`_degree` (also of nodes built during lowering)."""
        d = self.deg.get(n, _MISSING)
        if d is _MISSING:
            d = self.deg[n] = self._degree(n)
        return d

    def _shifted(self, e: Expr) -> LNode:
        """e with every exp(E) evaluated as exp(E - m): equal to e when exp(m) cancels."""
        return self.lower(E.substitute(e, self.shift_map))

    def _shift_of(self, x: Expr) -> LNode:
        """m for exp(E - m): the largest entry of E (where the sum's weight is nonzero)."""
        w = self.lse[x]
        if w is None:
            return self.call("max_shift", self.lower(x))
        return self.call("max_shift", self.lower(x), self.lower(w))

    # ------------------------------------------------------------ lowering of Expr nodes
    def lower(self, e: Expr) -> LNode:
        n = self.memo.get(e)
        if n is not None:
            return n
        if self._depth >= _DEEP:
            # a deep expression: lower its subexpressions bottom-up at every _STRIDE levels of
            # height first, so this recursion meets memoized nodes within _STRIDE levels and
            # Python's default stack suffices (no recursion-limit change). Expressions less
            # deep than _DEEP never come here, so their code is exactly as before.
            self._checkpoints(e)
        self._depth += 1
        try:
            n = self._lower(e)
        finally:
            self._depth -= 1
        self.memo[e] = n
        return n

    def _checkpoints(self, e: Expr) -> None:
        order = E.postorder([e])
        height: dict = {}
        for node in order:
            height[node] = 1 + max((height[a] for a in node.args), default=0)
        saved, self._depth = self._depth, 0
        try:
            for node in order:
                if node is not e and height[node] % _STRIDE == 0 and node not in self.memo:
                    self.lower(node)
        finally:
            self._depth = saved

    def _lower(self, e: Expr) -> LNode:
        op = e.op
        L = self.lower
        if self.lowrank_subs:
            sub = self.lowrank_subs.get(e)
            if sub is not None:  # a use of a low-rank residual, through the Gram helper
                return L(sub)
        if self.lse and op in ("mul", "had", "kron") and self.deg_of(e) == {} and any(
                self.deg_of(a) for a in e.args):  # exp(m) cancels: softmax exp(E)/sum(exp(E))
            return self._shifted(e)
        if self.row_zero and e in self.row_zero:  # row-wise log-sum-exp / softmax: shifted rows
            return self.lower(E.substitute(e, self.row_shift))
        if op == "var":
            lr = self.lowrank_leaves.get(e)
            if lr is not None:
                return self._lowrank_leaf(*lr)
            r = self.row_leaves.get(e)
            if r is not None:
                return self._row_leaf(*r)
            x = self.leaf_nodes.get(e)
            if x is not None:  # exp(E - m)
                return self.fn("exp", self.binop("-", L(x), self._shift_of(x), P_ADD))
            return self.name(self.inputs[e.attr[0]])
        if op == "dvar":
            return self.name("_d_" + self.inputs[e.attr[0]])
        if op == "const":
            text, prec = _num_node_text(e.attr)
            return self.num(text, prec, tag="scalar")
        if op == "eye":
            return self.node("eye", attrs=(self.dim(e.rows),), cheap=True)
        if op == "ones":
            return self.node("ones", attrs=(self.dim(e.rows), self.dim(e.cols)), cheap=True)
        if op == "zero":
            if e.is_scalar:
                return self.num("0.0", tag="scalar")
            return self.node("zeros", attrs=(self.dim(e.rows), self.dim(e.cols)), cheap=True)
        if op == "K":
            m, n = e.attr
            return self.node("commutation", attrs=(self.dim(m), self.dim(n)), cheap=True)
        if op == "add":
            return self._add(e)
        if op == "mul":
            return self._mul(e)
        if op == "transpose":
            return self.T(L(e.args[0]))
        if op == "trace":
            return self._trace(e.args[0])
        if op == "det":
            return self.call("det", L(e.args[0]))
        if op == "logdet":
            if _spd(e.args[0]):  # 2*sum(log(diag(L))), L its Cholesky factor (shared with its solves)
                return self.call("chol_logdet", self._chol(e.args[0]))
            return self.node("index", self._slogdet(e.args[0]), attrs=(1,), argmin=(P_ATOM,))
        if op == "inv":
            if _spd(e.args[0]):
                return self.call("cho_inv", self._chol(e.args[0]))
            return self.call("inv", L(e.args[0]))
        if op == "mpow":
            return self.call("matrix_power", L(e.args[0]), attrs=(int(e.attr),))
        if op == "pow":
            return self._pow(e)
        if op == "had":
            num, den = E.had_fraction(e)
            acc = L(num[0]) if num else self.num("1.0")
            for f in num[1:]:
                acc = self.times(acc, L(f))
            for f in den:
                acc = self.div(acc, L(f))
            return acc
        if op == "hpow":
            b, x = e.args
            if x.op == "const":
                if x.attr == -1:
                    return self.div(self.num("1.0"), L(b))
                if x.attr == 2:
                    lb = L(b)
                    return self.times(lb, lb)
                if x.attr == Fraction(1, 2):
                    return self.fn("sqrt", L(b))
            return self._power_node(L(b), x)
        if op == "fn":
            name = e.attr
            a = e.args[0]
            if name == "log" and a.op == "det" and _spd(a.args[0]):
                return self.call("chol_logdet", self._chol(a.args[0]))
            if name == "log" and a.op == "det":  # log(det(A)) = log(sign) + log|det A|
                s = self._slogdet(a.args[0])
                return self.binop("+", self.fn("log", self.node("index", s, attrs=(0,), argmin=(P_ATOM,))),
                                  self.node("index", s, attrs=(1,), argmin=(P_ATOM,)), P_ADD)
            if name == "log" and E.split_coeff(a)[1] in self.lse_forms:
                # log(c*sum(exp(E))) = m + log(c*sum(exp(E - m))), m = max(E): no overflow
                x = _sum_of_exp(E.split_coeff(a)[1])[0]
                return self.binop("+", self._shift_of(x), self.fn("log", self._shifted(a)), P_ADD)
            if name == "log":  # log(1 + exp(u)) = logaddexp(0, u): no overflow for large u
                from ..passes.simplify import _one_plus_exp

                u = _one_plus_exp(a)
                if u is not None:
                    return self.call("softplus", L(u))
            if name == "log" and a.op == "fn" and a.attr == "sigmoid":
                # log(sigmoid(u)) = -log(1 + exp(-u)) = -logaddexp(0, -u): no log(0) at u << 0
                return self.neg(self.call("softplus", self.neg(L(a.args[0]))))
            u = _one_minus_sigmoid(a)
            if name == "log" and u is not None:
                # log(1 - sigmoid(u)) = log(sigmoid(-u)) = -logaddexp(0, u): no log(0) at u >> 0
                return self.neg(self.call("softplus", L(u)))
            if name == "sigmoid" and a in self.softplus_args:
                softplus = self.call("softplus", L(a))
                return self.fn("exp", self.binop("-", L(a), softplus, P_ADD))
            return self.fn(name, L(a))
        if op == "sum":
            return self._sum(e.args[0])
        if op == "norm2":
            if e.args[0].op == "kron":  # ||kron(A, B)|| = ||A|| ||B||
                return self.times(L(E.norm2(e.args[0].args[0])), L(E.norm2(e.args[0].args[1])))
            return self.call("norm", L(e.args[0]))
        if op == "diagm":
            return self.call("diagflat", L(e.args[0]))
        if op == "diagv":
            return self._diagv(e.args[0])
        if op == "vec":
            return self.node("vec", L(e.args[0]), argmin=(P_ATOM,))
        if op == "unvec":
            return self.node("unvec", L(e.args[0]), attrs=(self.dim(e.rows), self.dim(e.cols)),
                             argmin=(P_ATOM,))
        if op == "kron":
            return self.call("kron", L(e.args[0]), L(e.args[1]))
        if op in ("kronadj1", "kronadj2"):
            return self.call(op, L(e.args[0]), L(e.args[1]))
        if op == "bcast":
            return self.node("full", L(e.args[0]), attrs=(self.dim(e.rows), self.dim(e.cols)))
        if op == "block":  # a scalar block is a 1x1 array there
            return self.call("block", *[L(a) for a in e.args], attrs=(len(e.attr[1]),))
        if op == "proj":  # one output of a tuple-valued node, computed once for all of them
            return self.node("index", L(e.args[0]), attrs=(e.attr,), argmin=(P_ATOM,))
        from ..ops.registry import OPS

        if op in _SYMFUN and _facts.facts(e.args[0]).symmetric:
            # f(S) = V*diag(f(w))*V' of a symmetric S: from the eigendecomposition its
            # differential (V*(Ff(w) .* (V'*dS*V))*V') uses anyway, in every back-end
            from ..ops.eigen import eigvals, eigvecs

            return self.call("symfun", L(eigvals(e.args[0])), L(eigvecs(e.args[0])), attrs=(op,))
        od = OPS.get(op)
        if od is None or od.lower is None:
            raise AssertionError(f"internal: no lowering for {op}")
        return self.node("op_call", *[L(a) for a in e.args], attrs=(op,))

    def _slogdet(self, a: Expr) -> LNode:
        return self.call("slogdet", self.lower(a))

    def _chol(self, a: Expr) -> LNode:
        """The lower Cholesky factor of the SPD ``a`` (one per matrix: logdet and solves share it)."""
        return self.call("cholesky", self.lower(a))

    def _power_node(self, base: LNode, x: Expr) -> LNode:
        if x.op == "const" and x.attr.denominator == 1:
            xe = self.node("int", attrs=(str(x.attr.numerator),), prec=P_ATOM if x.attr >= 0 else P_NEG,
                           cheap=True)
        else:
            xe = self.lower(x)
        return self.node("pow", self.npf(base), xe, prec=P_POW, argmin=(P_ATOM, P_NEG))

    def _pow(self, e: Expr) -> LNode:
        b, x = e.args
        if x.op == "const":
            if x.attr == Fraction(1, 2):
                return self.fn("sqrt", self.lower(b))
            if x.attr == 2 and b.op == "norm2":  # ||A||^2 = <A, A>, no square root
                if b.args[0].op == "kron":  # ||kron(A, B)||^2 = ||A||^2 ||B||^2
                    return self.times(self._pow(E.power(E.norm2(b.args[0].args[0]), x)),
                                      self._pow(E.power(E.norm2(b.args[0].args[1]), x)))
                a = self.lower(b.args[0])
                return self.call("vdot", a, a)
            if x.attr == -1:
                return self.div(self.num("1.0"), self.lower(b))
        return self._power_node(self.lower(b), x)

    def _add(self, e: Expr) -> LNode:
        pos, neg = [], []
        for t in e.args:
            if t.op == "bcast":  # NumPy broadcasts the scalar
                t = t.args[0]
            elif t.op == "ones":
                t = E.ONE
            c, rest = E.split_coeff(t)
            if c < 0:
                neg.append(self.lower(E.scale(-c, rest)))
            else:
                pos.append(self.lower(t))
        if pos:
            acc = pos[0]
            for t in pos[1:]:
                acc = self.binop("+", acc, t, P_ADD)
        else:
            acc = self.neg(neg.pop(0))
        for t in neg:
            acc = self.binop("-", acc, t, P_ADD)
        return acc

    def _scalar_part(self, c: Fraction, scal):
        """(node or None, negate?) for the scalar factor c * prod(scal) of a product."""
        num, den = [], []
        for s in scal:
            if s.op == "pow" and s.args[1].op == "const" and s.args[1].attr < 0:
                den.append(E.power(s.args[0], E.const(-s.args[1].attr)))
            else:
                num.append(s)
        # a sign alone is a negation; any other coefficient carries its sign (one pass, not two)
        negate = c == -1
        c = abs(c) if negate else c
        acc = None
        if c != 1 or (not num and den):
            acc = self.num(_num(c), tag="scalar")
        for s in num:
            acc = self.lower(s) if acc is None else self.times(acc, self.lower(s))
        for s in den:
            acc = self.div(acc, self.lower(s))
        return acc, negate

    def _mul(self, e: Expr) -> LNode:
        c, scal, chain = E.factors(e)
        if (c != 1 or scal) and len(chain) > 1:
            # scale the smallest plain factor, not the (larger) product: 2*(u @ v') -> (2*u) @ v'
            plain = [i for i, f in enumerate(chain) if f.op not in ("diagm", "ones", "kron", "K", "inv")
                     and not (f.op == "transpose" and f.args[0].op == "inv")]
            if plain:
                i = min(plain, key=lambda j: self.size(chain[j].rows) * self.size(chain[j].cols))
                small = self.size(chain[i].rows) * self.size(chain[i].cols)
                if small < self.size(e.rows) * self.size(e.cols):
                    chain = list(chain)
                    chain[i] = E.mul(E.const(c), *scal, chain[i])
                    c, scal = Fraction(1), []
        sc, negate = self._scalar_part(c, scal)
        if chain:
            body = self.chain(chain)
            out = body if sc is None else self.times(sc, body)
        else:
            out = sc if sc is not None else self.num("1.0")
        if negate:
            out = self.neg(out)
        return out

    # ------------------------------------------------------------ matrix chains
    def _items(self, chain):
        """Chain factors as items (key, kind, rows, cols, payload)."""
        items = []
        for f in chain:
            if f.op == "diagm":
                items.append((f, "diag", f.rows, f.cols, f.args[0]))
            elif _inv_of(f) is not None and _inv_of(f) in self.solvable:
                items.append((f, "inv", f.rows, f.cols, (_inv_of(f), f.op == "transpose")))
            elif f.op == "ones":
                if f.rows != 1 and f.cols != 1:
                    items.append((("ones", f.rows, 1), "colones", f.rows, 1, None))
                    items.append((("ones", 1, f.cols), "rowones", 1, f.cols, None))
                elif f.rows == 1:
                    items.append((f, "rowones", 1, f.cols, None))
                else:
                    items.append((f, "colones", f.rows, 1, None))
            elif f.op == "kron":
                items.append((f, "kron", f.rows, f.cols, f.args))
            elif f.op == "K":
                items.append((f, "K", f.rows, f.cols, f.attr))
            else:
                items.append((f, "mat", f.rows, f.cols, f))
        return items

    def _dp(self, items, whole=False):
        """Cheapest multiplication order (cost, split tables). Sub-chains computed anyway cost
        nothing; so does the whole chain when ``whole`` (for costing, not for choosing a split)."""
        k = len(items)
        dims = [self.size(items[0][2])] + [self.size(it[3]) for it in items]

        def free(i, j):  # computed anyway
            if j - i + 1 == k and not whole:
                return False
            key = tuple(it[0] for it in items[i:j + 1])
            return key in self.seg_memo or key in self.known

        return chain_dp(dims, free)

    def chain(self, chain) -> LNode:
        return self._segment(self._items(chain), top=True)

    def _segment(self, items, top=False) -> LNode:
        key = tuple(it[0] for it in items)
        if top and len(items) > 1 and items[0][2] == 1 and items[-1][3] == 1:
            key = key + ("scalar",)  # a float (vdot), not the 1x1 array an inner product needs
        n = self.seg_memo.get(key)
        if n is not None:
            return n
        if (len(items) == 3 and items[1][1] == "diag" and isinstance(items[2][0], Expr)
                and items[0][0] is E.transpose(items[2][0]) and is_nonnegative(items[1][4])):
            # M'*diag(v)*M with v >= 0: Z = sqrt(v) .* M, then Z'*Z (a symmetric rank-k
            # product, half the work of M' @ (v * M))
            Z = self.times(self.fn("sqrt", self.lower(items[1][4])), self.lower(items[2][0]))
            n = self.matmul(self.T(Z), Z)
            self.seg_memo[key] = n
            return n
        if len(items) == 1:
            n = self._item_node(items[0])
            self.seg_memo[key] = n
            return n
        scalar = items[0][2] == 1 and items[-1][3] == 1
        if not scalar and all(isinstance(k, Expr) for k in key):
            tkey = _transposed_chain(key)
            if tkey in self.seg_memo:
                n = self.T(self.seg_memo[tkey])
                self.seg_memo[key] = n
                return n
        if len(items) >= 3 and not scalar and self._order_depends_on_sizes(items):
            # the cheapest order depends on sizes only known at call time: let multi_dot pick it
            n = self.call("multi_dot", self.node("list", *[self._item_node(it) for it in items]))
            self.seg_memo[key] = n
            return n
        _, split = self._dp(items)
        s = split[0][len(items) - 1]
        n = self._combine(items[:s + 1], items[s + 1:], top)
        self.seg_memo[key] = n
        return n

    def _order_depends_on_sizes(self, items) -> bool:
        """True for a chain of plain matrices whose best multiplication order changes with
        the sizes of its symbolic, unhinted dimensions (each tried small and large)."""
        if any(it[1] != "mat" for it in items):
            return False
        dims = [items[0][2]] + [it[3] for it in items]
        names = sorted({str(x) for d in dims for x in dim_leaves(d)} - set(self.hints))
        if not names or len(names) > 6:
            return False
        orders = set()
        for mask in range(1 << len(names)):
            size = {nm: (10.0 if mask >> i & 1 else 1000.0) for i, nm in enumerate(names)}
            vals = []
            for d in dims:
                vals.append(float(dim_value(d, _Sizes(self.hints, size))))
            orders.add(best_parenthesization(vals))
            if len(orders) > 1:
                return True
        return False

    def _item_node(self, it) -> LNode:
        key, kind, r, c, p = it
        if kind == "diag":
            return self.call("diagflat", self.lower(p))
        if kind == "inv":
            return self.lower(key)
        if kind in ("rowones", "colones"):
            return self.node("ones", attrs=(self.dim(r), self.dim(c)), cheap=True)
        return self.lower(key)

    def _combine(self, left, right, top) -> LNode:
        scalar = left[0][2] == 1 and right[-1][3] == 1
        lk = left[0][1] if len(left) == 1 else "group"
        rk = right[0][1] if len(right) == 1 else "group"
        if scalar and top:
            if lk == "rowones" or rk == "colones":
                r = self._segment(right) if lk == "rowones" else self._segment(left)
                if r.tag in ("rowsum", "colsum"):  # sum(sum(M, axis)) = sum(M)
                    r = r.args[0]
                return self.call("sum", r)
            a, b = self._segment(left), self._segment(right)
            return self.call("vdot", a.args[0] if a.tag == "T" else a, b)
        if lk == "diag":
            v = self.lower(left[0][4])
            if rk == "rowones":
                return self.T(v)
            return self.times(v, self._segment(right))
        if rk == "diag":
            v = self.lower(right[0][4])
            if lk == "colones":
                return v
            return self.times(self._segment(left), self.T(v))
        if lk == "inv" and _spd(left[0][4][0]):  # inv(S)*R, S SPD: Cholesky solves (S' = S)
            return self.call("cho_solve", self._chol(left[0][4][0]), self._segment(right))
        if rk == "inv" and _spd(right[0][4][0]):  # R*inv(S) = (inv(S)*R')'
            return self.T(self.call("cho_solve", self._chol(right[0][4][0]), self.T(self._segment(left))))
        if lk == "inv":
            A, transposed = left[0][4]
            A = self.lower(A)
            return self.call("solve", self.T(A) if transposed else A, self._segment(right))
        if rk == "inv":
            A, transposed = right[0][4]
            A = self.lower(A)
            return self.T(self.call("solve", A if transposed else self.T(A),
                                    self.T(self._segment(left))))
        if lk == "rowones":
            return self.node("sum_axis", self._segment(right), attrs=(0,), tag="colsum")
        if rk == "colones":
            return self.node("sum_axis", self._segment(left), attrs=(1,), tag="rowsum")
        if lk == "kron":
            A, B = (self.lower(a) for a in left[0][4])
            return self.call("kron_matmul", A, B, self._segment(right))
        if rk == "kron":
            A, B = (self.lower(a) for a in right[0][4])
            return self.T(self.call("kron_matmul", self.T(A), self.T(B), self.T(self._segment(left))))
        if lk == "K":
            m, n = left[0][4]
            return self.node("commute_rows", self._segment(right), attrs=(self.dim(m), self.dim(n)))
        if rk == "K":
            m, n = right[0][4]  # L @ K(m, n) = (K(n, m) @ L.T).T
            return self.T(self.node("commute_rows", self.T(self._segment(left)),
                                    attrs=(self.dim(n), self.dim(m))))
        if left[-1][3] == 1 and right[0][2] == 1:  # outer product u @ v' -> u * v' (broadcast)
            u, v = self._segment(left), self._segment(right)
            return self.node("outer", u, v, prec=P_MUL, argmin=(P_MUL, P_MUL + 1))
        # tag matrix-valued products: the emitter may reuse their fresh buffer in place
        tag = "mm" if left[0][2] != 1 and right[-1][3] != 1 else None
        return self.matmul(self._segment(left), self._segment(right), tag=tag)

    # ------------------------------------------------------------ trace, diag, sum of chains
    def _seg_cost(self, items) -> float:
        if len(items) == 1:
            return 0.0
        cost, _ = self._dp(items, whole=True)
        return cost[0][len(items) - 1]

    def _trace(self, a: Expr) -> LNode:
        if a.op == "kron":
            law = E.trace_of_kron(*a.args)  # tr(A) tr(B) for square A, B; w'*u for vectors
            if law is not None:
                return self.lower(law)
        if a.op == "diagm":
            return self.call("sum", self.lower(a.args[0]))
        if a.op != "mul":
            return self.call("trace", self.lower(a))
        c, scal, ch = E.factors(a)
        if scal or c != 1 or len(ch) < 2:
            return self.call("trace", self.lower(a))
        items = self._items(ch)
        k = len(items)
        n = self.size(items[0][2])
        best = (self._seg_cost(items) + n, None)  # the whole product, then its trace
        for r in range(k):
            rot = items[r:] + items[:r]
            for s in range(1, k):
                P, Q = rot[:s], rot[s:]
                if any(it[1] != "mat" for it in (P if len(P) == 1 else []) + (Q if len(Q) == 1 else [])):
                    continue
                cst = self._seg_cost(P) + self._seg_cost(Q) + self.size(P[0][2]) * self.size(P[-1][3])
                if cst < best[0] * (1 - 1e-9):
                    best = (cst, (P, Q))
        if best[1] is None:
            return self.call("trace", self._segment(items))
        P, Q = best[1]
        p, q = self._segment(P), self.T(self._segment(Q))
        if p.tag == "T" and q.tag == "T":  # sum(A.T * B.T) = sum(A * B)
            p, q = p.args[0], q.args[0]
        return self.call("sum", self.times(p, q))

    def _diagv(self, a: Expr) -> LNode:
        if a.op == "mul":
            c, scal, ch = E.factors(a)
            if not scal and c == 1 and len(ch) >= 2:
                items = self._items(ch)
                k = len(items)
                best = (self._seg_cost(items) + self.size(a.rows), None)
                for s in range(1, k):
                    P, Q = items[:s], items[s:]
                    cst = self._seg_cost(P) + self._seg_cost(Q) + self.size(a.rows) * self.size(P[-1][3])
                    if cst < best[0] * (1 - 1e-9):
                        best = (cst, s)
                if best[1] is not None:
                    P, Q = items[:best[1]], items[best[1]:]
                    if P[-1][3] == 1:  # diag(u @ w) = u .* w' for vectors
                        if len(P) == 1 and P[0][1] == "colones":
                            return self.T(self._segment(Q))
                        if len(Q) == 1 and Q[0][1] == "rowones":
                            return self._segment(P)
                        return self.times(self._segment(P), self.T(self._segment(Q)))
                    return self.node("einsum_col", self._segment(P), self._segment(Q), attrs=("ij,ji->i",))
                return self.node("col", self.call("diag", self._segment(items)),
                                 argmin=(P_ATOM,))
        return self.node("col", self.call("diag", self.lower(a)), argmin=(P_ATOM,))

    def _sum(self, a: Expr) -> LNode:
        if a.op == "kron":  # sum(kron(A, B)) = sum(A) sum(B)
            return self.times(self._sum(a.args[0]), self._sum(a.args[1]))
        if a.op == "mul":
            c, scal, ch = E.factors(a)
            if not scal and c == 1 and ch:
                items = ([(("ones", 1, a.rows), "rowones", 1, a.rows, None)] + self._items(ch)
                         + [(("ones", a.cols, 1), "colones", a.cols, 1, None)])
                return self._segment(items, top=True)
        if a.op == "diagm":
            return self.call("sum", self.lower(a.args[0]))
        return self.call("sum", self.lower(a))


def _sum_of_exp(e: Expr):
    """(E, w) when e is the sum of the entries of exp(E), weighted by w (None: unweighted):
    sum(exp(E)), ones'*exp(E)*ones, exp(E)'*ones, sum(w .* exp(E)), w'*exp(E), exp(E)'*w."""
    def split(m):  # m = exp(E) or w .* exp(E) (or its transpose): (E, w)
        if m.op == "transpose":
            m = m.args[0]
        if m.op == "fn" and m.attr == "exp" and not m.is_scalar:
            return m.args[0], None
        if m.op == "had":
            exps = [f for f in m.args if f.op == "fn" and f.attr == "exp"]
            if len(exps) == 1:
                rest = [f for f in m.args if f is not exps[0]]
                return exps[0].args[0], rest[0] if len(rest) == 1 else E.had(*rest)
        return None

    if e.op == "sum":
        return split(e.args[0])
    if e.op != "mul" or not e.is_scalar:
        return None
    c, scal, ch = E.factors(e)
    if c != 1 or scal:
        return None
    ch = list(ch)
    if ch and ch[0].op == "ones":
        ch.pop(0)
    if ch and ch[-1].op == "ones":
        ch.pop()
    if len(ch) == 1:
        return split(ch[0])
    if len(ch) == 2 and ch[0].rows == 1 and ch[1].cols == 1:  # w'*exp(E), exp(E)'*w for vectors
        a, b = ch
        for v, f in ((a, b), (b, a)):
            f = f.args[0] if f.op == "transpose" else f
            v = v.args[0] if v.op == "transpose" else v
            if f.op == "fn" and f.attr == "exp" and v.shape == f.shape and v.shape[1] == 1:
                return f.args[0], v
    return None


def _row_sum_of_exp(R: Expr):
    """E when R is exp(E)*ones(k, 1), the row sums of exp(E) for an n x k matrix E (k > 1)."""
    if R.op != "mul" or len(R.args) != 2 or R.is_scalar:
        return None
    f, o = R.args
    if f.op == "fn" and f.attr == "exp" and o.op == "ones" and o.cols == 1 and f.cols != 1 and f.rows != 1:
        return f.args[0]
    return None


def _row_degrees(nodes, roots, x: Expr, R: Expr):
    """{node: row degree} for the nodes holding exp(x) (see ``_analyse_row_lse``), or None
    when some node's rows do not carry a power of exp(m) or an output does (nothing to shift)."""
    ex, log_r = E.fn("exp", x), E.fn("log", R)
    rows = x.rows
    deg: dict = {}
    for n in nodes:
        if n == ex:
            deg[n] = 1
            continue
        if not any(a in deg for a in n.args):
            continue  # free of exp(x)
        ds = [deg.get(a, 0) for a in n.args]
        op = n.op
        if n == log_r:
            d = 0 if deg.get(R) == 1 else None
        elif op == "had":
            d = sum(ds)
        elif op == "hpow":
            c = n.args[1]
            d = (ds[0] * int(c.attr) if c.op == "const" and c.attr.denominator == 1 and ds[1] == 0
                 else None)
        elif op == "mul":
            chain = [i for i, a in enumerate(n.args) if not a.is_scalar]
            lead = chain[0] if chain else None
            d = ds[lead] if lead is not None else 0
            if any(k for i, k in enumerate(ds) if i != lead):
                d = None
        elif op == "add":
            d = ds[0] if all(k == ds[0] for k in ds) else None
        elif op == "diagm":
            d = ds[0]
        else:  # transpose, sum, trace, a function, ...: only of a factor free of exp(m)
            d = 0 if not any(ds) else None
        if d is None or (d != 0 and n.rows != rows):
            return None
        deg[n] = d
    if any(deg.get(r, 0) != 0 for r in roots):
        return None
    return deg


def _spd(a: Expr) -> bool:
    """``a`` is known symmetric positive definite (its facts say so): generated code factors it
    by Cholesky for its log-determinant, inverse and solves."""
    return not a.is_scalar and _facts.facts(a).pd


def _solve_key(chain, j):
    """The linear solve an inverse at chain[j] stands for, the same for both sides of a
    transpose: inv(A)*R is solve(A, R), inv(A)'*R is solve(A', R), and at the end of a chain
    L*inv(A) = (inv(A)'*L')' and L*inv(A)' = (inv(A)*L')'. So b'*inv(A)' (the transpose of
    inv(A)*b) and inv(A)*b count once when deciding whether to solve or form inv(A)."""
    f = chain[j]
    transposed = f.op == "transpose"
    if j + 1 < len(chain):
        return transposed, chain[j + 1]
    return not transposed, E.transpose(chain[j - 1])


def _transposed_chain(chain) -> tuple:
    """The factors of (F1 ... Fk)' = Fk' ... F1' (a symmetric factor is its own transpose)."""
    from ..passes.simplify import is_symmetric

    return tuple(f if is_symmetric(f) else E.transpose(f) for f in reversed(chain))


def _one_minus_sigmoid(e: Expr):
    """u when e is 1 - sigmoid(u) (broadcast 1 for arrays), else None."""
    if e.op != "add" or len(e.args) != 2:
        return None
    for a, b in (e.args, reversed(e.args)):
        one = a.args[0] if a.op == "bcast" else (E.ONE if a.op == "ones" else a)
        if not (one.op == "const" and one.attr == 1 and b.op == "mul" and len(b.args) == 2):
            continue
        c, s = b.args
        if c.op == "const" and c.attr == -1 and s.op == "fn" and s.attr == "sigmoid":
            return s.args[0]
    return None


def _inv_of(f: Expr):
    """A when f is inv(A) or inv(A)', else None."""
    if f.op == "inv":
        return f.args[0]
    if f.op == "transpose" and f.args[0].op == "inv":
        return f.args[0].args[0]
    return None
