"""Small immutable records without code generation at import.

``@dataclass`` writes and compiles several methods per class when its module loads; for the
few dozen declaration types read on every start-up (``OpDef``, ``Rule``, ``Facts``, ...)
that was a measurable part of the CLI's start-up. :func:`record` gives the subset they use
(frozen instances, field defaults and default factories, ``compare=False``/``repr=False``
fields, value equality or identity) with generic methods shared by every record class;
:func:`replace` is ``dataclasses.replace`` for them.

>>> @record
... class P:
...     x: int
...     y: int = 0
>>> p = P(1)
>>> p, p == P(1, 0), replace(p, y=2)
(P(x=1, y=0), True, P(x=1, y=2))
"""

from __future__ import annotations

_MISSING = object()


class _Field:
    __slots__ = ("default", "factory", "compare", "repr")

    def __init__(self, default, factory, compare, repr):
        self.default, self.factory, self.compare, self.repr = default, factory, compare, repr


def field(*, default=_MISSING, default_factory=None, compare: bool = True, repr: bool = True):
    """A field's options, as ``dataclasses.field``."""
    return _Field(default, default_factory, compare, repr)


def _init(self, *args, **kw):
    cls = type(self)
    names = cls._fields
    if len(args) > len(names):
        raise TypeError(f"{cls.__name__}() takes {len(names)} arguments, got {len(args)}")
    d = dict(zip(names, args))
    for k, v in kw.items():
        if k not in cls._fieldset:
            raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {k!r}")
        if k in d:
            raise TypeError(f"{cls.__name__}() got multiple values for argument {k!r}")
        d[k] = v
    if len(d) < len(names):
        for n in names:
            if n not in d:
                if n in cls._factories:
                    d[n] = cls._factories[n]()
                elif n in cls._defaults:
                    d[n] = cls._defaults[n]
                else:
                    raise TypeError(f"{cls.__name__}() missing required argument {n!r}")
    object.__setattr__(self, "__dict__", d)


def _frozen(self, name, value=None):
    raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is immutable")


def _key(self):
    d = self.__dict__
    return tuple(d[n] for n in type(self)._compared)


def _eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _key(self) == _key(other)


def _hash(self):
    return hash(_key(self))


def _repr(self):
    d = self.__dict__
    inner = ", ".join(f"{n}={d[n]!r}" for n in type(self)._shown)
    return f"{type(self).__name__}({inner})"


def record(cls=None, *, eq: bool = True):
    """Class decorator: annotated class attributes become fields (in order), their values
    defaults; ``eq=False`` keeps identity equality and hashing."""

    def wrap(cls):
        names: list = []
        for klass in reversed(cls.__mro__):
            for n in klass.__dict__.get("__annotations__", {}):
                if n not in names:
                    names.append(n)
        defaults, factories, required, compared, shown = {}, {}, set(), [], []
        for n in names:
            v = getattr(cls, n, _MISSING)
            f = v if isinstance(v, _Field) else _Field(v, None, True, True)
            if f.factory is not None:
                factories[n] = f.factory
            elif f.default is not _MISSING:
                defaults[n] = f.default
            else:
                required.add(n)
            if isinstance(v, _Field):
                if f.default is _MISSING:
                    delattr(cls, n)
                else:
                    setattr(cls, n, f.default)
            if f.compare:
                compared.append(n)
            if f.repr:
                shown.append(n)
        cls._fields, cls._fieldset = tuple(names), frozenset(names)
        cls._defaults, cls._factories = defaults, factories
        cls._required, cls._compared, cls._shown = frozenset(required), tuple(compared), tuple(shown)
        cls.__init__ = _init
        cls.__setattr__ = _frozen
        cls.__delattr__ = _frozen
        cls.__repr__ = _repr
        if eq:
            cls.__eq__ = _eq
            cls.__hash__ = _hash
        return cls

    return wrap if cls is None else wrap(cls)


def replace(obj, **changes):
    """A copy of the record ``obj`` with some fields changed."""
    cls = type(obj)
    bad = set(changes) - set(cls._fields)
    if bad:
        raise TypeError(f"{cls.__name__} has no field {sorted(bad)[0]!r}")
    new = object.__new__(cls)
    d = dict(obj.__dict__)
    d.update(changes)
    object.__setattr__(new, "__dict__", d)
    return new
