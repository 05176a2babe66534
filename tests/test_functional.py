"""``distgrad.nn.functional`` against PyTorch and finite differences.

Each torch case is ``fn(F, m, *tensors)`` where ``(F, m)`` is ``(torch.nn.functional, torch)``
or ``(distgrad.nn.functional, distgrad)``: both get float64 tensors built from the same NumPy
arrays (integer arrays become index tensors without grad), the outputs are contracted with the
same random weights and backpropagated, and values and every input gradient must agree.
``gradcheck`` cases check the hand-written backward formulas against central differences.
"""
import warnings

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn.functional as F
from distgrad.autograd import gradcheck


@pytest.fixture
def th():
    torch = pytest.importorskip("torch")
    return torch


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _run(F_, m, fn, arrays, grad_mask, seed=123):
    ins = []
    for a, g in zip(arrays, grad_mask):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            ins.append(m.tensor(a.copy(), requires_grad=bool(g)))
        elif isinstance(a, np.ndarray):
            ins.append(m.tensor(a.copy()))
        else:
            ins.append(a)
    out = fn(F_, m, *ins)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    rng = np.random.default_rng(seed)
    terms = []
    for o in outs:
        if o.requires_grad:
            terms.append((o * m.tensor(rng.standard_normal(tuple(o.shape)))).sum())
    if terms:
        loss = terms[0]
        for t in terms[1:]:
            loss = loss + t
        loss.backward()
    grads = [None if not hasattr(t, "requires_grad") or not t.requires_grad or t.grad is None
             else _np(t.grad) for t in ins]
    return [_np(o) for o in outs], grads


def compare(th, fn, arrays, grad_mask=None, atol=1e-8, rtol=1e-6):
    """Run ``fn`` on both libraries; assert equal outputs and gradients."""
    import torch.nn.functional as TF
    if grad_mask is None:
        grad_mask = [isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outs_t, grads_t = _run(TF, th, fn, arrays, grad_mask)
        outs_d, grads_d = _run(F, dg, fn, arrays, grad_mask)
    assert len(outs_t) == len(outs_d)
    for a, b in zip(outs_d, outs_t):
        assert a.shape == b.shape, (a.shape, b.shape)
        np.testing.assert_allclose(a, b, atol=atol, rtol=rtol)
    for i, (a, b) in enumerate(zip(grads_d, grads_t)):
        if b is None:
            assert a is None or not np.any(a), f"input {i}: distgrad has a gradient, torch none"
            continue
        assert a is not None, f"input {i}: no gradient"
        np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=f"grad of input {i}")


def R(*shape, seed=0, low=None, high=None):
    rng = np.random.default_rng(seed)
    if low is not None:
        return rng.uniform(low, high, shape)
    return rng.standard_normal(shape)


def I(high, *shape, seed=0):
    return np.random.default_rng(seed).integers(0, high, shape)


def T(a, grad=True):
    return dg.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def check_grad(fn, *arrays, grad_mask=None, **kw):
    """gradcheck ``fn`` on float64 tensors (integer arrays are passed as index tensors)."""
    ins = []
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            g = True if grad_mask is None else grad_mask[i]
            ins.append(dg.tensor(a.copy(), requires_grad=g))
        elif isinstance(a, np.ndarray):
            ins.append(dg.tensor(a))
        else:
            ins.append(a)
    assert gradcheck(fn, tuple(ins), **kw)


# --------------------------------------------------------------------------------------------
# linear
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("xshape", [(3, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(th, xshape, bias):
    arrays = [R(*xshape), R(5, 4, seed=1)] + ([R(5, seed=2)] if bias else [])
    compare(th, lambda F_, m, *t: F_.linear(*t), arrays)


def test_linear_gradcheck():
    check_grad(lambda x, w, b: F.linear(x, w, b), R(2, 3), R(4, 3, seed=1), R(4, seed=2))
    check_grad(lambda x, w: F.linear(x, w), R(2, 2, 3), R(2, 3, seed=1))


def test_linear_skips_unneeded_grads_and_errors():
    x = T(R(3, 4), grad=False)
    w = T(R(5, 4, seed=1))
    F.linear(x, w).sum().backward()
    assert x.grad is None and w.grad is not None
    with pytest.raises(RuntimeError,
                       match=r"mat1 and mat2 shapes cannot be multiplied \(3x4 and 3x5\)"):
        F.linear(x, T(R(5, 3)))
    with pytest.raises(RuntimeError,
                       match="expected m1 and m2 to have the same dtype, but got: float != double"):
        F.linear(dg.randn(3, 4), T(R(5, 4)))


# --------------------------------------------------------------------------------------------
# convolution
# --------------------------------------------------------------------------------------------
CONV_CASES = [
    dict(),
    dict(padding=1),
    dict(padding=(2, 0), stride=2),
    dict(stride=(2, 1), padding=(1, 2)),
    dict(dilation=2, padding=2),
    dict(dilation=(1, 2), stride=(1, 2)),
    dict(groups=2, padding=1),
    dict(groups=4, stride=2),
    dict(padding="same"),
    dict(padding="same", dilation=2),
    dict(padding="valid"),
]


@pytest.mark.parametrize("kw", CONV_CASES, ids=[str(c) for c in CONV_CASES])
def test_conv2d_matches_torch(th, kw):
    g = kw.get("groups", 1)
    x, w, b = R(2, 4, 7, 6), R(8, 4 // g, 3, 2, seed=1), R(8, seed=2)
    compare(th, lambda F_, m, *t: F_.conv2d(*t, **kw), [x, w, b])


@pytest.mark.parametrize("case", ["no_bias", "unbatched", "1x1", "big_kernel", "even_same",
                                  "first_layer"])
def test_conv2d_variants_match_torch(th, case):
    if case == "no_bias":
        compare(th, lambda F_, m, x, w: F_.conv2d(x, w, padding=1), [R(2, 3, 5, 5), R(4, 3, 3, 3)])
    elif case == "unbatched":
        compare(th, lambda F_, m, x, w, b: F_.conv2d(x, w, b, padding=1),
                [R(3, 5, 4), R(2, 3, 3, 3), R(2)])
    elif case == "1x1":
        compare(th, lambda F_, m, x, w, b: F_.conv2d(x, w, b), [R(2, 3, 4, 5), R(6, 3, 1, 1), R(6)])
    elif case == "big_kernel":
        compare(th, lambda F_, m, x, w: F_.conv2d(x, w, padding=2, stride=3),
                [R(1, 2, 9, 8), R(3, 2, 5, 4)])
    elif case == "even_same":
        compare(th, lambda F_, m, x, w: F_.conv2d(x, w, padding="same"),
                [R(2, 2, 5, 6), R(3, 2, 4, 2)])
    else:  # input without grad (the first layer): only weight and bias grads
        compare(th, lambda F_, m, x, w, b: F_.conv2d(x, w, b, padding=1),
                [R(4, 1, 8, 8), R(16, 1, 3, 3), R(16)], grad_mask=[False, True, True])


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, dilation=(2, 1)),
                                dict(groups=2, padding=(0, 1))])
def test_conv2d_gradcheck(kw):
    g = kw.get("groups", 1)
    check_grad(lambda x, w, b: F.conv2d(x, w, b, **kw), R(1, 2, 5, 4), R(2, 2 // g, 2, 2, seed=1),
               R(2, seed=2))


def test_conv2d_float32_large_matches_torch(th):
    """The benchmark CNN's shapes in float32."""
    x = R(8, 16, 8, 8).astype(np.float32)
    w = (R(32, 16, 3, 3, seed=1) * 0.1).astype(np.float32)
    b = R(32, seed=2).astype(np.float32)
    compare(th, lambda F_, m, *t: F_.conv2d(*t, padding=1), [x, w, b], atol=2e-4, rtol=1e-4)


def test_conv1d_matches_torch(th):
    compare(th, lambda F_, m, *t: F_.conv1d(*t, padding=1, stride=2),
            [R(2, 4, 9), R(6, 4, 3, seed=1), R(6, seed=2)])
    compare(th, lambda F_, m, *t: F_.conv1d(*t, padding="same", dilation=2, groups=2),
            [R(2, 4, 9), R(6, 2, 3, seed=1)])


def test_conv2d_errors():
    x = dg.randn(64, 1, 8, 8)
    with pytest.raises(RuntimeError) as e:
        F.conv2d(x, dg.randn(16, 3, 3, 3))
    assert str(e.value) == ("Given groups=1, weight of size [16, 3, 3, 3], expected input[64, 1, "
                            "8, 8] to have 3 channels, but got 1 channels instead")
    with pytest.raises(RuntimeError, match="Expected 3D .unbatched. or 4D .batched. input"):
        F.conv2d(dg.randn(8, 8), dg.randn(1, 1, 3, 3))
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided"):
        F.conv2d(x, dg.randn(2, 1, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv2d(dg.randn(1, 1, 2, 2), dg.randn(1, 1, 3, 3))
    with pytest.raises(RuntimeError, match="expected bias to be 1-dimensional with 16 elements"):
        F.conv2d(x, dg.randn(16, 1, 3, 3), dg.randn(10))
    with pytest.raises(RuntimeError, match="Invalid padding string: 'full'"):
        F.conv2d(x, dg.randn(16, 1, 3, 3), padding="full")


def test_conv2d_graph_details():
    x = T(R(1, 2, 4, 4))
    w = T(R(3, 2, 3, 3))
    y = F.conv2d(x, w, padding=1)
    assert y.grad_fn.name() == "ConvolutionBackward0"
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()
    with dg.no_grad():
        assert F.conv2d(x, w).grad_fn is None
    # in-place change of a saved input is detected
    x2 = T(R(1, 2, 4, 4)).clone()
    y2 = F.conv2d(x2, w)
    x2.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y2.sum().backward()


# --------------------------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------------------------
POOL_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=2, stride=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 1), ceil_mode=True),
    dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=3, ceil_mode=True),
]


@pytest.mark.parametrize("kw", POOL_CASES + [dict(kernel_size=2, dilation=2, padding=1),
                                             dict(kernel_size=3, dilation=(1, 2), stride=2)],
                         ids=str)
def test_max_pool2d_matches_torch(th, kw):
    x = R(2, 3, 7, 6)
    compare(th, lambda F_, m, x: F_.max_pool2d(x, **kw), [x])
    out_d, idx_d = F.max_pool2d(dg.tensor(x), return_indices=True, **kw)
    out_t, idx_t = th.nn.functional.max_pool2d(th.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(idx_d.numpy(), idx_t.numpy())
    assert idx_d.dtype == dg.int64


def test_max_pool2d_ties_and_nan_match_torch(th):
    x = np.maximum(R(2, 3, 6, 6), 0)          # many tied zeros, like after a ReLU
    x[0, 0, :2, :2] = 1.5                      # a tie of equal maxima
    compare(th, lambda F_, m, x: F_.max_pool2d(x, 2), [x])
    compare(th, lambda F_, m, x: F_.max_pool2d(x, 3, 1, 1), [x])
    y = R(1, 1, 4, 4)
    y[0, 0, 1, 0] = np.nan
    out_d = F.max_pool2d(T(y), 2)
    out_t = th.nn.functional.max_pool2d(th.tensor(y, requires_grad=True), 2)
    np.testing.assert_array_equal(np.isnan(out_d.detach().numpy()),
                                  np.isnan(out_t.detach().numpy()))
    compare(th, lambda F_, m, x: F_.max_pool2d(x, 2), [y], atol=0)


def test_max_pool2d_unbatched_and_1d(th):
    compare(th, lambda F_, m, x: F_.max_pool2d(x, 2), [R(3, 6, 5)])
    compare(th, lambda F_, m, x: F_.max_pool1d(x, 3, 2, 1), [R(2, 3, 9)])


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1, dilation=2)])
def test_max_pool2d_gradcheck(kw):
    check_grad(lambda x: F.max_pool2d(x, **kw), R(1, 2, 5, 5))


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kw", POOL_CASES, ids=str)
def test_avg_pool2d_matches_torch(th, kw, count_include_pad):
    compare(th, lambda F_, m, x: F_.avg_pool2d(x, count_include_pad=count_include_pad, **kw),
            [R(2, 3, 7, 6)])


def test_avg_pool2d_divisor_override_1d_and_gradcheck(th):
    compare(th, lambda F_, m, x: F_.avg_pool2d(x, 3, 2, 1, divisor_override=4), [R(2, 2, 6, 7)])
    compare(th, lambda F_, m, x: F_.avg_pool1d(x, 3, 2, 1, ceil_mode=True), [R(2, 3, 8)])
    check_grad(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
               R(1, 2, 5, 6))


@pytest.mark.parametrize("size", [(2, 3), (3, 4), 1, (None, 2)])
def test_adaptive_pools_match_torch(th, size):
    x = R(2, 3, 6, 8)
    compare(th, lambda F_, m, x: F_.adaptive_avg_pool2d(x, size), [x])
    compare(th, lambda F_, m, x: F_.adaptive_max_pool2d(x, size), [x])


def test_pool_errors():
    x = dg.randn(1, 1, 4, 4)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.max_pool2d(dg.randn(1, 1, 1, 1), 3)


# --------------------------------------------------------------------------------------------
# softmax family and activations
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("shape,dim", [((4, 5), 1), ((4, 5), 0), ((2, 3, 4), -1), ((2, 3, 4), 1),
                                       ((5,), 0)])
def test_softmax_family_matches_torch(th, fn, shape, dim):
    compare(th, lambda F_, m, x: getattr(F_, fn)(x, dim), [R(*shape) * 5])


def test_softmax_gradcheck_stability_and_dtype():
    check_grad(lambda x: F.softmax(x, 1), R(2, 3))
    check_grad(lambda x: F.log_softmax(x, 0), R(3, 2))
    big = dg.tensor([[1000.0, 0.0, -1000.0]])
    assert np.isfinite(F.log_softmax(big, 1).numpy()).all()
    np.testing.assert_allclose(F.softmax(big, 1).numpy(), [[1, 0, 0]])
    x = dg.randn(3, 4)
    assert F.softmax(x, 1, dtype=dg.float64).dtype == dg.float64
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        F.softmax(x)


ACTIVATIONS = [
    ("relu", {}), ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("tanh", {}),
    ("sigmoid", {}), ("silu", {}), ("mish", {}), ("elu", {"alpha": 0.7}), ("selu", {}),
    ("celu", {"alpha": 1.3}), ("leaky_relu", {"negative_slope": 0.2}), ("softplus", {}),
    ("softplus", {"beta": 2.0, "threshold": 1.0}), ("hardtanh", {"min_val": -0.5}),
    ("relu6", {}), ("hardsigmoid", {}), ("hardswish", {}), ("logsigmoid", {}),
    ("softsign", {}), ("tanhshrink", {}), ("hardshrink", {"lambd": 0.4}),
    ("softshrink", {"lambd": 0.4}), ("threshold", {"threshold": 0.1, "value": -2.0}),
    ("glu", {"dim": 1}),
]


@pytest.mark.parametrize("name,kw", ACTIVATIONS, ids=[a + str(k) for a, k in ACTIVATIONS])
def test_activations_match_torch(th, name, kw):
    x = R(3, 8) * 4
    compare(th, lambda F_, m, x: getattr(F_, name)(x, **kw), [x])


def test_activation_gradcheck_prelu_and_inplace(th):
    for name in ("silu", "elu", "softplus", "logsigmoid", "mish"):
        check_grad(lambda x: getattr(F, name)(x), R(2, 3))
    compare(th, lambda F_, m, x, w: F_.prelu(x, w), [R(2, 3, 4), R(3, low=0.1, high=0.3)])
    x = dg.randn(4, 4)
    y = F.relu(x, inplace=True)
    assert y is x and (x.numpy() >= 0).all()
    z = dg.randn(5, requires_grad=True) * 1
    F.leaky_relu(z, 0.1, inplace=True).sum().backward()


# --------------------------------------------------------------------------------------------
# dropout
# --------------------------------------------------------------------------------------------
def test_dropout_mask_scaling_and_gradient():
    x = dg.ones(200, 50, requires_grad=True)
    y = F.dropout(x, 0.3)
    vals = np.unique(y.detach().numpy())
    np.testing.assert_allclose(vals, [0.0, 1 / 0.7], rtol=1e-6)
    frac = (y.detach().numpy() == 0).mean()
    assert 0.27 < frac < 0.33
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy(), rtol=1e-6)


def test_dropout_seeded_identity_and_errors():
    x = dg.randn(10, 10)
    dg.manual_seed(3)
    a = F.dropout(x, 0.5).numpy()
    dg.manual_seed(3)
    b = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert (F.dropout(x, 1.0).numpy() == 0).all()
    with pytest.raises(ValueError,
                       match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)
    y = dg.randn(4, 4)
    out = F.dropout(y, 0.5, inplace=True)
    assert out is y
    z = F.dropout2d(dg.ones(2, 3, 4, 4), 0.5).numpy()
    per_channel = z.reshape(2, 3, -1)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()


# --------------------------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------------------------
REDUCTIONS = ["mean", "sum", "none"]


def _ce_target(shape_kind, C, seed=0):
    if shape_kind == "2d":
        return I(C, 6, seed=seed)
    if shape_kind == "4d":
        return I(C, 2, 3, 2, seed=seed)
    return np.array(2)


def _ce_input(shape_kind, C):
    return {"2d": R(6, C), "4d": R(2, C, 3, 2), "1d": R(C)}[shape_kind] * 2


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape_kind", ["2d", "4d", "1d"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_indices_match_torch(th, reduction, shape_kind, weighted, label_smoothing,
                                           ignore):
    C = 5
    x = _ce_input(shape_kind, C)
    t = _ce_target(shape_kind, C)
    ignore_index = -100
    if ignore:
        ignore_index = int(t.reshape(-1)[0])   # a class that occurs: those entries are ignored
    kw = dict(reduction=reduction, label_smoothing=label_smoothing, ignore_index=ignore_index)
    arrays = [x, t] + ([R(C, low=0.5, high=2.0)] if weighted else [])
    compare(th, lambda F_, m, x, t, *w: F_.cross_entropy(x, t, *w, **kw), arrays,
            grad_mask=[True, False, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)])
def test_cross_entropy_probabilities_match_torch(th, reduction, weighted, label_smoothing, shape):
    x = R(*shape)
    p = R(*shape, seed=5, low=0, high=1)
    p = p / p.sum(1, keepdims=True)
    arrays = [x, p] + ([R(shape[1], low=0.5, high=2.0)] if weighted else [])
    compare(th, lambda F_, m, x, p, *w: F_.cross_entropy(x, p, *w, reduction=reduction,
                                                        label_smoothing=label_smoothing),
            arrays, grad_mask=[True, True, False])


@pytest.mark.parametrize("kw", [dict(), dict(reduction="none", label_smoothing=0.1),
                                dict(ignore_index=1, reduction="sum")])
def test_cross_entropy_gradcheck(kw):
    t = np.array([0, 1, 2, 1])
    check_grad(lambda x, w: F.cross_entropy(x, dg.tensor(t), w, **kw), R(4, 3),
               R(3, low=0.5, high=2), grad_mask=[True, False])
    p = R(2, 3, low=0, high=1)
    check_grad(lambda x, p: F.cross_entropy(x, p, label_smoothing=0.1), R(2, 3), p)


def test_cross_entropy_errors():
    x = dg.randn(3, 10)
    with pytest.raises(IndexError, match="^Target 12 is out of bounds.$"):
        F.cross_entropy(x, dg.tensor([1, 12, 3]))
    with pytest.raises(IndexError, match="Target -1 is out of bounds."):
        F.cross_entropy(x, dg.tensor([1, -1, 3]))
    with pytest.raises(IndexError, match="Target -5 is out of bounds."):
        F.cross_entropy(x, dg.tensor([1, -5, 3], dtype=dg.int32))
    with pytest.raises(IndexError, match="Target 10 is out of bounds."):  # not the ignored 0
        F.cross_entropy(x, dg.tensor([0, 10, 3]), ignore_index=0)
    with pytest.raises(ValueError,
                       match="Expected input batch_size .3. to match target batch_size .2."):
        F.cross_entropy(x, dg.tensor([1, 2]))
    with pytest.raises(ValueError, match="elementwise is not a valid value for reduction"):
        F.cross_entropy(x, dg.tensor([1, 2, 3]), reduction="elementwise")
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected, multi-target not"):
        F.cross_entropy(x, dg.randn(3, 9))
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Float"):
        F.cross_entropy(x, dg.randn(3))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 3\], got \[2, 2\]"):
        F.cross_entropy(dg.randn(2, 10, 3), dg.tensor([[1, 2], [1, 2]]))
    with pytest.raises(RuntimeError,
                       match="weight tensor should be defined either for all 10 classes"):
        F.cross_entropy(x, dg.tensor([1, 2, 3]), weight=dg.ones(5))
    # all targets ignored: mean is nan, as in PyTorch
    assert np.isnan(F.cross_entropy(x, dg.tensor([-100, -100, -100])).item())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape_kind", ["2d", "4d", "1d"])
def test_nll_loss_matches_torch(th, reduction, weighted, shape_kind):
    C = 4
    x = _ce_input(shape_kind, C)
    t = _ce_target(shape_kind, C)
    arrays = [x, t] + ([R(C, low=0.5, high=2.0)] if weighted else [])
    compare(th, lambda F_, m, x, t, *w: F_.nll_loss(F_.log_softmax(x, 1 if x.ndim > 1 else 0), t,
                                                    *w, reduction=reduction, ignore_index=1),
            arrays, grad_mask=[True, False, False])


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_match_torch(th, name, reduction):
    compare(th, lambda F_, m, a, b: getattr(F_, name)(a, b, reduction=reduction),
            [R(3, 4), R(3, 4, seed=1)])


def test_regression_losses_broadcast_warn_and_weight(th):
    with pytest.warns(UserWarning,
                      match=r"Using a target size \(distgrad.Size\(\[3\]\)\) that is different "
                            r"to the input size \(distgrad.Size\(\[3, 1\]\)\)"):
        F.mse_loss(dg.randn(3, 1), dg.randn(3))
    compare(th, lambda F_, m, a, b: F_.mse_loss(a, b), [R(3, 1), R(3, seed=1)])
    compare(th, lambda F_, m, a, b, w: F_.mse_loss(a, b, weight=w), [R(3, 2), R(3, 2, seed=1),
                                                                    R(3, 2, low=0, high=1)],
            grad_mask=[True, True, False])
    compare(th, lambda F_, m, a, b: F_.smooth_l1_loss(a, b, beta=0.5), [R(4), R(4, seed=1)])
    check_grad(lambda a, b: F.mse_loss(a, b), R(2, 3), R(2, 3, seed=1))
    check_grad(lambda a, b: F.smooth_l1_loss(a, b, reduction="sum"), R(2, 3), R(2, 3, seed=1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch(th, reduction, weighted):
    x = R(3, 4, low=0.05, high=0.95)
    t = R(3, 4, seed=1, low=0, high=1)
    arrays = [x, t] + ([R(4, seed=2, low=0.5, high=2)] if weighted else [])
    compare(th, lambda F_, m, x, t, *w: F_.binary_cross_entropy(x, t, *w, reduction=reduction),
            arrays, grad_mask=[True, True, False])


def test_binary_cross_entropy_clamps_and_errors(th):
    x = dg.tensor([0.0, 1.0, 0.5])
    t = dg.tensor([1.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(x, t, reduction="none").numpy()
    np.testing.assert_allclose(loss, [100.0, 100.0, np.log(2)], rtol=1e-6)
    check_grad(lambda x, t: F.binary_cross_entropy(x, t), R(2, 3, low=0.1, high=0.9),
               R(2, 3, seed=1, low=0, high=1))
    with pytest.raises(ValueError, match="that is different to the input size"):
        F.binary_cross_entropy(dg.rand(3, 1), dg.rand(3))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(dg.tensor([1.5]), dg.tensor([1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weight", [False, True])
def test_bce_with_logits_matches_torch(th, reduction, weighted, pos_weight):
    x = R(3, 4) * 3
    t = R(3, 4, seed=1, low=0, high=1)
    w = R(4, seed=2, low=0.5, high=2) if weighted else None
    pw = R(4, seed=3, low=0.5, high=3) if pos_weight else None

    def fn(F_, m, x, t, w=None, pw=None):
        return F_.binary_cross_entropy_with_logits(x, t, w, reduction=reduction, pos_weight=pw)
    arrays = [x, t, w, pw]
    mask = [True, True, False, False]
    compare(th, fn, arrays, grad_mask=mask)


def test_bce_with_logits_stable_gradcheck_and_errors():
    x = dg.tensor([-200.0, 200.0, 0.0], requires_grad=True)
    t = dg.tensor([0.0, 1.0, 0.5])
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="sum")
    np.testing.assert_allclose(loss.item(), np.log(2), rtol=1e-6)
    loss.backward()
    assert np.isfinite(x.grad.numpy()).all()
    check_grad(lambda x, t, pw: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw),
               R(2, 3), R(2, 3, seed=1, low=0, high=1), R(3, seed=2, low=0.5, high=2),
               grad_mask=[True, True, False])
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(dg.randn(3), dg.randn(3, 1))


def test_other_losses_match_torch(th):
    p = R(3, 4, low=0.1, high=1)
    p = p / p.sum(1, keepdims=True)
    compare(th, lambda F_, m, x, t: F_.kl_div(F_.log_softmax(x, 1), t, reduction="batchmean"),
            [R(3, 4), p])
    compare(th, lambda F_, m, x, t: F_.kl_div(x, t, reduction="sum", log_target=True),
            [R(3, 4), np.log(p)])
    compare(th, lambda F_, m, x, t: F_.poisson_nll_loss(x, t), [R(3, 4), R(3, 4, low=0, high=3)])
    compare(th, lambda F_, m, a, b, t: F_.margin_ranking_loss(a, b, t, margin=0.1),
            [R(5), R(5, seed=1), np.sign(R(5, seed=2))], grad_mask=[True, True, False])
    compare(th, lambda F_, m, x, t: F_.soft_margin_loss(x, t),
            [R(5), np.sign(R(5, seed=2))], grad_mask=[True, False])
    compare(th, lambda F_, m, x, t: F_.multilabel_soft_margin_loss(x, t),
            [R(3, 4), (R(3, 4, seed=2) > 0).astype(float)], grad_mask=[True, False])
    compare(th, lambda F_, m, a, p, n: F_.triplet_margin_loss(a, p, n),
            [R(3, 4), R(3, 4, seed=1), R(3, 4, seed=2)])
    compare(th, lambda F_, m, a, b, t: F_.cosine_embedding_loss(a, b, t, margin=0.1),
            [R(3, 4), R(3, 4, seed=1), np.array([1.0, -1.0, 1.0])], grad_mask=[True, True, False])
    compare(th, lambda F_, m, x, t, v: F_.gaussian_nll_loss(x, t, v),
            [R(3, 4), R(3, 4, seed=1), R(3, 4, seed=2, low=0.5, high=2)])


# --------------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,nshape", [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((3, 6), (6,))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch(th, shape, nshape, affine):
    arrays = [R(*shape) * 3 + 1]
    if affine:
        arrays += [R(*nshape, seed=1), R(*nshape, seed=2)]
    compare(th, lambda F_, m, x, *wb: F_.layer_norm(x, nshape, *wb, eps=1e-5), arrays)


def test_layer_norm_gradcheck_and_errors():
    check_grad(lambda x, w, b: F.layer_norm(x, (3,), w, b), R(2, 3), R(3, seed=1), R(3, seed=2))
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[5\], expected input with "
                                           r"shape \[\*, 5\], but got input of size\[2, 4\]"):
        F.layer_norm(dg.randn(2, 4), (5,))


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_matches_torch(th, shape, affine):
    C = shape[1]
    x = R(*shape) * 2 + 1
    rm_d, rv_d = dg.zeros(C, dtype=dg.float64), dg.ones(C, dtype=dg.float64)
    rm_t, rv_t = th.zeros(C, dtype=th.float64), th.ones(C, dtype=th.float64)
    buffers = {id(dg): (rm_d, rv_d), id(th): (rm_t, rv_t)}
    arrays = [x] + ([R(C, seed=1), R(C, seed=2)] if affine else [])

    def fn(F_, m, x, *wb):
        rm, rv = buffers[id(m)]
        return F_.batch_norm(x, rm, rv, *wb, training=True, momentum=0.3)
    compare(th, fn, arrays)
    np.testing.assert_allclose(rm_d.numpy(), rm_t.numpy(), rtol=1e-10)
    np.testing.assert_allclose(rv_d.numpy(), rv_t.numpy(), rtol=1e-10)
    assert rm_d._version == 1 and rv_d._version == 1


def test_batch_norm_eval_and_gradcheck(th):
    C = 3
    rm, rv = R(C, seed=4), R(C, seed=5, low=0.5, high=2)
    compare(th, lambda F_, m, x, w, b: F_.batch_norm(x, m.tensor(rm), m.tensor(rv), w, b),
            [R(4, 3, 2), R(C, seed=1), R(C, seed=2)])
    check_grad(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), R(4, 2, 3),
               R(2, seed=1), R(2, seed=2))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        F.batch_norm(dg.randn(1, 3), None, None, training=True)


def test_group_instance_rms_lrn_norms_match_torch(th):
    compare(th, lambda F_, m, x, w, b: F_.group_norm(x, 2, w, b), [R(2, 4, 3, 3), R(4, seed=1),
                                                                    R(4, seed=2)])
    compare(th, lambda F_, m, x: F_.group_norm(x, 3), [R(2, 6, 5)])
    compare(th, lambda F_, m, x, w, b: F_.instance_norm(x, weight=w, bias=b),
            [R(2, 3, 4, 4), R(3, seed=1), R(3, seed=2)])
    compare(th, lambda F_, m, x, w: F_.rms_norm(x, (4,), w, eps=1e-6), [R(3, 4), R(4, seed=1)])
    compare(th, lambda F_, m, x: F_.local_response_norm(x, 3), [R(2, 5, 3, 3)])
    check_grad(lambda x, w, b: F.group_norm(x, 2, w, b), R(2, 4, 3), R(4, seed=1), R(4, seed=2))


# --------------------------------------------------------------------------------------------
# embedding, one_hot, pad, distances
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(), dict(padding_idx=2), dict(padding_idx=-1),
                                dict(scale_grad_by_freq=True), dict(max_norm=1.0)])
def test_embedding_matches_torch(th, kw):
    idx = np.array([[0, 2, 2, 5], [1, 2, 0, 6]])      # repeats accumulate
    compare(th, lambda F_, m, i, w: F_.embedding(i, w, **kw), [idx, R(7, 3)])


def test_embedding_gradcheck_and_errors():
    idx = dg.tensor([1, 1, 0])
    check_grad(lambda w: F.embedding(idx, w), R(3, 2))
    w = T(R(3, 2))
    F.embedding(idx, w, padding_idx=0).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0], [2, 2], [0, 0]])
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(dg.tensor([5]), dg.randn(3, 2))
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices'"):
        F.embedding(dg.tensor([1.0]), dg.randn(3, 2))


def test_one_hot(th):
    t = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(F.one_hot(dg.tensor(t)).numpy(),
                                  th.nn.functional.one_hot(th.tensor(t)).numpy())
    out = F.one_hot(dg.tensor(t), 6)
    assert out.shape == (2, 2, 6) and out.dtype == dg.int64
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes."):
        F.one_hot(dg.tensor([3]), 3)
    with pytest.raises(RuntimeError, match="Class values must be non-negative."):
        F.one_hot(dg.tensor([-1]), 3)


@pytest.mark.parametrize("pad,mode,value", [
    ((1, 2), "constant", 0.0), ((1, 0, 2, 1), "constant", 3.5), ((-1, 2, 0, -1), "constant", 0.0),
    ((1, 1, 2, 0, 1, 1), "constant", 0.0), ((2, 1), "reflect", None),
    ((2, 1, 1, 2), "reflect", None), ((2, 3), "replicate", None),
    ((1, 2, 3, 1), "replicate", None), ((2, 1, 1, 1), "circular", None),
])
def test_pad_matches_torch(th, pad, mode, value):
    x = R(2, 3, 4, 5)
    if mode != "constant" and len(pad) == 2:
        x = x[0]      # PyTorch pads 2-D/3-D inputs this way
    kw = {} if value is None else {"value": value}
    compare(th, lambda F_, m, x: F_.pad(x, pad, mode=mode, **kw), [x])


def test_pad_gradcheck_and_errors():
    check_grad(lambda x: F.pad(x, (1, -1, 2, 0), value=1.0), R(2, 3, 3))
    check_grad(lambda x: F.pad(x, (2, 1), mode="reflect"), R(1, 2, 4))
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(dg.randn(3, 3), (1,))


def test_distances_match_torch(th):
    compare(th, lambda F_, m, x: F_.normalize(x, dim=1), [R(3, 4)])
    compare(th, lambda F_, m, x: F_.normalize(x, p=1, dim=0), [R(3, 4)])
    z = R(2, 3)
    z[0] = 0.0                                   # zero row: gradient stays finite
    compare(th, lambda F_, m, x: F_.normalize(x), [z])
    compare(th, lambda F_, m, a, b: F_.cosine_similarity(a, b), [R(3, 4), R(3, 4, seed=1)])
    compare(th, lambda F_, m, a, b: F_.cosine_similarity(a, b, dim=-1), [R(3, 4), R(1, 4, seed=1)])
    compare(th, lambda F_, m, a, b: F_.pairwise_distance(a, b), [R(3, 4), R(3, 4, seed=1)])
    compare(th, lambda F_, m, a, b: F_.pairwise_distance(a, b, p=1.5), [R(3, 4), R(3, 4, seed=1)])
    compare(th, lambda F_, m, a: F_.pdist(a), [R(4, 3)])


# --------------------------------------------------------------------------------------------
# an end-to-end step, the API surface
# --------------------------------------------------------------------------------------------
def test_cnn_training_step_matches_torch(th):
    """The benchmark CNN: Conv-ReLU-Conv-ReLU-MaxPool-Linear + cross entropy, float32."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((16, 1, 8, 8)).astype(np.float32),
              rng.integers(0, 10, 16),
              (rng.standard_normal((16, 1, 3, 3)) * 0.3).astype(np.float32),
              (rng.standard_normal(16) * 0.1).astype(np.float32),
              (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32),
              (rng.standard_normal(32) * 0.1).astype(np.float32),
              (rng.standard_normal((10, 512)) * 0.05).astype(np.float32),
              (rng.standard_normal(10) * 0.1).astype(np.float32)]

    def net(F_, m, x, y, w1, b1, w2, b2, w3, b3):
        h = F_.relu(F_.conv2d(x, w1, b1, padding=1))
        h = F_.relu(F_.conv2d(h, w2, b2, padding=1))
        h = F_.max_pool2d(h, 2)
        return F_.cross_entropy(F_.linear(h.reshape(h.shape[0], -1), w3, b3), y)
    compare(th, net, arrays, grad_mask=[False, False] + [True] * 6, atol=1e-5, rtol=1e-4)


def test_functional_api_surface():
    import distgrad.nn.functional as mod
    for name in ["linear", "conv2d", "max_pool2d", "avg_pool2d", "relu", "gelu", "tanh", "sigmoid",
                 "softmax", "log_softmax", "cross_entropy", "nll_loss", "mse_loss", "l1_loss",
                 "binary_cross_entropy", "binary_cross_entropy_with_logits", "layer_norm",
                 "batch_norm", "embedding", "dropout", "one_hot", "pad", "flatten"]:
        assert callable(getattr(mod, name)), name
        assert name in mod.__all__
    x = dg.randn(2, 3, 4)
    assert F.flatten(x, 1).shape == (2, 12)
    for fn in (F.mse_loss, F.l1_loss):
        with pytest.raises(ValueError, match="bogus is not a valid value for reduction"):
            fn(x, x, reduction="bogus")


@pytest.mark.gpu
def test_gpu_ops_match_cpu():
    cp = pytest.importorskip("cupy")
    try:
        cp.cuda.runtime.getDeviceCount()
    except Exception:  # pragma: no cover - no GPU
        pytest.skip("no GPU")
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 3, 8, 8)), rng.standard_normal((5, 3, 3, 3))
    b = rng.standard_normal(5)
    y = rng.integers(0, 10, 4)
    lw = rng.standard_normal((10, 5 * 4 * 4))
    results = []
    for dev in ("cpu", "cuda"):
        ts = [dg.tensor(a, device=dev, requires_grad=True) for a in (x, w, b, lw)]
        h = F.max_pool2d(F.relu(F.conv2d(ts[0], ts[1], ts[2], padding=1)), 2)
        h = F.layer_norm(h, h.shape[1:])
        loss = F.cross_entropy(F.linear(h.reshape(4, -1), ts[3]), dg.tensor(y, device=dev))
        loss.backward()
        results.append([loss.cpu().item()] + [t.grad.cpu().numpy() for t in ts])
    for a, b_ in zip(*results):
        np.testing.assert_allclose(a, b_, rtol=1e-6, atol=1e-8)


def test_cross_entropy_ignore_index_inside_class_range_but_absent(th):
    x = R(4, 5)
    t = np.array([0, 1, 4, 1])
    for ii in (2, 4, 0):
        compare(th, lambda F_, m, x, t: F_.cross_entropy(x, t, ignore_index=ii), [x, t])


def test_conv2d_recomputes_columns_past_the_save_limit(th, monkeypatch):
    import importlib
    conv_mod = importlib.import_module("distgrad.ops.nn.conv")
    monkeypatch.setattr(conv_mod, "SAVE_COLS_LIMIT", 0)
    compare(th, lambda F_, m, *t: F_.conv2d(*t, padding=1, stride=(1, 2)),
            [R(2, 3, 5, 6), R(4, 3, 3, 3, seed=1), R(4, seed=2)])
    compare(th, lambda F_, m, *t: F_.conv2d(*t), [R(3, 5, 6), R(4, 3, 2, 2, seed=1)])


def test_lp_pool_and_max_unpool_match_torch(th):
    compare(th, lambda F_, m, x: F_.lp_pool2d(x, 2, 2), [R(2, 3, 6, 6, low=0.1, high=1)])

    def unpool(F_, m, x):
        out, idx = F_.max_pool2d(x, 2, return_indices=True)
        return F_.max_unpool2d(out * 2, idx, 2)
    compare(th, unpool, [R(2, 3, 6, 4)])
