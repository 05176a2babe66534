"""Regression tests for discrepancies with PyTorch found by differential testing of the Tensor,
autograd and op modules (expected values are PyTorch 2.13's)."""
import numpy as np
import pytest

import distgrad as dg
from distgrad import autograd


@pytest.mark.parametrize("op", [lambda a, b: a * b, lambda a, b: b * a, lambda a, b: b / a,
                                lambda a, b: a / b, lambda a, b: b ** a, lambda a, b: a ** b,
                                lambda a, b: b * a[0, 0]])
def test_grad_of_float32_times_integer_tensor_stays_float32(op):
    # NumPy computes g * int64_array in float64; PyTorch returns each gradient in its input's dtype.
    a = dg.tensor([[1, 2], [3, 4]])
    b = dg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (g,) = autograd.grad((op(a, b) * 0.01).exp().sum(), [b])
    assert g.dtype == dg.float32
    (g,) = autograd.grad(op(a, b).sum(), [b], create_graph=True)
    assert g.dtype == dg.float32


@pytest.mark.parametrize("reduce", [lambda x: x.sum(dtype=dg.float64),
                                    lambda x: x.mean(0, dtype=dg.float64),
                                    lambda x: dg.sum(x, (0, 1), dtype=dg.float64)])
def test_reduction_with_dtype_gives_the_gradient_in_the_input_dtype(reduce):
    x = dg.ones(3, 4, requires_grad=True)
    y = reduce(x)
    assert y.dtype == dg.float64
    (g,) = autograd.grad(y.sum(), [x])
    assert g.dtype == dg.float32 and g.shape == (3, 4)
    y.sum().backward()
    assert x.grad.dtype == dg.float32


@pytest.mark.parametrize("name", ["amax", "amin", "logsumexp"])
@pytest.mark.parametrize("dim", [0, -1])
def test_reductions_of_a_0d_tensor_over_dim_0(name, dim):
    x = dg.tensor(1.5, requires_grad=True)
    y = getattr(x, name)(dim)
    assert y.shape == () and y.item() == 1.5
    assert getattr(x, name)(dim, keepdim=True).shape == ()
    y.backward()
    assert x.grad.item() == 1.0


def test_empty_reductions_raise_pytorchs_errors():
    x = dg.zeros(2, 0, 4)
    with pytest.raises(RuntimeError, match=r"^min\(\): Expected reduction dim to be specified"):
        x.min()
    for call, name in [(lambda: x.max(1), "max"), (lambda: x.min(dim=-2), "min"),
                       (lambda: x.amax((0, 1)), "amax"), (lambda: x.amin(1), "amin"),
                       (lambda: x.argmax(1), "argmax"), (lambda: x.argmin(-2), "argmin")]:
        with pytest.raises(IndexError, match=rf"^{name}\(\): Expected reduction dim 1 to have "
                                             "non-zero size."):
            call()
    with pytest.raises(RuntimeError, match=r"^amax\(\): Expected reduction dim to be specified"):
        x.amax()
    # reducing over a non-empty dim of an empty tensor is fine
    assert x.max(0).values.shape == (0, 4) and x.argmax(0).shape == (0, 4)
    assert x.argmin(2).shape == (2, 0) and x.amax(0).shape == (0, 4)
    assert x.logsumexp(1).tolist() == [[float("-inf")] * 4] * 2


def test_list_holding_sequences_indexes_like_a_tuple():
    a = dg.arange(12).reshape(3, 4)
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        assert a[[[0, 1], [1, 2]]].tolist() == [1, 6]
    with pytest.warns(UserWarning):
        assert a[[dg.tensor([0, 1]), dg.tensor([1, 2])]].tolist() == [1, 6]
    with pytest.warns(UserWarning):
        assert a[[0, slice(1, 3)]].tolist() == [1, 2]
    with pytest.warns(UserWarning):
        assert a[[[0, 1]]].shape == (2, 4)
    assert a[[0, 2]].shape == (2, 4)  # a plain list of ints stays an index array
    assert a[np.array([[0, 1], [1, 2]])].shape == (2, 2, 4)
    x = dg.zeros(3, 4, requires_grad=True)
    with pytest.warns(UserWarning):
        x[[[0, 2], [1, 3]]].sum().backward()
    assert x.grad.sum().item() == 2.0 and x.grad[2, 3].item() == 1.0


@pytest.mark.parametrize("requires_grad", [False, True])
def test_setitem_with_a_value_of_the_wrong_shape_raises_runtime_error(requires_grad):
    a = dg.zeros(3, 4, requires_grad=requires_grad) * 1
    with pytest.raises(RuntimeError, match=r"The expanded size of the tensor \(4\) must match the "
                                           r"existing size \(2\) at non-singleton dimension 0"):
        a[0] = dg.ones(2)
    with pytest.raises(RuntimeError, match=r"shape mismatch: value tensor of shape \[3\] cannot "
                                           r"be broadcast to indexing result of shape \[2, 4\]"):
        a[[0, 1]] = dg.ones(3)
    with pytest.raises(RuntimeError, match="the number of sizes provided"):
        a[0] = dg.ones(2, 4)
    a[0] = dg.ones(1, 1, 4)  # leading ones are dropped, as in PyTorch
    assert a[0].tolist() == [1.0] * 4


@pytest.mark.parametrize("modify", [lambda y: y.mul_(3), lambda y: y.__setitem__(0, 5.0),
                                    lambda y: y[:2].mul_(3)])
def test_retain_grad_follows_an_in_place_op(modify):
    # PyTorch moves the retains-grad hook to the new grad_fn: .grad is the gradient of the
    # modified tensor, not of its value before the in-place op.
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y.retain_grad()
    modify(y)
    assert y.retains_grad
    (y * 2).sum().backward()
    assert y.grad.tolist() == [2.0, 2.0, 2.0]


def test_masked_fill_keeps_the_input_dtype_and_checks_its_arguments():
    m = dg.tensor([True, False, True])
    assert dg.arange(3).masked_fill(m, 2.7).tolist() == [2, 1, 2]  # int64, truncated
    b = dg.arange(3)
    b.masked_fill_(m, 2.7)
    assert b.dtype == dg.int64 and b.tolist() == [2, 1, 2]
    x = dg.ones(3, requires_grad=True)
    v = dg.tensor(2.0, dtype=dg.float64, requires_grad=True)
    y = x.masked_fill(m, v)
    assert y.dtype == dg.float32
    y.sum().backward()
    assert v.grad.item() == 2.0 and x.grad.tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(RuntimeError, match="only supports a 0-dimensional value tensor, but got "
                                           r"tensor with 1 dimension\(s\)"):
        x.masked_fill(m, dg.tensor([2.0, 3.0, 4.0]))
    with pytest.raises(RuntimeError, match="masked_fill_ only supports boolean masks, but got mask "
                                           "with dtype long int"):
        x.masked_fill(dg.tensor([1, 0, 1]), 0.0)


def test_gather_with_an_index_smaller_than_the_input():
    x = dg.arange(12.0).reshape(3, 4).requires_grad_()
    # only the first rows are used (NumPy's take_along_axis broadcast or refused these)
    assert x.gather(1, dg.tensor([[1]])).tolist() == [[1.0]]
    y = x.gather(0, dg.tensor([[1], [2]]))
    assert y.tolist() == [[4.0], [8.0]]
    y.sum().backward()
    assert x.grad.tolist() == [[0.0] * 4, [1.0, 0, 0, 0], [1.0, 0, 0, 0]]
    assert dg.tensor(3.0).gather(0, dg.tensor([0, 0])).tolist() == [3.0, 3.0]


@pytest.mark.parametrize("index, message", [
    ([[-1]], r"index -1 is out of bounds for dimension 1 with size 4"),
    ([[5]], r"index 5 is out of bounds for dimension 1 with size 4"),
    ([[0], [1], [2], [0]], r"Size does not match at dimension 0 expected index \[4, 1\] to be no "
                           r"larger than self \[3, 4\] apart from dimension 1"),
    ([0], "Index tensor must have the same number of dimensions as input tensor"),
])
def test_gather_checks_its_index_like_pytorch(index, message):
    with pytest.raises(RuntimeError, match=message):
        dg.zeros(3, 4).gather(1, dg.tensor(index))
    # take_along_dim along a dim counts negative indices from the end
    assert dg.take_along_dim(dg.arange(4.0), dg.tensor([-1]), 0).tolist() == [3.0]


def test_arange_takes_tensor_bounds_and_checks_the_step_sign():
    n = dg.tensor([3, 1]).max()
    r = dg.arange(n)
    assert r.dtype == dg.int64 and r.tolist() == [0, 1, 2]  # was float32
    assert dg.arange(1, dg.tensor(6), dg.tensor(2)).tolist() == [1, 3, 5]
    assert dg.arange(dg.tensor(2.0)).dtype == dg.float32
    with pytest.raises(RuntimeError, match="upper bound and lower bound inconsistent with step sign"):
        dg.arange(0, 5, -1)
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        dg.arange(0, 5, 0)
    assert dg.arange(5, 5).shape == (0,)


@pytest.mark.parametrize("op", [lambda m: 1 - m, lambda m: 1.0 - m, lambda m: m - dg.tensor([1]),
                                lambda m: dg.tensor([1.0]) - m, lambda m: dg.sub(dg.tensor(1), m)])
def test_subtracting_a_bool_tensor_raises(op):
    with pytest.raises(RuntimeError, match="with a bool tensor is not supported. If you are trying "
                                           "to invert a mask, use the `~`"):
        op(dg.tensor([True, False]))


def test_copy_copy_gives_a_leaf_sharing_storage_like_pytorch():
    import copy
    t = dg.ones(2, requires_grad=True)
    t.grad = dg.ones(2)
    c = copy.copy(t)
    assert c is not t and c.is_leaf and c.requires_grad and c.grad is None
    with dg.no_grad():
        c.add_(1)
    assert t.tolist() == [2.0, 2.0]  # storage shared, as in PyTorch
    y = copy.copy(t * 2)  # a non-leaf copies to a leaf that requires grad
    assert y.is_leaf and y.requires_grad and y.grad_fn is None
    p = dg.nn.Parameter(dg.zeros(2))
    assert type(copy.copy(p)) is dg.nn.Parameter


@pytest.mark.parametrize("make", [lambda: dg.zeros(2, -1), lambda: dg.ones((2, -1)),
                                  lambda: dg.full((2, -1), 1.0), lambda: dg.randn(2, -1),
                                  lambda: dg.randint(0, 3, (2, -1))])
def test_factories_refuse_negative_sizes_with_pytorchs_error(make):
    with pytest.raises(RuntimeError, match=r"negative dimension -1: \[2, -1\]"):
        make()


def test_bool_tensor_minus_a_number_raises_pytorchs_error():
    mask = dg.tensor([True, False])
    with pytest.raises(RuntimeError, match="with a bool tensor is not supported"):
        mask - 1
    with pytest.raises(RuntimeError, match="with two bool tensors is not supported"):
        mask - True
    assert (mask + 1).tolist() == [2, 1]


@pytest.mark.parametrize("op", [lambda a, b: a % b, dg.fmod, dg.remainder])
def test_integer_remainder_by_zero_raises_like_pytorch(op):
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        op(dg.tensor([3, 4]), 0)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        op(dg.tensor([3, 4]), dg.tensor([1, 0]))
    assert op(dg.tensor([3, 4]), 2).tolist() == [1, 0]
    assert np.isnan(op(dg.tensor([3.0]), 0).item())  # floats give nan, as in PyTorch


def test_in_place_on_a_chunk_output_differentiates_correctly():
    # PyTorch refuses this (multi-output views); distgrad records it on the base (docs)
    x = dg.arange(4.0, requires_grad=True)
    y = x * 1
    a, _ = y.chunk(2)
    a.mul_(3)
    (y * dg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert y.tolist() == [0.0, 3.0, 2.0, 3.0] and x.grad.tolist() == [3.0, 6.0, 3.0, 4.0]


def test_seed_gradient_is_cast_to_the_output_dtype():
    """backward(g) and autograd.grad(..., g) cast g to the output's dtype, as PyTorch does."""
    x = dg.ones(3, requires_grad=True)
    (g,) = dg.autograd.grad(x * 2, x, dg.ones(3, dtype=dg.float64))
    assert g.dtype == dg.float32 and g.tolist() == [2.0, 2.0, 2.0]
    y = x * 2
    y.backward(dg.ones(3, dtype=dg.int64))
    assert x.grad.dtype == dg.float32 and x.grad.tolist() == [2.0, 2.0, 2.0]
    (h,) = dg.autograd.grad((x * x).sum() * 1, x, dg.tensor(1.0, dtype=dg.float64),
                            create_graph=True)
    assert h.dtype == dg.float32 and h.requires_grad
