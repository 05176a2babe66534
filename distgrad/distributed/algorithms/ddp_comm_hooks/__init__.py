"""Communication hooks for ``DistributedDataParallel.register_comm_hook``: ``default_hooks``
(plain and float16 averaging) and ``powerSGD_hook`` (low-rank compression)."""
from . import default_hooks, powerSGD_hook  # noqa: F401
