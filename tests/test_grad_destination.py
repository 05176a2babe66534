"""Preallocated gradient storage (``Tensor._grad_dest``, used by DDP's bucket views): backward
puts a leaf's new gradient there, written in place by the formulas that can (linear) and copied
in otherwise, without changing any result."""
import tracemalloc

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn.functional as F
from distgrad import nn


def _with_storage(*params):
    """Give each parameter preallocated gradient storage: views into one flat buffer."""
    flat = np.full(sum(p.numel() for p in params), np.nan, params[0]._data.dtype)
    dests, o = [], 0
    for p in params:
        dest = dg.Tensor._wrap(flat[o:o + p.numel()].reshape(p._data.shape))
        p._grad_dest = dest
        dests.append(dest)
        o += p.numel()
    return flat, dests


def _reference_grads(build, params):
    """The gradients of ``build()`` for ``params`` without preallocated storage."""
    saved = [p._grad_dest for p in params]
    for p in params:
        p._grad_dest, p.grad = None, None
    build().backward()
    grads = [None if p.grad is None else p.grad.numpy().copy() for p in params]
    for p, d in zip(params, saved):
        p._grad_dest, p.grad = d, None
    return grads


def _linear_case(seed, fan_in, fan_out, batch):
    """A float64 ``nn.Linear``, an input batch for it, and its parameters."""
    dg.manual_seed(seed)
    lin = nn.Linear(fan_in, fan_out, dtype=dg.float64)
    x = dg.randn(batch, fan_in, dtype=dg.float64)
    return lin, x, [lin.weight, lin.bias]


def _check(params, dests, expected):
    for p, d, e in zip(params, dests, expected):
        assert p.grad is d, "the gradient was not put in the preallocated storage"
        np.testing.assert_allclose(p.grad.numpy(), e, rtol=1e-12, atol=1e-12)


def test_linear_writes_weight_and_bias_gradients_in_place():
    lin, x, params = _linear_case(0, 500, 400, 4)
    expected = _reference_grads(lambda: lin(x).square().sum(), params)
    flat, dests = _with_storage(*params)
    loss = lin(x).square().sum()
    tracemalloc.start()
    try:
        loss.backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _check(params, dests, expected)
    # no temporary weight gradient (1.6 MB) was allocated: it was computed into the storage
    assert peak < lin.weight._data.nbytes / 4, peak
    assert np.shares_memory(lin.weight.grad.numpy(), flat)


def test_other_formulas_copy_into_the_storage():
    dg.manual_seed(1)
    w = dg.randn(3, 4, dtype=dg.float64, requires_grad=True)
    x = dg.randn(5, 3, dtype=dg.float64)
    expected = _reference_grads(lambda: (x @ w).tanh().sum(), [w])
    _, dests = _with_storage(w)
    (x @ w).tanh().sum().backward()
    _check([w], dests, expected)


def test_shared_weight_gets_the_sum_of_both_uses():
    lin, x, params = _linear_case(2, 6, 6, 3)

    def build():
        return lin(lin(x).tanh()).sum()

    expected = _reference_grads(build, params)
    _, dests = _with_storage(*params)
    build().backward()
    _check(params, dests, expected)


def test_accumulation_and_set_to_none():
    lin, x, params = _linear_case(3, 4, 3, 2)
    once = _reference_grads(lambda: lin(x).sum(), params)
    _, dests = _with_storage(*params)
    lin(x).sum().backward()
    lin(x).sum().backward()  # .grad is the storage now: the second pass adds to it
    _check(params, dests, [2 * g for g in once])
    lin.zero_grad()  # set_to_none: the next backward overwrites the storage
    lin(x).sum().backward()
    _check(params, dests, once)


def test_hooks_and_autograd_grad_see_ordinary_gradients():
    lin, x, params = _linear_case(4, 4, 3, 2)
    expected = _reference_grads(lambda: lin(x).sum(), params)
    flat, dests = _with_storage(*params)
    (gw,) = dg.autograd.grad(lin(x).sum(), [lin.weight])
    np.testing.assert_allclose(gw.numpy(), expected[0])
    assert not np.shares_memory(gw.numpy(), flat)
    assert lin.weight.grad is None and np.isnan(flat).all()  # grad() leaves .grad alone
    seen = []
    h = lin.weight.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 2)
    lin(x).sum().backward()
    h.remove()
    np.testing.assert_allclose(seen[0], expected[0])
    _check(params, dests, [2 * expected[0], expected[1]])


def test_an_exception_midway_releases_the_claims():
    dg.manual_seed(5)
    lin1, lin2 = nn.Linear(4, 4, dtype=dg.float64), nn.Linear(4, 2, dtype=dg.float64)
    x = dg.randn(3, 4, dtype=dg.float64)
    params = [lin1.weight, lin2.weight]
    expected = _reference_grads(lambda: lin2(lin1(x)).sum(), params)
    _, dests = _with_storage(*params)
    h = lin1(x)
    handle = h.register_hook(lambda g: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        lin2(h).sum().backward()  # lin2 claimed its weight's storage, then the hook raised
    handle.remove()
    assert not any(p._grad_claimed for p in params)
    for p in params:
        p.grad = None
    lin2(lin1(x)).sum().backward()
    _check(params, dests, expected)


def test_storage_that_no_longer_fits_is_ignored():
    lin = nn.Linear(3, 2)
    _with_storage(lin.weight)
    lin.double()  # the parameter changed dtype after the storage was made
    F.linear(dg.ones(1, 3, dtype=dg.float64), lin.weight).sum().backward()
    assert lin.weight.grad is not lin.weight._grad_dest
    assert lin.weight.grad.dtype == dg.float64
    np.testing.assert_allclose(lin.weight.grad.numpy(), np.ones((2, 3)))


def test_deepcopy_does_not_share_the_storage():
    import copy
    lin = nn.Linear(3, 2)
    _with_storage(lin.weight)
    assert copy.deepcopy(lin).weight._grad_dest is None
