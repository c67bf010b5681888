"""Operation declarations: one OpDef per op (see registry.py)."""

# Load the expression core first: it loads the registry at its end, so whichever module of
# this package is imported first, every family is declared before any is used.
from ..core import expr as _expr  # noqa: F401
