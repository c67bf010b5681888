"""Several outputs of one computation: ``proj``, output number ``i`` of a tuple-valued node.

A tuple-valued node (:func:`matdiff.core.multi.multi`, e.g. an eigendecomposition) is used
only through its projections; its own declaration (a future ``eigh``) gives the facts of each
output, and ``proj`` picks one. No language name reads ``proj`` yet: the registry tests
exercise it through a test-only tuple-valued op.
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
        return dt[n.attr]
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
