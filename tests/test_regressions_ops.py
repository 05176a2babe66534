"""Regression tests for discrepancies with PyTorch found by differential testing of the Tensor,
autograd and op modules (expected values are PyTorch 2.13's)."""
import numpy as np
import pytest

import distgrad as dg
from distgrad import autograd


@pytest.mark.parametrize("op", [lambda a, b: a * b, lambda a, b: b * a, lambda a, b: b / a,
                                lambda a, b: a / b, lambda a, b: b ** a, lambda a, b: a ** b,
                                lambda a, b: b * a[0, 0]])
def test_grad_of_float32_times_integer_tensor_stays_float32(op):
    # NumPy computes g * int64_array in float64; PyTorch returns each gradient in its input's dtype.
    a = dg.tensor([[1, 2], [3, 4]])
    b = dg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (g,) = autograd.grad(op(a, b).exp().sum() * 0.5, [b])
    assert g.dtype == dg.float32
    (g,) = autograd.grad(op(a, b).sum(), [b], create_graph=True)
    assert g.dtype == dg.float32
