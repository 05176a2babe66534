"""The matrix functions behind ``parametrizations.orthogonal``, on batches of matrices: the
matrix exponential and the Householder product, composed of differentiable ops (so gradients
flow), and the QR factorisations used, outside autograd, to store a given orthogonal matrix."""
from __future__ import annotations

import math

from ... import ops
from ...autograd import grad_mode
from ...tensor import Tensor

_TAYLOR_DEGREE = 18  # the remainder is below 1e-22 once the 1-norm is at most 1/2


def matrix_exp(a):
    """``exp(a)`` by scaling and squaring: a Taylor polynomial (Horner's scheme) of
    ``a / 2**s``, with ``s`` chosen so that its 1-norm is at most 1/2, squared ``s`` times."""
    with grad_mode.no_grad():
        norm = float(a.abs().sum(-2).max()) if a.numel() else 0.0
    squarings = max(0, math.ceil(math.log2(norm)) + 1) if norm > 0 else 0
    x = a / 2 ** squarings
    eye = ops.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    result = eye
    for k in range(_TAYLOR_DEGREE, 0, -1):
        result = eye + (x @ result) / k
    for _ in range(squarings):
        result = result @ result
    return result


def householder_product(a, tau):
    """The first ``k`` columns of ``H_1 ... H_k``, ``H_i = I - tau_i v_i v_i^T``, where ``v_i``
    is column ``i`` of the ``(n, k)`` matrix ``a`` below the diagonal with a 1 on it (LAPACK's
    ``orgqr``, PyTorch's ``linalg.householder_product``)."""
    n, k = a.shape[-2:]
    eye = ops.eye(n, k, dtype=a.dtype, device=a.device)
    vectors = a.tril(-1) + eye
    q = eye
    for i in range(k - 1, -1, -1):
        v = vectors[..., :, i:i + 1]
        q = q - (tau[..., i, None, None] * v) @ (v.mT @ q)
    return q


def geqrf(a):
    """LAPACK's ``geqrf`` of ``a`` (outside autograd): ``R`` on and above the diagonal, the
    Householder vectors below it, and their scales ``tau``."""
    h, tau = a._xp().linalg.qr(a._data, mode="raw")
    return Tensor._wrap(h.swapaxes(-1, -2).copy()), Tensor._wrap(tau)


def orthogonalize(a):
    """The ``Q`` of ``a``'s QR factorisation whose ``R`` has a non-negative diagonal (outside
    autograd)."""
    q, r = a._xp().linalg.qr(a._data)
    signs = a._xp().sign(r.diagonal(axis1=-2, axis2=-1))
    return Tensor._wrap(q * signs[..., None, :])
