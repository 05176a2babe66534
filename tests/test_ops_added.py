"""Ops added together (movedim ... atleast_3d, and double backward of ``prod``): values and
gradients against PyTorch on the same random float64 inputs, first-order finite-difference
gradient checks, and one misuse each that must raise PyTorch's error."""
import numpy as np
import pytest

import distgrad as dg
from distgrad.autograd import gradcheck, gradgradcheck


def check_against_torch(fn, specs, **kwargs):
    """``tests/test_ops_torch.py``'s oracle (skipped without PyTorch)."""
    pytest.importorskip("torch")
    from test_ops_torch import check_against_torch as check
    check(fn, specs, **kwargs)


def _with_nans(shape):
    a = np.random.default_rng(3).standard_normal(shape)
    a.flat[::5] = np.nan
    return a


# name -> (fn(m, *tensors), input specs as in test_ops_torch, gradcheck applies)
CASES = {
    "movedim": (lambda m, x: m.movedim(x, (0, -1), (-1, 1)), [(2, 3, 4)], True),
    "moveaxis_method": (lambda m, x: x.moveaxis(-1, 0), [(2, 3, 4)], True),
    "swapaxes": (lambda m, x: m.swapaxes(x, 0, -1) + x.swapdims(-1, 0), [(2, 3)], True),
    "hstack": (lambda m, a, b: m.hstack([a, b]), [(2, 3), (2, 1)], True),
    "hstack_1d": (lambda m, a, b: m.hstack((a, b)), [(3,), ()], True),
    "vstack": (lambda m, a, b: m.vstack([a, b]), [(3,), (2, 3)], True),
    "dstack": (lambda m, a, b: m.dstack([a, b]), [(3,), (1, 3)], True),
    "column_stack": (lambda m, a, b, c: m.column_stack([a, b, c]), [(3,), (3, 2), (3, 1)], True),
    "atleast": (lambda m, a, b, c: m.atleast_1d(a) * 1 + m.atleast_2d(b).sum()
                + m.atleast_3d(c).sum() + sum(x.sum() for x in m.atleast_3d(a, b)),
                [(), (3,), (2, 3)], True),
    "tensordot": (lambda m, a, b: m.tensordot(a, b, dims=([1, -1], [1, 0])),
                  [(2, 3, 4), (4, 3, 5)], True),
    "tensordot_int": (lambda m, a, b: m.tensordot(a, b, 1) + m.tensordot(a, b, 0).sum(),
                      [(2, 3), (3, 2)], True),
    "kron": (lambda m, a, b: m.kron(a, b), [(2, 3), (4, 1, 2)], True),
    "count_nonzero": (lambda m, x: m.count_nonzero(m.relu(x), dim=(0, -1)), [(3, 4, 2)], False),
    "nansum": (lambda m, x: m.nansum(x, -1) + x.nansum(), [_with_nans((3, 4))], True),
    "nanmean": (lambda m, x: m.nanmean(x, 0, keepdim=True), [_with_nans((3, 4))], True),
    "argwhere": (lambda m, x: m.argwhere(m.relu(x)), [(3, 4)], False),
    "median_all": (lambda m, x: m.median(x), [(3, 5)], True),
    "median_dim": (lambda m, x: m.median(x, -1), [(3, 5)], True),
    "median_even": (lambda m, x: x.median(0, keepdim=True), [(4, 3)], True),
    "median_nan": (lambda m, x: m.median(x, 1), [_with_nans((3, 5))], False),
    "kthvalue": (lambda m, x: m.kthvalue(x, 2, -2), [(4, 3)], True),
    "kthvalue_keepdim": (lambda m, x: x.kthvalue(3, keepdim=True), [(2, 5)], True),
    "fmod": (lambda m, a, b: m.fmod(a, b), [((3, 1), "n"), ((4,), "z")], True),
    "fmod_scalar": (lambda m, a: a.fmod(-0.7), [(3, 4)], True),
    "copysign": (lambda m, a, b: m.copysign(a, b), [((2, 3), "z"), ((3,), "z")], True),
    "copysign_scalar": (lambda m, a: a.copysign(-1.0), [((2, 3), "z")], True),
    "fmax": (lambda m, a, b: m.fmax(a, b), [(3, 1), (4,)], True),
    "fmin": (lambda m, a, b: a.fmin(b), [(2, 3), (3,)], True),
    "fmax_nan": (lambda m, a, b: m.fmax(a, b) + m.fmin(b, a), [_with_nans((3, 4)), (4,)], False),
    "xlogy": (lambda m, a, b: m.xlogy(a, b), [(3, 1), ((4,), "p")], True),
    "xlogy_scalar": (lambda m, b: m.xlogy(2.0, b) + b.xlogy(3.0), [((4,), "p")], True),
    "round_decimals": (lambda m, x: m.round(x * 100, decimals=-1) + x.round(decimals=2), [(3,)],
                       False),
    "cummax": (lambda m, x: m.cummax(x, -1), [(3, 5)], True),
    "cummin": (lambda m, x: x.cummin(0), [(4, 3)], True),
    "logcumsumexp": (lambda m, x: m.logcumsumexp(x * 5, -1), [(3, 5)], True),
    "logcumsumexp_0d": (lambda m, x: x.logcumsumexp(0), [()], True),
    "prod_dim": (lambda m, x: m.prod(x, -1), [(3, 4)], True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_against_torch(name):
    fn, specs, _ = CASES[name]
    check_against_torch(fn, specs)


def _inputs(specs):
    from test_ops_torch import _array  # the same kinds of inputs
    rng = np.random.default_rng(0)
    return [dg.tensor(_array(s, rng), requires_grad=True) for s in specs]


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c[2]])
def test_gradcheck(name):
    fn, specs, _ = CASES[name]
    assert gradcheck(lambda *t: fn(dg, *t), tuple(_inputs(specs)))


def test_logspace():
    torch = pytest.importorskip("torch")
    for args, kw in [((0, 2, 3), {}), ((-1, 1, 5), {"base": 2.0}), ((0, 3, 4), {"dtype": "float64"})]:
        t = torch.logspace(*args, **{k: getattr(torch, v) if k == "dtype" else v
                                     for k, v in kw.items()})
        np.testing.assert_allclose(dg.logspace(*args, **kw).numpy(), t.numpy(), rtol=1e-6)


@pytest.mark.parametrize("zeros", [0, 1, 2])
@pytest.mark.parametrize("dim", [None, 0, -1])
def test_prod_double_backward(zeros, dim):
    a = np.random.default_rng(5).standard_normal((3, 4))
    a.flat[[1, 6][:zeros]] = 0
    a[2, :zeros] = 0
    x = dg.tensor(a, requires_grad=True)
    assert gradgradcheck(lambda t: dg.prod(t) if dim is None else dg.prod(t, dim), (x,))


def test_second_order_of_compositions():
    x = dg.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    assert gradgradcheck(lambda t: dg.logcumsumexp(t, 1), (x,))
    assert gradgradcheck(lambda t: dg.kron(t, t[:2]).sum(-1) + dg.cummax(t, 0).values.sum(), (x,))


ERRORS = {
    "movedim": lambda m: m.movedim(m.ones(2, 3), (0, 1), (0,)),
    "movedim_repeat": lambda m: m.movedim(m.ones(2, 3), (0, 0), (0, 1)),
    "hstack_empty": lambda m: m.hstack([]),
    "vstack_empty": lambda m: m.vstack([]),
    "dstack_empty": lambda m: m.dstack([]),
    "column_stack_empty": lambda m: m.column_stack([]),
    "tensordot": lambda m: m.tensordot(m.ones(2, 3), m.ones(4, 3), dims=([1], [0])),
    "tensordot_negative": lambda m: m.tensordot(m.ones(2, 3), m.ones(3, 2), dims=-1),
    "kron": lambda m: m.kron(m.ones(2), 1.0),
    "count_nonzero": lambda m: m.count_nonzero(m.ones(2, 3), (0, 0)),
    "nanmean": lambda m: m.nanmean(m.ones(3, dtype=m.int64)),
    "median": lambda m: m.median(m.ones(0, 2), 0),
    "kthvalue": lambda m: m.kthvalue(m.ones(2, 3), 4, 1),
    "fmod": lambda m: m.fmod(m.ones(2, 3), m.ones(4)),
    "copysign": lambda m: m.copysign(m.ones(3), m.ones(2)),
    "fmax": lambda m: m.fmax(m.ones(3), 1.0),
    "xlogy": lambda m: m.xlogy(m.ones(3), m.ones(2)),
    "round": lambda m: m.round(m.ones(3, dtype=m.int64), decimals=1),
    "logspace": lambda m: m.logspace(0, 1, -1),
    "cummax": lambda m: m.cummax(m.ones(2, 3), 2),
    "logcumsumexp": lambda m: m.logcumsumexp(m.ones(3, dtype=m.int64), 0),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_like_torch(name):
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as expected:
        ERRORS[name](torch)
    with pytest.raises(expected.type) as got:
        ERRORS[name](dg)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("data,dim", [
    ([1, 1, 2, 2, 3, 1, 1, 2], None),
    ([[1.0, 1.0], [2.0, float("nan")], [2.0, float("nan")]], None),
    ([[1, 1, 2, 2], [1, 1, 3, 3]], 1),
    ([[1, 1], [1, 1], [0, 1]], 0),
    ([[1, 1], [1, 1], [0, 1]], -2),
    (7, None),
    ([], None),
])
def test_unique_consecutive_matches_torch(data, dim):
    torch = pytest.importorskip("torch")
    for inv in (False, True):
        for cnt in (False, True):
            got = dg.unique_consecutive(dg.tensor(data), return_inverse=inv, return_counts=cnt,
                                        dim=dim)
            want = torch.unique_consecutive(torch.tensor(data), return_inverse=inv,
                                            return_counts=cnt, dim=dim)
            got = got if isinstance(got, tuple) else (got,)
            want = want if isinstance(want, tuple) else (want,)
            assert len(got) == len(want)
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g.numpy(), w.numpy())
                assert g.shape == tuple(w.shape)


def test_unique_consecutive_has_no_derivative():
    x = dg.tensor([1.0, 1.0, 2.0], requires_grad=True)
    v = x.unique_consecutive()
    assert type(v.grad_fn).__name__ == "UniqueConsecutiveBackward0"
    with pytest.raises(NotImplementedError, match="derivative for 'unique_consecutive'"):
        v.sum().backward()
    with pytest.raises(IndexError, match="tensor has no dimensions"):
        dg.unique_consecutive(dg.tensor(1), dim=0)
