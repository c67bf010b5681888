"""NumPy code generation (matdiff/codegen.py): snapshots of the generated source, what
the generated code computes (gradient vs finite differences), what it avoids (inverses,
Kronecker products, full products under a trace, ...), names, input checks, the CLI.

Snapshots live in tests/snapshots/*.py; regenerate with MATDIFF_UPDATE_SNAPSHOTS=1.
"""

from __future__ import annotations

import os
import py_compile
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import matdiff
from matdiff.cli import main

SNAP = Path(__file__).resolve().parent / "snapshots"
RUFF = [sys.executable, "-m", "ruff"]


def derive(text, wrt, shapes=None, symmetric=()):
    return matdiff.derive(text, wrt=wrt, shapes=shapes, symmetric=symmetric)


def body(src: str, out: bool = False) -> str:
    """The generated statements after the input checks (what does the work): the path with
    no out= array (``out``: the path with them)."""
    lines = src.split("\n")
    start = max(i for i, line in enumerate(lines) if "raise ValueError" in line or ".reshape(-1, 1)" in line
                and "=" in line and "_t" not in line)
    kept, branch = [], None
    for line in lines[start + 1:]:
        if re.match(r"\s*_o\d+ = _out\(", line):
            continue
        if re.match(r"\s*if _o\d+ is None:$", line):
            branch = "none"
            continue
        if branch and line.strip() == "else:":
            branch = "out"
            continue
        if branch and not line.startswith("        "):
            branch = None
        if branch is None:
            kept.append(line)
        elif (branch == "out") == out:
            kept.append(line[4:])
    return "\n".join(kept)


# ---------------------------------------------------------------------------- inputs for numerics

SIZES = {"n": 4, "m": 3, "k": 5, "p": 2}


def _dims(d, dims):
    out = []
    for x in dims:
        if isinstance(x, int):
            out.append(x)
        else:
            v = 1
            for part in str(x).split("*"):
                v *= int(part) if part.isdigit() else SIZES[part]
            out.append(v)
    return tuple(out)


def random_inputs(d, rng, positive=(), sym=()):
    inp = {}
    for name, dims in d.shapes.items():
        shape = _dims(d, dims)
        if not shape:
            inp[name] = float(rng.uniform(0.5, 1.5)) if name in positive else float(rng.standard_normal())
            continue
        if name in positive:
            M = rng.uniform(0.1, 1.0, shape)
            if len(shape) == 2 and shape[0] == shape[1]:
                M = M + shape[0] * np.eye(shape[0])
        else:
            M = rng.standard_normal(shape)
        if name in sym:
            M = (M + M.T) / 2
        inp[name] = M
    return inp


def fd_check(d, positive=(), seed=0, tol=1e-6):
    """Gradient of the compiled function against 4th-order central differences."""
    rng = np.random.default_rng(seed)
    f = d.to_numpy()
    inp = random_inputs(d, rng, positive, d.symmetric)
    value, grad = f(**inp)
    assert isinstance(value, float)
    grads = grad if len(d.wrt) > 1 else {d.wrt[0]: grad}
    for name in d.wrt:
        g = np.asarray(grads[name], dtype=float)
        assert g.shape == np.shape(inp[name]), (name, g.shape, np.shape(inp[name]))
    for _ in range(3):
        V = {}
        for name in d.wrt:
            v = rng.standard_normal(np.shape(inp[name]))
            if name in d.symmetric:
                v = (v + v.T) / 2
            V[name] = v if np.ndim(v) else float(v)
        h = 1e-3

        def at(t, V=V):
            return f(**{k: (x + t * V[k] if k in V else x) for k, x in inp.items()})[0]

        num = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h)
        ana = sum(float(np.sum(np.asarray(grads[k]) * V[k])) for k in d.wrt)
        scale = max(abs(num), abs(ana), 1e-8 * sum(float(np.linalg.norm(grads[k])) for k in d.wrt))
        assert abs(num - ana) <= tol * scale, f"{d.text}: fd {num} vs analytic {ana}"
    return f, inp


# ---------------------------------------------------------------------------- execution for many cases

CASES = [
    ("logdet(X) + tr(inv(X)*A)", "X", None, (), {"X"}),
    ("norm2(A*x - b)^2", "x", {"b": "n"}, (), ()),
    ("x'*A*y", ["x", "y"], None, (), ()),
    ("x'*A*x", "x", {"x": "n", "A": "n,n"}, (), ()),
    ("tr(X*A*X)", "X", None, (), ()),
    ("tr(A*B*C*X)", "X", None, (), ()),
    ("tr(A*X*B*X')", "X", {"X": "n,m"}, (), ()),
    ("log(det(X))", "X", None, (), {"X"}),
    ("det(X)", "X", None, (), ()),
    ("det(X)^2 + tr(inv(X))", "X", None, (), {"X"}),
    ("x'*inv(S)*x + logdet(S)", "S", None, ("S",), {"S"}),
    ("x'*inv(S)*x", "x", None, ("S",), {"S"}),
    ("x'*inv(A)*y", ["x", "y", "A"], None, (), {"A"}),
    ("a'*inv(X)*b", "X", {"a": "n", "b": "n"}, (), {"X"}),
    ("tr(B*inv(X)*A)", "X", None, (), {"X"}),
    ("sum(diag(x)*A)", "x", None, (), ()),
    ("sum(A*diag(x)*B)", "x", {"A": "n,m", "B": "m,k"}, (), ()),
    ("x'*diag(y)*A*z", ["x", "y", "z"], None, (), ()),
    ("sum(A*B)", ["A", "B"], None, (), ()),
    ("norm2(kron(X, A))^2", "X", None, (), ()),
    ("tr(kron(A, X))", "X", {"A": "n,n", "X": "m,m"}, (), ()),
    ("y'*kron(A, X)*z", "X", {"A": "n,m", "X": "k,p"}, (), ()),
    ("sum(vec(X)) + norm2(vec(X'*A))", "X", None, (), ()),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", {"X": "n,m", "y": "n"}, (), ()),
    ("sum(A .* X .* X) + sum(sqrt(X .* X + 1))", "X", None, (), ()),
    ("sum(sigmoid(W*x) .* tanh(W*x))", "W", {"W": "n,m"}, (), ()),
    ("exp(s)*sin(s)^2 + s^(1/2)", "s", {"s": ""}, (), {"s"}),
    ("a*b/c + a^2", ["a", "b", "c"], None, (), {"c"}),
    ("tr(X^3) + tr(X^2*A)", "X", None, (), ()),
    ("norm2(X - U*V')^2", ["U", "V"], None, (), ()),
    ("x'*S*x", "S", None, ("S",), ()),
    ("tr(inv(S)*A)", "S", None, ("S",), {"S"}),
    ("sum(diag(X*A)) + diag(X)'*y", "X", {"X": "n,n"}, (), ()),
    ("2*x'*y - 3*norm2(x)", ["x", "y"], None, (), ()),
    ("1 + x'*y - a", ["x", "y", "a"], None, (), ()),
]


@pytest.mark.parametrize("text,wrt,shapes,sym,pos", CASES, ids=[c[0] + " by " + str(c[1]) for c in CASES])
def test_generated_gradient_matches_finite_differences(text, wrt, shapes, sym, pos):
    d = derive(text, wrt, shapes, sym)
    fd_check(d, positive=pos)


@pytest.mark.parametrize("text,wrt,shapes,sym,pos", CASES, ids=[c[0] + " by " + str(c[1]) for c in CASES])
def test_generated_module_is_clean(text, wrt, shapes, sym, pos, tmp_path):
    d = derive(text, wrt, shapes, sym)
    src = d.numpy_source("grad_f")
    path = tmp_path / "mod.py"
    path.write_text(src)
    py_compile.compile(str(path), doraise=True)
    top = {m for m in re.findall(r"^(?:import|from)\s+(\w+)", src, re.MULTILINE)}
    assert top == {"numpy"}  # the module needs NumPy only; SciPy is an optional speed-up:
    for m in re.finditer(r"^\s+from scipy\b.*$", src, re.MULTILINE):  # guarded, with a fallback
        assert "except ImportError:" in src[m.end():m.end() + 80], m.group(0)
    r = subprocess.run(RUFF + ["check", "--no-cache", "--isolated", str(path)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_value_and_gradient_agree_with_value_only_function():
    d = derive("logdet(X) + tr(inv(X)*A)", "X")
    rng = np.random.default_rng(1)
    inp = random_inputs(d, rng, positive={"X"})
    v, _ = d.to_numpy()(**inp)
    assert v == pytest.approx(float(d.value_numpy()(**inp)), rel=1e-12)
    X, A = inp["X"], inp["A"]
    assert v == pytest.approx(np.linalg.slogdet(X)[1] + np.trace(np.linalg.solve(X, A)), rel=1e-12)


# ---------------------------------------------------------------------------- snapshots

SNAPSHOTS = {
    "logdet_tr_inv": ("logdet(X) + tr(inv(X)*A)", "X", None, ()),
    "least_squares": ("norm2(A*x - b)^2", "x", {"b": "n"}, ()),
    "bilinear_two_wrt": ("x'*A*y", ["x", "y"], None, ()),
    "trace_chain": ("tr(A*B*C*X)", "X", None, ()),
    "gaussian_sym": ("x'*inv(S)*x + logdet(S)", "S", None, ("S",)),
    "quad_form_solve": ("x'*inv(S)*x", "x", None, ("S",)),
    "diag_scaling": ("sum(A*diag(x)*B)", "x", {"A": "n,m", "B": "m,k"}, ()),
}


@pytest.mark.parametrize("name", sorted(SNAPSHOTS))
def test_snapshot(name):
    text, wrt, shapes, sym = SNAPSHOTS[name]
    src = derive(text, wrt, shapes, sym).numpy_source(name)
    path = SNAP / f"{name}.py"
    if os.environ.get("MATDIFF_UPDATE_SNAPSHOTS") or not path.exists():
        SNAP.mkdir(exist_ok=True)
        path.write_text(src)
    assert src == path.read_text(), f"generated source changed; MATDIFF_UPDATE_SNAPSHOTS=1 to accept\n{src}"


def test_snapshots_run():
    """The golden modules themselves are importable, standalone and right."""
    for name in SNAPSHOTS:
        ns: dict = {}
        exec(compile((SNAP / f"{name}.py").read_text(), name, "exec"), ns)  # noqa: S102
        assert callable(ns[name])


# ---------------------------------------------------------------------------- what the code avoids / does


def test_common_subexpressions_once():
    src = derive("logdet(X) + tr(inv(X)*A)", "X").numpy_source()
    assert src.count("np.linalg.inv(") == 1
    assert src.count("slogdet(") == 1
    src = derive("norm2(A*x - b)^2", "x", {"b": "n"}).numpy_source()
    assert src.count("A @ x") == 1
    assert "norm" not in body(src)  # ||r||^2 as vdot(r, r), no square root


def test_solve_instead_of_inverse():
    src = derive("x'*inv(S)*x", "x", symmetric=("S",)).numpy_source()
    assert "np.linalg.solve(S, x)" in src and "inv(" not in body(src)
    src = derive("tr(B*inv(X)*A)", "B").numpy_source()
    assert "inv(" not in body(src) and "solve(" in src
    # B @ inv(A) -> solve(A.T, B.T).T
    src = derive("norm2(B*inv(X))^2", "B").value_numpy().source
    assert "np.linalg.solve(X.T, B.T).T" in src and "inv(" not in body(src)


def test_inverse_formed_once_when_needed_several_times():
    src = derive("det(X)", "X").numpy_source()
    assert body(src).count("inv(") == 1 and "solve" not in src
    src = derive("x'*inv(S)*x + logdet(S)", "S", symmetric=("S",)).numpy_source()
    assert body(src).count("inv(") == 1


def test_slogdet_for_log_det():
    src = derive("log(det(X))", "X").numpy_source()
    assert "slogdet" in src and "np.linalg.det(" not in src
    f = derive("log(det(X))", "X").to_numpy()
    X = np.array([[2.0, 1.0], [0.5, 3.0]])
    v, g = f(X=X)
    assert v == pytest.approx(np.log(np.linalg.det(X)))
    np.testing.assert_allclose(g, np.linalg.inv(X).T)


def test_no_diag_kron_or_commutation_materialised_in_gradients():
    for text, wrt, shapes in [("sum(diag(x)*A)", "x", None), ("sum(A*diag(x)*B)", "x", {"A": "n,m", "B": "m,k"}),
                              ("x'*diag(y)*A*z", ["x", "y", "z"], None),
                              ("y'*kron(A, X)*z", "X", {"A": "n,m", "X": "k,p"}),
                              ("tr(kron(A, X))", "X", {"A": "n,n", "X": "m,m"})]:
        src = derive(text, wrt, shapes).numpy_source()
        ret = src[src.index("def f("):]
        for bad in ("diagflat", "np.kron", "_commutation", "np.diag("):
            assert bad not in ret, (text, bad, src)


def test_trace_of_products_is_an_elementwise_sum():
    src = derive("tr(X*A*X)", "X").numpy_source()
    assert "np.trace" not in src and "np.sum(" in src
    src = derive("tr(A*B*C*X)", "X").numpy_source()
    assert "np.trace" not in src
    # value and gradient share A*B*C (the gradient is its transpose): one product, computed
    # with two '@' or, as the best order depends on the sizes, one multi_dot
    assert body(src).count("@") == 2 or (body(src).count("multi_dot") == 1 and "@" not in body(src)), src


def test_chain_order_for_shapes():
    d = derive("sum(A*B*x)", "x", {"A": "n,n", "B": "n,n", "x": "n"})
    assert "A @ (B @ x)" in d.numpy_source()
    d = derive("norm2(A*B*x)^2", "x", {"A": "n,n", "B": "n,n", "x": "n"})
    assert "A @ (B @ x)" in d.value_numpy().source
    # value and gradient share y'*A*B (the gradient is its transpose): two matrix-vector products
    d = derive("y'*A*B*x", "x", {"A": "n,n", "B": "n,n", "x": "n", "y": "n"})
    src = d.numpy_source()
    assert "_t1 = y.T @ A @ B" in src and body(src).count("@") == 2 and "np.vdot(_t1, x)" in src


def _chain_source(hints):
    from matdiff.backends.emit import generate
    from matdiff.core import expr as E
    from matdiff.core.shapes import sym

    n, m, k, p = (sym(c) for c in "nmkp")
    A, B, C = E.var("A", (n, m)), E.var("B", (m, k)), E.var("C", (k, p))
    return generate([("v", E.mul(A, B, C), "value")], [("A", A.shape), ("B", B.shape), ("C", C.shape)],
                    size_hints=hints)


def test_hints_choose_the_order():
    assert "return A @ (B @ C)" in _chain_source({"n": 1000, "m": 1000, "k": 1000, "p": 2})
    assert "return A @ B @ C" in _chain_source({"n": 2, "m": 1000, "k": 1000, "p": 1000})
    d = derive("norm2(A*B*C)^2", "C", {"A": "n,m", "B": "m,k", "C": "k,p"})
    assert d.numpy_source(hints={"n": 2}) != d.numpy_source(hints={"p": 2})
    with pytest.raises(matdiff.DerivationError, match="no dimension"):
        d.numpy_source(hints={"q": 3})


def test_scalar_chains_are_dots():
    src = derive("x'*A*y", ["x", "y"]).numpy_source()
    assert "np.vdot(x, _t1)" in src and ".item()" not in src
    assert src.count("A @ y") == 1


# ---------------------------------------------------------------------------- names


@pytest.mark.parametrize("names", [
    ["np", "t", "grad", "value"],
    ["lambda", "float", "ValueError"],
    ["float", "float_", "np", "numpy"],
    ["f", "x", "result", "print"],
])
def test_user_names_never_collide(names, tmp_path):
    text = " + ".join(f"{n}^2" for n in names)
    shapes = {n: "" for n in names}
    d = derive(text, names, shapes)
    f = d.to_numpy()
    vals = {n: float(i + 1) for i, n in enumerate(names)}
    v, g = f(**vals)
    assert v == pytest.approx(sum(x * x for x in vals.values()))
    assert g == pytest.approx({n: 2 * x for n, x in vals.items()})
    src = d.numpy_source("f")
    p = tmp_path / "m.py"
    p.write_text(src)
    r = subprocess.run(RUFF + ["check", "--no-cache", "--isolated", str(p)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + src


def test_vector_and_matrix_named_like_numpy_and_builtins():
    d = derive("np'*ValueError*float", ["np", "float"], {"np": "n", "ValueError": "n,m", "float": "m"})
    fd_check(d)
    ns: dict = {}
    exec(d.numpy_source("np"), ns)  # noqa: S102 - a function called np as well
    v, _ = ns["np"](np.ones(2), np.eye(2), np.ones(2))
    assert v == pytest.approx(2.0)


def test_function_name_validated():
    d = derive("x'*x", "x")
    with pytest.raises(matdiff.DerivationError):
        d.numpy_source("not valid")
    assert "def lambda_(" in d.numpy_source("lambda")


# ---------------------------------------------------------------------------- input checks


def test_input_checks_name_argument_and_shapes():
    f = derive("x'*A*y", ["x", "y"]).to_numpy()
    x, A, y = np.ones(3), np.ones((3, 2)), np.ones(2)
    f(x, A, y)
    with pytest.raises(ValueError, match=r"A: expected shape \(n, m\) = \(3, 2\), got \(4, 2\)"):
        f(x, np.ones((4, 2)), y)
    with pytest.raises(ValueError, match=r"y: expected shape \(m,\) = \(2,\), got \(3,\)"):
        f(x, A, np.ones(3))
    with pytest.raises(ValueError, match=r"A: expected a matrix"):
        f(x, np.ones(3), y)
    with pytest.raises(ValueError, match=r"x: expected a vector"):
        f(np.ones((3, 2)), A, y)
    # column vectors are accepted
    f(x.reshape(-1, 1), A, y)


def test_input_checks_square_and_scalar():
    f = derive("a*tr(X)", ["X", "a"]).to_numpy()
    with pytest.raises(ValueError, match=r"X: expected shape \(n, n\) = \(3, 3\), got \(3, 4\)"):
        f(X=np.ones((3, 4)), a=1.0)
    with pytest.raises(ValueError, match=r"a: expected a scalar"):
        f(X=np.eye(3), a=np.ones(2))
    v, _ = f(X=np.eye(3), a=np.array([2.0]))
    assert v == pytest.approx(6.0)


def test_integer_sizes_checked():
    f = derive("tr(X)", "X", {"X": "3,3"}).to_numpy()
    with pytest.raises(ValueError, match=r"X: expected shape \(3, 3\)"):
        f(np.eye(2))


def _signature_and_messages(src: str, fname: str = "f"):
    """The parameters of ``def fname(...)`` (the inputs; not out=, which the docstring
    describes in a paragraph of its own) and the names the input checks' messages start with."""
    params = re.search(rf"def {fname}\(([^)]*)\)", src).group(1).split(", ")
    for p in [p for p in params if p.endswith("=None")]:
        assert f"\n    {p[:-5]}: a float64 array of the " in src
    params = [p for p in params if not p.endswith("=None")]
    named = re.findall(r'raise ValueError\(f"([A-Za-z_][A-Za-z0-9_]*):', src)
    return params, named


@pytest.mark.parametrize("text, wrt, shapes, mode", [
    ("norm2(X*w - y)^2 + lambda*norm2(w)^2", "w", {"X": "m,n", "w": "n", "y": "m", "lambda": ""}, "plain"),
    ("norm2(X*w - y)^2 + lambda*norm2(w)^2", "w", {"X": "m,n", "w": "n", "y": "m", "lambda": ""}, "hessian"),
    ("norm2(X*w - y)^2 + lambda*norm2(w)^2", "w", {"X": "m,n", "w": "n", "y": "m", "lambda": ""}, "hvp"),
    ("x'*A*x + lambda*in", ["x", "A"], {"x": "n", "A": "n,n", "lambda": "", "in": ""}, "hvp"),
    ("tr(V*X) + x'*x", "X", {"V": "n,n", "X": "n,n", "x": "n"}, "hvp"),
])
def test_messages_and_docstrings_use_the_python_parameter_names(text, wrt, shapes, mode):
    """Every input check of generated code names a parameter of the function; the docstring's
    Shapes line names the parameters (saying which formula name a renamed one stands for);
    the HVP's directions are parameters named as the docstring and the CLI's help say."""
    d = derive(text, wrt, shapes)
    src = d.numpy_source("f", hessian=mode == "hessian", hvp=mode == "hvp")
    params, named = _signature_and_messages(src)
    assert named and set(named) <= set(params), (params, named)
    assert set(params) >= {"lambda_"} if "lambda" in shapes else True
    shapes_line = next(line for line in src.split("\n") if "Shapes:" in line)
    for p in params:
        assert f"{p}:" in shapes_line or f"{p} shaped like" in shapes_line, (p, shapes_line)
    if "lambda" in shapes:
        assert "(in the formulas lambda_ is lambda" in shapes_line
    if mode == "hvp":
        dirs = list(d.hvp_variables.values())
        assert params[-len(dirs):] == dirs and not any(p.startswith("_") for p in params)
        for v in dirs:
            assert f"{v} shaped like" in shapes_line
    # called by those names, the module works and complains by those names
    ns: dict = {}
    exec(compile(src, "generated", "exec"), ns)  # noqa: S102 - matdiff's own output
    f = ns["f"]
    rng = np.random.default_rng(0)
    sizes = {"n": 3, "m": 4}
    args = {}
    for n, sh in d.shapes.items():
        args[n] = rng.standard_normal([sizes.get(str(x), x) for x in sh]) if sh else 0.5
    if mode == "hvp":
        for a, v in d.hvp_variables.items():
            args[v] = rng.standard_normal(np.shape(args[a]))
    py = dict(zip(list(d.variables) + list(d.hvp_variables.values() if mode == "hvp" else []), params))
    kwargs = {py[n]: val for n, val in args.items()}
    f(**kwargs)
    bad = params[-1]
    kwargs[bad] = np.ones((7, 7, 7))
    with pytest.raises(ValueError, match=rf"^{bad}: expected"):
        f(**kwargs)


def test_hvp_direction_parameter_matches_cli_help_and_to_numpy():
    d = derive("x'*A*x", "x", {"x": "n", "A": "n,n"})
    src = d.numpy_source("f", hvp=True)
    assert "def f(x, A, V, out=None):" in src and "directions V shaped like x" in src and "_V" not in src
    r = CliRunner().invoke(main, ["codegen", "--help"])
    assert "NAME(inputs..., V)" in r.output
    hv = d.to_numpy(hvp=True)(x=np.ones(2), A=np.eye(2), V=np.array([1.0, 2.0]))
    assert hv == pytest.approx([2.0, 4.0])


# ---------------------------------------------------------------------------- to_numpy uses the same source


def test_to_numpy_compiles_numpy_source():
    d = derive("logdet(X) + tr(inv(X)*A)", "X")
    f = d.to_numpy()
    assert f.source == d.numpy_source("_matdiff_f")


# ---------------------------------------------------------------------------- CLI


def test_cli_codegen_stdout_and_file(tmp_path):
    r = CliRunner().invoke(main, ["codegen", "norm2(A*x - b)^2", "--wrt", "x", "--shape", "b=n",
                                  "--name", "loss"])
    assert r.exit_code == 0, r.output
    assert "def loss(A, x, b, out=None):" in r.stdout
    out = tmp_path / "loss.py"
    r = CliRunner().invoke(main, ["codegen", "norm2(A*x - b)^2", "--wrt", "x", "--shape", "b=n",
                                  "--name", "loss", "-o", str(out)])
    assert r.exit_code == 0, r.output
    ns: dict = {}
    exec(out.read_text(), ns)  # noqa: S102
    A = np.arange(6.0).reshape(3, 2)
    x, b = np.array([1.0, -1.0]), np.array([1.0, 2.0, 3.0])
    v, g = ns["loss"](A, x, b)
    r_ = A @ x - b
    assert v == pytest.approx(r_ @ r_)
    np.testing.assert_allclose(g, 2 * A.T @ r_)


def test_cli_codegen_symmetric_and_hint():
    r = CliRunner().invoke(main, ["codegen", "x'*inv(S)*x + logdet(S)", "--wrt", "S", "--symmetric", "S",
                                  "--hint", "n=50"])
    assert r.exit_code == 0, r.output
    assert "Gradient by S" in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["codegen", "x'*x", "--wrt", "x", "--name", "1bad"], "--name"),
    (["codegen", "x'*x", "--wrt", "x", "--hint", "n=abc"], "--hint"),
    (["codegen", "x'*x", "--wrt", "x", "--hint", "q=3"], "q"),
    (["codegen", "x'*", "--wrt", "x"], "error"),
])
def test_cli_codegen_errors(args, needle):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert needle in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("text, expected", [
    ("exp(x) .* sigmoid(x) .* (1 - sigmoid(x))", True),
    ("x.^2 .* (1 - tanh(x).^2)", True),
    ("abs(x) + relu(x) + 2", True),
    ("sqrt(1 + x.^2) .* step(x)", True),
    ("x", False),
    ("x - 1", False),
    ("sigmoid(x) - 1", False),
    ("x.^3", False),
    ("log(1 + exp(x))", False),  # nonnegative, but the analysis is conservative
])
def test_sign_analysis_is_sound(text, expected):
    """codegen.is_nonnegative: what it claims holds on random inputs (and it finds these)."""
    from matdiff.core.facts import is_nonnegative

    e = matdiff.parse(text, shapes={"x": "n"})
    assert is_nonnegative(e) is expected
    if expected:
        f = matdiff.derive(text, wrt="x", shapes={"x": "n"}).value_numpy()
        rng = np.random.default_rng(0)
        for _ in range(20):
            assert np.all(f(x=3 * rng.standard_normal(7)) >= 0)


def test_weighted_gram_uses_a_symmetric_product():
    """X'*diag(v)*X with v >= 0 is generated as Z.T @ Z with Z = sqrt(v) * X, and is right."""
    d = matdiff.derive("sum(log(1 + exp(-y .* (X*w))))", wrt="w")
    src = d.numpy_source("f", hessian=True)
    assert "np.sqrt(" in src and "np.diagflat" not in src
    rng = np.random.default_rng(1)
    X, w, y = rng.standard_normal((30, 4)), rng.standard_normal(4), np.sign(rng.standard_normal(30))
    _, _, H = d.to_numpy(hessian=True)(X=X, w=w, y=y)
    s = 1 / (1 + np.exp(y * (X @ w)))
    np.testing.assert_allclose(H, X.T @ ((s * (1 - s))[:, None] * X), rtol=1e-10)


def test_chain_order_chosen_at_call_time_when_sizes_decide():
    """A*B*C*D with symbolic sizes: multi_dot picks the order from the actual shapes; a hint
    or a vector fixes the order statically. Numbers agree either way."""
    d = matdiff.derive("tr(A*B*C*D)", wrt="A")
    assert "multi_dot" in d.numpy_source("f")
    assert "multi_dot" not in d.numpy_source("f", hints={"n": 5, "m": 500, "k": 5, "p": 500})
    assert "multi_dot" not in matdiff.derive("norm2(A*B*x)^2", wrt="x").numpy_source("f")
    rng = np.random.default_rng(3)
    for shapes in [(2, 9, 3, 7), (9, 2, 8, 3)]:
        n, m, k, p = shapes
        A, B, C, D = (rng.standard_normal(s) for s in [(n, m), (m, k), (k, p), (p, n)])
        value, G = d.to_numpy()(A=A, B=B, C=C, D=D)
        assert value == pytest.approx(np.trace(A @ B @ C @ D))
        np.testing.assert_allclose(G, (B @ C @ D).T, rtol=1e-12)


def test_outer_product_is_the_same_without_scipy(monkeypatch):
    """Large outer products go through BLAS dger where SciPy is present (about twice NumPy's
    broadcast multiply); without SciPy the generated module falls back to the broadcast: same
    values, C-contiguous gradient either way."""
    import sys

    import numpy as np

    d = derive("norm2(V*tanh(W*x) - y)^2", "W", {"W": "h,d", "V": "m,h", "x": "d", "y": "m"})
    assert "_outer(" in d.numpy_source()
    rng = np.random.default_rng(3)
    for h, n in ((3, 4), (300, 250), (257, 1)):
        V, W = rng.standard_normal((5, h)), rng.standard_normal((h, n)) / np.sqrt(n)
        x, y = rng.standard_normal(n), rng.standard_normal(5)
        t = np.tanh(W @ x)
        ref = 2 * np.outer((V.T @ (V @ t - y)) * (1 - t * t), x)
        _, G = d.to_numpy()(V=V, W=W, x=x, y=y)
        np.testing.assert_allclose(G, ref, rtol=1e-12, atol=1e-12)
        assert G.shape == (h, n) and G.flags.c_contiguous
        with monkeypatch.context() as mp:
            mp.setitem(sys.modules, "scipy", None)
            mp.setitem(sys.modules, "scipy.linalg", None)
            mp.setitem(sys.modules, "scipy.linalg.blas", None)
            _, G2 = d.to_numpy()(V=V, W=W, x=x, y=y)
        np.testing.assert_allclose(G2, ref, rtol=1e-12, atol=1e-12)
