"""The examples in the package's docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import matdiff

MODULES = sorted(m.name for m in pkgutil.walk_packages(matdiff.__path__, "matdiff.")
                 if m.name not in ("matdiff.__main__",))  # every module, subpackages included


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
