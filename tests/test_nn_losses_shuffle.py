"""The loss modules over the margin and likelihood losses (and the functionals
multi_margin_loss, multilabel_margin_loss, triplet_margin_with_distance_loss), pixel_shuffle,
pixel_unshuffle, channel_shuffle and their modules, Softmax2d, Dropout3d, AlphaDropout and
FeatureAlphaDropout: values and gradients against PyTorch (float64), finite differences, errors."""
import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn
import distgrad.nn.functional as F
from distgrad.autograd import gradcheck

RNG = np.random.default_rng(0)


def _t(lib, a, grad=False):
    t = lib.tensor(a)
    return t.requires_grad_() if grad else t


X = RNG.standard_normal((4, 5))
X2 = RNG.standard_normal((4, 5))
X3 = RNG.standard_normal((4, 5))
SIGN = np.array([1.0, -1.0, -1.0, 1.0])
CLASSES = np.array([1, 0, 4, 2])
LABELS = np.array([[3, 0, -1, 1, 2], [1, 1, -1, 0, 0], [0, -1, 2, 2, 2], [4, 3, 2, 1, 0]])
BINARY = (RNG.random((4, 5)) > 0.5).astype(float)
COUNTS = RNG.poisson(2.0, (4, 5)).astype(float)
VAR = RNG.random((4, 5)) + 0.1
W = RNG.random(5) + 0.5

LOSSES = [  # (module name, constructor kwargs, float inputs (with grad), other inputs)
    ("PoissonNLLLoss", {}, [X], [COUNTS]),
    ("PoissonNLLLoss", {"log_input": False, "full": True, "reduction": "sum"}, [np.abs(X) + .1], [COUNTS]),
    ("GaussianNLLLoss", {"full": True}, [X], [X2, VAR]),
    ("MarginRankingLoss", {"margin": 0.3}, [X[:, 0], X2[:, 0]], [SIGN]),
    ("HingeEmbeddingLoss", {"margin": 0.5, "reduction": "none"}, [X], [np.sign(X2)]),
    ("CosineEmbeddingLoss", {"margin": 0.1}, [X, X2], [SIGN]),
    ("SoftMarginLoss", {}, [X], [np.sign(X2)]),
    ("MultiMarginLoss", {}, [X], [CLASSES]),
    ("MultiMarginLoss", {"p": 2, "margin": 0.7, "reduction": "none", "weight": W}, [X], [CLASSES]),
    ("MultiLabelMarginLoss", {}, [X], [LABELS]),
    ("MultiLabelMarginLoss", {"reduction": "none"}, [X[0]], [LABELS[0]]),
    ("MultiLabelSoftMarginLoss", {"weight": W}, [X], [BINARY]),
    ("TripletMarginLoss", {"margin": 0.5, "p": 1.0, "swap": True}, [X, X2, X3], []),
    ("TripletMarginWithDistanceLoss", {"swap": True}, [X, X2, X3], []),
    ("TripletMarginWithDistanceLoss", {"margin": 2.0, "distance_function": "cosine"}, [X, X2, X3], []),
]


def _run(lib, name, kwargs, floats, others):
    kwargs = dict(kwargs)
    if "weight" in kwargs:
        kwargs["weight"] = lib.tensor(kwargs["weight"])
    if kwargs.get("distance_function") == "cosine":
        kwargs["distance_function"] = lambda a, b: 1 - lib.nn.functional.cosine_similarity(a, b)
    inputs = [_t(lib, a, True) for a in floats]
    out = getattr(lib.nn, name)(**kwargs)(*inputs, *[_t(lib, a) for a in others])
    (out * lib.tensor(np.linspace(1, 2, out.numel()).reshape(tuple(out.shape)))).sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in inputs]


@pytest.mark.parametrize("name, kwargs, floats, others", LOSSES)
def test_loss_modules_match_pytorch(name, kwargs, floats, others):
    torch = pytest.importorskip("torch")
    (ours, our_grads), (theirs, their_grads) = (_run(lib, name, kwargs, floats, others)
                                                for lib in (dg, torch))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    for a, b in zip(our_grads, their_grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn, args", [
    (lambda x: F.multi_margin_loss(x, dg.tensor(CLASSES), p=2, weight=dg.tensor(W)), [X]),
    (lambda x: F.multilabel_margin_loss(x, dg.tensor(LABELS)), [X]),
    (lambda a, p, n: F.triplet_margin_with_distance_loss(a, p, n, swap=True), [X, X2, X3]),
    (lambda x: F.pixel_shuffle(x, 2), [RNG.standard_normal((2, 8, 2, 3))]),
    (lambda x: F.pixel_unshuffle(x, 2), [RNG.standard_normal((3, 4, 6))]),
    (lambda x: F.channel_shuffle(x, 3), [RNG.standard_normal((2, 6, 2))]),
])
def test_gradcheck(fn, args):
    # shift away from the hinges' kinks so finite differences are smooth
    assert gradcheck(fn, tuple(dg.tensor(a + 1e-3, requires_grad=True) for a in args))


@pytest.mark.parametrize("name, arg, shape", [
    ("pixel_shuffle", 2, (2, 3, 8, 2, 3)), ("pixel_shuffle", 3, (9, 2, 2)),
    ("pixel_unshuffle", 2, (2, 3, 4, 6)), ("pixel_unshuffle", 3, (1, 6, 3)),
    ("channel_shuffle", 2, (2, 4, 3, 3)), ("channel_shuffle", 3, (1, 6, 5)),
])
def test_shuffles_match_pytorch(name, arg, shape):
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal(shape)
    ours = getattr(F, name)(dg.tensor(a), arg).numpy()
    theirs = getattr(torch.nn.functional, name)(torch.tensor(a), arg).numpy()
    np.testing.assert_array_equal(ours, theirs)
    module = {"pixel_shuffle": nn.PixelShuffle, "pixel_unshuffle": nn.PixelUnshuffle,
              "channel_shuffle": nn.ChannelShuffle}[name](arg)
    np.testing.assert_array_equal(module(dg.tensor(a)).numpy(), theirs)


def test_errors_match_pytorchs_key_phrases():
    with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(dg.zeros(1, 6, 2, 2), 2)
    with pytest.raises(RuntimeError, match="at least 3 dimensions"):
        F.pixel_shuffle(dg.zeros(4, 2), 2)
    with pytest.raises(RuntimeError, match="expects width to be divisible by downscale_factor"):
        F.pixel_unshuffle(dg.zeros(1, 4, 5), 2)
    with pytest.raises(RuntimeError, match="Number of channels must be divisible by groups"):
        F.channel_shuffle(dg.zeros(1, 5, 2), 2)
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(RuntimeError, match="Expected target size \\[4\\], but got \\[3\\]"):
        F.multi_margin_loss(dg.zeros(4, 5), dg.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match="inconsistent target size"):
        F.multilabel_margin_loss(dg.zeros(4, 5), dg.zeros(4, 4, dtype=dg.int64))
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        nn.TripletMarginWithDistanceLoss(margin=0)
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D"):
        nn.Softmax2d()(dg.zeros(2, 3))


def test_softmax2d_and_the_dropout_modules():
    x = dg.tensor(RNG.standard_normal((2, 3, 4, 4)))
    np.testing.assert_allclose(nn.Softmax2d()(x).sum(1).numpy(), np.ones((2, 4, 4)))
    big = dg.ones(20000, 2, 2, 2, 2)
    dg.manual_seed(0)
    for module in (nn.Dropout3d(0.3), nn.AlphaDropout(0.3), nn.FeatureAlphaDropout(0.3)):
        module.eval()
        assert module(big) is big or np.array_equal(module(big).numpy(), big.numpy())
        module.train()
        out = module(big).numpy()
        assert not np.array_equal(out, big.numpy())
    dropped = nn.Dropout3d(0.3)(big).numpy()
    per_channel = dropped.reshape(20000, 2, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == per_channel[..., :1]).all(-1))
    assert abs((per_channel[..., 0] == 0).mean() - 0.3) < 0.02
    z = dg.randn(200000)
    a = nn.AlphaDropout(0.2)(z).numpy()
    assert abs(a.mean()) < 0.02 and abs(a.std() - 1) < 0.02  # keeps zero mean, unit variance
    alpha, p = 1.7580993408473766, 0.2  # PyTorch's formula: kept a x + alpha a p, dropped
    scale = 1 / np.sqrt((alpha ** 2 * p + 1) * (1 - p))  # alpha a (p - 1)
    dropped = np.isclose(a, alpha * scale * (p - 1))
    np.testing.assert_allclose(a[~dropped], scale * z.numpy()[~dropped] + alpha * scale * p,
                               rtol=1e-5, atol=1e-6)  # float32
    assert abs(dropped.mean() - p) < 0.01
    x = dg.randn(6, 3, requires_grad=True)
    dg.manual_seed(1)
    out = F.alpha_dropout(x, 0.5, training=True)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(np.isclose(
        out.detach().numpy(), alpha * (1 / np.sqrt((alpha ** 2 * .5 + 1) * .5)) * -.5), 0,
        1 / np.sqrt((alpha ** 2 * .5 + 1) * .5)), rtol=1e-6)
    assert repr(nn.PixelShuffle(3)) == "PixelShuffle(upscale_factor=3)"
