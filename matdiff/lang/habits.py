"""Habits from other tools (NumPy, MATLAB, Python, LaTeX, typographic Unicode) recognised at a
syntax error, with the matdiff spelling as a hint (issue 15). Nothing here changes what an
input means: a hint is only added to the error the parser raises anyway.
"""

from __future__ import annotations

import re

# LaTeX commands -> the matdiff spelling
_LATEX = {
    "det": "det(X)", "tr": "tr(X)", "trace": "tr(X)", "operatorname": "the bare name: tr(X), diag(x)",
    "mathrm": "the bare name: tr(X), diag(x)", "text": "the bare name: tr(X)", "log": "log(x) or logdet(X)",
    "exp": "exp(x)", "sqrt": "sqrt(x)", "frac": "a/b", "cdot": "*", "times": "*", "circ": ".* (entrywise)",
    "odot": ".* (entrywise)", "otimes": "kron(A, B)", "top": "X'", "intercal": "X'", "left": "( )",
    "right": "( )", "mathbf": "the bare name X", "boldsymbol": "the bare name X", "sin": "sin(x)",
    "cos": "cos(x)", "tanh": "tanh(x)", "lambda": "lambda", "sigma": "sigma", "alpha": "alpha",
}
_UNICODE = {
    "\u1d40": "X' (the transpose is a quote)", "\u2019": "' (a plain quote: X')", "\u2032": "' (a plain quote: X')",
    "\u00a0": "a plain space (this is a non-breaking space)", "\u22a4": "X' (the transpose is a quote)",
    "\u00d7": "*", "\u22c5": "*", "\u00b7": "*", "\u2218": ".* (entrywise)", "\u2299": ".* (entrywise)",
    "\u2297": "kron(A, B)", "\u2212": "- (a plain minus)", "\u00b2": "^2", "\u207b": "^-1 (as in X^-1)",
    "\u03bb": "lambda", "\u03c3": "sigma", "\u03b1": "alpha", "\u03b2": "beta", "\u03bc": "mu",
    "\u201c": 'a plain quote "', "\u201d": 'a plain quote "', "\u2018": "' (a plain quote: X')",
}
_MODULES = ("np", "numpy", "jnp", "torch", "tf", "la", "linalg", "scipy", "sp", "math", "LA")
_NUMPY_NAMES = {"trace": "tr", "transpose": "X'", "matmul": "A*B", "dot": "A*B", "multiply": "A.*B",
                "slogdet": "logdet", "norm": "norm2", "eye": "eye(n)", "power": "X.^k", "T": "X'"}


def _language_names() -> set:
    from ..ops.registry import language_functions

    return set(language_functions())


def hint_at(text: str, pos: int) -> str:
    """A hint (``"; ..."``) for the character at ``pos`` where the parser stopped, or ``""``."""
    if pos >= len(text):
        return ""
    ch, before, after = text[pos], text[:pos], text[pos:]
    if ch == "\\":
        m = re.match(r"\\([A-Za-z]+)", after)
        cmd = m.group(1) if m else ""
        inner = re.match(r"\\[A-Za-z]+\{([A-Za-z]+)\}", after)
        if cmd in ("mathrm", "operatorname", "text", "mathbf", "boldsymbol", "mathit") and inner:
            word = inner.group(1)
            return f"; LaTeX is not read: \\{cmd}{{{word}}} is written {word}"
        if cmd in _LATEX:
            return f"; LaTeX is not read: \\{cmd} is written {_LATEX[cmd]} in matdiff"
        return "; LaTeX is not read: write functions by name (det(X), tr(X), inv(X)), X' for the transpose"
    if ch == "{" and before.rstrip().endswith(("^", "_")):
        m = re.match(r"\{\s*(-?\d+|T|\\top)\s*\}", after)
        if m and m.group(1) in ("T", "\\top"):
            return "; LaTeX is not read: the transpose is X'"
        if m:
            return f"; LaTeX is not read: X^{{{m.group(1)}}} is written X^{m.group(1)} (X^-1 = inv(X))"
        return "; LaTeX is not read: write an exponent in parentheses, X^(k)"
    if ch == "@":
        return "; the matrix product is *, as in A*B (elementwise: A.*B)"
    if ch == ".":
        if after.startswith(".'"):
            return "; the transpose is A' (MATLAB's .' and ' are the same for real matrices)"
        if re.match(r"\.T\b", after):
            return "; the transpose is X' (X.T is NumPy's spelling)"
        m = re.match(r"\.([A-Za-z_][\w.]*)", after)
        mod = re.search(r"([A-Za-z_]\w*)$", before)
        if m and mod:
            path = (mod.group(1) + "." + m.group(1)).split(".")
            if path[0] in _MODULES or len(path) > 2:
                name = path[-1]
                if name in _NUMPY_NAMES:
                    return f"; matdiff has no modules: {'.'.join(path)} is written {_NUMPY_NAMES[name]}"
                if name in _language_names():
                    return f"; matdiff has no modules: write {name}(...) without {'.'.join(path[:-1])}."
                return "; matdiff has no modules or methods: write functions by name, e.g. tr(X), inv(X)"
        return ""
    if ch in _UNICODE:
        return f"; write {_UNICODE[ch]}"
    if ch == "*" and before.endswith("*"):
        return "; powers are ^ (x^2, X^2 the matrix power) or .^ entry by entry (x.^2), not **"
    if ch == "`":
        return "; the transpose is a plain quote: X'"
    return ""
