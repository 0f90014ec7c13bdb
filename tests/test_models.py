"""The four models in cflearn.torch and cflearn.keras: one set of cases, run for each framework.

Hand-computed outputs, y_range bounds, refusals (same messages), index checks, layer structure,
initialisation, weight naming, save and load, ``score``/``branches``; then the two frameworks
against each other: same weights give the same predictions (also under ``KERAS_BACKEND=torch``).
"""

import importlib
import inspect
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = ["DotProduct", "DotProductBias", "NeuralCF", "ResidualCF"]


class Framework:
    """One framework's models behind the same few calls, so every test reads the same for both."""

    def __init__(self, name):
        self.name = name
        self.lib = importlib.import_module(f"cflearn.{name}")

    def make(self, model_name, *args, **kwargs):
        return getattr(self.lib, model_name)(*args, **kwargs)

    def call(self, model, user, item, method=None, training=False):
        """``model(user, item)`` (or ``model.method(user, item)``) as NumPy; dropout only when training."""
        if self.name == "torch":
            import torch

            model.train(training)
            fn = getattr(model, method) if method else model
            with torch.no_grad():
                out = fn(torch.as_tensor(user), torch.as_tensor(item))
        else:
            import keras

            fn = getattr(model, method) if method else model
            kwargs = {} if method == "score" else {"training": training}
            out = fn(np.asarray(user), np.asarray(item), **kwargs)
        return tuple(self.numpy(o) for o in out) if isinstance(out, tuple) else self.numpy(out)

    def numpy(self, x):
        if self.name == "torch":
            return x.detach().cpu().numpy()
        import keras

        return keras.ops.convert_to_numpy(x)

    def set_random(self, model, std, seed=0):
        rng = np.random.default_rng(seed)
        weights = {k: rng.normal(0, std, v.shape).astype("float32") for k, v in self.lib.get_weights(model).items()}
        self.lib.set_weights(model, weights)
        return weights

    def layer_kinds(self, model):
        """The MLP's layers as framework-neutral words: linear, the activation's name, dropout."""
        if self.name == "torch":
            from torch import nn

            return [("linear" if isinstance(l, nn.Linear) else "dropout" if isinstance(l, nn.Dropout)
                     else type(l).__name__.lower()) for l in model.mlp]
        import keras

        out = []
        for layer in model.mlp.layers:
            if isinstance(layer, keras.layers.Dense):
                assert layer.activation is keras.activations.linear  # the activation is its own layer
                out.append("linear")
            elif isinstance(layer, keras.layers.Dropout):
                out.append("dropout")
            else:
                out.append(layer.get_config()["activation"])
        return out


@pytest.fixture(params=["torch", "keras"])
def fw(request):
    pytest.importorskip(request.param)
    return Framework(request.param)


def accepts(model_name, kwargs):
    from cflearn.torch import models  # signatures are held equal below

    return set(kwargs) <= set(inspect.signature(getattr(models, model_name)).parameters)


# --- outputs by hand ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
def test_one_rating_per_row(fw, name):
    model = fw.make(name, 12, 15, n_factors=4)
    out = fw.call(model, np.array([0, 3, 11]), np.array([1, 14, 2]))
    assert out.shape == (3,) and out.dtype == np.float32 and np.isfinite(out).all()
    if fw.name == "keras":  # fit/predict pass one (batch, 2) array: the same numbers
        both = fw.numpy(model(np.array([[0, 1], [3, 14], [11, 2]])))
        np.testing.assert_allclose(both, out, rtol=0, atol=0)


def test_dot_product_is_the_dot_of_the_two_rows(fw):
    model = fw.make("DotProduct", 3, 4, n_factors=2)
    w = fw.lib.get_weights(model)
    w["user_factors"][:] = [[1, 2], [0, 1], [3, -1]]
    w["item_factors"][:] = [[1, 1], [2, 0], [0, 5], [-1, 1]]
    fw.lib.set_weights(model, w)
    assert np.allclose(fw.call(model, [0, 2, 1], [0, 1, 2]), [3, 6, 5])


def test_biases_global_mean_score_and_y_range_by_hand(fw):
    model = fw.make("DotProductBias", 3, 4, n_factors=2, global_mean=3.0)
    w = fw.lib.get_weights(model)
    w["user_factors"][:] = [[1, 2], [0, 1], [3, -1]]
    w["item_factors"][:] = [[1, 1], [2, 0], [0, 5], [-1, 1]]
    w["user_bias"][:] = [[0.5], [0.0], [-1.0]]
    w["item_bias"][:] = [[0.25], [0.0], [0.0], [0.0]]
    fw.lib.set_weights(model, w)
    assert np.allclose(fw.call(model, [0, 2, 1], [0, 1, 2], method="score"), [3.75, 5.0, 5.0])
    assert np.allclose(fw.call(model, [0, 2, 1], [0, 1, 2]), [6.75, 8.0, 8.0])
    squashed = fw.make("DotProductBias", 3, 4, n_factors=2, y_range=(1.0, 5.0), global_mean=3.5)
    fw.lib.set_weights(squashed, w)
    # the offset is the logit of where the mean sits in the range: a zero score predicts the mean
    score = np.array([3.75, 5.0, 5.0]) + math.log((3.5 - 1.0) / (5.0 - 3.5))
    assert np.allclose(fw.call(squashed, [0, 2, 1], [0, 1, 2]), 1.0 + 4.0 / (1.0 + np.exp(-score)), atol=1e-6)
    fw.lib.set_weights(squashed, {k: np.zeros_like(v) for k, v in w.items()})
    assert np.allclose(fw.call(squashed, [0], [1]), [3.5], atol=1e-6)


def test_residual_branches_are_the_two_parts_of_forward(fw):
    model = fw.make("ResidualCF", 12, 15, n_factors=4, hidden=(6,), y_range=(0.5, 5.5), global_mean=3.5)
    fw.set_random(model, 0.5)
    user, item = np.array([0, 3, 11, 5]), np.array([1, 14, 2, 2])
    main, side = fw.call(model, user, item, method="branches")
    w = fw.lib.get_weights(model)
    u, i = w["user_factors"][user], w["item_factors"][item]
    expected_main = (u * i).sum(-1) + w["user_bias"][user, 0] + w["item_bias"][item, 0]
    hidden = np.maximum(np.concatenate([u, i], -1) @ w["mlp.hidden.0.kernel"] + w["mlp.hidden.0.bias"], 0)
    expected_side = (hidden @ w["mlp.head.kernel"] + w["mlp.head.bias"])[:, 0]
    assert main.shape == side.shape == (4,)
    np.testing.assert_allclose(main, expected_main, atol=1e-5)
    np.testing.assert_allclose(side, expected_side, atol=1e-5)
    x = main + side + math.log(3.0 / 2.0)
    np.testing.assert_allclose(fw.call(model, user, item), 0.5 + 5.0 / (1.0 + np.exp(-x)), atol=1e-5)


@pytest.mark.parametrize("name", ["DotProductBias", "NeuralCF", "ResidualCF"])
def test_y_range_bounds_every_prediction(fw, name):
    model = fw.make(name, 12, 15, n_factors=4, y_range=(1.0, 2.0))
    fw.set_random(model, 5.0)  # huge scores either way
    out = fw.call(model, np.arange(12), np.arange(12))
    assert (out >= 1.0).all() and (out <= 2.0).all() and (out.min() < 1.1 or out.max() > 1.9)  # saturated, yet inside


def test_dropout_only_while_training(fw):
    model = fw.make("NeuralCF", 12, 15, n_factors=4, hidden=(32,), dropout=0.5)
    fw.set_random(model, 0.5)
    user, item = np.arange(12), np.arange(12)
    a, b = fw.call(model, user, item), fw.call(model, user, item)
    assert np.array_equal(a, b)
    assert not np.allclose(fw.call(model, user, item, training=True), a)


# --- refusals ------------------------------------------------------------------------------------------

REFUSALS = [
    ({"n_users": 0}, "n_users must be a positive integer"),
    ({"n_users": "5"}, "n_users must be a positive integer"),
    ({"n_items": 2.5}, "n_items must be a positive integer"),
    ({"n_items": True}, "n_items must be a positive integer"),
    ({"n_factors": -1}, "n_factors must be a positive integer"),
    ({"n_factors": None}, "n_factors must be a positive integer"),
    ({"hidden": ()}, "at least one layer"),
    ({"hidden": (32, 0)}, "hidden layer size"),
    ({"hidden": (2.5,)}, "hidden layer size"),
    ({"hidden": None}, "hidden must be a tuple of layer sizes"),
    ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
    ({"dropout": -0.1}, r"dropout must be a number in \[0, 1\)"),
    ({"dropout": "0.2"}, r"dropout must be a number in \[0, 1\)"),
    ({"dropout": True}, r"dropout must be a number in \[0, 1\)"),
    ({"y_range": (5, 1)}, "low < high"),
    ({"y_range": (3, 3)}, "low < high"),
    ({"y_range": (0, float("inf"))}, "low < high"),
    ({"y_range": (1,)}, r"y_range must be None or a pair"),
    ({"y_range": "ab"}, r"y_range must be None or a pair"),
    ({"y_range": 5}, r"y_range must be None or a pair"),
    ({"activation": "swish!"}, "activation must be one of"),
    ({"activation": "ReLU"}, "activation must be one of"),
    ({"activation": None}, "activation must be one of"),
    ({"global_mean": 9.0, "y_range": (0.5, 5.5)}, "inside y_range"),
    ({"global_mean": "3.5x"}, "global_mean must be None or a number"),
    ({"global_mean": float("nan")}, "global_mean must be finite"),
]
REFUSAL_CASES = [(name, kw, msg) for kw, msg in REFUSALS for name in MODELS if accepts(name, kw)]


@pytest.mark.parametrize("name, kwargs, message", REFUSAL_CASES,
                         ids=[f"{n}-{'-'.join(map(str, kw.values()))}" for n, kw, _ in REFUSAL_CASES])
def test_bad_settings_are_refused_at_construction(fw, name, kwargs, message):
    args = {"n_users": 5, "n_items": 5, "n_factors": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        fw.make(name, **args)


@pytest.mark.parametrize("name, kwargs", [
    ("DotProduct", {"y_range": (0.5, 5.5)}), ("DotProduct", {"global_mean": 3.5}), ("NeuralCF", {"global_mean": 3.5}),
    ("DotProductBias", {"hidden": (8,)}), ("ResidualCF", {"name": "x"}), ("NeuralCF", {"n_factor": 4}),
])
def test_arguments_a_model_does_not_have_are_refused(fw, name, kwargs):
    with pytest.raises(TypeError, match=next(iter(kwargs))):
        fw.make(name, 3, 3, **kwargs)


BAD_INDICES = [
    ([0, -1, -1], [0, 1, 2], r"2 user index value\(s\) are outside 0\.\.11 \(2 negative"),
    ([0, 12, 1], [0, 1, 2], r"1 user index value\(s\) are outside 0\.\.11 \(0 negative.*1 >= n_users=12.*IdEncoder"),
    ([0, 1, 2], [15, 99, -1], r"3 item index value\(s\) are outside 0\.\.14 \(1 negative.*2 >= n_items=15"),
    ([0.0, 1.7, 2.0], [0, 1, 2], "user indices must be integers"),
    ([0, 1, 2], [0.0, 1.0, 2.0], "item indices must be integers"),
    ([0, 1, 2], [0, 1], r"user and item must have the same shape, got \(3,\) and \(2,\)"),
]


@pytest.mark.parametrize("user, item, message", BAD_INDICES)
@pytest.mark.parametrize("name, method", [(n, None) for n in MODELS] + [("DotProductBias", "score"),
                                                                        ("ResidualCF", "branches")])
def test_bad_indices_are_refused_when_the_model_is_called(fw, name, method, user, item, message):
    model = fw.make(name, 12, 15, n_factors=4)
    with pytest.raises(ValueError, match=message):
        fw.call(model, np.array(user), np.array(item), method=method)


def test_keras_refuses_bad_indices_in_the_one_array_form_too():
    pytest.importorskip("keras")
    model = Framework("keras").make("NeuralCF", 12, 15, n_factors=4)
    with pytest.raises(ValueError, match=r"1 item index value\(s\) are outside 0\.\.14"):
        model(np.array([[0, 1], [2, 15]]))
    with pytest.raises(ValueError, match=r"one \(batch, 2\) array"):
        model(np.array([0, 1, 2]))


def test_both_frameworks_give_the_same_messages():
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    torch_fw, keras_fw = Framework("torch"), Framework("keras")
    for user, item, _ in BAD_INDICES:
        messages = []
        for f in (torch_fw, keras_fw):
            with pytest.raises(ValueError) as info:
                f.call(f.make("ResidualCF", 12, 15, n_factors=4), np.array(user), np.array(item))
            messages.append(str(info.value))
        assert messages[0] in messages[1]  # Keras adds which call raised it around the same message


@pytest.mark.parametrize("name", MODELS)
def test_constructors_have_the_same_signature_in_both(name):
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    from cflearn import keras as cfk
    from cflearn import torch as cft

    assert inspect.signature(getattr(cft, name)) == inspect.signature(getattr(cfk, name))
    for method in ("score", "branches"):
        assert hasattr(getattr(cft, name), method) == hasattr(getattr(cfk, name), method)


# --- structure, initialisation, weights, saving --------------------------------------------------------

@pytest.mark.parametrize("name", ["NeuralCF", "ResidualCF"])
@pytest.mark.parametrize("activation", ["relu", "gelu", "tanh"])
def test_mlp_is_linear_activation_dropout_then_linear(fw, name, activation):
    model = fw.make(name, 5, 5, n_factors=3, hidden=(8, 4), activation=activation)
    act = fw.layer_kinds(model)[1]
    assert act.startswith(activation)  # torch says "relu"/"gelu"/"tanh" too
    assert fw.layer_kinds(model) == ["linear", act, "dropout", "linear", act, "dropout", "linear"]


def test_torch_printout_shows_the_layers_and_only_its_own_settings():
    pytest.importorskip("torch")
    from cflearn import torch as cft

    text = repr(cft.NeuralCF(5, 5, n_factors=3, hidden=(8,), activation="elu", y_range=(0.5, 5.5)))
    assert "ELU" in text and "Dropout(p=0.2" in text and "y_range=(0.5, 5.5)" in text and "global_mean" not in text
    assert "global_mean=3.0" in repr(cft.DotProductBias(5, 5, 3, global_mean=3.0))
    assert "y_range" not in repr(cft.DotProduct(5, 5, 3))


def test_initialisation(fw):
    model = fw.make("ResidualCF", 2000, 50, n_factors=50, hidden=(64, 32))
    w = fw.lib.get_weights(model)
    assert abs(w["user_factors"].std() - 0.01) < 0.0005 and abs(w["user_factors"].mean()) < 0.0005
    assert abs(w["item_bias"].std() - 0.01) < 0.004
    for name, (n_in, n_out) in {"mlp.hidden.0": (100, 64), "mlp.hidden.1": (64, 32), "mlp.head": (32, 1)}.items():
        kernel, limit = w[f"{name}.kernel"], math.sqrt(6.0 / (n_in + n_out))  # glorot (xavier) uniform
        assert kernel.shape == (n_in, n_out) and np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.8 * limit
        assert not w[f"{name}.bias"].any()


def test_weight_names_shapes_and_refusals(fw):
    model = fw.make("ResidualCF", 12, 15, n_factors=4, hidden=(6, 5))
    w = fw.lib.get_weights(model)
    assert {k: v.shape for k, v in w.items()} == {
        "user_factors": (12, 4), "item_factors": (15, 4), "user_bias": (12, 1), "item_bias": (15, 1),
        "mlp.hidden.0.kernel": (8, 6), "mlp.hidden.0.bias": (6,), "mlp.hidden.1.kernel": (6, 5),
        "mlp.hidden.1.bias": (5,), "mlp.head.kernel": (5, 1), "mlp.head.bias": (1,)}
    new = fw.set_random(model, 0.3)
    assert all(np.array_equal(new[k], v) for k, v in fw.lib.get_weights(model).items())
    with pytest.raises(ValueError, match="weight names differ"):
        fw.lib.set_weights(fw.make("DotProduct", 12, 15, n_factors=4), w)
    with pytest.raises(ValueError, match=r"mlp.head.kernel: expected shape \(5, 1\)"):
        fw.lib.set_weights(model, {**w, "mlp.head.kernel": np.zeros((1, 5), "float32")})


SAVE_CASES = [
    ("DotProduct", {}),
    ("DotProductBias", {"y_range": (0.5, 5.5), "global_mean": 3.5}),
    ("NeuralCF", {"hidden": (8, 4), "dropout": 0.3, "activation": "gelu", "y_range": (0.5, 5.5)}),
    ("ResidualCF", {"hidden": (6,), "activation": "tanh", "global_mean": 3.5}),
]


@pytest.mark.parametrize("name, kwargs", SAVE_CASES, ids=[n for n, _ in SAVE_CASES])
def test_save_and_load_give_identical_predictions(fw, tmp_path, name, kwargs):
    model = fw.make(name, 12, 15, n_factors=4, **kwargs)
    fw.set_random(model, 0.5)
    user, item = np.arange(12), np.arange(12) + 1
    before = fw.call(model, user, item)
    if fw.name == "torch":
        import torch

        torch.save(model.state_dict(), tmp_path / "model.pt")
        loaded = fw.make(name, 12, 15, n_factors=4, **kwargs)
        loaded.load_state_dict(torch.load(tmp_path / "model.pt"))
    else:
        import keras

        model.save(tmp_path / "model.keras")
        loaded = keras.models.load_model(tmp_path / "model.keras")
        assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    assert np.array_equal(fw.call(loaded, user, item), before)


# --- the two frameworks against each other ------------------------------------------------------------

CASES = [
    ("DotProduct", {}),
    ("DotProductBias", {}),
    ("DotProductBias", {"y_range": (0.5, 5.5)}),
    ("DotProductBias", {"y_range": (0.5, 5.5), "global_mean": 3.5}),
    ("DotProductBias", {"global_mean": 3.5}),
    ("NeuralCF", {"hidden": (16, 8), "dropout": 0.3, "activation": "relu", "y_range": (0.5, 5.5)}),
    ("NeuralCF", {"hidden": (8,), "activation": "gelu"}),
    ("NeuralCF", {"hidden": (8,), "activation": "silu", "dropout": 0.5}),
    ("ResidualCF", {"hidden": (16,), "activation": "elu", "global_mean": 3.5}),
    ("ResidualCF", {"hidden": (8, 4), "activation": "tanh", "y_range": (0.5, 5.5), "global_mean": 3.5}),
    ("ResidualCF", {"hidden": (8,), "y_range": (1.0, 5.0)}),
]

def compare(name, kwargs, seed=0):
    """Same random weights in both frameworks -> the same outputs of call, ``score`` and ``branches``
    (to 1e-5, inference mode). Also run under ``KERAS_BACKEND=torch`` by the last test."""
    import keras
    import torch

    from cflearn import keras as cfk
    from cflearn import torch as cft

    tm = getattr(cft, name)(20, 30, n_factors=6, **kwargs).eval()
    km = getattr(cfk, name)(20, 30, n_factors=6, **kwargs)
    rng = np.random.default_rng(seed)
    weights = {k: rng.normal(0, 0.5, v.shape).astype("float32") for k, v in cft.get_weights(tm).items()}
    cft.set_weights(tm, weights)
    cfk.set_weights(km, weights)
    assert all(np.array_equal(v, cfk.get_weights(km)[k]) for k, v in weights.items())
    user, item = rng.integers(0, 20, 500), rng.integers(0, 30, 500)
    with torch.no_grad():
        a = tm(torch.as_tensor(user), torch.as_tensor(item)).numpy()
        extra = {m: getattr(tm, m)(torch.as_tensor(user), torch.as_tensor(item)) for m in ("score", "branches")
                 if hasattr(tm, m)}
    b = keras.ops.convert_to_numpy(km(user, item, training=False))
    assert np.ptp(a) > 0.1, name  # the comparison is not between two constants
    np.testing.assert_allclose(a, b, atol=1e-5, rtol=0, err_msg=name)
    for method, out in extra.items():
        got = getattr(km, method)(user, item)
        for x, y in zip(out if isinstance(out, tuple) else [out], got if isinstance(got, tuple) else [got]):
            np.testing.assert_allclose(x.numpy(), keras.ops.convert_to_numpy(y), atol=1e-5, rtol=0, err_msg=method)


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_same_weights_same_predictions(name, kwargs):
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    compare(name, kwargs)


def test_same_weights_same_predictions_under_the_keras_torch_backend(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import keras, numpy as np
        from cflearn import keras as cfk
        from test_models import CASES, compare
        assert keras.backend.backend() == "torch"
        for name, kwargs in CASES:
            compare(name, kwargs)
        model = cfk.ResidualCF(20, 30, n_factors=6, hidden=(8,), y_range=(0.5, 5.5))
        try:
            model(np.array([0, 20]), np.array([0, 1]))
            raise SystemExit("index 20 was accepted")
        except ValueError as e:
            assert "outside 0..19" in str(e), e
        model.save({str(tmp_path / "m.keras")!r})
        loaded = keras.models.load_model({str(tmp_path / "m.keras")!r})
        x = np.array([[0, 1], [5, 7]])
        assert np.array_equal(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)))
        print("ok")
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "torch", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]
