"""NumPy code generation.

From a set of output expressions (value, gradients, ...) over the same inputs, emit a
standalone Python module that imports only NumPy. The outputs share one DAG (hash-
consing), so every common subexpression is computed once and value and gradient share
their intermediates. Matrix chains are multiplied in the cheapest order for the shapes.

Conventions inside generated code: vectors are column arrays ``(n, 1)`` (converted from
and to 1-D at the boundary), scalars are Python floats. Generated names start with an
underscore, which no user name can, so they never collide.
"""

from __future__ import annotations

import builtins
import keyword
from fractions import Fraction

from . import expr as E
from .expr import Expr
from .shapes import Dim, dim_parts, shape_to_dims

_HELPERS = {
    "_sigmoid": '''def _sigmoid(z):
    """Logistic function, stable for large |z|."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))
''',
    "_kronadj1": '''def _kronadj1(C, B):
    """Adjoint of M -> kron(M, B): sum_kl B[k, l] * C[i*p + k, j*q + l]."""
    p, q = B.shape
    return np.einsum("ikjl,kl->ij", C.reshape(C.shape[0] // p, p, C.shape[1] // q, q), B)
''',
    "_kronadj2": '''def _kronadj2(A, C):
    """Adjoint of M -> kron(A, M): sum_ij A[i, j] * C[i*p + k, j*q + l]."""
    m, n = A.shape
    return np.einsum("ij,ikjl->kl", A, C.reshape(m, C.shape[0] // m, n, C.shape[1] // n))
''',
    "_commutation": '''def _commutation(m, n):
    """The mn x mn commutation matrix K with K @ vec(A) = vec(A.T) for A of shape (m, n)."""
    K = np.zeros((m * n, m * n))
    i, j = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    K[(i * n + j).ravel(), (j * m + i).ravel()] = 1.0
    return K
''',
}

_RESERVED = set(keyword.kwlist) | set(dir(builtins))


def py_name(name: str) -> str:
    """A Python identifier for a user variable (keywords and builtins get a trailing '_')."""
    while name in _RESERVED:
        name = name + "_"
    return name


def _num(v: Fraction) -> str:
    if v.denominator == 1 and abs(v.numerator) < 2**53:
        s = f"{v.numerator}.0"
    else:
        s = repr(float(v))
    return f"({s})" if s.startswith("-") else s


class _Emitter:
    def __init__(self, np_name: str, dim_names: dict, inputs: dict):
        self.np = np_name
        self.dims = dim_names  # symbolic dim name -> python expression
        self.inputs = inputs  # var name -> python name
        self.lines: list[str] = []
        self.names: dict = {}
        self.helpers: set = set()
        self.counter = 0
        self.uses: dict = {}

    # -- dims
    def dim(self, d) -> str:
        c, names = dim_parts(d)
        parts = ([str(c)] if c != 1 or not names else []) + [self.dims[n] for n in names]
        return " * ".join(parts)

    # -- naming policy
    def count_uses(self, roots):
        for r in roots:
            for node in r.walk():
                for a in node.args:
                    self.uses[a] = self.uses.get(a, 0) + 1
        for r in roots:
            self.uses[r] = self.uses.get(r, 0) + 2

    def ref(self, e: Expr) -> str:
        """A Python expression for e (a name if it was bound, else inline code)."""
        if e in self.names:
            return self.names[e]
        code, atomic = self.code(e)
        if e.args and (self.uses.get(e, 0) > 1 or len(code) > 90 or e.depth > 12 and not atomic):
            self.counter += 1
            name = f"_t{self.counter}"
            self.lines.append(f"{name} = {code}")
            self.names[e] = name
            return name
        return code if atomic else f"({code})"

    def emit_all(self, roots):
        """Bind every non-leaf node that is shared, children first (iteratively)."""
        for r in roots:
            for node in r.walk():
                if node.args and node not in self.names and self.uses.get(node, 0) > 1:
                    self.ref(node)

    # -- code for one node: (code, atomic?)
    def code(self, e: Expr):
        op = e.op
        np = self.np
        if op == "var":
            return self.inputs[e.attr[0]], True
        if op == "dvar":
            return "_d_" + self.inputs[e.attr[0]], True
        if op == "const":
            return _num(e.attr), True
        if op == "eye":
            return f"{np}.eye({self.dim(e.rows)})", True
        if op == "ones":
            return f"{np}.ones(({self.dim(e.rows)}, {self.dim(e.cols)}))", True
        if op == "zero":
            if e.is_scalar:
                return "0.0", True
            return f"{np}.zeros(({self.dim(e.rows)}, {self.dim(e.cols)}))", True
        if op == "K":
            self.helpers.add("_commutation")
            m, n = e.attr
            return f"_commutation({self.dim(m)}, {self.dim(n)})", True
        if op == "add":
            parts = []
            for t in e.args:
                if t.op == "bcast":  # NumPy broadcasts the scalar
                    parts.append(self.ref(t.args[0]))
                else:
                    parts.append(self.ref(t))
            return " + ".join(parts), False
        if op == "mul":
            return self.mul(e)
        if op == "transpose":
            return f"{self.ref(e.args[0])}.T", True
        if op == "trace":
            a = e.args[0]
            if a.op == "mul":
                c, s, ch = E.factors(a)
                if len(ch) == 2 and not s and c == 1:
                    # tr(A*B) = sum(A .* B'): no full product
                    return f"{np}.sum({self.ref(ch[0])} * {self.ref(ch[1])}.T)", True
            return f"{np}.trace({self.ref(a)})", True
        if op == "det":
            return f"{np}.linalg.det({self.ref(e.args[0])})", True
        if op == "logdet":
            return f"{np}.linalg.slogdet({self.ref(e.args[0])})[1]", True
        if op == "inv":
            return f"{np}.linalg.inv({self.ref(e.args[0])})", True
        if op == "mpow":
            return f"{np}.linalg.matrix_power({self.ref(e.args[0])}, {e.attr})", True
        if op == "pow":
            b, x = e.args
            if x.op == "const" and x.attr == Fraction(1, 2):
                return f"{np}.sqrt({self.ref(b)})", True
            return f"{self.ref(b)} ** {self.ref(x)}", False
        if op == "had":
            num, den = [], []
            for f in e.args:
                if f.op == "hpow" and f.args[1].op == "const" and f.args[1].attr < 0:
                    den.append(E.hpow(f.args[0], E.const(-f.args[1].attr)))
                else:
                    num.append(f)
            s = " * ".join(self.ref(f) for f in num) if num else "1.0"
            for f in den:
                s += " / " + self.ref(f)
            return s, False
        if op == "hpow":
            b, x = e.args
            if x.op == "const":
                if x.attr == -1:
                    return f"1.0 / {self.ref(b)}", False
                if x.attr == 2:
                    r = self.ref(b)
                    return f"{r} * {r}", False
                if x.attr == Fraction(1, 2):
                    return f"{np}.sqrt({self.ref(b)})", True
            return f"{self.ref(b)} ** {self.ref(x)}", False
        if op == "fn":
            name = e.attr
            a = self.ref(e.args[0])
            if name == "sigmoid":
                self.helpers.add("_sigmoid")
                return f"_sigmoid({a})", True
            if name == "relu":
                return f"{np}.maximum({a}, 0.0)", True
            if name == "step":
                return f"{np}.heaviside({a}, 0.0)", True
            return f"{np}.{name}({a})", True
        if op == "sum":
            return f"{np}.sum({self.ref(e.args[0])})", True
        if op == "norm2":
            return f"{np}.linalg.norm({self.ref(e.args[0])})", True
        if op == "diagm":
            return f"{np}.diagflat({self.ref(e.args[0])})", True
        if op == "diagv":
            return f"{np}.diag({self.ref(e.args[0])})[:, None]", True
        if op == "vec":
            return f"{self.ref(e.args[0])}.reshape(-1, 1, order='F')", True
        if op == "unvec":
            return f"{self.ref(e.args[0])}.reshape({self.dim(e.rows)}, {self.dim(e.cols)}, order='F')", True
        if op == "kron":
            return f"{np}.kron({self.ref(e.args[0])}, {self.ref(e.args[1])})", True
        if op in ("kronadj1", "kronadj2"):
            self.helpers.add("_" + op)
            return f"_{op}({self.ref(e.args[0])}, {self.ref(e.args[1])})", True
        if op == "bcast":
            return f"{np}.full(({self.dim(e.rows)}, {self.dim(e.cols)}), {self.ref(e.args[0])})", True
        raise AssertionError(f"internal: no NumPy template for {op}")

    def mul(self, e: Expr):
        c, scal, chain = E.factors(e)
        parts = []
        if c != 1:
            parts.append(_num(c))
        # scalar factors with negative constant exponents become divisions
        den = []
        for s in scal:
            if s.op == "pow" and s.args[1].op == "const" and s.args[1].attr < 0:
                den.append(E.power(s.args[0], E.const(-s.args[1].attr)))
            else:
                parts.append(self.ref(s))
        if chain:
            cs = self.chain(chain)
            if e.is_scalar:
                cs = f"({cs}).item()" if not cs.endswith(")") or " @ " in cs else f"{cs}.item()"
            parts.append(cs)
        code = " * ".join(parts) if parts else "1.0"
        for d in den:
            code += " / " + self.ref(d)
        return code, (len(parts) == 1 and not den and not code.startswith("(") and False)

    def chain(self, chain) -> str:
        """Matrix chain in the cheapest multiplication order (dynamic programming)."""
        refs = [self.ref(f) for f in chain]
        k = len(chain)
        if k == 1:
            return refs[0]
        dims = [_size_estimate(chain[0].rows)] + [_size_estimate(f.cols) for f in chain]
        cost = [[0.0] * k for _ in range(k)]
        split = [[0] * k for _ in range(k)]
        for length in range(2, k + 1):
            for i in range(k - length + 1):
                j = i + length - 1
                best, arg = None, i
                for s in range(i, j):
                    cst = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                    if best is None or cst < best * (1 - 1e-9):
                        best, arg = cst, s
                cost[i][j] = best
                split[i][j] = arg

        def build(i, j, top=False):
            if i == j:
                return refs[i]
            s = split[i][j]
            left = build(i, s)
            right = build(s + 1, j)
            # '@' is left-associative: only a right operand that is a product needs parens
            if s + 1 != j:
                right = f"({right})"
            return f"{left} @ {right}"

        return build(0, k - 1, True)


def _size_estimate(d) -> float:
    c, names = dim_parts(d)
    return float(c) * (1000.0 ** len(names))


def input_conversion(name: str, pyname: str, shape, np_name: str, dims: dict, checks: list):
    """Lines that convert and check one input; binds symbolic dims on first sight."""
    userdims = shape_to_dims(shape)
    lines = []
    if len(userdims) == 0:
        lines.append(f"{pyname} = float({pyname})")
        return lines
    lines.append(f"{pyname} = {np_name}.asarray({pyname}, dtype=float)")
    if len(userdims) == 1:
        lines.append(f"if {pyname}.ndim == 2 and {pyname}.shape[1] == 1:")
        lines.append(f"    {pyname} = {pyname}[:, 0]")
        lines.append(f"if {pyname}.ndim != 1:")
        lines.append(f"    raise ValueError(f\"{name} must be a vector (1-D array), got shape "
                     f"{{{pyname}.shape}}\")")
    else:
        lines.append(f"if {pyname}.ndim != 2:")
        lines.append(f"    raise ValueError(f\"{name} must be a matrix (2-D array), got shape "
                     f"{{{pyname}.shape}}\")")
    for axis, d in enumerate(userdims):
        c, names = dim_parts(d)
        actual = f"{pyname}.shape[{axis}]"
        if isinstance(d, Dim) and c == 1 and len(names) == 1 and names[0] not in dims:
            dims[names[0]] = "_" + names[0]
            lines.append(f"_{names[0]} = {actual}")
        else:
            checks.append((name, pyname, axis, d))
    if len(userdims) == 1:
        lines.append(f"{pyname} = {pyname}.reshape(-1, 1)")
    return lines


def generate(outputs: list, inputs: list, fname: str = "f", doc: str = "", np_name: str = "np",
             extra_params: list | None = None, result_code: str | None = None) -> str:
    """Source of a module defining ``fname(*inputs)`` that returns the outputs.

    ``outputs``: list of (label, Expr, kind) where kind is 'value' (scalar -> float,
    vector -> 1-D, matrix -> 2-D). ``inputs``: list of (name, shape). ``extra_params``:
    further (name, shape) parameters such as tangent directions.
    """
    dims: dict = {}
    checks: list = []
    pynames = {name: py_name(name) for name, _ in inputs}
    body: list[str] = []
    for name, shape in inputs:
        body += input_conversion(name, pynames[name], shape, np_name, dims, checks)
    for name, pyn, shape in (extra_params or []):
        body += input_conversion(name, pyn, shape, np_name, dims, checks)
    for name, pyname, axis, d in checks:
        c, dnames = dim_parts(d)
        missing = [n for n in dnames if n not in dims]
        if missing:
            for n in missing:
                dims[n] = "_" + n
            continue
        expected = " * ".join(([str(c)] if c != 1 or not dnames else []) + [dims[n] for n in dnames])
        body.append(f"if {pyname}.shape[{axis}] != {expected}:")
        label = str(d)
        body.append(f"    raise ValueError(f\"{name}: dimension {axis} should be {label} = "
                    f"{{{expected}}}, got {{{pyname}.shape[{axis}]}}\")")
    all_inputs = dict(pynames)
    for name, pyn, _ in (extra_params or []):
        all_inputs[name] = pyn
    em = _Emitter(np_name, dims, all_inputs)
    roots = [e for _, e, _ in outputs]
    em.count_uses(roots)
    em.emit_all(roots)
    results = []
    for label, e, kind in outputs:
        r = em.ref(e)
        if r.startswith("(") and r.endswith(")"):
            r = r[1:-1]
        if e.is_scalar:
            r = f"float({r})"
        elif e.cols == 1 and kind == "value":
            r = f"{np_name}.ravel({r})" if e.op != "var" else f"{r}.ravel()"
        results.append(r)
    body += em.lines
    if result_code is not None:
        body.append(result_code.format(*results))
    else:
        body.append("return " + ", ".join(results) if len(results) > 1 else f"return {results[0]}")
    params = [pynames[n] for n, _ in inputs] + [p for _, p, _ in (extra_params or [])]
    out = [f"import numpy as {np_name}" if np_name != "numpy" else "import numpy", ""]
    for h in sorted(em.helpers):
        out += ["", _HELPERS[h].replace("np.", np_name + "."), ""]
    out += ["", f"def {fname}({', '.join(params)}):"]
    if doc:
        out.append('    """' + doc.replace('"""', "'''").replace("\\", "\\\\").rstrip() + "\n    \"\"\"")
    out += ["    " + line for line in body]
    return "\n".join(out).replace("\n\n\n\n", "\n\n\n") + "\n"


def compile_source(source: str, fname: str):
    """Compile generated source (matdiff's own output, never user text) into a function."""
    import numpy

    namespace: dict = {"np": numpy, "_np": numpy, "numpy": numpy}
    code = compile(source, "<matdiff-generated>", "exec")
    exec(code, namespace)  # noqa: S102 - generated code: identifiers validated, numbers formatted
    return namespace[fname]
