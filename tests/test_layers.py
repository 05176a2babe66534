"""Layers and losses against PyTorch (float64): outputs, input gradients and parameter gradients
with the weights copied from torch; BatchNorm running statistics; Dropout; a small CNN."""
from collections import OrderedDict

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn

torch = pytest.importorskip("torch")
tnn = torch.nn
pytestmark = pytest.mark.torch

RTOL = 1e-10
ATOL = 1e-12


def arr(t):
    return np.asarray(t.detach()._data)


def copy_from_torch(ours, theirs):
    """Load torch's parameters and buffers into ``ours`` (converted to float64)."""
    ours.double()
    theirs.double()
    result = ours.load_state_dict({k: v.detach().numpy().copy() for k, v in
                                   theirs.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []


def compare(ours, theirs, *inputs, seed=0, train=True, int_inputs=(), check_params=True):
    """Run both modules on the same float64 inputs and an identical random upstream gradient;
    compare outputs, input gradients and parameter gradients."""
    copy_from_torch(ours, theirs)
    ours.train(train)
    theirs.train(train)
    rng = np.random.default_rng(seed)
    dg_in, t_in = [], []
    for i, x in enumerate(inputs):
        if i in int_inputs:
            dg_in.append(dg.tensor(x))
            t_in.append(torch.tensor(x))
        else:
            dg_in.append(dg.tensor(x, requires_grad=True))
            t_in.append(torch.tensor(x, requires_grad=True))
    out = ours(*dg_in)
    tout = theirs(*t_in)
    np.testing.assert_allclose(arr(out), tout.detach().numpy(), rtol=RTOL, atol=ATOL)
    g = rng.normal(size=tout.shape)
    (out * dg.tensor(g)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    for i, (a, b) in enumerate(zip(dg_in, t_in)):
        if i in int_inputs:
            continue
        np.testing.assert_allclose(arr(a.grad), b.grad.numpy(), rtol=RTOL, atol=ATOL)
    if check_params:
        tparams = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            tp = tparams[name]
            if tp.grad is None:
                assert p.grad is None or not arr(p.grad).any(), name
                continue
            np.testing.assert_allclose(arr(p.grad), tp.grad.numpy(), rtol=RTOL, atol=ATOL,
                                       err_msg=name)
    return out, tout


def randn(*shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape)


# -- layers --------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
def test_linear(bias):
    compare(nn.Linear(5, 3, bias=bias), tnn.Linear(5, 3, bias=bias), randn(4, 5))
    compare(nn.Linear(5, 3, bias=bias), tnn.Linear(5, 3, bias=bias), randn(2, 6, 5))


@pytest.mark.parametrize("kwargs", [
    {},
    {"stride": 2, "padding": 1},
    {"padding": (1, 2), "dilation": 2},
    {"groups": 2, "bias": False},
    {"padding": "same", "dilation": (1, 2)},
    {"padding": "valid", "stride": (1, 2)},
    {"padding": 1, "padding_mode": "reflect"},
    {"padding": 2, "padding_mode": "circular"},
    {"padding": 1, "padding_mode": "replicate"},
])
def test_conv2d(kwargs):
    compare(nn.Conv2d(4, 6, 3, **kwargs), tnn.Conv2d(4, 6, 3, **kwargs), randn(2, 4, 9, 8))


def test_conv2d_rectangular_kernel():
    compare(nn.Conv2d(3, 2, (2, 3), stride=(2, 1)), tnn.Conv2d(3, 2, (2, 3), stride=(2, 1)),
            randn(2, 3, 7, 7))


def test_conv2d_argument_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(3, 3, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Invalid padding string"):
        nn.Conv2d(3, 3, 3, padding="full")


@pytest.mark.parametrize("kwargs", [
    {"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": (2, 3), "stride": 1, "dilation": 2}, {"kernel_size": 3, "ceil_mode": True,
                                                           "stride": 2},
])
def test_maxpool2d(kwargs):
    compare(nn.MaxPool2d(**kwargs), tnn.MaxPool2d(**kwargs), randn(2, 3, 9, 8))


@pytest.mark.parametrize("kwargs", [
    {"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"kernel_size": 2, "divisor_override": 3},
])
def test_avgpool2d(kwargs):
    compare(nn.AvgPool2d(**kwargs), tnn.AvgPool2d(**kwargs), randn(2, 3, 9, 8))


@pytest.mark.parametrize("ours,theirs", [
    (nn.Flatten(), tnn.Flatten()), (nn.Flatten(0, 2), tnn.Flatten(0, 2)),
    (nn.Identity(), tnn.Identity()), (nn.ReLU(), tnn.ReLU()), (nn.Tanh(), tnn.Tanh()),
    (nn.Sigmoid(), tnn.Sigmoid()), (nn.GELU(), tnn.GELU()), (nn.GELU("tanh"), tnn.GELU("tanh")),
    (nn.Softmax(dim=1), tnn.Softmax(dim=1)), (nn.Softmax(-1), tnn.Softmax(-1)),
    (nn.LogSoftmax(dim=1), tnn.LogSoftmax(dim=1)), (nn.Unflatten(1, (2, 3)),
                                                    tnn.Unflatten(1, (2, 3))),
])
def test_parameterless_layers(ours, theirs):
    compare(ours, theirs, randn(4, 6, 5))


def test_relu_inplace():
    x = dg.tensor(randn(3, 4))
    out = nn.ReLU(inplace=True)(x)
    assert out is x and arr(x).min() >= 0


def test_dropout():
    dg.manual_seed(0)
    d = nn.Dropout(0.25)
    x = dg.ones(200, 100, dtype=dg.float64, requires_grad=True)
    y = d(x)
    values = arr(y)
    zero_fraction = (values == 0).mean()
    assert abs(zero_fraction - 0.25) < 0.02
    np.testing.assert_allclose(values[values != 0], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(arr(x.grad), values)  # the same mask scales the gradient
    d.eval()
    assert d(x) is x or np.array_equal(arr(d(x)), arr(x))
    assert np.array_equal(arr(nn.Dropout(0.0)(x)), arr(x))
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.Dropout(1.5)


@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 3)])
def test_batchnorm1d(shape):
    ours, theirs = nn.BatchNorm1d(5), tnn.BatchNorm1d(5)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(randn(5, seed=3)))
        theirs.bias.copy_(torch.tensor(randn(5, seed=4)))
    compare(ours, theirs, randn(*shape))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        ours(dg.ones(2, 5, 1, 1))


@pytest.mark.parametrize("momentum,affine,track", [(0.1, True, True), (None, True, True),
                                                   (0.3, False, True), (0.1, True, False)])
def test_batchnorm2d_running_stats_and_eval(momentum, affine, track):
    ours = nn.BatchNorm2d(3, momentum=momentum, affine=affine, track_running_stats=track)
    theirs = tnn.BatchNorm2d(3, momentum=momentum, affine=affine, track_running_stats=track)
    if affine:
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(randn(3, seed=3)))
            theirs.bias.copy_(torch.tensor(randn(3, seed=4)))
    copy_from_torch(ours, theirs)
    for step in range(3):  # three training steps, with gradients
        x = randn(4, 3, 5, 5, seed=10 + step) * (step + 1) + step
        compare(ours, theirs, x, seed=step)
        ours.zero_grad()
        theirs.zero_grad()
        # compare() copies torch's state in; check the stats it produced before the next copy
    if track:
        for name in ("running_mean", "running_var"):
            np.testing.assert_allclose(arr(getattr(ours, name)),
                                       getattr(theirs, name).numpy(), rtol=RTOL)
        assert int(ours.num_batches_tracked.item()) == int(theirs.num_batches_tracked) == 3
    x = randn(2, 3, 4, 4, seed=42)
    compare(ours, theirs, x, train=False)


def test_batchnorm_stats_accumulate_without_reloading():
    """Three training steps on our module alone give torch's running statistics."""
    ours, theirs = nn.BatchNorm2d(3).double(), tnn.BatchNorm2d(3).double()
    for step in range(3):
        x = randn(4, 3, 5, 5, seed=20 + step) * 2 + step
        ours(dg.tensor(x))
        theirs(torch.tensor(x))
    np.testing.assert_allclose(arr(ours.running_mean), theirs.running_mean.numpy(), rtol=RTOL)
    np.testing.assert_allclose(arr(ours.running_var), theirs.running_var.numpy(), rtol=RTOL)
    assert int(ours.num_batches_tracked.item()) == 3
    ours.eval()
    theirs.eval()
    x = randn(2, 3, 4, 4, seed=7)
    np.testing.assert_allclose(arr(ours(dg.tensor(x))),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("shape,normalized", [((4, 6), 6), ((2, 3, 4, 5), (4, 5))])
def test_layernorm(shape, normalized):
    theirs = tnn.LayerNorm(normalized)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(randn(*theirs.weight.shape, seed=3)))
        theirs.bias.copy_(torch.tensor(randn(*theirs.bias.shape, seed=4)))
    compare(nn.LayerNorm(normalized), theirs, randn(*shape))
    compare(nn.LayerNorm(normalized, elementwise_affine=False),
            tnn.LayerNorm(normalized, elementwise_affine=False), randn(*shape))


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding(padding_idx):
    ours = nn.Embedding(7, 4, padding_idx=padding_idx)
    theirs = tnn.Embedding(7, 4, padding_idx=padding_idx)
    ids = np.array([[1, 2, 1], [6, 0, 1]])
    compare(ours, theirs, ids, int_inputs=(0,))
    if padding_idx is not None:
        assert not arr(ours.weight.grad)[padding_idx].any()


def test_embedding_from_pretrained():
    w = dg.tensor(randn(5, 3))
    emb = nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad and emb.weight.data_ptr() == w.data_ptr()
    np.testing.assert_array_equal(arr(emb(dg.tensor([4, 0]))), arr(w)[[4, 0]])


# -- losses --------------------------------------------------------------------------------------
def compare_loss(ours, theirs, input, target, target_is_int=False):
    x = dg.tensor(input, requires_grad=True)
    tx = torch.tensor(input, requires_grad=True)
    y = dg.tensor(target)
    ty = torch.tensor(target)
    out = ours(x, y)
    tout = theirs(tx, ty)
    np.testing.assert_allclose(arr(out), tout.detach().numpy(), rtol=RTOL, atol=ATOL)
    g = np.random.default_rng(0).normal(size=tout.shape)
    (out * dg.tensor(g)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(arr(x.grad), tx.grad.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(reduction):
    compare_loss(nn.MSELoss(reduction=reduction), tnn.MSELoss(reduction=reduction),
                 randn(4, 3), randn(4, 3, seed=2))
    compare_loss(nn.L1Loss(reduction=reduction), tnn.L1Loss(reduction=reduction),
                 randn(4, 3), randn(4, 3, seed=2))


@pytest.mark.parametrize("kwargs", [
    {}, {"reduction": "sum"}, {"reduction": "none"}, {"ignore_index": 2},
    {"weight": np.array([1.0, 2.0, 0.5, 3.0])},
    {"weight": np.array([1.0, 2.0, 0.5, 3.0]), "ignore_index": 0},
    {"label_smoothing": 0.1},
])
def test_classification_losses(kwargs):
    logits = randn(6, 4)
    target = np.array([0, 2, 3, 1, 2, 0])
    dg_kwargs = dict(kwargs)
    t_kwargs = dict(kwargs)
    if "weight" in kwargs:
        dg_kwargs["weight"] = dg.tensor(kwargs["weight"])
        t_kwargs["weight"] = torch.tensor(kwargs["weight"])
    compare_loss(nn.CrossEntropyLoss(**dg_kwargs), tnn.CrossEntropyLoss(**t_kwargs), logits,
                 target)
    if "label_smoothing" not in kwargs:
        logp = torch.log_softmax(torch.tensor(logits), 1).numpy()
        compare_loss(nn.NLLLoss(**dg_kwargs), tnn.NLLLoss(**t_kwargs), logp, target)


def test_cross_entropy_spatial():
    compare_loss(nn.CrossEntropyLoss(), tnn.CrossEntropyLoss(), randn(2, 4, 3, 3),
                 np.random.default_rng(0).integers(0, 4, size=(2, 3, 3)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_losses(reduction):
    probs = 1 / (1 + np.exp(-randn(5, 3)))
    target = (randn(5, 3, seed=9) > 0).astype(np.float64)
    w = np.array([1.0, 0.5, 2.0])
    compare_loss(nn.BCELoss(reduction=reduction), tnn.BCELoss(reduction=reduction), probs, target)
    compare_loss(nn.BCELoss(weight=dg.tensor(w), reduction=reduction),
                 tnn.BCELoss(weight=torch.tensor(w), reduction=reduction), probs, target)
    compare_loss(nn.BCEWithLogitsLoss(reduction=reduction),
                 tnn.BCEWithLogitsLoss(reduction=reduction), randn(5, 3) * 3, target)
    compare_loss(nn.BCEWithLogitsLoss(pos_weight=dg.tensor(w), reduction=reduction),
                 tnn.BCEWithLogitsLoss(pos_weight=torch.tensor(w), reduction=reduction),
                 randn(5, 3) * 3, target)


def test_legacy_reduction_args():
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        loss = nn.MSELoss(size_average=False)
    assert loss.reduction == "sum"


# -- a small network -----------------------------------------------------------------------------
def test_small_cnn_matches_torch():
    def build(m):
        return m.Sequential(OrderedDict([
            ("conv1", m.Conv2d(1, 4, 3, padding=1)), ("bn1", m.BatchNorm2d(4)),
            ("relu1", m.ReLU()), ("pool1", m.MaxPool2d(2)),
            ("conv2", m.Conv2d(4, 8, 3, stride=2, padding=1)), ("act2", m.GELU()),
            ("pool2", m.AvgPool2d(2)), ("flat", m.Flatten()), ("drop", m.Dropout(0.0)),
            ("fc", m.Linear(8, 10)), ("ln", m.LayerNorm(10)), ("tanh", m.Tanh()),
            ("out", m.Linear(10, 3))]))

    ours, theirs = build(nn), build(tnn)
    out, tout = compare(ours, theirs, randn(5, 1, 8, 8))
    assert out.shape == (5, 3)
    # a training loss through the whole network, and the gradients of every parameter
    copy_from_torch(ours, theirs)
    ours.zero_grad()
    theirs.zero_grad()
    target = np.array([0, 2, 1, 1, 0])
    x = randn(5, 1, 8, 8, seed=3)
    loss = nn.CrossEntropyLoss()(ours(dg.tensor(x)), dg.tensor(target))
    tloss = tnn.CrossEntropyLoss()(theirs(torch.tensor(x)), torch.tensor(target))
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=RTOL)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(arr(p.grad), tparams[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


# -- further layers ------------------------------------------------------------------------------
@pytest.mark.parametrize("name,args", [
    ("LeakyReLU", (0.2,)), ("SiLU", ()), ("ELU", (0.7,)), ("Softplus", (2.0, 5.0)),
    ("Hardtanh", (-0.5, 0.8)), ("ReLU6", ()), ("Mish", ()),
])
def test_more_activations(name, args):
    ours, theirs = getattr(nn, name)(*args), getattr(tnn, name)(*args)
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, randn(4, 6) * 4)


@pytest.mark.parametrize("kwargs", [{}, {"stride": 2, "padding": 1, "dilation": 2},
                                    {"groups": 2, "padding": "same"},
                                    {"padding": 2, "padding_mode": "reflect"}])
def test_conv1d(kwargs):
    ours, theirs = nn.Conv1d(4, 6, 3, **kwargs), tnn.Conv1d(4, 6, 3, **kwargs)
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, randn(2, 4, 11))


@pytest.mark.parametrize("ours,theirs,shape", [
    (nn.MaxPool1d(3, 2, 1), tnn.MaxPool1d(3, 2, 1), (2, 3, 10)),
    (nn.AvgPool1d(3, 2, 1), tnn.AvgPool1d(3, 2, 1), (2, 3, 10)),
    (nn.AdaptiveAvgPool1d(4), tnn.AdaptiveAvgPool1d(4), (2, 3, 10)),
    (nn.AdaptiveAvgPool2d((3, 2)), tnn.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5)),
    (nn.AdaptiveAvgPool2d(1), tnn.AdaptiveAvgPool2d(1), (2, 3, 7, 5)),
    (nn.AdaptiveMaxPool2d(2), tnn.AdaptiveMaxPool2d(2), (2, 3, 7, 5)),
])
def test_more_pooling(ours, theirs, shape):
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, randn(*shape))


@pytest.mark.parametrize("affine", [True, False])
def test_groupnorm(affine):
    ours, theirs = nn.GroupNorm(2, 4, affine=affine), tnn.GroupNorm(2, 4, affine=affine)
    if affine:
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(randn(4, seed=3)))
            theirs.bias.copy_(torch.tensor(randn(4, seed=4)))
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, randn(3, 4, 5, 2))
    with pytest.raises(ValueError, match="must be divisible by num_groups"):
        nn.GroupNorm(3, 4)


def test_channel_dropout():
    dg.manual_seed(0)
    x = dg.ones(50, 40, 3, 3)
    y = arr(nn.Dropout2d(0.5)(x))
    per_channel = y.reshape(50, 40, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert abs((per_channel[..., 0] == 0).mean() - 0.5) < 0.05
    y1 = arr(nn.Dropout1d(0.5)(dg.ones(50, 40, 4)))
    assert np.all((y1 == 0).all(-1) | (y1 == 2).all(-1))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_more_losses(reduction):
    compare_loss(nn.SmoothL1Loss(reduction=reduction, beta=0.5),
                 tnn.SmoothL1Loss(reduction=reduction, beta=0.5), randn(4, 3), randn(4, 3, seed=2))
    compare_loss(nn.HuberLoss(reduction=reduction, delta=0.7),
                 tnn.HuberLoss(reduction=reduction, delta=0.7), randn(4, 3), randn(4, 3, seed=2))
    logp = torch.log_softmax(torch.tensor(randn(4, 3)), 1).numpy()
    target = torch.softmax(torch.tensor(randn(4, 3, seed=2)), 1).numpy()
    red = "batchmean" if reduction == "mean" else reduction
    compare_loss(nn.KLDivLoss(reduction=red), tnn.KLDivLoss(reduction=red), logp, target)
    compare_loss(nn.KLDivLoss(reduction=red, log_target=True),
                 tnn.KLDivLoss(reduction=red, log_target=True), logp, np.log(target))
