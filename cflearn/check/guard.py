"""Running a learner's answer safely: time limit, contained exits, undone monkeypatches.

- :class:`Answer` wraps whatever the learner passed, so that every exception raised inside
  it is known to be theirs (``LearnerError``), ``SystemExit`` and other ``BaseException``
  included, and so that NumPy / PyTorch / pandas functions it replaced are put back as soon
  as it returns (a checker must never compare with a learner's ``np.allclose``).
- :func:`call_with_timeout` runs a checker in a daemon thread and stops waiting after a
  time limit; this works the same in a Jupyter kernel on Linux, macOS and Windows and leaves
  the kernel usable. A stuck answer is asked to stop (an exception raised in its thread).
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
import traceback
import types
from typing import Any, Callable

import numpy as np

__all__ = ["Answer", "LearnerError", "TimedOut", "call_with_timeout", "restore"]

# Namespaces whose functions an answer might replace, checked by name.
_WATCHED = ("numpy", "numpy.linalg", "torch", "torch.nn.functional", "pandas")
_WATCHED_CLASSES = (("torch", "Tensor"), ("pandas", "DataFrame"), ("pandas", "Series"))
_PRISTINE: dict[int, tuple[Any, dict]] = {}


def _is_function(value: Any) -> bool:
    return callable(value) and not isinstance(value, (type, types.ModuleType))


def _capture() -> None:
    """Remember the functions of every watched namespace, the first time it is seen imported."""
    targets = [sys.modules.get(name) for name in _WATCHED]
    for mod_name, cls_name in _WATCHED_CLASSES:
        mod = sys.modules.get(mod_name)
        targets.append(getattr(mod, cls_name, None) if mod is not None else None)
    for obj in targets:
        if obj is None or id(obj) in _PRISTINE:
            continue
        try:
            saved = {k: v for k, v in vars(obj).items() if _is_function(v)}
        except TypeError:
            continue
        _PRISTINE[id(obj)] = (obj, saved)


def restore() -> list[str]:
    """Put back every watched function an answer replaced; returns the names put back."""
    put_back = []
    for obj, saved in list(_PRISTINE.values()):
        current = vars(obj)
        for key, value in saved.items():
            if current.get(key, value) is not value:
                try:
                    setattr(obj, key, value)
                    put_back.append(f"{getattr(obj, '__name__', '?')}.{key}")
                except (AttributeError, TypeError):
                    pass
    return put_back


_capture()  # NumPy (and pandas / torch when already imported) as they are before any answer runs


class LearnerError(Exception):
    """An exception raised inside the learner's answer (``original`` is what they raised)."""

    def __init__(self, original: BaseException, where: str):
        super().__init__(f"{type(original).__name__}: {original}")
        self.original = original
        self.where = where


class TimedOut(Exception):
    """The checker did not finish within its time limit."""


class _Stop(BaseException):
    """Raised inside a stuck answer's thread to stop it."""


class Answer:
    """The learner's callable, wrapped: marks their exceptions and undoes their monkeypatches.

    ``last`` holds ``(args, kwargs, returned)`` of the latest call that returned, so that a
    checker which trips over a strange return value can be told apart from a checker bug.
    """

    def __init__(self, func: Callable, frame_finder: Callable):
        self.func = func
        self._frame = frame_finder
        self.last: tuple | None = None
        self.__name__ = getattr(func, "__name__", type(func).__name__)
        self.__doc__ = getattr(func, "__doc__", None)

    def __call__(self, *args, **kwargs):
        _capture()  # torch may have been imported by the checker just now
        try:
            out = self.func(*args, **kwargs)
        except NotImplementedError:
            raise
        except _Stop:
            raise
        except BaseException as exc:  # SystemExit, KeyboardInterrupt raised by the answer, ... all theirs
            tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
            raise LearnerError(exc, self._frame(tb) or _first_frame(tb)) from None
        finally:
            restore()
        self.last = (args, kwargs, out)
        return out

    def __getattr__(self, name):  # checkers may look at the answer's attributes
        return getattr(self.func, name)


def _first_frame(tb) -> str:
    frames = traceback.extract_tb(tb) if tb is not None else []
    if not frames:
        return "in your code"
    f = frames[0]
    return f"in {f.name}, line {f.lineno}"


def call_with_timeout(func: Callable[[], Any], timeout_s: float) -> Any:
    """``func()`` in a daemon thread; its result, its exception, or :class:`TimedOut`.

    A real interrupt (the Jupyter stop button) reaches the waiting thread: the worker is
    asked to stop and the ``KeyboardInterrupt`` goes on, as it should.
    """
    box: dict = {}

    def target():
        try:
            box["value"] = func()
        except _Stop:
            box["stopped"] = True
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=target, name="cflearn-check", daemon=True)
    worker.start()
    deadline = time.monotonic() + timeout_s
    try:
        while worker.is_alive():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            worker.join(min(left, 0.05))
    except KeyboardInterrupt:
        _stop(worker)
        raise
    if worker.is_alive():
        _stop(worker)
        raise TimedOut()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _stop(worker: threading.Thread) -> None:
    """Ask ``worker`` to stop by raising :class:`_Stop` in it (CPython; a no-op elsewhere)."""
    try:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident), ctypes.py_object(_Stop))
    except Exception:
        return
    worker.join(0.5)
    restore()
