"""``distgrad.fft`` and complex tensors against PyTorch: values, dtypes, gradients (PyTorch's
convention for complex gradients), finite-difference checks and error messages."""
import warnings

import numpy as np
import pytest

import distgrad as dg
import distgrad.fft as dfft
from distgrad.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
tfft = torch.fft

NORMS = [None, "backward", "ortho", "forward"]
_rng = np.random.default_rng(0)


def _array(shape, dtype):
    """Random data of ``dtype`` (float32, float64, complex64 or complex128)."""
    dtype = np.dtype(dtype)
    a = _rng.standard_normal(shape)
    if dtype.kind == "c":
        a = a + 1j * _rng.standard_normal(shape)
    return a.astype(dtype)


def _np(t):
    """A PyTorch or distgrad tensor as a NumPy array."""
    if isinstance(t, torch.Tensor):
        return t.detach().resolve_conj().numpy()
    return t.detach().numpy()


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-4) if np.dtype(dtype) in (np.float32, np.complex64) \
        else dict(rtol=1e-10, atol=1e-10)


def _check(fn_name, shape, dtype, **kwargs):
    """Value, dtype and gradient (for a random complex or real upstream gradient) of
    ``fft.<fn_name>`` against PyTorch."""
    a = _array(shape, dtype)
    x, tx = dg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = getattr(dfft, fn_name)(x, **kwargs), getattr(tfft, fn_name)(tx, **kwargs)
    assert str(y.dtype) == str(ty.dtype).replace("torch.", "")
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(_np(y), _np(ty), **_tol(dtype))
    g = _array(y.shape, y.dtype)
    y.backward(dg.tensor(g))
    ty.backward(torch.tensor(g))
    assert x.grad.dtype == a.dtype
    np.testing.assert_allclose(x.grad.numpy(), _np(tx.grad), **_tol(dtype))


# -- transforms against PyTorch ---------------------------------------------------------------
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("fn", ["fft", "ifft", "hfft", "irfft"])
@pytest.mark.parametrize("n", [None, 3, 6, 9])
def test_1d_transforms(fn, dtype, norm, n):
    _check(fn, (3, 5), dtype, n=n, norm=norm)
    _check(fn, (4, 5), dtype, n=n, dim=0, norm=norm)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fn", ["rfft", "ihfft"])
@pytest.mark.parametrize("n", [None, 3, 6, 9])
def test_1d_real_input_transforms(fn, dtype, norm, n):
    _check(fn, (3, 5), dtype, n=n, norm=norm)
    _check(fn, (6, 2), dtype, n=n, dim=-2, norm=norm)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("fn,dtype", [
    (fn, dtype) for fn in ("fft2", "ifft2", "fftn", "ifftn", "irfft2", "irfftn", "rfft2", "rfftn")
    for dtype in ("float32", "float64", "complex64", "complex128")
    if not (fn.startswith("rfft") and dtype.startswith("complex"))])
@pytest.mark.parametrize("args", [{}, {"s": (3, 4)}, {"s": (5, 7)}, {"s": (2, -1)},
                                  {"s": (4, 6), "dim": (2, 0)}, {"dim": (0, -1)}])
def test_nd_transforms(fn, dtype, norm, args):
    _check(fn, (3, 4, 5), dtype, norm=norm, **args)


def test_fftn_three_dims_and_no_dims():
    _check("fftn", (2, 3, 4), "complex128", s=(3, 2, 5))
    _check("irfftn", (2, 3, 4), "complex128", s=(3, 2, 5))
    _check("rfftn", (2, 3, 4), "float64", s=(3, 2, 5))
    a = _array((2, 3), "float32")
    y = dfft.fftn(dg.tensor(a), dim=())
    assert y.dtype == np.complex64
    np.testing.assert_array_equal(y.numpy(), a)


def test_integer_input_is_promoted():
    a = np.arange(6)
    for fn in ("fft", "rfft", "irfft", "hfft", "ihfft"):
        y, ty = getattr(dfft, fn)(dg.tensor(a)), getattr(tfft, fn)(torch.tensor(a))
        assert str(y.dtype) == str(ty.dtype).replace("torch.", "")
        np.testing.assert_allclose(_np(y), _np(ty), rtol=1e-5, atol=1e-5)


def test_grad_fn_names():
    x = dg.tensor(_array(4, "float64"), requires_grad=True)
    z = dg.tensor(_array(4, "complex128"), requires_grad=True)
    assert dfft.fft(x).grad_fn.name() == "FftR2CBackward0"
    assert dfft.rfft(x).grad_fn.name() == "FftR2CBackward0"
    assert dfft.fft(z).grad_fn.name() == "FftC2CBackward0"
    assert dfft.irfft(z).grad_fn.name() == "FftC2RBackward0"
    assert dfft.hfft(z).grad_fn.name() == "FftC2RBackward0"


def test_no_grad_and_round_trip():
    a = _array((4, 6), "float64")
    x = dg.tensor(a, requires_grad=True)
    with dg.no_grad():
        assert not dfft.fft(x).requires_grad
    np.testing.assert_allclose(dfft.irfftn(dfft.rfftn(x), s=(4, 6)).detach().numpy(), a,
                               atol=1e-12)
    np.testing.assert_allclose(dfft.ifft(dfft.fft(x)).detach().numpy(), a, atol=1e-12)


# -- finite differences -----------------------------------------------------------------------
def _real_view(fn):
    """``fn`` with complex output seen as real pairs (gradcheck compares real Jacobians)."""
    def wrapped(x):
        y = fn(x)
        return dg.view_as_real(y) if y.dtype.kind == "c" else y
    return wrapped


def _complex_input(fn):
    """``fn`` of a complex tensor given as real pairs."""
    return lambda x: fn(dg.view_as_complex(x))


GRADCHECK_CASES = [
    ("fft", dict(n=6, norm="ortho")), ("ifft", dict(n=3)), ("hfft", dict(n=7, norm="forward")),
    ("irfft", dict(n=6)), ("irfft", dict(n=5, norm="ortho")), ("fft2", dict(s=(2, 5))),
    ("ifftn", dict(dim=(0,), norm="forward")), ("irfft2", dict(s=(3, 4))),
    ("irfftn", dict(norm="ortho")),
]


@pytest.mark.parametrize("fn,kwargs", GRADCHECK_CASES)
@pytest.mark.parametrize("complex_input", [False, True])
def test_gradcheck(fn, kwargs, complex_input):
    f = _real_view(lambda x: getattr(dfft, fn)(x, **kwargs))
    shape = (3, 4)
    if complex_input:
        f, shape = _complex_input(f), shape + (2,)
    x = dg.tensor(_rng.standard_normal(shape), requires_grad=True)
    assert gradcheck(f, (x,))


@pytest.mark.parametrize("fn,kwargs", [("rfft", dict(n=5)), ("rfft", dict(norm="forward")),
                                       ("ihfft", dict(n=6)), ("rfft2", dict(s=(2, 5))),
                                       ("rfftn", dict(dim=(1, 0), norm="ortho"))])
def test_gradcheck_real_input(fn, kwargs):
    x = dg.tensor(_rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(_real_view(lambda x: getattr(dfft, fn)(x, **kwargs)), (x,))


@pytest.mark.parametrize("fn", ["fft", "rfft", "ihfft", "irfft", "hfft"])
def test_double_backward(fn):
    f = _real_view(getattr(dfft, fn))
    shape = (3, 4)
    if fn in ("irfft", "hfft"):
        f, shape = _complex_input(f), shape + (2,)
    x = dg.tensor(_rng.standard_normal(shape), requires_grad=True)
    assert gradgradcheck(lambda x: (f(x) ** 2).sum(dim=0), (x,))


# -- frequencies and shifts -------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 4, 5, 8])
@pytest.mark.parametrize("d", [1.0, 0.3])
def test_frequencies(n, d):
    for fn in ("fftfreq", "rfftfreq"):
        y, ty = getattr(dfft, fn)(n, d), getattr(tfft, fn)(n, d)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-6)
        y = getattr(dfft, fn)(n, d, dtype=dg.float64, requires_grad=True)
        assert y.dtype == np.float64 and y.requires_grad
        np.testing.assert_allclose(y.detach().numpy(),
                                   getattr(tfft, fn)(n, d, dtype=torch.float64).numpy())


@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 1), (1,)])
def test_shifts(dim):
    a = _array((4, 5), "complex128")
    for fn in ("fftshift", "ifftshift"):
        x, tx = dg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        y, ty = getattr(dfft, fn)(x, dim=dim), getattr(tfft, fn)(tx, dim=dim)
        np.testing.assert_array_equal(_np(y), _np(ty))
        if y.requires_grad:
            g = _array(y.shape, y.dtype)
            y.backward(dg.tensor(g))
            ty.backward(torch.tensor(g))
            np.testing.assert_array_equal(x.grad.numpy(), _np(tx.grad))
    np.testing.assert_array_equal(
        dfft.ifftshift(dfft.fftshift(dg.tensor(a), dim=dim), dim=dim).numpy(), a)


# -- errors -----------------------------------------------------------------------------------
ERROR_CASES = [
    ("rfft", (_array(4, "complex64"),), {},
     "rfft expects a real input tensor, but got ComplexFloat"),
    ("ihfft", (_array(4, "complex128"),), {}, "ihfft expects a real input tensor"),
    ("fft", (_array(4, "float32"),), {"n": 0}, r"Invalid number of data points \(0\) specified"),
    ("irfft", (_array(1, "complex64"),), {}, r"Invalid number of data points \(0\) specified"),
    ("fftn", (_array((2, 2), "float32"),), {"dim": (0, -2)}, "FFT dims must be unique"),
    ("fftn", (_array(4, "float32"),), {"s": (2, 2), "dim": (0,)},
     "dim and shape arguments must have the same length"),
    ("fftn", (_array((2, 2), "float32"),), {"s": (2, 2, 2)},
     "Got shape with 3 values but input tensor only has 2 dimensions"),
    ("fft", (_array(4, "float32"),), {"norm": "foo"}, 'Invalid normalization mode: "foo"'),
    ("fft", (_array(4, "float16"),), {}, "Unsupported dtype Half"),
    ("rfftn", (_array(4, "float32"),), {"dim": ()}, "rfftn must transform at least one axis"),
]


@pytest.mark.parametrize("fn,args,kwargs,message", ERROR_CASES)
def test_errors(fn, args, kwargs, message):
    with pytest.raises(RuntimeError, match=message):
        getattr(tfft, fn)(*[torch.tensor(a) for a in args], **kwargs)
    with pytest.raises(RuntimeError, match=message):
        getattr(dfft, fn)(*[dg.tensor(a) for a in args], **kwargs)


def test_shift_without_dims():
    for module, make in ((tfft, torch.tensor), (dfft, dg.tensor)):
        with pytest.raises(RuntimeError, match="`shifts` required"):
            module.fftshift(make(_array(4, "float32")), dim=())


@pytest.mark.parametrize("dim", [3, -2])
def test_dim_out_of_range(dim):
    message = r"Dimension out of range \(expected to be in range of \[-1, 0\]"
    for module, make in ((tfft, torch.tensor), (dfft, dg.tensor)):
        with pytest.raises(IndexError, match=message):
            module.fft(make(_array(4, "float32")), dim=dim)


# -- complex tensors --------------------------------------------------------------------------
def _both(fn, *arrays):
    """``fn(module, *tensors)`` (a real scalar) and the gradients of its inputs, for PyTorch and
    distgrad: the values and gradients must agree."""
    out = []
    for m in (torch, dg):
        xs = [m.tensor(a, requires_grad=True) for a in arrays]
        loss = fn(m, *xs)
        loss.backward()
        out.append([_np(loss)] + [None if x.grad is None else _np(x.grad) for x in xs])
    for got, want in zip(out[1], out[0]):
        assert (got is None) == (want is None)
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


COMPLEX_LOSSES = {
    "fft_times_constant": lambda m, x, z: (m.fft.fft(x) * m.tensor(W)).abs().sum(),
    "products": lambda m, x, z: (z * z.conj() * z).real.sum() + (x * z).imag.sum(),
    "quotients": lambda m, x, z: ((m.tensor(W) / z).imag.sum() + (z / m.tensor(W)).real.sum()
                                  + (z / x).real.sum() + (2 / z).imag.sum()),
    "scalars": lambda m, x, z: ((x * 1j).imag.sum() + ((z * (2 - 1j)).real ** 2).sum()
                                + ((z / (2 - 1j)).imag ** 2).sum()),
    "views": lambda m, x, z: ((m.view_as_real(z) ** 2).sum()
                              + m.view_as_complex(m.stack([x, x * x], -1)).abs().sum()),
    "complex": lambda m, x, z: ((m.complex(x, x * 3) * m.tensor(W)).imag.sum()
                                + m.complex(z.real, x).abs().sum()),
    "abs_conj": lambda m, x, z: (z.abs() ** 3).sum() + z.conj().imag.sum(),
    "add_sub": lambda m, x, z: ((z + x - m.tensor(W)) * (z - 1j)).real.sum(),
}
W = _array(4, "complex128")


@pytest.mark.parametrize("name", sorted(COMPLEX_LOSSES))
def test_complex_gradients(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning: real inputs take the real part
        _both(COMPLEX_LOSSES[name], _array(4, "float64"), _array(4, "complex128"))


def test_complex_tensor_basics():
    z = dg.tensor(np.array([1 + 2j, -3j]), requires_grad=True)
    assert z.dtype == np.complex128 and z.requires_grad
    np.testing.assert_array_equal(z.real.detach().numpy(), [1, 0])
    np.testing.assert_array_equal(z.imag.detach().numpy(), [2, -3])
    np.testing.assert_array_equal(dg.conj(z).detach().numpy(), [1 - 2j, 3j])
    np.testing.assert_array_equal(dg.view_as_real(z).detach().numpy(), [[1, 2], [0, -3]])
    x = dg.tensor([1.0, 2.0])
    assert x.real is x and x.conj() is x
    c = dg.complex(dg.tensor([1.0, 2.0]), dg.tensor([3.0]))
    assert c.dtype == np.complex64
    np.testing.assert_array_equal(c.numpy(), [1 + 3j, 2 + 3j])
    assert dg.view_as_complex(dg.tensor([[1.0, 2.0]])).dtype == np.complex64
    assert (dg.tensor([1.0], dtype=dg.float32) * dg.tensor(np.array([1j]))).dtype == np.complex128


def test_complex_seeds_and_autograd_grad():
    z = dg.tensor(np.array([1 + 2j, 3 - 1j]), requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for real scalar"):
        (z * z).sum().backward()
    x = dg.tensor([1.0, 2.0], dtype=dg.float64, requires_grad=True)
    (gx,) = dg.autograd.grad((x * (1 + 1j)).sum(), x, dg.tensor(np.array(1 - 2j)))
    tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    (tgx,) = torch.autograd.grad((tx * (1 + 1j)).sum(), tx, torch.tensor(1 - 2j))
    assert gx.dtype == np.float64
    np.testing.assert_allclose(gx.numpy(), tgx.numpy())


COMPLEX_ERRORS = [
    (lambda m: m.view_as_real(m.ones(2)), "view_as_real is only supported for complex tensors"),
    (lambda m: m.view_as_complex(m.ones(2, 3)), "Tensor must have a last dimension of size 2"),
    (lambda m: m.view_as_complex(m.ones(2, 2, dtype=m.int64)),
     "view_as_complex is only supported for half, float and double tensors, but got a tensor of "
     "scalar type: Long"),
    (lambda m: m.complex(m.ones(2), m.ones(2, dtype=m.float64)),
     "Expected object of scalar type Float but got scalar type Double for second argument"),
    (lambda m: m.complex(m.ones(2, dtype=m.int64), m.ones(2, dtype=m.int64)),
     "Expected both inputs to be Half, Float or Double tensors but got Long and Long"),
    (lambda m: m.ones(2).imag, "imag is not implemented for tensors with non-complex dtypes"),
]


@pytest.mark.parametrize("fn,message", COMPLEX_ERRORS)
def test_complex_errors(fn, message):
    for m in (torch, dg):
        with pytest.raises(RuntimeError, match=message):
            fn(m)


def test_complex_gradcheck():
    def f(x, y):
        z = dg.view_as_complex(x)
        w = dg.complex(y, y * y)
        return dg.view_as_real(z * w.conj() / (w + 2) + z.imag * 1j) + z.abs().unsqueeze(-1)

    x = dg.tensor(_rng.standard_normal((3, 2)), requires_grad=True)
    y = dg.tensor(_rng.standard_normal(3), requires_grad=True)
    assert gradcheck(f, (x, y))
    assert gradgradcheck(f, (x, y))


def test_device_generic_path():
    """The transforms run on the array module of the input (CuPy's API, here its CPU stand-in)."""
    from distgrad import _backend
    from distgrad.testing import fake_cupy
    a = _array((3, 4), "float32")
    with fake_cupy.installed(n_devices=1):
        x = dg.tensor(a, device="cuda", requires_grad=True)
        fns = [lambda t: dg.view_as_real(dfft.rfft2(t, s=(4, 6))), lambda t: dfft.irfft(t, n=5),
               lambda t: dfft.hfft(dfft.fftshift(dfft.ifft(t, norm="ortho"))),
               lambda t: dfft.fftfreq(4, device="cuda") * t[0]]
        for fn in fns:
            y = fn(x)
            assert _backend.is_device_array(y._data)
            y.sum().backward()
            assert _backend.is_device_array(x.grad._data)
            x.grad = None


def test_complex_repr_omits_the_default_complex_dtype():
    """As PyTorch: complex64 is the default complex dtype under float32, complex128 under
    float64; only the other one is printed."""
    c64, c128 = np.array([1 + 2j], np.complex64), np.array([1 + 2j], np.complex128)
    assert repr(dg.tensor(c64)) == "tensor([1.+2.j])"
    assert repr(dg.tensor(c128)) == "tensor([1.+2.j], dtype=distgrad.complex128)"
    saved = dg.get_default_dtype()
    dg.set_default_dtype(dg.float64)
    try:
        assert repr(dg.tensor(c128)) == "tensor([1.+2.j])"
        assert repr(dg.tensor(c64)) == "tensor([1.+2.j], dtype=distgrad.complex64)"
    finally:
        dg.set_default_dtype(saved)
