"""``distgrad.linalg``: PyTorch's ``torch.linalg`` names that distgrad implements (norms,
inverses, determinants, solves, Cholesky, singular values, condition numbers, cross products,
and the products it shares with the top level)."""
from .ops.linalg import (LinAlgError, cholesky, cond, cross, det, inv, matmul, matrix_norm,
                         norm, slogdet, solve, svd, svdvals, vector_norm)

__all__ = ["LinAlgError", "cholesky", "cond", "cross", "det", "inv", "matmul", "matrix_norm",
           "norm", "slogdet", "solve", "svd", "svdvals", "vector_norm"]
