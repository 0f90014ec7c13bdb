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


def _import_lessons() -> None:
    for info in pkgutil.iter_modules(__path__):
        if re.fullmatch(r"lesson\d+", info.name):
            importlib.import_module(f"{__name__}.{info.name}")


_import_lessons()
