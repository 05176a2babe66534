"""The device-generic (GPU) code path, run on the CPU through ``distgrad.testing.fake_cupy``.

The fake behaves like CuPy where host/device bugs show: its arrays refuse implicit conversion to
NumPy, its kernels refuse NumPy array operands, reductions give 0-d arrays. Every test here runs
an op (or a training step) on ``cuda`` tensors and compares it with the same on the CPU.
"""
import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn
import distgrad.optim  # noqa: F401
import distgrad.nn.functional as F
from distgrad import _backend
from distgrad.testing import fake_cupy


@pytest.fixture
def cuda():
    with fake_cupy.installed(n_devices=2) as fake:
        yield fake


def _is_dev(t, index=0):
    return _backend.is_device_array(t._data) and t.device == dg.device("cuda", index)


def _host(t):
    return t.detach().cpu().numpy() if isinstance(t, dg.Tensor) else np.asarray(t)


def _outputs(out):
    if isinstance(out, dg.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [o for x in out for o in _outputs(x)]
    return []


def _run(fn, arrays, device, grad):
    ts = []
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray):
            rg = grad and a.dtype.kind == "f" and (grad is True or i in grad)
            ts.append(dg.tensor(a, device=device, requires_grad=rg))
        else:
            ts.append(a)
    out = fn(*ts)
    outs = _outputs(out)
    loss = None
    for k, o in enumerate(outs):
        if o.requires_grad:
            w = np.random.default_rng(k).standard_normal(o.shape).astype(o.dtype)
            term = (o * dg.tensor(w, device=device)).sum()
            loss = term if loss is None else loss + term
    if loss is not None:
        loss.backward()
    grads = [t.grad for t in ts if isinstance(t, dg.Tensor) and t.requires_grad]
    return outs, grads


def check(fn, *arrays, grad=True, rtol=1e-5, atol=1e-6):
    """``fn`` on CPU tensors and on cuda tensors: equal outputs (on the GPU) and gradients."""
    cpu_outs, cpu_grads = _run(fn, arrays, "cpu", grad)
    dev_outs, dev_grads = _run(fn, arrays, "cuda", grad)
    assert len(cpu_outs) == len(dev_outs) and cpu_outs
    for c, d in zip(cpu_outs, dev_outs):
        assert _is_dev(d), f"output on {d.device} ({type(d._data).__name__})"
        assert c.dtype == d.dtype and c.shape == d.shape
        np.testing.assert_allclose(_host(d), _host(c), rtol=rtol, atol=atol)
    assert len(cpu_grads) == len(dev_grads)
    for c, d in zip(cpu_grads, dev_grads):
        assert (c is None) == (d is None)
        if c is not None:
            assert _is_dev(d) and c.dtype == d.dtype
            np.testing.assert_allclose(_host(d), _host(c), rtol=rtol, atol=atol)


rng = np.random.default_rng(0)


def R(*shape, dtype=np.float32, positive=False):
    a = rng.standard_normal(shape).astype(dtype)
    return np.abs(a) + 0.5 if positive else a


def I(*shape, high=4):
    return rng.integers(0, high, shape).astype(np.int64)


# --------------------------------------------------------------------------- the fake itself

def test_fake_behaves_like_cupy(cuda):
    x = cuda.arange(6.0).reshape(2, 3)
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(x)
    with pytest.raises(TypeError):
        x + np.ones(3)
    with pytest.raises(TypeError):
        np.ones(3) * x
    with pytest.raises(TypeError):
        cuda.maximum(x, np.zeros(3))
    assert isinstance(x.sum(), cuda.ndarray) and x.sum().ndim == 0  # no NumPy scalars
    assert isinstance(np.exp(x), cuda.ndarray)  # __array_ufunc__
    assert isinstance(np.concatenate([x, x]), cuda.ndarray)  # __array_function__
    assert type(x.get()) is np.ndarray and cuda.asnumpy(x).tolist() == x.tolist()
    assert cuda.get_array_module(x) is cuda and cuda.get_array_module(x.get()) is np
    y = cuda.zeros(3)
    cuda.add.at(y, cuda.asarray([0, 0, 2]), 1.0)
    assert y.tolist() == [2.0, 0.0, 1.0]
    w = cuda.lib.stride_tricks.sliding_window_view(cuda.arange(5), 2)
    assert isinstance(w, cuda.ndarray) and w.shape == (4, 2)
    with cuda.cuda.Device(1):
        z = cuda.ones(2)
        assert z.device.id == 1
        with pytest.raises(ValueError, match="Peer access is unavailable"):
            x + 1
    assert z.device.id == 1 and cuda.cuda.runtime.getDevice() == 0
    cuda.cuda.Stream.null.synchronize()
    cuda.random.seed(3)
    a = cuda.random.random(3, dtype=np.float32)
    cuda.random.seed(3)
    assert a.dtype == np.float32 and cuda.random.random(3, dtype=np.float32).tolist() == a.tolist()
    assert not hasattr(x.flags, "writeable")


# --------------------------------------------------------------------------- device model

def test_creation_on_cuda(cuda):
    for t in (dg.tensor([1.0, 2.0], device="cuda"), dg.zeros(2, 3, device="cuda"),
              dg.ones(2, device="cuda"), dg.empty(2, device="cuda"),
              dg.full((2,), 3.0, device="cuda"), dg.arange(5, device="cuda"),
              dg.linspace(0, 1, 5, device="cuda"), dg.eye(3, device="cuda"),
              dg.rand(2, device="cuda"), dg.randn(2, device="cuda"),
              dg.randint(0, 5, (3,), device="cuda"), dg.randperm(4, device="cuda"),
              dg.as_tensor(np.ones(2), device="cuda"), dg.tensor(np.float32(2), device="cuda")):
        assert _is_dev(t), t
    base = dg.ones(2, 3, device="cuda")
    for t in (dg.zeros_like(base), dg.ones_like(base), dg.empty_like(base),
              dg.full_like(base, 2.0), dg.rand_like(base), dg.randn_like(base),
              dg.randint_like(base, 3), base.new_zeros(2), base.new_ones(2), base.new_full((2,), 1),
              base.new_tensor([1, 2]), base.new_empty(2), dg.tensor(base), base.clone()):
        assert _is_dev(t), t
    for t in (dg.zeros(2, device="cuda:1"), dg.arange(3, device="cuda:1"),
              dg.randn(2, device="cuda:1"), dg.tensor([1], device=dg.device("cuda", 1)),
              dg.eye(2, device="cuda:1"), dg.zeros_like(dg.zeros(2, device="cuda:1"))):
        assert _is_dev(t, 1), t
    # the same seed gives the same values on both devices
    dg.manual_seed(5)
    a = dg.randn(4, 3)
    dg.manual_seed(5)
    b = dg.randn(4, 3, device="cuda")
    np.testing.assert_array_equal(_host(b), a.numpy())
    assert dg.arange(4, device="cuda").dtype == dg.int64
    assert dg.tensor([1.5], device="cuda").dtype == dg.float32


def test_to_cuda_cpu_and_back(cuda):
    x = dg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x.to("cuda")
    assert _is_dev(y) and y.requires_grad and y.grad_fn is not None
    z = y.to("cuda", dg.float64)
    assert _is_dev(z) and z.dtype == dg.float64
    assert x.cuda().device == dg.device("cuda:0") and x.cuda(1).device == dg.device("cuda:1")
    assert x.to(dg.device("cuda", 1)).device.index == 1
    assert x.to(device="cuda", dtype=dg.float16).dtype == dg.float16
    assert y.to("cuda") is y and y.cuda() is y
    w = y.to("cuda:1")
    assert _is_dev(w, 1)
    assert w.to("cuda:0").device.index == 0 and w.cpu().device.type == "cpu"
    (z.sum() + w.cpu().sum().cuda() * 2).backward()
    assert x.grad.device.type == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 2), 3.0))
    assert y.cpu().tolist() == [[1.0, 2.0], [3.0, 4.0]] and y.tolist() == y.cpu().tolist()
    assert y.is_cuda and not x.is_cuda
    assert float(y.sum()) == 10.0 and y[0, 1].item() == 2.0 and int(y[1, 1]) == 4
    assert "device='cuda:0'" in repr(y)
    t = dg.zeros(2, device="cuda")
    t.copy_(dg.tensor([5.0, 6.0]))  # host to device copy
    assert t.tolist() == [5.0, 6.0] and _is_dev(t)
    c = dg.zeros(2)
    c.copy_(t)
    assert c.tolist() == [5.0, 6.0]


def test_mixed_device_errors_name_both_devices(cuda):
    a = dg.ones(3, device="cuda")
    b = dg.ones(3)
    for fn in (lambda: a + b, lambda: b * a, lambda: dg.matmul(a, b), lambda: a - b,
               lambda: F.linear(dg.ones(2, 3, device="cuda"), dg.ones(4, 3))):
        with pytest.raises(RuntimeError, match="cuda:0 and cpu|cpu and cuda:0"):
            fn()
    c = dg.ones(3, device="cuda:1")
    with pytest.raises(RuntimeError, match="cuda:0 and cuda:1"):
        a + c
    with pytest.raises(TypeError, match=r"can't convert cuda:0 device type tensor to numpy\. Use "
                                        r"Tensor\.cpu\(\)"):
        a.numpy()
    with pytest.raises(TypeError, match=r"Tensor\.cpu\(\)"):
        np.asarray(a)
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        dg.zeros(2, device="cuda:2")


def _g(*s, **k):
    return dg.randn(*s, device="cuda", **k)


def _c(*s, **k):
    return dg.randn(*s, **k)


def _lc(*s):
    return dg.zeros(*s, dtype=dg.int64)


def _lg(*s):
    return dg.zeros(*s, dtype=dg.int64, device="cuda")


MIXED = {
    "add": lambda: _g(3) + _c(3), "pow": lambda: _g(3) ** _c(3), "eq": lambda: _g(3) == _c(3),
    "logical_and": lambda: dg.logical_and(_g(3) > 0, _c(3) > 0), "bitand": lambda: _lg(3) & _lc(3),
    "where": lambda: dg.where(_g(2) > 0, _g(2), _c(2)),
    "where_cond": lambda: dg.where(dg.tensor([True, False]), _g(2), _g(2)),
    "clamp": lambda: _g(3).clamp(min=_c(3)), "maximum": lambda: dg.maximum(_g(3), _c(3)),
    "isclose": lambda: dg.isclose(_g(3), _c(3)), "allclose": lambda: dg.allclose(_g(3), _c(3)),
    "equal": lambda: dg.equal(_g(3), _c(3)), "cat": lambda: dg.cat([_g(2), _c(2)]),
    "stack": lambda: dg.stack([_c(2), _g(2)]), "gather": lambda: _g(3, 2).gather(1, _lc(3, 1)),
    "gather_src": lambda: _c(3, 2).gather(1, _lg(3, 1)),
    "index_cpu_by_cuda": lambda: _c(3)[_lg(2)], "mask_cpu_by_cuda": lambda: _c(3)[_g(3) > 0],
    "masked_fill": lambda: _g(3).masked_fill(_c(3) > 0, 1.0),
    "matmul": lambda: _g(2, 3) @ _c(3, 2), "bmm": lambda: dg.bmm(_g(1, 2, 3), _c(1, 3, 2)),
    "linear_bias": lambda: F.linear(_g(2, 3), _g(4, 3), _c(4)),
    "conv_weight": lambda: F.conv2d(_g(1, 1, 4, 4), _c(1, 1, 3, 3)),
    "conv_bias": lambda: F.conv2d(_g(1, 1, 4, 4), _g(1, 1, 3, 3), _c(1)),
    "embedding": lambda: F.embedding(_lg(2), _c(3, 2)),
    "layer_norm": lambda: F.layer_norm(_g(2, 3), (3,), _c(3), _c(3)),
    "batch_norm": lambda: F.batch_norm(_g(4, 3), _c(3), _c(3).abs(), training=False),
    "group_norm": lambda: F.group_norm(_g(2, 4, 2), 2, _c(4)),
    "cross_entropy_weight": lambda: F.cross_entropy(_g(4, 3), _lg(4), weight=_c(3)),
    "mse": lambda: F.mse_loss(_g(3), _c(3)), "l1": lambda: F.l1_loss(_g(3), _c(3)),
    "bce": lambda: F.binary_cross_entropy(_g(3).sigmoid(), _c(3).sigmoid()),
    "bce_logits": lambda: F.binary_cross_entropy_with_logits(_g(3), _c(3)),
    "huber": lambda: F.huber_loss(_g(3), _c(3)),
    "kl_div": lambda: F.kl_div(_g(3), _c(3), reduction="sum"),
    "prelu": lambda: F.prelu(_g(2, 3), _c(3)),
    "cosine": lambda: F.cosine_similarity(_g(2, 3), _c(2, 3)),
    "max_unpool": lambda: F.max_unpool2d(_g(1, 1, 2, 2), _lc(1, 1, 2, 2), 2),
    "two_gpus": lambda: _g(3) + dg.ones(3, device="cuda:1"),
    "two_gpus_cat": lambda: dg.cat([_g(3), dg.ones(3, device="cuda:1")]),
}


@pytest.mark.parametrize("name", sorted(MIXED))
def test_mixed_devices_in_one_op_raise_naming_the_devices(cuda, name):
    with pytest.raises(RuntimeError, match=r"cuda:0 and cpu|cpu and cuda:0|cuda:0 and cuda:1|"
                                           r"indices should be either on cpu or on the same "
                                           r"device as the indexed tensor \(cpu\)"):
        MIXED[name]()


def test_values_and_indices_from_another_device_are_copied_like_pytorch(cuda):
    t = dg.zeros(4, device="cuda")
    t[1:3] = dg.tensor([1.0, 2.0])  # copy from the CPU
    t[dg.tensor([0])] = dg.tensor([5.0])
    t[t > 4] = dg.tensor(6.0)
    assert _is_dev(t) and t.tolist() == [6.0, 1.0, 2.0, 0.0]
    c = dg.zeros(3)
    c[:2] = dg.ones(2, device="cuda")
    assert c.tolist() == [1.0, 1.0, 0.0] and c.device.type == "cpu"
    x = dg.arange(5.0, device="cuda")
    assert x[dg.tensor([4, 0])].tolist() == [4.0, 0.0]  # CPU indices on a GPU tensor
    v = dg.ones(2, requires_grad=True)
    w = dg.zeros(4, device="cuda", requires_grad=True) * 1
    w[1:3] = v * 2
    w.sum().backward()
    assert v.grad.device.type == "cpu" and v.grad.tolist() == [2.0, 2.0]


def test_cuda_module_api(cuda):
    assert dg.cuda.is_available() and dg.cuda.device_count() == 2
    assert dg.cuda.current_device() == 0
    dg.cuda.set_device(1)
    assert dg.cuda.current_device() == 1
    assert dg.zeros(2, device="cuda").device == dg.device("cuda:1")
    assert (dg.ones(2, device="cuda") + 1).device.index == 1
    dg.cuda.set_device("cuda:0")
    with dg.cuda.device(1):
        assert dg.cuda.current_device() == 1
    assert dg.cuda.current_device() == 0
    dg.cuda.synchronize()
    dg.cuda.synchronize(1)
    dg.manual_seed(123)
    assert cuda.random.last_seed == 123
    dg.cuda.manual_seed(7)
    assert cuda.random.last_seed == 7
    assert dg.cuda.get_device_name(1) == "Fake GPU 1"
    dg.cuda.empty_cache()
    assert dg.cuda.memory_allocated() == 0
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        dg.cuda.set_device(5)


# --------------------------------------------------------------------------- op families

A34, B34, P34 = R(3, 4), R(3, 4), R(3, 4, positive=True)
B4, C31 = R(4), R(3, 1)

ELEMENTWISE = [
    ("add", lambda a, b: a + b, (A34, B34)), ("add_bcast", lambda a, b: a + b, (C31, B4)),
    ("sub_scalar", lambda a: 2.0 - a, (A34,)), ("mul", lambda a, b: a * b, (A34, B4)),
    ("div", lambda a, b: a / b, (A34, P34)), ("rdiv", lambda a: 1.0 / a, (P34,)),
    ("pow", lambda a: a ** 3, (A34,)), ("rpow", lambda a: 2.0 ** a, (A34,)),
    ("powtt", lambda a, b: a ** b, (P34, B34)), ("neg", lambda a: -a, (A34,)),
    ("abs", dg.abs, (A34,)), ("exp", dg.exp, (A34,)), ("log", dg.log, (P34,)),
    ("sqrt", dg.sqrt, (P34,)), ("sin", dg.sin, (A34,)), ("cos", dg.cos, (A34,)),
    ("tanh", dg.tanh, (A34,)), ("sigmoid", dg.sigmoid, (A34,)), ("relu", dg.relu, (A34,)),
    ("gelu", lambda a: F.gelu(a), (A34,)), ("gelu_tanh", lambda a: F.gelu(a, "tanh"), (A34,)),
    ("clamp", lambda a: a.clamp(-0.5, 0.5), (A34,)),
    ("clamp_t", lambda a, lo: a.clamp(min=lo), (A34, B4)),
    ("maximum", dg.maximum, (A34, B34)), ("minimum", dg.minimum, (A34, B4)),
    ("where", lambda a, b: dg.where(a > 0, a, b), (A34, B34)),
    ("where_scalar", lambda a: dg.where(a > 0, a, 0.0), (A34,)),
    ("sign_floor_ceil", lambda a: a.sign() + a.floor() + a.ceil() + a.round() + a.trunc(), (A34,)),
    ("remainder", lambda a: a % 0.7, (A34,)), ("floordiv", lambda a: a // 0.7, (A34,)),
    ("compare", lambda a, b: [a == b, a < b, a <= 0, a > b, a >= b, a != b], (A34, B34)),
    ("isnan", lambda a: [dg.isnan(a), dg.isinf(a), dg.isfinite(a), a.nan_to_num()
                         if hasattr(a, "nan_to_num") else a.clone()],
     (np.array([1.0, np.nan, np.inf, -np.inf], np.float32),)),
    ("logical", lambda a: [(a > 0).logical_not(), dg.logical_and(a > 0, a < 1),
                           dg.logical_or(a > 0, a < -1), dg.logical_xor(a > 0, a < 1)], (A34,)),
    ("ints", lambda i, j: [i + j, i * 3, i // 2, i % 3, i & j, i | j, i ^ j, ~i, i / 2, -i],
     (I(3, 4), I(3, 4))),
    ("int_float", lambda i, a: i * a + i, (I(3, 4), A34)),
    ("float64", lambda a, b: a * b, (R(3, dtype=np.float64), R(3, dtype=np.float32))),
    ("zero_dim", lambda a, s: a * s + s, (A34, R())),
    ("inplace", lambda a: a.clone().add_(1).mul_(2).clamp_(-1, 3).sub_(0.5).div_(2).exp_(), (A34,)),
    ("rsub", lambda a, b: dg.rsub(a, b), (A34, B34)),
]

REDUCTIONS = [
    ("sum", lambda a: [a.sum(), a.sum(0), a.sum((0, 1)), a.sum(1, keepdim=True)], (A34,)),
    ("mean", lambda a: [a.mean(), a.mean(-1)], (A34,)),
    ("var_std", lambda a: [a.var(), a.var(0, unbiased=False), a.std(1), a.std()], (A34,)),
    ("max", lambda a: [a.max(), *a.max(1), a.amax(0), a.min(), *a.min(0), a.amin(1)], (A34,)),
    ("argmax", lambda a: [a.argmax(), a.argmax(1), a.argmin(0), a.argmin()], (A34,)),
    ("logsumexp", lambda a: a.logsumexp(1), (A34,)),
    ("prod", lambda a: [a.prod(), a.prod(1)], (A34,)),
    ("all_any", lambda a: [(a > 0).all(), (a > 0).any(1), a.all(), (a > 9).any()], (A34,)),
    ("norm", lambda a: [F.normalize(a), dg.linalg.vector_norm(a, 2, 1)], (A34,)),
    ("allclose", lambda a, b: dg.tensor(float(dg.allclose(a, b)) + float(dg.equal(a, a)),
                                        device=a.device), (A34, B34)),
    ("isclose", lambda a, b: dg.isclose(a, b), (A34, B34)),
]

SHAPE = [
    ("reshape", lambda a: [a.reshape(4, 3), a.view(-1), a.flatten(), a.reshape(2, 2, 3)], (A34,)),
    ("transpose", lambda a: [a.t(), a.T, a.transpose(0, 1), a.permute(1, 0), a.mT], (A34,)),
    ("expand", lambda c: [c.expand(3, 4), c.broadcast_to((2, 3, 4)), c.expand_as(dg.ones(3, 5))],
     (C31,)),
    ("squeeze", lambda c: [c.squeeze(), c.unsqueeze(0), c.squeeze(1).unsqueeze(-1)], (C31,)),
    ("unflatten", lambda a: a.unflatten(1, (2, 2)), (A34,)),
    ("cat_stack", lambda a, b: [dg.cat([a, b]), dg.cat([a, b], 1), dg.stack([a, b], 2)],
     (A34, B34)),
    ("split", lambda a: [*a.split(2, 1), *a.chunk(3), *a.unbind(1), a.narrow(1, 1, 2)], (A34,)),
    ("flip", lambda a: [a.flip(0), a.flip((0, 1))], (A34,)),
    ("contiguous", lambda a: [a.t().contiguous(), a.clone(), a.to(dg.float64), a.double().half()],
     (A34,)),
]

INDEXING = [
    ("basic", lambda a: [a[0], a[1:, ::2], a[None, ..., 1], a[-1, -1], a[:, 2]], (A34,)),
    ("fancy_tensor", lambda a, i: a[i], (A34, np.array([2, 0, 2]))),
    ("fancy_list", lambda a: [a[[0, 2]], a[:, [3, 1, 1]], a[[0, 1], [2, 3]]], (A34,)),
    ("bool_mask", lambda a: a[a > 0], (A34,)),
    ("bool_rows", lambda a, m: a[m], (A34, np.array([True, False, True]))),
    ("setitem", lambda a: _setitem(a), (A34,)),
    ("gather", lambda a, i: a.gather(1, i), (A34, I(3, 2))),
    ("index_select", lambda a, i: a.index_select(1, i), (A34, np.array([3, 0, 3]))),
    ("masked_fill", lambda a: a.masked_fill(a > 0.5, -1.0), (A34,)),
]


def _setitem(a):
    b = a.clone()
    b[0] = 1.0
    b[1, 1:3] = a[2, :2] * 2
    b[b < -1] = 0.0
    b[[2, 2], [0, 1]] = dg.tensor([7.0, 8.0], device=a.device)
    b[:, 3] = dg.tensor(9.0)  # a 0-d CPU tensor as the value: PyTorch allows it
    return b


LINALG = [
    ("matmul", lambda a, b: [a @ b.t(), dg.matmul(a, b[0]), dg.mm(a, b.t()), b[1] @ a.t()],
     (A34, B34)),
    ("bmm", lambda x, y: [dg.bmm(x, y), x @ y, x @ y[0, :, 0], x[0] @ y], (R(2, 3, 4), R(2, 4, 5))),
    ("vec", lambda v, w: [dg.dot(v, w), dg.outer(v, w), dg.mv(dg.ones(2, 4, device=v.device), v)],
     (B4, R(4))),
]

X = R(2, 3, 8, 8)
NN = [
    ("linear", lambda x, w, b: F.linear(x, w, b), (A34, R(5, 4), R(5))),
    ("bilinear", lambda x, y, w: F.bilinear(x, y, w), (A34, R(3, 2), R(5, 4, 2))),
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1), (X, R(4, 3, 3, 3), R(4))),
    ("conv2d_stride", lambda x, w: F.conv2d(x, w, stride=2, dilation=2, groups=3),
     (X, R(6, 1, 3, 3))),
    ("conv1d", lambda x, w: F.conv1d(x, w, padding=2, stride=2), (R(2, 3, 9), R(4, 3, 3))),
    ("max_pool2d", lambda x: [F.max_pool2d(x, 2), F.max_pool2d(x, 3, 2, 1)], (X,)),
    ("max_pool_idx", lambda x: [*F.max_pool2d_with_indices(x, 2)], (X,)),
    ("max_unpool2d", lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2), (X,)),
    ("avg_pool2d", lambda x: [F.avg_pool2d(x, 2), F.avg_pool2d(x, 3, 2, 1),
                              F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)], (X,)),
    ("pool1d", lambda x: [F.max_pool1d(x, 2), F.avg_pool1d(x, 3, 2)], (R(2, 3, 9),)),
    ("adaptive", lambda x: [F.adaptive_avg_pool2d(x, 3), F.adaptive_max_pool2d(x, (2, 3)),
                            F.adaptive_avg_pool1d(x.flatten(2), 5),
                            F.adaptive_max_pool1d(x.flatten(2), 7)], (X,)),
    ("lp_pool2d", lambda x: F.lp_pool2d(x, 2, 2), (R(2, 3, 8, 8, positive=True),)),
    ("softmax", lambda a: [F.softmax(a, 1), F.log_softmax(a, 0), F.softmin(a, 1)], (A34,)),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (4,), w, b), (A34, R(4), R(4))),
    ("batch_norm_train", lambda x, w, b: _batch_norm(x, w, b, True), (X, R(3), R(3))),
    ("batch_norm_eval", lambda x, w, b: _batch_norm(x, w, b, False), (X, R(3), R(3))),
    ("group_norm", lambda x, w, b: F.group_norm(x, 3, w, b), (R(2, 6, 4), R(6), R(6))),
    ("instance_norm", lambda x: F.instance_norm(x), (X,)),
    ("rms_norm", lambda x, w: F.rms_norm(x, (4,), w), (A34, R(4))),
    ("local_response_norm", lambda x: F.local_response_norm(x, 2), (X,)),
    ("embedding", lambda w, i: F.embedding(i, w), (R(5, 3), I(4, 2, high=5))),
    ("embedding_pad", lambda w, i: F.embedding(i, w, padding_idx=1, max_norm=1.0),
     (R(5, 3), I(6, high=5))),
    ("one_hot", lambda i: F.one_hot(i, 5), (I(4, high=5),)),
    ("pad", lambda x: [F.pad(x, (1, 2)), F.pad(x, (1, 1, 2, 0), mode="reflect"),
                       F.pad(x, (2, 1), mode="replicate"), F.pad(x, (1, 1, 1, 1), mode="circular")],
     (X,)),
    ("activations", lambda a: [F.elu(a), F.celu(a), F.selu(a), F.silu(a), F.mish(a), F.softplus(a),
                               F.softsign(a), F.hardtanh(a), F.hardswish(a), F.hardsigmoid(a),
                               F.hardshrink(a), F.softshrink(a), F.tanhshrink(a),
                               F.threshold(a, 0.1, 2.0), F.leaky_relu(a), F.relu6(a * 4),
                               F.glu(a), F.logsigmoid(a), F.rrelu(a, training=False)], (A34,)),
    ("prelu", lambda a, w: F.prelu(a, w), (X, R(3))),
    ("distance", lambda a, b: [F.cosine_similarity(a, b), F.pairwise_distance(a, b), F.pdist(a)],
     (A34, B34)),
    ("dropout_off", lambda a: [F.dropout(a, 0.5, training=False), F.dropout(a, 0.0)], (A34,)),
]

T3 = np.array([1, 0, 3])
LOSSES = [
    ("cross_entropy", lambda x, t: [F.cross_entropy(x, t), F.cross_entropy(x, t, reduction="none"),
                                    F.cross_entropy(x, t, ignore_index=0),
                                    F.cross_entropy(x, t, label_smoothing=0.1)], (A34, T3)),
    ("cross_entropy_w", lambda x, t, w: F.cross_entropy(x, t, weight=w), (A34, T3, P34[0])),
    ("cross_entropy_probs", lambda x, p: F.cross_entropy(x, F.softmax(p, 1)), (A34, B34)),
    ("cross_entropy_2d", lambda x, t: F.cross_entropy(x, t), (X, I(2, 8, 8, high=3))),
    ("nll_loss", lambda x, t: F.nll_loss(F.log_softmax(x, 1), t), (A34, T3)),
    ("regression", lambda a, b: [F.mse_loss(a, b), F.l1_loss(a, b), F.smooth_l1_loss(a, b),
                                 F.huber_loss(a, b, delta=0.5), F.mse_loss(a, b, reduction="sum")],
     (A34, B34)),
    ("bce", lambda a, t: [F.binary_cross_entropy(F.sigmoid(a), t),
                          F.binary_cross_entropy_with_logits(a, t),
                          F.binary_cross_entropy_with_logits(
                              a, t, pos_weight=dg.ones(4, device=a.device))],
     (A34, (B34 > 0).astype(np.float32))),
    ("kl_div", lambda a, b: [F.kl_div(F.log_softmax(a, 1), F.softmax(b, 1), reduction="batchmean"),
                             F.kl_div(a, b, reduction="sum", log_target=True)], (A34, B34)),
    ("poisson_gaussian", lambda a, b, v: [F.poisson_nll_loss(a, b.abs()),
                                          F.gaussian_nll_loss(a, b, v)], (A34, B34, P34)),
    ("margins", lambda a, b, y: [F.hinge_embedding_loss(a, y), F.margin_ranking_loss(a, b, y),
                                 F.soft_margin_loss(a, y),
                                 F.multilabel_soft_margin_loss(a, (y > 0).float()),
                                 F.cosine_embedding_loss(a, b, y[:, 0]),
                                 F.triplet_margin_loss(a, b, a.flip(0))],
     (A34, B34, np.sign(R(3, 4)).astype(np.float32))),
]

CASES = ELEMENTWISE + REDUCTIONS + SHAPE + INDEXING + LINALG + NN + LOSSES


def _batch_norm(x, w, b, training):
    rm, rv = dg.zeros(3, device=x.device), dg.ones(3, device=x.device)
    out = F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.1)
    return [out, rm, rv]


@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[c[0] for c in CASES])
def test_op_forward_backward(cuda, name, fn, arrays):
    check(fn, *arrays)


def test_dropout_on_gpu_uses_the_gpu_generator(cuda):
    x = dg.ones(200, 50, device="cuda", requires_grad=True)
    dg.manual_seed(0)
    y = F.dropout(x, 0.5)
    dg.manual_seed(0)
    y2 = F.dropout(x, 0.5)
    assert _is_dev(y) and y.tolist() == y2.tolist()  # manual_seed seeds the GPU generator
    kept = _host(y) != 0
    assert 0.45 < kept.mean() < 0.55 and np.allclose(_host(y)[kept], 2.0)
    y.sum().backward()
    np.testing.assert_array_equal(_host(x.grad), np.where(kept, 2.0, 0.0))
    for fn in (F.dropout1d, F.dropout2d):
        assert _is_dev(fn(dg.ones(4, 3, 5, device="cuda"), 0.5))
    assert _is_dev(F.rrelu(dg.ones(4, device="cuda"), training=True))


def test_inplace_random_and_init_on_gpu(cuda):
    t = dg.empty(100, device="cuda")
    t.uniform_(0, 1)
    assert _is_dev(t) and 0 <= float(t.min()) and float(t.max()) <= 1
    t.normal_(0, 1)
    t.fill_(2.0)
    assert t.tolist() == [2.0] * 100
    t.zero_()
    assert float(t.sum()) == 0
    w = dg.empty(4, 3, device="cuda")
    for init in (nn.init.xavier_uniform_, nn.init.kaiming_normal_, nn.init.orthogonal_,
                 nn.init.trunc_normal_, nn.init.zeros_, nn.init.ones_, nn.init.eye_,
                 lambda w: nn.init.constant_(w, 0.3), nn.init.normal_, nn.init.uniform_):
        init(w)
        assert _is_dev(w)
    c = dg.empty(4, 3, 3, 3, device="cuda")
    nn.init.dirac_(c)
    assert _is_dev(c)


# --------------------------------------------------------------------------- training

def _train(model_fn, opt_fn, x, y, device, steps=3, loss_fn=F.cross_entropy):
    dg.manual_seed(0)
    model = model_fn().to(device)
    opt = opt_fn(model.parameters())
    xs, ys = dg.tensor(x, device=device), dg.tensor(y, device=device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(xs), ys)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        losses.append(loss.item())
    return model, losses


def _mlp():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.LayerNorm(16), nn.Linear(16, 16),
                         nn.Tanh(), nn.BatchNorm1d(16), nn.Linear(16, 4))


def _digits_cnn():  # the model of examples/digits.py (cnn), with a BatchNorm and a pool more
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.AvgPool2d(1), nn.Flatten(), nn.Linear(512, 10))


OPTIMIZERS = {
    "sgd": lambda p: dg.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
    "adam": lambda p: dg.optim.Adam(p, lr=1e-2, amsgrad=True, weight_decay=1e-4),
    "adamw": lambda p: dg.optim.AdamW(p, lr=1e-2),
    "rmsprop": lambda p: dg.optim.RMSprop(p, lr=1e-2, momentum=0.5, centered=True),
    "adagrad": lambda p: dg.optim.Adagrad(p, lr=1e-2),
}


def _assert_same_model(cpu_model, dev_model, rtol=1e-5, atol=1e-6):
    cpu_state, dev_state = cpu_model.state_dict(), dev_model.state_dict()
    assert list(cpu_state) == list(dev_state)
    for k in cpu_state:
        d = dev_state[k]
        assert d.device.type == "cuda", k
        np.testing.assert_allclose(_host(d), _host(cpu_state[k]), rtol=rtol, atol=atol, err_msg=k)


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_mlp_training_on_cuda_equals_cpu(cuda, opt):
    x, y = R(16, 8), rng.integers(0, 4, 16)
    cpu_model, cpu_losses = _train(_mlp, OPTIMIZERS[opt], x, y, "cpu")
    dev_model, dev_losses = _train(_mlp, OPTIMIZERS[opt], x, y, "cuda")
    np.testing.assert_allclose(dev_losses, cpu_losses, rtol=1e-5)
    _assert_same_model(cpu_model, dev_model)
    for p in dev_model.parameters():
        assert _is_dev(p) and _is_dev(p.grad)


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_digits_cnn_training_on_cuda_equals_cpu(cuda, opt):
    x, y = R(8, 1, 8, 8), rng.integers(0, 10, 8)
    cpu_model, cpu_losses = _train(_digits_cnn, OPTIMIZERS[opt], x, y, "cpu")
    dev_model, dev_losses = _train(_digits_cnn, OPTIMIZERS[opt], x, y, "cuda")
    np.testing.assert_allclose(dev_losses, cpu_losses, rtol=1e-5)
    _assert_same_model(cpu_model, dev_model, rtol=1e-4, atol=1e-5)


def test_module_to_cuda_and_back(cuda):
    model = _mlp()
    params = list(model.parameters())
    assert model.to("cuda") is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]  # same objects
    assert all(_is_dev(t) for t in model.state_dict().values())
    model.cpu()
    assert all(t.device.type == "cpu" for t in model.state_dict().values())
    model.cuda(1)
    assert all(_is_dev(t, 1) for t in model.state_dict().values())
    model.to(dg.device("cuda", 0), dg.float64)
    assert all(_is_dev(p) and p.dtype == dg.float64 for p in model.parameters())
    model.to("cpu")
    out = model.float()(dg.randn(3, 8))
    assert out.device.type == "cpu"


def test_optimizer_state_dict_and_checkpoint_roundtrip(cuda, tmp_path):
    model = _mlp().to("cuda")
    opt = dg.optim.Adam(model.parameters(), lr=1e-2)
    x, y = dg.randn(8, 8, device="cuda"), dg.randint(0, 4, (8,), device="cuda")
    F.cross_entropy(model(x), y).backward()
    opt.step()
    path = tmp_path / "ckpt.npz"
    dg.save({"model": model.state_dict(), "opt": opt.state_dict(), "x": x}, path)
    with _no_cuda():
        ck = dg.load(path, map_location="cpu")  # a machine without GPUs
        assert all(t.device.type == "cpu" for t in ck["model"].values())
        cpu_model = _mlp()
        cpu_model.load_state_dict(ck["model"])
    ck_default = dg.load(path)
    assert ck_default["x"].device.type == "cpu"
    ck_dev = dg.load(path, map_location="cuda")
    assert _is_dev(ck_dev["x"]) and _is_dev(ck_dev["model"]["0.weight"])
    np.testing.assert_array_equal(_host(ck_dev["x"]), _host(x))
    model2 = _mlp().to("cuda")
    model2.load_state_dict(ck_dev["model"])
    opt2 = dg.optim.Adam(model2.parameters(), lr=1e-2)
    opt2.load_state_dict(ck_dev["opt"])
    for o in (opt, opt2):
        o.zero_grad()
    F.cross_entropy(model(x), y).backward()
    F.cross_entropy(model2(x), y).backward()
    opt.step()
    opt2.step()
    _assert_same_model(model, model2, rtol=0, atol=0)
    # load a CPU checkpoint onto the GPU inside a module
    model3 = _mlp().to("cuda")
    model3.load_state_dict(cpu_model.state_dict())
    assert all(_is_dev(t) for t in model3.state_dict().values())


class _no_cuda:
    """No CuPy at all inside the block (as on a machine without GPUs)."""

    def __enter__(self):
        self.saved = _backend._cupy, _backend._cupy_error
        _backend._cupy, _backend._cupy_error = None, "no CuPy (test)"

    def __exit__(self, *exc):
        _backend._cupy, _backend._cupy_error = self.saved


def test_dataloader_and_clip_grad_on_cuda(cuda):
    x, y = dg.randn(10, 3, device="cuda"), dg.arange(10, device="cuda")
    loader = dg.data.DataLoader(dg.data.TensorDataset(x, y), batch_size=4, shuffle=True)
    seen = []
    for xb, yb in loader:
        assert _is_dev(xb) and _is_dev(yb)
        seen += yb.tolist()
    assert sorted(seen) == list(range(10))
    p = nn.Parameter(dg.ones(3, device="cuda"))
    p.grad = dg.full((3,), 10.0, device="cuda")
    total = nn.utils.clip_grad_norm_([p], 1.0)
    assert _is_dev(total) and abs(float(p.grad.norm() if hasattr(p.grad, "norm") else
                                        (p.grad ** 2).sum().sqrt()) - 1.0) < 1e-4
    nn.utils.clip_grad_value_([p], 0.1)
    assert float(p.grad.max()) <= 0.1 + 1e-7


def test_no_host_round_trips_in_conv_and_pooling(cuda):
    x = dg.randn(2, 3, 8, 8, device="cuda", requires_grad=True)
    w = dg.randn(4, 3, 3, 3, device="cuda", requires_grad=True)
    fake_cupy.reset()
    out = F.max_pool2d(F.conv2d(x, w, padding=1).relu(), 2)
    out = F.avg_pool2d(out, 2)
    loss = F.cross_entropy(out.flatten(1), dg.zeros(2, dtype=dg.int64, device="cuda"))
    loss.backward()
    assert fake_cupy.stats["to_host"] == 0, fake_cupy.stats
    assert fake_cupy.stats["to_device"] <= 2, fake_cupy.stats


# --------------------------------------------------------------------------- distributed

def test_collectives_world_of_one_with_cuda_tensors(cuda):
    import distgrad.distributed as dist
    dist.init_process_group(backend="single")
    try:
        t = dg.arange(4, dtype=dg.float32, device="cuda")
        dist.all_reduce(t)
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        dist.broadcast(t, 0)
        assert _is_dev(t) and t.tolist() == [0.0, 1.0, 2.0, 3.0]
        out = [dg.zeros(4, device="cuda")]
        dist.all_gather(out, t)
        assert out[0].tolist() == t.tolist() and _is_dev(out[0])
        big = dg.zeros(4, device="cuda")
        dist.all_gather_into_tensor(big, t)
        assert big.tolist() == t.tolist()
        rs = dg.zeros(4, device="cuda")
        dist.reduce_scatter_tensor(rs, t)
        assert rs.tolist() == t.tolist()
        h = dg.ones(3, dtype=dg.float16, device="cuda")
        dist.all_reduce(h, op=dist.ReduceOp.AVG)
        assert h.dtype == dg.float16 and h.tolist() == [1.0] * 3
        w = dist.all_reduce(t, async_op=True)
        assert w.wait()
    finally:
        dist.destroy_process_group()


def test_staging_copies_through_pinned_host_memory(cuda, monkeypatch):
    from distgrad.distributed import staging
    monkeypatch.delenv("DISTGRAD_CUDA_AWARE_MPI", raising=False)
    arr = cuda.arange(6, dtype=np.float32).reshape(2, 3)
    fake_cupy.reset()
    buf = staging._to_host(arr)
    assert type(buf) is np.ndarray and buf.flags.c_contiguous and buf.tolist() == arr.tolist()
    assert fake_cupy.stats["pinned_allocs"] == 1 and fake_cupy.stats["to_host"] == 1
    buf *= 2
    staging._from_host(arr, buf)
    assert isinstance(arr, cuda.ndarray) and arr.tolist() == [[0, 2, 4], [6, 8, 10]]
    half = staging._to_host(arr[:, ::2], dtype=np.float64)
    assert half.dtype == np.float64 and half.tolist() == [[0, 4], [6, 10]]
    out = staging._to_host(arr, copy_in=False)
    assert out.shape == (2, 3)
    monkeypatch.setenv("DISTGRAD_CUDA_AWARE_MPI", "1")
    assert staging._to_host(arr) is arr  # handed to MPI directly
    assert isinstance(staging._to_host(arr.T), cuda.ndarray)


def test_nccl_backend_world_of_one(cuda):
    import distgrad.distributed as dist
    from distgrad.distributed.backends import nccl as nccl_backend
    assert nccl_backend.is_available()
    dist.init_process_group(backend="nccl")
    try:
        assert dist.get_backend() == "nccl" and dist.get_world_size() == 1
        t = dg.arange(4, dtype=dg.float32, device="cuda")
        dist.all_reduce(t)
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
        assert "allReduce" in cuda.cuda.nccl.calls
        dist.broadcast(t, 0)
        out = [dg.zeros(4, device="cuda")]
        dist.all_gather(out, t)
        assert out[0].tolist() == t.tolist()
        c = dg.ones(2)  # CPU tensors still go through the host transport
        dist.all_reduce(c)
        assert c.tolist() == [1.0, 1.0]
        h = dg.ones(3, dtype=dg.float16, device="cuda")
        dist.all_reduce(h)
        assert h.tolist() == [1.0, 1.0, 1.0]
    finally:
        dist.destroy_process_group()


def test_init_process_group_selects_the_gpu(cuda, monkeypatch):
    import distgrad.distributed as dist
    monkeypatch.setenv("DISTGRAD_DEVICE", "cuda:1")
    dist.init_process_group(backend="single")
    try:
        assert dg.cuda.current_device() == 1
        assert dg.zeros(1, device="cuda").device.index == 1
    finally:
        dist.destroy_process_group()
        dg.cuda.set_device(0)
    monkeypatch.delenv("DISTGRAD_DEVICE")
    dist.init_process_group(backend="single", device_id=1)
    try:
        assert dg.cuda.current_device() == 1
    finally:
        dist.destroy_process_group()
    dist.init_process_group(backend="single")  # local rank 0 % 2 GPUs -> GPU 0
    try:
        assert dg.cuda.current_device() == 0
    finally:
        dist.destroy_process_group()


def test_ddp_step_on_cuda_world_of_one(cuda):
    import distgrad.distributed as dist
    from distgrad.nn.parallel import DistributedDataParallel as DDP
    dist.init_process_group(backend="single")
    try:
        x, y = R(8, 8), rng.integers(0, 4, 8)
        cpu_model, cpu_losses = _train(_mlp, OPTIMIZERS["sgd"], x, y, "cpu", steps=2)
        dg.manual_seed(0)
        model = DDP(_mlp().to("cuda"))
        opt = OPTIMIZERS["sgd"](model.parameters())
        xs, ys = dg.tensor(x, device="cuda"), dg.tensor(y, device="cuda")
        for _ in range(2):
            opt.zero_grad()
            F.cross_entropy(model(xs), ys).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
        _assert_same_model(cpu_model, model.module)
    finally:
        dist.destroy_process_group()


MPI_SCRIPT = r'''
import numpy as np
import distgrad as dg
import distgrad.distributed as dist
from distgrad.testing import fake_cupy
from mpi4py import MPI

backend = __import__("sys").argv[1]
with fake_cupy.installed(n_devices=2) as cp:
    cp.cuda.nccl.comm_world = MPI.COMM_WORLD
    dist.init_process_group(backend=None if backend == "auto" else backend)
    assert dist.get_backend() == ("nccl" if backend == "auto" else backend)
    backend = dist.get_backend()
    r = dist.get_rank()
    assert dg.cuda.current_device() == dist.get_local_rank() % 2
    t = dg.full((5,), float(r + 1), device="cuda")
    assert t.device.index == r % 2
    dist.all_reduce(t)
    assert t.tolist() == [3.0] * 5, t
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    assert t.tolist() == [3.0] * 5
    h = dg.full((3,), float(r), dtype=dg.float16, device="cuda")
    dist.all_reduce(h, op=dist.ReduceOp.MAX)
    assert h.tolist() == [1.0] * 3
    b = dg.full((2,), float(r), device="cuda")
    dist.broadcast(b, 1)
    assert b.tolist() == [1.0, 1.0]
    out = [dg.zeros(2, device="cuda") for _ in range(2)]
    dist.all_gather(out, dg.full((2,), float(r), device="cuda"))
    assert [o.tolist() for o in out] == [[0.0, 0.0], [1.0, 1.0]]
    assert cp.stats["pinned_allocs"] > 0 or backend == "nccl"
    assert ("allReduce" in cp.cuda.nccl.calls) == (backend == "nccl")
    # point-to-point and all_to_all of device tensors (staged through host memory)
    peer = 1 - r
    got = dg.zeros(3, device="cuda")
    w = dist.irecv(got, src=peer)
    dist.send(dg.full((3,), float(r + 10), device="cuda"), dst=peer)
    w.wait()
    assert got.device.index == r % 2 and got.tolist() == [peer + 10.0] * 3, got
    a2a = dg.zeros(2, 2, device="cuda")
    rows = dg.full((2, 2), float(r), device="cuda") + dg.arange(2, device="cuda").reshape(2, 1) * 10
    dist.all_to_all_single(a2a, rows)
    assert a2a.tolist() == [[10.0 * r + j] * 2 for j in range(2)], a2a
    # object collectives (through the host backend that NCCL's wraps)
    gathered = [None] * 2 if r == 1 else None
    dist.gather_object({"r": r}, gathered, dst=1)
    assert r == 0 or gathered == [{"r": 0}, {"r": 1}], gathered
    obj = [None]
    dist.scatter_object_list(obj, ["a", "bb"] if r == 0 else None, src=0)
    assert obj == [["a", "bb"][r]], obj
    from distgrad.nn.parallel import DistributedDataParallel as DDP
    dg.manual_seed(0)
    model = DDP(dg.nn.Linear(4, 2).to("cuda"))
    x = dg.full((3, 4), float(r + 1), device="cuda")
    model(x).sum().backward()
    g = model.module.weight.grad
    assert g.device.index == r % 2 and np.allclose(g.cpu().numpy(), 4.5), g
    dist.destroy_process_group()
print(f"OK rank {r}")
'''


@pytest.mark.mpi
@pytest.mark.parametrize("backend", ["mpi", "nccl", "auto"])
def test_two_ranks_all_reduce_fake_cuda(backend):
    from mpi_helpers import assert_ok_lines, run_mpi
    res = run_mpi(2, MPI_SCRIPT, backend, timeout=90)
    assert_ok_lines(res, 2)


def test_gradcheck_double_backward_and_metrics_on_cuda(cuda):
    x = dg.randn(3, dtype=dg.float64, device="cuda", requires_grad=True)
    w = dg.randn(3, 2, dtype=dg.float64, device="cuda", requires_grad=True)
    assert dg.autograd.gradcheck(lambda a, b: (a @ b).tanh(), (x, w))
    assert dg.autograd.gradgradcheck(lambda a: (a ** 3).sum(), (x,))
    y = dg.randn(2, 2, device="cuda", requires_grad=True)
    g, = dg.autograd.grad((y ** 3).sum(), y, create_graph=True)
    g.sum().backward()
    assert _is_dev(y.grad)
    np.testing.assert_allclose(_host(y.grad), 6 * _host(y), rtol=1e-5)
    import distgrad.distributed as dist
    from distgrad.distributed.evaluation import all_reduce_metrics
    dist.init_process_group(backend="single")
    try:
        out = all_reduce_metrics({"correct": (dg.arange(4, device="cuda") > 1).sum(), "n": 4})
        assert out == {"correct": 2, "n": 4}
    finally:
        dist.destroy_process_group()


def test_layers_take_device_and_dtype(cuda):
    for make in (lambda: nn.Linear(3, 4, device="cuda"), lambda: nn.Conv2d(1, 2, 3, device="cuda"),
                 lambda: nn.BatchNorm2d(3, device="cuda"), lambda: nn.LayerNorm(3, device="cuda"),
                 lambda: nn.Embedding(5, 3, device="cuda")):
        assert all(_is_dev(t) for t in make().state_dict().values())
    lin = nn.Linear(3, 4, device="cuda:1", dtype=dg.float64)
    assert all(_is_dev(p, 1) and p.dtype == dg.float64 for p in lin.parameters())


CPU_SCALAR_OPS = {
    "mul": lambda x, w: x * w, "rmul": lambda x, w: w * x, "add": lambda x, w: x + w,
    "rsub": lambda x, w: w - x, "div": lambda x, w: x / w, "rdiv": lambda x, w: w / x,
    "pow": lambda x, w: x.abs() ** w, "maximum": lambda x, w: dg.maximum(x, w),
    "where": lambda x, w: dg.where(x > 0, x, w), "remainder": lambda x, w: x % w,
    "compare": lambda x, w: x * (x > w),
}


@pytest.mark.parametrize("name", sorted(CPU_SCALAR_OPS))
def test_a_cpu_scalar_tensor_joins_a_gpu_op_like_pytorch(cuda, name):
    """A 0-d CPU tensor is moved to the GPU operand's device; its gradient comes back to it on
    the CPU and equals the gradient of the same computation on the CPU."""
    x0 = np.array([0.5, -1.5, 2.0])
    results = []
    for device in ("cuda", "cpu"):
        x = dg.tensor(x0, device=device, requires_grad=True)
        w = dg.tensor(1.25, dtype=dg.float64, requires_grad=True)  # always on the CPU
        out = CPU_SCALAR_OPS[name](x, w)
        assert out.device == x.device
        out.sum().backward()
        assert x.grad.device == x.device
        assert (w.grad is None) == (name == "compare")  # a comparison has no gradient
        assert w.grad is None or w.grad.device == dg.device("cpu")
        results.append([_host(t) for t in (out, x.grad, w.grad) if t is not None])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)
