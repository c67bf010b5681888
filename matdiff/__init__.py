"""matdiff: symbolic matrix-differential calculus.

    >>> import matdiff
    >>> d = matdiff.derive("x'*A*x", wrt="x", shapes={"x": "n", "A": "n,n"})
    >>> print(d.gradient)
    (A + A')*x

Pipeline (one module each): parse -> shapes -> differentiate -> gradient (transpose
pass) -> simplify -> printing / codegen. See README.md for the language.
"""

from .core.errors import DerivationError, MatdiffError, ParseError, ShapeError

__version__ = "0.1.0"
__all__ = ["derive", "parse", "from_sympy", "Derivation", "Expr", "MatdiffError", "ParseError", "ShapeError",
           "DerivationError", "__version__"]


def __getattr__(name):
    # keep `import matdiff` light: the engine loads on first use
    if name in ("derive", "Derivation"):
        from . import api

        return getattr(api, name)
    if name == "parse":
        from .core.errors import api_boundary
        from .lang.parsing import parse

        return api_boundary(parse)  # (the module is matdiff.parsing, so this name is never shadowed)
    if name == "from_sympy":
        from .core.errors import api_boundary
        from .interop.sympy import from_sympy

        return api_boundary(from_sympy)
    if name == "Expr":
        from .core.expr import Expr

        return Expr
    raise AttributeError(f"module 'matdiff' has no attribute {name!r}")
