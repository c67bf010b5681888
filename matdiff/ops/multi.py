"""Several outputs of one computation: ``proj``, output number ``i`` of a tuple-valued node.

A tuple-valued node (:func:`matdiff.core.multi.multi`, e.g. ``eigh(S)`` of
:mod:`matdiff.ops.eigen`) is used only through its projections; its own declaration gives
the facts of each output, and ``proj`` picks one. ``proj`` has no language name of its own:
:data:`OUTPUT_NAMES` gives the language names of a tuple-valued op's outputs (``eigvals``,
``eigvecs``), and proj prints through them. A tuple-valued op's JVP may return a Python tuple
of its outputs' differentials, each an ordinary expression (or None for zero, or a function
returning one or raising a clear error where it is not implemented): proj's JVP picks one,
so no differential is tuple-valued and the transpose pass needs nothing new.
"""

from __future__ import annotations

from ..core import multi as M  # read at call time: core.multi may still be loading
from .base import OpDef, rule

# the language names of the outputs of a tuple-valued op, by op ("eigh": eigvals, eigvecs):
# proj(eigh(S), 0) prints as eigvals(S), which parses back to it (filled by the declarations)
OUTPUT_NAMES: dict = {}


@rule("d.proj", "d proj_i(T) = proj_i(dT) (the differential of output i is output i of dT)",
      r"\mathrm{d}(T_i) = (\mathrm{d}T)_i", "definition")
def _proj_jvp(n, d):
    dt = d(0)
    if isinstance(dt, tuple):  # a JVP giving each output's differential (None: zero) as ordinary nodes
        part = dt[n.attr]
        return part() if callable(part) else part  # (a function: computed, or refused, when asked)
    return None if dt is None else M.proj(dt, n.attr)


def _proj_text(n, t):
    names = OUTPUT_NAMES.get(n.args[0].op)
    op = n.args[0].op + "("
    if names and t.startswith(op):
        return names[n.attr] + t[len(op) - 1:]
    return f"proj({t}, {n.attr})"


def _proj_latex(n, t):
    names = OUTPUT_NAMES.get(n.args[0].op)
    op = "\\operatorname{" + n.args[0].op + "}"
    if names and t.startswith(op):
        return "\\operatorname{" + names[n.attr] + "}" + t[len(op):]
    return f"\\left({t}\\right)_{{{n.attr + 1}}}"


def _proj_facts(n, fs):
    # the facts of one output of a tuple-valued node (its facts are a tuple, one per output)
    return fs[0][n.attr]


MULTI = [
    OpDef("proj", rank=20, jvp=_proj_jvp, rebuild=lambda n, a: M.proj(a[0], n.attr), facts=_proj_facts,
          text=_proj_text, latex=_proj_latex),
]
