"""Max unpooling (max_unpool1d/2d/3d, MaxUnpool1d/2d/3d) and power-average pooling
(lp_pool1d/2d/3d, LPPool1d/2d/3d) against PyTorch (values, gradients, options), gradcheck, and
the device check."""
import numpy as np
import pytest

import distgrad as dg
import distgrad.nn.functional as F
from distgrad import nn
from distgrad.autograd import gradcheck

CASES = [  # (input shape, kernel, stride, padding, output_size)
    ((2, 3, 8), 2, None, 0, None),
    ((1, 2, 9), 3, 2, 1, (1, 2, 9)),
    ((2, 2, 6, 6), 2, None, 0, None),
    ((1, 3, 7, 5), (3, 2), (2, 1), (1, 0), (7, 5)),
    ((1, 2, 4, 6, 4), 2, None, 0, None),
    ((1, 1, 5, 5, 5), 3, 2, 1, (5, 5, 5)),
]


def _pool(nd):
    return {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nd]


@pytest.mark.parametrize("shape,k,s,p,size", CASES)
def test_max_unpool_matches_torch(shape, k, s, p, size):
    torch = pytest.importorskip("torch")
    nd = len(shape) - 2
    x = np.random.default_rng(nd).standard_normal(shape)
    out, idx = _pool(nd)(dg.tensor(x), k, s, p, return_indices=True)
    tout, tidx = getattr(torch.nn.functional, f"max_pool{nd}d")(torch.tensor(x), k, s, p,
                                                                return_indices=True)
    a = dg.tensor(out.numpy(), requires_grad=True)
    ta = torch.tensor(out.numpy(), requires_grad=True)
    mod = getattr(nn, f"MaxUnpool{nd}d")(k, s, p)
    tmod = getattr(torch.nn, f"MaxUnpool{nd}d")(k, s, p)
    got, want = mod(a, idx, size), tmod(ta, tidx, size)
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    assert repr(mod) == repr(tmod)
    w = np.random.default_rng(1).standard_normal(got.shape)
    (got * dg.tensor(w)).sum().backward()
    (want * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_unpool_gradcheck(nd):
    x = dg.randn(1, 2, *([4] * nd), dtype=dg.float64)
    out, idx = _pool(nd)(x, 2, return_indices=True)
    fn = getattr(F, f"max_unpool{nd}d")
    assert gradcheck(lambda t: fn(t, idx, 2), (out.detach().requires_grad_(),))


def test_max_unpool_indices_on_another_device_raise():
    from distgrad.testing import fake_cupy
    with fake_cupy.installed(n_devices=1):
        out, idx = F.max_pool3d(dg.randn(1, 1, 4, 4, 4), 2, return_indices=True)
        with pytest.raises(RuntimeError, match="cuda:0 and cpu|cpu and cuda:0"):
            F.max_unpool3d(out.to("cuda"), idx, 2)


@pytest.mark.parametrize("shape,p,k,s,ceil", [
    ((2, 3, 9), 2, 3, None, False),
    ((1, 2, 9), 3, 2, 2, True),
    ((2, 2, 6, 7), 2, (2, 3), None, False),
    ((1, 2, 7, 7), 1.5, 3, 2, True),
    ((1, 2, 4, 6, 5), 2, 2, None, False),
    ((1, 1, 5, 5, 5), 3, (2, 3, 2), 2, True),
])
def test_lp_pool_matches_torch(shape, p, k, s, ceil):
    torch = pytest.importorskip("torch")
    nd = len(shape) - 2
    x = np.abs(np.random.default_rng(nd).standard_normal(shape)) + 0.1
    a = dg.tensor(x, requires_grad=True)
    ta = torch.tensor(x, requires_grad=True)
    mod = getattr(nn, f"LPPool{nd}d")(p, k, s, ceil)
    tmod = getattr(torch.nn, f"LPPool{nd}d")(p, k, s, ceil)
    got, want = mod(a), tmod(ta)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    assert repr(mod) == repr(tmod)
    got.sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("nd", [1, 3])
def test_lp_pool_gradcheck(nd):
    x = (dg.rand(1, 2, *([4] * nd), dtype=dg.float64) + 0.5).requires_grad_()
    assert gradcheck(lambda t: getattr(F, f"lp_pool{nd}d")(t, 2, 2), (x,))
