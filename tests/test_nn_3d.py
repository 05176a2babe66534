"""3-D convolution, pooling and normalisation (F.conv3d, conv_transpose3d, max/avg/adaptive
pool3d, batch/instance norm of 5-D input and their layers) against PyTorch and finite
differences. The 1-D/2-D functions share the same N-d code, so a few cases here check them
through it too.

Each PyTorch case is ``fn(F, *tensors)`` run once with ``torch.nn.functional`` and once with
``distgrad.nn.functional`` on tensors made from the same arrays (float ones require grad); the
outputs (values, shapes, dtypes) and the gradients of the same random contraction must agree.
"""
import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn
import distgrad.nn.functional as F
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.testing import fake_cupy

from test_fake_gpu import check as check_on_device

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}
DTYPES = [np.float32, np.float64]
# PyTorch's note on even kernels with padding='same' (it copies the input; so does distgrad)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def R(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def leaf(*shape, seed=0):
    return dg.tensor(R(*shape, seed=seed), requires_grad=True)


def _run(lib, fn, arrays, dtype):
    ins = [lib.tensor(a.astype(dtype), requires_grad=True) if a is not None else None
           for a in arrays]
    out = fn(lib.nn.functional, *ins)
    outs = list(out) if isinstance(out, tuple) else [out]
    rng = np.random.default_rng(7)
    loss = 0
    for o in outs:
        if o.requires_grad:
            loss = loss + (o * lib.tensor(rng.standard_normal(tuple(o.shape)).astype(dtype))).sum()
    loss.backward()
    values = [np.asarray(o.detach().numpy()) for o in outs]
    grads = [None if t is None else t.grad.numpy() for t in ins]
    return values, grads


def check(torch, fn, arrays, dtype=np.float64):
    """``fn`` on both libraries: equal outputs (shape, dtype, values) and input gradients."""
    outs_t, grads_t = _run(torch, fn, arrays, dtype)
    outs_d, grads_d = _run(dg, fn, arrays, dtype)
    assert len(outs_d) == len(outs_t)
    for ours, theirs in zip(outs_d, outs_t):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, **TOL[dtype])
    for i, (ours, theirs) in enumerate(zip(grads_d, grads_t)):
        if theirs is not None:
            assert ours.dtype == theirs.dtype
            np.testing.assert_allclose(ours, theirs, **TOL[dtype], err_msg=f"gradient {i}")


# ---------------------------------------------------------------------------------------------
# convolutions
# ---------------------------------------------------------------------------------------------
CONV3D = [
    # (input shape, weight shape, bias, keyword arguments)
    ((2, 4, 5, 6, 5), (6, 4, 3, 2, 3), True, {}),
    ((2, 4, 5, 6, 5), (6, 4, 3, 3, 3), True, dict(stride=2, padding=1)),
    ((2, 4, 6, 5, 7), (3, 4, 2, 3, 2), False, dict(stride=(1, 2, 3), padding=(0, 1, 2),
                                                   dilation=(2, 1, 1))),
    ((1, 4, 5, 6, 5), (6, 2, 3, 2, 2), True, dict(padding="same", dilation=(1, 2, 1), groups=2)),
    ((4, 5, 4, 6), (3, 4, 2, 2, 1), True, dict(padding="valid")),
    ((2, 4, 3, 4, 5), (5, 4, 1, 1, 1), True, {}),
    ((2, 4, 3, 4, 5), (5, 4, 1, 1, 1), False, dict(padding=(1, 0, 1))),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape,wshape,bias,kw", CONV3D)
def test_conv3d_matches_torch(torch, dtype, xshape, wshape, bias, kw):
    arrays = [R(*xshape), R(*wshape, seed=1), R(wshape[0], seed=2) if bias else None]
    check(torch, lambda F_, x, w, b: F_.conv3d(x, w, b, **kw), arrays, dtype)


CONV_T3D = [
    ((2, 4, 3, 4, 3), (4, 3, 3, 2, 3), True, dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 3, 4, 3), (4, 2, 2, 3, 2), True, dict(stride=(1, 2, 2), groups=2, dilation=(1, 2, 1),
                                                  output_padding=(0, 1, 0))),
    ((1, 4, 3, 3, 4), (4, 3, 2, 2, 2), False, dict(dilation=2, output_padding=1)),
    ((4, 3, 2, 3), (4, 2, 1, 1, 1), True, {}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape,wshape,bias,kw", CONV_T3D)
def test_conv_transpose3d_matches_torch(torch, dtype, xshape, wshape, bias, kw):
    groups = kw.get("groups", 1)
    arrays = [R(*xshape), R(*wshape, seed=1), R(wshape[1] * groups, seed=2) if bias else None]
    check(torch, lambda F_, x, w, b: F_.conv_transpose3d(x, w, b, **kw), arrays, dtype)


def test_conv3d_gradients_and_double_backward():
    fn = lambda x, w, b: F.conv3d(x, w, b, stride=(2, 1, 1), padding=1, groups=2)  # noqa: E731
    args = (leaf(1, 4, 3, 3, 3), leaf(2, 2, 2, 2, 2, seed=1), leaf(2, seed=2))
    assert gradcheck(fn, args)
    assert gradgradcheck(fn, args)
    fn = lambda x, w: F.conv3d(x, w, padding="same", dilation=(1, 2, 1))  # noqa: E731
    assert gradgradcheck(fn, (leaf(2, 3, 3, 3), leaf(2, 2, 2, 2, 1, seed=1)))


def test_conv_transpose3d_gradients_and_double_backward():
    fn = lambda x, w, b: F.conv_transpose3d(x, w, b, stride=2, padding=1,  # noqa: E731
                                            output_padding=(1, 0, 1), groups=2)
    args = (leaf(1, 2, 2, 3, 2), leaf(2, 1, 3, 2, 2, seed=1), leaf(2, seed=2))
    assert gradcheck(fn, args)
    assert gradgradcheck(fn, args)


def test_conv3d_node_name_and_no_grad(torch):
    x, w = leaf(1, 2, 3, 3, 3), leaf(2, 2, 2, 2, 2, seed=1)
    assert F.conv3d(x, w).grad_fn.name() == "ConvolutionBackward0"
    with dg.no_grad():
        out = F.conv_transpose3d(x, w)
    assert out.grad_fn is None and out.shape == (1, 2, 4, 4, 4)


# ---------------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------------
MAX_POOL3D = [
    ((2, 3, 4, 5, 4), dict(kernel_size=2)),
    ((2, 3, 5, 6, 5), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 2, 6, 5, 7), dict(kernel_size=(2, 3, 2), stride=(1, 2, 1), dilation=(2, 1, 1),
                           ceil_mode=True)),
    ((1, 2, 5, 5, 6), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    ((3, 4, 5, 4), dict(kernel_size=(1, 2, 3), stride=(2, 1, 2), padding=(0, 1, 1))),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kw", MAX_POOL3D)
def test_max_pool3d_matches_torch(torch, dtype, shape, kw):
    check(torch, lambda F_, x: F_.max_pool3d(x, **kw, return_indices=True), [R(*shape)], dtype)
    check(torch, lambda F_, x: F_.max_pool3d(x, **kw), [R(*shape)], dtype)


def test_max_pool3d_ties_and_nan_follow_torch(torch):
    x = np.zeros((1, 1, 3, 4, 4))
    x[0, 0, 1, 2, 1] = np.nan
    x[0, 0, 2, 3, 3] = 1.0
    check(torch, lambda F_, t: F_.max_pool3d(t, 2, 1, return_indices=True), [x])
    check(torch, lambda F_, t: F_.max_pool3d_with_indices(t, 3, 2, 1), [x])


AVG_POOL3D = [
    ((2, 3, 4, 5, 4), dict(kernel_size=2)),
    ((2, 3, 5, 6, 5), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                           count_include_pad=False)),
    ((2, 3, 5, 6, 5), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 4, 5, 6), dict(kernel_size=(1, 2, 3), stride=(2, 1, 2), padding=(0, 1, 1),
                           divisor_override=5)),
    ((3, 4, 5, 4), dict(kernel_size=2, stride=1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kw", AVG_POOL3D)
def test_avg_pool3d_matches_torch(torch, dtype, shape, kw):
    check(torch, lambda F_, x: F_.avg_pool3d(x, **kw), [R(*shape)], dtype)


ADAPTIVE_3D = [
    ((2, 3, 5, 7, 6), (2, 3, 4)),
    ((2, 3, 5, 7, 6), (None, 3, 1)),
    ((2, 3, 4, 6, 4), (2, 3, 2)),
    ((3, 5, 4, 7), 3),
    ((1, 2, 3, 4, 5), 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,size", ADAPTIVE_3D)
def test_adaptive_pool3d_matches_torch(torch, dtype, shape, size):
    check(torch, lambda F_, x: F_.adaptive_avg_pool3d(x, size), [R(*shape)], dtype)
    check(torch, lambda F_, x: F_.adaptive_max_pool3d(x, size, return_indices=True),
          [R(*shape)], dtype)


def test_interpolate_area_of_5d_input_is_adaptive_average_pooling(torch):
    check(torch, lambda F_, x: F_.interpolate(x, size=(2, 3, 4), mode="area"), [R(1, 2, 5, 6, 7)])
    check(torch, lambda F_, x: F_.interpolate(x, scale_factor=0.5, mode="area"),
          [R(1, 2, 4, 6, 5)])


def test_pooling_node_names_match_torch(torch):
    for fn in (lambda F_, x: F_.max_pool3d(x, 2), lambda F_, x: F_.avg_pool3d(x, 2),
               lambda F_, x: F_.max_pool2d(x[0], 2), lambda F_, x: F_.avg_pool2d(x[0], 2)):
        ours = fn(F, leaf(1, 2, 4, 4, 4)).grad_fn.name()
        theirs = type(fn(torch.nn.functional,
                         torch.zeros(1, 2, 4, 4, 4, requires_grad=True)).grad_fn).__name__
        assert ours == theirs


def test_pooling3d_gradients():
    x = leaf(1, 2, 4, 5, 4)
    assert gradcheck(lambda t: F.max_pool3d(t, (2, 3, 2), (1, 2, 1), 1, ceil_mode=True), (x,))
    assert gradcheck(lambda t: F.max_pool3d(t, 2, 1, dilation=(2, 1, 1)), (x,))
    assert gradcheck(lambda t: F.avg_pool3d(t, 3, 2, 1, ceil_mode=True,
                                            count_include_pad=False), (x,))
    assert gradcheck(lambda t: F.adaptive_avg_pool3d(t, (3, 2, 3)), (x,))
    assert gradcheck(lambda t: F.adaptive_max_pool3d(t, (3, 2, 3)), (x,))


@pytest.mark.parametrize("dtype", DTYPES)
def test_lower_dims_share_the_nd_code(torch, dtype):
    """1-D and 2-D ops run natively through the N-d code (no unsqueeze to 2-D)."""
    x1, x2 = R(2, 3, 9), R(2, 3, 7, 6)
    check(torch, lambda F_, x: F_.max_pool1d(x, 3, 2, 1, dilation=2, ceil_mode=True,
                                             return_indices=True), [x1], dtype)
    check(torch, lambda F_, x: F_.adaptive_max_pool1d(x, 4, return_indices=True), [x1], dtype)
    check(torch, lambda F_, x: F_.adaptive_avg_pool2d(x, (4, 5)), [x2], dtype)
    check(torch, lambda F_, x: F_.avg_pool2d(x, (2, 3), (1, 2), (1, 1), ceil_mode=True,
                                             count_include_pad=False), [x2], dtype)
    check(torch, lambda F_, x, w: F_.conv_transpose1d(x, w, stride=2, dilation=2,
                                                      output_padding=1), [x1, R(3, 2, 3)], dtype)
    check(torch, lambda F_, x, w: F_.conv1d(x, w, padding="same", dilation=3),
          [x1, R(4, 3, 2)], dtype)


# ---------------------------------------------------------------------------------------------
# normalisation of 5-D input
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_of_5d_input_matches_torch(torch, dtype, training):
    stats = {}

    def fn(F_, x, w, b):
        lib = torch if F_ is torch.nn.functional else dg
        rm = lib.tensor(np.linspace(-1, 1, 3).astype(dtype))
        rv = lib.tensor(np.linspace(0.5, 2, 3).astype(dtype))
        out = F_.batch_norm(x, rm, rv, w, b, training, 0.2, 1e-4)
        stats[lib.__name__] = (rm.numpy(), rv.numpy())
        return out

    check(torch, fn, [R(2, 3, 3, 2, 4), R(3, seed=1), R(3, seed=2)], dtype)
    for ours, theirs in zip(stats["distgrad"], stats["torch"]):
        np.testing.assert_allclose(ours, theirs, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_instance_norm_of_5d_input_matches_torch(torch, dtype):
    check(torch, lambda F_, x, w, b: F_.instance_norm(x, weight=w, bias=b, eps=1e-3),
          [R(2, 3, 3, 2, 4), R(3, seed=1), R(3, seed=2)], dtype)


def test_norms_of_5d_input_gradients():
    x, w, b = leaf(2, 2, 2, 3, 2), leaf(2, seed=1), leaf(2, seed=2)
    assert gradcheck(lambda *t: F.batch_norm(t[0], None, None, t[1], t[2], True), (x, w, b))
    assert gradcheck(lambda *t: F.instance_norm(t[0], weight=t[1], bias=t[2]), (x, w, b))


DEVICE_CASES = [  # (fn, input shapes) for the device code path
    (lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 1), padding=1, groups=2),
     [(2, 4, 3, 4, 3), (2, 2, 2, 3, 2), (2,)]),
    (lambda x, w: F.conv3d(x, w, padding="same", dilation=2), [(1, 2, 4, 3, 4), (3, 2, 2, 1, 2)]),
    (lambda x, w, b: F.conv_transpose3d(x, w, b, stride=2, output_padding=1),
     [(2, 2, 2, 3, 2), (2, 3, 2, 2, 1), (3,)]),
    (lambda x: [*F.max_pool3d(x, 3, 2, 1, ceil_mode=True, return_indices=True),
                F.avg_pool3d(x, 2, 1, 1, count_include_pad=False)], [(2, 2, 4, 5, 4)]),
    (lambda x: [*F.adaptive_max_pool3d(x, (2, 3, 3), True), F.adaptive_avg_pool3d(x, (3, 2, 3))],
     [(2, 2, 4, 5, 4)]),
    (lambda x, w, b: F.batch_norm(x, None, None, w, b, True), [(2, 3, 2, 3, 2), (3,), (3,)]),
]


@pytest.mark.parametrize("fn,shapes", DEVICE_CASES)
def test_3d_ops_on_the_device_code_path(fn, shapes):
    """CuPy's code path (on the CPU through ``fake_cupy``) gives the CPU's results."""
    with fake_cupy.installed():
        check_on_device(fn, *[R(*shape, seed=i).astype(np.float32)
                              for i, shape in enumerate(shapes)])


# ---------------------------------------------------------------------------------------------
# layers
# ---------------------------------------------------------------------------------------------
def _load(module, tmodule):
    """Give ``module`` the state of ``tmodule``; the state dict keys must be PyTorch's."""
    sd = tmodule.state_dict()
    assert list(module.state_dict()) == list(sd)
    module.load_state_dict({k: dg.tensor(v.detach().numpy()) for k, v in sd.items()})


def _same_layer(torch, ours, theirs, x, *args):
    """Equal repr and state dict keys, and (after loading PyTorch's state) equal outputs,
    input gradients and parameter gradients; a second call checks the updated buffers."""
    assert repr(ours) == repr(theirs)
    _load(ours, theirs)
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for _ in range(2):
        od, ot = ours(xd, *args), theirs(xt, *args)
        od, ot = (od, ot) if isinstance(ot, torch.Tensor) else (od[0], ot[0])
        np.testing.assert_allclose(od.detach().numpy(), ot.detach().numpy(), **TOL[np.float64])
        g = R(*ot.shape, seed=3)
        (od * dg.tensor(g)).sum().backward()
        (ot * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), **TOL[np.float64])
    params = dict(ours.named_parameters())
    for name, tp in theirs.named_parameters():
        np.testing.assert_allclose(params[name].grad.numpy(), tp.grad.numpy(), **TOL[np.float64])
    for (name, b), (_, tb) in zip(ours.named_buffers(), theirs.named_buffers()):
        np.testing.assert_allclose(b.numpy(), tb.numpy(), **TOL[np.float64], err_msg=name)


@pytest.mark.parametrize("kw", [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=(3, 2, 1), stride=(1, 2, 1), dilation=(1, 1, 2), groups=2, bias=False),
    dict(kernel_size=2, padding="same", padding_mode="reflect"),
    dict(kernel_size=3, padding=(1, 0, 2), padding_mode="replicate"),
    dict(kernel_size=2, padding=1, padding_mode="circular", stride=2),
])
def test_conv3d_layer(torch, kw):
    ours, theirs = nn.Conv3d(4, 6, **kw, dtype=dg.float64), torch.nn.Conv3d(4, 6, **kw).double()
    _same_layer(torch, ours, theirs, R(2, 4, 5, 4, 5))


def test_conv_transpose3d_layer(torch):
    kw = dict(kernel_size=(3, 2, 2), stride=2, padding=1, groups=2, dilation=(1, 2, 1))
    ours = nn.ConvTranspose3d(4, 6, **kw, dtype=dg.float64)
    theirs = torch.nn.ConvTranspose3d(4, 6, **kw).double()
    _same_layer(torch, ours, theirs, R(2, 4, 3, 2, 3), (6, 4, 5))
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported'):
        nn.ConvTranspose3d(2, 2, 2, padding_mode="reflect")


@pytest.mark.parametrize("make", [
    lambda m: m.MaxPool3d(3, 2, 1, ceil_mode=True),
    lambda m: m.MaxPool3d((2, 1, 2), return_indices=True),
    lambda m: m.AvgPool3d(3, 2, 1, count_include_pad=False),
    lambda m: m.AvgPool3d(2, divisor_override=3),
    lambda m: m.AdaptiveAvgPool3d((2, None, 3)),
    lambda m: m.AdaptiveMaxPool3d(3, return_indices=True),
    lambda m: m.AdaptiveMaxPool1d(3),
])
def test_pooling3d_layers(torch, make):
    ours, theirs = make(nn), make(torch.nn)
    x = R(2, 3, 5, 4, 5) if "1d" not in repr(theirs) else R(2, 3, 5)
    _same_layer(torch, ours, theirs, x)


@pytest.mark.parametrize("make,shape", [
    (lambda m: m.BatchNorm3d(3, momentum=0.3), (2, 3, 2, 3, 2)),
    (lambda m: m.BatchNorm3d(3, momentum=None, affine=False), (2, 3, 2, 3, 2)),
    (lambda m: m.InstanceNorm3d(3), (2, 3, 2, 3, 2)),
    (lambda m: m.InstanceNorm3d(3, affine=True, track_running_stats=True), (2, 3, 2, 3, 2)),
    (lambda m: m.InstanceNorm3d(3, affine=True), (3, 2, 3, 2)),
])
def test_norm3d_layers(torch, make, shape):
    ours, theirs = make(nn).double(), make(torch.nn).double()
    _same_layer(torch, ours, theirs, R(*shape))
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(dg.tensor(R(*shape, seed=5))).detach().numpy(),
                               theirs(torch.tensor(R(*shape, seed=5))).detach().numpy(),
                               **TOL[np.float64])


def test_layer_norm_and_rms_norm_share_the_shape_normalisation():
    for cls in (nn.LayerNorm, nn.RMSNorm):
        assert cls(4).normalized_shape == (4,)
        assert cls([2, 3]).normalized_shape == (2, 3)
        assert cls(np.int64(5)).normalized_shape == (5,)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
X5 = R(1, 2, 3, 3, 3)
ERRORS = [
    # (call on (F, lib, X5 tensor), PyTorch's key phrase)
    (lambda F_, m, x: F_.conv3d(x[0, 0], m.ones(4, 2, 1, 2, 2, dtype=x.dtype)),
     "Expected 4D (unbatched) or 5D (batched) input to conv3d"),
    (lambda F_, m, x: F_.conv3d(x, m.ones(4, 3, 2, 2, 2, dtype=x.dtype)),
     "expected input[1, 2, 3, 3, 3] to have 3 channels, but got 2 channels instead"),
    (lambda F_, m, x: F_.conv3d(x, m.ones(4, 2, 5, 2, 2, dtype=x.dtype)),
     "Calculated padded input size per channel: (3 x 3 x 3). Kernel size: (5 x 2 x 2). Kernel "
     "size can't be greater than actual input size"),
    (lambda F_, m, x: F_.conv1d(x[0, 0], m.ones(4, 3, 5, dtype=x.dtype)),
     "Calculated padded input size per channel: (3). Kernel size: (5)."),
    (lambda F_, m, x: F_.conv3d(x, m.ones(4, 2, 2, 2, 2, dtype=x.dtype), m.ones(3, dtype=x.dtype)),
     "expected bias to be 1-dimensional with 4 elements, but got bias of size [3] instead"),
    (lambda F_, m, x: F_.conv3d(x, m.ones(4, 2, 2, 2, 2, dtype=x.dtype), stride=2,
                                padding="same"),
     "padding='same' is not supported for strided convolutions"),
    (lambda F_, m, x: F_.conv3d(x, m.ones(4, 2, 2, 2, 2, dtype=x.dtype), dilation=0),
     "dilation should be greater than zero, but got [0, 0, 0]"),
    (lambda F_, m, x: F_.conv3d(x, m.ones(4, 2, 2, 2, 2, dtype=x.dtype), stride=0),
     "non-positive stride is not supported"),
    (lambda F_, m, x: F_.conv3d(x, m.ones(4, 2, 2, 2, 2, dtype=x.dtype), padding=(1, 1)),
     "expected padding to be a single integer value or a list of 3 values to match the "
     "convolution dimensions, but got padding=[1, 1]"),
    (lambda F_, m, x: F_.conv_transpose3d(x, m.ones(2, 2, 2, 2, 2, dtype=x.dtype), stride=2,
                                          output_padding=2),
     "output padding must be smaller than either stride or dilation, but got "
     "output_padding_depth: 2 output_padding_height: 2 output_padding_width: 2 stride_depth: 2"),
    (lambda F_, m, x: F_.conv_transpose3d(x, m.ones(2, 2, 1, 1, 1, dtype=x.dtype), padding=2),
     "Calculated output size per channel: (-1 x -1 x -1). Output size is too small"),
    (lambda F_, m, x: F_.max_pool3d(x, 2, padding=2),
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and "
     "dilation=1"),
    (lambda F_, m, x: F_.max_pool3d(x, 4),
     "Given input size: (2x3x3x3). Calculated output size: (2x0x0x0). Output size is too small"),
    (lambda F_, m, x: F_.max_pool3d(x[0, 0], 2), "4D or 5D (batch mode) tensor"),
    (lambda F_, m, x: F_.max_pool3d(x, 2, dilation=0),
     "dilation should be greater than zero, but got dilationT: 0 dilationH: 0 dilationW: 0"),
    (lambda F_, m, x: F_.avg_pool3d(x, 2, divisor_override=0), "divisor must be not zero"),
    (lambda F_, m, x: F_.adaptive_avg_pool3d(x[0, 0], 2), "Expected 4D or 5D tensor"),
    (lambda F_, m, x: F_.adaptive_max_pool3d(x[0, 0], 2), "Expected 4D or 5D tensor"),
]


@pytest.mark.parametrize("call,phrase", ERRORS)
def test_errors_carry_torch_key_phrases(torch, call, phrase):
    with pytest.raises(RuntimeError) as theirs:
        call(torch.nn.functional, torch, torch.tensor(X5))
    assert phrase in str(theirs.value)
    with pytest.raises(RuntimeError) as ours:
        call(F, dg, dg.tensor(X5))
    assert phrase in str(ours.value)


@pytest.mark.parametrize("make,x,phrase", [
    (lambda m: m.BatchNorm3d(2), R(2, 2, 3, 3), "expected 5D input (got 4D input)"),
    (lambda m: m.InstanceNorm3d(2), R(2, 3, 3), "expected 4D or 5D input (got 3D input)"),
    (lambda m: m.BatchNorm1d(2), R(2, 2, 3, 3), "expected 2D or 3D input (got 4D input)"),
])
def test_norm_layer_rank_errors(torch, make, x, phrase):
    for lib in (torch, dg):
        with pytest.raises(ValueError, match=phrase.replace("(", r"\(").replace(")", r"\)")):
            make(lib.nn)(lib.tensor(x, dtype=lib.float32))


def test_conv_transpose3d_refuses_string_padding(torch):
    for F_, m in ((torch.nn.functional, torch), (F, dg)):
        with pytest.raises(TypeError, match="argument 'padding' must be tuple of ints, not str"):
            F_.conv_transpose3d(m.tensor(X5), m.ones(2, 2, 1, 1, 1, dtype=m.float64),
                                padding="same")
