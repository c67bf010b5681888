"""The sign analysis code generation reads (syrk for weighted Gram matrices needs v >= 0).

Kept apart so the facts layer can replace it with one changed import in :mod:`.lower`."""

from __future__ import annotations

from ..core import expr as E
from ..core.expr import Expr


def is_nonnegative(e: Expr) -> bool:
    """True when every entry of e is >= 0 for all inputs (a conservative sign analysis)."""
    op = e.op
    if op == "const":
        return e.attr >= 0
    if op in ("ones", "eye", "zero"):
        return True
    if op == "fn":
        return e.attr in ("exp", "sqrt", "abs", "sigmoid", "relu", "step")
    if op == "hpow" or op == "pow":
        b, p = e.args
        if p.op == "const" and p.attr.denominator == 1 and p.attr.numerator % 2 == 0:
            return True  # even integer power
        return is_nonnegative(b)
    if op in ("had", "kron", "bcast", "diagm", "vec", "transpose"):
        return all(is_nonnegative(a) for a in e.args)
    if op == "mul" and e.is_scalar and all(a.is_scalar for a in e.args):
        return all(is_nonnegative(a) for a in e.args)
    if op == "add":
        if all(is_nonnegative(a) for a in e.args):
            return True
        # 1 - f with f in [0, 1]: 1 - sigmoid(u), 1 - tanh(u).^2, 1 - step(u)
        if len(e.args) == 2:
            one, t = e.args
            if not (one.op == "ones" or (one.op == "const" and one.attr == 1)):
                one, t = t, one
            if one.op == "ones" or (one.op == "const" and one.attr == 1):
                c, f = E.split_coeff(t)
                return c == -1 and _unit_interval(f)
    return False


def _unit_interval(f: Expr) -> bool:
    """Entries in [0, 1] for all inputs."""
    if f.op == "fn" and f.attr in ("sigmoid", "step"):
        return True
    if f.op == "hpow" and f.args[1].op == "const" and f.args[1].attr > 0:
        b = f.args[0]
        return b.op == "fn" and b.attr in ("tanh", "sin", "cos", "sigmoid")
    return False
