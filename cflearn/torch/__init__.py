"""PyTorch models and training helpers: ``from cflearn.torch import DotProductBias, fit, predict``.

The same names and arguments exist in ``cflearn.keras``; switching framework is changing
this one import. Introduced in lesson 03.
"""

from cflearn.torch.bpr import BPRMF, bpr_loss, fit_bpr
from cflearn.torch.models import DotProduct, DotProductBias, NeuralCF, ResidualCF, get_weights, set_weights
from cflearn.torch.train import fit, predict

__all__ = ["DotProduct", "DotProductBias", "NeuralCF", "ResidualCF", "fit", "predict", "get_weights", "set_weights"]
