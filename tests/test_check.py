"""Tests for the exercise-check framework (cflearn.check)."""

import contextlib
import json

import numpy as np
import pandas as pd
import pytest

from cflearn import check
from cflearn.check import core
from cflearn.check.core import Case, close, exercise

SECRET = "reference_square_secret_marker"


def _toy_square(answer):
    reference_square_secret_marker = np.array([1.0, 4.0, 9.0])  # must never be shown
    for x in (np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 1.0])):
        expected = x**2
        got = answer(x)
        ok, why = close(got, expected)
        yield Case(input=f"x={x.tolist()}", expected=expected, got=got, passed=ok, hint=why or "square each entry")
    del reference_square_secret_marker


def _toy_broken(answer):
    answer(1.0)
    {}["missing"]  # a bug in the checker itself
    yield Case()


@contextlib.contextmanager
def restored_registry():
    """Register toy exercises, then restore the registry as it was."""
    saved = dict(core._REGISTRY)
    exercise("toy_square", lesson="99")(_toy_square)
    exercise("toy_broken_checker", lesson="99")(_toy_broken)
    try:
        yield
    finally:
        core._REGISTRY.clear()
        core._REGISTRY.update(saved)


@pytest.fixture(autouse=True)
def toy_exercises():
    with restored_registry():
        yield


def test_registry_is_restored_between_tests():
    with restored_registry():
        exercise("toy_temporary", lesson="98")(_toy_square)
        assert "toy_temporary" in check.names()
    assert "toy_temporary" not in check.names() and "toy_square" in check.names()


def test_typo_suggests_the_close_name():
    result = check.run("Toy_Sqare", square)
    assert result.status == "error" and "did you mean 'toy_square'?" in result.message


def test_answer_replacing_numpy_functions_cannot_make_later_answers_pass():
    def cheat(x):
        np.allclose = lambda *a, **k: True
        np.array_equal = lambda *a, **k: True
        return x * 0

    original = np.allclose
    assert check.run("toy_square", cheat).status == "failed"
    assert np.allclose is original
    assert check.run("toy_square", lambda x: x * 0).status == "failed"


def test_endless_answer_times_out_and_the_next_run_works(monkeypatch):
    import time

    monkeypatch.setenv("CFLEARN_CHECK_TIMEOUT", "1")

    def forever(x):
        while True:
            time.sleep(0.01)

    start = time.monotonic()
    result = check.run("toy_square", forever)
    assert time.monotonic() - start < 5
    assert result.status == "failed" and "still running after 1 s" in repr(result)
    assert check.run("toy_square", square).passed


@pytest.mark.parametrize("exc", [SystemExit(0), KeyboardInterrupt()])
def test_exits_raised_by_the_answer_are_contained(exc):
    def leaves(x):
        raise exc

    result = check.run("toy_square", leaves)
    assert result.status == "error" and type(exc).__name__ in result.message and "in leaves" in result.message


def test_duplicate_name_from_another_checker_is_refused():
    def _other(answer):
        yield Case()

    with pytest.raises(ValueError, match="already registered"):
        exercise("toy_square", lesson="98")(_other)
    exercise("toy_square", lesson="99")(_toy_square)  # registering the same checker again is fine


def test_lesson_modules_are_discovered(tmp_path, monkeypatch):
    package = tmp_path / "fakecheck"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "lesson42.py").write_text(
        "from cflearn.check.core import exercise, Case\n"
        "@exercise('toy_discovered', lesson='42')\n"
        "def _toy(answer):\n"
        "    yield Case(passed=answer() == 1)\n"
    )
    (package / "helpers.py").write_text("raise RuntimeError('only lessonNN modules are imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from cflearn.check import _import_lessons

    assert _import_lessons([str(package)], "fakecheck") == ["lesson42"]
    assert check.names(lesson="42") == ["toy_discovered"]
    assert check.run("toy_discovered", lambda: 1).passed


def square(x):
    return x**2


def test_passed():
    result = check.run("toy_square", square)
    assert result.passed and result.status == "passed"
    assert len(result.cases) == 2
    assert "passed" in repr(result)


def test_not_attempted_none_and_notimplemented():
    def stub(x):
        raise NotImplementedError("Exercise: write your answer here, then run the check below.")

    for answer in (None, stub):
        result = check.run("toy_square", answer)
        assert result.status == "not attempted" and not result.passed


def test_failed_reports_cases():
    result = check.run("toy_square", lambda x: x * 2)
    assert result.status == "failed"
    text = repr(result)
    assert "x=[1.0, 2.0, 3.0]" in text and "largest difference 3" in text
    assert text.count("input:") == 2  # both inputs fail (-1 * 2 != 1)


def test_failed_shows_at_most_three():
    @exercise("toy_many", lesson="99")
    def _many(answer):
        for i in range(6):
            yield Case(input=i, expected=i, got=answer(i), passed=answer(i) == i)

    result = check.run("toy_many", lambda i: -1)
    assert result.status == "failed"
    assert repr(result).count("input:") == 3
    assert "6 of 6" in repr(result)
    assert result._repr_html_().count("<li>") == 3


def test_wrong_type_message():
    result = check.run("toy_square", lambda x: list(x**2))
    assert result.status == "failed"
    assert "got a list of length 3, expected a numpy array of shape (3,)" in repr(result)


def test_error_in_learner_code_points_at_learner_line():
    def answer_with_bug(x):
        y = x.nonexistent_attribute
        return y

    result = check.run("toy_square", answer_with_bug)
    assert result.status == "error"
    assert "AttributeError" in result.message
    assert "in answer_with_bug" in result.message
    assert "y = x.nonexistent_attribute" in result.message
    assert "core.py" not in result.message


def test_error_deep_in_numpy_still_names_learner_line():
    def answer(x):
        return np.reshape(x, (7, 7))

    result = check.run("toy_square", answer)
    assert result.status == "error"
    assert "ValueError" in result.message and "in answer" in result.message


def test_checker_bug_does_not_propagate():
    result = check.run("toy_broken_checker", lambda x: x)
    assert result.status == "error"
    assert "checker failed" in result.message
    assert "your code" not in result.message


def test_checker_yielding_nothing_is_an_error():
    @exercise("toy_empty", lesson="99")
    def _empty(answer):
        return iter(())

    assert check.run("toy_empty", square).status == "error"


def test_unknown_name_lists_known_names():
    result = check.run("no_such_exercise", square)
    assert result.status == "error"
    assert "no_such_exercise" in result.message and "toy_square" in result.message


def test_names_sorted_and_by_lesson():
    all_names = check.names()
    assert "toy_square" in all_names
    lessons = [core._REGISTRY[n].lesson for n in all_names]
    assert lessons == sorted(lessons)
    assert "toy_square" in check.names(lesson="99")
    assert "toy_square" in check.names_by_lesson()["99"]
    assert check.names(lesson="99") == sorted(check.names(lesson="99"))


def test_html_repr_never_shows_checker_source():
    for answer in (square, None, lambda x: x, lambda x: 1 / 0):
        result = check.run("toy_square", answer)
        page = result._repr_html_() + repr(result)
        assert SECRET not in page
        assert "def _toy_square" not in page and "yield Case" not in page
    assert check.run("toy_square", square)._repr_html_().count("\n") == 0  # one line


def test_log(tmp_path, monkeypatch):
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv("CFLEARN_CHECK_LOG", str(log))
    check.run("toy_square", square)
    check.run("toy_square", None)
    check.run("unknown", None)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert rows == [
        {"name": "toy_square", "status": "passed"},
        {"name": "toy_square", "status": "not attempted"},
        {"name": "unknown", "status": "error"},
    ]


@pytest.mark.parametrize(
    "got, expected, ok, fragment",
    [
        (3.0, 3.0 + 1e-9, True, ""),
        (np.float32(2.5), 2.5, True, ""),
        ("3", 3.0, False, "got a str, expected a number"),
        (np.zeros((2, 3)), np.zeros(3), False, "got shape (2, 3), expected shape (3,)"),
        (np.array([1.0, 2.0]), np.array([1.0, 2.5]), False, "largest difference 0.5"),
        ([1, 2], np.array([1, 2]), False, "got a list of length 2"),
        (pd.DataFrame({"a": [1]}), pd.DataFrame({"b": [1]}), False, "expected ['b']"),
        (pd.Series([1.0, 2.0]), pd.Series([1.0, 2.0]), True, ""),
        (np.array([1.0]), pd.Series([1.0]), False, "got a numpy array of shape (1,), expected a pandas Series"),
        ({"a": 1}, {"a": 1}, True, ""),
        ([1.0, 2.0], [1.0, 2.0 + 1e-9], True, ""),
        ([1.0, 2.0], [1.0, 3.0], False, "item 1: values differ"),
        (np.array([1.0, 2.0]), [1.0, 2.0], False, "got a numpy array of shape (2,), expected a list of length 2"),
        ((1, 2, 3), (1, 2), False, "got a tuple of length 3, expected a tuple of length 2"),
        ("abc", "abd", False, "got abc, expected abd"),
    ],
)
def test_close(got, expected, ok, fragment):
    result, message = close(got, expected)
    assert result is ok
    assert fragment in message


def test_close_accepts_torch_tensor():
    torch = pytest.importorskip("torch")
    assert close(torch.tensor([1.0, 2.0]), np.array([1.0, 2.0]))[0]
