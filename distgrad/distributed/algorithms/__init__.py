"""Algorithms on top of the collectives (PyTorch's ``torch.distributed.algorithms``)."""
from . import ddp_comm_hooks  # noqa: F401
