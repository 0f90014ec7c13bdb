"""The GPU toggle: one switch (``USE_GPU``) resolved to a torch device and a Keras device.

``setup`` is what every lesson's setup cell calls. ``CFLEARN_DEVICE=cpu|gpu|auto`` overrides
the notebook's switch (handy on a shared machine or in CI). Asking for a GPU where there is
none falls back to the CPU with one line saying how to get one. Introduced in lesson 00.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from dataclasses import dataclass

__all__ = ["Device", "setup", "seed_everything", "resolve", "versions"]

_KNOWN = ("torch", "keras")
_COLAB_HINT = "for one, open the notebook on Colab and pick Runtime > Change runtime type > GPU"


@dataclass
class Device:
    """What the notebook trains on. ``torch`` is a ``torch.device`` (None if torch is unused),
    ``keras`` a Keras device string ("cpu" or "gpu:0"), ``name`` a line for people."""

    torch: object
    keras: str
    name: str
    is_gpu: bool

    def __repr__(self) -> str:
        return f"Device({self.name})"


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send what C code writes to file descriptor 2 to the null device, then restore it.

    TensorFlow's C++ start-up log ("All log messages before absl::InitializeLog()",
    "oneDNN custom operations are on") ignores ``TF_CPP_MIN_LOG_LEVEL`` and would show as
    red stderr blocks in Jupyter. Only the import is silenced: errors later still show,
    and Python's own ``sys.stderr`` (warnings, tracebacks) is never touched.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no real fd 2 (some embedded consoles)
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
        finally:
            os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _import_keras():
    """Import Keras (and TensorFlow behind it) without TensorFlow's start-up chatter.

    On a machine with two cores or fewer TensorFlow's thread pools get one thread each, as
    ``cflearn.torch.fit`` uses one thread there: its default pools ran slower under load
    (213 k against 297 k ratings per second, measured on a shared 2-core machine).
    """
    if "keras" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # later C++ info and warnings too
        with _native_stderr_silenced():
            import keras  # noqa: F401  (loads TensorFlow, which logs to fd 2 while loading)
        if keras.backend.backend() == "tensorflow" and (os.cpu_count() or 1) <= 2:
            tf = sys.modules["tensorflow"]
            with contextlib.suppress(RuntimeError):  # too late once TensorFlow has run an operation
                tf.config.threading.set_intra_op_parallelism_threads(1)
                tf.config.threading.set_inter_op_parallelism_threads(1)
    return sys.modules["keras"]


def _import_tensorflow():
    """Import TensorFlow quietly (see ``_import_keras``)."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with _native_stderr_silenced():
            import tensorflow  # noqa: F401
    return sys.modules["tensorflow"]


def _want(use_gpu: bool) -> str:
    """The choice after the environment override: "cpu", "gpu" or "auto"."""
    env = os.environ.get("CFLEARN_DEVICE", "").strip().lower()
    if env:
        if env not in ("cpu", "gpu", "auto"):
            raise ValueError(f"CFLEARN_DEVICE={env!r} is not understood; use cpu, gpu or auto (or unset it).")
        return env
    return "auto" if use_gpu else "cpu"


def _gpu_name(frameworks) -> str | None:
    """The name of a usable GPU, asking only the frameworks in use (imports are slow)."""
    if "torch" in frameworks:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "Apple MPS"
    if "keras" in frameworks:
        keras = _import_keras()
        if keras.backend.backend() == "tensorflow":
            tf = _import_tensorflow()
            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                return gpus[0].name
    return None


def resolve(use_gpu: bool = True, frameworks=_KNOWN) -> Device:
    """Decide the device without printing or seeding."""
    frameworks = tuple(frameworks)
    unknown = [f for f in frameworks if f not in _KNOWN]
    if unknown:
        raise ValueError(f"unknown framework(s) {unknown}; choose from {list(_KNOWN)}.")
    want = _want(use_gpu)
    gpu = _gpu_name(frameworks) if want != "cpu" and frameworks else None
    torch_device = None
    if "torch" in frameworks:
        import torch

        if gpu == "Apple MPS":
            torch_device = torch.device("mps")
        else:
            torch_device = torch.device("cuda" if gpu else "cpu")
    if gpu:
        return Device(torch=torch_device, keras="gpu:0", name=f"GPU ({gpu})", is_gpu=True)
    if want == "cpu":
        why = "CPU (CFLEARN_DEVICE=cpu)" if os.environ.get("CFLEARN_DEVICE") else "CPU (USE_GPU is False)"
    elif not frameworks:
        why = "CPU (this lesson trains no neural model)"
    else:
        why = f"CPU (no GPU found; {_COLAB_HINT})"
    return Device(torch=torch_device, keras="cpu", name=why, is_gpu=False)


def seed_everything(seed: int = 42, frameworks=_KNOWN) -> None:
    """Seed Python, NumPy and the frameworks in use, so a rerun gives the same numbers on CPU."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if "torch" in frameworks:
        import torch

        torch.manual_seed(seed)
    if "keras" in frameworks:
        keras = _import_keras()
        keras.utils.set_random_seed(seed)


def versions(frameworks=_KNOWN) -> str:
    """One line of library versions (importing Keras quietly); the setup cell prints it."""
    import numpy as np
    import pandas as pd

    import cflearn

    parts = [f"cflearn {cflearn.__version__}", f"python {sys.version.split()[0]}", f"numpy {np.__version__}", f"pandas {pd.__version__}"]
    if "torch" in frameworks:
        import torch

        parts.append(f"torch {torch.__version__}")
    if "keras" in frameworks:
        keras = _import_keras()
        parts.append(f"keras {keras.__version__} ({keras.backend.backend()} backend)")
    return ", ".join(parts)


def setup(use_gpu: bool = True, seed: int = 42, frameworks=_KNOWN) -> Device:
    """Resolve the device, seed everything, and print one line of versions and one of the device.

    Parameters
    ----------
    use_gpu : bool
        The notebook's ``USE_GPU`` switch; ``CFLEARN_DEVICE`` overrides it.
    seed : int
        Seed for Python, NumPy, torch and Keras.
    frameworks : tuple of str
        Which of "torch" and "keras" the lesson uses (others are not imported).

    Introduced in lesson 00.
    """
    frameworks = tuple(frameworks)
    dev = resolve(use_gpu, frameworks)
    seed_everything(seed, frameworks)
    print(versions(frameworks))
    print(f"device: {dev.name}; seed {seed}")
    return dev
