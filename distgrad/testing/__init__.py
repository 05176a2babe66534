"""Test helpers: ``assert_close`` (PyTorch's ``torch.testing.assert_close``) and ``fake_cupy``
(a CuPy stand-in on the CPU)."""
from .comparison import assert_close  # noqa: F401
