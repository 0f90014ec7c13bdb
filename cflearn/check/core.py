"""The exercise-check framework: registration, running, results and comparison helpers.

Per-lesson checker modules (``cflearn/check/lessonNN.py``) register exercises with
:func:`exercise` and yield :class:`Case` objects; :func:`run` turns them into a
:class:`Result`. Nothing here knows about any particular lesson.
"""

from __future__ import annotations

import functools
import html
import inspect
import json
import os
import sysconfig
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

__all__ = ["Case", "Result", "exercise", "run", "names", "names_by_lesson", "close", "describe"]

_REGISTRY: dict[str, "_Exercise"] = {}
_MAX_FAILURES = 3
_STDLIB = sysconfig.get_paths()["stdlib"]


@dataclass
class Case:
    """One checked input: what went in, what was expected, what came back."""

    input: Any = ""
    expected: Any = None
    got: Any = None
    passed: bool = False
    hint: str = ""


@dataclass
class _Exercise:
    name: str
    lesson: str
    checker: Callable[[Callable], Iterator[Case]]


@dataclass
class Result:
    """The outcome of :func:`run`: ``status`` is "passed", "failed", "not attempted" or "error"."""

    name: str
    status: str
    message: str = ""
    cases: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def _failures(self) -> list:
        return [c for c in self.cases if not c.passed][:_MAX_FAILURES]

    def _headline(self) -> str:
        if self.status == "passed":
            return f"[passed] {self.name}: all {len(self.cases)} cases pass."
        if self.status == "not attempted":
            return f"[not attempted] {self.name}: write your answer in the cell above, then run this cell again."
        if self.status == "failed":
            n_bad = sum(not c.passed for c in self.cases)
            return f"[failed] {self.name}: {n_bad} of {len(self.cases)} cases fail."
        return f"[error] {self.name}: {self.message}"

    def __repr__(self) -> str:
        lines = [self._headline()]
        if self.status == "failed":
            for case in self._failures():
                lines.append(f"  - input: {_short(case.input)}")
                lines.append(f"    expected: {_short(case.expected)}")
                lines.append(f"    got: {_short(case.got)}")
                if case.hint:
                    lines.append(f"    hint: {case.hint}")
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        colour = {"passed": "#1a7f37", "not attempted": "#6e7781"}.get(self.status, "#cf222e")
        head = f'<div style="color:{colour}"><b>{html.escape(self._headline())}</b></div>'
        if self.status != "failed":
            return head
        items = []
        for case in self._failures():
            hint = f"<br>hint: {html.escape(case.hint)}" if case.hint else ""
            items.append(
                f"<li>input: <code>{html.escape(_short(case.input))}</code><br>"
                f"expected: <code>{html.escape(_short(case.expected))}</code><br>"
                f"got: <code>{html.escape(_short(case.got))}</code>{hint}</li>"
            )
        return head + "<ul>" + "".join(items) + "</ul>"


def exercise(name: str, lesson: str) -> Callable:
    """Register a checker: a generator taking the learner's ``answer`` and yielding Cases."""
    if not isinstance(name, str) or not name:
        raise ValueError("exercise name must be a non-empty string")

    def register(checker: Callable) -> Callable:
        old = _REGISTRY.get(name)
        if old is not None and _origin(old.checker) != _origin(checker):
            raise ValueError(
                f"exercise {name!r} is already registered by {'.'.join(_origin(old.checker))}; pick another name"
            )
        _REGISTRY[name] = _Exercise(name=name, lesson=str(lesson).zfill(2), checker=checker)
        return checker

    return register


def _origin(func: Callable) -> tuple[str, str]:
    return getattr(func, "__module__", "?"), getattr(func, "__qualname__", "?")


def names(lesson: str | None = None) -> list[str]:
    """Exercise names, sorted by lesson then name; only those of ``lesson`` when given."""
    items = sorted(_REGISTRY.values(), key=lambda e: (e.lesson, e.name))
    if lesson is not None:
        items = [e for e in items if e.lesson == str(lesson).zfill(2)]
    return [e.name for e in items]


def names_by_lesson() -> dict[str, list[str]]:
    """Exercise names grouped by lesson number (``{"01": [...], ...}``)."""
    out: dict[str, list[str]] = {}
    for name in names():
        out.setdefault(_REGISTRY[name].lesson, []).append(name)
    return out


def run(name: str, answer: Callable | None) -> Result:
    """Check ``answer`` against the exercise ``name``; never raises.

    Introduced in lesson 01.
    """
    try:
        result = _run(name, answer)
    except Exception as exc:  # a last guard: the framework itself must not raise
        result = Result(name=str(name), status="error", message=f"the checker failed ({type(exc).__name__}).")
    _log(result)
    return result


def _run(name: str, answer: Callable | None) -> Result:
    ex = _REGISTRY.get(name)
    if ex is None:
        known = ", ".join(names()) or "(none registered)"
        return Result(name=str(name), status="error", message=f"no exercise called {name!r}. Known exercises: {known}")
    if answer is None:
        return Result(name=name, status="not attempted")
    cases: list = []
    tracked = _track(answer)
    try:
        for case in ex.checker(tracked):
            if not isinstance(case, Case):
                raise TypeError(f"checker yielded {type(case).__name__}, not Case")
            cases.append(case)
    except NotImplementedError:
        return Result(name=name, status="not attempted")
    except Exception as exc:
        if tracked is not answer:  # a plain function: we know exactly which errors came from it
            where = getattr(exc, "_cflearn_learner", None)
        else:
            where = _learner_frame(exc.__traceback__)
        if where is None:
            return Result(
                name=name,
                status="error",
                message=f"the checker failed ({type(exc).__name__}: {exc}); this is a bug in cflearn, not in your answer.",
                cases=cases,
            )
        return Result(name=name, status="error", message=f"your code raised {type(exc).__name__}: {exc} ({where})", cases=cases)
    if not cases:
        return Result(name=name, status="error", message="the checker failed: it checked no cases.")
    status = "passed" if all(bool(c.passed) for c in cases) else "failed"
    return Result(name=name, status=status, cases=cases)


def _track(answer: Any) -> Any:
    """Wrap a plain function so that exceptions raised inside it are marked as the learner's."""
    if not inspect.isfunction(answer):
        return answer

    @functools.wraps(answer)
    def tracked(*args, **kwargs):
        try:
            return answer(*args, **kwargs)
        except NotImplementedError:
            raise
        except Exception as exc:
            if not hasattr(exc, "_cflearn_learner"):
                # skip this wrapper's own frame; the rest is the learner's call stack
                where = _learner_frame(exc.__traceback__.tb_next) or _first_frame(exc.__traceback__.tb_next)
                try:
                    exc._cflearn_learner = where
                except AttributeError:  # exceptions with __slots__; fall back to the frame search
                    pass
            raise

    return tracked


def _first_frame(tb) -> str:
    frames = traceback.extract_tb(tb)
    return _format_frame(frames[0]) if frames else "in your code"


def _learner_frame(tb) -> str | None:
    """The deepest traceback frame outside cflearn and installed libraries, formatted."""
    import cflearn

    pkg_dir = os.path.dirname(os.path.abspath(cflearn.__file__))
    frames = traceback.extract_tb(tb)
    learner = [
        f
        for f in frames
        if not os.path.abspath(f.filename).startswith(pkg_dir)
        and "site-packages" not in f.filename
        and not f.filename.startswith(_STDLIB)
    ]
    if not learner:
        return None
    return _format_frame(learner[-1])


def _format_frame(f) -> str:
    where = "cell line" if f.filename.startswith("<") or "ipykernel" in f.filename else f"{os.path.basename(f.filename)} line"
    code = f": {f.line.strip()}" if f.line else ""
    return f"in {f.name}, {where} {f.lineno}{code}"


def _log(result: Result) -> None:
    path = os.environ.get("CFLEARN_CHECK_LOG")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"name": result.name, "status": result.status}) + "\n")
    except OSError:
        pass


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: Any) -> str:
    """A short description of a value's type and shape, e.g. "a numpy array of shape (3,)"."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape}"
    mod = type(value).__module__
    if mod.startswith("pandas"):
        return f"a pandas {type(value).__name__} of shape {value.shape}"
    if mod.startswith("torch") and hasattr(value, "shape"):
        return f"a torch tensor of shape {tuple(value.shape)}"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"a {type(value).__name__} of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


def close(got: Any, expected: Any, atol: float = 1e-6, rtol: float = 1e-5) -> tuple[bool, str]:
    """Compare ``got`` with ``expected`` (scalars, arrays, tensors, frames).

    Returns ``(ok, message)``; the message says what differs, for example
    "got a list, expected a numpy array of shape (3,)". Never raises.
    """
    import numpy as np

    try:
        if type(expected).__module__.startswith("pandas"):
            if type(got) is not type(expected):
                return False, f"got {describe(got)}, expected {describe(expected)}"
            if got.shape != expected.shape:
                return False, f"got shape {got.shape}, expected shape {expected.shape}"
            if hasattr(expected, "columns") and list(got.columns) != list(expected.columns):
                return False, f"got columns {list(got.columns)}, expected {list(expected.columns)}"
            got, expected = got.to_numpy(), expected.to_numpy()
        if isinstance(expected, np.ndarray):
            if hasattr(got, "detach"):
                got = got.detach().cpu().numpy()
            elif hasattr(got, "numpy") and not isinstance(got, np.ndarray):
                got = np.asarray(got)
            if not isinstance(got, np.ndarray):
                return False, f"got {describe(got)}, expected {describe(expected)}"
            if got.shape != expected.shape:
                return False, f"got shape {got.shape}, expected shape {expected.shape}"
        elif isinstance(expected, (int, float, np.number)) and not isinstance(expected, bool):
            if hasattr(got, "item") and getattr(got, "ndim", 0) == 0:
                got = got.item()
            if not isinstance(got, (int, float, np.number)) or isinstance(got, bool):
                return False, f"got {describe(got)}, expected a number"
        elif isinstance(expected, (list, tuple)):
            if not isinstance(got, (list, tuple)):
                return False, f"got {describe(got)}, expected {describe(expected)}"
            if len(got) != len(expected):
                return False, f"got {describe(got)}, expected {describe(expected)}"
            for i, (g, e) in enumerate(zip(got, expected)):
                ok, why = close(g, e, atol=atol, rtol=rtol)
                if not ok:
                    return False, f"item {i}: {why}"
            return True, ""
        else:
            ok = bool(got == expected)
            return ok, "" if ok else f"got {_short(got)}, expected {_short(expected)}"
        g, e = np.asarray(got), np.asarray(expected)
        if g.dtype.kind in "fciub" and e.dtype.kind in "fciub":
            ok = bool(np.allclose(g, e, atol=atol, rtol=rtol, equal_nan=True))
            if ok:
                return True, ""
            diff = float(np.nanmax(np.abs(g.astype(float) - e.astype(float)))) if g.size else 0.0
            return False, f"values differ (largest difference {diff:.3g}, allowed {atol:g})"
        ok = bool(np.array_equal(g, e))
        return ok, "" if ok else "values differ"
    except Exception as exc:
        return False, f"could not compare: {type(exc).__name__}: {exc}"
