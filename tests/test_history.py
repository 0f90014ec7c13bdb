"""cflearn.history.History: bookkeeping checked by hand."""

import math

from cflearn.history import History


def test_history_records_epochs_and_summaries():
    h = History("torch", "DotProductBias", n_ratings=1000)
    h.add(train_loss=1.2, valid_rmse=0.95, seconds=0.5)
    h.add(train_loss=0.8, valid_rmse=0.90, seconds=0.5)
    h.add(train_loss=0.6, valid_rmse=0.92, seconds=1.0)
    assert [e["epoch"] for e in h.epochs] == [1, 2, 3]
    assert h.final_rmse == 0.92 and h.best_rmse == 0.90
    assert h.total_seconds == 2.0
    assert h.ratings_per_second == 3000 / 2.0
    frame = h.to_frame()
    assert list(frame.columns) == ["epoch", "train_loss", "valid_rmse", "seconds"] and len(frame) == 3
    assert h.label == "DotProductBias (torch)"
    assert "3 epochs" in repr(h) and "0.9200" in repr(h)


def test_empty_history_and_missing_validation():
    h = History("keras", "DotProduct")
    assert math.isnan(h.final_rmse) and math.isnan(h.ratings_per_second)
    h.add(train_loss=1.0, seconds=0.1)
    assert math.isnan(h.best_rmse)
