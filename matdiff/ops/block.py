"""Block (partitioned) matrices: ``[A, B; C, D]``, stacking ``[x; y]``, literals ``[1, 2; 3, 4]``.

One n-ary op, ``block``, linear in each block. Its arguments are the blocks in row-major
order; ``attr`` is ``(row heights, column widths)`` of the partition, so the size of the
whole is a sum of sizes (``m + n``, see :func:`matdiff.core.shapes.dim_add`). Block
``(i, j)`` of a matrix M is ``E_i'*M*F_j`` with ``E_i``, ``F_j`` block columns of identities
(:func:`matdiff.core.expr.block_selector` builds ``E_i'``), which gives the transpose rule
(``<C, [.., B, ..]> = <E_i'*C*F_j, B>``) and the vec rule (``kron(F_j, E_i)``). The
constructor multiplies conformal blocks out (``[A, B]*[x; y] = A*x + B*y``), so selectors
applied to block matrices reduce to their blocks.
"""

from __future__ import annotations

from ..core import expr as E
from ..core.facts import Facts
from .base import Example, OpDef, rule


def _rc(node, i):
    return divmod(i, len(node.attr[1]))


def _row_pick(node, r):
    """E_r' (None when there is one block row: the identity)."""
    heights = node.attr[0]
    return E.block_selector(heights, r) if len(heights) > 1 else None


def _col_pick(node, c):
    """F_c (None when there is one block column)."""
    widths = node.attr[1]
    return E.transpose(E.block_selector(widths, c)) if len(widths) > 1 else None


@rule("d.block", "d [A, B; C, D] = [dA, dB; dC, dD]",
      r"\mathrm{d}\begin{bmatrix}A & B\\ C & D\end{bmatrix} = "
      r"\begin{bmatrix}\mathrm{d}A & \mathrm{d}B\\ \mathrm{d}C & \mathrm{d}D\end{bmatrix}",
      "calculus: linearity")
def _block_jvp(n, d):
    ds = [d(i) for i in range(len(n.args))]
    if all(x is None for x in ds):
        return None
    g = E.block_grid(n)
    nc = len(n.attr[1])
    return E.block([[ds[i * nc + j] if ds[i * nc + j] is not None else E.zero(b.shape)
                     for j, b in enumerate(row)] for i, row in enumerate(g)])


@rule("T.block", "<C, [.., B_ij, ..]> = <E_i'*C*F_j, B_ij> (E_i, F_j: block columns of I)",
      r"\langle C, [\,\cdots B_{ij} \cdots]\rangle = \langle E_i^T C F_j, B_{ij}\rangle", "partitioned matrices")
def _block_transpose(n, C, i):
    r, c = _rc(n, i)
    parts = [p for p in (_row_pick(n, r), C, _col_pick(n, c)) if p is not None]
    return E.mul(*parts)


@rule("vec.block", "vec([.., B_ij, ..]) = sum kron(F_j, E_i)*vec(B_ij)",
      r"\operatorname{vec}[\,\cdots B_{ij} \cdots] = \sum (F_j \otimes E_i)\operatorname{vec}B_{ij}",
      "partitioned matrices; Matrix Cookbook (520)")
def _block_vec(n, i, J):
    r, c = _rc(n, i)
    Ei = _row_pick(n, r)
    Ei = E.eye(n.rows) if Ei is None else E.transpose(Ei)
    Fj = _col_pick(n, c)
    Fj = E.eye(n.cols) if Fj is None else Fj
    return E.mul(E.kron(Fj, Ei), J)


def _block_facts(n, fs):
    # the entries are the blocks' entries
    return Facts(lo=min(f.lo for f in fs), hi=max(f.hi for f in fs))


def _rebuild(n, args):
    nc = len(n.attr[1])
    return E.block([list(args[i * nc:(i + 1) * nc]) for i in range(len(n.attr[0]))])


def _text(n, *args):
    nc = len(n.attr[1])
    return "[" + "; ".join(", ".join(args[i * nc:(i + 1) * nc]) for i in range(len(n.attr[0]))) + "]"


def _latex(n, *args):
    nc = len(n.attr[1])
    rows = (" & ".join(args[i * nc:(i + 1) * nc]) for i in range(len(n.attr[0])))
    return "\\begin{bmatrix}" + " \\\\ ".join(rows) + "\\end{bmatrix}"


BLOCK = [
    OpDef("block", rank=14, rebuild=_rebuild, jvp=_block_jvp, transpose=_block_transpose, vec=_block_vec,
          facts=_block_facts, text=_text, latex=_latex,
          examples=(Example("norm2([A; X]*x)^2", shapes={"A": "m,n", "X": "k,n", "x": "n"}),
                    Example("sum([X, A; A', B] .* [X, A; A', B])", shapes={"X": "n,n", "A": "n,m"},
                            square_only=True),
                    Example("[x; y]'*A*z", wrt="y", shapes={"x": "n", "y": "m", "A": "n+m,k", "z": "k"}))),
]
