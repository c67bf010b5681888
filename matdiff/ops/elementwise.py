"""Elementwise functions: one declaration each (scalar derivative, range, domain, printing,
lowering per back-end). Adding a function here is the whole change (issue 9)."""

from __future__ import annotations

import math
from fractions import Fraction

from ..core import expr as E
from ..core.errors import register_function
from .base import UNSUPPORTED, ElementwiseDef, Kink, Rule, entry_distance  # noqa: F401  (UNSUPPORTED: for entries)

INF = float("inf")
PI = math.pi


def _one_like(a):
    return E.ONE if a.is_scalar else E.bcast(E.ONE, a.shape)


def _same(fmt: str) -> dict:
    """The same call spelled in each back-end's array module."""
    return {"numpy": fmt, "jax": fmt, "torch": fmt}


ELEMENTWISE: dict[str, ElementwiseDef] = {}


def elementwise(name, derivative, identity, latex_identity, latex, lower, cite="calculus",
                **kw) -> ElementwiseDef:
    d = ElementwiseDef(name, Rule(f"d.{name}", identity, latex_identity, cite, derivative),
                       latex, lower, **kw)
    ELEMENTWISE[name] = d
    for spelled in (name, *d.names):  # (suggestions for unknown names learn it)
        register_function(spelled, "elementwise", d.aliases if spelled == name else ())
    return d


elementwise("exp", lambda a, node: node, "exp'(x) = exp(x)", r"\exp'(x) = \exp(x)", r"\exp",
            _same("{xp}.exp({0})"), range=(0.0, INF), at_zero=1, aliases=('exponential',),
            meaning="the exponential")
elementwise("log", lambda a, node: E.hpow(a, E.const(-1)), "log'(x) = 1/x", r"\log'(x) = 1/x",
            r"\log", _same("{xp}.log({0})"), domain=(0.0, INF), aliases=('ln', 'logarithm'),
            meaning="the natural logarithm")
elementwise("sin", lambda a, node: E.fn("cos", a), "sin'(x) = cos(x)", r"\sin'(x) = \cos(x)",
            r"\sin", _same("{xp}.sin({0})"), range=(-1.0, 1.0), at_zero=0, aliases=('sine',),
            meaning="the sine")
elementwise("cos", lambda a, node: E.neg(E.fn("sin", a)), "cos'(x) = -sin(x)",
            r"\cos'(x) = -\sin(x)", r"\cos", _same("{xp}.cos({0})"), range=(-1.0, 1.0), at_zero=1, aliases=('cosine',),
            meaning="the cosine")
elementwise("tan", lambda a, node: E.hpow(E.fn("cos", a), E.const(-2)), "tan'(x) = 1/cos(x)^2",
            r"\tan'(x) = 1/\cos^2(x)", r"\tan", _same("{xp}.tan({0})"), domain=(-1.5, 1.5),
            at_zero=0, aliases=('tangent',), meaning="the tangent")
elementwise("tanh", lambda a, node: E.add(_one_like(a), E.neg(E.hpow(node, E.const(2)))),
            "tanh'(x) = 1 - tanh(x)^2", r"\tanh'(x) = 1 - \tanh^2(x)", r"\tanh",
            _same("{xp}.tanh({0})"), range=(-1.0, 1.0), at_zero=0, meaning="the hyperbolic tangent")
elementwise("sqrt", lambda a, node: E.mul(E.const(Fraction(1, 2)), E.hpow(node, E.const(-1))),
            "sqrt'(x) = 1/(2*sqrt(x))", r"\sqrt{x}' = \frac{1}{2\sqrt{x}}", r"\sqrt",
            _same("{xp}.sqrt({0})"), range=(0.0, INF), domain=(0.0, INF), at_zero=0, aliases=('squareroot',),
            meaning="the square root")
elementwise("abs", lambda a, node: E.fn("sign", a), "abs'(x) = sign(x) (x != 0)",
            r"|x|' = \operatorname{sign}(x)", r"\operatorname{abs}", _same("{xp}.abs({0})"),
            range=(0.0, INF), at_zero=0, aliases=('absolute', 'fabs', 'absval'),
            kink=Kink("where its argument is 0", "abs'(0) is taken as sign(0) = 0 (a subgradient)", entry_distance),
            meaning="the absolute value")
elementwise("sigmoid", lambda a, node: E.had(node, E.add(_one_like(a), E.neg(node))),
            "sigmoid'(x) = sigmoid(x)*(1 - sigmoid(x))", r"\sigma'(x) = \sigma(x)(1 - \sigma(x))",
            r"\sigma", {"numpy": "_sigmoid({0})", "jax": "jax.nn.sigmoid({0})",
                        "torch": "torch.sigmoid({0})"}, range=(0.0, 1.0), aliases=('expit', 'logistic', 'sigm'),
            meaning="the logistic function 1/(1 + exp(-x))")
elementwise("relu", lambda a, node: E.fn("step", a), "relu'(x) = step(x) (x != 0)",
            r"\operatorname{relu}'(x) = \operatorname{step}(x)", r"\operatorname{relu}",
            {"numpy": "{xp}.maximum({0}, 0.0)", "jax": "jnp.maximum({0}, 0.0)",
             "torch": "torch.relu({0})"}, range=(0.0, INF), at_zero=0,
            kink=Kink("where its argument is 0", "relu'(0) is taken as step(0) = 0 (a subgradient)", entry_distance),
            meaning="max(x, 0)")
elementwise("sign", lambda a, node: None, "sign'(x) = 0 (x != 0)",
            r"\operatorname{sign}'(x) = 0", r"\operatorname{sign}", _same("{xp}.sign({0})"),
            range=(-1.0, 1.0), at_zero=0, aliases=('sgn', 'signum'),
            kink=Kink("where its argument is 0 (a jump from -1 to 1)", "sign'(x) is taken as 0 everywhere, also at the jump, "
                      "where sign(0) = 0", entry_distance), meaning="-1, 0 or 1 by the sign of x")
elementwise("step", lambda a, node: None, "step'(x) = 0 (x != 0)",
            r"\operatorname{step}'(x) = 0", r"\operatorname{step}",
            {"numpy": "{xp}.heaviside({0}, 0.0)", "jax": "jnp.heaviside({0}, 0.0)",
             "torch": "({0} > 0).to({0}.dtype)"}, range=(0.0, 1.0), at_zero=0, aliases=('heaviside',),
            kink=Kink("where its argument is 0 (a jump from 0 to 1)", "step'(x) is taken as 0 everywhere, also at the jump, "
                      "where step(0) = 0", entry_distance), meaning="the Heaviside step: 1 for x > 0, else 0")
elementwise("softplus", lambda a, node: E.fn("sigmoid", a), "softplus'(x) = sigmoid(x)",
            r"\operatorname{softplus}'(x) = \sigma(x)", r"\operatorname{softplus}",
            {"numpy": "_softplus({0})", "jax": "{xp}.logaddexp({0}, 0.0)",
             "torch": "_softplus({0})"}, range=(0.0, INF), meaning="log(1 + exp(x))")  # (F.softplus is x beyond x > 20)


def _sq(a):
    return E.hpow(a, E.const(2))


def _inv_sqrt_one_minus_sq(a):
    """1/sqrt(1 - a.^2), the derivative of arcsin."""
    return E.hpow(E.fn("sqrt", E.add(_one_like(a), E.neg(_sq(a)))), E.const(-1))


elementwise("arcsin", lambda a, node: _inv_sqrt_one_minus_sq(a), "arcsin'(x) = 1/sqrt(1 - x^2) (|x| < 1)",
            r"\arcsin'(x) = \frac{1}{\sqrt{1 - x^2}}", r"\arcsin", _same("{xp}.arcsin({0})"),
            range=(-PI / 2, PI / 2), domain=(-1.0, 1.0), at_zero=0, names=("asin",),
            meaning="the inverse sine")
elementwise("arccos", lambda a, node: E.neg(_inv_sqrt_one_minus_sq(a)),
            "arccos'(x) = -1/sqrt(1 - x^2) (|x| < 1)", r"\arccos'(x) = -\frac{1}{\sqrt{1 - x^2}}",
            r"\arccos", _same("{xp}.arccos({0})"), range=(0.0, PI), domain=(-1.0, 1.0), names=("acos",),
            meaning="the inverse cosine")
elementwise("arctan", lambda a, node: E.hpow(E.add(_one_like(a), _sq(a)), E.const(-1)),
            "arctan'(x) = 1/(1 + x^2)", r"\arctan'(x) = \frac{1}{1 + x^2}", r"\arctan",
            _same("{xp}.arctan({0})"), range=(-PI / 2, PI / 2), at_zero=0, names=("atan",),
            meaning="the inverse tangent")
elementwise("sinh", lambda a, node: E.fn("cosh", a), "sinh'(x) = cosh(x)", r"\sinh'(x) = \cosh(x)",
            r"\sinh", _same("{xp}.sinh({0})"), at_zero=0, meaning="the hyperbolic sine")
elementwise("cosh", lambda a, node: E.fn("sinh", a), "cosh'(x) = sinh(x)", r"\cosh'(x) = \sinh(x)",
            r"\cosh", _same("{xp}.cosh({0})"), range=(1.0, INF), at_zero=1, meaning="the hyperbolic cosine")
elementwise("log1p", lambda a, node: E.hpow(E.add(_one_like(a), a), E.const(-1)),
            "log1p'(x) = 1/(1 + x) (x > -1)", r"\operatorname{log1p}'(x) = \frac{1}{1 + x}",
            r"\operatorname{log1p}", _same("{xp}.log1p({0})"), domain=(-1.0, INF), at_zero=0,
            meaning="log(1 + x), accurate for small x")
elementwise("expm1", lambda a, node: E.fn("exp", a), "expm1'(x) = exp(x)",
            r"\operatorname{expm1}'(x) = \exp(x)", r"\operatorname{expm1}", _same("{xp}.expm1({0})"),
            range=(-1.0, INF), at_zero=0, meaning="exp(x) - 1, accurate for small x")
# erf'(x) = 2/sqrt(pi)*exp(-x^2); constants are exact rationals, so pi is arccos(-1)
elementwise("erf", lambda a, node: E.mul(E.const(2), E.power(E.fn("sqrt", E.fn("arccos", E.const(-1))), E.const(-1)),
                                          E.fn("exp", E.neg(_sq(a)))),
            "erf'(x) = 2/sqrt(pi)*exp(-x^2)", r"\operatorname{erf}'(x) = \frac{2}{\sqrt{\pi}} e^{-x^2}",
            r"\operatorname{erf}", {"numpy": "_erf({0})", "jax": "jax.lax.erf({0})", "torch": "torch.erf({0})"},
            range=(-1.0, 1.0), at_zero=0, aliases=("errorfunction",), meaning="the error function")
