"""``index_add``, ``index_copy``, ``index_fill``, ``index_put``, ``take``, ``masked_scatter`` and
``scatter_reduce`` (functions, methods and in-place methods): values and gradients against
PyTorch on the same float64 inputs (negative dims, repeated indices, broadcasting, ties and
zeros), finite-difference checks of first and second derivatives, the in-place variants (version
counter, views, leaves) and PyTorch's error messages."""
import numpy as np
import pytest

import distgrad as dg
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.dtypes import dtype_name


def check_against_torch(fn, specs, **kwargs):
    """``tests/test_ops_torch.py``'s oracle (skipped without PyTorch)."""
    pytest.importorskip("torch")
    from test_ops_torch import check_against_torch as check
    check(fn, specs, **kwargs)


def _torch():
    return pytest.importorskip("torch")


def _ints(*values, dtype=np.int64):
    return np.array(values, dtype=dtype)


_RNG = np.random.default_rng(5)
_MASK = _RNG.random((3, 4)) > 0.4
# values with ties and zeros, for amax/amin ties and products with zeros (one or two per place)
_TIED = np.array([[1., 2, 0, 3], [0, 5, 0, 2], [2, 0, 3, 0]])
_TIED_SRC = np.array([[0., 2, 1, 0], [3, 0, 0, 2], [2, 2, 0, 1]])
_TIED_INDEX = _ints([0, 1, 2, 0], [0, 1, 2, 2], [1, 1, 0, 0])

# name: (fn(m, *tensors), specs); m is torch or distgrad, index specs are int arrays
CASES = {
    "index_add": (lambda m, x, s, i: m.index_add(x, 0, i, s), [(4, 3), (5, 3), _ints(0, 3, 0, 1, 3)]),
    "index_add_neg_dim_alpha": (lambda m, x, s, i: x.index_add(-1, i, s, alpha=-1.5),
                                [(2, 4, 3), (2, 4, 5), _ints(2, 0, 2, 2, 1)]),
    "index_add_int32_index": (lambda m, x, s, i: m.index_add(x, 1, i, s),
                              [(2, 4, 3), (2, 2, 3), _ints(3, 3, dtype=np.int32)]),
    "index_add_0d": (lambda m, x, s, i: m.index_add(x, 0, i, s), [(), (), _ints(0)]),
    "index_add_0d_index": (lambda m, x, s, i: m.index_add(x, 0, i, s), [(3, 4), (1, 4), _ints(1)[0]]),
    "index_copy": (lambda m, x, s, i: m.index_copy(x, 0, i, s), [(4, 3), (5, 3), _ints(1, 3, 1, 0, 3)]),
    "index_copy_neg_dim": (lambda m, x, s, i: x.index_copy(-2, i, s), [(2, 4, 3), (2, 2, 3), _ints(3, 0)]),
    "index_copy_0d_source": (lambda m, x, s, i: m.index_copy(x, 0, i, s), [(4,), (), _ints(2)]),
    "index_copy_0d_self": (lambda m, x, s, i: m.index_copy(x, 0, i, s), [(), (1,), _ints(0)]),
    "index_fill_number": (lambda m, x, i: m.index_fill(x, -1, i, -2.5), [(4, 3), _ints(-1, 0, 2, 0)]),
    "index_fill_tensor": (lambda m, x, i, v: x.index_fill(1, i, v), [(4, 3), _ints(2, 0, 2), ()]),
    "index_fill_0d": (lambda m, x, i, v: m.index_fill(x, 0, i, v), [(), _ints(0, 0), ()]),
    "index_put": (lambda m, x, s, i, j: m.index_put(x, (i, j), s),
                  [(4, 3), (5,), _ints(1, 3, 2, 0, -1), _ints(0, 2, 0, 1, 1)]),
    "index_put_repeats": (lambda m, x, s, i, j: x.index_put((i, j), s),
                          [(4, 3), (5,), _ints(1, 3, 1, 0, 3), _ints(0, 2, 0, 1, 2)]),
    "index_put_accumulate": (lambda m, x, s, i, j: m.index_put(x, [i, j], s, accumulate=True),
                             [(4, 3), (5,), _ints(1, 3, 1, 0, 3), _ints(0, 2, 0, 1, 2)]),
    "index_put_broadcast": (lambda m, x, s, i: m.index_put(x, (i,), s, True),
                            [(4, 3), (1, 3), _ints([0, 2], [2, 2])]),
    "index_put_mask": (lambda m, x, s, k: m.index_put(x, (k,), s, True), [(3, 4), (4,), _MASK[:, 0]]),
    "index_put_full_mask": (lambda m, x, s, k: m.index_put(x, (k,), s), [(3, 4), (), _MASK]),
    "take": (lambda m, x, i: m.take(x, i), [(4, 3), _ints([1, -1, 1], [0, 11, -12])]),
    "take_transposed": (lambda m, x, i: x.t().take(i), [(4, 3), _ints([1, -1, 1], [0, 11, 5])]),
    "take_0d_index": (lambda m, x, i: m.take(x, i), [(2, 3), _ints(4)[0]]),
    "masked_scatter": (lambda m, x, k, s: m.masked_scatter(x, k, s), [(3, 4), _MASK, (15,)]),
    "masked_scatter_broadcast": (lambda m, x, k, s: x.masked_scatter(k, s), [(4,), _MASK, (3, 5)]),
    "masked_scatter_broadcast_mask": (lambda m, x, k, s: m.masked_scatter(x, k, s),
                                      [(3, 4), _MASK[:1], (3, 4)]),
}
REDUCTIONS = ["sum", "prod", "mean", "amax", "amin"]


@pytest.mark.parametrize("name", list(CASES))
def test_against_torch(name):
    fn, specs = CASES[name]
    check_against_torch(fn, specs)


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_scatter_reduce_against_torch(reduce, include_self):
    def fn(m, x, s, i, dim=0):
        return m.scatter_reduce(x, dim, i, s, reduce, include_self=include_self)
    check_against_torch(fn, [(3, 5), (4, 5), _RNG.integers(0, 3, (4, 5))])
    check_against_torch(lambda m, x, s, i: fn(m, x, s, i, -1), [(4, 3), (4, 5), _RNG.integers(0, 3, (4, 5))])
    check_against_torch(fn, [_TIED, _TIED_SRC, _TIED_INDEX])  # ties share, products with zeros
    check_against_torch(lambda m, x, s, i: x.scatter_reduce(-1, i, s, reduce,
                                                           include_self=include_self),
                        [_TIED, _TIED_SRC, _TIED_INDEX])
    check_against_torch(fn, [(), (), _ints(0)[0]])


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_integer_tensors(dtype):
    torch = _torch()
    x = np.arange(12, dtype=dtype).reshape(3, 4) - 5
    s = (np.arange(12, dtype=dtype).reshape(3, 4) * 7) % 5 - 2
    i = np.array([[0, 2, 1, 0], [2, 2, 0, 1], [1, 0, 0, 0]])
    for m_out, d_out in [
            (torch.index_add(torch.tensor(x), 0, torch.tensor([2, 0, 2]), torch.tensor(s), alpha=2.5),
             dg.index_add(dg.tensor(x), 0, dg.tensor([2, 0, 2]), dg.tensor(s), alpha=2.5)),
            *[(torch.scatter_reduce(torch.tensor(x), 0, torch.tensor(i), torch.tensor(s), r,
                                    include_self=inc),
               dg.scatter_reduce(dg.tensor(x), 0, dg.tensor(i), dg.tensor(s), r, include_self=inc))
              for r in REDUCTIONS for inc in (True, False)]]:
        assert dtype_name(d_out.dtype) == str(m_out.dtype).replace("torch.", "")
        np.testing.assert_array_equal(d_out.numpy(), m_out.numpy())


# -- finite differences ----------------------------------------------------------------------
def _leaves(*shapes):
    rng = np.random.default_rng(11)
    return tuple(dg.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes)


GRADCHECKS = {
    "index_add": (lambda x, s: dg.index_add(x, 1, dg.tensor([2, 0, 2]), s, alpha=0.5), [(2, 4), (2, 3)]),
    # no repeats where a later copy overwrites: PyTorch's gradient is not the derivative there
    "index_copy": (lambda x, s: x.index_copy(-1, dg.tensor([2, 0, 3]), s), [(2, 4), (2, 3)]),
    "index_fill": (lambda x, v: dg.index_fill(x, 0, dg.tensor([1, -1, 1]), v), [(3, 2), ()]),
    "index_put": (lambda x, v: dg.index_put(x, (dg.tensor([1, 0]), dg.tensor([2, 2])), v),
                  [(2, 3), (2,)]),
    "index_put_accumulate": (lambda x, v: x.index_put((dg.tensor([1, 0, 1]),), v, True),
                             [(2, 3), (3, 1)]),
    "take": (lambda x: dg.take(x, dg.tensor([[0, -1], [5, 0]])), [(2, 3)]),
    "masked_scatter": (lambda x, s: dg.masked_scatter(x, dg.tensor(_MASK[:2]), s), [(4,), (3, 3)]),
}


@pytest.mark.parametrize("name", list(GRADCHECKS))
def test_gradcheck(name):
    fn, shapes = GRADCHECKS[name]
    inputs = _leaves(*shapes)
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_scatter_reduce_gradcheck(reduce, include_self):
    index = dg.tensor(np.random.default_rng(3).integers(0, 3, (4, 3)))
    x, s = _leaves((3, 4), (4, 5))  # src larger than index: the rest of src gets no gradient

    def fn(a, b):
        return dg.scatter_reduce(a, 0, index, b, reduce, include_self=include_self)
    assert gradcheck(fn, (x, s))
    assert gradgradcheck(fn, (x, s))


def test_scatter_reduce_prod_zeros():
    """Products are differentiable everywhere; PyTorch refuses double backward for src only
    where two zeros of src meet."""
    x = dg.tensor(np.array([[1., 0, 2], [3, 1, 0.5]]), requires_grad=True)
    one = dg.tensor(np.array([[0., 2, 1], [3, 1.5, 0]]), requires_grad=True)
    two = dg.tensor(np.array([[0., 2, 1], [0, 1.5, 0]]), requires_grad=True)
    index = dg.tensor([[0, 1, 0], [0, 0, 1]])

    def fn(a, b):
        return dg.scatter_reduce(a, 0, index, b, "prod")
    assert gradcheck(fn, (x, one)) and gradgradcheck(fn, (x, one))
    assert gradcheck(fn, (x, two))
    with pytest.raises(RuntimeError, match=r"scatter_reduce\(\): Double backward is unsupported "
                                           "for src when >1 zeros in src are scattered"):
        gradgradcheck(fn, (x, two))


# -- in place ----------------------------------------------------------------------------------
INPLACE = {
    "index_add_": lambda m, t: t.index_add_(1, m.tensor([0, 2, 0]), m.ones(3, 3, dtype=t.dtype), alpha=2),
    "index_copy_": lambda m, t: t.index_copy_(-1, m.tensor([3, 1]), m.ones(3, 2, dtype=t.dtype)),
    "index_fill_": lambda m, t: t.index_fill_(0, m.tensor([-1]), 7.0),
    "index_put_": lambda m, t: t.index_put_((m.tensor([0, 0]), m.tensor([1, 1])),
                                            m.ones(2, dtype=t.dtype), accumulate=True),
    "masked_scatter_": lambda m, t: t.masked_scatter_(m.tensor(_MASK[0]), m.arange(12.).to(t.dtype)),
    "scatter_reduce_": lambda m, t: t.scatter_reduce_(0, m.tensor([[2, 0, 1, 2]]),
                                                      m.ones(1, 4, dtype=t.dtype) * 3, "amax",
                                                      include_self=False),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_values_version_and_views(name):
    torch = _torch()
    op = INPLACE[name]
    data = np.random.default_rng(2).standard_normal((4, 4))
    t_base, d_base = torch.tensor(data), dg.tensor(data)
    t_view, d_view = t_base[1:], d_base[1:]
    version = d_base._version
    assert op(dg, d_view) is d_view
    op(torch, t_view)
    assert d_base._version == version + 1 and d_view._version == version + 1
    np.testing.assert_array_equal(d_base.numpy(), t_base.numpy())


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_autograd_through_view(name):
    op = INPLACE[name]

    def fn(m, x):
        y = x * 1.5
        op(m, y[1:])
        return y
    check_against_torch(fn, [(4, 4)])


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_refuses_leaf(name):
    leaf = dg.randn(3, 4, dtype=dg.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an "
                                           "in-place operation"):
        INPLACE[name](dg, leaf)
    with dg.no_grad():
        INPLACE[name](dg, leaf)
    assert leaf._version == 1


def test_inplace_source_gradient():
    """The gradient reaches the source of an in-place op on a tensor that needs none."""
    check_against_torch(lambda m, s, v: [m.zeros(3, 4, dtype=s.dtype).index_add_(0, m.tensor([2, 2]), s),
                                         m.zeros(3, dtype=s.dtype).index_fill_(0, m.tensor([1]), v)],
                        [(2, 4), ()])


# -- errors ------------------------------------------------------------------------------------
def _t(m, values, dtype=None):
    return m.tensor(np.asarray(values), dtype=dtype)


ERRORS = {
    # index_add
    "index_add_oob": lambda m: m.index_add(m.zeros(3, 4), 1, _t(m, [0, 5, -5]), m.ones(3, 3)),
    "index_add_oob_1d": lambda m: m.index_add(m.zeros(4), 0, _t(m, [0, -5]), m.ones(2)),
    "index_add_float_index": lambda m: m.index_add(m.zeros(3), 0, _t(m, [0.]), m.ones(1)),
    "index_add_short_index": lambda m: m.index_add(m.zeros(3), 0, _t(m, [0], m.int16), m.ones(1)),
    "index_add_2d_index": lambda m: m.index_add(m.zeros(3), 0, _t(m, [[0]]), m.ones(1)),
    "index_add_dtype": lambda m: m.index_add(m.zeros(3), 0, _t(m, [0]), m.ones(1, dtype=m.float64)),
    "index_add_count": lambda m: m.index_add(m.zeros(3, 4), 0, _t(m, [0, 2, 0]), m.ones(2, 4)),
    "index_add_shape": lambda m: m.index_add(m.zeros(3, 4), 0, _t(m, [0, 2]), m.ones(2, 5)),
    "index_add_source_dim": lambda m: m.index_add(m.zeros(3, 4), 1, _t(m, [0]), m.ones(1)),
    "index_add_dim": lambda m: m.index_add(m.zeros(3, 4), 2, _t(m, [0]), m.ones(3, 1)),
    "index_add_list_index": lambda m: m.index_add(m.zeros(3), 0, [0], m.ones(1)),
    # index_copy
    "index_copy_oob": lambda m: m.index_copy(m.zeros(3, 4), 1, _t(m, [0, -5, 5]), m.ones(3, 3)),
    "index_copy_int_index": lambda m: m.index_copy(m.zeros(3), 0, _t(m, [0], m.int32), m.ones(1)),
    "index_copy_2d_index": lambda m: m.index_copy(m.zeros(3), 0, _t(m, [[0]]), m.ones(1)),
    "index_copy_dtype": lambda m: m.index_copy(m.zeros(3), 0, _t(m, [0]), m.ones(1, dtype=m.float64)),
    "index_copy_slices": lambda m: m.index_copy(m.zeros(3, 4, 5), 1, _t(m, [0]), m.ones(3, 1, 4)),
    "index_copy_count": lambda m: m.index_copy(m.zeros(3, 4), 0, _t(m, [0, 2]), m.ones(3, 4)),
    "index_copy_ndim": lambda m: m.index_copy(m.zeros(3, 4), 0, _t(m, 1), m.ones(4)),
    "index_copy_scalar": lambda m: m.index_copy(m.zeros(3), 0, _t(m, [0, 1]), m.ones(())),
    # index_fill
    "index_fill_oob": lambda m: m.index_fill(m.zeros(3, 4), 1, _t(m, [0, -5, 5]), 1.0),
    "index_fill_int_index": lambda m: m.index_fill(m.zeros(3), 0, _t(m, [0], m.int32), 1.0),
    "index_fill_2d_index": lambda m: m.index_fill(m.zeros(3), 0, _t(m, [[0]]), 1.0),
    "index_fill_value_dim": lambda m: m.index_fill(m.zeros(3), 0, _t(m, [0]), m.ones(1)),
    "index_fill_dim": lambda m: m.index_fill(m.zeros(3, 4), -3, _t(m, [0]), 1.0),
    # index_put
    "index_put_oob": lambda m: m.index_put(m.zeros(3, 4), (_t(m, [0, 5, -7]),), m.ones(())),
    "index_put_oob_dim1": lambda m: m.index_put(m.zeros(3, 4), (_t(m, [0, 1]), _t(m, [-5, 0])),
                                                m.ones(())),
    "index_put_float_index": lambda m: m.index_put(m.zeros(3), (_t(m, [0.]),), m.ones(())),
    "index_put_short_index": lambda m: m.index_put(m.zeros(3), (_t(m, [0], m.int16),), m.ones(())),
    "index_put_dtype": lambda m: m.index_put(m.zeros(3), (_t(m, [0]),), m.ones(1, dtype=m.float64)),
    "index_put_dtype_accumulate": lambda m: m.index_put(m.zeros(3), (_t(m, [True, False, True]),),
                                                        m.ones((), dtype=m.float64), True),
    "index_put_shape": lambda m: m.index_put(m.zeros(3, 4), (_t(m, [0, 2]),), m.ones(3)),
    "index_put_shape_accumulate": lambda m: m.index_put(m.zeros(3, 4), (_t(m, [0, 2]),), m.ones(3),
                                                        accumulate=True),
    "index_put_broadcast_indices": lambda m: m.index_put(m.zeros(3, 4), (_t(m, [0, 2, 1]), _t(m, [0, 1])),
                                                         m.ones(())),
    "index_put_mask_shape": lambda m: m.index_put(m.zeros(3, 4), (_t(m, [True, False]),), m.ones(())),
    "index_put_too_many": lambda m: m.index_put(m.zeros(3), (_t(m, [0]), _t(m, [0])), m.ones(())),
    "index_put_not_tuple": lambda m: m.index_put(m.zeros(3), _t(m, [0]), m.ones(())),
    "index_put_not_tensor": lambda m: m.index_put(m.zeros(3), ([0],), m.ones(())),
    "index_put_number": lambda m: m.index_put(m.zeros(3), (_t(m, [0]),), 1.0),
    # take
    "take_oob": lambda m: m.take(m.zeros(3, 4), _t(m, [0, 13, -20])),
    "take_oob_negative": lambda m: m.take(m.zeros(3, 4), _t(m, [[-13]])),
    "take_int_index": lambda m: m.take(m.zeros(3), _t(m, [0], m.int32)),
    "take_empty": lambda m: m.take(m.zeros(0), _t(m, [0])),
    # masked_scatter
    "masked_scatter_mask_dtype": lambda m: m.masked_scatter(m.zeros(3), _t(m, [1, 0, 1]), m.ones(3)),
    "masked_scatter_dtype": lambda m: m.masked_scatter(m.zeros(3), _t(m, [True, False, True]),
                                                       m.ones(3, dtype=m.float64)),
    "masked_scatter_too_few": lambda m: m.masked_scatter(m.zeros(3), _t(m, [True, False, True]),
                                                         m.ones(1)),
    "masked_scatter_broadcast": lambda m: m.masked_scatter(m.zeros(3, 4), _t(m, [[True] * 4] * 2),
                                                           m.ones(12)),
    "masked_scatter_inplace_dtype": lambda m: m.zeros(3).masked_scatter_(_t(m, [True] * 3),
                                                                         m.ones(3, dtype=m.float64)),
    # scatter_reduce
    "scatter_reduce_reduce": lambda m: m.scatter_reduce(m.zeros(3), 0, _t(m, [0]), m.ones(1), "add"),
    "scatter_reduce_index_dtype": lambda m: m.scatter_reduce(m.zeros(3), 0, _t(m, [0.]), m.ones(1), "sum"),
    "scatter_reduce_dtype": lambda m: m.scatter_reduce(m.zeros(3), 0, _t(m, [0]),
                                                       m.ones(1, dtype=m.float64), "sum"),
    "scatter_reduce_oob": lambda m: m.scatter_reduce(m.zeros(2, 3), 0, _t(m, [[0, -5, 5]]),
                                                     m.ones(2, 3), "amax"),
    "scatter_reduce_ndim": lambda m: m.scatter_reduce(m.zeros(2, 3), 0, _t(m, [0]), m.ones(2, 3), "sum"),
    "scatter_reduce_size": lambda m: m.scatter_reduce(m.zeros(2, 3), 1, m.zeros(2, 4, dtype=m.int64),
                                                      m.ones(2, 3), "mean"),
    "scatter_reduce_include_self": lambda m: m.scatter_reduce(m.zeros(3), 0, _t(m, [0]), m.ones(1),
                                                              "sum", include_self=1),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name):
    """Same exception type and first line of the message as PyTorch 2.13."""
    torch = _torch()
    fn = ERRORS[name]
    with pytest.raises(Exception) as expected:
        fn(torch)
    with pytest.raises(type(expected.value)) as got:
        fn(dg)
    assert str(got.value) == str(expected.value).split("\n")[0]


def test_masked_scatter_inplace_mask_must_expand():
    """``masked_scatter_`` keeps the tensor's shape: the mask must expand to it (PyTorch's
    ``expand`` error), where ``masked_scatter`` broadcasts both."""
    torch = _torch()
    for fn in (lambda m: m.zeros(3, 4).masked_scatter_(m.ones(2, 4, dtype=m.bool), m.ones(12)),
               lambda m: m.zeros(4).masked_scatter_(m.ones(3, 4, dtype=m.bool), m.ones(12))):
        with pytest.raises(RuntimeError) as expected:
            fn(torch)
        with pytest.raises(RuntimeError) as got:
            fn(dg)
        phrase = str(expected.value).split(")", 1)[-1]  # the part after PyTorch's type names
        assert phrase in str(got.value)
    assert tuple(dg.masked_scatter(dg.zeros(4), dg.ones(3, 4, dtype=dg.bool), dg.ones(12)).shape) == (3, 4)


def test_index_put_warns_for_uint8_mask():
    """A uint8 index is a mask, as in PyTorch (deprecated, with its warning)."""
    with pytest.warns(UserWarning, match="indexing with dtype torch.uint8 is now deprecated"):
        out = dg.index_put(dg.zeros(3), (dg.tensor([1, 0, 1], dtype=dg.uint8),), dg.tensor(2.))
    np.testing.assert_array_equal(out.numpy(), [2, 0, 2])


def test_index_put_single_mask_casts_one_value():
    """PyTorch fills a single mask with a one-element value through ``masked_fill_``, which
    casts the value (and its gradient goes back in the value's dtype)."""
    v = dg.tensor(2.5, dtype=dg.float32, requires_grad=True)
    out = dg.index_put(dg.zeros(2, 2, dtype=dg.float64), (dg.tensor([[True, False], [True, True]]),), v)
    assert out.dtype == dg.float64
    np.testing.assert_array_equal(out.detach().numpy(), [[2.5, 0], [2.5, 2.5]])
    out.sum().backward()
    assert v.grad.dtype == dg.float32 and v.grad.item() == 3


def test_setitem_keeps_its_permissive_index_put():
    """``x[key] = value`` still casts values and takes slices, lists and numbers: the public
    ``index_put`` is a separate, stricter function."""
    x = dg.zeros(3, 4, dtype=dg.float64)
    x[1:, [0, 2]] = dg.ones(2, dtype=dg.float32)
    x[0] = 5
    np.testing.assert_array_equal(x.numpy(), [[5] * 4, [1, 0, 1, 0], [1, 0, 1, 0]])
