"""Self-checking exercises: ``check.run(name, answer)`` and ``check.names()``.

The framework lives in :mod:`cflearn.check.core`; each lesson's checkers live in
``cflearn/check/lessonNN.py`` and are imported here automatically, so a new
lesson needs no edit in this file. Checkers import torch/keras lazily.
"""

import importlib
import pkgutil
import re

from cflearn.check.core import Case, Result, exercise, names, names_by_lesson, run

__all__ = ["Case", "Result", "exercise", "names", "names_by_lesson", "run"]


def _import_lessons(path=__path__, package=__name__) -> list:
    """Import every ``lessonNN`` module of ``package`` (each registers its exercises)."""
    found = sorted(info.name for info in pkgutil.iter_modules(path) if re.fullmatch(r"lesson\d+", info.name))
    for name in found:
        importlib.import_module(f"{package}.{name}")
    return found


_import_lessons()
