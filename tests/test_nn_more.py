"""Transformer layers, transposed convolutions, ``unfold``/``fold``, small layers
(``PReLU``, ``InstanceNorm``, ``Bilinear``, ...) and the schedulers ``ConstantLR``,
``PolynomialLR``, ``ChainedScheduler``, ``CyclicLR``, ``OneCycleLR``: PyTorch on the same inputs
and weights in float64 (outputs, input and parameter gradients, state-dict keys), finite
differences for the new functional ops, learning rates step by step."""
import warnings

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn
import distgrad.nn.functional as F
from distgrad import optim
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.optim import lr_scheduler
from distgrad.testing import fake_cupy

from test_lr_scheduler import _two_group_optimizer
from test_nn_extra import arr, close, randn, run_both
from test_optim import assert_saveable, through_save


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def leaf(*shape, seed=0):
    return dg.tensor(randn(*shape, seed=seed), requires_grad=True)


def load_torch_state(module, tmodule):
    """Give ``module`` the state of ``tmodule`` (checking the keys are PyTorch's, in order)."""
    sd = tmodule.state_dict()
    assert list(module.state_dict()) == list(sd)
    module.load_state_dict({k: dg.tensor(v.detach().numpy()) for k, v in sd.items()})


def compare_modules(torch, module, tmodule, call, tcall, arrays):
    """Load ``tmodule``'s state into ``module``, run ``call(module, *inputs)`` and
    ``tcall(tmodule, *inputs)`` on the same float64 arrays, and compare outputs, input gradients
    and parameter gradients."""
    load_torch_state(module, tmodule)
    outs = run_both(torch, lambda *xs: call(module, *xs), lambda *xs: tcall(tmodule, *xs), arrays)
    params = dict(module.named_parameters())
    assert list(params) == [name for name, _ in tmodule.named_parameters()]
    for name, tp in tmodule.named_parameters():
        if tp.grad is not None:
            close(params[name].grad, tp.grad, f"gradient of {name}")
    return outs


def same_error(torch, fn, tfn):
    """``fn`` and ``tfn`` raise the same exception type with the same message."""
    with pytest.raises(Exception) as theirs:
        tfn()
    with pytest.raises(type(theirs.value)) as ours:
        fn()
    assert str(ours.value).replace("distgrad", "torch") == str(theirs.value)


# ---------------------------------------------------------------------------------------------
# transposed convolutions
# ---------------------------------------------------------------------------------------------
CONV_T2D = [
    # (input shape, weight shape, bias, keyword arguments)
    ((2, 4, 5, 6), (4, 3, 3, 2), True, dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 5, 6), (4, 2, 3, 3), True, dict(stride=(2, 1), padding=(0, 1), groups=2,
                                            dilation=2, output_padding=(1, 1))),
    ((2, 4, 4, 3), (4, 3, 3, 3), False, dict(stride=3, output_padding=2, padding=2)),
    ((4, 5, 6), (4, 3, 1, 1), True, {}),
    ((1, 4, 5, 6), (4, 3, 1, 1), False, dict(dilation=2, output_padding=1)),
    ((1, 2, 3, 3), (2, 2, 2, 2), True, dict(stride=2)),
]


@pytest.mark.torch
@pytest.mark.parametrize("xshape,wshape,bias,kw", CONV_T2D)
def test_conv_transpose2d_matches_torch(torch, xshape, wshape, bias, kw):
    bshape = wshape[1] * kw.get("groups", 1)
    arrays = [randn(*xshape), randn(*wshape, seed=1), randn(bshape, seed=2) if bias else None]
    run_both(torch, lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
             lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, **kw), arrays)


@pytest.mark.torch
@pytest.mark.parametrize("xshape,wshape,kw", [
    ((2, 4, 7), (4, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((4, 7), (4, 1, 2), dict(groups=2, dilation=3, output_padding=2)),
])
def test_conv_transpose1d_matches_torch(torch, xshape, wshape, kw):
    arrays = [randn(*xshape), randn(*wshape, seed=1), randn(wshape[1] * kw.get("groups", 1))]
    run_both(torch, lambda x, w, b: F.conv_transpose1d(x, w, b, **kw),
             lambda x, w, b: torch.nn.functional.conv_transpose1d(x, w, b, **kw), arrays)


def test_conv_transpose_gradcheck():
    x, w, b = leaf(2, 4, 3, 3), leaf(4, 1, 3, 2, seed=1), leaf(2, seed=2)
    fn = lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,  # noqa: E731
                                            output_padding=1, groups=2)
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))
    fn1 = lambda x, w: F.conv_transpose1d(x, w, stride=2, dilation=2,  # noqa: E731
                                          output_padding=1)
    assert gradgradcheck(fn1, (leaf(4, 5), leaf(4, 3, 3, seed=1)))


def test_conv2d_double_backward():
    """The convolution node's ``graph_backward`` (transposed convolution + unfold)."""
    fn = lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2)  # noqa: E731
    assert gradgradcheck(fn, (leaf(2, 4, 5, 5), leaf(4, 2, 3, 2, seed=1), leaf(4, seed=2)))
    fn = lambda x, w: F.conv2d(x, w, padding="same", dilation=2)  # noqa: E731
    assert gradgradcheck(fn, (leaf(4, 5, 5), leaf(3, 4, 3, 2, seed=1)))


@pytest.mark.torch
def test_conv_transpose_errors_match_torch(torch):
    x, w = randn(2, 4, 5, 5), randn(4, 3, 3, 3)
    cases = [(randn(2, 5, 5, 5), w, {}), (x, w, dict(output_padding=1)),
             (x, w, dict(padding=5)), (x, w, dict(groups=3)), (x[0, 0], w, {}),
             (x, w, dict(stride=0)), (x, w, dict(padding=-1)), (x, w, dict(padding="same")),
             (x, w, dict(output_padding=-1))]
    for xa, wa, kw in cases:
        same_error(torch, lambda: F.conv_transpose2d(dg.tensor(xa), dg.tensor(wa), **kw),
                   lambda: torch.nn.functional.conv_transpose2d(torch.tensor(xa),
                                                                torch.tensor(wa), **kw))
    same_error(torch, lambda: F.conv_transpose2d(dg.tensor(x), dg.tensor(w), dg.tensor(randn(4))),
               lambda: torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w),
                                                            torch.tensor(randn(4))))


@pytest.mark.torch
@pytest.mark.parametrize("cls,xshape,kw", [
    ("ConvTranspose2d", (2, 4, 5, 6), dict(kernel_size=(3, 2), stride=2, padding=1,
                                           output_padding=1, groups=2, dilation=(1, 2))),
    ("ConvTranspose2d", (4, 5, 6), dict(kernel_size=3, bias=False)),
    ("ConvTranspose1d", (2, 4, 7), dict(kernel_size=3, stride=3, output_padding=2)),
])
def test_conv_transpose_modules_match_torch(torch, cls, xshape, kw):
    m = getattr(nn, cls)(4, 6, dtype=dg.float64, **kw)
    tm = getattr(torch.nn, cls)(4, 6, **kw).double()
    assert repr(m) == repr(tm)
    assert m.weight.shape == tuple(tm.weight.shape)
    compare_modules(torch, m, tm, lambda mod, x: mod(x), lambda mod, x: mod(x), [randn(*xshape)])


@pytest.mark.torch
def test_conv_transpose_output_size_and_init(torch):
    m = nn.ConvTranspose2d(4, 3, 3, stride=2, dtype=dg.float64)
    tm = torch.nn.ConvTranspose2d(4, 3, 3, stride=2).double()
    load_torch_state(m, tm)
    x = randn(2, 4, 5, 5)
    for size in ((12, 12), (2, 3, 11, 12)):
        close(m(dg.tensor(x), output_size=size), tm(torch.tensor(x), output_size=size))
    for size in ((14, 14), (1, 2, 12)):
        same_error(torch, lambda: m(dg.tensor(x), output_size=size),
                   lambda: tm(torch.tensor(x), output_size=size))
    same_error(torch, lambda: nn.ConvTranspose2d(4, 3, 3, padding_mode="reflect"),
               lambda: torch.nn.ConvTranspose2d(4, 3, 3, padding_mode="reflect"))
    # kaiming_uniform_(a=sqrt(5)) over fan_in = (out/groups) * kh * kw, as in PyTorch
    big = nn.ConvTranspose2d(8, 16, 3, groups=2)
    bound = 1 / np.sqrt(8 * 9)
    w = arr(big.weight)
    assert big.weight.shape == (8, 8, 3, 3) and np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.9 * bound and np.abs(arr(big.bias)).max() <= bound


# ---------------------------------------------------------------------------------------------
# unfold / fold
# ---------------------------------------------------------------------------------------------
UNFOLD_CASES = [dict(kernel_size=2), dict(kernel_size=(2, 3), dilation=(2, 1), padding=1,
                                          stride=(2, 3)), dict(kernel_size=1),
                dict(kernel_size=3, padding=(1, 0), stride=2)]


@pytest.mark.torch
@pytest.mark.parametrize("kw", UNFOLD_CASES)
@pytest.mark.parametrize("shape", [(2, 3, 6, 7), (3, 6, 7), (1, 2, 6, 7)])
def test_unfold_fold_match_torch(torch, kw, shape):
    tf = torch.nn.functional
    blocks = run_both(torch, lambda x: F.unfold(x, **kw), lambda x: tf.unfold(x, **kw),
                      [randn(*shape)])[0]
    run_both(torch, lambda c: F.fold(c, (6, 7), **kw), lambda c: tf.fold(c, (6, 7), **kw),
             [arr(blocks)])
    m, tm = nn.Unfold(**kw), torch.nn.Unfold(**kw)
    assert repr(m) == repr(tm)
    close(m(dg.tensor(randn(*shape))), tm(torch.tensor(randn(*shape))))
    fm, tfm = nn.Fold((6, 7), **kw), torch.nn.Fold((6, 7), **kw)
    assert repr(fm) == repr(tfm)
    close(fm(blocks), tfm(torch.tensor(arr(blocks))))


def test_unfold_fold_gradcheck_and_no_aliasing():
    assert gradgradcheck(lambda x: F.unfold(x, 2, padding=1, stride=2), (leaf(2, 3, 4, 5),))
    assert gradgradcheck(lambda c: F.fold(c, (4, 5), 2, padding=1, stride=2), (leaf(12, 9),))
    x = dg.tensor(randn(1, 3, 4, 4))
    for out in (F.unfold(x, 1), F.fold(F.unfold(x, 1), (4, 4), 1)):
        out._data[...] = 0     # a new array, never a view of the input
        assert np.abs(arr(x)).sum() > 0


@pytest.mark.torch
def test_unfold_fold_errors_match_torch(torch):
    tf = torch.nn.functional
    x = randn(2, 4, 5, 5)
    for kw in (dict(kernel_size=6), dict(kernel_size=2, stride=0), dict(kernel_size=0),
               dict(kernel_size=2, dilation=0), dict(kernel_size=2, padding=-1),
               dict(kernel_size=(2, 2, 2))):
        same_error(torch, lambda: F.unfold(dg.tensor(x), **kw),
                   lambda: tf.unfold(torch.tensor(x), **kw))
    for shape, size, k in (((2, 13, 16), (5, 5), 2), ((2, 12, 15), (5, 5), 2),
                           ((12,), (5, 5), 2), ((2, 12, 16), (5, 5, 5), 2),
                           ((2, 12, 16), (2, 2), 3), ((2, 12, 1), (1, 1), 2)):
        c = randn(*shape)
        same_error(torch, lambda: F.fold(dg.tensor(c), size, k),
                   lambda: tf.fold(torch.tensor(c), size, k))


def test_new_conv_ops_on_fake_gpu():
    """The device-generic code path (``fake_cupy``) gives the CPU's values and gradients."""
    arrays = [randn(2, 4, 3, 3), randn(4, 2, 3, 2, seed=1), randn(4, seed=2)]

    def run(device):
        ts = [dg.tensor(a, device=device, requires_grad=True) for a in arrays]
        y = F.conv_transpose2d(ts[0], ts[1], ts[2], stride=2, output_padding=1, groups=2)
        z = F.fold(F.unfold(y, 2, padding=1), y.shape[-2:], 2, padding=1)
        (z * z).sum().backward()
        return [z.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in ts]

    expected = run("cpu")
    with fake_cupy.installed():
        for ours, ref in zip(run("cuda"), expected):
            np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# small layers
# ---------------------------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("name,args", [
    ("Hardswish", ()), ("Hardsigmoid", ()), ("Softsign", ()), ("Tanhshrink", ()),
    ("Softmin", (1,)), ("LogSigmoid", ()),
])
def test_activation_modules_match_torch(torch, name, args):
    m, tm = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(m) == repr(tm)
    x = randn(3, 4, 5) * 4
    if name != "Hardsigmoid":
        compare_modules(torch, m, tm, lambda mod, x: mod(x), lambda mod, x: mod(x), [x])
        return
    # PyTorch's backward multiplies by float32(1/6), even in float64: equal to 3e-8
    ours, theirs = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = m(ours), tm(theirs)
    close(out, tout)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(arr(ours.grad), theirs.grad.numpy(), rtol=1e-7, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("num,shape", [(1, (3, 4)), (4, (2, 4, 5)), (4, (2, 4)), (1, (5,))])
def test_prelu_matches_torch(torch, num, shape):
    m = nn.PReLU(num, init=0.3, dtype=dg.float64)
    tm = torch.nn.PReLU(num, init=0.3).double()
    assert repr(m) == repr(tm) and np.all(arr(m.weight) == 0.3)
    with torch.no_grad():
        tm.weight.copy_(torch.linspace(-0.5, 0.5, num, dtype=torch.float64))
    compare_modules(torch, m, tm, lambda mod, x: mod(x), lambda mod, x: mod(x), [randn(*shape)])
    run_both(torch, F.prelu, torch.nn.functional.prelu, [randn(*shape), randn(num, seed=3)])


@pytest.mark.torch
@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 4, 6)), ("InstanceNorm1d", (4, 6)),
                                       ("InstanceNorm2d", (2, 4, 3, 5)),
                                       ("InstanceNorm2d", (4, 3, 5))])
@pytest.mark.parametrize("affine,track", [(False, False), (True, True), (False, True)])
def test_instance_norm_matches_torch(torch, cls, shape, affine, track):
    kw = dict(affine=affine, track_running_stats=track, momentum=0.3, eps=1e-4)
    m = getattr(nn, cls)(4, dtype=dg.float64, **kw)
    tm = getattr(torch.nn, cls)(4, **kw).double()
    assert repr(m) == repr(tm)
    if affine:
        with torch.no_grad():
            tm.weight.copy_(torch.tensor(randn(4, seed=5)))
            tm.bias.copy_(torch.tensor(randn(4, seed=6)))
    for step in range(2):      # training: batch statistics (and running-statistics updates)
        compare_modules(torch, m, tm, lambda mod, x: mod(x), lambda mod, x: mod(x),
                        [randn(*shape, seed=step) * 2 + 1])
    if track:
        close(m.running_mean, tm.running_mean)
        close(m.running_var, tm.running_var)
        assert int(m.num_batches_tracked.item()) == int(tm.num_batches_tracked)
    m.eval()
    tm.eval()
    compare_modules(torch, m, tm, lambda mod, x: mod(x), lambda mod, x: mod(x),
                    [randn(*shape, seed=7)])


@pytest.mark.torch
def test_instance_norm_checks_match_torch(torch):
    for cls, shape in (("InstanceNorm1d", (2, 4, 5, 6)), ("InstanceNorm2d", (4, 5)),
                       ("InstanceNorm1d", (3, 1))):
        x = randn(*shape)
        same_error(torch, lambda: getattr(nn, cls)(3)(dg.tensor(x)),
                   lambda: getattr(torch.nn, cls)(3)(torch.tensor(x)))
    x = randn(2, 4, 5)
    same_error(torch, lambda: nn.InstanceNorm1d(3, affine=True, dtype=dg.float64)(dg.tensor(x)),
               lambda: torch.nn.InstanceNorm1d(3, affine=True).double()(torch.tensor(x)))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(3)(dg.tensor(x))
    m = nn.InstanceNorm2d(3, affine=True, track_running_stats=True)
    assert list(m.state_dict()) == list(torch.nn.InstanceNorm2d(3, affine=True,
                                                                track_running_stats=True)
                                        .state_dict())


@pytest.mark.torch
@pytest.mark.parametrize("bias,shapes", [(True, ((5, 3), (5, 4))), (False, ((2, 5, 3), (2, 5, 4))),
                                         (True, ((3,), (4,)))])
def test_bilinear_matches_torch(torch, bias, shapes):
    m = nn.Bilinear(3, 4, 6, bias=bias, dtype=dg.float64)
    tm = torch.nn.Bilinear(3, 4, 6, bias=bias).double()
    assert repr(m) == repr(tm) and m.weight.shape == (6, 3, 4)
    bound = 1 / np.sqrt(3)
    assert np.abs(arr(m.weight)).max() <= bound
    compare_modules(torch, m, tm, lambda mod, a, b: mod(a, b), lambda mod, a, b: mod(a, b),
                    [randn(*shapes[0]), randn(*shapes[1], seed=1)])


@pytest.mark.torch
def test_bilinear_errors_match_torch(torch):
    w = randn(5, 3, 4)
    for a, b, bias in (((2, 4), (2, 4), None), ((2, 3), (3, 4), None), ((2, 3), (2, 4), (4,)),
                       ((2, 3), (2, 1, 4), None)):
        args = [randn(*a), randn(*b), w] + ([] if bias is None else [randn(*bias)])
        same_error(torch, lambda: F.bilinear(*[dg.tensor(v) for v in args]),
                   lambda: torch.nn.functional.bilinear(*[torch.tensor(v) for v in args]))


@pytest.mark.torch
@pytest.mark.parametrize("name,kw", [("CosineSimilarity", {}), ("CosineSimilarity", dict(dim=-1)),
                                     ("PairwiseDistance", {}),
                                     ("PairwiseDistance", dict(p=1.5, keepdim=True))])
def test_distance_modules_match_torch(torch, name, kw):
    m, tm = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(m) == repr(tm)
    compare_modules(torch, m, tm, lambda mod, a, b: mod(a, b), lambda mod, a, b: mod(a, b),
                    [randn(4, 5), randn(4, 5, seed=1)])


# ---------------------------------------------------------------------------------------------
# transformer
# ---------------------------------------------------------------------------------------------
D_MODEL, NHEAD, FF = 8, 2, 12
LAYER_OPTIONS = [
    dict(),
    dict(norm_first=True, activation="gelu", batch_first=True),
    dict(bias=False, layer_norm_eps=1e-3),
    dict(activation="silu"),                      # a callable (F.silu on each side)
]


def _layer_kwargs(torch, options):
    """The options for distgrad and for torch (a callable activation on each side)."""
    ours, theirs = dict(options), dict(options)
    if options.get("activation") == "silu":
        ours["activation"], theirs["activation"] = F.silu, torch.nn.functional.silu
    return ours, theirs


def _seq(options, length, batch=2):
    """An ``(L, N, E)`` (``(N, L, E)`` with batch_first) array."""
    shape = (batch, length, D_MODEL) if options.get("batch_first") else (length, batch, D_MODEL)
    return randn(*shape, seed=length)


def _masks(torch, S, T):
    """Boolean and float masks as distgrad and torch tensors: a causal float target mask, a
    boolean source mask, and key padding masks for a batch of two."""
    causal = np.triu(np.full((T, T), -np.inf), 1)
    src_mask = np.zeros((S, S), bool)
    src_mask[0, S - 1] = True
    pad_s = np.array([[False] * S, [False] * (S - 2) + [True] * 2])
    pad_t = np.array([[False] * T, [False] * (T - 1) + [True]])
    arrays = dict(src_mask=src_mask, tgt_mask=causal, src_key_padding_mask=pad_s,
                  memory_key_padding_mask=pad_s, tgt_key_padding_mask=pad_t)
    return ({k: dg.tensor(v) for k, v in arrays.items()},
            {k: torch.tensor(v) for k, v in arrays.items()})


def _pick(masks, *names, **rename):
    out = {k: masks[k] for k in names}
    out.update({new: masks[old] for new, old in rename.items()})
    return out


def _eval_pair(m, tm):
    m.eval()
    tm.double().eval()
    return m, tm


def _layer_pair(torch, name, options):
    """distgrad's and torch's layer ``name`` with the same options, in float64 and eval mode."""
    ours, theirs = _layer_kwargs(torch, options)
    return _eval_pair(getattr(nn, name)(D_MODEL, NHEAD, FF, dtype=dg.float64, **ours),
                      getattr(torch.nn, name)(D_MODEL, NHEAD, FF, **theirs))


def transformer_test(options=LAYER_OPTIONS):
    """A PyTorch comparison over ``options`` that ignores the mask-type deprecation warning
    (both libraries give it)."""
    def mark(fn):
        fn = pytest.mark.parametrize("options", options)(fn)
        return pytest.mark.torch(pytest.mark.filterwarnings("ignore:Support for mismatched")(fn))
    return mark


@transformer_test()
def test_transformer_encoder_layer_matches_torch(torch, options):
    m, tm = _layer_pair(torch, "TransformerEncoderLayer", options)
    masks, tmasks = _masks(torch, 5, 4)
    for names in ((), ("src_mask", "src_key_padding_mask")):
        compare_modules(torch, m, tm, lambda mod, x: mod(x, **_pick(masks, *names)),
                        lambda mod, x: mod(x, **_pick(tmasks, *names)), [_seq(options, 5)])
    causal = nn.Transformer.generate_square_subsequent_mask(5, dtype=dg.float64)
    tcausal = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    compare_modules(torch, m, tm, lambda mod, x: mod(x, causal, is_causal=True),
                    lambda mod, x: mod(x, tcausal, is_causal=True), [_seq(options, 5)])
    compare_modules(torch, m, tm, lambda mod, x: mod(x), lambda mod, x: mod(x),
                    [randn(5, D_MODEL)])                                 # unbatched


@transformer_test()
def test_transformer_decoder_layer_matches_torch(torch, options):
    m, tm = _layer_pair(torch, "TransformerDecoderLayer", options)
    masks, tmasks = _masks(torch, 5, 4)
    names = ("tgt_mask", "tgt_key_padding_mask", "memory_key_padding_mask")
    compare_modules(torch, m, tm, lambda mod, t, s: mod(t, s, **_pick(masks, *names)),
                    lambda mod, t, s: mod(t, s, **_pick(tmasks, *names)),
                    [_seq(options, 4), _seq(options, 5)])
    kw, tkw = _pick(masks, memory_mask="src_mask"), _pick(tmasks, memory_mask="src_mask")
    compare_modules(torch, m, tm, lambda mod, t, s: mod(t, s, **kw),
                    lambda mod, t, s: mod(t, s, **tkw), [_seq(options, 5), _seq(options, 5)])


@transformer_test(LAYER_OPTIONS[:2])
def test_transformer_encoder_decoder_stacks_match_torch(torch, options):
    ours, theirs = _layer_kwargs(torch, options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # torch's nested-tensor notice
        tenc = torch.nn.TransformerEncoder(
            torch.nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, **theirs), 2,
            torch.nn.LayerNorm(D_MODEL))
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, **ours), 2,
                                nn.LayerNorm(D_MODEL)).to(dg.float64)
    enc, tenc = _eval_pair(enc, tenc)
    masks, tmasks = _masks(torch, 5, 4)
    compare_modules(torch, enc, tenc,
                    lambda mod, x: mod(x, src_key_padding_mask=masks["src_key_padding_mask"]),
                    lambda mod, x: mod(x, src_key_padding_mask=tmasks["src_key_padding_mask"]),
                    [_seq(options, 5)])
    causal = nn.Transformer.generate_square_subsequent_mask(4, dtype=dg.float64)
    tcausal = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    compare_modules(torch, enc, tenc, lambda mod, x: mod(x, causal),      # causal mask detected
                    lambda mod, x: mod(x, tcausal), [_seq(options, 4)])
    dec, tdec = _eval_pair(
        nn.TransformerDecoder(nn.TransformerDecoderLayer(D_MODEL, NHEAD, FF, **ours), 2)
        .to(dg.float64),
        torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(D_MODEL, NHEAD, FF,
                                                                     **theirs), 2))
    compare_modules(torch, dec, tdec, lambda mod, t, s: mod(t, s, tgt_mask=causal),
                    lambda mod, t, s: mod(t, s, tgt_mask=tcausal),
                    [_seq(options, 4), _seq(options, 5)])


@transformer_test()
def test_transformer_matches_torch(torch, options):
    ours, theirs = _layer_kwargs(torch, options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = torch.nn.Transformer(D_MODEL, NHEAD, 2, 1, FF, **theirs)
    m, tm = _eval_pair(nn.Transformer(D_MODEL, NHEAD, 2, 1, FF, dtype=dg.float64, **ours), tm)
    masks, tmasks = _masks(torch, 5, 4)
    names = ("tgt_mask", "src_key_padding_mask", "memory_key_padding_mask",
             "tgt_key_padding_mask")
    compare_modules(torch, m, tm, lambda mod, s, t: mod(s, t, **_pick(masks, *names)),
                    lambda mod, s, t: mod(s, t, **_pick(tmasks, *names)),
                    [_seq(options, 5), _seq(options, 4)])
    compare_modules(torch, m, tm, lambda mod, s, t: mod(s, t), lambda mod, s, t: mod(s, t),
                    [randn(5, D_MODEL), randn(4, D_MODEL, seed=1)])      # unbatched


@pytest.mark.torch
def test_transformer_construction_and_errors(torch):
    m = nn.Transformer(D_MODEL, NHEAD, 1, 1, FF)
    # Xavier-uniform for every matrix; LayerNorm and the biases keep their initialisation
    w = arr(m.encoder.layers[0].linear1.weight)
    assert np.abs(w).max() <= np.sqrt(6 / (D_MODEL + FF))
    assert np.all(arr(m.decoder.norm.weight) == 1)
    assert m.encoder.layers[0].activation_relu_or_gelu == 1
    assert nn.TransformerEncoderLayer(8, 2, activation="gelu").activation_relu_or_gelu == 2
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    np.testing.assert_array_equal(arr(mask), torch.nn.Transformer
                                  .generate_square_subsequent_mask(3).numpy())
    assert mask.dtype == dg.float32
    src, tgt = dg.tensor(randn(5, 2, D_MODEL)), dg.tensor(randn(4, 3, D_MODEL))
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        m(src.float(), tgt.float())
    with pytest.raises(RuntimeError, match="feature number of src and tgt must be equal"):
        m(src[..., :4].float(), src[..., :4].float())
    custom = nn.Transformer(D_MODEL, NHEAD, custom_encoder=nn.Identity(),
                            custom_decoder=nn.Identity())
    assert len(list(custom.parameters())) == 0


@pytest.mark.torch
def test_transformer_dropout_in_training(torch):
    """In training mode dropout is active (outputs differ from eval mode) and seeded."""
    m = nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=0.5, dtype=dg.float64)
    x = dg.tensor(_seq({}, 5))
    dg.manual_seed(3)
    a = m(x)
    dg.manual_seed(3)
    b = m(x)
    np.testing.assert_array_equal(arr(a), arr(b))
    m.eval()
    assert not np.allclose(arr(a), arr(m(x)))


# ---------------------------------------------------------------------------------------------
# learning-rate schedulers
# ---------------------------------------------------------------------------------------------
SCHEDULERS = {
    "constant": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "constant-default": lambda m, o: m.ConstantLR(o),
    "polynomial": lambda m, o: m.PolynomialLR(o, total_iters=10, power=0.9),
    "chained": lambda m, o: m.ChainedScheduler([m.ConstantLR(o, factor=0.1, total_iters=2),
                                                m.ExponentialLR(o, gamma=0.9)]),
    "sequential-in-chained": lambda m, o: m.ChainedScheduler([
        m.SequentialLR(o, [m.ConstantLR(o, factor=0.5, total_iters=3),
                           m.PolynomialLR(o, total_iters=20)], milestones=[5]),
        m.ExponentialLR(o, 0.95)]),
    "cyclic": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=4, step_size_down=6),
    "cyclic-triangular2": lambda m, o: m.CyclicLR(o, [0.01, 0.02], 0.1, step_size_up=3,
                                                  mode="triangular2"),
    "cyclic-exp-range": lambda m, o: m.CyclicLR(o, 0.01, [0.1, 0.2], step_size_up=3,
                                                mode="exp_range", gamma=0.95,
                                                base_momentum=0.7, max_momentum=[0.9, 0.95]),
    "cyclic-no-momentum": lambda m, o: m.CyclicLR(o, 0.01, 0.1, 5, cycle_momentum=False),
    "onecycle": lambda m, o: m.OneCycleLR(o, 0.5, total_steps=40),
    "onecycle-linear-3phase": lambda m, o: m.OneCycleLR(
        o, [0.5, 0.2], epochs=4, steps_per_epoch=10, anneal_strategy="linear", three_phase=True,
        pct_start=0.25, div_factor=10.0, final_div_factor=100.0),
    "onecycle-no-momentum": lambda m, o: m.OneCycleLR(o, 0.3, total_steps=40,
                                                      cycle_momentum=False),
}


def _lr_momentum_sequence(lib, opt_mod, make, kind, steps=35):
    """Learning rates and momenta (SGD's momentum, Adam's beta1) of every step."""
    opt = _two_group_optimizer(lib, opt_mod, kind)
    sched = make(opt_mod.lr_scheduler, opt)
    seq = []
    for _ in range(steps):
        seq.append((list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups],
                    [g["momentum"] if kind == "sgd" else g["betas"] for g in opt.param_groups]))
        opt.step()
        sched.step()
    return seq, opt, sched


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_new_schedulers_match_torch(torch, name, kind):
    make = SCHEDULERS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours, opt, sched = _lr_momentum_sequence(dg, optim, make, kind)
    theirs, topt, tsched = _lr_momentum_sequence(torch, torch.optim, make, kind)
    assert ours == theirs           # the same float arithmetic: exactly equal
    if hasattr(tsched, "base_lrs"):
        assert sched.base_lrs == tsched.base_lrs and sched.last_epoch == tsched.last_epoch
    keys = {"initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"}
    assert keys & set(opt.param_groups[0]) == keys & set(topt.param_groups[0])
    assert opt.param_groups[0].get("max_lr") == topt.param_groups[0].get("max_lr")


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_new_scheduler_state_dict_round_trip(name, tmp_path):
    make = SCHEDULERS[name]
    _, opt, sched = _lr_momentum_sequence(dg, optim, make, "sgd", steps=12)
    sd, opt_sd = sched.state_dict(), opt.state_dict()
    assert_saveable(sd)
    sd, opt_sd = through_save(sd, tmp_path), through_save(opt_sd, tmp_path)
    opt2 = _two_group_optimizer(dg, optim)
    sched2 = make(lr_scheduler, opt2)
    sched2.load_state_dict(sd)
    opt2.load_state_dict(opt_sd)
    for _ in range(15):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert opt2.param_groups[1]["momentum"] == opt.param_groups[1]["momentum"]


@pytest.mark.filterwarnings("ignore:Detected call of")
@pytest.mark.torch
def test_new_scheduler_errors_match_torch(torch):
    cases = [
        lambda m, o: m.ConstantLR(o, factor=1.5),
        lambda m, o: m.OneCycleLR(o, 0.1),
        lambda m, o: m.OneCycleLR(o, 0.1, total_steps=0),
        lambda m, o: m.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=0),
        lambda m, o: m.OneCycleLR(o, 0.1, total_steps=10, pct_start=1),
        lambda m, o: m.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"),
        lambda m, o: m.OneCycleLR(o, [0.1], total_steps=10),
        lambda m, o: m.CyclicLR(o, 0.01, 0.1, mode="sine"),
        lambda m, o: m.ChainedScheduler([]),
    ]
    for make in cases:
        same_error(torch, lambda: make(lr_scheduler, _two_group_optimizer(dg, optim)),
                   lambda: make(torch.optim.lr_scheduler,
                                _two_group_optimizer(torch, torch.optim)))
    for lib, opt_mod in ((dg, optim), (torch, torch.optim)):
        p = lib.tensor([1.0], requires_grad=True)
        with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
            opt_mod.lr_scheduler.CyclicLR(opt_mod.Adagrad([p]), 0.01, 0.1)
        sched = opt_mod.lr_scheduler.OneCycleLR(opt_mod.SGD([p], lr=0.1, momentum=0.9), 0.1,
                                                total_steps=2)
        sched.step()
        sched.step()
        with pytest.raises(ValueError, match="Tried to step 3 times. The specified number of "
                                             "total steps is 2"):
            sched.step()


def test_cyclic_state_dict_keeps_scale_fn_object_attributes():
    class Scale:
        def __init__(self):
            self.base = 0.5

        def __call__(self, x):
            return self.base ** x

    scale = Scale()
    opt = _two_group_optimizer(dg, optim)
    sched = lr_scheduler.CyclicLR(opt, 0.01, 0.1, 2, scale_fn=scale)
    sd = sched.state_dict()
    assert sd["_scale_fn_custom"] == {"base": 0.5} and "_scale_fn_ref" not in sd
    scale.base = 0.9
    sched.load_state_dict(sd)
    assert scale.base == 0.5
    fn_sd = lr_scheduler.CyclicLR(_two_group_optimizer(dg, optim), 0.01, 0.1,
                                  scale_fn=lambda x: 1.0).state_dict()
    assert fn_sd["_scale_fn_custom"] is None
