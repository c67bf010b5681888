"""JSON of a derivation (every result as text and LaTeX) and of an error (its structured
fields), shared by the API (:meth:`~matdiff.api.Derivation.to_dict`) and the command line."""

from __future__ import annotations

import json

from ..core import expr as E
from .latex import to_latex
from .text import to_text


def _both(e) -> dict:
    return {"text": to_text(e), "latex": to_latex(e)}


def derivation_dict(d, second_order: bool = False) -> dict:
    """A JSON-ready description: input, shapes, differential, gradients (text and LaTeX);
    with ``second_order`` also d2f, the Hessian-vector products and the Hessian."""
    out = {
        "input": d.text,
        "expression": _both(d.expr),
        "shapes": {n: list(s) for n, s in d.shapes.items()},
        "inferred": dict(d.inferred),
        "notes": list(d.notes),
        "symmetric": sorted(d.symmetric),
        "wrt": list(d.wrt),
        "differential": _both(d.differential),
    }
    if d.expr.is_scalar:
        out["gradient"] = {n: {**_both(g), "zero": E.is_zero(g)} for n, g in d.gradients.items()}
    else:
        out["jacobian"] = {n: {**_both(J), "zero": E.is_zero(J)} for n, J in d.jacobians.items()}
    if second_order:
        out["second_differential"] = _both(d.second_differential)
        if len(d.wrt) == 1:
            out["hvp"] = {"variable": d.hvp_variable, **_both(d.hvp)}
            out["hessian"] = _both(d.hessian)
        else:
            out["hvp"] = {b: {"variables": d.hvp_variables, **_both(e)} for b, e in d.hvps.items()}
            out["hessian"] = {f"{a},{b}": _both(e) for (a, b), e in d.hessians.items()}
    return out


def named_dict(d, second_order: bool = False) -> dict:
    """The results with named intermediates: ``{"results": {text: named text}, "definitions":
    [{"name", "text", "latex"}]}`` (see :mod:`matdiff.render.names`)."""
    from .names import definition_exprs, result_names, to_latex_named, to_text_named

    nm, shown, display = result_names(d, second_order)
    defs = definition_exprs(shown, nm)
    return {
        "results": {to_text(e): to_text_named(f, nm)[0] for e, f in display.items()},
        "definitions": [{"name": n, "text": to_text_named(v, {k: m for k, m in nm.items() if k is not v})[0],
                         "latex": to_latex_named(v, nm, own=v)} for n, v in defs],
    }


def render_derivation(d, second_order: bool = False, names: bool = True) -> str:
    """The command line's ``--format json`` (``names``: with the named forms, ``"named"``)."""
    out = derivation_dict(d, second_order)
    if names:
        out["named"] = named_dict(d, second_order)
    return json.dumps(out, indent=2)


def error_dict(err) -> dict:
    """``{"error": {kind, message, pos, end, suggestion, text}}`` of a :class:`MatdiffError`
    (``text`` is ``str(err)``, the message with its caret lines)."""
    return {"error": {"kind": err.kind, "message": err.message, "pos": err.pos, "end": err.end,
                      "suggestion": err.suggestion, "text": str(err)}}
