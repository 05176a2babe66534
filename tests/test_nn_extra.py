"""``interpolate``/``Upsample``, ``scaled_dot_product_attention`` and ``MultiheadAttention``:
finite-difference checks in float64, and PyTorch on the same inputs and weights (outputs, input
and parameter gradients to 1e-10)."""
import re
import warnings

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn
import distgrad.nn.functional as F
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.testing import fake_cupy

RTOL = 1e-10
ATOL = 1e-12


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def arr(t):
    return np.asarray(t.detach()._data)


def close(ours, theirs, err_msg=""):
    np.testing.assert_allclose(arr(ours), theirs.detach().numpy(), rtol=RTOL, atol=ATOL,
                               err_msg=err_msg)


def run_both(torch, fn_dg, fn_torch, arrays, seed=1):
    """Call ``fn_dg`` on distgrad tensors and ``fn_torch`` on torch tensors made from the same
    float64 arrays (None stays None), backpropagate the same random weights of every output,
    and compare outputs and the gradients of every input."""
    dg_in = [None if a is None else dg.tensor(a, requires_grad=True) for a in arrays]
    t_in = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    outs_d, outs_t = fn_dg(*dg_in), fn_torch(*t_in)
    if not isinstance(outs_t, tuple):
        outs_d, outs_t = (outs_d,), (outs_t,)
    rng = np.random.default_rng(seed)
    loss_d = loss_t = 0
    for od, ot in zip(outs_d, outs_t):
        assert (od is None) == (ot is None)
        if ot is None:
            continue
        assert od.shape == tuple(ot.shape)
        close(od, ot)
        w = rng.standard_normal(od.shape)
        loss_d = loss_d + (od * dg.tensor(w)).sum()
        loss_t = loss_t + (ot * torch.tensor(w)).sum()
    loss_d.backward()
    loss_t.backward()
    for i, (a, b) in enumerate(zip(dg_in, t_in)):
        if b is not None and b.grad is not None:
            close(a.grad, b.grad, f"gradient of input {i}")
    return outs_d


# ---------------------------------------------------------------------------------------------
# interpolate
# ---------------------------------------------------------------------------------------------
INTERP_CASES = [
    # (input shape, keyword arguments)
    ((2, 3, 5), dict(scale_factor=2)),
    ((2, 3, 5), dict(size=12)),
    ((2, 3, 7), dict(size=3)),
    ((2, 3, 5), dict(scale_factor=1.7)),          # the scale factor, not 8/5, places samples
    ((2, 3, 5), dict(scale_factor=0.6)),
    ((2, 3, 5), dict(scale_factor=1.7, recompute_scale_factor=True)),
    ((2, 2, 4, 5), dict(scale_factor=(2, 3))),
    ((2, 2, 4, 5), dict(size=(7, 3))),
    ((2, 2, 4, 5), dict(scale_factor=(1.5, 2.5))),
    ((2, 2, 6, 5), dict(scale_factor=0.45)),
    ((1, 2, 3, 4, 2), dict(scale_factor=(2, 1.5, 2.5))),
    ((1, 2, 3, 4, 2), dict(size=(5, 2, 3))),
]


@pytest.mark.parametrize("mode,align_corners", [
    ("nearest", None), ("nearest-exact", None), ("area", None),
    *[(mode, corners) for mode in ("linear", "bilinear", "trilinear", "bicubic")
      for corners in (False, True)],
])
def test_interpolate_matches_torch(torch, mode, align_corners):
    dims = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3, "area": (1, 2)}
    ran = 0
    for shape, kw in INTERP_CASES:
        want = dims.get(mode, (1, 2, 3))
        if len(shape) - 2 not in (want if isinstance(want, tuple) else (want,)):
            continue
        kw = dict(kw, mode=mode, align_corners=align_corners)
        run_both(torch, lambda x: F.interpolate(x, **kw),
                 lambda x: torch.nn.functional.interpolate(x, **kw), [randn(*shape)])
        ran += 1
    assert ran


def test_interpolate_float32_and_uint8(torch):
    x = randn(2, 3, 4, 5).astype(np.float32)
    for kw in (dict(scale_factor=1.7, mode="nearest"), dict(size=(6, 9), mode="bilinear"),
               dict(scale_factor=2.5, mode="bicubic", align_corners=True)):
        out = F.interpolate(dg.tensor(x), **kw)
        ref = torch.nn.functional.interpolate(torch.tensor(x), **kw).numpy()
        assert out.dtype == dg.float32
        np.testing.assert_allclose(arr(out), ref, rtol=1e-5, atol=1e-5)
    img = np.arange(60, dtype=np.uint8).reshape(1, 3, 4, 5)
    out = F.interpolate(dg.tensor(img), scale_factor=(1.5, 0.7))
    ref = torch.nn.functional.interpolate(torch.tensor(img), scale_factor=(1.5, 0.7))
    assert out.dtype == dg.uint8 and np.array_equal(arr(out), ref.numpy())


@pytest.mark.parametrize("mode,shape,kw", [
    ("nearest", (1, 2, 3), dict(scale_factor=1.7)),
    ("nearest-exact", (1, 1, 3, 4), dict(size=(5, 2))),
    ("linear", (1, 2, 4), dict(size=7)),
    ("bilinear", (1, 1, 3, 3), dict(scale_factor=(1.5, 0.7))),
    ("bilinear", (1, 1, 3, 3), dict(size=(4, 5), align_corners=True)),
    ("bicubic", (1, 1, 3, 4), dict(size=(5, 3))),
    ("trilinear", (1, 1, 2, 3, 2), dict(scale_factor=1.5)),
])
def test_interpolate_gradcheck(mode, shape, kw):
    x = dg.tensor(randn(*shape), requires_grad=True)
    assert gradcheck(lambda t: F.interpolate(t, mode=mode, **kw), (x,))


def test_interpolate_double_backward_and_node_names():
    x = dg.tensor(randn(1, 1, 3, 3), requires_grad=True)
    assert gradgradcheck(lambda t: F.interpolate(t, size=(4, 5), mode="bilinear").pow(2), (x,))
    y = F.interpolate(x, size=(4, 5), mode="bilinear")
    assert y.grad_fn.name() == "UpsampleBilinear2DBackward0"
    g = dg.tensor(randn(1, 1, 4, 5), requires_grad=True)
    (gx,) = dg.autograd.grad(y, x, g, create_graph=True)
    assert gx.grad_fn.name() == "UpsampleBilinear2DBackwardBackward0"
    names = {"nearest": "UpsampleNearest1DBackward0", "nearest-exact":
             "UpsampleNearestExact1DBackward0", "linear": "UpsampleLinear1DBackward0"}
    for mode, name in names.items():
        assert F.interpolate(x[0], size=5, mode=mode).grad_fn.name() == name


AA_CASES = [  # (input shape, keyword arguments): shrinking (the filter stretched), growing, same
    ((2, 2, 17, 13), dict(size=(5, 4))),
    ((1, 2, 8, 9), dict(size=(19, 4))),
    ((1, 1, 30, 31), dict(scale_factor=(0.3, 0.55))),
    ((1, 1, 30, 31), dict(scale_factor=(0.3, 0.55), recompute_scale_factor=True)),
    ((1, 1, 10, 12), dict(size=(3, 12))),
]


@pytest.mark.parametrize("mode,align_corners", [("bilinear", False), ("bilinear", True),
                                                ("bicubic", False), ("bicubic", True),
                                                ("lanczos", False)])
def test_interpolate_antialias_matches_torch(torch, mode, align_corners):
    for shape, kw in AA_CASES:
        kw = dict(kw, mode=mode, align_corners=align_corners, antialias=True)
        run_both(torch, lambda x: F.interpolate(x, **kw),
                 lambda x: torch.nn.functional.interpolate(x, **kw), [randn(*shape)])
    x = randn(2, 3, 20, 15).astype(np.float32)
    kw = dict(size=(6, 7), mode=mode, align_corners=align_corners, antialias=True)
    out = F.interpolate(dg.tensor(x), **kw)
    assert out.dtype == dg.float32
    np.testing.assert_allclose(arr(out), torch.nn.functional.interpolate(torch.tensor(x), **kw),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "lanczos"])
def test_interpolate_antialias_gradcheck_double_backward_and_name(mode):
    x = dg.tensor(randn(1, 2, 9, 7), requires_grad=True)
    assert gradcheck(lambda t: F.interpolate(t, size=(4, 3), mode=mode, antialias=True), (x,))
    assert gradgradcheck(lambda t: F.interpolate(t, size=(3, 5), mode=mode,
                                                 antialias=True).pow(2), (x,))
    name = F.interpolate(x, size=(4, 3), mode=mode, antialias=True).grad_fn.name()
    assert name == f"Upsample{mode.capitalize()}2DAaBackward0"


def test_interpolate_antialias_errors(torch):
    x = randn(1, 1, 9, 7)
    for kw in (dict(mode="lanczos"), dict(mode="lanczos", antialias=True, align_corners=True),
               dict(mode="nearest", antialias=True)):
        with pytest.raises(ValueError) as theirs:
            torch.nn.functional.interpolate(torch.tensor(x), size=(4, 3), **kw)
        with pytest.raises(ValueError, match=re.escape(str(theirs.value))):
            F.interpolate(dg.tensor(x), size=(4, 3), **kw)
    with pytest.raises(NotImplementedError, match="resample a float copy"):
        F.interpolate(dg.tensor(np.zeros((1, 1, 9, 7), np.uint8)), size=(4, 3), mode="bilinear",
                      antialias=True)


def test_interpolate_torch_nearest_special_cases(torch):
    # PyTorch's 2-D nearest kernel copies when the size stays and shifts when it doubles, even
    # when the scale factor says otherwise; 1-D does not. (PyTorch's backward uses those
    # shortcuts in every rank; distgrad's gradient is that of its forward, checked above.)
    for shape, sf in (((1, 2, 3, 5), 1.1), ((1, 2, 3, 5), 2.1), ((1, 2, 5), 1.1),
                      ((1, 2, 5), 2.1)):
        x = randn(*shape)
        out = F.interpolate(dg.tensor(x), scale_factor=sf)
        close(out, torch.nn.functional.interpolate(torch.tensor(x), scale_factor=sf))


@pytest.mark.parametrize("args,kw", [
    ((randn(1, 2, 3),), dict(size=4, scale_factor=2)),
    ((randn(1, 2, 3),), dict()),
    ((randn(1, 2, 3),), dict(size=(4, 4))),
    ((randn(1, 2, 3),), dict(scale_factor=(2, 2))),
    ((randn(1, 2, 3),), dict(size=(4.0,))),
    ((randn(1, 2, 3),), dict(size=4, mode="nearest", align_corners=True)),
    ((randn(1, 2, 3),), dict(size=4, recompute_scale_factor=True)),
    ((randn(1, 2, 3),), dict(size=4, mode="bilinear")),
    ((randn(1, 2, 3, 3),), dict(size=4, mode="linear")),
    ((randn(1, 2, 3, 3),), dict(size=4, mode="trilinear")),
    ((randn(1, 2, 3),), dict(size=4, mode="bicubic")),
    ((randn(2, 3),), dict(size=(), mode="nearest")),
    ((randn(1, 2, 3),), dict(size=0)),
    ((randn(1, 2, 3, 3),), dict(size=(0, 2))),
    ((randn(1, 2, 3),), dict(size=4, mode="linear", antialias=True)),
    ((randn(1, 2, 3, 3),), dict(size=4, mode="cubic")),
    ((np.arange(6).reshape(1, 2, 3),), dict(size=4, mode="linear")),
])
def test_interpolate_errors_match_torch(torch, args, kw):
    with pytest.raises(Exception) as theirs:
        torch.nn.functional.interpolate(*[torch.tensor(a) for a in args], **kw)
    with pytest.raises(type(theirs.value)) as ours:
        F.interpolate(*[dg.tensor(a) for a in args], **kw)
    assert str(ours.value) == str(theirs.value)


def test_upsample_modules_match_torch(torch):
    x = randn(2, 3, 4, 5)
    for ours, theirs in ((nn.Upsample(scale_factor=1.5, mode="bilinear"),
                          torch.nn.Upsample(scale_factor=1.5, mode="bilinear")),
                         (nn.Upsample(size=(3, 7)), torch.nn.Upsample(size=(3, 7))),
                         (nn.UpsamplingNearest2d(scale_factor=2),
                          torch.nn.UpsamplingNearest2d(scale_factor=2)),
                         (nn.UpsamplingBilinear2d(size=(5, 6)),
                          torch.nn.UpsamplingBilinear2d(size=(5, 6)))):
        assert repr(ours) == repr(theirs)
        run_both(torch, ours, theirs, [x])
    assert nn.Upsample(scale_factor=(2, 3)).scale_factor == (2.0, 3.0)


def test_deprecated_upsample_functions_warn(torch):
    x = randn(1, 1, 2, 3)
    for name in ("upsample", "upsample_nearest", "upsample_bilinear"):
        with pytest.warns(UserWarning, match=f"nn.functional.{name}` is deprecated"):
            out = getattr(F, name)(dg.tensor(x), scale_factor=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = getattr(torch.nn.functional, name)(torch.tensor(x), scale_factor=2)
        close(out, ref)


# ---------------------------------------------------------------------------------------------
# scaled_dot_product_attention
# ---------------------------------------------------------------------------------------------
def _bool_mask():
    m = np.random.default_rng(3).random((4, 6)) > 0.3
    m[2] = False                                 # a query that may attend nothing: zeros
    return m


def _float_mask():
    m = randn(2, 1, 4, 6, seed=4)
    m[0, 0, 1] = -np.inf
    return m


SDPA_CASES = [
    # (query, key, value shapes, attn_mask or None, keyword arguments)
    ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), None, {}),
    ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), None, dict(is_causal=True)),
    ((2, 3, 6, 5), (2, 3, 4, 5), (2, 3, 4, 7), None, dict(is_causal=True, scale=0.3)),
    ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), _bool_mask(), {}),
    ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), _float_mask(), {}),
    ((4, 5), (6, 5), (6, 7), None, {}),
    ((2, 4, 4, 5), (2, 2, 6, 5), (2, 2, 6, 7), None, dict(enable_gqa=True)),
]


@pytest.mark.parametrize("qs,ks,vs,mask,kw", SDPA_CASES)
def test_sdpa_matches_torch(torch, qs, ks, vs, mask, kw):
    arrays = [randn(*qs, seed=0), randn(*ks, seed=1), randn(*vs, seed=2)]

    def ours(q, k, v):
        m = None if mask is None else dg.tensor(mask)
        return F.scaled_dot_product_attention(q, k, v, m, **kw)

    def theirs(q, k, v):
        m = None if mask is None else torch.tensor(mask)
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, m, **kw)

    out = run_both(torch, ours, theirs, arrays)[0]
    if mask is not None and mask.dtype == bool:
        assert not arr(out)[:, :, 2].any()


def test_sdpa_float_mask_gradient_matches_torch(torch):
    run_both(torch, F.scaled_dot_product_attention,
             torch.nn.functional.scaled_dot_product_attention,
             [randn(2, 4, 3), randn(2, 5, 3, seed=1), randn(2, 5, 2, seed=2),
              randn(4, 5, seed=3)])


def test_sdpa_gradcheck_and_double_backward():
    q, k, v = (dg.tensor(randn(1, 2, 3, 2, seed=s), requires_grad=True) for s in range(3))
    mask = dg.tensor(_bool_mask()[:3, :3])
    assert gradcheck(lambda *t: F.scaled_dot_product_attention(*t, attn_mask=mask), (q, k, v))
    assert gradgradcheck(lambda *t: F.scaled_dot_product_attention(*t, is_causal=True),
                         (q, k, v))


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_double_backward_through_its_output(fn):
    # the saved output takes part in double backward (it was a constant before)
    x = dg.tensor(randn(2, 3), requires_grad=True)
    assert gradgradcheck(lambda t: fn(t, -1).pow(2), (x,))


def test_sdpa_dropout_and_errors():
    q = dg.tensor(randn(2, 3, 4))
    out = F.scaled_dot_product_attention(q, q, q, dropout_p=1.0)
    assert out.shape == (2, 3, 4) and not arr(out).any()
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when "
                                           "is_causal=True"):
        F.scaled_dot_product_attention(q, q, q, dg.ones(3, 3, dtype=dg.bool), is_causal=True)
    with pytest.raises(RuntimeError, match="Expected query, key, and value to have the same "
                                           "dtype, but got query.dtype: float key.dtype: double"):
        F.scaled_dot_product_attention(q.float(), q, q)


# ---------------------------------------------------------------------------------------------
# MultiheadAttention
# ---------------------------------------------------------------------------------------------
L, S, N, E = 3, 4, 2, 8


def _kpm():
    m = np.zeros((N, S), bool)
    m[0, -1] = True
    return m


def _attn_mask():
    m = np.zeros((L, S), bool)
    m[0, 1] = True
    return m


def _mha_pair(torch, **kw):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, dtype=torch.float64, **kw)
    ours = nn.MultiheadAttention(E, dtype=dg.float64, **kw)
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict(state)
    return ours, theirs


MHA_CASES = [
    # (module arguments, forward arguments, "self" | "kv" (key is value) | "sep", unbatched)
    (dict(num_heads=2), {}, "self", False),
    (dict(num_heads=2, batch_first=True), {}, "self", False),
    (dict(num_heads=4), dict(need_weights=False), "self", False),
    (dict(num_heads=2), dict(average_attn_weights=False), "kv", False),
    (dict(num_heads=2, kdim=5, vdim=6), {}, "sep", False),
    (dict(num_heads=2, kdim=5, vdim=6, batch_first=True), dict(need_weights=False), "sep", False),
    (dict(num_heads=2, bias=False), {}, "sep", False),
    (dict(num_heads=2), dict(key_padding_mask=_kpm(), attn_mask=_attn_mask()), "sep", False),
    (dict(num_heads=2), dict(key_padding_mask=_kpm(), attn_mask=_attn_mask(),
                             need_weights=False), "sep", False),
    (dict(num_heads=2), dict(attn_mask=randn(2 * N, L, S)), "sep", False),
    (dict(num_heads=2), dict(key_padding_mask=randn(N, S), need_weights=False), "sep", False),
    (dict(num_heads=2), dict(attn_mask=np.triu(np.ones((L, L), bool), 1), is_causal=True,
                             need_weights=False), "self", False),
    (dict(num_heads=2), {}, "sep", True),
    (dict(num_heads=2), dict(key_padding_mask=_kpm()[0], need_weights=False), "sep", True),
    (dict(num_heads=2, add_bias_kv=True), dict(key_padding_mask=_kpm(),
                                               attn_mask=_attn_mask()), "sep", False),
    (dict(num_heads=2, add_zero_attn=True, add_bias_kv=True), dict(need_weights=False), "sep",
     False),
]


@pytest.mark.parametrize("kw,fkw,kind,unbatched", MHA_CASES)
def test_multihead_attention_matches_torch(torch, kw, fkw, kind, unbatched):
    ours, theirs = _mha_pair(torch, **kw)

    def shape(n, e):
        if unbatched:
            return (n, e)
        return (N, n, e) if kw.get("batch_first") else (n, N, e)

    arrays = [randn(*shape(L, E)), randn(*shape(S, kw.get("kdim", E)), seed=1),
              randn(*shape(S, kw.get("vdim", E)), seed=2)]
    if kind == "self":
        arrays = arrays[:1]
    elif kind == "kv":
        arrays = arrays[:2]

    def call(module, m):
        def fn(*xs):
            args = (xs * 3)[:3] if kind == "self" else (xs + xs[-1:])[:3]
            extra = {k: m.tensor(v) if isinstance(v, np.ndarray) else v for k, v in fkw.items()}
            return module(*args, **extra)
        return fn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_both(torch, call(ours, dg), call(theirs, torch), arrays)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, tparams[name].grad, name)


def test_multihead_attention_parameters_and_init():
    m = nn.MultiheadAttention(16, 4, add_bias_kv=True)
    shapes = {k: v.shape for k, v in m.state_dict().items()}
    assert shapes == {"in_proj_weight": (48, 16), "in_proj_bias": (48,), "bias_k": (1, 1, 16),
                      "bias_v": (1, 1, 16), "out_proj.weight": (16, 16), "out_proj.bias": (16,)}
    assert type(m.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert not arr(m.in_proj_bias).any() and not arr(m.out_proj.bias).any()
    w = arr(m.in_proj_weight)
    bound = np.sqrt(6 / (16 + 48))                           # Xavier uniform over (48, 16)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    sep = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    assert sep.in_proj_weight is None and sep.in_proj_bias is None
    assert {k: v.shape for k, v in sep.state_dict().items()} == {
        "q_proj_weight": (8, 8), "k_proj_weight": (8, 3), "v_proj_weight": (8, 5),
        "out_proj.weight": (8, 8)}
    assert (m.head_dim, m.batch_first, m._qkv_same_embed_dim) == (4, False, True)


def test_multihead_attention_dropout_eval_and_train():
    m = nn.MultiheadAttention(E, 2, dropout=0.5, dtype=dg.float64)
    x = dg.tensor(randn(L, N, E))
    m.eval()
    a, _ = m(x, x, x)
    b, _ = m(x, x, x)
    assert np.array_equal(arr(a), arr(b))
    m.train()
    _, w = m(x, x, x, average_attn_weights=False)
    assert (arr(w) == 0).any()


def test_multihead_attention_functional_gradcheck():
    m = nn.MultiheadAttention(4, 2, dtype=dg.float64)
    x = dg.tensor(randn(2, 1, 4), requires_grad=True)
    params = (m.in_proj_weight, m.in_proj_bias, m.out_proj.weight)

    def f(x, w, b, wo):
        return F.multi_head_attention_forward(x, x, x, 4, 2, w, b, None, None, False, 0.0, wo,
                                              m.out_proj.bias, need_weights=False)[0]

    assert gradcheck(f, (x,) + params)


def test_multihead_attention_errors():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0"):
        nn.MultiheadAttention(0, 1)
    m = nn.MultiheadAttention(4, 2)
    x = dg.randn(3, 2, 4)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is "
                                           r"distgrad.Size\(\[3, 2\]\), but should be \(3, 3\)"):
        m(x, x, x, attn_mask=dg.zeros(3, 2))
    with pytest.raises(AssertionError, match="Expected key_padded_mask.shape\\[1\\] to be 3"):
        m(x, x, x, key_padding_mask=dg.zeros(2, 4, dtype=dg.bool))
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask"):
        m(x, x, x, attn_mask=dg.zeros(3, 3, dtype=dg.int64))
    with pytest.raises(AssertionError, match="query should be unbatched 2D or batched 3D"):
        m(x[0, 0], x[0, 0], x[0, 0])


# ---------------------------------------------------------------------------------------------
# the device-generic path (CuPy stand-in)
# ---------------------------------------------------------------------------------------------
def test_fake_gpu_matches_cpu():
    x = randn(2, 3, 4, 5)
    mask = _bool_mask()[:4, :4]
    cases = [lambda t, m: F.interpolate(t, scale_factor=1.7),
             lambda t, m: F.interpolate(t, size=(6, 9), mode="bilinear", align_corners=True),
             lambda t, m: F.interpolate(t, scale_factor=0.5, mode="bicubic"),
             lambda t, m: F.scaled_dot_product_attention(t, t, t, is_causal=True),
             lambda t, m: F.scaled_dot_product_attention(t, t, t, m(mask))]
    with fake_cupy.installed(n_devices=1):
        for fn in cases:
            results = []
            for device in ("cpu", "cuda"):
                t = dg.tensor(x, device=device, requires_grad=True)
                out = fn(t, lambda a: dg.tensor(a, device=device))
                out.pow(2).sum().backward()
                results.append((out.detach().cpu().numpy(), t.grad.cpu().numpy()))
            for a, b in zip(*results):
                np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
