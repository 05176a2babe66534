"""Math functions (log1p ... erfinv, inverse trig and hyperbolic functions, atan2, hypot, lerp,
logit), top-level softmax, ``where(condition)``, ``bernoulli``, ``Tensor.type`` and the
factories' ``size=`` keyword: finite-difference gradient checks (first and second order) and
comparisons with PyTorch (values, dtypes, gradients, errors)."""
import sys

import numpy as np
import pytest

import distgrad as dg
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.ops import elementwise
from distgrad.testing import fake_cupy


def check_against_torch(fn, specs, **kwargs):
    """``tests/test_ops_torch.py``'s oracle (skipped without PyTorch)."""
    pytest.importorskip("torch")
    from test_ops_torch import check_against_torch as check
    check(fn, specs, **kwargs)


def _torch():
    return pytest.importorskip("torch")


def _first_grad(m, fn, x):
    """d(sum(fn(x) * w))/dx with ``create_graph``: differentiating it checks double backward."""
    out = fn(m, x)
    w = m.tensor(np.random.default_rng(7).standard_normal(tuple(out.shape)))
    return m.autograd.grad((out * w).sum(), x, create_graph=True)[0]


_RANGES = {"n": (-1.9, 1.7), "p": (0.5, 2.0), "u": (-0.85, 0.8), "z": (0.25, 1.9)}


def _domain(kind, shape):
    """Evenly spread float64 inputs inside an op's domain, for the kinds of test_ops_torch's
    specs: n around 0, p in [0.5, 2], u in (-0.9, 0.9), z with |x| >= 0.2 and both signs."""
    lo, hi = _RANGES[kind]
    x = np.linspace(lo, hi, int(np.prod(shape))).reshape(shape)
    return x * np.where(np.arange(x.size) % 2, -1, 1).reshape(shape) if kind == "z" else x


# ------------------------------------------------------------------------------- unary ops
# op -> the kind of input inside its domain
DOMAINS = {"log1p": "u", "expm1": "n", "erf": "n", "erfc": "n", "erfinv": "u", "rsqrt": "p",
           "square": "n", "reciprocal": "z", "log2": "p", "log10": "p", "exp2": "n", "tan": "u",
           "asin": "u", "acos": "u", "atan": "n", "sinh": "n", "cosh": "n", "asinh": "n",
           "atanh": "u"}
UNARY = {name: (lambda m, x, name=name: getattr(m, name)(x), kind)
         for name, kind in DOMAINS.items()}
UNARY.update({
    "acosh": (lambda m, x: m.acosh(x + 1), "p"),
    "frac": (lambda m, x: m.frac(x * 3), "n"), "sgn": (lambda m, x: m.sgn(x) * x, "z"),
    "sign": (lambda m, x: m.sign(x) * x, "z"),
    "logit": (lambda m, x: m.logit(x * 0.5 + 0.5), "u"),
    "logit_eps": (lambda m, x: m.logit(x * 0.5 + 0.5, eps=0.2), "u"),
    "logit_eps_above_half": (lambda m, x: m.logit(x * 0.5 + 0.5, 0.6), "u"),
    "methods": (lambda m, x: x.log1p() + x.arcsin() + x.arctan() + x.arcsinh() + x.arctanh()
                + x.expm1().sinh() + x.erf().cosh() + (x * x + 1).arccosh(), "u"),
    "arccos": (lambda m, x: m.arccos(x) + x.arccos(), "u"),
    "in_place": (lambda m, x: (x * 1).exp2_() + (x * 1).erfinv_() + (x * 1).atan_().sin_()
                 + (x * 0.5 + 0.5).logit_() + (x * 1).log1p_() + (x * 1).sgn_(), "u"),
})


@pytest.mark.parametrize("shape", [(3, 4), ()], ids=str)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_against_torch(name, shape):
    fn, kind = UNARY[name]
    check_against_torch(fn, [(shape, kind)])


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_gradcheck_and_gradgradcheck(name):
    fn, kind = UNARY[name]
    x = dg.tensor(_domain(kind, (2, 3)), requires_grad=True)
    assert gradcheck(lambda t: fn(dg, t), (x,))
    assert gradgradcheck(lambda t: fn(dg, t), (x,))


@pytest.mark.parametrize("name", ["erfinv", "rsqrt", "tan", "acos", "logit", "logit_eps", "expm1"])
def test_unary_double_backward_against_torch(name):
    fn, kind = UNARY[name]
    check_against_torch(lambda m, x: _first_grad(m, fn, x), [((5,), kind)])


FLOAT_ONLY = ["log1p", "expm1", "erf", "erfc", "erfinv", "rsqrt", "reciprocal", "log2", "log10",
              "exp2", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
              "logit"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool", "float16", "float32"])
@pytest.mark.parametrize("op", FLOAT_ONLY + ["square", "frac", "sgn", "sign"])
def test_dtypes_of_integer_bool_and_half_inputs(op, dtype):
    """Float-only functions compute ints and bools in the default float dtype; square and
    sgn keep integer dtypes (square of bool is int64); frac refuses integers, like PyTorch."""
    torch = _torch()
    values = np.array([0, 1, 2, 3]) if dtype != "bool" else np.array([True, False, True, True])
    outs = []
    for m in (torch, dg):
        x = m.tensor(values).to(getattr(m, dtype))
        try:
            outs.append(getattr(m, op)(x))
        except (RuntimeError, NotImplementedError) as exc:
            outs.append(exc)
    t, d = outs
    if isinstance(t, Exception):
        assert type(d) is type(t) and str(d) == str(t)
        return
    assert str(d.dtype) == str(t.dtype).replace("torch.", "")
    np.testing.assert_allclose(d.numpy().astype(float), t.numpy().astype(float),
                               rtol=2e-3 if dtype == "float16" else 1e-6, atol=1e-6)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_domain_edges_match_torch():
    """Values and gradients at and beyond the edges of the domains (inf, NaN, zeros)."""
    torch = _torch()
    edge = np.array([-1.5, -1.0, 0.0, 0.25, 1.0, 1.5])
    cases = [lambda m, x: m.erfinv(x), lambda m, x: m.atanh(x), lambda m, x: m.logit(x),
             lambda m, x: m.logit(x, 0.25), lambda m, x: m.asin(x), lambda m, x: m.rsqrt(x),
             lambda m, x: m.log1p(x), lambda m, x: m.reciprocal(x), lambda m, x: m.frac(x)]
    for fn in cases:
        results = []
        for m in (torch, dg):
            x = m.tensor(edge, requires_grad=True)
            y = fn(m, x)
            y.sum().backward()
            results.append((y.detach().numpy(), x.grad.numpy()))
        (ty, tg), (dy, dgrad) = results
        np.testing.assert_allclose(dy, ty, rtol=1e-12)
        np.testing.assert_allclose(dgrad, tg, rtol=1e-12)


def test_square_of_int8_keeps_dtype_and_sign_of_bool():
    assert dg.square(dg.tensor([3], dtype=dg.int8)).dtype == dg.int8
    assert dg.square(dg.tensor([True, False])).tolist() == [1, 0]
    assert dg.sign(dg.tensor([True, False])).tolist() == [True, False]


def test_rounding_sign_and_frac_gradients():
    x = dg.tensor([-1.5, 0.25, 2.0], requires_grad=True)
    for fn, name in [(dg.sign, "SignBackward0"), (dg.sgn, "SgnBackward0"),
                     (dg.floor, "FloorBackward0"), (dg.round, "RoundBackward0")]:
        y = fn(x)
        assert y.requires_grad and y.grad_fn.name() == name
        assert dg.autograd.grad(y.sum(), x)[0].tolist() == [0.0, 0.0, 0.0]
    assert dg.autograd.grad(x.frac().sum(), x)[0].tolist() == [1.0, 1.0, 1.0]


def test_numpy_fallbacks_without_scipy(monkeypatch):
    x = np.concatenate([np.linspace(-0.999999, 0.999999, 41), [-1.0, 1.0, 0.0, 1e-8]])
    expected = {name: getattr(elementwise, f"_{name}")(x) for name in ("erf", "erfc", "erfinv")}
    monkeypatch.setitem(sys.modules, "scipy", None)  # ``from scipy import special`` fails
    for name, want in expected.items():
        got = getattr(elementwise, f"_{name}")(x)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=name)
    assert np.isnan(elementwise._erfinv(np.array([1.5, np.nan]))).all()
    assert elementwise._erfinv(np.array([0.5], np.float32)).dtype == np.float32


# ------------------------------------------------------------------------------ binary ops
SHAPES = [((3, 4), (3, 4)), ((2, 1, 3), (4, 1)), ((), (2, 3)), ((3,), ())]

BINARY = {
    "atan2": (lambda m, a, b: m.atan2(a, b), "n", "n"),
    "arctan2": (lambda m, a, b: m.arctan2(a, b) + a.arctan2(b), "n", "z"),
    "hypot": (lambda m, a, b: m.hypot(a, b), "z", "n"),
    "lerp_low": (lambda m, a, b: m.lerp(a, b, 0.3), "n", "n"),
    "lerp_high": (lambda m, a, b: a.lerp(b, 0.75), "n", "n"),
    "lerp_tensor": (lambda m, a, b: m.lerp(a, b, b.sigmoid()), "n", "n"),
    "in_place": (lambda m, a, b: (a * 1).lerp_(b, a.sigmoid()) + (a * 1).hypot_(b)
                 + (a * 1).atan2_(b) + (a * 1).arctan2_(b), "n", "z"),
}


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_against_torch(name, shapes):
    fn, ka, kb = BINARY[name]
    if name == "in_place" and shapes[0] != np.broadcast_shapes(*shapes):
        pytest.skip("an in-place result keeps the input's shape")
    check_against_torch(fn, [(shapes[0], ka), (shapes[1], kb)])


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_gradcheck_and_gradgradcheck(name):
    fn, ka, kb = BINARY[name]
    a = dg.tensor(_domain(ka, (2, 3)), requires_grad=True)
    b = dg.tensor(_domain(kb, (2, 3) if name == "in_place" else (3,)), requires_grad=True)
    assert gradcheck(lambda x, y: fn(dg, x, y), (a, b))
    assert gradgradcheck(lambda x, y: fn(dg, x, y), (a, b))


def test_lerp_weight_gradient_and_double_backward_against_torch():
    def fn(m, a, b, w):
        y = m.lerp(a, b, w)
        ga, gw = m.autograd.grad((y * y).sum(), (a, w), create_graph=True)
        return y, ga * gw
    check_against_torch(fn, [((3, 1), "n"), ((4,), "n"), ((3, 4), "u")])


def test_mixed_dtypes_against_torch():
    """int operands compute in the default float dtype; a 0-d tensor does not promote; the
    gradients come back in each input's dtype; lerp's 0-d weight may have any dtype."""
    torch = _torch()
    cases = [lambda m, a, b, i: m.atan2(a, i), lambda m, a, b, i: m.atan2(i, i),
             lambda m, a, b, i: m.atan2(a.float(), b), lambda m, a, b, i: m.hypot(b[0], a.float()),
             lambda m, a, b, i: m.atan2(a.float(), b[0]),
             lambda m, a, b, i: m.lerp(a.float(), a.float(), b[0]),
             lambda m, a, b, i: m.lerp(a, a.sin(), m.tensor(1)),
             lambda m, a, b, i: m.lerp(a, b, b[0].half())]
    for fn in cases:
        results = []
        for m in (torch, dg):
            a = m.tensor(_domain("n", (3,)), requires_grad=True)
            b = m.tensor(_domain("z", (3,)), requires_grad=True)
            y = fn(m, a, b, m.tensor([1, -2, 3]))
            if y.requires_grad:
                y.sum().backward()
            results.append((y, [t.grad for t in (a, b)]))
        (ty, tgrads), (dy, dgrads) = results
        assert str(dy.dtype) == str(ty.dtype).replace("torch.", "")
        np.testing.assert_allclose(dy.detach().numpy(), ty.detach().numpy(), rtol=1e-6)
        for tg, dgrad in zip(tgrads, dgrads):
            assert (tg is None) == (dgrad is None)
            if tg is not None:
                assert str(dgrad.dtype) == str(tg.dtype).replace("torch.", "")
                np.testing.assert_allclose(dgrad.numpy(), tg.numpy(), rtol=1e-6)


def test_gradients_at_the_origin_match_torch():
    torch = _torch()
    for op in ("atan2", "hypot"):
        grads = []
        for m in (torch, dg):
            a, b = m.zeros(2, dtype=m.float64, requires_grad=True), m.zeros(2, dtype=m.float64,
                                                                           requires_grad=True)
            getattr(m, op)(a, b).sum().backward()
            grads.append(np.stack([a.grad.numpy(), b.grad.numpy()]))
        np.testing.assert_array_equal(grads[1], grads[0])


@pytest.mark.parametrize("call", [
    lambda m, f, d, i: m.atan2(f, 1.0), lambda m, f, d, i: m.hypot(i, i),
    lambda m, f, d, i: m.hypot(f, m.ones(3)), lambda m, f, d, i: m.lerp(f, d, 0.5),
    lambda m, f, d, i: m.lerp(d, f, 0.5), lambda m, f, d, i: m.lerp(f, f, d),
    lambda m, f, d, i: m.lerp(i, i, 0.5), lambda m, f, d, i: m.lerp(i, i, i),
    lambda m, f, d, i: m.lerp(f, m.ones(3), 0.5), lambda m, f, d, i: m.lerp(f, f, m.ones(3)),
    lambda m, f, d, i: m.lerp(f.half(), f, 0.5), lambda m, f, d, i: m.lerp(i, f, 0.5),
    lambda m, f, d, i: m.where(f > 0, f), lambda m, f, d, i: m.frac(i),
])
def test_errors_match_torch(call):
    torch = _torch()
    errors = []
    for m in (torch, dg):
        f, d = m.tensor([0.2, 0.5]), m.tensor([0.3, 0.4], dtype=m.float64)
        with pytest.raises(Exception) as info:
            call(m, f, d, m.tensor([1, 2]))
        errors.append(info.value)
    assert type(errors[1]) is type(errors[0])
    assert str(errors[1]).split("\n")[0] == str(errors[0]).split("\n")[0]


# ------------------------------------------------------------------------------- softmax
def test_top_level_softmax_and_log_softmax_against_torch():
    check_against_torch(lambda m, x: [m.softmax(x, 1), m.log_softmax(x, -1), x.softmax(0),
                                      x.log_softmax(dim=1), m.softmax(x.float(), 0, m.float64),
                                      x.float().log_softmax(1, dtype=m.float64)],
                        [((3, 4), "n")])
    with pytest.raises(TypeError):
        dg.softmax(dg.ones(3))  # dim is required, as in torch.softmax


# ------------------------------------------------------------------- non-differentiable ops
def test_where_with_condition_alone_is_nonzero_as_tuple():
    torch = _torch()
    a = np.array([[0, 1, 2], [3, 0, 0]])
    for cond in (a > 1, a, a.astype(np.float32), np.array(True), np.array(0)):
        got, want = dg.where(dg.tensor(cond)), torch.where(torch.tensor(cond))
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == dg.int64 and g.tolist() == w.tolist()


def test_is_tensor_numel_is_floating_point():
    x = dg.ones(2, 3)
    assert dg.is_tensor(x) and not dg.is_tensor(np.ones(2)) and not dg.is_tensor(1.0)
    assert dg.numel(x) == 6 and dg.numel(dg.tensor(1.0)) == 1
    assert dg.is_floating_point(x) and not dg.is_floating_point(x.long())
    with pytest.raises(TypeError, match=r"numel\(\): argument 'input' \(position 1\) must be "
                                        "Tensor, not int"):
        dg.numel(3)
    with pytest.raises(TypeError, match="is_floating_point"):
        dg.is_floating_point([1.0])


def test_tensor_type():
    x = dg.tensor([1.5, -2.0], requires_grad=True)
    assert x.type() == "distgrad.FloatTensor"
    names = {"float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
             "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
    for dtype, name in names.items():
        assert x.detach().to(dtype).type() == f"distgrad.{name}Tensor"
    assert x.type(dg.float32) is x
    y = x.type(dg.float64)
    assert y.dtype == dg.float64 and y.grad_fn.name() == "ToCopyBackward0"
    assert x.type("distgrad.LongTensor").tolist() == [1, -2]
    assert x.type("torch.DoubleTensor").dtype == dg.float64
    assert x.type("int32").dtype == dg.int32
    for bad in ("float99", "torch.FooTensor", "numpy.FloatTensor"):
        with pytest.raises(ValueError, match="invalid type"):
            x.type(bad)


def test_tensor_type_on_a_gpu():
    with fake_cupy.installed():
        x = dg.ones(2, device="cuda")
        assert x.type() == "distgrad.cuda.FloatTensor"
        y = x.type("distgrad.DoubleTensor")
        assert y.device.type == "cpu" and y.dtype == dg.float64
        z = y.type("torch.cuda.LongTensor")
        assert z.is_cuda and z.type() == "distgrad.cuda.LongTensor"


def test_bernoulli():
    p = dg.tensor([[0.0, 1.0, 0.3], [0.5, 0.9, 0.1]], dtype=dg.float64)
    dg.manual_seed(3)
    a = dg.bernoulli(p)
    dg.manual_seed(3)
    b = p.bernoulli()
    assert a.dtype == dg.float64 and a.tolist() == b.tolist()
    assert a[0, 0].item() == 0.0 and a[0, 1].item() == 1.0
    assert set(np.unique(a.numpy())) <= {0.0, 1.0}
    g = dg.Generator().manual_seed(5)
    draws = dg.bernoulli(dg.zeros(20000), 0.25, generator=g)
    assert abs(draws.mean().item() - 0.25) < 0.02
    assert dg.bernoulli(dg.full((20000,), 0.7)).mean().item() == pytest.approx(0.7, abs=0.02)
    x = dg.tensor([0.3, 0.6], requires_grad=True)
    y = dg.bernoulli(x)
    assert y.requires_grad and y.grad_fn.name() == "BernoulliBackward0"
    assert dg.autograd.grad(y.sum(), x)[0].tolist() == [0.0, 0.0]


def test_bernoulli_in_place():
    dg.manual_seed(11)
    a = dg.zeros(1000).bernoulli_()
    dg.manual_seed(11)
    b = dg.bernoulli(dg.zeros(1000), 0.5)
    assert a.tolist() == b.tolist() and 400 < a.sum().item() < 600
    ints = dg.zeros(5, dtype=dg.int64).bernoulli_(1.0)
    assert ints.dtype == dg.int64 and ints.tolist() == [1] * 5
    t = dg.zeros(2, 3).bernoulli_(dg.tensor([0.0, 1.0, 0.0]))
    assert t.tolist() == [[0.0, 1.0, 0.0]] * 2
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        dg.zeros(2, requires_grad=True).bernoulli_()


def test_bernoulli_errors_match_torch():
    torch = _torch()
    for call in (lambda m: m.bernoulli(m.tensor([1.5])),
                 lambda m: m.bernoulli(m.tensor([0.5]), 1.5),
                 lambda m: m.zeros(3).bernoulli_(-0.5),
                 lambda m: m.zeros(2).bernoulli_(m.tensor([0.5, 2.0])),
                 lambda m: m.bernoulli(m.tensor([1, 0]))):
        errors = []
        for m in (torch, dg):
            with pytest.raises(Exception) as info:
                call(m)
            errors.append(info.value)
        assert type(errors[1]) is type(errors[0]) and str(errors[1]) == str(errors[0])


def test_bernoulli_on_a_gpu_matches_the_cpu():
    p = np.array([0.2, 0.5, 0.9, 0.4], np.float32)
    dg.manual_seed(2)
    cpu = dg.bernoulli(dg.tensor(p))
    with fake_cupy.installed():
        dg.manual_seed(2)
        dev = dg.bernoulli(dg.tensor(p, device="cuda"))
        assert dev.is_cuda and dev.cpu().tolist() == cpu.tolist()
        dg.manual_seed(2)
        assert dg.zeros(4, device="cuda").bernoulli_(dg.tensor(p, device="cuda")).is_cuda


# -------------------------------------------------------------------------- factories
def test_factories_take_size_by_keyword():
    for name, kwargs in [("zeros", {}), ("ones", {"dtype": "float64"}), ("empty", {}),
                         ("rand", {}), ("randn", {"requires_grad": True})]:
        t = getattr(dg, name)(size=(2, 3), **kwargs)
        assert t.shape == (2, 3) and t.requires_grad == kwargs.get("requires_grad", False)
        assert getattr(dg, name)(size=[4]).shape == (4,)
        with pytest.raises(TypeError, match=f"{name}\\(\\) got multiple values for argument "
                                            "'size'"):
            getattr(dg, name)(2, size=(2, 3))
    assert dg.full(size=(2,), fill_value=7).tolist() == [7, 7]
    assert dg.zeros(size=()).shape == ()


def test_randint_forms_match_torch():
    torch = _torch()
    for args, kwargs, (low, high) in [
            ((5, (2, 3)), {}, (0, 5)), ((2, 5, (40,)), {}, (2, 5)), ((5,), {"size": (3,)}, (0, 5)),
            ((2, 5), {"size": (30,)}, (2, 5)), ((), {"high": 5, "size": (3,)}, (0, 5)),
            ((), {"low": 2, "high": 5, "size": [2, 2]}, (2, 5)), ((5, ()), {}, (0, 5))]:
        d, t = dg.randint(*args, **kwargs), torch.randint(*args, **kwargs)
        assert d.shape == tuple(t.shape) and d.dtype == dg.int64
        assert ((d >= low) & (d < high)).all()
    dg.manual_seed(4)
    a = dg.randint(0, 100, (10,))
    dg.manual_seed(4)
    assert dg.randint(100, size=(10,)).tolist() == a.tolist()
    for args in [(3, 10), (3, 10, 5)]:
        errors = []
        for m in (torch, dg):
            with pytest.raises(TypeError) as info:
                m.randint(*args)
            errors.append(str(info.value).split("\n")[0])
        assert errors[1] == errors[0]
    with pytest.raises(TypeError, match="invalid combination"):
        dg.randint(3)


# ------------------------------------------------------------------------------ on a GPU
GPU_CASES = [
    lambda a, b: [a.log1p(), a.expm1(), a.erf(), a.rsqrt(), a.square(), a.reciprocal()],
    lambda a, b: [a.log2(), a.log10(), a.exp2(), a.tan(), (a - 1).asin(), (a - 1).acos()],
    lambda a, b: [a.atan(), a.sinh(), a.cosh(), a.asinh(), (a + 1).acosh(), (a - 1).atanh()],
    lambda a, b: [a.frac(), a.sgn(), (a / 3).logit(), (a / 3).logit(0.2), dg.where(a > 1)[0]],
    lambda a, b: [dg.atan2(a, b), dg.hypot(a, b), dg.lerp(a, b, 0.7), dg.lerp(a, b, a / 3)],
    lambda a, b: [dg.softmax(a, 1), b.log_softmax(0), (a - 1).clone().atanh_()],
]


@pytest.mark.parametrize("case", range(len(GPU_CASES)))
def test_on_a_gpu_equal_the_cpu(case):
    """Every op on (fake) CUDA tensors: device outputs and gradients equal to the CPU's."""
    rng = np.random.default_rng(case)
    arrays = [rng.uniform(0.2, 1.8, (3, 4)), rng.uniform(0.2, 1.8, (4,))]
    results = []
    for device in ("cpu", "cuda"):
        with fake_cupy.installed():
            ins = [dg.tensor(a, device=device, requires_grad=True) for a in arrays]
            outs = GPU_CASES[case](*ins)
            sum(o.sum() for o in outs if o.requires_grad).backward()
            assert all(o.device.type == device for o in outs)
            results.append([o.detach().cpu().numpy() for o in outs] +
                           [t.grad.cpu().numpy() for t in ins if t.grad is not None])
    for c, d in zip(*results):
        np.testing.assert_allclose(d, c, rtol=1e-12)
