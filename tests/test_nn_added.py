"""Padding layers (``ZeroPad``/``ConstantPad``/``ReflectionPad``/``ReplicationPad``/
``CircularPad`` 1d-3d), the activation classes ``CELU``, ``SELU``, ``GLU``, ``Hardshrink``,
``Softshrink``, ``Threshold``, ``RReLU``, the norms ``RMSNorm`` and ``LocalResponseNorm``, and the
schedulers ``MultiplicativeLR`` and ``CosineAnnealingWarmRestarts``: outputs, input (and
parameter) gradients and reprs against PyTorch in float64, learning rates step by step, plus
fixed values that need no PyTorch."""
import math
import warnings

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn
from distgrad import optim
from distgrad.optim import lr_scheduler


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


# (constructor call, evaluated under both ``nn.`` and ``torch.nn.``; input shape)
CASES = [
    ("ZeroPad1d(2)", (2, 3, 5)),
    ("ZeroPad2d((1, 0, 2, 1))", (2, 3, 4, 5)),
    ("ZeroPad3d(1)", (1, 2, 3, 4, 3)),
    ("ConstantPad1d((1, 3), 2.5)", (2, 3, 5)),
    ("ConstantPad2d((-1, 2, 0, 1), -1.0)", (2, 4, 5)),
    ("ConstantPad3d((1, 0, 0, 1, 2, 0), 0.5)", (1, 2, 3, 4, 3)),
    ("ReflectionPad1d((3, 1))", (2, 3, 5)),
    ("ReflectionPad2d((1, 2, 3, 0))", (2, 3, 4, 5)),
    ("ReflectionPad3d(1)", (1, 2, 3, 4, 3)),
    ("ReplicationPad1d((2, 4))", (2, 3, 5)),
    ("ReplicationPad2d(2)", (3, 4, 5)),
    ("ReplicationPad3d((0, 1, 2, 0, 1, 1))", (1, 2, 3, 4, 3)),
    ("CircularPad1d((2, 1))", (2, 3, 5)),
    ("CircularPad2d((1, 2, 3, 1))", (2, 3, 4, 5)),
    ("CircularPad3d(1)", (1, 2, 3, 4, 3)),
    ("CELU()", (4, 6)),
    ("CELU(0.5, inplace=True)", (4, 6)),
    ("SELU()", (4, 6)),
    ("SELU(inplace=True)", (4, 6)),
    ("GLU()", (3, 4, 6)),
    ("GLU(dim=1)", (3, 4, 6)),
    ("Hardshrink()", (4, 6)),
    ("Hardshrink(0.8)", (4, 6)),
    ("Softshrink()", (4, 6)),
    ("Softshrink(0.3)", (4, 6)),
    ("Threshold(0.1, 20.0)", (4, 6)),
    ("Threshold(-0.2, -3, inplace=True)", (4, 6)),
    ("RReLU()", (4, 6)),
    ("RReLU(0.1, 0.3, inplace=True)", (4, 6)),
    ("RMSNorm(6)", (4, 6)),
    ("RMSNorm([3, 4], eps=1e-3)", (2, 3, 4)),
    ("RMSNorm(4, elementwise_affine=False)", (2, 3, 4)),
    ("LocalResponseNorm(3)", (2, 5, 4)),
    ("LocalResponseNorm(2, alpha=0.5, beta=0.6, k=2.0)", (2, 4, 3, 3)),
]


@pytest.mark.parametrize("ctor,shape", CASES, ids=[c for c, _ in CASES])
def test_layer_matches_torch(torch, ctor, shape):
    module, tmodule = eval("nn." + ctor), eval("torch.nn." + ctor)
    assert repr(module) == repr(tmodule)
    module.double().eval()
    tmodule.double().eval()  # RReLU: the deterministic slope
    rng = np.random.default_rng(len(ctor))
    for p in tmodule.parameters():
        with torch.no_grad():
            p.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, tuple(p.shape))))
    module.load_state_dict({k: dg.tensor(v.numpy()) for k, v in tmodule.state_dict().items()})
    x_np = rng.standard_normal(shape)
    g_np = rng.standard_normal(tuple(tmodule(torch.from_numpy(x_np)).shape))
    x, tx = dg.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    inplace = getattr(module, "inplace", False)
    # an in-place layer must not be applied to a leaf that requires grad: give it a copy
    out, tout = module(x * 1 if inplace else x), tmodule(tx * 1 if inplace else tx)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    out.backward(dg.tensor(g_np))
    tout.backward(torch.from_numpy(g_np))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), tp in zip(module.named_parameters(), tmodule.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def _apply(module, values):
    return module(dg.tensor(np.array(values, dtype=np.float64))).detach().numpy()


def test_padding_fixed_values():
    row = [[1.0, 2.0, 3.0, 4.0]]
    np.testing.assert_array_equal(_apply(nn.ReflectionPad1d(2), row), [[3, 2, 1, 2, 3, 4, 3, 2]])
    np.testing.assert_array_equal(_apply(nn.ReplicationPad1d((1, 2)), row),
                                  [[1, 1, 2, 3, 4, 4, 4]])
    np.testing.assert_array_equal(_apply(nn.CircularPad1d((2, 1)), row), [[3, 4, 1, 2, 3, 4, 1]])
    np.testing.assert_array_equal(_apply(nn.ConstantPad1d((1, 0), 9.0), row), [[9, 1, 2, 3, 4]])
    np.testing.assert_array_equal(_apply(nn.ZeroPad2d((0, 1, 1, 0)), [[[1.0, 2.0]]]),
                                  [[[0, 0, 0], [1, 2, 0]]])
    assert isinstance(nn.ZeroPad2d(1), nn.ConstantPad2d) and nn.ZeroPad2d(1).value == 0.0
    assert nn.ReflectionPad2d(1).padding == (1, 1, 1, 1)
    assert repr(nn.ZeroPad1d(2)) == "ZeroPad1d((2, 2))"
    assert repr(nn.ConstantPad2d(1, 3.5)) == "ConstantPad2d(padding=(1, 1, 1, 1), value=3.5)"
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.CircularPad1d(1)(dg.zeros(1, 1, 2, 3))


def test_activation_fixed_values():
    x = [-1.0, -0.3, 0.2, 0.7]
    np.testing.assert_allclose(_apply(nn.Hardshrink(), x), [-1.0, 0.0, 0.0, 0.7])
    np.testing.assert_allclose(_apply(nn.Softshrink(), x), [-0.5, 0.0, 0.0, 0.2])
    np.testing.assert_allclose(_apply(nn.Threshold(0.1, 20.0), x), [20, 20, 0.2, 0.7])
    np.testing.assert_allclose(_apply(nn.GLU(), [2.0, 3.0, 0.0, math.log(3.0)]), [1.0, 2.25])
    np.testing.assert_allclose(_apply(nn.CELU(2.0), [-2.0, 1.0]),
                               [2.0 * (math.exp(-1.0) - 1.0), 1.0])
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    np.testing.assert_allclose(_apply(nn.SELU(), [-1.0, 2.0]),
                               [scale * alpha * (math.exp(-1.0) - 1.0), 2 * scale])
    np.testing.assert_allclose(_apply(nn.RReLU(0.1, 0.3).eval(), [-1.0, 2.0]), [-0.2, 2.0])
    assert repr(nn.Threshold(0.1, 20, inplace=True)) == \
        "Threshold(threshold=0.1, value=20, inplace=True)"
    assert repr(nn.Softshrink(0.3)) == "Softshrink(0.3)"
    assert repr(nn.SELU()) == "SELU()" and repr(nn.CELU()) == "CELU(alpha=1.0)"
    assert not isinstance(nn.CELU(), nn.ELU)


def test_activation_inplace_writes_input():
    x = dg.tensor([-1.0, 0.05, 0.5])
    out = nn.Threshold(0.1, 7.0, inplace=True)(x)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), [7.0, 7.0, 0.5])


def test_rrelu_training_draws_slopes_in_range():
    m = nn.RReLU(0.1, 0.3)
    x = dg.tensor(-np.linspace(1.0, 2.0, 200), requires_grad=True)
    out = m(x)
    slopes = out.detach().numpy() / x.detach().numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.01
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes)  # the gradient uses the drawn slopes
    y = dg.tensor([-1.0, 2.0])
    assert nn.RReLU(inplace=True)(y) is y and -1 / 3 <= y[0].item() <= -1 / 8  # in place


def test_norm_fixed_values():
    np.testing.assert_allclose(_apply(nn.RMSNorm(2, eps=0.0), [[1.0, 7.0]]), [[0.2, 1.4]])
    m = nn.RMSNorm((2, 3))
    assert tuple(m.weight.shape) == (2, 3) and not hasattr(m, "bias")
    assert nn.RMSNorm(3, elementwise_affine=False).weight is None
    out = _apply(nn.LocalResponseNorm(1, alpha=1.0, beta=1.0, k=1.0), [[[2.0], [1.0]]])
    np.testing.assert_allclose(out, [[[0.4], [0.5]]])  # x / (1 + x**2)
    assert repr(nn.LocalResponseNorm(2)) == "LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)"


# ---------------------------------------------------------------- schedulers


def _factor(epoch):
    return 0.9 if epoch % 3 else 1.1


SCHEDULES = {
    "warm_restarts": (lambda L, o: L.CosineAnnealingWarmRestarts(o, 4, eta_min=0.01),
                      [None] * 25),
    "warm_restarts_mult2": (lambda L, o: L.CosineAnnealingWarmRestarts(o, 2, T_mult=2),
                            [None] * 25),
    "warm_restarts_fractional": (
        lambda L, o: L.CosineAnnealingWarmRestarts(o, 2, T_mult=2, eta_min=0.001),
        [0.3 * i for i in range(1, 22)] + [None, 10, None, 2.5, None]),
    "warm_restarts_mult3_fractional": (
        lambda L, o: L.CosineAnnealingWarmRestarts(o, 1, T_mult=3),
        [0.7 * i for i in range(25)]),
    "multiplicative": (lambda L, o: L.MultiplicativeLR(o, _factor), [None] * 25),
    "multiplicative_per_group": (
        lambda L, o: L.MultiplicativeLR(o, [_factor, lambda e: 0.95]), [None] * 20 + [4, None]),
}


def _lrs(lib, make, steps):
    """The lrs of every group after construction and after each step (``None``: ``step()``)."""
    p, q = lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(1))
    opt = lib.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.5}], lr=0.1)
    sched = make(lib.optim.lr_scheduler, opt)
    seen = [sched.get_last_lr()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in steps:
            opt.step()
            sched.step() if epoch is None else sched.step(epoch)
            seen.append(sched.get_last_lr())
    return seen


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_scheduler_matches_torch(torch, name):
    make, steps = SCHEDULES[name]
    np.testing.assert_allclose(_lrs(dg, make, steps), _lrs(torch, make, steps), rtol=1e-13)


def test_scheduler_fixed_values():
    make = lambda L, o: L.CosineAnnealingWarmRestarts(o, 2)  # noqa: E731
    lrs = [g[0] for g in _lrs(dg, make, [None] * 4)]
    np.testing.assert_allclose(lrs, [0.1, 0.05, 0.1, 0.05, 0.1])
    lrs = [g[0] for g in _lrs(dg, make, [0.5, 3.0])]
    np.testing.assert_allclose(lrs, [0.1, 0.05 * (1 + math.cos(math.pi / 4)), 0.05])
    lrs = [g[1] for g in _lrs(dg, lambda L, o: L.MultiplicativeLR(o, lambda e: 0.5), [None] * 2)]
    np.testing.assert_allclose(lrs, [0.5, 0.25, 0.125])


def test_scheduler_argument_errors():
    opt = optim.SGD([nn.Parameter(dg.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="T_0"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, 0)
    with pytest.raises(ValueError, match="T_mult"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, 2, T_mult=1.5)
    with pytest.raises(ValueError, match="non-negative epoch"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, 2).step(-1)
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        lr_scheduler.MultiplicativeLR(opt, 0.5)


class _Decay:
    """A callable object: its attributes go into the state dict."""

    def __init__(self, factor):
        self.factor = factor

    def __call__(self, epoch):
        return self.factor


@pytest.mark.parametrize("make", [
    lambda o, f: lr_scheduler.CosineAnnealingWarmRestarts(o, 3, T_mult=2, eta_min=0.01),
    lambda o, f: lr_scheduler.MultiplicativeLR(o, f),
], ids=["warm_restarts", "multiplicative"])
def test_scheduler_state_dict_round_trip(make):
    def fresh(factor):
        opt = optim.SGD([nn.Parameter(dg.zeros(1))], lr=0.1)
        return opt, make(opt, _Decay(factor))

    opt, sched = fresh(0.9)
    for _ in range(7):
        opt.step()
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state
    opt2, sched2 = fresh(0.5)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(state)
    assert sched2.state_dict() == state
    if isinstance(sched2, lr_scheduler.MultiplicativeLR):
        assert sched2.lr_lambdas[0].factor == 0.9
    for _ in range(10):
        opt.step()
        sched.step()
        opt2.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
