"""The exercise-check framework: registration, running, results and comparison helpers.

Per-lesson checker modules (``cflearn/check/lessonNN.py``) register exercises with
:func:`exercise` and yield :class:`Case` objects; :func:`run` turns them into a
:class:`Result`. Nothing here knows about any particular lesson.
"""

from __future__ import annotations

import ast
import difflib
import dis
import html
import inspect
import json
import os
import sysconfig
import textwrap
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from cflearn.check.compare import as_numpy, close, describe, diagnose, short, type_problem
from cflearn.check.guard import Answer, LearnerError, TimedOut, call_with_timeout, restore

__all__ = ["Case", "Result", "exercise", "run", "names", "names_by_lesson", "reference", "close", "describe", "diagnose"]

TIMEOUT_S = 30.0  # seconds an answer may run; CFLEARN_CHECK_TIMEOUT overrides it

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
    reference: Callable | None = None
    takes_class: bool = False


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


def exercise(name: str, lesson: str, reference: Callable | None = None, *, takes_class: bool = False) -> Callable:
    """Register a checker: a generator taking the learner's ``answer`` and yielding Cases.

    ``reference`` is a right answer: the tests run it through the checker, and when a checker
    trips over a learner's odd return value, the reference's return value says what was expected.
    ``takes_class``: the answer is a class (a model the learner wrote), not a function.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("exercise name must be a non-empty string")

    def register(checker: Callable) -> Callable:
        old = _REGISTRY.get(name)
        if old is not None and _origin(old.checker) != _origin(checker):
            raise ValueError(
                f"exercise {name!r} is already registered by {'.'.join(_origin(old.checker))}; pick another name"
            )
        _REGISTRY[name] = _Exercise(name=name, lesson=str(lesson).zfill(2), checker=checker, reference=reference,
                                    takes_class=takes_class)
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


def reference(name: str) -> Callable | None:
    """The reference solution registered for exercise ``name`` (None when it has none)."""
    ex = _REGISTRY.get(name)
    return ex.reference if ex is not None else None


def timeout_s() -> float:
    """Seconds an answer may take: ``CFLEARN_CHECK_TIMEOUT`` if set, else :data:`TIMEOUT_S`."""
    try:
        value = float(os.environ.get("CFLEARN_CHECK_TIMEOUT", TIMEOUT_S))
    except ValueError:
        value = TIMEOUT_S
    return value if value > 0 else TIMEOUT_S


def run(name: str, answer: Callable | None) -> Result:
    """Check ``answer`` against the exercise ``name``; never raises.

    A real interrupt (the kernel's stop button) still stops it. Introduced in lesson 01.
    """
    try:
        result = _run(name, answer)
    except KeyboardInterrupt:  # only the user's own interrupt gets here; an answer's is contained
        raise
    except BaseException as exc:  # a last guard: the framework itself must not raise
        result = Result(name=str(name), status="error", message=f"the checker failed ({type(exc).__name__}).")
    finally:
        restore()
    _log(result)
    return result


def _unknown(name: Any, answer: Any) -> Result:
    if not isinstance(name, str):
        if isinstance(answer, str) and answer in _REGISTRY:
            return Result(name=str(answer), status="error",
                          message=f"the exercise name comes first: check.run({answer!r}, {answer})")
        return Result(name=short(name, 40), status="error", message=f"the exercise name should be a string, got {describe(name)}")
    by_lower = {n.lower(): n for n in _REGISTRY}
    close_ones = difflib.get_close_matches(name.strip().lower(), list(by_lower), n=1, cutoff=0.6)
    if close_ones:
        guess = by_lower[close_ones[0]]
        return Result(name=name, status="error", message=f"no exercise called {name!r}; did you mean {guess!r}?")
    known = ", ".join(names()) or "(none registered)"
    return Result(name=name, status="error", message=f"no exercise called {name!r}. Known exercises: {known}")


def _is_model(value: Any) -> bool:
    """A torch module or a Keras layer/model: callable, but a built object, not a function."""
    mods = [getattr(c, "__module__", "") or "" for c in type(value).__mro__]
    return any(m.startswith(("torch.nn", "keras")) for m in mods)


def _is_model_class(value: Any) -> bool:
    """A class of torch modules or Keras layers/models (a learner's model class is an answer)."""
    if not isinstance(value, type):
        return False
    mods = [getattr(c, "__module__", "") or "" for c in value.__mro__[1:]]
    return any(m.startswith(("torch.nn", "keras")) for m in mods)


def _value_problem(name: str, answer: Any, takes_class: bool = False) -> str:
    """Why ``answer`` is not something to call ("" when it is a function, a model class or other callable)."""
    if callable(answer) and not _is_model(answer) and (
            takes_class or not isinstance(answer, type) or _is_model_class(answer)):
        return ""
    if _is_model(answer):
        what = f"a model object ({type(answer).__name__})"
        todo = ("pass the class itself, not a model built from it" if takes_class else
                "pass the function that builds it (the class itself when the exercise asks for a model class)")
    elif isinstance(answer, type):
        what = f"the class {answer.__name__}"
        todo = "pass your function"
    else:
        if isinstance(answer, (int, float, str, bool)) or (hasattr(answer, "item") and getattr(answer, "ndim", 1) == 0):
            what = f"the value {short(answer, 40)}"
        else:
            what = f"a value ({describe(answer)})"
        todo = "pass the function itself, without calling it"
    return f"you passed {what}; {todo}: check.run({name!r}, {name})"


def _is_stub(answer: Any) -> bool:
    """A function whose body is only ``...`` or ``pass`` (after an optional docstring)."""
    if not inspect.isfunction(answer):
        return False
    ops = [i.opname for i in dis.get_instructions(answer.__code__) if i.opname not in ("RESUME", "NOP", "CACHE")]
    if ops not in (["LOAD_CONST", "RETURN_VALUE"], ["RETURN_CONST"]):
        return False
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(answer)))
    except (OSError, TypeError, SyntaxError):
        return False
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not funcs:
        return False
    body = funcs[0].body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]
    return bool(body) and all(
        isinstance(n, ast.Pass) or (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) and n.value.value is Ellipsis)
        for n in body
    )


def _run(name: str, answer: Callable | None) -> Result:
    ex = _REGISTRY.get(name) if isinstance(name, str) else None
    if ex is None:
        return _unknown(name, answer)
    if answer is None or _is_stub(answer):
        return Result(name=name, status="not attempted")
    problem = _value_problem(name, answer, ex.takes_class)
    if problem:
        case = Case(input=f"check.run({name!r}, ...)", expected="a function", got=describe(answer), hint=problem)
        return Result(name=name, status="failed", message=problem, cases=[case])
    cases: list = []
    tracked = Answer(answer, _where)

    def work():
        for case in ex.checker(tracked):
            if not isinstance(case, Case):
                raise TypeError(f"checker yielded {type(case).__name__}, not Case")
            cases.append(case)

    try:
        call_with_timeout(work, timeout_s())
    except TimedOut:
        limit = timeout_s()
        hint = (f"your function was still running after {limit:g} s: look for a loop that never ends "
                "(or raise the limit with the CFLEARN_CHECK_TIMEOUT environment variable)")
        case = Case(input="the case after the last one shown" if cases else "the first case",
                    expected=f"an answer within {limit:g} s", got=f"still running after {limit:g} s", hint=hint)
        return Result(name=name, status="failed", message=hint, cases=[*cases, case])
    except NotImplementedError:
        return Result(name=name, status="not attempted")
    except LearnerError as err:
        exc = err.original
        return Result(name=name, status="error", message=f"your code raised {type(exc).__name__}: {exc} ({err.where})", cases=cases)
    except Exception as exc:
        explained = _explain_crash(ex, tracked, cases)
        if explained is not None:
            return explained
        return Result(
            name=name,
            status="error",
            message=f"the checker failed ({type(exc).__name__}: {exc}); this is a bug in cflearn, not in your answer.",
            cases=cases,
        )
    if not cases:
        return Result(name=name, status="error", message="the checker failed: it checked no cases.")
    status = "passed" if all(bool(c.passed) for c in cases) else "failed"
    return Result(name=name, status=status, cases=cases)


def _explain_crash(ex: _Exercise, tracked: Answer, cases: list) -> Result | None:
    """A checker that tripped over an odd return value: report the value, not a cflearn bug."""
    if tracked.last is None:
        return None
    args, kwargs, got = tracked.last
    problem = "your function returned None: did you forget the return statement?" if got is None else ""
    expected = None
    if not problem and ex.reference is not None:
        try:
            expected = ex.reference(*args, **kwargs)
        except BaseException:  # noqa: BLE001 - the reference on the learner's (maybe changed) inputs
            return None
        problem = type_problem(got, expected)
        if not problem:
            g, e = as_numpy(got), as_numpy(expected)
            if g is not None and e is not None and g.shape != e.shape:
                problem = f"returned shape {tuple(g.shape)}; expected shape {tuple(e.shape)}"
    if not problem:
        return None
    case = Case(input="the last call", expected=describe(expected) if expected is not None else "a value",
                got=describe(got), hint=problem)
    return Result(name=ex.name, status="failed", message=problem, cases=[*cases, case])


def _where(tb) -> str:
    return _learner_frame(tb) or _first_frame(tb)


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
    return short(value, limit)
