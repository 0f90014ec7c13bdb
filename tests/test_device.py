"""cflearn.device: the GPU toggle falls back to the CPU, honours CFLEARN_DEVICE, and really seeds."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cflearn import device

REPO = Path(__file__).resolve().parent.parent


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


def _run_setup(frameworks, extra=""):
    """Run ``device.setup`` in a fresh Python as a learner's kernel would; return (stdout, stderr)."""
    code = (
        "import sys\n"
        "from cflearn import device\n"
        f"device.setup(False, seed=1, frameworks={frameworks!r})\n"
        "print('modules:', sorted(m for m in ('torch', 'keras', 'tensorflow') if m in sys.modules))\n"
        + extra
    )
    # a learner's environment: none of pytest's variables, no TensorFlow log level chosen for us
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TF_CPP_"))}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def test_a_torch_lesson_never_imports_tensorflow_or_keras():
    pytest.importorskip("torch")
    out, err = _run_setup(("torch",))
    assert "modules: ['torch']" in out, out
    assert err == "", err


def test_a_keras_lesson_never_imports_torch_and_tensorflow_says_nothing_on_stderr():
    """TensorFlow's C++ start-up log goes to fd 2 (not sys.stderr): it must not reach the learner,
    and fd 2 must work again afterwards, so a real error from C code later is still seen."""
    pytest.importorskip("keras")
    later = "import os\nos.write(2, b'fd 2 works again\\n')\n"
    out, err = _run_setup(("keras",), extra=later)
    assert "modules: ['keras', 'tensorflow']" in out, out
    assert err == "fd 2 works again\n", err


def test_few_cores_train_on_one_thread(monkeypatch):
    torch = pytest.importorskip("torch")
    from cflearn.torch import train

    cpu = torch.device("cpu")
    monkeypatch.setattr(train.os, "cpu_count", lambda: 2)
    assert train._one_thread(cpu, 65536) and train._one_thread(cpu, 64)
    monkeypatch.setattr(train.os, "cpu_count", lambda: 16)
    assert train._one_thread(cpu, 64) and not train._one_thread(cpu, 65536)
    assert not train._one_thread(torch.device("meta"), 64)  # not the CPU: nothing to choose
    before = torch.get_num_threads()
    with train._cpu_threads(cpu, 64):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_tensorflow_thread_pools_match_a_small_machine():
    pytest.importorskip("keras")
    code = (
        "import os; os.cpu_count = lambda: 2\n"
        "from cflearn import device\n"
        "device.setup(False, frameworks=('keras',))\n"
        "import tensorflow as tf\n"
        "print(tf.config.threading.get_intra_op_parallelism_threads(), tf.config.threading.get_inter_op_parallelism_threads())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "1 1"
