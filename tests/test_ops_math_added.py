"""addcmul/addcdiv, addmm/addmv/baddbmm/addbmm, clamp_min/clamp_max, logaddexp(2), nan_to_num,
lgamma/digamma, float_power, signbit, var_mean/std_mean, aminmax, quantile/nanquantile,
nanmedian, mode, cov/corrcoef: values, dtypes and gradients (first and second order) against
PyTorch on the same float64 inputs (broadcasting included), finite-difference checks, in-place
variants, and PyTorch's error messages."""
import warnings

import numpy as np
import pytest

import distgrad as dg
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.ops import elementwise, sorting


def check_against_torch(fn, specs, **kwargs):
    """``tests/test_ops_torch.py``'s oracle (skipped without PyTorch)."""
    pytest.importorskip("torch")
    from test_ops_torch import check_against_torch as check
    check(fn, specs, **kwargs)


def _torch():
    return pytest.importorskip("torch")


def _first_grad(m, fn, *xs):
    """The gradients of sum(fn(*xs) * w) w.r.t. ``xs`` with ``create_graph``: differentiating
    them checks double backward."""
    out = fn(m, *xs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    rng = np.random.default_rng(7)
    loss = sum([(o * m.tensor(rng.standard_normal(tuple(o.shape)))).sum() for o in outs
                if o.is_floating_point()])
    return list(m.autograd.grad(loss, xs, create_graph=True))


def _both(call):
    """``call(m)`` for PyTorch and distgrad: a result or the exception raised, for each."""
    torch = _torch()
    results = []
    for m in (torch, dg):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results.append(call(m))
        except Exception as exc:  # compared below
            results.append(exc)
    return results


def _assert_same(t, d, rtol=1e-12):
    """Same type and first message line for exceptions, else same dtype, shape and values."""
    if isinstance(t, Exception):
        assert type(d) is type(t), f"{type(d).__name__}: {d}"
        assert str(d).split("\n")[0] == str(t).split("\n")[0]
        return
    assert not isinstance(d, Exception), d
    t = t if isinstance(t, (tuple, list)) else (t,)
    d = d if isinstance(d, (tuple, list)) else (d,)
    assert len(d) == len(t)
    for a, b in zip(t, d):
        assert str(b.dtype) == str(a.dtype).replace("torch.", "")
        assert tuple(b.shape) == tuple(a.shape)
        np.testing.assert_allclose(b.detach().numpy().astype(float),
                                   a.detach().numpy().astype(float), rtol=rtol, atol=1e-30)


_RANGES = {"n": (-1.9, 1.7), "p": (0.5, 2.0), "u": (-0.85, 0.8), "z": (0.25, 1.9)}


def _domain(kind, shape):
    """Evenly spread, distinct float64 inputs: n around 0, p in [0.5, 2], u in (-0.9, 0.9),
    z with |x| >= 0.25 and both signs."""
    lo, hi = _RANGES[kind]
    x = np.linspace(lo, hi, int(np.prod(shape))).reshape(shape)
    x = np.random.default_rng(3).permutation(x.ravel()).reshape(shape)
    return x * np.where(np.arange(x.size) % 2, -1, 1).reshape(shape) if kind == "z" else x


# ------------------------------------------------------------------ elementwise, broadcasting
TERNARY_SHAPES = [((3, 4), (3, 4), (3, 4)), ((2, 1, 3), (4, 1), (3,)), ((), (2, 3), ()),
                  ((3,), (2, 1), ())]

TERNARY = {
    "addcmul": (lambda m, a, b, c: m.addcmul(a, b, c), "n", "n", "n"),
    "addcmul_value": (lambda m, a, b, c: m.addcmul(a, b, c, value=-0.75), "n", "n", "n"),
    "addcmul_method": (lambda m, a, b, c: a.addcmul(b, c, value=2), "n", "n", "n"),
    "addcdiv": (lambda m, a, b, c: m.addcdiv(a, b, c), "n", "n", "z"),
    "addcdiv_value": (lambda m, a, b, c: a.addcdiv(b, c, value=0.5), "n", "n", "z"),
    "addcmul_0d_value": (lambda m, a, b, c: m.addcmul(a, b, c, value=m.tensor(3.0)), "n", "n",
                         "n"),
}


@pytest.mark.parametrize("shapes", TERNARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", list(TERNARY))
def test_addcmul_addcdiv_against_torch(name, shapes):
    fn, *kinds = TERNARY[name]
    check_against_torch(fn, list(zip(shapes, kinds)))


BINARY_SHAPES = [((3, 4), (3, 4)), ((2, 1, 3), (4, 1)), ((), (2, 3)), ((3,), ())]

BINARY = {
    "logaddexp": (lambda m, a, b: m.logaddexp(a, b), "n", "n"),
    "logaddexp_method": (lambda m, a, b: a.logaddexp(b * 30), "n", "n"),
    "logaddexp2": (lambda m, a, b: m.logaddexp2(a, b) + b.logaddexp2(a * 20), "n", "n"),
    "clamp_min_tensor": (lambda m, a, b: m.clamp_min(a, b), "n", "n"),
    "clamp_max_tensor": (lambda m, a, b: a.clamp_max(b), "n", "n"),
    "clamp_min_number": (lambda m, a, b: m.clamp_min(a, 0.1) * b, "n", "n"),
    "clamp_max_number": (lambda m, a, b: m.clamp_max(a, -0.2) + b, "n", "n"),
    "float_power": (lambda m, a, b: m.float_power(a, b), "p", "n"),
    "float_power_number": (lambda m, a, b: m.float_power(a, 2.5) + m.float_power(1.5, b)
                           + a.float_power(3), "p", "n"),
}


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_against_torch(name, shapes):
    fn, ka, kb = BINARY[name]
    check_against_torch(fn, [(shapes[0], ka), (shapes[1], kb)])


UNARY = {
    "lgamma": (lambda m, x: m.lgamma(x * 6), "n"),
    "lgamma_method": (lambda m, x: (x * 40).lgamma() + (x + 2.5).lgamma(), "n"),
    "digamma": (lambda m, x: m.digamma(x * 6), "n"),
    "digamma_method": (lambda m, x: (x * 40).digamma() + (x * 1e-3).digamma(), "z"),
    "nan_to_num": (lambda m, x: m.nan_to_num(x.log(), 2.0, 3.0, -4.0), "n"),
    "nan_to_num_defaults": (lambda m, x: m.nan_to_num(x.log()) / 1e300, "n"),
    "nan_to_num_inf": (lambda m, x: (1 / (x - x.detach())).nan_to_num(posinf=5.0, neginf=-1.0)
                       * x, "n"),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("shape", [(3, 4), ()], ids=str)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_against_torch(name, shape):
    fn, kind = UNARY[name]
    check_against_torch(fn, [(shape, kind)])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_gamma_functions_at_special_points_match_torch():
    """Poles, zeros of lgamma, infinities, NaN, tiny and huge arguments: values and gradients
    (digamma's is polygamma(1): PyTorch's truncated series, reproduced to rounding)."""
    x = np.array([0.0, -0.0, -1.0, -2.5, 1.0, 2.0, np.inf, -np.inf, np.nan, 1e-310, 1e300,
                  -1e20, -0.5, 0.5, -1e-300, 10.0, 3.0, 1e17, -7.25, 1.0 + 1e-6, 2.0 - 1e-6])
    for op in ("lgamma", "digamma"):
        results = []
        for m in _both(lambda m: m):
            t = m.tensor(x, requires_grad=True)
            y = getattr(m, op)(t)
            y.sum().backward()
            results.append((y.detach().numpy(), t.grad.numpy()))
        (ty, tg), (dy, dgrad) = results
        np.testing.assert_allclose(dy, ty, rtol=1e-9, atol=1e-14, err_msg=op)
        np.testing.assert_allclose(dgrad, tg, rtol=1e-9, atol=1e-14, err_msg=op)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_polygamma_orders_match_torch():
    """The private polygamma behind digamma's derivatives: orders 1 to 4 (Hurwitz zeta)."""
    torch = _torch()
    x = np.concatenate([np.linspace(-9.7, 25, 400), [0.0, -3.0, np.inf, -np.inf, np.nan, 1e-8]])
    for n in range(1, 5):
        want = torch.polygamma(n, torch.tensor(x)).numpy()
        np.testing.assert_allclose(elementwise._polygamma(n, x), want, rtol=1e-11, atol=1e-300,
                                   err_msg=f"order {n}")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_logaddexp_at_infinities_matches_torch():
    inf, nan = np.inf, np.nan
    a = np.array([inf, -inf, inf, -inf, nan, 1.0, 0.0, 800.0])
    b = np.array([inf, -inf, -inf, inf, 1.0, nan, 0.0, -800.0])
    for op in ("logaddexp", "logaddexp2"):
        results = []
        for m in _both(lambda m: m):
            ta, tb = m.tensor(a, requires_grad=True), m.tensor(b, requires_grad=True)
            y = getattr(m, op)(ta, tb)
            y.sum().backward()
            results.append(np.stack([y.detach().numpy(), ta.grad.numpy(), tb.grad.numpy()]))
        np.testing.assert_allclose(results[1], results[0], rtol=1e-12)


# ------------------------------------------------------------------- matrix-product updates
PRODUCTS = {
    "addmm": (lambda m, i, a, b: m.addmm(i, a, b), [((2, 4), "n"), ((2, 3), "n"), ((3, 4), "n")]),
    "addmm_broadcast": (lambda m, i, a, b: m.addmm(i, a, b, beta=0.5, alpha=-2),
                        [((4,), "n"), ((2, 3), "n"), ((3, 4), "n")]),
    "addmm_0d": (lambda m, i, a, b: i.addmm(a, b, alpha=3), [((), "n"), ((2, 3), "n"),
                                                             ((3, 4), "n")]),
    "addmv": (lambda m, i, a, v: m.addmv(i, a, v, beta=2), [((2,), "n"), ((2, 3), "n"),
                                                            ((3,), "n")]),
    "addmv_broadcast": (lambda m, i, a, v: i.addmv(a, v, alpha=0.25),
                        [((1,), "n"), ((4, 3), "n"), ((3,), "n")]),
    "baddbmm": (lambda m, i, a, b: m.baddbmm(i, a, b, beta=-1, alpha=0.5),
                [((5, 2, 4), "n"), ((5, 2, 3), "n"), ((5, 3, 4), "n")]),
    "baddbmm_broadcast": (lambda m, i, a, b: i.baddbmm(a, b),
                          [((2, 1), "n"), ((5, 2, 3), "n"), ((5, 3, 4), "n")]),
    "addbmm": (lambda m, i, a, b: m.addbmm(i, a, b, beta=2, alpha=1.5),
               [((2, 4), "n"), ((5, 2, 3), "n"), ((5, 3, 4), "n")]),
    "addbmm_broadcast": (lambda m, i, a, b: i.addbmm(a, b), [((1, 4), "n"), ((3, 2, 3), "n"),
                                                             ((3, 3, 4), "n")]),
    "beta_zero": (lambda m, i, a, b: m.addmm(i.log() - 5, a, b, beta=0),
                  [((2, 4), "n"), ((2, 3), "n"), ((3, 4), "n")]),
    "alpha_zero": (lambda m, i, a, b: m.addmm(i, a.log(), b, alpha=0),
                   [((2, 4), "n"), ((2, 3), "n"), ((3, 4), "n")]),
    "both_zero": (lambda m, i, a, b: m.baddbmm(i.log(), a, b, beta=0, alpha=0),
                  [((2, 4), "n"), ((3, 2, 3), "n"), ((3, 3, 4), "n")]),
    "in_place": (lambda m, i, a, b: (i * 1).addmm_(a, b, beta=0.5)
                 + (i[:, 0] * 1).addmv_(a, b[:, 0], alpha=2)[:, None]
                 + (i.expand(3, 2, 4) * 1).baddbmm_(a.expand(3, 2, 3), b.expand(3, 3, 4)).sum(0)
                 + (i * 1).addbmm_(a.expand(3, 2, 3), b.expand(3, 3, 4), beta=2),
                 [((2, 4), "n"), ((2, 3), "n"), ((3, 4), "n")]),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", list(PRODUCTS))
def test_matrix_product_updates_against_torch(name):
    """Values and gradients; a zero ``beta`` (``alpha``) drops ``input`` (the product), NaN
    included, its gradient then being zero."""
    fn, specs = PRODUCTS[name]
    check_against_torch(fn, specs)


def test_integer_matrix_product_updates_truncate_the_scales():
    for call in (lambda m: m.addmm(m.ones(2, 4, dtype=m.int64), m.ones(2, 3, dtype=m.int64),
                                   m.ones(3, 4, dtype=m.int64), alpha=1.5, beta=2.7),
                 lambda m: m.addmv(m.arange(2), m.ones(2, 3, dtype=m.int64), m.arange(3),
                                   alpha=-1.5),
                 lambda m: m.baddbmm(m.ones(1, 2, 4, dtype=m.int32), m.ones(1, 2, 3, dtype=m.int32),
                                     m.ones(1, 3, 4, dtype=m.int32), beta=0.5),
                 lambda m: m.addbmm(m.ones(2, 4, dtype=m.int64), m.ones(3, 2, 3, dtype=m.int64),
                                    m.ones(3, 3, 4, dtype=m.int64), alpha=2)):
        _assert_same(*_both(call))


# --------------------------------------------------------------------- reductions and stats
REDUCTIONS = {
    "var_mean": (lambda m, x: m.var_mean(x), (3, 4)),
    "var_mean_dim": (lambda m, x: m.var_mean(x, 1, keepdim=True), (3, 4)),
    "var_mean_unbiased": (lambda m, x: m.var_mean(x, 0, False), (3, 4)),
    "var_mean_unbiased_overload": (lambda m, x: m.var_mean(x, False), (3, 4)),
    "var_mean_correction": (lambda m, x: m.var_mean(x, dim=(0, 2), correction=2), (3, 2, 4)),
    "std_mean": (lambda m, x: m.std_mean(x, -1), (3, 4)),
    "std_mean_keepdim": (lambda m, x: m.std_mean(x, [0], correction=0, keepdim=True), (3, 4)),
    "aminmax": (lambda m, x: m.aminmax(x), (3, 4)),
    "aminmax_keepdim": (lambda m, x: m.aminmax(x, keepdim=True), (3, 4)),
    "aminmax_dim": (lambda m, x: x.aminmax(dim=0), (3, 4)),
    "aminmax_dim_keepdim": (lambda m, x: m.aminmax(x, dim=-1, keepdim=True), (3, 4)),
    "aminmax_ties": (lambda m, x: m.aminmax(m.round(x * 2) + x - x.detach(), dim=1), (4, 6)),
    "aminmax_0d": (lambda m, x: m.aminmax(x, dim=0, keepdim=True), ()),
    "cov": (lambda m, x: m.cov(x), (3, 5)),
    "cov_1d": (lambda m, x: x.cov(correction=0), (6,)),
    "cov_one_row": (lambda m, x: m.cov(x, correction=2), (1, 5)),
    "corrcoef": (lambda m, x: m.corrcoef(x), (3, 5)),
    "corrcoef_1d": (lambda m, x: x.corrcoef(), (5,)),
    "nanmedian": (lambda m, x: m.nanmedian(x.log()), (3, 5)),
    "nanmedian_dim": (lambda m, x: m.nanmedian(x.log(), 1), (4, 5)),
    "nanmedian_dim_keepdim": (lambda m, x: x.log().nanmedian(0, True), (4, 5)),
    "nanmedian_no_nan": (lambda m, x: m.nanmedian(x), (4, 6)),
    "mode": (lambda m, x: m.mode(m.round(x * 2) + x - x.detach()), (4, 7)),
    "mode_dim": (lambda m, x: m.round(x * 2).add(x - x.detach()).mode(0, True), (7, 3)),
    "mode_distinct": (lambda m, x: m.mode(x, 1), (3, 4)),
    "mode_0d": (lambda m, x: m.mode(x, 0), ()),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reductions_against_torch(name):
    fn, shape = REDUCTIONS[name]
    check_against_torch(fn, [(shape, "n")])


def test_cov_weights_against_torch():
    fw = np.array([1, 3, 0, 2, 1])
    check_against_torch(lambda m, x, f, a: m.cov(x, fweights=f, aweights=a),
                        [((3, 5), "n"), fw, ((5,), "p")])
    check_against_torch(lambda m, x, f: m.cov(x, fweights=f, correction=0), [((2, 5), "n"), fw])
    check_against_torch(lambda m, x, a: m.cov(x, aweights=a, correction=3),
                        [((5,), "n"), ((5,), "p")])
    check_against_torch(lambda m, x, a: m.cov(x.float(), aweights=a), [((2, 5), "n"), ((5,), "p")],
                        rtol=1e-6, atol=1e-7)


QUANTILE_CASES = {
    "scalar_q": (lambda m, x, q, how: m.quantile(x, 0.3, interpolation=how), (3, 5)),
    "scalar_q_dim": (lambda m, x, q, how: m.quantile(x, 0.71, dim=1, interpolation=how), (3, 5)),
    "tensor_q": (lambda m, x, q, how: m.quantile(x, q, interpolation=how), (4, 5)),
    "tensor_q_dim_keepdim": (lambda m, x, q, how: x.quantile(q, 0, True, interpolation=how),
                             (4, 5)),
    "tensor_q_all_keepdim": (lambda m, x, q, how: m.quantile(x, q, keepdim=True,
                                                             interpolation=how), (2, 3, 2)),
    "0d_q": (lambda m, x, q, how: m.quantile(x, q[1], dim=-1, interpolation=how), (3, 6)),
    "nan_slices": (lambda m, x, q, how: m.quantile(x.log(), q, dim=1, interpolation=how), (4, 6)),
    "nanquantile": (lambda m, x, q, how: m.nanquantile(x.log(), q, dim=1, interpolation=how),
                    (4, 6)),
    "nanquantile_all": (lambda m, x, q, how: x.log().nanquantile(0.5, interpolation=how), (3, 4)),
    "nanquantile_all_nan": (lambda m, x, q, how: m.nanquantile(m.where(x > 0, x.log(), x) - 3,
                                                               q, dim=0, interpolation=how),
                            (2, 4)),
    "0d_input": (lambda m, x, q, how: m.quantile(x, q, dim=0, interpolation=how), ()),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("how", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("name", list(QUANTILE_CASES))
def test_quantile_against_torch(name, how):
    """Values and gradients w.r.t. the input and a tensor ``q`` (which only the linear
    interpolation differentiates); q = 0.5 and 0.875 hit the rounding of ranks x.5."""
    fn, shape = QUANTILE_CASES[name]
    q = np.array([0.0, 0.5, 0.875, 0.3, 1.0])
    check_against_torch(lambda m, x, qt: fn(m, x, qt, how), [(shape, "n"), q])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_quantile_q_gradient_against_torch():
    check_against_torch(lambda m, x, q: m.quantile(x, q.sigmoid(), dim=0), [((6, 3), "n"),
                                                                             ((4,), "n")])
    check_against_torch(lambda m, x, q: m.nanquantile(x.log(), q.sigmoid(), dim=1),
                        [((3, 7), "n"), ((2,), "n")])


def test_nanmedian_of_all_nan_slices_takes_torchs_index():
    """PyTorch's index for an all-NaN slice is where its ``nth_element`` leaves it."""
    x = np.full((40, 40), np.nan)
    x[1::2, 5] = 1.0
    t, d = _both(lambda m: m.nanmedian(m.tensor(x), 1))
    assert d.indices.tolist() == t.indices.tolist()
    assert np.array_equal(d.values.numpy(), t.values.numpy(), equal_nan=True)
    for n in (1, 4, 13, 100, 4097):
        t, d = _both(lambda m: m.nanmedian(m.full((2, n), float("nan")), -1).indices)
        assert d.tolist() == t.tolist()
    assert sorting._introselect_first(1) == 0


def test_mode_ties_and_sign_of_zero_match_torch():
    for values in ([3.0, 1.0, 3.0, 1.0, 2.0], [-0.0, 0.0, 1.0], [0.0, -0.0, 1.0], [7, 2, 7, 2, 2],
                   [True, False, True], [[5, 5, 4, 4, 4], [1, 2, 3, 4, 5]]):
        t, d = _both(lambda m: m.mode(m.tensor(values)))
        _assert_same(tuple(t), tuple(d))
        assert np.signbit(d.values.numpy()).tolist() == np.signbit(t.values.numpy()).tolist()


# ----------------------------------------------------------------------- double backward
DOUBLE = {
    "addcmul": (lambda m, a, b: m.addcmul(a, b, a * b, value=0.5), "n", "n"),
    "addcdiv": (lambda m, a, b: m.addcdiv(b, a, b, value=2), "n", "z"),
    "logaddexp": (lambda m, a, b: m.logaddexp(a, b), "n", "n"),
    "logaddexp2": (lambda m, a, b: m.logaddexp2(a, b), "n", "n"),
    "lgamma": (lambda m, a, b: m.lgamma(a * 3) * b, "n", "n"),
    "digamma": (lambda m, a, b: m.digamma(a * 3) * b, "n", "n"),
    "float_power": (lambda m, a, b: m.float_power(a, b), "p", "n"),
    "clamp_min": (lambda m, a, b: m.clamp_min(a, b) * a, "n", "n"),
    "nan_to_num": (lambda m, a, b: m.nan_to_num(a.log(), -1.0) * b, "n", "n"),
    "addmm": (lambda m, a, b: m.addmm(a, b.reshape(3, 1), b.reshape(1, 3) * b, beta=2), "n", "n"),
    "baddbmm": (lambda m, a, b: m.baddbmm(a, b.reshape(1, 3, 1), b.reshape(1, 1, 3) * b, alpha=3),
                "n", "n"),
    "var_mean": (lambda m, a, b: m.var_mean(a * b), "n", "n"),
    "std_mean": (lambda m, a, b: m.std_mean(a * b, correction=0), "n", "n"),
    "cov": (lambda m, a, b: m.cov(m.stack([a, b]), aweights=b * b), "n", "n"),
    "corrcoef": (lambda m, a, b: m.corrcoef(m.stack([a, b, a * b])), "n", "n"),
    "quantile": (lambda m, a, b: m.quantile(a * b, b.sigmoid()), "n", "n"),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", list(DOUBLE))
def test_double_backward_against_torch(name):
    fn, ka, kb = DOUBLE[name]
    shape = (3, 3) if name in ("addmm", "baddbmm") else (3,)
    check_against_torch(lambda m, a, b: _first_grad(m, fn, a, b), [(shape, ka), ((3,), kb)])


# --------------------------------------------------------------- finite-difference checks
_ONE_NAN = dg.tensor([[True, False, False], [False, False, False]])

GRADCHECK = {
    "addcmul": (lambda a, b: dg.addcmul(a, b, b.exp(), value=-1.5), "n", "n"),
    "addcdiv": (lambda a, b: dg.addcdiv(a, a, b, value=0.3), "n", "z"),
    "logaddexp": (lambda a, b: dg.logaddexp(a, b * 2), "n", "n"),
    "logaddexp2": (lambda a, b: a.logaddexp2(b), "n", "n"),
    "clamp_min": (lambda a, b: dg.clamp_min(a, b + 0.1) + a.clamp_min(0.05), "n", "n"),
    "clamp_max": (lambda a, b: dg.clamp_max(a, b + 0.1) + a.clamp_max(0.05), "n", "n"),
    "nan_to_num": (lambda a, b: dg.nan_to_num(a.log(), 0.5) * b, "n", "n"),
    "lgamma": (lambda a, b: dg.lgamma(a * 4) + b.lgamma(), "n", "z"),
    "digamma": (lambda a, b: dg.digamma(a * 4) + b.digamma(), "n", "z"),
    "float_power": (lambda a, b: dg.float_power(a, b) + dg.float_power(2, b), "p", "n"),
    "addmm": (lambda a, b: dg.addmm(b, a, a.t(), beta=0.5, alpha=2), "n", "n"),
    "addmv": (lambda a, b: dg.addmv(b[:2], a, b, alpha=-1), "n", "n"),
    "baddbmm": (lambda a, b: dg.baddbmm(b, a[None], a.t()[None]), "n", "n"),
    "addbmm": (lambda a, b: dg.addbmm(b, a[None].expand(2, 2, 3), a.t()[None].expand(2, 3, 2)),
               "n", "n"),
    "var_mean": (lambda a, b: dg.var_mean(a * b, 0), "n", "n"),
    "std_mean": (lambda a, b: dg.std_mean(a + b, 1, keepdim=True), "n", "n"),
    "aminmax": (lambda a, b: dg.aminmax(a * b, dim=1), "n", "n"),
    "cov": (lambda a, b: dg.cov(a * b, aweights=b[0] * b[0]), "n", "n"),
    "corrcoef": (lambda a, b: dg.corrcoef(a + b), "n", "n"),
    "quantile": (lambda a, b: dg.quantile(a * b, b[0].sigmoid(), dim=1), "n", "n"),
    "nanquantile": (lambda a, b: dg.nanquantile(a.masked_fill(_ONE_NAN, float("nan")), 0.4,
                                                dim=0) * b, "n", "n"),
    "nanmedian": (lambda a, b: dg.nanmedian(a.masked_fill(a < -1, float("nan")), 1).values
                  + dg.nanmedian(b), "n", "n"),
    "mode": (lambda a, b: dg.mode(a + b).values, "n", "n"),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", list(GRADCHECK))
def test_gradcheck_and_gradgradcheck(name):
    fn, ka, kb = GRADCHECK[name]
    a = dg.tensor(_domain(ka, (2, 3)), requires_grad=True)
    b = dg.tensor(_domain(kb, (3,)), requires_grad=True)
    if name == "addbmm" or name == "addmm" or name == "baddbmm":
        b = dg.tensor(_domain(kb, (2, 2)), requires_grad=True)
    elif name in ("cov", "corrcoef", "var_mean", "aminmax", "quantile"):
        b = dg.tensor(_domain(kb, (2, 3)) + 3, requires_grad=True)
    assert gradcheck(fn, (a, b))
    assert gradgradcheck(fn, (a, b))


# ---------------------------------------------------------------------------- dtypes
DTYPE_CALLS = {
    "addcmul_int": lambda m, i, f: m.addcmul(i, i, i, value=2.7),
    "addcmul_int_float": lambda m, i, f: m.addcmul(i, f, i),
    "addcmul_0d_double": lambda m, i, f: m.addcmul(f, m.tensor(2.0, dtype=m.float64), f),
    "addcdiv_int_input": lambda m, i, f: m.addcdiv(i, f, f, value=3),
    "addcdiv_float_int": lambda m, i, f: m.addcdiv(f, f, i + 1),
    "clamp_min_int_float": lambda m, i, f: m.clamp_min(i, 0.5),
    "clamp_max_int": lambda m, i, f: m.clamp_max(i, 1),
    "logaddexp_float32": lambda m, i, f: m.logaddexp(f, f * 2),
    "logaddexp_mixed": lambda m, i, f: m.logaddexp(i, f),
    "logaddexp2_half": lambda m, i, f: m.logaddexp2(f.half(), f.half()),
    "nan_to_num_int": lambda m, i, f: m.nan_to_num(i, 2.5),
    "nan_to_num_bool": lambda m, i, f: m.nan_to_num(i > 1),
    "nan_to_num_float32": lambda m, i, f: m.nan_to_num((f - 1).log(), posinf=1e300),
    "nan_to_num_half": lambda m, i, f: m.nan_to_num((f - 1).log().half()),
    "lgamma_int": lambda m, i, f: m.lgamma(i),
    "lgamma_float32": lambda m, i, f: m.lgamma(f * 3),
    "digamma_bool": lambda m, i, f: m.digamma(i > 1),
    "digamma_float32": lambda m, i, f: m.digamma(f * -2.5),
    "float_power_int": lambda m, i, f: m.float_power(i, 2),
    "float_power_float32": lambda m, i, f: m.float_power(f, i),
    "signbit_float": lambda m, i, f: m.signbit(m.tensor([-0.0, 0.0, -1.0, float("nan"),
                                                         -float("nan")])),
    "signbit_int": lambda m, i, f: m.signbit(i - 1),
    "signbit_bool_uint8": lambda m, i, f: [m.signbit(i > 1), m.signbit(i.to(m.uint8))],
    "addmm_int": lambda m, i, f: m.addmm(i[:2], i[:2, None], i[None, :2]),
    "aminmax_int_bool": lambda m, i, f: [*m.aminmax(i), *m.aminmax(i > 1)],
    "aminmax_float32_nan": lambda m, i, f: m.aminmax((f - 1).log(), dim=0),
    "var_mean_float32": lambda m, i, f: m.var_mean(f),
    "quantile_float32": lambda m, i, f: m.quantile(f, m.tensor([0.25, 0.6]), dim=0),
    "nanmedian_int": lambda m, i, f: [m.nanmedian(i), *m.nanmedian(i, 0)],
    "mode_int": lambda m, i, f: m.mode(i // 2),
    "cov_int": lambda m, i, f: m.cov(i.reshape(2, 2)),
    "cov_float32_double_weights": lambda m, i, f: m.cov(f, aweights=f.double()),
    "corrcoef_int": lambda m, i, f: m.corrcoef(i.reshape(2, 2) * i.reshape(2, 2)),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", list(DTYPE_CALLS))
def test_dtypes_of_results_match_torch(name):
    """Integer, bool, float32 and float16 inputs: result dtypes and values."""
    call = DTYPE_CALLS[name]
    t, d = _both(lambda m: call(m, m.tensor([0, 1, 2, 3]), m.tensor([0.5, 1.0, 2.0, 3.5])))
    _assert_same(t, d, rtol=1e-6)


# --------------------------------------------------------------------------- in place
IN_PLACE = {
    "addcmul_": lambda x, y: x.addcmul_(y, y, value=2),
    "addcdiv_": lambda x, y: x.addcdiv_(y, y + 3),
    "clamp_min_": lambda x, y: x.clamp_min_(0.1),
    "clamp_max_": lambda x, y: x.clamp_max_(y),
    "nan_to_num_": lambda x, y: x.nan_to_num_(),
    "lgamma_": lambda x, y: x.lgamma_(),
    "digamma_": lambda x, y: x.digamma_(),
    "float_power_": lambda x, y: x.float_power_(y),
    "addmm_": lambda x, y: x.addmm_(y[:, None], y[None, :]),
    "addmv_": lambda x, y: x.addmv_(y[:, None] * y, y),
    "baddbmm_": lambda x, y: x.baddbmm_(y[None, :, None], y[None, None, :]),
    "addbmm_": lambda x, y: x.addbmm_(y[None, :, None], y[None, None, :]),
}


def _in_place_operand(name, m):
    shape = {"addmm_": (3, 3), "addbmm_": (3, 3), "baddbmm_": (1, 3, 3)}.get(name, (3,))
    return m.tensor(_domain("p", shape) + 1)


@pytest.mark.parametrize("name", list(IN_PLACE))
def test_in_place_variants(name):
    """Same values as PyTorch, the version counter bumped, the same tensor returned; a leaf that
    requires grad refuses, as in PyTorch."""
    fn = IN_PLACE[name]
    results = []
    for m in _both(lambda m: m):
        x, y = _in_place_operand(name, m), m.tensor(_domain("p", (3,)))
        version = x._version
        assert fn(x, y) is x and x._version == version + 1
        leaf = _in_place_operand(name, m).requires_grad_()
        with pytest.raises(RuntimeError) as info:
            fn(leaf, y)
        results.append((x, str(info.value)))
    (tx, t_msg), (dx, d_msg) = results
    _assert_same(tx, dx)
    assert d_msg == t_msg.replace("torch", "distgrad")


def test_in_place_through_autograd_against_torch():
    check_against_torch(lambda m, a, b: [(a * 1).addcmul_(b, b), (a * 1).addcdiv_(a, b, value=2),
                                         (a * 1).clamp_min_(b), (a * 1).clamp_max_(0.2),
                                         (a.log() * 1).nan_to_num_(1.0), (a * 1).lgamma_(),
                                         (a * 3).digamma_(), (a * 1).float_power_(b)],
                        [((2, 3), "p"), ((3,), "z")])


# ----------------------------------------------------------------------------- errors
ERRORS = [
    lambda m, f, d, i: m.addcmul(m.ones(2, 3), m.ones(4), m.ones(3)),
    lambda m, f, d, i: m.addcmul(m.ones(4), m.ones(2, 3), m.ones(3)),
    lambda m, f, d, i: m.addcmul(f, f, 2.0),
    lambda m, f, d, i: m.addcmul(i > 0, i > 0, i > 0),
    lambda m, f, d, i: m.addcdiv(f, i, i),
    lambda m, f, d, i: m.ones(3).addcmul_(m.ones(2, 3), m.ones(3)),
    lambda m, f, d, i: i.clone().addcmul_(f, f),
    lambda m, f, d, i: m.clamp_min(f, None),
    lambda m, f, d, i: m.clamp_max(f, m.ones(3)),
    lambda m, f, d, i: m.logaddexp(i, i),
    lambda m, f, d, i: m.logaddexp2(i > 0, i > 0),
    lambda m, f, d, i: m.logaddexp(f, 1.0),
    lambda m, f, d, i: m.float_power(2, 3),
    lambda m, f, d, i: f.float_power_(2),
    lambda m, f, d, i: i.float_power_(f),
    lambda m, f, d, i: i.lgamma_(),
    lambda m, f, d, i: m.addmm(m.ones(3), m.ones(2, 3), m.ones(3, 4)),
    lambda m, f, d, i: m.addmm(m.ones(2, 4), m.ones(2, 3), m.ones(4, 4)),
    lambda m, f, d, i: m.addmm(m.ones(2, 4), m.ones(3), m.ones(3, 4)),
    lambda m, f, d, i: m.addmm(m.ones(2, 4), m.ones(2, 3), m.ones(3)),
    lambda m, f, d, i: m.addmm(m.ones(2, 4).double(), m.ones(2, 3), m.ones(3, 4)),
    lambda m, f, d, i: m.addmm(m.ones(2, 4), m.ones(2, 3).double(), m.ones(3, 4)),
    lambda m, f, d, i: m.addmm(m.ones(2, 4).bool(), m.ones(2, 3).bool(), m.ones(3, 4).bool()),
    lambda m, f, d, i: m.addmm(2.0, m.ones(2, 3), m.ones(3, 4)),
    lambda m, f, d, i: m.ones(4).addmm_(m.ones(2, 3), m.ones(3, 4)),
    lambda m, f, d, i: m.ones(1, 4).addmm_(m.ones(2, 3), m.ones(3, 4)),
    lambda m, f, d, i: m.addmv(m.ones(3), m.ones(2, 3), m.ones(3)),
    lambda m, f, d, i: m.addmv(m.ones(2, 2), m.ones(2, 3), m.ones(3)),
    lambda m, f, d, i: m.addmv(m.ones(2), m.ones(2, 3), m.ones(4)),
    lambda m, f, d, i: m.addmv(m.ones(2), m.ones(2, 3), m.ones(3).double()),
    lambda m, f, d, i: m.addmv(m.ones(2).bool(), m.ones(2, 3).bool(), m.ones(3).bool()),
    lambda m, f, d, i: m.baddbmm(m.ones(6, 2, 4), m.ones(5, 2, 3), m.ones(5, 3, 4)),
    lambda m, f, d, i: m.baddbmm(m.ones(5, 2, 4), m.ones(5, 2, 3), m.ones(4, 3, 4)),
    lambda m, f, d, i: m.baddbmm(m.ones(5, 2, 4), m.ones(5, 2, 3, 1), m.ones(5, 3, 4)),
    lambda m, f, d, i: m.baddbmm(m.ones(2, 4), m.ones(2, 3), m.ones(3, 4)),
    lambda m, f, d, i: m.baddbmm(m.ones(5, 2, 4), m.ones(5, 2, 3).double(),
                                 m.ones(5, 3, 4).double()),
    lambda m, f, d, i: m.baddbmm(m.ones(1, 2, 4).bool(), m.ones(1, 2, 3).bool(),
                                 m.ones(1, 3, 4).bool()),
    lambda m, f, d, i: m.addbmm(m.ones(3, 4), m.ones(5, 2, 3), m.ones(5, 3, 4)),
    lambda m, f, d, i: m.addbmm(m.ones(2, 4), m.ones(5, 2, 3), m.ones(4, 3, 4)),
    lambda m, f, d, i: m.addbmm(m.ones(2, 4), m.ones(5, 2, 3), m.ones(5, 4, 4)),
    lambda m, f, d, i: m.addbmm(m.ones(2, 4), m.ones(5, 2, 3), m.ones(5, 3, 4).double()),
    lambda m, f, d, i: m.ones(4).baddbmm_(m.ones(5, 2, 3), m.ones(5, 3, 4)),
    lambda m, f, d, i: m.var_mean(i),
    lambda m, f, d, i: m.std_mean(i, 0),
    lambda m, f, d, i: m.var_mean(f, 2),
    lambda m, f, d, i: m.aminmax(m.ones(0)),
    lambda m, f, d, i: m.aminmax(m.ones(0, 3), dim=0),
    lambda m, f, d, i: m.aminmax(f, dim=(0, 1)),
    lambda m, f, d, i: m.aminmax(f, 0),
    lambda m, f, d, i: m.aminmax(f, dim=2),
    lambda m, f, d, i: m.quantile(f, 1.3),
    lambda m, f, d, i: m.quantile(f, float("nan")),
    lambda m, f, d, i: m.quantile(f, m.tensor([1.3])),
    lambda m, f, d, i: m.quantile(f, m.tensor([[0.3]])),
    lambda m, f, d, i: m.quantile(f, d),
    lambda m, f, d, i: m.quantile(i, 0.3),
    lambda m, f, d, i: m.quantile(f.half(), 0.3),
    lambda m, f, d, i: m.nanquantile(m.ones(0), 0.3),
    lambda m, f, d, i: m.quantile(f, 0.3, interpolation="cubic"),
    lambda m, f, d, i: m.quantile(f, 0.3, dim=1),
    lambda m, f, d, i: m.nanmedian(i > 0),
    lambda m, f, d, i: m.nanmedian(m.ones(0, 2), 0),
    lambda m, f, d, i: m.mode(m.ones(0)),
    lambda m, f, d, i: m.mode(m.ones(2, 0), 1),
    lambda m, f, d, i: m.cov(m.ones(2, 2, 2)),
    lambda m, f, d, i: m.cov(i > 0),
    lambda m, f, d, i: m.cov(f, correction=1.5),
    lambda m, f, d, i: m.cov(f, fweights=f),
    lambda m, f, d, i: m.cov(f, fweights=m.tensor([[1, 2]])),
    lambda m, f, d, i: m.cov(f, fweights=m.tensor([1, 2, 3])),
    lambda m, f, d, i: m.cov(f, fweights=m.tensor([1, -2])),
    lambda m, f, d, i: m.cov(f, fweights=m.tensor([0, 0])),
    lambda m, f, d, i: m.cov(f, aweights=i),
    lambda m, f, d, i: m.cov(f, aweights=m.tensor([1.0, -2.0])),
    lambda m, f, d, i: m.corrcoef(m.ones(2, 2, 2)),
]


@pytest.mark.parametrize("call", ERRORS)
def test_errors_match_torch(call):
    t, d = _both(lambda m: call(m, m.tensor([0.2, 0.5]), m.tensor([0.3, 0.4], dtype=m.float64),
                                m.tensor([1, 2])))
    assert isinstance(t, Exception), t
    _assert_same(t, d)


def test_warnings_match_torch():
    torch = _torch()
    for call, phrase in [(lambda m: m.var_mean(m.ones(1)), "var_mean(): degrees of freedom"),
                         (lambda m: m.std_mean(m.ones(2), correction=2),
                          "std_mean(): degrees of freedom"),
                         (lambda m: m.std(m.ones(1)), "std(): degrees of freedom"),
                         (lambda m: m.cov(m.ones(2, 1)), "cov(): degrees of freedom")]:
        results = []
        for m in (torch, dg):
            with pytest.warns(UserWarning, match=phrase.replace("(", r"\(").replace(")", r"\)")):
                results.append(call(m))
        _assert_same(results[0], results[1])


def test_grad_fn_names_match_torch():
    names = []
    for m in _both(lambda m: m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        b = m.tensor([1.5, 1.5])
        outs = [m.clamp_min(x, 1.5), m.clamp_min(x, b), m.clamp_max(x, 1.5), m.clamp_max(x, b),
                m.logaddexp(x, b), m.logaddexp2(x, b), m.nan_to_num(x), m.lgamma(x),
                m.digamma(x), m.nanmedian(x), m.nanmedian(x, 0).values, m.mode(x).values]
        names.append([o.grad_fn.name() for o in outs])
    assert names[1] == names[0]
