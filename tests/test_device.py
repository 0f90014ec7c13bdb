"""cflearn.device: the GPU toggle falls back to the CPU, honours CFLEARN_DEVICE, and really seeds."""

import numpy as np
import pytest

from cflearn import device


def test_no_framework_means_cpu_without_importing_any(monkeypatch, capsys):
    monkeypatch.delenv("CFLEARN_DEVICE", raising=False)
    dev = device.setup(True, seed=3, frameworks=())
    out = capsys.readouterr().out.strip().splitlines()
    assert dev.keras == "cpu" and dev.torch is None and not dev.is_gpu
    assert len(out) == 2 and out[0].startswith("cflearn ") and out[1].startswith("device: CPU")


def test_gpu_requested_without_a_gpu_falls_back_with_a_hint(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("CFLEARN_DEVICE", "gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    dev = device.resolve(True, frameworks=("torch",))
    assert dev.torch.type == "cpu" and not dev.is_gpu
    assert "no GPU found" in dev.name and "Colab" in dev.name


def test_environment_override_forces_the_cpu(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # pretend a GPU exists
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU")
    monkeypatch.setenv("CFLEARN_DEVICE", "cpu")
    assert device.resolve(True, frameworks=("torch",)).torch.type == "cpu"
    monkeypatch.setenv("CFLEARN_DEVICE", "auto")
    dev = device.resolve(False, frameworks=("torch",))
    assert dev.is_gpu and dev.torch.type == "cuda" and "Fake GPU" in dev.name
    monkeypatch.delenv("CFLEARN_DEVICE")
    assert device.resolve(False, frameworks=("torch",)).torch.type == "cpu"  # USE_GPU = False


def test_bad_override_and_unknown_framework_are_refused(monkeypatch):
    monkeypatch.setenv("CFLEARN_DEVICE", "tpu")
    with pytest.raises(ValueError, match="cpu, gpu or auto"):
        device.resolve(True, frameworks=())
    monkeypatch.delenv("CFLEARN_DEVICE")
    with pytest.raises(ValueError, match="unknown framework"):
        device.resolve(True, frameworks=("jax",))


def test_seed_everything_really_seeds_numpy_and_torch():
    torch = pytest.importorskip("torch")
    device.seed_everything(7, frameworks=("torch",))
    a = (np.random.rand(3), torch.rand(3))
    device.seed_everything(7, frameworks=("torch",))
    b = (np.random.rand(3), torch.rand(3))
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1])
