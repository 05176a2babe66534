"""``distgrad.linalg``: PyTorch's ``torch.linalg`` names that distgrad implements (norms, and the
products it shares with the top level)."""
from .ops.linalg import matmul, matrix_norm, norm, vector_norm

__all__ = ["matmul", "matrix_norm", "norm", "vector_norm"]
