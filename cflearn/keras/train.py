"""Training and prediction for the Keras models: ``fit`` and ``predict``.

``fit`` is Keras's own ``compile``/``fit`` with AdamW and mean squared error; the validation
RMSE is a Keras metric computed from predictions, and a callback copies each epoch into the
same ``History`` the PyTorch helper returns. Introduced in lesson 03.
"""

from __future__ import annotations

import contextlib
import time

import keras
import numpy as np
from tqdm.auto import tqdm

from cflearn import _inputs
from cflearn.history import History

__all__ = ["fit", "predict", "HistoryCallback", "AdamW"]


class AdamW(keras.optimizers.AdamW):
    """``keras.optimizers.AdamW`` that first sums an embedding's gradient into a dense table.

    Under the TensorFlow backend an embedding lookup's gradient arrives as ``IndexedSlices``
    with one slice per occurrence of an index; Adam then squares each occurrence separately
    instead of the summed gradient, which is a different optimiser from PyTorch's AdamW
    (measurably so: rows seen several times in a batch take larger steps). Summing the
    duplicates first makes both frameworks take the same step.
    """

    def apply(self, grads, trainable_variables=None):
        variables = self._trainable_variables if trainable_variables is None else trainable_variables
        grads = [_dense(g, v) for g, v in zip(grads, variables)]
        return super().apply(grads, trainable_variables)


def _dense(grad, variable):
    if hasattr(grad, "indices") and hasattr(grad, "dense_shape"):  # tf.IndexedSlices
        # scatter sums the values of repeated indices: (n_rows, dim) dense gradient
        return keras.ops.scatter(keras.ops.expand_dims(grad.indices, -1), grad.values, tuple(variable.shape))
    return grad


class HistoryCallback(keras.callbacks.Callback):
    """Copies Keras's per-epoch logs into a ``cflearn.history.History`` and shows a tqdm bar.

    The epoch's seconds stop when validation starts, as in ``cflearn.torch.fit``.
    """

    def __init__(self, history: History, n_epochs: int, progress: bool = True):
        super().__init__()
        self.history_ = history
        self.bar = tqdm(total=n_epochs, desc=history.label, unit="epoch", disable=not progress)

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._train_end = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        if getattr(self, "_start", None) is not None and self._train_end is None:
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        end = self._train_end or time.perf_counter()
        valid = logs.get("val_rmse")
        self.history_.add(epoch=epoch + 1, train_loss=logs["loss"], valid_rmse=valid, seconds=end - self._start)
        self._start = None
        postfix = {"loss": f"{logs['loss']:.4f}"}
        if valid is not None:
            postfix["valid_rmse"] = f"{valid:.4f}"
        self.bar.set_postfix(postfix)
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.bar.close()


def _device_scope(device):
    """``keras.device(...)`` for a string or a ``cflearn.device.Device``; nothing for None."""
    if device is None:
        return contextlib.nullcontext()
    return keras.device(getattr(device, "keras", device))


def _xy(data, model, *, need_rating=True, name="train"):
    user, item, rating = _inputs.encoded_arrays(data, model.n_users, model.n_items, need_rating=need_rating, name=name)
    x = np.stack([user, item], axis=1).astype(np.int32)  # (rows, 2): user, item
    return x, rating


def fit(model, train, valid=None, *, lr: float, n_epochs: int, batch_size: int, weight_decay: float = 0.0,
        device=None, seed: int = 42, progress: bool = True) -> History:
    """Train ``model`` with Keras's ``compile``/``fit`` (AdamW, mean squared error); returns a ``History``.

    Arguments and the returned ``History`` mean the same as in ``cflearn.torch.fit``:
    ``weight_decay`` is decoupled (``keras.optimizers.AdamW``), the training loss is the epoch's
    mean MSE (no regulariser), the validation RMSE comes from predictions on the rating scale
    (Keras's ``RootMeanSquaredError`` metric on ``valid``). ``device`` is a Keras device string
    such as "cpu" or "gpu:0" (or a ``cflearn.device.Device``). ``seed`` goes to
    ``keras.utils.set_random_seed``, so a rerun on the CPU gives the same numbers.

    Introduced in lesson 03.
    """
    _inputs.train_args(lr, n_epochs, batch_size, weight_decay)
    x, y = _xy(train, model)
    validation = _xy(valid, model, name="valid") if valid is not None else None
    keras.utils.set_random_seed(seed)  # shuffling and dropout
    history = History("keras", type(model).__name__, n_ratings=len(y))
    with _device_scope(device):
        # epsilon as in torch.optim.AdamW, so the two frameworks take the same steps
        optimizer = AdamW(learning_rate=lr, weight_decay=weight_decay, epsilon=1e-8)
        model.compile(optimizer=optimizer, loss="mse", metrics=[keras.metrics.RootMeanSquaredError(name="rmse")])
        model.fit(x, y, validation_data=validation, epochs=n_epochs, batch_size=batch_size, shuffle=True,
                  verbose=0, callbacks=[HistoryCallback(history, n_epochs, progress)])
    return history


def predict(model, df, batch_size: int = 8192, device=None) -> np.ndarray:
    """Predicted ratings for the rows of ``df`` (columns ``user``, ``item``), as float32 NumPy.

    Runs in inference mode (no dropout) and in batches. Rows with an index the model never saw
    are refused with a ``ValueError``; drop them with ``IdEncoder.transform(df, unseen="drop")``.

    Introduced in lesson 03.
    """
    _inputs.positive_int(batch_size, "batch_size")
    x, _ = _xy(df, model, need_rating=False, name="df")
    with _device_scope(device):
        pred = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(pred, dtype=np.float32).reshape(-1)
