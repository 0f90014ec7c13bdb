"""cflearn: reference code for the collaborative-filtering course.

Only the version lives here, so that ``import cflearn`` stays cheap and imports
neither torch nor keras; import the submodule you need instead, for example
``from cflearn import data`` or ``from cflearn.torch import DotProductBias``.
"""

__version__ = "0.1.0"
