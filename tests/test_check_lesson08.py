"""Lesson 08 checkers (mf_loss, mf_gradients): references pass, typical mistakes fail with hints."""

import numpy as np
import pytest

from cflearn import check
from cflearn import scratch


def stub(*args):
    raise NotImplementedError("Exercise: write your answer here, then run the check below.")


def _parts(params, users, items, ratings):
    bu, bi = params["user_bias"][users], params["item_bias"][items]
    p, q = params["user_factors"][users], params["item_factors"][items]
    err = params["global_mean"] + bu + bi + (p * q).sum(1) - ratings
    return err, bu, bi, p, q


def mf_loss(params, users, items, ratings, reg):
    err, bu, bi, p, q = _parts(params, users, items, ratings)
    mse = np.mean(err**2)
    return mse + reg * np.mean(bu**2 + bi**2 + (p**2).sum(1) + (q**2).sum(1)), mse


def grads_with(params, users, items, ratings, reg, scatter="add.at", factor=2.0, sign=1.0, use_reg=True, mean=False):
    err, bu, bi, p, q = _parts(params, users, items, ratings)
    r = reg if use_reg else 0.0
    parts = {
        "user_bias": (users, err + r * bu),
        "item_bias": (items, err + r * bi),
        "user_factors": (users, err[:, None] * q + r * p),
        "item_factors": (items, err[:, None] * p + r * q),
    }
    out = {}
    for name, (idx, part) in parts.items():
        g = np.zeros_like(params[name])
        part = sign * factor * part / (len(ratings) if mean else 1)
        if scatter == "add.at":
            np.add.at(g, idx, part)
        else:
            g[idx] += part  # loses repeated indices
        out[name] = g
    return out


def mf_gradients(params, users, items, ratings, reg):
    return grads_with(params, users, items, ratings, reg)


def _hints(result):
    return " ".join(c.hint for c in result.cases if not c.passed)


def test_registered():
    assert check.names(lesson="08") == ["mf_gradients", "mf_loss"]


@pytest.mark.parametrize("name, answer", [("mf_loss", mf_loss), ("mf_gradients", mf_gradients),
                                          ("mf_loss", scratch.loss), ("mf_gradients", scratch.gradients)])
def test_references_pass(name, answer):
    result = check.run(name, answer)
    assert result.status == "passed", result
    assert check.run(name, stub).status == "not attempted"


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"scatter": "fancy"}, "np.add.at"),
        ({"factor": 1.0}, "2 * err"),
        ({"sign": -1.0}, "sign"),
        ({"use_reg": False}, "penalty"),
        ({"mean": True}, "summed"),
    ],
)
def test_gradient_mistakes_fail_with_hints(kwargs, words):
    result = check.run("mf_gradients", lambda *a: grads_with(*a, **kwargs))
    assert result.status == "failed"
    assert words in _hints(result), _hints(result)


def test_loss_mistakes_fail():
    def rmse_not_mse(params, users, items, ratings, reg):
        a, b = mf_loss(params, users, items, ratings, reg)
        return a, np.sqrt(b)

    def no_penalty(params, users, items, ratings, reg):
        mse = mf_loss(params, users, items, ratings, 0.0)[1]
        return mse, mse

    def summed(params, users, items, ratings, reg):
        a, b = mf_loss(params, users, items, ratings, reg)
        return a * len(ratings), b * len(ratings)

    for answer, words in ((rmse_not_mse, "square root"), (no_penalty, "reg *"), (summed, "mean")):
        result = check.run("mf_loss", answer)
        assert result.status == "failed", answer.__name__
        assert words in _hints(result), (answer.__name__, _hints(result))
    assert check.run("mf_loss", lambda *a: 1.0).status == "failed"
    assert check.run("mf_gradients", lambda *a: [1, 2]).status == "failed"


def test_raising_answer_is_an_error():
    def broken(params, users, items, ratings, reg):
        return params["user_vectors"]

    result = check.run("mf_gradients", broken)
    assert result.status == "error" and "KeyError" in result.message


def _first_hint(result):
    """The hint of the first failing case: the one a learner reads first."""
    failing = [c.hint for c in result.cases if not c.passed]
    assert failing, result
    return failing[0]


def _loss_with(params, users, items, ratings, reg, *, mean=True, square=True, penalty="row"):
    err, bu, bi, p, q = _parts(params, users, items, ratings)
    if not mean:
        err = err - params["global_mean"]
    mse = np.mean(err**2) if square else np.mean(np.abs(err))
    if penalty == "row":
        pen = np.mean(bu**2 + bi**2 + (p**2).sum(1) + (q**2).sum(1))
    elif penalty == "factors":
        pen = np.mean((p**2).sum(1) + (q**2).sum(1))
    else:  # the whole table
        pen = sum(np.sum(params[k] ** 2) for k in ("user_bias", "item_bias", "user_factors", "item_factors"))
    return mse + reg * pen, mse


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"mean": False}, "global mean"),
        ({"square": False}, "absolute"),
        ({"penalty": "factors"}, "biases are penalised"),
        ({"penalty": "table"}, "whole table"),
    ],
)
def test_loss_mistakes_fail_with_first_hint(kwargs, fragment):
    result = check.run("mf_loss", lambda *a: _loss_with(*a, **kwargs))
    assert result.status == "failed", result
    assert fragment in _first_hint(result), _first_hint(result)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"scatter": "fancy"}, "np.add.at"),
        ({"factor": 1.0}, "2 * err"),
        ({"sign": -1.0}, "sign"),
        ({"use_reg": False}, "penalty has a gradient"),
        ({"mean": True}, "summed"),
    ],
)
def test_gradient_mistakes_first_hint(kwargs, fragment):
    result = check.run("mf_gradients", lambda *a: grads_with(*a, **kwargs))
    assert result.status == "failed"
    assert fragment in _first_hint(result), _first_hint(result)
