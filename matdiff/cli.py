"""The command line: a thin click layer over the API.

    matdiff "det(A)" --wrt A
    matdiff "x'*inv(S)*x + logdet(S)" --wrt S --symmetric S --format latex

Errors in the input give one message on stderr and exit code 2.
"""

from __future__ import annotations

import json
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
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["derive"] + list(args)
        return super().parse_args(ctx, args)


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

    \b
    Examples:
      matdiff "trace(X*A*X)" --wrt X
      matdiff "x'*A*x" --wrt x --shape x=n --shape A=n,n
      matdiff "x'*inv(S)*x + logdet(S)" --wrt S --symmetric S --format latex

    Undeclared names: a-g and Greek names are scalars, h-z vectors, capitals matrices;
    dimensions are inferred.
    """


def _run(fn):
    """Turn user errors into one clean message and exit code 2."""
    from .errors import MatdiffError

    try:
        return fn()
    except MatdiffError as e:
        click.echo(f"matdiff: error: {e}", err=True)
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


@main.command("derive")
@click.argument("expression")
@_common
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Output format.")
def derive_cmd(expression, wrt, shape, symmetric, fmt):
    """Differentiate EXPRESSION: its differential and gradient (or Jacobian).

    Example: matdiff "det(A)" --wrt A
    """
    shapes = _shapes(shape)

    def go():
        from .api import derive

        d = derive(expression, list(wrt), shapes, symmetric)
        click.echo(render(d, fmt))

    _run(go)


def render(d, fmt: str) -> str:
    """The CLI's rendering of a derivation."""
    if fmt == "json":
        return json.dumps(d.to_dict(), indent=2)
    if fmt == "latex":
        lines = [f"f = {d.expr.latex()}",
                 f"\\mathrm{{d}}f = {d.differential.latex()}"]
        if d._gradients is not None:
            for n, g in d.gradients.items():
                lines.append(f"\\frac{{\\partial f}}{{\\partial {n}}} = {g.latex()}")
        return "\n".join(lines)
    lines = [f"expression    {d.expr}",
             f"shapes        {d.shape_text()}",
             f"differential  d({d.expr}) = {d.differential}"]
    if d._gradients is not None:
        for n, g in d.gradients.items():
            note = ""
            if d.zero_gradient(n):
                note = f"   (the expression does not depend on {n}: the gradient is zero)"
            label = "gradient" if n == d.wrt[0] else ""
            lines.append(f"{label:<13} df/d{n} = {g}{note}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    main()
