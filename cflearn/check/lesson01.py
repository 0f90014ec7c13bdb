"""Checks for lesson 01 (encoding): a column encoder and a ratings encoder, both fitted on train.

The inputs are frames of a handful of rows with sparse or string IDs, so that an answer
which uses the raw IDs as indices, counts from 1, fits on the wrong split or keeps unseen
rows shows up at once. Any order of the indices is accepted as long as they are
0..n-1, one per distinct training ID.
"""

from __future__ import annotations

from cflearn.check.compare import allclose, array_equal
from cflearn.check.core import Case, describe, exercise

_UNCHANGED = "your function changed a frame or column it was given; work on a copy (df.copy()) instead"


def _is_int_array(x) -> bool:
    import numpy as np

    return isinstance(x, np.ndarray) and x.dtype.kind in "iu"


def _plain(x):
    """NumPy scalars as plain Python values, so that messages read ``{11: 0}``, not ``{np.int64(11): 0}``."""
    return x.item() if hasattr(x, "item") and getattr(x, "ndim", 1) == 0 else x


def _show_column_answer(got) -> str:
    import numpy as np

    if not (isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], dict)):
        return _short_repr(got)
    mapping, encoded = got
    shown = {_plain(k): _plain(v) for k, v in mapping.items()}
    if isinstance(encoded, np.ndarray):
        return f"({shown}, array({encoded.tolist()}, dtype={encoded.dtype}))"
    return f"({shown}, {_short_repr(encoded)})"


def _short_repr(x) -> str:
    text = " ".join(repr(x).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _reference_mapping(train_col) -> dict:
    """Sorted unique training IDs -> 0..n-1 (the order shown as "expected")."""
    return {key: i for i, key in enumerate(sorted(set(train_col.tolist())))}


def _mapping_problem(mapping, train_keys: set, other_keys: set, name: str = "mapping") -> str:
    """Why ``mapping`` is not a contiguous 0..n-1 encoding of exactly the training IDs ("" if it is)."""
    if not isinstance(mapping, dict):
        return f"the {name} should be a dict from raw ID to index, got {describe(mapping)}"
    keys = set(mapping)
    n = len(train_keys)
    try:
        values = set(mapping.values())
    except TypeError:  # unhashable values: reported below
        values = set()
    if keys != train_keys and values == train_keys:
        return (
            f"the {name} is the wrong way round: its keys should be the raw IDs and its values "
            "their indices (ID -> index), not index -> ID"
        )
    if keys != train_keys:
        extra = keys - train_keys
        if extra & other_keys:
            return (
                f"the {name} has IDs that are not in the training column ({sorted(map(str, extra))}): "
                "fit it on the training column only"
            )
        return f"the {name} should have one key per distinct training ID ({n} of them), got {len(keys)} keys"
    import numpy as np

    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in mapping.values()):
        return f"the {name} values should be integer indices"
    values = sorted(int(v) for v in mapping.values())
    if values == list(range(n)):
        return ""
    if values == list(range(1, n + 1)):
        return "indices start at 1; they should start at 0 (an embedding with n rows has rows 0..n-1)"
    return f"the indices should be exactly 0..{n - 1}, each used once (contiguous), got {values}"


# ---------------------------------------------------------------------------------------
# (a) encode_column(train_col, col) -> (mapping, encoded)


def _column_cases():
    import pandas as pd

    return [
        # sparse integer IDs; 7 and 99 never appear in training
        (pd.Series([11, 11, 2, 31, 52, 2], name="userId"), pd.Series([2, 7, 52, 11, 99], name="userId")),
        # string IDs; encoding the training column itself: nothing is unseen
        (pd.Series(["tom", "ann", "zoe", "ann"], name="userId"), pd.Series(["tom", "ann", "zoe", "ann"], name="userId")),
        # large IDs and repeats in the other column
        (pd.Series([1000, 5, 1000], name="movieId"), pd.Series([6, 1000, 6, 5], name="movieId")),
    ]


def _check_column(answer, train_col, col):
    import numpy as np

    train_col_in, col_in = train_col, col
    saved_train, saved_col = train_col.copy(), col.copy()
    ref = _reference_mapping(train_col)
    exp_encoded = np.array([ref.get(x, -1) for x in col.tolist()], dtype=np.int64)
    shown = f"encode_column(train_col={train_col.tolist()}, col={col.tolist()})"
    expected = f"({ref}, array({exp_encoded.tolist()}))  (any order of the indices 0..{len(ref) - 1} is fine)"
    got = answer(train_col, col)
    train_col, col = saved_train, saved_col  # judge against the inputs as they were

    def case(ok, hint, shown_got=None):
        return Case(shown, expected, _show_column_answer(got) if shown_got is None else shown_got, ok, hint)

    if not (train_col.equals(train_col_in) and col.equals(col_in)):
        return case(False, _UNCHANGED)
    if got is None:
        return case(False, "your function returned None: did you forget the return statement?", "None")
    if not isinstance(got, tuple) or len(got) != 2:
        return case(False, f"returned {describe(got)}; return a tuple of two things: (mapping, encoded)", describe(got))
    mapping, encoded = got
    if isinstance(encoded, dict) and not isinstance(mapping, dict):
        return case(False, "the two results are swapped: return (mapping, encoded), the dict first")
    problem = _mapping_problem(mapping, set(train_col.tolist()), set(col.tolist()))
    if problem:
        return case(False, problem)
    if not _is_int_array(encoded):
        dtype = f" of dtype {encoded.dtype}" if hasattr(encoded, "dtype") else ""
        return case(False, f"encoded should be a numpy integer array, got {describe(encoded)}{dtype} (try .to_numpy())")
    if encoded.shape != (len(col),):
        return case(False, f"encoded should have shape ({len(col)},), one index per entry of col, got {encoded.shape}")
    want = np.array([mapping.get(x, -1) for x in col.tolist()], dtype=np.int64)
    if not np.array_equal(encoded, want):
        unseen = [i for i, x in enumerate(col.tolist()) if x not in mapping]
        if unseen and np.array_equal(np.delete(encoded, unseen), np.delete(want, unseen)):
            return case(False, "IDs never seen in training should be encoded as -1")
        return case(False, "encoded[k] should be mapping[col[k]] (or -1 when col[k] is not in the mapping)")
    return case(True, "")


def _reference_column(train_col, col):
    """Sorted training IDs -> 0..n-1; IDs not seen in training -> -1."""
    import numpy as np

    mapping = _reference_mapping(train_col)
    return mapping, np.array([mapping.get(x, -1) for x in col.tolist()], dtype=np.int64)


@exercise("encode_column", lesson="01", reference=_reference_column)
def _encode_column(answer):
    for train_col, col in _column_cases():
        yield _check_column(answer, train_col, col)


# ---------------------------------------------------------------------------------------
# (b) encode_ratings(train, valid) -> (train_enc, valid_enc, n_dropped)


def _ratings(rows):
    import numpy as np
    import pandas as pd

    df = pd.DataFrame(rows, columns=["userId", "movieId", "rating"])
    df["rating"] = df["rating"].astype(np.float32)
    return df


def _ratings_cases():
    return [
        (
            _ratings([(11, 1, 4.0), (11, 23, 5.0), (2, 23, 5.0), (2, 4, 3.0), (31, 1, 4.0), (52, 4, 1.0)]),
            # user 7 is unseen in training, movie 99 too: two rows go
            _ratings([(11, 4, 4.0), (31, 23, 3.0), (7, 1, 2.0), (52, 99, 5.0), (2, 1, 4.5)]),
        ),
        (
            _ratings([(300, 8, 2.0), (100, 9, 3.5), (200, 8, 4.0), (100, 7, 5.0)]),
            # every user and movie was seen in training: nothing is dropped
            _ratings([(200, 9, 1.0), (300, 7, 3.0)]),
        ),
        (
            _ratings([(5, 40, 3.0), (6, 40, 4.0), (5, 10, 2.0)]),
            # only the user is unseen in one row, only the movie in another
            _ratings([(6, 10, 5.0), (9, 40, 1.0), (5, 77, 4.0), (8, 88, 2.0)]),
        ),
    ]


def _compact(rows) -> str:
    return str(rows).replace(" ", "")


def _pairs(df) -> str:
    return _compact([tuple(r) for r in df[["userId", "movieId"]].to_numpy().tolist()])


def _frame_summary(df) -> str:
    if not hasattr(df, "columns"):
        return describe(df)
    cols = [c for c in ("userId", "movieId", "user", "item") if c in df.columns]
    return f"[{','.join(map(str, cols))}]: {_compact(df[cols].to_numpy().tolist())}"


def _learned_mapping(df, raw: str, col: str):
    """The raw ID -> index mapping a learner's encoded frame implies, or a reason it is not one."""
    pairs = df[[raw, col]].drop_duplicates()
    if pairs[raw].duplicated().any():
        return None, f"the same {raw} got different '{col}' indices in different rows"
    if pairs[col].duplicated().any():
        return None, f"different {raw} values share one '{col}' index"
    return {k: int(v) for k, v in zip(pairs[raw].tolist(), pairs[col].tolist())}, ""


def _check_frame_shape(df, name: str, like) -> str:
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        return f"{name} should be a pandas DataFrame, got {describe(df)}"
    missing = [c for c in ("user", "item") if c not in df.columns]
    if missing:
        return f"{name} should have new columns 'user' and 'item' (missing {missing})"
    lost = [c for c in like.columns if c not in df.columns]
    if lost:
        return f"{name} should keep the original columns {list(like.columns)} and add 'user' and 'item' (lost {lost})"
    for c in ("user", "item"):
        if df[c].dtype.kind not in "iu":
            return f"{name}['{c}'] should hold integers, got dtype {df[c].dtype}"
    return ""


def _check_ratings(answer, train, valid):
    import numpy as np

    train_in, valid_in = train, valid
    train, valid = train.copy(), valid.copy()  # judged against these, whatever the answer does
    users = _reference_mapping(train["userId"])
    items = _reference_mapping(train["movieId"])
    keep = valid["userId"].isin(list(users)) & valid["movieId"].isin(list(items))
    kept = valid[keep]
    n_drop = int((~keep).sum())
    shown = f"(userId,movieId) train={_pairs(train)} valid={_pairs(valid)}"
    exp_valid = [[u, m, users[u], items[m]] for u, m in zip(kept["userId"].tolist(), kept["movieId"].tolist())]
    expected = f"valid_enc [userId,movieId,user,item]: {_compact(exp_valid)}; n_dropped={n_drop}"
    got = answer(train_in, valid_in)

    def case(ok, hint, shown_got=None):
        return Case(shown, expected, shown_got, ok, hint)

    if not (train_in.equals(train) and valid_in.equals(valid)):
        return case(False, _UNCHANGED, describe(got))

    if got is None:
        return case(False, "your function returned None: did you forget the return statement?", "None")
    if not isinstance(got, tuple) or len(got) != 3:
        return case(False, f"returned {describe(got)}; return a tuple of three things: (train_enc, valid_enc, n_dropped)",
                    describe(got))
    train_enc, valid_enc, n_dropped = got
    shown_got = f"valid_enc {_frame_summary(valid_enc)}, n_dropped={n_dropped!r}"
    for df, name, like in ((train_enc, "train_enc", train), (valid_enc, "valid_enc", valid)):
        problem = _check_frame_shape(df, name, like)
        if problem:
            return case(False, problem, shown_got)
    if len(train_enc) != len(train):
        return case(False, f"train_enc should keep all {len(train)} training rows, got {len(train_enc)}", shown_got)
    if not array_equal(train_enc[["userId", "movieId"]].to_numpy(), train[["userId", "movieId"]].to_numpy()):
        return case(False, "train_enc should keep the training rows as they were, in their order", shown_got)
    try:
        same = allclose(train_enc["rating"].to_numpy(dtype=float), train["rating"].to_numpy(dtype=float))
    except (TypeError, ValueError):
        same = False
    if not same:
        return case(False, "the ratings in train_enc should be unchanged: add the 'user' and 'item' columns only", shown_got)
    for raw, col, ref in (("userId", "user", users), ("movieId", "item", items)):
        unseen = ~valid_enc[raw].isin(list(ref))
        v_raw, v_idx = valid_enc[raw].tolist(), valid_enc[col].tolist()
        learned, _ = _learned_mapping(train_enc, raw, col)
        own = ({x: k for k, x in enumerate(sorted(set(v_raw)))}, {x: k for k, x in enumerate(dict.fromkeys(v_raw))})
        if v_raw and any(all(m[x] == i for x, i in zip(v_raw, v_idx)) for m in own) and (
            unseen.any() or (learned is not None and any(learned.get(x) != i for x, i in zip(v_raw, v_idx)))
        ):
            return case(
                False,
                f"valid_enc['{col}'] comes from a mapping fitted on valid itself: encode valid with the mapping "
                f"fitted on train (the same {raw} -> the same index), and drop the rows it does not know",
                shown_got,
            )
        if unseen.any() and (valid_enc.loc[unseen, col] >= 0).any():
            return case(
                False,
                f"valid_enc has rows whose {raw} never appears in training, yet they got an index: "
                "fit the encoding on train only, and drop those rows",
                shown_got,
            )
        mapping, why = _learned_mapping(train_enc, raw, col)
        if mapping is None:
            return case(False, f"in train_enc, {why}", shown_got)
        problem = _mapping_problem(mapping, set(ref), set(valid[raw].tolist()), name=f"'{col}' encoding of train")
        if problem:
            return case(False, problem, shown_got)
        if np.any(valid_enc[col].to_numpy() < 0):
            return case(False, "valid_enc still has rows with index -1: drop the rows with an unseen user or item", shown_got)
        v_raw, v_idx = valid_enc[raw].tolist(), valid_enc[col].tolist()
        if any(mapping[x] != i for x, i in zip(v_raw, v_idx)):
            return case(
                False, f"valid_enc['{col}'] must use the mapping fitted on train (the same {raw} -> the same index)", shown_got
            )
    if len(valid_enc) != len(kept) or not np.array_equal(
        valid_enc[["userId", "movieId"]].to_numpy(), kept[["userId", "movieId"]].to_numpy()
    ):
        return case(
            False,
            f"valid_enc should keep exactly the {len(kept)} validation rows whose user and item were both seen in training, in order",
            shown_got,
        )
    try:
        same = allclose(valid_enc["rating"].to_numpy(dtype=float), kept["rating"].to_numpy(dtype=float))
    except (TypeError, ValueError):
        same = False
    if not same:
        return case(False, "the ratings of the kept rows should be unchanged", shown_got)
    if isinstance(n_dropped, bool) or not isinstance(n_dropped, (int, np.integer)):
        return case(False, f"n_dropped should be an int, got {describe(n_dropped)}", shown_got)
    if int(n_dropped) != n_drop:
        return case(False, "n_dropped should count the validation rows removed (len(valid) - len(valid_enc))", shown_got)
    return case(True, "", shown_got)


def _reference_ratings(train, valid):
    """Both frames with 'user' and 'item' columns fitted on train; unseen validation rows dropped."""
    train, valid = train.copy(), valid.copy()
    for raw, col in (("userId", "user"), ("movieId", "item")):
        mapping = _reference_mapping(train[raw])
        train[col] = train[raw].map(mapping).astype("int64")
        valid[col] = valid[raw].map(mapping).fillna(-1).astype("int64")
    keep = (valid["user"] >= 0) & (valid["item"] >= 0)
    return train, valid[keep].reset_index(drop=True), int((~keep).sum())


@exercise("encode_ratings", lesson="01", reference=_reference_ratings)
def _encode_ratings(answer):
    for train, valid in _ratings_cases():
        yield _check_ratings(answer, train, valid)
