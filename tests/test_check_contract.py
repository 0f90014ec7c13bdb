"""One contract for every registered exercise checker (``check.names()``).

For each: the stub is "not attempted"; None is "not attempted"; an answer that raises is
reported as the learner's error; a value instead of a function fails with a hint to pass the
function; SystemExit and KeyboardInterrupt raised by the answer are contained; odd return values
fail without blaming cflearn; the registered reference passes; no message shows its source.
"""

import inspect

import numpy as np
import pytest

from cflearn import check
from cflearn.check import core

pytest.importorskip("torch")

NAMES = check.names()
BUG = "bug in cflearn"


def _messages(result) -> str:
    return " ".join([repr(result), result._repr_html_(), result.message, *(c.hint for c in result.cases)])


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise: write your answer here, then run the check below.")


def ellipsis_stub(*args, **kwargs):
    """Write your answer here."""
    ...


def test_every_lesson_registers_with_a_reference():
    assert len(NAMES) >= 15
    for name in NAMES:
        assert callable(core.reference(name)), name


@pytest.mark.parametrize("name", NAMES)
def test_reference_passes(name):
    result = check.run(name, core.reference(name))
    assert result.status == "passed", result


@pytest.mark.parametrize("name", NAMES)
def test_stubs_and_none_are_not_attempted(name):
    for answer in (stub, ellipsis_stub, None):
        assert check.run(name, answer).status == "not attempted", (name, answer)


@pytest.mark.parametrize("name", NAMES)
def test_raising_answer_names_the_learners_exception(name):
    def broken(*args, **kwargs):
        return {}["no such key"]

    result = check.run(name, broken)
    assert result.status in ("failed", "error")
    assert "KeyError" in _messages(result) and BUG not in _messages(result)
    assert "in broken" in _messages(result)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("exc", [SystemExit(1), KeyboardInterrupt(), GeneratorExit()])
def test_base_exceptions_from_the_answer_are_contained(name, exc):
    def leaves(*args, **kwargs):
        raise exc

    result = check.run(name, leaves)  # must not raise
    assert result.status in ("failed", "error")
    assert type(exc).__name__ in result.message and BUG not in result.message


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value", [0.98, "sparsity", np.zeros(3), [1, 2], {"a": 1}], ids=repr)
def test_a_value_instead_of_a_function_fails_with_a_hint(name, value):
    result = check.run(name, value)
    assert result.status == "failed"
    hint = result.cases[0].hint
    assert "pass the function" in hint and f"check.run({name!r}, {name})" in hint


def test_a_model_object_instead_of_its_builder():
    torch = pytest.importorskip("torch")
    result = check.run("make_mlp", torch.nn.Linear(4, 1))
    assert result.status == "failed" and "pass the function that builds it" in result.cases[0].hint


ODD_RETURNS = [None, 0.98, "text", (1.0, None), [], [1, 2], {"x": 1}, np.zeros(3), np.zeros((2, 2)), (np.zeros(3), None)]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value", ODD_RETURNS, ids=lambda v: type(v).__name__)
def test_odd_return_values_fail_without_blaming_cflearn(name, value):
    result = check.run(name, lambda *args, **kwargs: value)
    assert result.status == "failed", result
    text = _messages(result)
    assert BUG not in text
    first = [c.hint for c in result.cases if not c.passed][0]
    assert first, result
    if value is None:
        assert "None" in first


@pytest.mark.parametrize("name", NAMES)
def test_torch_odd_returns_fail_without_blaming_cflearn(name):
    torch = pytest.importorskip("torch")
    for value in (torch.zeros(3), torch.zeros(2, 2), torch.nn.Linear(2, 1)):
        result = check.run(name, lambda *args, _v=value, **kwargs: _v)
        assert result.status == "failed", (value, result)
        assert BUG not in _messages(result)


def _source_lines(func) -> list[str]:
    lines = [line.strip() for line in inspect.getsource(func).splitlines()]
    return [line for line in lines if len(line) >= 15 and not line.startswith(('"""', "#"))]


@pytest.mark.parametrize("name", NAMES)
def test_no_message_shows_the_reference_source(name):
    ref = core.reference(name)
    lines = _source_lines(ref)
    answers = [ref, None, lambda *a, **k: None, lambda *a, **k: 0.5, lambda *a, **k: {}["x"], 0.5]
    for answer in answers:
        text = _messages(check.run(name, answer))
        for line in lines:
            assert line not in text, (name, line)
