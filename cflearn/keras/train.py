"""Training and prediction for the Keras models: ``fit`` and ``predict``.

``fit`` is Keras's own ``compile``/``fit`` with AdamW and mean squared error; the validation
RMSE is a Keras metric computed from predictions, and a callback copies each epoch into the
same ``History`` the PyTorch helper returns. Introduced in lesson 03.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time

import keras
import numpy as np
from tqdm.auto import tqdm

from cflearn import _inputs, optim
from cflearn.history import History

__all__ = ["fit", "predict"]

# Steps Keras runs inside one compiled call: small batches spend most of their time in
# Python between steps otherwise (measured: several times slower per epoch at batch 64).
# Keras's torch backend runs eagerly and accepts only 1.
_STEPS_PER_EXECUTION = 64


def _steps_per_execution() -> int:
    return 1 if keras.backend.backend() == "torch" else _STEPS_PER_EXECUTION


@keras.saving.register_keras_serializable(package="cflearn")
class StepSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate of each optimiser step, looked up in a table from ``cflearn.optim.lr_schedule``.

    The PyTorch helper reads the same table, so both frameworks use identical rates.
    """

    def __init__(self, rates):
        self.rates = [float(r) for r in rates]
        self._table = np.asarray(self.rates, dtype=np.float32)

    def __call__(self, step):
        last = len(self.rates) - 1
        index = keras.ops.minimum(keras.ops.cast(step, "int32"), last)  # Keras counts steps from 0
        return keras.ops.take(keras.ops.convert_to_tensor(self._table), index)

    def get_config(self):
        return {"rates": self.rates}


@keras.saving.register_keras_serializable(package="cflearn")
class AdamW(keras.optimizers.AdamW):
    """``keras.optimizers.AdamW`` that first sums an embedding's gradient into a dense table.

    Under the TensorFlow backend an embedding lookup's gradient arrives as ``IndexedSlices``
    with one slice per occurrence of an index; Adam then squares each occurrence separately
    instead of the summed gradient, which is a different optimiser from PyTorch's AdamW
    (measurably so: rows seen several times in a batch take larger steps). Summing the
    duplicates first makes both frameworks take the same step.
    """

    def apply_gradients(self, grads_and_vars):
        return super().apply_gradients([(_dense(g, v), v) for g, v in grads_and_vars])


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
        schedule: str = "one_cycle", device=None, seed: int = 42, progress: bool = True) -> History:
    """Train ``model`` with Keras's ``compile``/``fit`` (AdamW, mean squared error); returns a ``History``.

    Parameters
    ----------
    model : keras.Model
        One of the ``cflearn.keras`` models (anything with ``n_users``, ``n_items`` and
        ``call(inputs) -> (batch,)`` on a ``(batch, 2)`` array of user and item indices works).
    train, valid : DataFrame
        Encoded frames with columns ``user``, ``item``, ``rating``; ``valid`` is optional.
    lr, n_epochs, batch_size : float, int, int
        Peak learning rate, passes over ``train``, rows per step.
    weight_decay : float
        Decoupled weight decay (``keras.optimizers.AdamW``): each step shrinks every weight by
        ``lr * weight_decay``, where ``lr`` is that step's rate.
    schedule : {"one_cycle", "constant"}
        How the rate changes from step to step (``cflearn.optim.lr_schedule``).
    device : str or cflearn.device.Device, optional
        A Keras device string such as "cpu" or "gpu:0"; default: Keras's choice.
    seed : int
        Seeds the shuffling and dropout (``keras.utils.set_random_seed``), so a rerun on the CPU
        gives the same numbers. Python's and NumPy's global random states are restored afterwards.
    progress : bool
        Show a progress bar (one step per epoch) with the latest loss and validation RMSE.

    Returns
    -------
    History
        Per epoch: the mean training MSE over the epoch's batches (no regulariser), the validation
        RMSE from predictions on the rating scale (Keras's ``RootMeanSquaredError`` metric on
        ``valid``; NaN without it) and the training seconds (validation not included).

    Introduced in lesson 03.
    """
    _inputs.train_args(lr, n_epochs, batch_size, weight_decay)
    _inputs.framework_of(model, "keras")
    x, y = _xy(train, model)
    validation = _xy(valid, model, name="valid") if valid is not None else None
    rates = optim.lr_schedule(lr, optim.n_steps(len(y), batch_size, n_epochs), schedule)
    history = History("keras", type(model).__name__, n_ratings=len(y))
    with _device_scope(device), _restored_global_rngs(), _quiet_retracing():
        keras.utils.set_random_seed(seed)  # shuffling and dropout
        beta_1, beta_2 = optim.BETAS
        optimizer = AdamW(learning_rate=StepSchedule(rates), weight_decay=weight_decay, beta_1=beta_1, beta_2=beta_2,
                          epsilon=optim.EPS)
        model.compile(optimizer=optimizer, loss="mse", metrics=[keras.metrics.RootMeanSquaredError(name="rmse")],
                      steps_per_execution=_steps_per_execution())
        model.fit(x, y, validation_data=validation, epochs=n_epochs, batch_size=batch_size, shuffle=True,
                  verbose=0, callbacks=[HistoryCallback(history, n_epochs, progress)])
    return history


class _NoRetracingWarning(logging.Filter):
    """Drop TensorFlow's "triggered tf.function retracing" warning.

    Every model compiles its own training function from the same Keras code, and TensorFlow
    counts those as retraces of one function: after about five models trained in one process it
    warns, although nothing retraces from batch to batch (the advice it gives does not apply).
    """

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def _quiet_retracing():
    if keras.backend.backend() != "tensorflow":
        yield
        return
    import tensorflow as tf

    quiet = _NoRetracingWarning()
    tf.get_logger().addFilter(quiet)
    try:
        yield
    finally:
        tf.get_logger().removeFilter(quiet)


@contextlib.contextmanager
def _restored_global_rngs():
    """Put Python's and NumPy's global random states back after the block (Keras's seeding sets them)."""
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def predict(model, df, batch_size: int = 8192, device=None) -> np.ndarray:
    """Predicted ratings for the rows of ``df`` (columns ``user``, ``item``), as float32 NumPy.

    Runs in inference mode (no dropout) and in batches. Rows with an index the model never saw
    are refused with a ``ValueError``; drop them with ``IdEncoder.transform(df, unseen="drop")``.

    Introduced in lesson 03.
    """
    _inputs.positive_int(batch_size, "batch_size")
    _inputs.framework_of(model, "keras")
    x, _ = _xy(df, model, need_rating=False, name="df")
    # Plain calls in inference mode, batch by batch: ``model.predict`` would compile (trace) a new
    # function for every model and for a shorter last batch, and TensorFlow warns about retracing.
    with _device_scope(device):
        parts = [keras.ops.convert_to_numpy(model(x[s : s + batch_size], training=False))
                 for s in range(0, len(x), batch_size)]
    return np.concatenate(parts).astype(np.float32).reshape(-1)
