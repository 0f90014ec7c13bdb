"""Matrix factorisation trained for ranking with the BPR loss (Keras 3, ``keras.ops`` only).

The same names, arguments and training as ``cflearn.torch.bpr``: ``BPRMF``, ``bpr_loss``,
``fit_bpr``. Training uses Keras's own ``compile``/``fit`` on a small wrapper model whose
output holds, per triple, the score difference and the penalty. Introduced in lesson 10.
"""

from __future__ import annotations

import time

import keras
import numpy as np
from keras import ops
from tqdm.auto import tqdm

from cflearn import _inputs, optim, ranking
from cflearn.history import History
from cflearn.keras.train import AdamW, StepSchedule, _restored_global_rngs, _steps_per_execution

__all__ = ["BPRMF", "bpr_loss", "fit_bpr"]

_INIT_STD = 0.01


@keras.saving.register_keras_serializable(package="cflearn")
class BPRMF(keras.Model):
    """Score = user vector . item vector + item bias (a user bias would cancel in every comparison).

    Call it as ``model(user, item)`` or on one ``(batch, 2)`` array. Introduced in lesson 10.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.n_users, self.n_items, self.n_factors = _inputs.model_args(n_users, n_items, n_factors)
        normal = keras.initializers.RandomNormal(stddev=_INIT_STD)
        self.user_factors = keras.layers.Embedding(self.n_users, self.n_factors, embeddings_initializer=normal,
                                                   name="user_factors")
        self.item_factors = keras.layers.Embedding(self.n_items, self.n_factors, embeddings_initializer=normal,
                                                   name="item_factors")
        self.item_bias = keras.layers.Embedding(self.n_items, 1, embeddings_initializer="zeros", name="item_bias")
        for layer in (self.user_factors, self.item_factors, self.item_bias):
            layer.build((None,))

    def call(self, user, item=None):
        if item is None:  # one (batch, 2) array
            user, item = user[:, 0], user[:, 1]
        dot = ops.sum(self.user_factors(user) * self.item_factors(item), axis=-1)  # (batch,)
        return dot + ops.squeeze(self.item_bias(item), axis=-1)

    def get_config(self):
        return {"n_users": self.n_users, "n_items": self.n_items, "n_factors": self.n_factors}


def bpr_loss(pos_scores, neg_scores):
    """Mean of ``-log sigmoid(pos - neg)``, written as ``softplus(neg - pos)`` (no overflow).

    Introduced in lesson 10.
    """
    return ops.mean(ops.softplus(neg_scores - pos_scores))


class _Triples(keras.Model):
    """Wraps a ranking model: (batch, 3) triples -> (batch, 2) columns [pos - neg, penalty]."""

    def __init__(self, model, reg: float):
        super().__init__(name="bpr_triples")
        self.model, self.reg = model, float(reg)

    def call(self, x):
        user, pos, neg = x[:, 0], x[:, 1], x[:, 2]
        diff = self.model(user, pos) - self.model(user, neg)  # (batch,)
        rows = [self.model.user_factors(user), self.model.item_factors(pos), self.model.item_factors(neg)]
        if hasattr(self.model, "item_bias"):
            rows += [self.model.item_bias(pos), self.model.item_bias(neg)]
        penalty = sum(ops.sum(r * r, axis=-1) for r in rows)
        return ops.stack([diff, self.reg * penalty], axis=1)


def _loss(y_true, out):
    """BPR loss on the differences plus the penalty (``y_true`` is unused: the order is the label)."""
    return ops.softplus(-out[:, 0]) + out[:, 1]


def fit_bpr(model, train, *, lr: float = 0.03, n_epochs: int = 60, batch_size: int = 4096, reg: float = 0.01,
            schedule: str = "one_cycle", seed: int = 42, progress: bool = True) -> History:
    """Train ``model`` on ``train``'s (user, item) pairs as implicit positives with the BPR loss.

    Same arguments and result as ``cflearn.torch.fit_bpr``: the same triples for the same seed,
    Adam with the same learning-rate schedule, the same L2 penalty on the rows each triple
    touches; ``History.train_loss`` is the BPR loss on each epoch's triples after it (penalty not included).

    Introduced in lesson 10.
    """
    _inputs.train_args(lr, n_epochs, batch_size, reg)
    _inputs.framework_of(model, "keras")
    positives = ranking.interactions(train, model.n_users, model.n_items)
    triples = ranking.bpr_triples(train, positives, n_epochs, seed).astype(np.int32)
    n = triples.shape[1]
    rates = optim.lr_schedule(lr, optim.n_steps(n, batch_size, n_epochs), schedule)
    wrapper = _Triples(model, reg)
    beta_1, beta_2 = optim.BETAS
    with _restored_global_rngs():
        wrapper.compile(optimizer=AdamW(learning_rate=StepSchedule(rates), weight_decay=0.0, beta_1=beta_1,
                                        beta_2=beta_2, epsilon=optim.EPS),
                        loss=_loss, steps_per_execution=_steps_per_execution())
        history = History("keras", type(model).__name__, n_ratings=n)
        bar = tqdm(range(n_epochs), desc=f"{type(model).__name__} (keras)", unit="epoch", disable=not progress)
        zeros = np.zeros(n, dtype=np.float32)
        for epoch in bar:
            start = time.perf_counter()
            wrapper.fit(triples[epoch], zeros, epochs=1, batch_size=batch_size, shuffle=False, verbose=0)
            diff = _differences(model, triples[epoch], batch_size)
            loss = float(np.mean(np.logaddexp(0.0, -diff)))  # the BPR loss after the epoch, penalty left out
            history.add(train_loss=loss, seconds=time.perf_counter() - start)
            bar.set_postfix(loss=f"{loss:.4f}")
        bar.close()
    return history


def _differences(model, triples, batch_size):
    parts = []
    for s in range(0, len(triples), 16 * batch_size):
        t = triples[s : s + 16 * batch_size]
        parts.append(ops.convert_to_numpy(model(t[:, 0], t[:, 1]) - model(t[:, 0], t[:, 2])))
    return np.concatenate(parts).astype(np.float64)
