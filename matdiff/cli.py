"""The command line: a thin click layer over the API.

    matdiff "det(A)" --wrt A
    matdiff "x'*inv(S)*x + logdet(S)" --wrt S --symmetric S --format latex

Errors in the input give one message on stderr and exit code 2.
"""

from __future__ import annotations

import os
import sys

import click

FORMATS = ("text", "latex", "json")


def _shapes(items) -> dict:
    out = {}
    for item in items:
        name, eq, spec = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise click.UsageError(f"--shape {item!r}: write NAME=DIMS, e.g. --shape X=n,m "
                                   f"(vector: x=n, scalar: s=)")
        if name in out:
            raise click.UsageError(f"--shape {name} given twice")
        out[name] = spec
    return out


class _DefaultGroup(click.Group):
    """`matdiff EXPR ...` runs `derive`; `matdiff codegen ...` etc. run subcommands."""

    def parse_args(self, ctx, args):
        args = list(args)
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["derive"] + args
        if len(args) > 1 and args[0] in self.commands:
            args = [args[0]] + self._expression_last(self.commands[args[0]], args[1:])
        return super().parse_args(ctx, args)

    @staticmethod
    def _expression_last(cmd, rest):
        """An expression that starts with '-' ("-x'*x") is not an option: move it after '--'."""
        if rest and rest[0] == "--" and len(rest) > 1:
            return rest[2:] + ["--", rest[1]]
        known = {o for p in cmd.params for o in getattr(p, "opts", [])} | {"-h", "--help"}
        if rest and rest[0].startswith("-") and rest[0].split("=")[0] not in known:
            return rest[1:] + ["--", rest[0]]
        return rest


def _explain_option(f):
    return click.option("--explain", "explain", is_flag=False, flag_value="steps", default=None,
                        type=click.Choice(["steps", "full"]), metavar="[=full]",
                        help="Show the derivation step by step (differential, inner-product moves to "
                             "the gradient or vec identities to the Jacobian, simplifications), each "
                             "line with its rule, identity and source; --explain=full: every rule "
                             "application.")(f)


def render_explanation(d, fmt: str, full: bool = False, hessian: bool = False) -> str:
    """``--explain``: the step-by-step derivation as text, aligned LaTeX or a JSON list of steps."""
    ex = d.explain(full=full, hessian=hessian)
    if fmt == "json":
        return ex.to_json()
    if fmt == "latex":
        return ex.latex()
    return str(ex)


def _common(f):
    f = click.option("--symmetric", "symmetric", multiple=True, metavar="S",
                     help="Mark a matrix variable symmetric (repeatable).")(f)
    f = click.option("--shape", "shape", multiple=True, metavar="NAME=DIMS",
                     help="Declare a shape: X=n,m (matrix), x=n (vector), s= (scalar); ints allowed.")(f)
    f = click.option("--wrt", "wrt", multiple=True, required=True, metavar="X",
                     help="Variable to differentiate by (repeatable).")(f)
    return f


@click.group(cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="matdiff", prog_name="matdiff")
def main():
    """matdiff: derivatives of matrix expressions in closed matrix form.

    `matdiff EXPRESSION --wrt X` is `matdiff derive EXPRESSION --wrt X`; `matdiff COMMAND
    --help` shows each command's options.

    \b
    Examples:
      matdiff "trace(X*A*X)" --wrt X
      matdiff "x'*A*x" --wrt x --shape x=n --shape A=n,n
      matdiff "x'*inv(S)*x + logdet(S)" --wrt S --symmetric S --format latex
      matdiff "logdet(X)" --wrt X --hessian
      matdiff "det(X)" --wrt X --explain
      matdiff check "tr(X*A*X)" --wrt X --claim "2*A'*X'" --exact
      matdiff codegen "norm2(A*x - b)^2" --wrt x -o ls.py --target jax
      matdiff functions
      matdiff @losses.txt --wrt X         (several expressions, one a line; - reads stdin)

    EXPRESSION may be - (read from stdin) or @FILE: one expression a line ('#' starts a
    comment line); a line that is indented or starts with an operator, or follows one that
    ends with an operator or leaves a bracket open, goes on with the expression above.

    Undeclared names: capitals are matrices; whether a lowercase name is a scalar or a
    vector is inferred from its use (b in A*x - b is a vector), the convention (a-g and
    Greek scalars, h-z vectors) breaking ties; sizes are inferred. --shape declares.
    """


_OPERATOR_END = ("+", "-", "*", "/", "^", ".", ",", ";", "=", "(", "[")
_OPERATOR_START = ("+", "*", "/", ".*", "./", ".^", "^", "'", ")", "]", ",", ";")


def _continues(previous: str, line: str) -> bool:
    """Whether ``line`` goes on with the expression of the lines before it (``previous``):
    it is indented or starts with an operator, or they end with an operator, ',', ';' or '='
    or leave a bracket open. A line starting with '-' begins a new expression (-x'*x) unless
    indented."""
    if not previous:
        return False
    if line[:1].isspace() or line.lstrip().startswith(_OPERATOR_START):
        return True
    body = previous.rstrip()
    open_brackets = sum(body.count(c) for c in "([") - sum(body.count(c) for c in ")]")
    return open_brackets > 0 or body.endswith(_OPERATOR_END) or body.endswith(" where")


def _expressions(expression: str) -> list:
    """EXPRESSION as given, or read from stdin (``-``) or a file (``@file``): a list of
    ``(line, text)``, one expression a line (``line``: where it starts; None for one given
    on the command line). '#' starts a comment line, a blank line ends an expression, and an
    expression goes on over the next lines where :func:`_continues` says so."""
    from .core.errors import ParseError

    if expression == "-":
        text, src = sys.stdin.read(), "stdin"
    elif expression.startswith("@") and len(expression) > 1:
        try:
            with open(expression[1:], encoding="utf-8") as f:
                text, src = f.read(), expression[1:]
        except OSError as e:
            raise ParseError(f"cannot read the expression from {expression[1:]!r}: {e.strerror}") from None
    elif "\n" not in expression:
        return [(None, expression)]
    else:
        text, src = expression, "the argument"
    out, cur, start = [], [], None
    for i, ln in enumerate(text.splitlines(), 1):
        if ln.lstrip().startswith("#"):
            continue
        if not ln.strip():
            if cur:
                out.append((start, " ".join(c.strip() for c in cur)))
            cur = []
            continue
        if cur and not _continues(" ".join(cur), ln):
            out.append((start, " ".join(c.strip() for c in cur)))
            cur = []
        if not cur:
            start = i
        cur.append(ln)
    if cur:
        out.append((start, " ".join(c.strip() for c in cur)))
    if not out:
        raise ParseError(f"no expression in {src}")
    return out


def _derive(text, wrt, shapes, symmetric):
    """derive(), with its notes (how undeclared names were read, when that was a close call)
    on stderr, one line each."""
    from .api import derive

    d = derive(text, list(wrt), shapes, list(symmetric))
    for note in d.notes:
        click.echo(f"matdiff: {note}", err=True)
    return d


def _each(expression, go, json_output: bool = False) -> list:
    """``go(text) -> (output, value)`` for each expression of EXPRESSION (several: from a file
    or stdin, one a line); prints each output (several: a blank line between them; JSON: one
    list of the objects), each error on its own (``line N:`` first) without stopping the
    others, and exits 2 after them if any failed. Returns the values of those that worked."""
    exprs = _run(lambda: _expressions(expression), json_output)
    several = len(exprs) > 1
    values, objects, failed = [], [], False
    for k, (line, text) in enumerate(exprs):
        where = f"line {line}: " if several else ""
        ok, result = _run(lambda t=text: go(t), json_output and not several, exit=False, where=where)
        if ok:
            output, value = result
            values.append(value)
            if json_output and several:
                import json

                objects.append(json.loads(output))
            else:
                click.echo(("\n" if k and several else "") + output)
        else:
            failed = True
            if json_output and several:
                objects.append(_last_error[0])
    if objects:
        import json

        click.echo(json.dumps(objects, indent=2))
    if failed:
        sys.exit(2)
    return values


_last_error: list = [None]  # the error dict of the last user error (a JSON list of several results)


def _run(fn, json_errors: bool = False, exit: bool = True, where: str = ""):
    """Turn user errors into one clean message and exit code 2; with ``json_errors`` (the
    command's output is JSON) the error is also printed on stdout as JSON with its fields
    (kind, message, pos, end, suggestion, text), for programs that read the output. With
    ``exit=False``: ``(True, fn())``, or ``(False, None)`` after the message (``where`` first)."""
    from .core.errors import INTERFACE, MatdiffError

    token = INTERFACE.set("cli")  # advice in messages is spelt as options (--shape x=n)
    try:
        value = fn()
        return value if exit else (True, value)
    except MatdiffError as e:
        from .render.json import error_dict

        _last_error[0] = error_dict(e)
        if json_errors:
            import json

            click.echo(json.dumps(_last_error[0], indent=2))
        click.echo(f"matdiff: error: {where}{e}", err=True)
        if not exit:
            return False, None
        sys.exit(2)
    except click.ClickException:
        raise
    except Exception as e:  # an internal error must not print a traceback at the user
        if os.environ.get("MATDIFF_DEBUG"):
            raise
        click.echo(f"matdiff: internal error: {type(e).__name__}: {e}\n"
                   f"This is a bug in matdiff; please report it with the command line "
                   f"(set MATDIFF_DEBUG=1 for a traceback).", err=True)
        sys.exit(3)
    finally:
        INTERFACE.reset(token)


@main.command("derive", short_help="Differentiate EXPRESSION: differential, gradient or Jacobian (the default).")
@click.argument("expression")
@_common
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Output format.")
@click.option("--hessian", "hessian", is_flag=True,
              help="Also print the second differential d2f, the Hessian-vector product H[V] and the "
                   "Hessian matrix on vec(X) (scalar expression; with several --wrt, the blocks H(X,Y)).")
@_explain_option
@click.option("--no-names", "no_names", is_flag=True,
              help="Print results in full, without named intermediates (where s1 = ...).")
def derive_cmd(expression, wrt, shape, symmetric, fmt, hessian, explain, no_names):
    """Differentiate EXPRESSION: its differential and gradient (or Jacobian).

    Example: matdiff "det(A)" --wrt A
    """
    shapes = _shapes(shape)

    def go(text):
        d = _derive(text, wrt, shapes, symmetric)
        if explain:
            return render_explanation(d, fmt, full=explain == "full", hessian=hessian), None
        return _renderer(fmt)(d, second_order=hessian, names=not no_names), None

    _each(expression, go, json_output=fmt == "json")


def render_second_order(d, fmt: str) -> str:
    """``render(d, fmt)`` followed by d2f, H[V] and the Hessian matrix (``--hessian``);
    with several variables, one H[V] per variable and the Hessian by blocks."""
    return _renderer(fmt)(d, second_order=True)


def render(d, fmt: str) -> str:
    """The CLI's rendering of a derivation (the renderers of :mod:`matdiff.render`)."""
    return _renderer(fmt)(d)


def _renderer(fmt: str):
    if fmt == "json":
        from .render.json import render_derivation
    elif fmt == "latex":  # the API's LaTeX (variable names as in Derivation.latex())
        from .render.latex import render_derivation
    else:
        from .render.text import render_derivation
    return render_derivation


def _sizes_option(items, option: str) -> dict:
    """NAME=INT pairs (``--size n=5``, ``--hint n=1000``)."""
    out = {}
    for item in items:
        name, eq, val = item.partition("=")
        name, val = name.strip(), val.strip()
        if not eq or not name or not val.isdigit() or int(val) < 1:
            raise click.UsageError(f"{option} {item!r}: write NAME=SIZE with a positive integer, "
                                   f"e.g. {option} n=5")
        if name in out:
            raise click.UsageError(f"{option} {name} given twice")
        out[name] = int(val)
    return out


@main.command("codegen", short_help="Generate a NumPy, JAX or PyTorch module: value and gradient.")
@click.argument("expression")
@_common
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the module to this file (default: standard output).")
@click.option("--name", "name", default="f", show_default=True, metavar="NAME",
              help="Name of the generated function.")
@click.option("--hint", "hint", multiple=True, metavar="n=SIZE",
              help="Typical size of a symbolic dimension, for the order of matrix products "
                   "(repeatable; default 1000).")
@click.option("--hessian", "hessian", is_flag=True,
              help="NAME(inputs...) -> (value, gradient, H) with H the dense Hessian on vec(X).")
@click.option("--hvp", "hvp", is_flag=True,
              help="NAME(inputs..., V) -> H[V], the Hessian-vector product (never forms H); the "
                   "direction is V_X, V_Y, ... for several --wrt, W if the expression uses V.")
@click.option("--target", "target", type=click.Choice(["numpy", "jax", "torch"]), default="numpy",
              show_default=True, help="The array library the module uses (jax: jit-compatible; torch: "
                                      "CPU or CUDA tensors, torch.compile).")
def codegen_cmd(expression, wrt, shape, symmetric, output, name, hint, hessian, hvp, target):
    """Generate a standalone NumPy (or JAX, PyTorch) module computing the value and gradient.

    The module imports only NumPy (with --target, only JAX or PyTorch) and defines NAME(inputs...) -> (value, gradient)
    (a dict of gradients for several --wrt; the Jacobian for a non-scalar expression;
    with --hessian also the Hessian, with --hvp the Hessian-vector product), checking
    its inputs' shapes. A NumPy gradient or HVP function also takes out=G, an array the
    result is written into (a loop that reuses it allocates nothing that size).

    Example: matdiff codegen "logdet(X) + tr(inv(X)*A)" --wrt X -o f.py
    """
    shapes = _shapes(shape)
    hints = _sizes_option(hint, "--hint")

    def go():
        from .core.errors import DerivationError

        if not name.isidentifier() or name.startswith("_"):
            raise DerivationError(f"--name {name!r}: use a Python identifier not starting with '_'")
        if hessian and hvp:
            raise DerivationError("give --hessian or --hvp, not both")
        exprs = _expressions(expression)
        if len(exprs) > 1:
            raise DerivationError(f"codegen writes one function: the input has {len(exprs)} expressions "
                                  f"(lines {', '.join(str(n) for n, _ in exprs)}); write one module each")
        d = _derive(exprs[0][1], wrt, shapes, symmetric)
        src = d.numpy_source(name, hints=hints, hessian=hessian, hvp=hvp, target=target)
        if output:
            try:
                with open(output, "w", encoding="utf-8") as fh:
                    fh.write(src)
            except OSError as e:
                raise DerivationError(f"cannot write {output}: {e.strerror}") from None
            click.echo(f"wrote {output}: {name}({', '.join(d.variables)})", err=True)
        else:
            click.echo(src, nl=False)

    _run(go)


@main.command("check", short_help="Check derivatives and your claims: finite differences, --exact proofs.")
@click.argument("expression")
@_common
@click.option("--size", "size", multiple=True, metavar="n=INT",
              help="Size of a symbolic dimension for the random inputs (repeatable).")
@click.option("--claim", "claim", multiple=True, metavar="FORMULA",
              help="A derivative derived by hand to check (repeatable): the gradient (scalar f) or the "
                   "Jacobian (vec(dF) = J*vec(dX)) by the --wrt variable; with several --wrt, X=FORMULA "
                   "per variable; 'dF = ...' a differential written in dX; with --hessian the Hessian on "
                   "vec(X), or H[V] (a formula using V) the Hessian-vector product.")
@click.option("--hessian", "hessian", is_flag=True,
              help="Also check matdiff's Hessian-vector product (against finite differences of the "
                   "gradient); --claim is then a Hessian or Hessian-vector product.")
@click.option("--steps", is_flag=True, help="Also print the error against the finite-difference step.")
@click.option("--directions", default=5, show_default=True, type=click.IntRange(1, 1000),
              help="Number of random directions.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option("--exact", is_flag=True,
              help="Also prove the derivative (and claims) with SymPy at small sizes: symbolic entries, "
                   "every size 2 then 3 (--size to choose); PROVEN, WRONG or UNDECIDED (time budget).")
@_explain_option
def check_cmd(expression, wrt, shape, symmetric, size, claim, hessian, steps, directions, seed, explain,
              exact):
    """Check the derivative (and optionally hand-derived claims) by finite differences.

    Finite differences are extrapolated to step 0 with an error estimate (truncation and
    roundoff); a point where they cannot decide gives INCONCLUSIVE with the reason, never
    FAILED. Exit code 0 when everything agrees, 1 when something is wrong, 2 for input
    errors, 4 when inconclusive.

    \b
    Claims (--claim), what they are taken to be:
      FORMULA              gradient (scalar f, shaped like X) or Jacobian (size(F) x size(X))
      X=FORMULA            the same for one of several --wrt variables
      "dF = FORMULA"       the differential, linear in dX (dX, dY, ... for each --wrt)
      with --hessian:
      FORMULA              the Hessian on column-major vec(X), size(X) x size(X)
      FORMULA using V      the Hessian-vector product H[V] (shaped like X)
    Left-hand sides may also say it: df/dX = ..., dvec(F)/dvec(X) = ..., H = ..., H[V] = ...

    \b
    Examples:
      matdiff check "logdet(X) + tr(inv(X)*A)" --wrt X --steps
      matdiff check "tr(X*A*X)" --wrt X --claim "2*A'*X'"
      matdiff check "inv(X)" --wrt X --claim "-kron(inv(X)', inv(X))"
      matdiff check "inv(X)" --wrt X --claim "dF = -inv(X)*dX*inv(X)"
      matdiff check "x'*A*x" --wrt x --hessian --claim "A + A'"
      matdiff check "tr(X*A*X)" --wrt X --exact --claim "(A*X + X*A)'"
    """
    shapes = _shapes(shape)
    sizes = _sizes_option(size, "--size")

    def go(expr_text):
        d = _derive(expr_text, wrt, shapes, symmetric)
        res = d.check(sizes=sizes, directions=directions, seed=seed, claim=list(claim) or None,
                      steps=steps, hessian=hessian, exact=exact)
        out = str(res)
        if explain:  # the correct derivation next to the verdict
            out += "\n\nThe correct derivation:\n" + render_explanation(d, "text", full=explain == "full",
                                                                         hessian=hessian)
        wrong = res.exact is not None and "WRONG" in (res.exact.verdict, res.exact.claim_verdict)
        return out, 1 if wrong else 0 if res.ok else (4 if res.inconclusive else 1)

    codes = _each(expression, go)  # (exits 2 itself where an expression was bad input)
    sys.exit(1 if 1 in codes else max(codes, default=0))


@main.command("functions")
def functions_cmd():
    """List the language's functions, each with what it computes.

    Generated from the operation declarations (matdiff/ops/), so it is always the list the
    parser accepts. Example: matdiff functions | grep eig
    """
    from .ops.registry import functions_text

    click.echo(functions_text(), nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
