"""Keras 3 models and training helpers: ``from cflearn.keras import DotProductBias, fit, predict``.

The same names and arguments exist in ``cflearn.torch``; switching framework is changing
this one import. The models use ``keras.ops`` only, so any Keras backend runs them.
Introduced in lesson 03.
"""

from cflearn.keras.bpr import BPRMF, bpr_loss, fit_bpr
from cflearn.keras.models import DotProduct, DotProductBias, NeuralCF, ResidualCF, get_weights, set_weights
from cflearn.keras.train import fit, predict

__all__ = ["DotProduct", "DotProductBias", "NeuralCF", "ResidualCF", "fit", "predict", "get_weights", "set_weights"]
