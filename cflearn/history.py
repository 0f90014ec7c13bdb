"""`History`: what happened in each training epoch, the same for PyTorch and Keras.

Both frameworks' training helpers return one, so plotting and tables treat them alike.
Introduced in lesson 03.
"""

from __future__ import annotations

import math

__all__ = ["History"]


class History:
    """Per-epoch training record: train loss (MSE, no regulariser), validation RMSE, seconds.

    Parameters
    ----------
    framework : str
        "torch" or "keras" (any label works; used in legends).
    model_name : str
        For example "DotProductBias".
    n_ratings : int
        Training rows seen per epoch, for ratings per second.
    """

    def __init__(self, framework: str = "", model_name: str = "", n_ratings: int = 0):
        self.framework = framework
        self.model_name = model_name
        self.n_ratings = int(n_ratings)
        self.epochs: list[dict] = []

    def add(self, *, epoch: int | None = None, train_loss: float, valid_rmse: float | None = None, seconds: float) -> None:
        """Record one epoch (numbered from 1 unless ``epoch`` is given)."""
        self.epochs.append(
            {
                "epoch": len(self.epochs) + 1 if epoch is None else int(epoch),
                "train_loss": float(train_loss),
                "valid_rmse": math.nan if valid_rmse is None else float(valid_rmse),
                "seconds": float(seconds),
            }
        )

    @property
    def label(self) -> str:
        """``"DotProductBias (torch)"``: the name used in legends and tables."""
        return f"{self.model_name} ({self.framework})" if self.framework else self.model_name

    def to_frame(self):
        """The epochs as a pandas DataFrame (one row per epoch)."""
        import pandas as pd

        return pd.DataFrame(self.epochs, columns=["epoch", "train_loss", "valid_rmse", "seconds"])

    @property
    def final_rmse(self) -> float:
        """Validation RMSE after the last epoch (NaN without validation data)."""
        return self.epochs[-1]["valid_rmse"] if self.epochs else math.nan

    @property
    def best_rmse(self) -> float:
        """Lowest validation RMSE over the epochs; for curves, not for choosing on the test set."""
        values = [e["valid_rmse"] for e in self.epochs if not math.isnan(e["valid_rmse"])]
        return min(values) if values else math.nan

    @property
    def total_seconds(self) -> float:
        return sum(e["seconds"] for e in self.epochs)

    @property
    def ratings_per_second(self) -> float:
        """Training throughput: rows processed per second of training."""
        seconds = self.total_seconds
        return self.n_ratings * len(self.epochs) / seconds if seconds > 0 else math.nan

    def __len__(self) -> int:
        return len(self.epochs)

    def __repr__(self) -> str:
        return (
            f"History({self.label}: {len(self.epochs)} epochs, final valid RMSE {self.final_rmse:.4f}, "
            f"{self.total_seconds:.1f} s)"
        )
