"""``distgrad.utils.data``: ``distgrad.data`` at PyTorch's path (``torch.utils.data``), so code
written for PyTorch finds ``DataLoader``, ``TensorDataset`` ... where it expects them."""
from ..data import *  # noqa: F401,F403  (the same objects)
from ..data import __all__  # noqa: F401
