"""Language names that are spellings of expressions built from declared ops (issue 10).

``solve(A, B)`` *is* ``inv(A)*B``: the parser builds the same expression, so both inputs are
one expression (differentiated, simplified and compared as one), and the code generator
lowers ``inv(A)*B`` to a linear solve (it forms no inverse). Likewise ``adj(A)`` is
``det(A)*inv(A)``, ``sym(A)`` is ``(A + A')/2``, ``norm1(x)`` is ``sum(abs(x))``,
``logsumexp(x)`` is ``log(sum(exp(x)))`` and ``softmax(x)`` is ``exp(x)/sum(exp(x))`` (the
code generator evaluates the last two with a max-shift). Their derivatives, facts,
sampling domains, printing and lowering are those of the ops they are built from, so a
name here needs only its parse shape rule (:data:`matdiff.lang.parsing.SHAPE_RULES`), its
builder, its kind (for unknown-name suggestions) and examples.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from ..core import expr as E
from ..core import facts as F
from ..core.facts import Facts, require
from ..core.record import field, record
from . import eigen as _eig
from . import factor as _fac


@record(eq=False)
class Macro:
    """A language function that builds an expression of declared ops.

    ``meaning`` is what it computes, in one line (often the expression it builds, in the input
    language; ``{0}``, ``{1}`` the arguments, named by ``params`` in ``matdiff functions``); ``examples`` are language texts with the
    variable to differentiate by and the shapes to declare, as in
    :class:`matdiff.ops.base.Example`."""

    name: str
    arity: int
    shape: str
    build: Callable
    meaning: str
    kind: str
    aliases: tuple = ()
    examples: tuple = field(default_factory=tuple)
    requires: tuple = ()
    params: tuple = ()  # the arguments' names in `matdiff functions` (default A, B)
    section: str = ""  # its section there ("eigen"; default: by kind)

    @property
    def op(self) -> str:
        return self.name


def _solve(A, B):
    return E.mul(E.inv(A), B)


def _adj(A):
    return E.mul(E.det(A), E.inv(A))


def _sym(A):
    return E.mul(E.const(Fraction(1, 2)), E.add(A, E.transpose(A)))


def _norm1(x):
    return E.sum_(E.fn("abs", x))


def _logsumexp(x):
    return E.fn("log", E.sum_(E.fn("exp", x)))


def _softmax(x):
    ex = E.fn("exp", x)
    return E.div(ex, E.sum_(ex))


def _eigmax(A):
    """The largest eigenvalue: of a symmetric A, the last of eigvals(A); else the eigenvalue of
    largest real part of the general A (real and simple, or generated code raises)."""
    if F.facts(A).symmetric:  # one output of eigtop: d eigmax(S) = v'*dS*v, v = eigvecmax(S)
        return _eig.M.proj(_eig.eigtop(A), 0)
    return _eig.M.proj(_eig.eigr(A), 0)


def _eig_requires(name):
    return (require(0, Facts(symmetric=True), message=f"{name}() needs a symmetric matrix ({_eig.SYMMETRIC_ONLY})"),)


MACROS = [
    Macro("solve", 2, "solve", _solve,
          "inv({0})*{1}, the same expression (generated code solves, never inverts)", "matrix",
          aliases=("mldivide", "linsolve", "linear_solve")),
    Macro("adj", 1, "square_same", _adj, "the adjugate det({0})*inv({0})", "matrix", aliases=("adjugate", "adjoint_matrix")),
    Macro("sym", 1, "square_same", _sym, "the symmetric part ({0} + {0}')/2", "matrix", aliases=("symmetric_part", "sympart")),
    Macro("norm1", 1, "scalar", _norm1, "sum(abs({0})), the entrywise 1-norm", "reduction", aliases=("norm_1", "l1", "l1norm")),
    Macro("logsumexp", 1, "scalar", _logsumexp, "log(sum(exp({0}))), max-shifted in generated code",
          "reduction", aliases=("lse",)),
    Macro("softmax", 1, "colvec_same", _softmax,
          "exp({0})/sum(exp({0})) of a vector {0}, max-shifted in generated code", "reduction", params=("x",)),
    # outputs of one symmetric eigendecomposition (ops/eigen.py): eigmax is the last eigenvalue
    Macro("eigvals", 1, "colvec_of_square", _eig.eigvals, "the eigenvalues of {0}, ascending", "matrix",
          aliases=("eigvalsh", "eigenvalues", "eig"), requires=_eig_requires("eigvals"), params=("S",),
          section="eigen"),
    Macro("eigvecs", 1, "square_same", _eig.eigvecs, "the orthonormal eigenvectors of {0} (columns)", "matrix",
          aliases=("eigh", "eigenvectors"), requires=_eig_requires("eigvecs"), params=("S",), section="eigen"),
    Macro("eigmax", 1, "scalar_of_square", _eigmax,
          "the largest eigenvalue of a symmetric {0} (of a general one: its real, simple eigenvalue "
          "of largest real part)",
          "matrix", aliases=("lambda_max", "eigmaxh"), params=("S",), section="eigen"),
    Macro("eigvecmax", 1, "colvec_of_square", lambda S: _eig.M.proj(_eig.eigtop(S), 1),
          "the unit eigenvector of the largest eigenvalue of the symmetric {0} (signed as eigvecs)", "matrix",
          requires=_eig_requires("eigvecmax"), params=("S",), section="eigen"),
    Macro("eigvecl", 1, "colvec_of_square", lambda A: _eig.M.proj(_eig.eigr(A), 1),
          "the left eigenvector u of eigmax({0}) (non-symmetric {0}; u'*eigvecr({0}) = 1)", "matrix",
          section="eigen"),
    Macro("eigvecr", 1, "colvec_of_square", lambda A: _eig.M.proj(_eig.eigr(A), 2),
          "the unit right eigenvector v of eigmax({0}) (non-symmetric {0})", "matrix", section="eigen"),
    Macro("eigmin", 1, "scalar_of_square", lambda S: _eig.M.proj(_eig.eigbot(S), 0),
          "the smallest eigenvalue of a symmetric {0}", "matrix",
          aliases=("lambda_min", "eigminh"), requires=_eig_requires("eigmin"), params=("S",), section="eigen"),
    Macro("eigvecmin", 1, "colvec_of_square", lambda S: _eig.M.proj(_eig.eigbot(S), 1),
          "the unit eigenvector of the smallest eigenvalue of the symmetric {0} (signed as eigvecs)", "matrix",
          requires=_eig_requires("eigvecmin"), params=("S",), section="eigen"),
    # outputs of one factorization (ops/factor.py): unpivoted LU, thin QR with R's diagonal positive
    Macro("luL", 1, "square_same", lambda A: _eig.M.proj(_fac.lu(A), 0),
          "the unit lower triangular L of the unpivoted LU factorization {0} = L*U", "matrix", aliases=("lu",),
          section="eigen"),
    Macro("luU", 1, "square_same", lambda A: _eig.M.proj(_fac.lu(A), 1),
          "the upper triangular U of the unpivoted LU factorization {0} = L*U", "matrix", section="eigen"),
    Macro("qrQ", 1, "same", lambda A: _eig.M.proj(_fac.qr(A), 0),
          "the orthonormal columns Q of the thin QR factorization {0} = Q*R (R's diagonal positive)", "matrix",
          aliases=("qr",), section="eigen"),
    # the lower triangle (diagonal included) from the masks of ops/factor.py: M minus its strict upper part
    Macro("tril", 1, "same", lambda M: E.add(M, E.neg(E.transpose(_fac.tril_strict(E.transpose(M))))),
          "{0} - tril_strict({0}')' (the lower triangle of {0}, diagonal included)", "matrix",
          section="eigen"),
    Macro("qrR", 1, "square_of_cols", lambda A: _eig.M.proj(_fac.qr(A), 1),
          "the upper triangular R (positive diagonal) of the thin QR factorization {0} = Q*R", "matrix",
          section="eigen"),
]
