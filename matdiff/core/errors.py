"""The errors matdiff raises for bad input. All derive from :class:`MatdiffError`.

Each carries a message meant for a person: where in the input, what was expected,
and what would have been right. ``str(err)`` is that message (several lines when it
shows the input with a caret).
"""

from __future__ import annotations

import contextvars
import difflib
import re
import threading

# Which interface the user is typing into: advice in messages is spelt for it
# ("--shape x=n" on the command line, "shapes={'x': 'n'}" in Python). The CLI sets "cli".
INTERFACE: contextvars.ContextVar[str] = contextvars.ContextVar("matdiff_interface", default="python")


def declare(name: str, spec: str) -> str:
    """How the user declares ``name`` with shape ``spec`` ('' scalar, 'n' vector, 'n,m')."""
    return spelled(f"--shape {name}={spec}", f"shapes={{{name!r}: {spec!r}}}")


def spelled(cli: str, python: str) -> str:
    """``cli`` on the command line, ``python`` in Python (advice spelt for the interface)."""
    return cli if INTERFACE.get() == "cli" else python


def option(flag: str, value: str) -> str:
    """How the user passes an option: ``--wrt X`` on the command line, ``wrt='X'`` in Python."""
    return spelled(f"--{flag} {value}", f"{flag}={value!r}")


def api_boundary(fn):
    """Wrap a public entry point: a :class:`MatdiffError` from inside matdiff is raised from
    here with its internal frames dropped, so a user's traceback is their own line and the
    message (``MATDIFF_DEBUG=1`` keeps the full traceback). Other exceptions (bugs) keep
    theirs."""
    import functools

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MatdiffError as e:
            import os

            if os.environ.get("MATDIFF_DEBUG"):
                raise
            raise e.with_traceback(None) from None

    call.__wrapped_api__ = True
    return call


def api_class(cls):
    """:func:`api_boundary` on every public method and property of ``cls`` (and __init__)."""
    for name, value in list(vars(cls).items()):
        if name.startswith("_") and name != "__init__":
            continue
        if isinstance(value, property):
            setattr(cls, name, property(api_boundary(value.fget), value.fset, value.fdel, value.__doc__))
        elif callable(value):
            setattr(cls, name, api_boundary(value))
    return cls


class MatdiffError(Exception):
    """Base class for every error caused by user input.

    Besides the message (``str(err)``, unchanged: where, what, expected, and the input with
    a caret under the place), each error carries structured fields for renderers:

    * ``kind``: ``"parse"``, ``"shape"``, ``"derivation"`` (``"error"`` for the base class)
    * ``message``: the message without the caret lines
    * ``pos``, ``end``: the 0-based span in the input (``None`` where no place applies)
    * ``suggestion``: the advice the message gives (``"did you mean 'x'?"``), or ``None``

    Raise sites that show a caret need not pass ``pos``/``end``: :func:`caret` records the
    span it marks and the error picks it up when its message ends with that caret; likewise
    the hint of :func:`suggest`/:func:`suggest_function` when the message contains it.
    """

    kind = "error"

    def __init__(self, message: str = "", *, pos: int | None = None, end: int | None = None,
                 suggestion: str | None = None):
        super().__init__(message)
        text = str(message)
        last = getattr(_LAST, "caret", None)
        if last is not None and text.endswith("\n" + last[0]):
            text = text[: -len(last[0]) - 1]
            if pos is None:
                pos, end = last[1], last[2]
        _LAST.caret = None
        hint = getattr(_LAST, "hint", None)
        if suggestion is None and hint and hint in text:
            suggestion = hint.strip().strip("();").strip()
        _LAST.hint = None
        self.message = text
        self.pos = pos
        self.end = end if end is not None or pos is None else pos + 1
        self.suggestion = suggestion or None

    def fields(self) -> dict:
        """``{kind, message, pos, end, suggestion}``."""
        return {"kind": self.kind, "message": self.message, "pos": self.pos, "end": self.end,
                "suggestion": self.suggestion}


class ParseError(MatdiffError):
    """The input is not a well-formed expression (or names an unknown function)."""

    kind = "parse"


class ShapeError(MatdiffError):
    """Shapes do not agree, or a shape declaration is malformed."""

    kind = "shape"


class DerivationError(MatdiffError):
    """The derivation cannot be done as asked (e.g. ``wrt`` names no variable)."""

    kind = "derivation"


# the span the latest caret() marked and the latest hint suggest*() gave, per thread
_LAST = threading.local()


class RequirementError(MatdiffError):
    """An operation needs a property of an argument that cannot be shown (e.g. symmetry)."""


def caret(text: str, pos: int | None, width: int = 1) -> str:
    """The line of ``text`` containing ``pos`` with a caret line under it."""
    if pos is None or not text:
        return ""
    pos = max(0, min(pos, len(text)))
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    end = len(text) if end == -1 else end
    line = text[start:end]
    col = pos - start
    # keep very long lines readable: show a window around the position
    if len(line) > 100:
        lo = max(0, col - 50)
        hi = min(len(line), lo + 100)
        prefix = "..." if lo > 0 else ""
        suffix = "..." if hi < len(line) else ""
        line = prefix + line[lo:hi] + suffix
        col = col - lo + len(prefix)
    pad = "".join("\t" if c == "\t" else " " for c in line[:col])  # tabs kept: the caret aligns
    out = f"  {line}\n  {pad}{'^' * max(1, width)}"
    _LAST.caret = (out, pos, pos + max(1, width))  # the error raised with it takes the span
    return out


def where(text: str, pos: int | None) -> str:
    """'line L, column C' for a 0-based offset."""
    if pos is None:
        return ""
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}" if "\n" in text else f"column {col}"


def suggest(name: str, candidates) -> str:
    """' (did you mean "x"?)' or ''."""
    close = difflib.get_close_matches(name, sorted(candidates), n=2, cutoff=0.6)
    if not close:
        return ""
    return _hint(" (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)")


def _hint(h: str) -> str:
    """Record ``h`` as the latest suggestion (an error whose message contains it takes it)."""
    _LAST.hint = h
    return h


# ---------------------------------------------------------------------------- unknown functions

# matdiff's functions by kind, filled by the op declarations (register_function): a suggestion
# never crosses kinds (exp for expm would compute an elementwise exponential where a matrix
# exponential was meant)
FUNCTION_KINDS: dict = {"elementwise": (), "matrix": (), "reduction": (), "structure": ()}
_KIND_OF: dict = {}
_SYNONYMS = {"tr": "trace", "trace": "tr"}

# other libraries' names for functions matdiff has, with the same meaning (from the
# declarations' ``aliases``)
FUNCTION_ALIASES: dict = {}
_ALIAS_NOTES = {"norm2": "the Euclidean norm of a vector, the Frobenius norm of a matrix",
                "logdet": "log|det(A)|"}

_TRIG = ("sin", "cos", "tan")
_ELEMENTWISE = "{elementwise}"  # hint texts name the functions of a kind when they are read
_MATRIX = "{matrix}, A^k"

# names from other libraries that matdiff does not have: (kind, what to write instead)
FUNCTION_HINTS = {
    "funm": ("matrix", "matrix functions other than " + _MATRIX + " are not supported"),
    "pinv": ("matrix", "the pseudo-inverse is not supported; inv(A) inverts a square A"),
    "matrix_power": ("matrix", "write A^k for an integer k"),
    "mpower": ("matrix", "write A^k for an integer k"),
    "matmul": ("matrix", "write A*B"),
    "norminf": ("reduction", "the max-norm is not supported (norm2 is the Euclidean/Frobenius norm)"),
    "nuclear": ("reduction", "the nuclear norm is not supported (norm2 is the Euclidean/Frobenius norm)"),
    "spectral": ("reduction", "the spectral norm is not supported (norm2 is the Euclidean/Frobenius norm)"),
    "maximum": ("reduction", "max(x) and min(x) are the largest and smallest entry; an elementwise maximum "
                             "is not supported (relu(x) is the elementwise max(x, 0))"),
    "argmax": ("reduction", "argmax and argmin are not supported (max(x) and min(x) are the largest "
                            "and smallest entry)"),
    "mean": ("reduction", "write sum(x)/n"),
    "prod": ("reduction", "the product of entries is not supported (exp(sum(log(x))) for x > 0)"),
    "softplus": ("elementwise", "write log(1 + exp(x)) (generated code evaluates it without overflow)"),
    "log2": ("elementwise", "write log(x)/log(2)"),
    "log10": ("elementwise", "write log(x)/log(10)"),
    "exp2": ("elementwise", "write exp(log(2)*x)"),
    "square": ("elementwise", "write x.^2"),
    "sinc": ("elementwise", "sinc is not supported (write sin(x)/x for a scalar x)"),
    "logit": ("elementwise", "write log(x ./ (1 - x))"),
    "logsigmoid": ("elementwise", "write log(sigmoid(x))"),
    "sumsq": ("reduction", "write sum(x.^2), or x'*x for a vector"),
    "cumsum": ("reduction", "cumulative sums are not supported"),
    "cumprod": ("reduction", "cumulative products are not supported"),
    "reciprocal": ("elementwise", "write 1 ./ x"),
    "power": ("elementwise", "write x^p (a scalar or matrix power) or x.^p (elementwise)"),
    "pow": ("elementwise", "write x^p (a scalar or matrix power) or x.^p (elementwise)"),
    "multiply": ("elementwise", "write A .* B"),
    "hadamard": ("elementwise", "write A .* B"),
    "dot": ("reduction", "write x'*y (tr(A'*B) for matrices)"),
    "inner": ("reduction", "write x'*y (tr(A'*B) for matrices)"),
    "outer": ("matrix", "write x*y'"),
    "reshape": ("structure", "vec(A) stacks the columns; unvec(v, m) undoes it"),
    "svd": ("matrix", "the SVD is not supported; the singular values of A (m >= n) are sqrt(eigvals(A'*A)), "
                      "the largest sqrt(eigmax(A'*A))"),
}
FUNCTION_HINTS["svdvals"] = FUNCTION_HINTS["svd"]

# Decompositions with several outputs, each a function of matdiff's (their library names are
# aliases too, but "did you mean 'luL'?" would hide the other output): said before an alias.
OUTPUT_HINTS = {
    "lu": ("matrix", "lu(A) has two outputs, each a function: luL(A) and luU(A), the unpivoted factors "
                     "A = luL(A)*luU(A)"),
    "qr": ("matrix", "qr(A) has two outputs, each a function: qrQ(A) and qrR(A), the thin factors "
                     "A = qrQ(A)*qrR(A)"),
    "eig": ("matrix", "eigenvalues and eigenvectors are separate functions: eigvals(S) (ascending) and "
                      "eigvecs(S) of a symmetric S, eigmax(S)/eigmin(S) and eigvecmax(S)/eigvecmin(S); of a "
                      "general A, eigmax(A) (a real top eigenvalue) with eigvecl(A), eigvecr(A)"),
}
OUTPUT_HINTS["eigh"] = OUTPUT_HINTS["eig"]
for _f in ("norm_inf", "linf", "maxnorm"):
    FUNCTION_HINTS[_f] = FUNCTION_HINTS["norminf"]
for _f in ("nuc", "norm_nuc", "trace_norm"):
    FUNCTION_HINTS[_f] = FUNCTION_HINTS["nuclear"]
FUNCTION_HINTS["minimum"] = FUNCTION_HINTS["maximum"]
FUNCTION_HINTS["argmin"] = FUNCTION_HINTS["argmax"]
# (the error lists the elementwise functions after the hint: see function_family)
_INVERSE_HYPERBOLIC = {"sinh": "log(x + sqrt(x.^2 + 1))", "cosh": "log(x + sqrt(x.^2 - 1)) (x >= 1)",
                       "tanh": "log((1 + x) ./ (1 - x))/2 (|x| < 1)"}
for _t, _w in _INVERSE_HYPERBOLIC.items():  # (arcsin, arccos, arctan are functions of matdiff's)
    for _f in ("arc" + _t, "a" + _t):
        FUNCTION_HINTS.setdefault(_f, ("elementwise", f"inverse hyperbolic functions are not "
                                                      f"supported; write {_w}"))
for _f in ("arctan2", "atan2", "cot", "sec", "csc"):
    FUNCTION_HINTS[_f] = ("elementwise", f"{_f} is not supported")
for _f, _w in (("cot", "1 ./ tan(x)"), ("sec", "1 ./ cos(x)"), ("csc", "1 ./ sin(x)")):
    FUNCTION_HINTS[_f] = ("elementwise", f"{_f} is not a function of matdiff's; write {_w}")
for _f in ("logsoftmax", "log_softmax"):
    FUNCTION_HINTS[_f] = ("reduction", "write log(softmax(x)) (generated code evaluates it without overflow)")
for _f in ("silu", "swish"):
    FUNCTION_HINTS[_f] = ("elementwise", "write x .* sigmoid(x)")
FUNCTION_HINTS["gelu"] = ("elementwise", "write x .* (1 + erf(x/sqrt(2)))/2 (the exact GELU)")
FUNCTION_HINTS["erfc"] = ("elementwise", "write 1 - erf(x)")
FUNCTION_HINTS["cbrt"] = ("elementwise", "write x.^(1/3) (for x > 0)")


def register_function(name: str, kind: str, aliases=()) -> None:
    """A function name the op declarations add (the registry calls this for each language
    name): suggestions learn its kind and its other libraries' names, and a hint for it as a
    missing function goes."""
    if name not in FUNCTION_KINDS[kind]:
        FUNCTION_KINDS[kind] = FUNCTION_KINDS[kind] + (name,)
    _KIND_OF[name] = kind
    FUNCTION_HINTS.pop(name, None)
    for a in aliases:
        FUNCTION_ALIASES[a] = name
        FUNCTION_HINTS.pop(a, None)  # (an alias of a name that exists is suggested, not refused)


def _kind_list(kind: str) -> str:
    names = FUNCTION_KINDS[kind]
    if kind == "matrix" and "tr" in names and "trace" in names:
        names = tuple(n if n != "tr" else "tr (trace)" for n in names if n != "trace")
    return ", ".join(sorted(names))


def _hint_text(text: str) -> str:
    """A hint with the current function lists filled in."""
    return text.replace("{elementwise}", _kind_list("elementwise")).replace("{matrix}", _kind_list("matrix"))


def _guess_kind(name: str):
    """The kind of function an unknown name most likely means, or None."""
    low = name.lower()
    if low in FUNCTION_HINTS:
        return FUNCTION_HINTS[low][0]
    if low in FUNCTION_ALIASES:
        return _KIND_OF[FUNCTION_ALIASES[low]]
    if low.endswith("m") and _KIND_OF.get(low[:-1]) == "elementwise":  # expm, sinm: matrix versions
        return "matrix"
    return None


def _different_function(name: str, cand: str) -> bool:
    """True when ``name`` reads as a variant of ``cand`` with another meaning, not a typo:
    another digit (norm1/norm2, log10/log), an inverse or hyperbolic trigonometric function
    (arctan/tan, sinh/sin), a matrix version of an elementwise function (expm/exp)."""
    digits = [c for c in name if c.isdigit()]
    if digits != [c for c in cand if c.isdigit()]:
        return True
    low = name.lower()
    if cand in _TRIG + ("tanh",) and low in ("arc" + cand, "a" + cand):
        return True
    if cand in _TRIG and low == cand + "h":
        return True
    base, c = low[:-1], cand[:-1]  # the matrix versions: sinhm is not sinm, as sinh is not sin
    if low.endswith("m") and cand.endswith("m") and c in _TRIG + ("tanh",) and (
            base in ("arc" + c, "a" + c) or (c in _TRIG and base == c + "h")):
        return True
    return _KIND_OF.get(cand) == "elementwise" and low == cand + "m"


def _edits(a: str, b: str) -> int:
    """Edit distance with adjacent transpositions (optimal string alignment)."""
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _named_calls(text: str) -> list:
    """The functions a hint names as calls of one letter, f(A), f(S)."""
    return re.findall(r"\b([A-Za-z]\w*)\([A-Z]\)", text)


def suggest_function(name: str, available) -> str:
    """The hint for an unknown function ``name``: an alias with the same meaning, what to
    write for a known function matdiff lacks, or spellings of the same kind of function that
    a typo (one edit, two for long names) or an abbreviation explains; '' when nothing
    trustworthy can be said (never a function that merely looks alike: expm is not exp)."""
    available = set(available)
    low = name.lower()
    if low in available:
        return _hint(f" (did you mean '{low}'?)")
    if low in OUTPUT_HINTS and all(n in available or n == low for n in _named_calls(OUTPUT_HINTS[low][1])):
        return _hint(f" ({OUTPUT_HINTS[low][1]})")
    if low in FUNCTION_ALIASES and FUNCTION_ALIASES[low] in available:
        target = FUNCTION_ALIASES[low]
        note = f": {_ALIAS_NOTES[target]}" if target in _ALIAS_NOTES else ""
        return _hint(f" (did you mean '{target}'{note}?)")
    if low in FUNCTION_HINTS:
        return _hint(f" ({_hint_text(FUNCTION_HINTS[low][1])})")
    kind = _guess_kind(name)
    ranked = []
    for cand in available:
        c = cand.lower()
        if _different_function(name, cand) or (kind is not None and _KIND_OF.get(cand) != kind):
            continue
        if len(low) >= 3 and c.startswith(low):  # an abbreviation: as good as any other
            ranked.append((0, cand))
            continue
        dist = _edits(low, c)
        if dist <= (1 if len(c) <= 4 else 2):
            ranked.append((dist, cand))
    if not ranked:
        if kind == "matrix" and low.endswith("m"):
            return (f" ({name} looks like a matrix function, which is not supported; {low[:-1]}(...) is "
                    f"elementwise; matrix functions: {_hint_text(_MATRIX)})")
        return ""
    best = min(r for r, _ in ranked)
    close = sorted(c for r, c in ranked if r == best)
    for c in list(close):
        syn = _SYNONYMS.get(c)
        if syn in available and syn not in close:
            close.append(syn)
    return _hint(" (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)")


def function_family(name: str, hint: str, available) -> str:
    """The functions of the family an unknown ``name`` belongs to, as a sentence for its
    error: the family of the suggested function (or of the kind the name reads as), else
    every family in brief (issue 10: "the error lists the available functions of that
    family")."""
    available = set(available)
    kind = None
    for cand in re.findall(r"'([A-Za-z][A-Za-z0-9_]*)'", hint or ""):
        kind = _KIND_OF.get(cand) or kind
    kind = kind or _guess_kind(name)
    titles = {"elementwise": "elementwise functions", "matrix": "matrix functions",
              "reduction": "reductions and scalar functions", "structure": "structural functions"}
    if kind is not None:
        names = sorted(n for n in FUNCTION_KINDS.get(kind, ()) if n in available)
        return f"; {titles[kind]}: {', '.join(names)}" if names else ""
    parts = []
    for k, v in FUNCTION_KINDS.items():
        names = sorted(n for n in v if n in available)
        if k == "structure":  # in brief: the derivative forms of matrix functions appear in results
            forms = [n for n in names if _DERIVATIVE_FORM.match(n)]
            names = [n for n in names if n not in forms]
            if forms:
                names.append("the derivative forms of matrix functions (" + ", ".join(forms[:3]) + ", ...)")
        if names:
            parts.append(f"{titles[k]}: {', '.join(names)}")
    return "; functions are " + "; ".join(parts) if parts else ""


_DERIVATIVE_FORM = re.compile(r"^(D2|J2|D|J|F|G)[a-z]+m$")  # Dexpm, J2logm, Fsinm, ...
