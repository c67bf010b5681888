"""Several outputs of one computation: ``proj``, output number ``i`` of a tuple-valued node.

A tuple-valued node (:func:`matdiff.core.multi.multi`, e.g. an eigendecomposition) is used
only through its projections; its own declaration (a future ``eigh``) gives the facts of each
output, and ``proj`` picks one. No language name reads ``proj`` yet: the registry tests
exercise it through a test-only tuple-valued op.
"""

from __future__ import annotations

from ..core import multi as M  # read at call time: core.multi may still be loading
from .base import OpDef, rule


@rule("d.proj", "d proj_i(T) = proj_i(dT) (the differential of output i is output i of dT)",
      r"\mathrm{d}(T_i) = (\mathrm{d}T)_i", "definition")
def _proj_jvp(n, d):
    dt = d(0)
    return None if dt is None else M.proj(dt, n.attr)


def _proj_facts(n, fs):
    # the facts of one output of a tuple-valued node (its facts are a tuple, one per output)
    return fs[0][n.attr]


MULTI = [
    OpDef("proj", rank=20, jvp=_proj_jvp, rebuild=lambda n, a: M.proj(a[0], n.attr), facts=_proj_facts,
          text=lambda n, t: f"proj({t}, {n.attr})",
          latex=lambda n, t: f"\\left({t}\\right)_{{{n.attr + 1}}}"),
]
