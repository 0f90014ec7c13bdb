"""metrics.rmse and metrics.mae against hand-computed values."""

import math

import numpy as np
import pandas as pd
import pytest

from cflearn import metrics


def test_rmse_and_mae_by_hand():
    y, p = [1.0, 2.0, 4.0], [2.0, 2.0, 1.0]  # errors -1, 0, 3
    assert metrics.rmse(y, p) == pytest.approx(math.sqrt((1 + 0 + 9) / 3))
    assert metrics.mae(y, p) == pytest.approx((1 + 0 + 3) / 3)


def test_accepts_series_and_float32_and_returns_python_float():
    y = pd.Series([3.0, 4.0], dtype="float32")
    got = metrics.rmse(y, np.array([3.5, 4.5], dtype=np.float32))
    assert isinstance(got, float) and got == pytest.approx(0.5)


def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    assert metrics.mae(torch.tensor([1.0, 2.0]), torch.tensor([[1.5], [2.5]])) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "y, p, message",
    [([1.0, 2.0], [1.0], "has 2 values but y_pred has 1"), ([1.0, np.nan], [1.0, 2.0], "y_true has 1 NaN"), ([], [], "empty")],
)
def test_bad_input_is_refused_with_a_clear_message(y, p, message):
    with pytest.raises(ValueError, match=message):
        metrics.rmse(y, p)
