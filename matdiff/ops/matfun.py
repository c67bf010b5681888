"""Matrix functions: ``expm``, ``logm``, ``sqrtm`` (principal branches), ``sinm``, ``cosm``.

Each function f of a square matrix comes with two more ops:

* its Fréchet derivative ``Df(A, E)`` (printed ``Dexpm(A, E)``, the L_f(A, E) of Higham,
  *Functions of Matrices* (2008), ch. 3): linear in E, so it has a transpose rule
  (``<C, Df(A, E)> = <Df(A', C), E>``: f has a real power series, so the adjoint of the
  Fréchet derivative is the Fréchet derivative at A') and a vec rule;
* its Kronecker form ``Jf(A)`` (printed ``Jexpm(A)``, n² × n²): ``vec(Df(A, E)) =
  Jf(A)*vec(E)``, the Jacobian of ``vec(f(A))``, computed in generated code column by column.

``exp(A)``, ``log(A)``... stay elementwise (as in NumPy); the parser notes the difference
when their argument is a square matrix. Exact simplifications: ``Df(A, c*I) = c*f'(A)`` and
``Df(A, c*A) = c*f'(A)*A`` (I and A commute with A), ``Df(A, c*M) = c*Df(A, M)``, where f' is the scalar derivative as a
matrix function (expm -> expm, logm -> inv, sqrtm -> inv(sqrtm)/2, sinm -> cosm,
cosm -> -sinm); :mod:`matdiff.passes.simplify` rewrites ``tr(Df(A, E))`` to
``tr(f'(A)*E)`` (the trace is cyclic in every term of the power series).

The second Fréchet derivative ``D2f(A, M, N)`` and its Kronecker form ``J2f(A, M)`` give
Hessians (NumPy only); a third derivative raises a
:class:`~matdiff.core.errors.DerivationError` saying so.

Code: the NumPy back-end uses SciPy (``scipy.linalg.expm``, ``expm_frechet``, ``logm``,
``sqrtm``, ``sinm``, ``cosm``; the Fréchet derivatives of the others by the block identity
``f([A, E; 0, A]) = [f(A), Df(A, E); 0, f(A)]``); JAX lowers expm and its Fréchet derivative
(``jax.scipy.linalg``), PyTorch expm (``torch.linalg.matrix_exp``, the block identity for
the derivative); the other functions are UNSUPPORTED there for a nonsymmetric argument. For a
symmetric S (its facts say so) the differential is the Daleckii-Krein form
``V*(Ff(w) .* (V'*dS*V))*V'`` (:func:`daleckii_krein`; ``Ff``, ``Gf`` the divided-difference
matrix and its partials) and every back-end computes f(S) = V*diag(f(w))*V' from ``eigh``
(:mod:`matdiff.backends.lower`).
"""

from __future__ import annotations

from fractions import Fraction

from ..core import expr as E
from ..core.errors import DerivationError
from ..core.facts import NOTHING, Facts, facts
from ..core.shapes import dim_mul
from .base import Example, OpDef, Unsupported, rule, zero_sum

# name -> (scalar function, LaTeX of f, f' in words, sampling domain of the argument)
FUNCTIONS = {
    "expm": ("exp", r"\exp", "expm(A)", "any"),
    "logm": ("log", r"\log", "inv(A)", "positive-definite"),
    "sqrtm": ("sqrt", r"\sqrt", "inv(sqrtm(A))/2", "positive-definite"),
    "sinm": ("sin", r"\sin", "cosm(A)", "any"),
    "cosm": ("cos", r"\cos", "-sinm(A)", "any"),
}
_MEANING = {"expm": "the matrix exponential of a square {0}",
            "logm": "the principal matrix logarithm of {0} (no eigenvalues on the closed negative axis)",
            "sqrtm": "the principal matrix square root of {0} (no eigenvalues on the closed negative axis)",
            "sinm": "the matrix sine of a square {0}", "cosm": "the matrix cosine of a square {0}"}
RANK = 5  # with inv and mpow: a matrix function of one square argument


def _scalar_derivative(f: str, a: E.Expr) -> E.Expr:
    """f'(a) for a 1x1 a, with the elementwise functions."""
    if f == "expm":
        return E.fn("exp", a)
    if f == "logm":
        return E.power(a, E.const(-1))
    if f == "sqrtm":
        return E.mul(E.const(Fraction(1, 2)), E.power(E.fn("sqrt", a), E.const(-1)))
    if f == "sinm":
        return E.fn("cos", a)
    return E.neg(E.fn("sin", a))


def derivative_function(f: str, A: E.Expr) -> E.Expr:
    """f'(A): the scalar derivative of f applied as a matrix function (Df(A, I) = f'(A))."""
    if A.is_scalar:
        return _scalar_derivative(f, A)
    if f == "expm":
        return matfun("expm", A)
    if f == "logm":
        return E.inv(A)
    if f == "sqrtm":
        return E.mul(E.const(Fraction(1, 2)), E.inv(matfun("sqrtm", A)))
    if f == "sinm":
        return matfun("cosm", A)
    return E.neg(matfun("sinm", A))


# ---------------------------------------------------------------------------- constructors


def matfun(f: str, A: E.Expr) -> E.Expr:
    """f(A) for a square A; a 1x1 A is the scalar function (expm(a) = exp(a)); f(A') = f(A)'
    (a primary matrix function commutes with the transpose); f(0) folded where exact."""
    if A.is_scalar:
        return E.fn(FUNCTIONS[f][0], A)
    if A.op == "transpose":
        return E.transpose(matfun(f, A.args[0]))
    if A.op == "zero" and f in ("expm", "cosm"):
        return E.eye(A.rows)
    if A.op == "zero" and f in ("sinm", "sqrtm"):
        return A
    if A.op == "eye" and f == "logm":
        return E.zero(A.shape)
    if A.op == "eye" and f == "sqrtm":
        return A
    return E.Expr(f, (A,), A.shape)


def frechet(f: str, A: E.Expr, M: E.Expr) -> E.Expr:
    """Df(A, M), the Fréchet derivative of f at A in the direction M (M has A's shape)."""
    if A.is_scalar:
        return E.mul(_scalar_derivative(f, A), M)
    if E.is_zero(M):
        return E.zero(A.shape)
    c, rest = E.split_coeff(M)
    if rest.op == "eye":  # Df(A, c*I) = c*f'(A): I commutes with A
        return E.mul(E.const(c), derivative_function(f, A))
    if rest is A:  # Df(A, c*A) = c*f'(A)*A
        return E.mul(E.const(c), derivative_function(f, A), A)
    if c != 1:  # Df(A, c*M) = c*Df(A, M)
        return E.mul(E.const(c), frechet(f, A, rest))
    return E.Expr("D" + f, (A, M), A.shape)


def _scalar_second(f: str, a: E.Expr) -> E.Expr:
    """f''(a) for a 1x1 a, with the elementwise functions."""
    if f == "expm":
        return E.fn("exp", a)
    if f == "logm":
        return E.neg(E.power(a, E.const(-2)))
    if f == "sqrtm":
        return E.mul(E.const(Fraction(-1, 4)), E.power(E.fn("sqrt", a), E.const(-3)))
    if f == "sinm":
        return E.neg(E.fn("sin", a))
    return E.neg(E.fn("cos", a))


def second(f: str, A: E.Expr, M: E.Expr, N: E.Expr) -> E.Expr:
    """D2f(A, M, N), the second Fréchet derivative of f at A in the directions M and N
    (symmetric in M and N: their order is canonical)."""
    if A.is_scalar:
        return E.mul(_scalar_second(f, A), M, N)
    if E.is_zero(M) or E.is_zero(N):
        return E.zero(A.shape)
    c1, M = E.split_coeff(M)
    c2, N = E.split_coeff(N)
    if c1 * c2 != 1:  # bilinear
        return E.mul(E.const(c1 * c2), second(f, A, M, N))
    if N.key < M.key:
        M, N = N, M
    return E.Expr("D2" + f, (A, M, N), A.shape)


def kronecker_form2(f: str, A: E.Expr, M: E.Expr) -> E.Expr:
    """J2f(A, M), n^2 x n^2, with vec(D2f(A, M, N)) = J2f(A, M)*vec(N)."""
    if A.is_scalar:
        return E.mul(_scalar_second(f, A), M)
    n2 = dim_mul(A.rows, A.cols)
    return E.Expr("J2" + f, (A, M), (n2, n2))


def kronecker_form(f: str, A: E.Expr) -> E.Expr:
    """Jf(A), n^2 x n^2, with vec(Df(A, M)) = Jf(A)*vec(M)."""
    if A.is_scalar:
        return _scalar_derivative(f, A)
    n2 = dim_mul(A.rows, A.cols)
    return E.Expr("J" + f, (A,), (n2, n2))


# ---------------------------------------------------------------------------- rules


def _no_second_derivative(f: str, what: str, order: str = "third"):
    raise DerivationError(
        f"the {order} Fréchet derivative of {f} is not supported: {what} depends on the variable "
        f"through the matrix argument A, so this derivative would need it; gradients, Jacobians, "
        f"Hessians and HVPs of scalar functions of {f} are supported")


def divdiff(f: str, w: E.Expr) -> E.Expr:
    """Ff(w): the divided-difference (Loewner) matrix of f at the column w,
    F_ij = (f(w_i) - f(w_j))/(w_i - w_j), f'(w_i) where w_i = w_j."""
    if w.is_scalar:
        return _scalar_derivative(f, w)
    return E.Expr("F" + f, (w,), (w.rows, w.rows))


def divdiff_partial(f: str, w: E.Expr) -> E.Expr:
    """Gf(w): the partial derivatives G_ij = dF_ij/dw_i of Ff(w) (f''(w_i)/2 on the diagonal),
    so that d Ff(w) = Gf(w) .* (dw*ones') + Gf(w)' .* (ones*dw')."""
    return E.Expr("G" + f, (w,), (w.rows, w.rows))


def daleckii_krein(f: str, S: E.Expr, M: E.Expr) -> E.Expr:
    """Df(S, M) for a symmetric S in the eigenvalue form V*(Ff(w) .* (V'*M*V))*V' (w, V the
    eigenvalues and orthonormal eigenvectors of S); it holds for every direction M."""
    from .eigen import eigvals, eigvecs

    V = eigvecs(S)
    return E.mul(V, E.had(divdiff(f, eigvals(S)), E.mul(E.transpose(V), M, V)), E.transpose(V))


def _fun_jvp(f: str):
    @rule(f"d.{f}", f"d {f}(A) = D{f}(A, dA) (the Fréchet derivative; A and dA need not commute); "
          f"for a symmetric S, d {f}(S) = V*(F{f}(w) .* (V'*dS*V))*V', w = eigvals(S), V = eigvecs(S)",
          rf"\mathrm{{d}}\,{FUNCTIONS[f][1]}(A) = L_{{{FUNCTIONS[f][1]}}}(A, \mathrm{{d}}A);\ "
          r"\mathrm{d}f(S) = V\left(F \circ (V^T\mathrm{d}S\,V)\right)V^T",
          "Higham, Functions of Matrices (2008), sec. 3.1 and Thm 3.11 (Daleckii-Krein)")
    def jvp(n, d):
        if d(0) is None:
            return None
        A = n.args[0]
        if facts(A).symmetric:
            return daleckii_krein(f, A, d(0))
        return frechet(f, A, d(0))
    return jvp


def _divdiff_jvp(f: str):
    @rule(f"d.F{f}", f"d F{f}(w) = G{f}(w) .* (dw*ones') + G{f}(w)' .* (ones*dw')",
          r"\mathrm{d}F_{ij} = \frac{\partial F_{ij}}{\partial w_i}\mathrm{d}w_i + \frac{\partial F_{ij}}{\partial w_j}\mathrm{d}w_j",
          "calculus (F symmetric: dF_ij/dw_j = G_ji)")
    def jvp(n, d):
        dw = d(0)
        if dw is None:
            return None
        G = divdiff_partial(f, n.args[0])
        one = E.ones((n.rows, 1))
        return E.add(E.had(G, E.mul(dw, E.transpose(one))), E.had(E.transpose(G), E.mul(one, E.transpose(dw))))
    return jvp


def _divdiff_partial_jvp(f: str):
    @rule(f"d.G{f}", f"d G{f}(w) = (third divided differences of f) .* dw (not generated: a third derivative)",
          r"\mathrm{d}G_{ij} = f[w_i, w_i, w_i, w_j]\,\mathrm{d}w_i + f[w_i, w_i, w_j, w_j]\,\mathrm{d}w_j",
          "calculus of divided differences; not implemented")
    def jvp(n, d):
        if d(0) is not None:
            raise DerivationError(f"the derivative of G{f}(w) (a third derivative of the matrix function {f} of "
                                  "a symmetric matrix) is not supported; gradients, Jacobians, Hessians and HVPs "
                                  "of scalar functions of it are")
        return None
    return jvp


def _frechet_jvp(f: str):
    @rule(f"d.D{f}", f"d D{f}(A, M) = D2{f}(A, M, dA) + D{f}(A, dM)",
          rf"\mathrm{{d}}L_{{{FUNCTIONS[f][1]}}}(A, M) = L^{{(2)}}_{{{FUNCTIONS[f][1]}}}(A, M, \mathrm{{d}}A)"
          rf" + L_{{{FUNCTIONS[f][1]}}}(A, \mathrm{{d}}M)",
          "Higham & Relton, SIAM J. Matrix Anal. Appl. 35(3) (2014), sec. 2")
    def jvp(n, d):
        A, M = n.args
        return zero_sum([None if d(0) is None else second(f, A, M, d(0)),
                         None if d(1) is None else frechet(f, A, d(1))])
    return jvp


def _second_jvp(f: str):
    @rule(f"d.D2{f}", f"d D2{f}(A, M, N) = D2{f}(A, dM, N) + D2{f}(A, M, dN) (by A: not supported)",
          r"\mathrm{d}L^{(2)}(A, M, N) = L^{(2)}(A, \mathrm{d}M, N) + L^{(2)}(A, M, \mathrm{d}N)",
          "bilinearity of the second Fréchet derivative")
    def jvp(n, d):
        A, M, N = n.args
        if d(0) is not None:
            _no_second_derivative(f, f"D2{f}(A, M, N)")
        return zero_sum([None if d(1) is None else second(f, A, d(1), N),
                         None if d(2) is None else second(f, A, M, d(2))])
    return jvp


def _second_transpose(f: str):
    @rule(f"T.D2{f}", f"<C, D2{f}(A, M, N)> = <D2{f}(A', N', C), M> = <D2{f}(A', M', C), N>",
          r"\langle C, L^{(2)}(A, M, N)\rangle = \langle L^{(2)}(A^T, M^T, C), N\rangle",
          "the power series, word by word (f with real coefficients); symmetry in M, N")
    def transpose(n, C, i):
        A, M, N = n.args
        if i == 0:
            _no_second_derivative(f, f"D2{f}(A, M, N)")
        return second(f, E.transpose(A), E.transpose(N if i == 1 else M), C)
    return transpose


def _second_vec(f: str):
    @rule(f"vec.D2{f}", f"vec(D2{f}(A, M, N)) = J2{f}(A, M)*vec(N) = J2{f}(A, N)*vec(M)",
          r"\operatorname{vec}L^{(2)}(A, M, N) = K^{(2)}(A, M)\operatorname{vec}N",
          "definition of J2" + f)
    def vec(n, i, J):
        A, M, N = n.args
        if i == 0:
            _no_second_derivative(f, f"D2{f}(A, M, N)")
        return E.mul(kronecker_form2(f, A, N if i == 1 else M), J)
    return vec


def _kron2_jvp(f: str):
    @rule(f"d.J2{f}", f"d J2{f}(A, M) = J2{f}(A, dM) + (a third derivative by A) (not generated)",
          r"\mathrm{d}J^{(2)}(A, M) = J^{(2)}(A, \mathrm{d}M) + \ldots", "linearity in M; not implemented")
    def jvp(n, d):
        if d(0) is not None or d(1) is not None:
            raise DerivationError(f"the derivative of J2{f}(A, M) is not supported (it appears only in "
                                  f"Hessians of scalar functions of {f}, which are not differentiated again)")
        return None
    return jvp


def _frechet_transpose(f: str):
    @rule(f"T.D{f}", f"<C, D{f}(A, M)> = <D{f}(A', C), M>",
          rf"\langle C, L_{{{FUNCTIONS[f][1]}}}(A, M)\rangle = \langle L_{{{FUNCTIONS[f][1]}}}(A^T, C), M\rangle",
          "Higham, Functions of Matrices (2008), sec. 3.6 (f with a real power series)")
    def transpose(n, C, i):
        if i != 1:
            _no_second_derivative(f, f"D{f}(A, M)", "second")
        return frechet(f, E.transpose(n.args[0]), C)
    return transpose


def _frechet_vec(f: str):
    @rule(f"vec.D{f}", f"vec(D{f}(A, M)) = J{f}(A)*vec(M)",
          rf"\operatorname{{vec}}L_{{{FUNCTIONS[f][1]}}}(A, M) = K_{{{FUNCTIONS[f][1]}}}(A)\operatorname{{vec}}M",
          "definition of J" + f + " (Higham, Functions of Matrices (2008), sec. 3.2)")
    def vec(n, i, J):
        if i != 1:
            _no_second_derivative(f, f"D{f}(A, M)", "second")
        return E.mul(kronecker_form(f, n.args[0]), J)
    return vec


def _kron_jvp(f: str):
    @rule(f"d.J{f}", f"d J{f}(A) = J2{f}(A, dA) (not generated: its adjoint has no closed form here)",
          rf"\mathrm{{d}}J_{{{FUNCTIONS[f][1]}}}(A) = J^{{(2)}}(A, \mathrm{{d}}A)", "vec(D2f(A, E, dA)) = J2f(A, dA)*vec(E); not implemented")
    def jvp(n, d):
        if d(0) is not None:
            _no_second_derivative(f, f"J{f}(A)", "second")
        return None
    return jvp


# ---------------------------------------------------------------------------- facts


def _fun_facts(f: str):
    def facts(n, fs):
        (a,) = fs
        sym = a.symmetric
        if f == "expm":  # expm(S) = V*diag(exp(l))*V' is pd; expm(A) is never singular
            return Facts(symmetric=sym, pd=sym, psd=sym, nonsingular=True, diagonal=a.diagonal,
                         lower=a.lower, upper=a.upper)
        if f == "sqrtm":  # the principal square root of a pd matrix is pd
            return Facts(symmetric=sym, pd=a.pd, psd=a.pd, nonsingular=a.pd, diagonal=a.diagonal,
                         lower=a.lower, upper=a.upper)
        return Facts(symmetric=sym, diagonal=a.diagonal, lower=a.lower, upper=a.upper)
    return facts


def _frechet_facts(n, fs):
    # Df(S, M) with S and M symmetric is symmetric (its adjoint rule at S' = S)
    a, m = fs
    return Facts(symmetric=a.symmetric and m.symmetric)


def _second_facts(n, fs):
    # D2f(S, M, N) with S, M, N symmetric is symmetric (its adjoint rule at S' = S)
    a, m, k = fs
    return Facts(symmetric=a.symmetric and m.symmetric and k.symmetric)


def _kron_facts(n, fs):
    return NOTHING


# ---------------------------------------------------------------------------- lowering

_NP = {f: f'_matfun("{f}", {{0}})' for f in FUNCTIONS}
_NP_D = {f: f'_matfun("{f}", {{0}}, {{1}})' for f in FUNCTIONS}
_NP_J = {f: f'_matfun("{f}", {{0}}, jacobian=True)' for f in FUNCTIONS}
_NP_D2 = {f: f'_matfun("{f}", {{0}}, {{1}}, {{2}})' for f in FUNCTIONS}
_NP_J2 = {f: f'_matfun("{f}", {{0}}, {{1}}, jacobian=True)' for f in FUNCTIONS}


def _unsupported(f: str, backend: str) -> Unsupported:
    return Unsupported(f"{backend} has no {f} of a general matrix: use the NumPy back-end (of a symmetric "
                       f"argument, declared with --symmetric or shown by its facts, {f} is computed from eigh)")


def _lower(f: str, kind: str) -> dict:
    numpy = {"": _NP, "D": _NP_D, "J": _NP_J, "D2": _NP_D2, "J2": _NP_J2}[kind][f]
    if kind in ("D2", "J2"):
        why = f"the second Fréchet derivative of {f} (a Hessian or HVP) is generated for NumPy only"
        return {"numpy": numpy, "jax": Unsupported(why), "torch": Unsupported(why)}
    if f != "expm":
        return {"numpy": numpy, "jax": _unsupported(f, "JAX"), "torch": _unsupported(f, "PyTorch")}
    jax = {"": "_expm({0})", "D": "_expm_frechet({0}, {1})", "J": "_expm_jacobian({0})"}[kind]
    torch = {"": "torch.linalg.matrix_exp({0})", "D": "_expm_frechet({0}, {1})",
             "J": "_expm_jacobian({0})"}[kind]
    return {"numpy": numpy, "jax": jax, "torch": torch}


# ---------------------------------------------------------------------------- declarations

SQUARE = {"A": "n,n", "X": "n,n", "B": "n,n"}


def _examples(f: str) -> tuple:
    return (Example(f"tr(B*{f}(X))", shapes=SQUARE, square_only=True),
            Example(f"sum({f}(X'*X + A))", shapes=SQUARE, square_only=True),
            # a symmetric argument: the eigenvalue (Daleckii-Krein) form and eigh lowering
            Example(f"tr(B*{f}(X'*X + A*A'))", shapes=SQUARE, square_only=True))


def _frechet_examples(f: str) -> tuple:
    return (Example(f"tr(B*D{f}(A, X))", shapes=SQUARE, square_only=True),
            Example(f"sum(D{f}(A, X*B) .* B)", shapes=SQUARE, square_only=True))


def _second_examples(f: str) -> tuple:
    return (Example(f"tr(B*D2{f}(A, X, C))", shapes={**SQUARE, "C": "n,n"}, square_only=True),
            Example(f"sum(D2{f}(A, C, X*B) .* B)", shapes={**SQUARE, "C": "n,n"}, square_only=True))


def _kron2_examples(f: str) -> tuple:
    return (Example(f"sum(J2{f}(A, C) .* kron(X, B))", shapes={**SQUARE, "C": "n,n"}, square_only=True),)


def _divdiff_examples(f: str) -> tuple:
    return (Example(f"sum(F{f}(x) .* A)", wrt="x", shapes={"x": "n", "A": "n,n"}),
            Example(f"y'*F{f}(x)*y", wrt="x", shapes={"x": "n", "y": "n"}))


def _divdiff_facts(n, fs):
    return Facts(symmetric=True)


def _lower_divdiff(f: str, order: int) -> dict:
    t = f'_divdiff("{f}", {{0}}, {order})'
    return {"numpy": t, "jax": t, "torch": t}


def _kron_examples(f: str) -> tuple:
    return (Example(f"sum(J{f}(A) .* kron(X, B))", shapes=SQUARE, square_only=True),)


def _declare(f: str) -> list:
    scal, _, _, sample = FUNCTIONS[f]
    return [
        OpDef(f, rank=RANK, jvp=_fun_jvp(f), build=lambda a, f=f: matfun(f, a),
              kind="matrix", language=(f,), arity=1, shape="square_same", text=f + "({0})",
              latex="\\operatorname{{" + f + "}}\\left({0}\\right)",
              sample=sample, facts=_fun_facts(f), examples=_examples(f), lower=_lower(f, ""),
              aliases=("matrix_" + scal, "mat" + scal) if f != "expm" else ("matrix_exp", "matexp"),
              meaning=_MEANING[f]),
        OpDef("D" + f, rank=RANK, jvp=_frechet_jvp(f), build=lambda a, m, f=f: frechet(f, a, m),
              transpose=_frechet_transpose(f), vec=_frechet_vec(f), kind="structure",
              language=("D" + f,), arity=2, shape="frechet", text="D" + f + "({0}, {1})",
              latex="\\mathrm{{D}}\\operatorname{{" + f + "}}\\left({0}\\right)\\left[{1}\\right]",
              sample=(sample, "any"), facts=_frechet_facts, examples=_frechet_examples(f),
              lower=_lower(f, "D"), linear_in=(1,), params=("A", "E"),
              meaning=f"the Fréchet derivative of {f} at {{0}} in the direction {{1}}"),
        OpDef("J" + f, rank=RANK, jvp=_kron_jvp(f), build=lambda a, f=f: kronecker_form(f, a),
              kind="structure", language=("J" + f,), arity=1, shape="square_kron", text="J" + f + "({0})",
              latex="\\mathrm{{J}}_{{\\operatorname{{" + f + "}}}}\\left({0}\\right)", sample=sample, facts=_kron_facts,
              examples=_kron_examples(f), lower=_lower(f, "J"),
              meaning=f"the Kronecker form of D{f}: vec(D{f}({{0}}, E)) = J{f}({{0}})*vec(E)"),
        OpDef("D2" + f, rank=RANK, jvp=_second_jvp(f), build=lambda a, m, n, f=f: second(f, a, m, n),
              transpose=_second_transpose(f), vec=_second_vec(f), kind="structure",
              language=("D2" + f,), arity=3, shape="frechet", text="D2" + f + "({0}, {1}, {2})",
              latex="\\mathrm{{D}}^2\\operatorname{{" + f + "}}\\left({0}\\right)\\left[{1}, {2}\\right]",
              sample=(sample, "any", "any"), facts=_second_facts, examples=_second_examples(f),
              lower=_lower(f, "D2"), linear_in=(1, 2), params=("A", "M", "N"),
              meaning=f"the second Fréchet derivative of {f} at {{0}} in the directions {{1}}, {{2}}"),
        OpDef("J2" + f, rank=RANK, jvp=_kron2_jvp(f), build=lambda a, m, f=f: kronecker_form2(f, a, m),
              kind="structure", language=("J2" + f,), arity=2, shape="square_kron",
              text="J2" + f + "({0}, {1})",
              latex="\\mathrm{{J}}^2_{{\\operatorname{{" + f + "}}}}\\left({0}, {1}\\right)",
              sample=(sample, "any"), facts=_kron_facts, examples=_kron2_examples(f),
              lower=_lower(f, "J2"), params=("A", "M"),
              meaning=f"the Kronecker form of N -> D2{f}({{0}}, {{1}}, N)"),
        OpDef("F" + f, rank=RANK, jvp=_divdiff_jvp(f), build=lambda w, f=f: divdiff(f, w), kind="structure",
              language=("F" + f,), arity=1, shape="square_of_colvec", text="F" + f + "({0})",
              latex="F_{{" + scal + "}}\\left({0}\\right)", sample="positive" if sample != "any" else "any",
              facts=_divdiff_facts, examples=_divdiff_examples(f), lower=_lower_divdiff(f, 0), params=("w",),
              meaning=f"the divided differences ({scal}(w_i) - {scal}(w_j))/(w_i - w_j) of {{0}} "
                      f"({f} of a symmetric matrix)"),
        OpDef("G" + f, rank=RANK, jvp=_divdiff_partial_jvp(f), build=lambda w, f=f: divdiff_partial(f, w),
              kind="structure", language=("G" + f,), arity=1, shape="square_of_colvec", text="G" + f + "({0})",
              latex="G_{{" + scal + "}}\\left({0}\\right)", sample="positive" if sample != "any" else "any",
              facts=_kron_facts, examples=(Example(f"sum(G{f}(x) .* A)", wrt="A", shapes={"x": "n", "A": "n,n"}),),
              lower=_lower_divdiff(f, 1), params=("w",),
              meaning=f"the partial derivatives dF_ij/dw_i of F{f}({{0}})"),
    ]


MATFUN = [od for f in FUNCTIONS for od in _declare(f)]
