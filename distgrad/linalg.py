"""``distgrad.linalg``: PyTorch's ``torch.linalg`` names that distgrad implements (norms,
inverses, determinants, solves, Cholesky, and the products it shares with the top level)."""
from .ops.linalg import (LinAlgError, cholesky, det, inv, matmul, matrix_norm, norm, slogdet,
                         solve, vector_norm)

__all__ = ["LinAlgError", "cholesky", "det", "inv", "matmul", "matrix_norm", "norm", "slogdet",
           "solve", "vector_norm"]
