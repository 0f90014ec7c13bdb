"""Numbers a lesson's text relies on, recorded so the test suite can hold the text to them.

Whenever a lesson says something about a result ("the biases help", "PyTorch and Keras agree"),
the cell that prints the numbers behind it also calls ``claims.record(name=value, ...)``. Outside
the test suite this does nothing at all. Under it (``CFLEARN_CLAIMS_LOG`` names a file) each value
is appended to that file as one JSON line, and ``tests/claims.py`` asserts every sentence of the
lesson against them, so a change that makes a sentence false fails the tests.
"""

from __future__ import annotations

import json
import math
import numbers
import os

__all__ = ["record"]


def record(**values) -> None:
    """Record named numbers (or booleans) for the test suite; prints nothing, returns nothing.

    Introduced in lesson 00.
    """
    for name, value in values.items():
        if isinstance(value, bool):
            continue
        if not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
            raise ValueError(f"claims.record: {name} must be a finite number, got {value!r}.")
    path = os.environ.get("CFLEARN_CLAIMS_LOG")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as log:
        for name, value in values.items():
            value = bool(value) if isinstance(value, bool) else float(value)
            log.write(json.dumps({"name": name, "value": value}) + "\n")
