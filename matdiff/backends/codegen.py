"""NumPy code generation, as older callers import it (``generate``, ``compile_source``,
``py_name(s)``, ``is_nonnegative``). The work is done by :mod:`.lower` (decisions),
:mod:`.chains` (chain order), :mod:`.emit` (naming, module assembly) and the back-end
printers :mod:`.numpy`, :mod:`.jax`, :mod:`.torch`."""

from __future__ import annotations

from .emit import compile_source, generate, py_name, py_names  # noqa: F401
from .signs import is_nonnegative  # noqa: F401
