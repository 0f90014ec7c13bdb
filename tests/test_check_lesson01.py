"""Lesson 01 checkers: the reference answers pass, typical wrong answers fail."""

import numpy as np
import pandas as pd
import pytest

from cflearn import check


# ----------------------------------------------------------------------------- references


def encode_column(train_col, col):
    mapping = {key: i for i, key in enumerate(pd.unique(train_col))}  # first-appearance order
    encoded = np.array([mapping.get(x, -1) for x in col], dtype=np.int64)
    return mapping, encoded


def encode_column_sorted(train_col, col):
    uniq = np.unique(train_col.to_numpy())
    mapping = {key: i for i, key in enumerate(uniq.tolist())}
    return mapping, col.map(mapping).fillna(-1).astype("int64").to_numpy()


def encode_ratings(train, valid, encode=encode_column):
    train, valid = train.copy(), valid.copy()
    for raw, col in (("userId", "user"), ("movieId", "item")):
        _, train[col] = encode(train[raw], train[raw])
        _, valid[col] = encode(train[raw], valid[raw])
    keep = (valid["user"] >= 0) & (valid["item"] >= 0)
    return train, valid[keep].reset_index(drop=True), int((~keep).sum())


def stub(*args):
    raise NotImplementedError("Exercise: write your answer here, then run the check below.")



def _first_hint(result):
    """The hint of the first failing case: the one a learner reads first."""
    failing = [c.hint for c in result.cases if not c.passed]
    assert failing, result
    return failing[0]

def test_registered():
    assert check.names(lesson="01") == ["encode_column", "encode_ratings"]


def test_references_pass():
    assert check.run("encode_column", encode_column).status == "passed"
    assert check.run("encode_column", encode_column_sorted).status == "passed"
    assert check.run("encode_ratings", encode_ratings).status == "passed"
    assert check.run("encode_ratings", lambda t, v: encode_ratings(t, v, encode_column_sorted)).status == "passed"


def test_ratings_index_kept_or_reset_both_pass():
    def keep_index(train, valid):
        t, v, n = encode_ratings(train, valid)
        return t, v.set_index(v.index * 10), np.int64(n)

    assert check.run("encode_ratings", keep_index).status == "passed"


def test_reference_encoder_passes():
    """The course's own IdEncoder, used the way the lesson uses it, passes the ratings check."""
    data = pytest.importorskip("cflearn.data")

    def with_encoder(train, valid):
        enc = data.IdEncoder().fit(train)
        t, v = enc.transform(train, name="train"), enc.transform(valid)
        return t, v, len(valid) - len(v)

    assert check.run("encode_ratings", with_encoder).status == "passed"


# ------------------------------------------------------------------- wrong column encoders


def _fit_on_col(train_col, col):  # fitted on the column being encoded (validation)
    return encode_column(col, col)


def _fit_on_both(train_col, col):  # fitted on train + validation: a leak
    mapping, _ = encode_column(pd.concat([train_col, col]), col)
    return mapping, np.array([mapping.get(x, -1) for x in col])


def _from_one(train_col, col):
    mapping = {k: v + 1 for k, v in encode_column(train_col, col)[0].items()}
    return mapping, np.array([mapping.get(x, -1) for x in col])


def _unseen_zero(train_col, col):
    mapping, _ = encode_column(train_col, col)
    return mapping, np.array([mapping.get(x, 0) for x in col])


def _unseen_next(train_col, col):
    mapping, _ = encode_column(train_col, col)
    return mapping, np.array([mapping.get(x, len(mapping)) for x in col])


def _positions(train_col, col):  # index of the last occurrence: not contiguous when IDs repeat
    mapping = {key: i for i, key in enumerate(train_col)}
    return mapping, np.array([mapping.get(x, -1) for x in col])


def _raw_ids(train_col, col):
    mapping = {key: key for key in train_col}
    return mapping, np.array([mapping.get(x, -1) for x in col])


def _modifies(train_col, col):
    mapping, encoded = encode_column(train_col, col)
    col[:] = encoded if col.dtype.kind in "iu" else col  # overwrite the caller's column
    if col.dtype.kind not in "iu":
        col.iloc[0] = "changed"
    return mapping, encoded


def _float_series(train_col, col):
    mapping, _ = encode_column(train_col, col)
    return mapping, col.map(mapping).fillna(-1)


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (_fit_on_col, "fit it on the training column only"),
        (_fit_on_both, "fit it on the training column only"),
        (_from_one, "start at 1"),
        (_unseen_zero, "-1"),
        (_unseen_next, "-1"),
        (_positions, "contiguous"),
        (_raw_ids, "contiguous"),
        (_modifies, "changed a frame or column"),
        (_float_series, "numpy integer array"),
        (lambda t, c: encode_column(t, c)[1], "tuple of two"),
        (lambda t, c: list(encode_column(t, c)), "tuple of two"),
        (lambda t, c: (encode_column(t, c)[0], encode_column(t, c)[1].tolist()), "numpy integer array"),
        (lambda t, c: (encode_column(t, c)[0], encode_column(t, c)[1][:, None]), "shape"),
        (lambda t, c: (encode_column(t, c)[0], encode_column(t, c)[1][::-1]), "encoded[k]"),
        (lambda t, c: (list(encode_column(t, c)[0]), encode_column(t, c)[1]), "dict"),
    ],
)
def test_encode_column_wrong_answers_fail(wrong, fragment):
    result = check.run("encode_column", wrong)
    assert result.status == "failed", result
    assert fragment in _first_hint(result), repr(result)
    assert "expected" in repr(result)


# ------------------------------------------------------------------ wrong ratings encoders


def _ratings_fit_each(train, valid):  # each split with its own mapping
    t, _, _ = encode_ratings(train, valid)
    v, _, _ = encode_ratings(valid, valid)
    return t, v, 0


def _ratings_fit_both(train, valid):  # encoder fitted on train + valid before use: a leak
    both = pd.concat([train, valid], ignore_index=True)
    enc, _, _ = encode_ratings(both, both)
    n = len(train)
    return enc.iloc[:n].reset_index(drop=True), enc.iloc[n:].reset_index(drop=True), 0


def _ratings_from_one(train, valid):
    t, v, n = encode_ratings(train, valid)
    for df in (t, v):
        df["user"] += 1
        df["item"] += 1
    return t, v, n


def _ratings_keep_unseen(train, valid):
    t, v = train.copy(), valid.copy()
    for raw, col in (("userId", "user"), ("movieId", "item")):
        _, t[col] = encode_column(train[raw], train[raw])
        _, v[col] = encode_column(train[raw], valid[raw])
    return t, v, 0


def _ratings_garbage_unseen(train, valid):
    t, v, _ = _ratings_keep_unseen(train, valid)
    v.loc[v["user"] < 0, "user"] = 0
    v.loc[v["item"] < 0, "item"] = 0
    return t, v, 0


def _ratings_users_only(train, valid):  # drops unseen users but forgets unseen items
    t, v, _ = _ratings_keep_unseen(train, valid)
    keep = v["user"] >= 0
    return t, v[keep], int((~keep).sum())


def _ratings_wrong_count(train, valid):
    t, v, n = encode_ratings(train, valid)
    return t, v, len(v)


def _ratings_raw_ids(train, valid):  # the raw IDs used as indices
    t, v, n = encode_ratings(train, valid)
    for df in (t, v):
        df["user"], df["item"] = df["userId"], df["movieId"]
    return t, v, n


def _ratings_in_place(train, valid):
    for raw, col in (("userId", "user"), ("movieId", "item")):
        _, train[col] = encode_column(train[raw], train[raw])
    t, v, n = encode_ratings(train.drop(columns=["user", "item"]), valid)
    return t, v, n


def _ratings_replace_columns(train, valid):  # overwrites userId/movieId instead of adding user/item
    t, v, n = encode_ratings(train, valid)
    t = t.drop(columns=["userId", "movieId"]).rename(columns={"user": "userId", "item": "movieId"})
    v = v.drop(columns=["userId", "movieId"]).rename(columns={"user": "userId", "item": "movieId"})
    return t, v, n


def _ratings_float(train, valid):
    t, v, n = encode_ratings(train, valid)
    return t.astype({"user": float}), v.astype({"user": float}), n


def _ratings_drops_train_rows(train, valid):
    t, v, n = encode_ratings(train, valid)
    return t.iloc[1:], v, n


def _ratings_shuffled(train, valid):
    t, v, n = encode_ratings(train, valid)
    return t, v.iloc[::-1], n


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (_ratings_fit_each, "mapping fitted on train"),
        (_ratings_fit_both, "fit the encoding on train only"),
        (_ratings_from_one, "start at 1"),
        (_ratings_keep_unseen, "index -1"),
        (_ratings_garbage_unseen, "fit the encoding on train only"),
        (_ratings_users_only, "index -1"),
        (_ratings_wrong_count, "n_dropped"),
        (_ratings_raw_ids, "contiguous"),
        (_ratings_in_place, "changed a frame"),
        (_ratings_replace_columns, "'user' and 'item'"),
        (_ratings_float, "integers"),
        (_ratings_drops_train_rows, "training rows"),
        (_ratings_shuffled, "in order"),
        (lambda t, v: encode_ratings(t, v)[:2], "tuple of three"),
        (lambda t, v: list(encode_ratings(t, v)), "tuple of three"),
        (lambda t, v: (encode_ratings(t, v)[0], encode_ratings(t, v)[1].to_numpy(), 2), "DataFrame"),
        (lambda t, v: (*encode_ratings(t, v)[:2], float(encode_ratings(t, v)[2])), "should be an int"),
    ],
)
def test_encode_ratings_wrong_answers_fail(wrong, fragment):
    result = check.run("encode_ratings", wrong)
    assert result.status == "failed", result
    assert fragment in _first_hint(result), repr(result)


def test_raising_answer_is_an_error_and_stub_not_attempted():
    def buggy_column(train_col, col):
        mapping = dict(enumerate(train_col.unique()))
        return mapping, col.map(mapping).astype("int64").to_numpy()  # NaN -> int raises

    def buggy_ratings(train, valid):
        return train.merge(valid, on="no_such_column")

    for name, buggy in (("encode_column", buggy_column), ("encode_ratings", buggy_ratings)):
        result = check.run(name, buggy)
        assert result.status == "error", result
        assert "your code raised" in result.message
        assert f"in {buggy.__name__}" in result.message
        assert check.run(name, stub).status == "not attempted"
        assert check.run(name, None).status == "not attempted"


def test_messages_never_show_reference_code():
    for name, wrong in (("encode_column", _from_one), ("encode_ratings", _ratings_from_one)):
        text = repr(check.run(name, wrong)) + check.run(name, wrong)._repr_html_()
        assert "def " not in text and "enumerate" not in text and "_reference_mapping" not in text
