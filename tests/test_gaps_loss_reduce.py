"""Gaps closed against PyTorch 2.13: kl_div's and poisson_nll_loss(full=True)'s target
gradients, nansum/nanmean over all-NaN slices, reductions with an empty dim list, and rrelu's
``grad_fn`` (and its slope at zero)."""
import warnings

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn.functional as F
from distgrad.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

pytestmark = pytest.mark.torch

NAN = float("nan")


def _run(m, fn, arrays):
    """``fn(m, *tensors)`` on float64 tensors that require grad (integer arrays as they are),
    backpropagated with fixed weights: (output, input grads, grad_fn name)."""
    ins = [m.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    out = fn(m, *ins)
    if out.requires_grad:
        w = np.random.default_rng(5).uniform(0.5, 1.5, tuple(out.shape))
        (out * m.tensor(w)).sum().backward()
    grads = [None if t.grad is None else t.grad.numpy() for t in ins]
    name = None if out.grad_fn is None else type(out.grad_fn).__name__
    if isinstance(out, dg.Tensor) and out.grad_fn is not None:
        name = out.grad_fn.name()
    return out.detach().numpy(), grads, name


def compare(fn, *arrays, grads=True, name=True):
    """Values, dtypes, shapes, gradients (NaN where PyTorch has NaN) and grad_fn names agree."""
    t_out, t_grads, t_name = _run(torch, fn, arrays)
    d_out, d_grads, d_name = _run(dg, fn, arrays)
    assert d_out.shape == t_out.shape and d_out.dtype == t_out.dtype
    np.testing.assert_allclose(d_out, t_out, rtol=1e-10, atol=1e-12)
    for dgr, tgr in zip(d_grads, t_grads):
        assert (dgr is None) == (tgr is None)
        if tgr is not None and grads:
            np.testing.assert_allclose(dgr, tgr, rtol=1e-10, atol=1e-12)
    assert d_name == t_name or not name


def _module_f(m):
    return TF if m is torch else F


# -- kl_div ------------------------------------------------------------------------------------
LOGP = np.log(np.array([[0.2, 0.3, 0.1, 0.4], [0.5, 0.1, 0.3, 0.1], [0.25, 0.25, 0.25, 0.25]]))
# zeros, a negative entry and a NaN in the target, where PyTorch's gradient is NaN
TARGET = np.array([[0.0, 0.3, 0.7, -0.2], [0.5, 0.0, 0.25, 0.25], [NAN, 0.4, 0.6, 0.0]])


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch_including_zero_targets(reduction, log_target):
    target = np.log(np.abs(TARGET) + 0.1) if log_target else TARGET
    compare(lambda m, x, t: _module_f(m).kl_div(x, t, reduction=reduction,
                                                log_target=log_target), LOGP, target)


def test_kl_div_target_without_grad_and_scalar_batchmean():
    compare(lambda m, x: _module_f(m).kl_div(x, m.tensor(TARGET), reduction="sum"), LOGP)
    compare(lambda m, x, t: _module_f(m).kl_div(x, t, reduction="batchmean"),
            np.array(-0.5), np.array(0.3))


def test_kl_div_mean_warning_and_integral_error():
    x, t = dg.tensor(LOGP), dg.tensor(np.abs(TARGET))
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(x, t)
    with warnings.catch_warnings(record=True) as caught:  # as in PyTorch, no warning when
        warnings.simplefilter("always")                    # the legacy arguments choose 'mean'
        F.kl_div(x, t, size_average=True)
        F.kl_div(x, t, reduction="batchmean")
    assert [str(w.message) for w in caught] == [
        "size_average and reduce args will be deprecated, please use reduction='mean' instead."]
    with pytest.raises(RuntimeError, match="kl_div: Integral inputs not supported"):
        F.kl_div(x, dg.tensor([[1, 0, 0, 0]] * 3), reduction="sum")


def test_kl_div_gradcheck():
    rng = np.random.default_rng(0)
    x = dg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    t = dg.tensor(rng.uniform(0.1, 1.0, (3, 4)), requires_grad=True)
    for log_target in (False, True):
        def f(a, b):
            return F.kl_div(a, b, reduction="batchmean", log_target=log_target)
        assert gradcheck(f, (x, t))
        assert gradgradcheck(f, (x, t))


# -- poisson_nll_loss(full=True) -----------------------------------------------------------------
RATE = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.5])
COUNTS = np.array([0.0, 0.5, 1.0, 2.0, 5.0, -1.0, 7.0])


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [True, False])
def test_poisson_nll_loss_target_gradient_matches_torch(reduction, log_input, full):
    compare(lambda m, x, t: _module_f(m).poisson_nll_loss(x, t, log_input=log_input, full=full,
                                                          reduction=reduction), RATE, COUNTS)


def test_poisson_nll_loss_full_gradcheck():
    x = dg.tensor([0.2, -0.3, 0.5, 0.1], dtype=dg.float64, requires_grad=True)
    t = dg.tensor([0.5, 2.0, 3.5, 9.0], dtype=dg.float64, requires_grad=True)
    for log_input in (True, False):
        def f(a, b):
            return F.poisson_nll_loss(a.abs() + 0.1, b, log_input=log_input, full=True)
        assert gradcheck(f, (x, t))
        assert gradgradcheck(f, (x, t))


# -- nansum / nanmean --------------------------------------------------------------------------
WITH_NANS = np.array([[NAN, NAN, NAN], [1.0, NAN, 2.0], [3.0, 4.0, 5.0], [NAN, 6.0, NAN]])


# the gradient of nanmean's division by a zero count (DivBackward0) warns, as for any x / 0
nanmean_division = pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")


@nanmean_division
@pytest.mark.parametrize("dim", [0, 1, -1, (0, 1), [], ()])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["nansum", "nanmean"])
def test_nansum_nanmean_match_torch(name, dim, keepdim):
    compare(lambda m, x: getattr(m, name)(x), WITH_NANS)
    compare(lambda m, x: getattr(m, name)(x, dim=dim, keepdim=keepdim), WITH_NANS)


@nanmean_division
def test_nanmean_all_nan_slice_has_nan_gradient_without_warnings():
    x = dg.tensor(WITH_NANS, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = dg.nanmean(x, dim=1)
    assert np.isnan(y.detach().numpy()[0])
    y.sum().backward()
    assert np.isnan(x.grad.numpy()[0]).all()


@nanmean_division
def test_nansum_dtype_and_integer_input():
    compare(lambda m, x: m.nansum(x, dim=0, dtype=m.float32), WITH_NANS)
    compare(lambda m, x: m.nanmean(x, dim=1, dtype=m.float32), WITH_NANS)
    compare(lambda m, x: m.nansum(x), np.array([[1, 2], [3, 4]], dtype=np.int32))


def test_nansum_nanmean_gradcheck():
    x = dg.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    for fn in (lambda a: dg.nansum(a, 1), lambda a: dg.nanmean(a, 0, keepdim=True)):
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))


# -- empty dim lists -----------------------------------------------------------------------------
MIXED = np.array([[1.0, 0.0, 2.0], [3.0, -4.0, 0.5]])


@pytest.mark.parametrize("name", ["all", "any"])
@pytest.mark.parametrize("dim", [[], ()])
@pytest.mark.parametrize("array", [
    MIXED, np.array([[True, False], [True, True]]), np.array([[1, 0], [2, 3]], dtype=np.uint8),
    np.zeros((0, 3)), np.array(0.0), np.array([NAN, 0.0])])
def test_all_any_with_empty_dim_reduce_nothing(name, dim, array):
    for keepdim in (False, True):
        expected = getattr(torch, name)(torch.tensor(array), dim=dim, keepdim=keepdim)
        got = getattr(dg, name)(dg.tensor(array), dim=dim, keepdim=keepdim)
        method = getattr(dg.tensor(array), name)(dim=dim)
        for result in (got, method):
            assert result.shape == tuple(expected.shape)
            assert str(result.dtype) == str(expected.dtype).replace("torch.", "")
            np.testing.assert_array_equal(result.numpy(), expected.numpy())


@pytest.mark.parametrize("dim", [[], ()])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "nansum", "nanmean", "norm",
                                  "var", "std"])
def test_other_reductions_with_empty_dim_reduce_everything(name, dim, keepdim):
    def fn(m, x):
        return getattr(m, name)(x, dim=dim, keepdim=keepdim)
    if name in ("var", "std"):
        # PyTorch's var/std backward counts one element for an empty dim list (its gradient is
        # inf); distgrad's is the gradient of the full reduction its forward computes
        compare(fn, MIXED, grads=False)
        x = dg.tensor(MIXED, requires_grad=True)
        (g,) = dg.autograd.grad(fn(dg, x).sum(), x)
        (full,) = dg.autograd.grad(getattr(dg, name)(x), x)
        np.testing.assert_allclose(g.numpy(), full.numpy())
    else:
        compare(fn, MIXED, name=name != "norm")  # norm: composed of other nodes in distgrad


@pytest.mark.parametrize("dim", [[], ()])
def test_count_nonzero_and_logsumexp_with_empty_dim(dim):
    assert dg.count_nonzero(dg.tensor(MIXED), dim=dim).item() == 5
    compare(lambda m, x: m.logsumexp(x, dim=dim, keepdim=True), MIXED)
    compare(lambda m, x: m.logsumexp(x, dim=dim), np.array(1.5))


@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce")  # _run's sum of inf
def test_logsumexp_matches_torch():
    inf = float("inf")
    compare(lambda m, x: m.logsumexp(x, 1), MIXED)
    compare(lambda m, x: m.logsumexp(x, (0, 1), keepdim=True), MIXED)
    compare(lambda m, x: m.logsumexp(x, -1), np.array([[-inf, -inf], [inf, 1.0], [NAN, 1.0]]))
    compare(lambda m, x: m.logsumexp(x, 0), np.zeros((0, 3)))
    compare(lambda m, x: m.logsumexp(x, 0), np.array([1, 2]))
    x = dg.tensor(np.random.default_rng(2).standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda a: dg.logsumexp(a, 1), (x,))
    assert gradgradcheck(lambda a: dg.logsumexp(a, (0, 1)), (x,))


def test_reductions_that_refuse_a_dim_list():
    x = dg.tensor(MIXED)
    for dim in ([], (), [0], (1,)):
        with pytest.raises(TypeError, match=r"prod\(\) received an invalid combination of arguments"):
            dg.prod(x, dim=dim)
        with pytest.raises(TypeError, match=r"argmax\(\): argument 'dim' must be int"):
            dg.argmax(x, dim=dim)
        with pytest.raises(TypeError, match=r"argmin\(\): argument 'dim' must be int"):
            x.argmin(dim=dim)
        with pytest.raises(TypeError, match=r"min\(\) received an invalid combination of arguments"):
            dg.min(x, dim=dim)
    for t, shape in ((torch.tensor(MIXED), "[1, 1]"), (torch.tensor([1.0, 2.0]), "[1]")):
        with pytest.raises(RuntimeError, match="doesn't match the broadcast shape") as expected:
            torch.logsumexp(t, dim=[])
        assert shape in str(expected.value)
        with pytest.raises(RuntimeError, match=r"doesn't match the broadcast shape " + shape.replace("[", r"\[").replace("]", r"\]")):
            dg.logsumexp(dg.tensor(t.numpy()), dim=())


# -- rrelu -------------------------------------------------------------------------------------
def test_rrelu_grad_fn_names_match_torch():
    for training in (False, True):
        for m, f in ((torch, TF), (dg, F)):
            x = m.tensor([-1.0, 0.0, 2.0], requires_grad=True)
            y = f.rrelu(x, training=training)
            z = f.rrelu(x.clone(), training=training, inplace=True)
            name = type(y.grad_fn).__name__ if m is torch else y.grad_fn.name()
            name_ = type(z.grad_fn).__name__ if m is torch else z.grad_fn.name()
            assert (name, name_) == ("RreluWithNoiseBackward0", "RreluWithNoiseBackward1")


def test_rrelu_eval_matches_torch_and_training_slopes():
    compare(lambda m, x: _module_f(m).rrelu(x, 0.1, 0.3, training=False),
            np.array([-2.0, -0.5, 0.0, 0.5, 3.0]))
    x = dg.tensor([-2.0, -0.5, 0.0, 0.5, 3.0], requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    y.sum().backward()
    slopes = x.grad.numpy()
    # as in PyTorch, zero takes a random slope too (it is not "x > 0")
    assert ((slopes[:3] >= 0.1) & (slopes[:3] <= 0.3)).all() and (slopes[3:] == 1).all()
    np.testing.assert_allclose(y.detach().numpy()[:2], slopes[:2] * [-2.0, -0.5])
    with pytest.raises(RuntimeError, match="Lower bound should be less than or equal"):
        F.rrelu(x, 0.5, 0.1, training=True)


def test_rrelu_gradcheck():
    x = dg.tensor([-1.5, -0.2, 0.4, 2.0], dtype=dg.float64, requires_grad=True)

    def seeded(a):
        dg.manual_seed(3)  # the same slopes at every evaluation
        return F.rrelu(a, training=True)
    for fn in (seeded, lambda a: F.rrelu(a, training=False)):
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))
