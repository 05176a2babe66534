"""distgrad.nn.init: gains, fans, distributions, seeding, and the default layer initialisation."""
import math

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn
from distgrad.nn import init


def arr(t):
    return np.asarray(t.detach()._data)


@pytest.mark.torch
def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for name in ["linear", "conv2d", "sigmoid", "tanh", "relu", "selu"]:
        assert init.calculate_gain(name) == torch.nn.init.calculate_gain(name)
    for param in [None, 0.2, 1, math.sqrt(5)]:
        assert init.calculate_gain("leaky_relu", param) == pytest.approx(
            torch.nn.init.calculate_gain("leaky_relu", param))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.torch
def test_fan_in_and_fan_out_matches_torch():
    torch = pytest.importorskip("torch")
    for shape in [(3, 5), (8, 4, 3, 3), (2, 6, 5)]:
        assert init._calculate_fan_in_and_fan_out(dg.empty(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(dg.empty(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(dg.empty(3, 3), mode="fan_avg")


def test_seeded_and_in_place_and_no_graph():
    p = nn.Parameter(dg.empty(50, 40))
    dg.manual_seed(3)
    out = init.xavier_uniform_(p)
    first = arr(p).copy()
    assert out is p and p.is_leaf and p.grad_fn is None and p.requires_grad
    dg.manual_seed(3)
    init.xavier_uniform_(p)
    assert np.array_equal(first, arr(p))
    g = dg.Generator().manual_seed(3)
    init.xavier_uniform_(p, generator=g)
    assert np.array_equal(first, arr(p))


def _bound_check(values, bound):
    assert values.min() >= -bound and values.max() <= bound
    assert values.min() < -0.9 * bound and values.max() > 0.9 * bound  # the range is used


def test_distributions():
    dg.manual_seed(0)
    t = dg.empty(200, 300)
    init.uniform_(t, -2.0, 3.0)
    assert arr(t).min() >= -2 and arr(t).max() <= 3 and abs(arr(t).mean() - 0.5) < 0.05
    init.normal_(t, 1.0, 2.0)
    assert abs(arr(t).mean() - 1) < 0.05 and abs(arr(t).std() - 2) < 0.05
    init.trunc_normal_(t, 0.0, 1.0, -1.0, 1.5)
    assert arr(t).min() >= -1 and arr(t).max() <= 1.5
    init.constant_(t, 0.25)
    assert np.all(arr(t) == 0.25)
    init.ones_(t)
    assert np.all(arr(t) == 1)
    init.zeros_(t)
    assert not arr(t).any()
    fan_in, fan_out = 300, 200
    init.xavier_uniform_(t, gain=2.0)
    _bound_check(arr(t), 2.0 * math.sqrt(6.0 / (fan_in + fan_out)))
    init.xavier_normal_(t)
    assert abs(arr(t).std() - math.sqrt(2.0 / (fan_in + fan_out))) < 0.003
    init.kaiming_uniform_(t, a=0, nonlinearity="relu")
    _bound_check(arr(t), math.sqrt(2.0) * math.sqrt(3.0 / fan_in))
    init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu")
    _bound_check(arr(t), math.sqrt(2.0) * math.sqrt(3.0 / fan_out))
    init.kaiming_normal_(t, nonlinearity="relu")
    assert abs(arr(t).std() - math.sqrt(2.0 / fan_in)) < 0.003
    init.eye_(t)
    assert np.array_equal(arr(t), np.eye(200, 300))
    init.orthogonal_(t)
    np.testing.assert_allclose(arr(t) @ arr(t).T, np.eye(200), atol=1e-4)
    w = dg.empty(4, 2, 3, 3)
    init.dirac_(w)
    assert arr(w).sum() == 2 and arr(w)[1, 1, 1, 1] == 1
    init.sparse_(t, 0.5)
    assert (arr(t) == 0).mean() == pytest.approx(0.5, abs=0.01)


def test_dtype_preserved():
    t = dg.empty(10, 10, dtype=dg.float64)
    init.kaiming_normal_(t)
    assert t.dtype == dg.float64


def test_linear_default_init_bounds():
    dg.manual_seed(0)
    m = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=sqrt(5)) gives the same bound as the bias
    _bound_check(arr(m.weight), bound)
    _bound_check(arr(m.bias), bound)
    assert abs(arr(m.weight).std() - bound / math.sqrt(3)) < 1e-3
    assert m.weight.dtype == dg.float32 and m.weight.shape == (300, 400)
    assert nn.Linear(3, 2, dtype=dg.float64).weight.dtype == dg.float64


def test_conv_default_init_bounds():
    dg.manual_seed(0)
    m = nn.Conv2d(16, 32, 3, groups=2)
    fan_in = 8 * 3 * 3
    bound = 1 / math.sqrt(fan_in)
    _bound_check(arr(m.weight), bound)
    assert m.weight.shape == (32, 8, 3, 3)
    assert arr(m.bias).min() >= -bound and arr(m.bias).max() <= bound


@pytest.mark.torch
def test_default_init_statistics_match_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    dg.manual_seed(0)
    for ours, theirs in [(nn.Linear(200, 150), torch.nn.Linear(200, 150)),
                         (nn.Conv2d(8, 64, 5), torch.nn.Conv2d(8, 64, 5)),
                         (nn.Embedding(300, 64), torch.nn.Embedding(300, 64))]:
        for name, p in ours.named_parameters():
            q = getattr(theirs, name).detach().numpy()
            a = arr(p)
            assert a.shape == q.shape and a.dtype == q.dtype
            if isinstance(ours, nn.Embedding):
                assert abs(a.mean()) < 0.02 and abs(a.std() - q.std()) < 0.02
                continue
            fan_in = torch.nn.init._calculate_fan_in_and_fan_out(theirs.weight)[0]
            bound = 1 / math.sqrt(fan_in)  # PyTorch's default for weight and bias alike
            assert np.abs(a).max() <= bound and np.abs(q).max() <= bound
            if a.size > 1000:
                assert abs(a.std() - q.std()) < 0.05 * q.std()
                assert np.abs(a).max() > 0.99 * bound


def test_norm_and_embedding_init():
    bn = nn.BatchNorm2d(3)
    assert arr(bn.weight).tolist() == [1, 1, 1] and arr(bn.bias).tolist() == [0, 0, 0]
    assert arr(bn.running_var).tolist() == [1, 1, 1] and bn.num_batches_tracked.dtype == dg.int64
    ln = nn.LayerNorm(4)
    assert arr(ln.weight).tolist() == [1] * 4 and arr(ln.bias).tolist() == [0] * 4
    emb = nn.Embedding(10, 4, padding_idx=-1)
    assert emb.padding_idx == 9 and not arr(emb.weight)[9].any()
    assert abs(arr(nn.Embedding(1000, 50).weight).std() - 1) < 0.05
