"""repeat_interleave, Tensor.unfold, select, tensor_split/hsplit/vsplit/dsplit, rot90/fliplr/
flipud, cross/linalg.cross, broadcast_tensors/broadcast_shapes, cartesian_prod, block_diag,
combinations and vander.

Where PyTorch is installed: values, dtypes and gradients against it on the same random float64
inputs (``check_against_torch`` of ``test_ops_torch.py``), integer/bool/float32 dtypes, views,
and its exception types and messages. Without it: gradients by finite differences
(``gradcheck``, ``gradgradcheck`` in float64), view semantics, and the device-generic path on the
fake CuPy.
"""
import re
import warnings

import numpy as np
import pytest

import distgrad as dg
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.testing import fake_cupy


def check_against_torch(fn, specs, **kwargs):
    """``tests/test_ops_torch.py``'s oracle (skipped without PyTorch)."""
    pytest.importorskip("torch")
    from test_ops_torch import check_against_torch as check
    check(fn, specs, **kwargs)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def inp(shape, seed=0):
    """A float64 leaf requiring grad with normal values."""
    return dg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def counts(values, dtype=np.int64):
    """An integer array (a tensor of repeats or indices in the cases below)."""
    return np.array(values, dtype=dtype)


# -- values and gradients against PyTorch ----------------------------------------------------
AGAINST_TORCH = {
    "repeat_interleave_int_flat": (lambda m, x: m.repeat_interleave(x, 2), [(2, 3)]),
    "repeat_interleave_int_dim": (lambda m, x: x.repeat_interleave(3, dim=-2), [(2, 3, 2)]),
    "repeat_interleave_int_zero": (lambda m, x: x.repeat_interleave(0, 1), [(2, 3)]),
    "repeat_interleave_int_one": (lambda m, x: x.repeat_interleave(1, 0), [(2, 3)]),
    "repeat_interleave_output_size": (
        lambda m, x: m.repeat_interleave(x, 2, 0, output_size=4), [(2, 3)]),
    "repeat_interleave_0d": (lambda m, x: x.repeat_interleave(3), [()]),
    "repeat_interleave_tensor": (lambda m, x, r: m.repeat_interleave(x, r, dim=1),
                                 [(2, 3), counts([2, 0, 3])]),
    "repeat_interleave_tensor_flat": (lambda m, x, r: x.repeat_interleave(r),
                                      [(2, 2), counts([1, 2, 0, 3])]),
    "repeat_interleave_tensor_0d": (lambda m, x, r: x.repeat_interleave(r, dim=0),
                                    [(3, 2), counts(2)]),
    "repeat_interleave_tensor_one": (
        lambda m, x, r: x.repeat_interleave(r, dim=-1, output_size=6), [(2, 3), counts([2])]),
    "repeat_interleave_tensor_empty": (lambda m, x, r: x.repeat_interleave(r, dim=0),
                                       [(0, 2), counts([])]),
    "repeat_interleave_counts": (lambda m, r: m.repeat_interleave(r), [counts([3, 0, 1])]),
    "repeat_interleave_counts_int32": (lambda m, r: m.repeat_interleave(r, output_size=4),
                                       [counts([3, 0, 1], np.int32)]),
    "unfold_overlapping": (lambda m, x: x.unfold(0, 3, 1), [(6, 2)]),
    "unfold_step_above_size": (lambda m, x: x.unfold(-1, 2, 3), [(2, 8)]),
    "unfold_step_equal_size": (lambda m, x: x.unfold(1, 2, 2), [(2, 5, 3)]),
    "unfold_one_window": (lambda m, x: x.unfold(0, 4, 5), [(4,)]),
    "unfold_size_zero": (lambda m, x: x.unfold(1, 0, 2), [(2, 3)]),
    "unfold_0d": (lambda m, x: x.unfold(0, 1, 2), [()]),
    "unfold_0d_size_zero": (lambda m, x: x.unfold(-1, 0, 1), [()]),
    "unfold_twice": (lambda m, x: x.unfold(0, 2, 1).unfold(1, 2, 1), [(4, 3)]),
    "unfold_transposed": (lambda m, x: x.t().unfold(0, 2, 1), [(3, 4)]),
    "unfold_empty_dim": (lambda m, x: x.unfold(0, 0, 1), [(0, 3)]),
    "select": (lambda m, x: m.select(x, 1, -1), [(2, 3, 4)]),
    "select_method": (lambda m, x: x.select(-1, 2), [(2, 3, 4)]),
    "select_tensor_index": (lambda m, x: x.select(0, m.tensor(1)), [(2, 3)]),
    "tensor_split_sections": (lambda m, x: m.tensor_split(x, 3, dim=1), [(2, 7)]),
    "tensor_split_more_sections": (lambda m, x: x.tensor_split(5), [(3,)]),
    "tensor_split_indices": (lambda m, x: x.tensor_split([-5, 2, 9, 1], dim=-1), [(2, 6)]),
    "tensor_split_tuple": (lambda m, x: x.tensor_split((1, 3)), [(4, 2)]),
    "tensor_split_tensor_indices": (lambda m, x: x.tensor_split(m.tensor([1, 4])), [(5,)]),
    "tensor_split_tensor_sections": (lambda m, x: m.tensor_split(x, m.tensor(2), 1), [(3, 5)]),
    "tensor_split_no_indices": (lambda m, x: x.tensor_split([]), [(3,)]),
    "tensor_split_empty_dim": (lambda m, x: x.tensor_split(2, 1), [(2, 0)]),
    "hsplit_1d": (lambda m, x: m.hsplit(x, 2), [(6,)]),
    "hsplit": (lambda m, x: x.hsplit([1, 3]), [(2, 4, 2)]),
    "vsplit": (lambda m, x: m.vsplit(x, 2), [(4, 3)]),
    "vsplit_indices": (lambda m, x: x.vsplit([3]), [(2, 3)]),
    "dsplit": (lambda m, x: x.dsplit([1]), [(2, 2, 3)]),
    "dsplit_sections": (lambda m, x: m.dsplit(x, 3), [(1, 2, 3)]),
    "fliplr": (lambda m, x: m.fliplr(x), [(2, 3, 2)]),
    "flipud": (lambda m, x: x.flipud(), [(3,)]),
    "fliplr_method": (lambda m, x: x.fliplr(), [(2, 3)]),
    "cross_dim": (lambda m, a, b: m.cross(a, b, dim=0), [(3, 4), (3, 4)]),
    "cross_method_negative_dim": (lambda m, a, b: a.cross(b, -2), [(2, 3, 2), (1, 3, 2)]),
    "linalg_cross": (lambda m, a, b: m.linalg.cross(a, b), [(4, 3), (4, 3)]),
    "linalg_cross_broadcast": (lambda m, a, b: m.linalg.cross(a, b, dim=1),
                               [(2, 3, 1), (1, 3, 4)]),
    "linalg_cross_same_input": (lambda m, a: m.linalg.cross(a, a * a), [(2, 3)]),
    "broadcast_tensors": (lambda m, a, b, c: m.broadcast_tensors(a, b, c),
                          [(2, 1), (3,), (1, 1, 1)]),
    "broadcast_tensors_same_shape": (lambda m, a, b: m.broadcast_tensors(a, b),
                                     [(2, 3), (2, 3)]),
    "broadcast_tensors_one": (lambda m, a: m.broadcast_tensors(a), [(2,)]),
    "broadcast_tensors_empty": (lambda m, a, b: m.broadcast_tensors(a, b), [(0, 1), (3,)]),
    "cartesian_prod": (lambda m, a, b: m.cartesian_prod(a, b), [(3,), (2,)]),
    "cartesian_prod_three": (lambda m, a, b, c: m.cartesian_prod(a, b, c), [(2,), (3,), (2,)]),
    "cartesian_prod_one": (lambda m, a: m.cartesian_prod(a), [(3,)]),
    "cartesian_prod_empty": (lambda m, a, b: m.cartesian_prod(a, b), [(3,), (0,)]),
    "block_diag": (lambda m, *t: m.block_diag(*t), [(2, 3), (), (2,), (0, 2), (1, 0)]),
    "block_diag_one": (lambda m, a: m.block_diag(a), [(3,)]),
    "combinations": (lambda m, x: m.combinations(x), [(4,)]),
    "combinations_r3": (lambda m, x: m.combinations(x, 3), [(5,)]),
    "combinations_with_replacement": (lambda m, x: m.combinations(x, 2, True), [(3,)]),
    "combinations_r1": (lambda m, x: m.combinations(x, r=1), [(3,)]),
    "combinations_r_above_n": (lambda m, x: m.combinations(x, 4), [(3,)]),
    "combinations_r0": (lambda m, x: m.combinations(x, 0), [(3,)]),
    "combinations_empty": (lambda m, x: m.combinations(x, with_replacement=True), [(0,)]),
    # PyTorch 2.13's vander cannot backpropagate (its cumprod input is overwritten in place):
    # values here, gradients in test_vander_gradient_is_that_of_powers
    "vander": (lambda m, x: m.vander(x.detach()), [(4,)]),
    "vander_increasing": (lambda m, x: m.vander(x.detach(), N=5, increasing=True), [(3,)]),
    "vander_n1": (lambda m, x: m.vander(x.detach(), 1), [(3,)]),
    "vander_n0": (lambda m, x: m.vander(x, N=0), [(3,)]),
    "vander_empty": (lambda m, x: m.vander(x.detach()), [(0,)]),
}


@pytest.mark.parametrize("name", list(AGAINST_TORCH))
def test_against_torch(name):
    fn, specs = AGAINST_TORCH[name]
    check_against_torch(fn, specs)


@pytest.mark.parametrize("k", [-5, -1, 0, 1, 2, 3, 4, 6])
@pytest.mark.parametrize("dims", [(0, 1), (-1, 0), (2, 0), (1, -1)], ids=str)
def test_rot90_against_torch(k, dims):
    check_against_torch(lambda m, x: m.rot90(x, k, dims), [(2, 3, 4)])
    check_against_torch(lambda m, x: x.rot90(k=k, dims=list(dims)), [(2, 3, 4)])


def test_rot90_default_plane_against_torch():
    check_against_torch(lambda m, x: m.rot90(x), [(2, 3)])


def test_cross_default_dim_against_torch():
    """Without ``dim``: the first dim of size 3 of the input (deprecated in PyTorch)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_against_torch(lambda m, a, b: m.cross(a, b), [(2, 3, 3), (2, 3, 3)])
        check_against_torch(lambda m, a, b: a.cross(b), [(1, 3), (4, 3)])


def test_cross_without_dim_warns_as_pytorch():
    a, b = inp((3,)), inp((3,), 1)
    with pytest.warns(UserWarning, match="^Using torch.cross without specifying the dim arg "
                                         "is deprecated.\nPlease either pass the dim explicitly"):
        dg.cross(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dg.cross(a, b, dim=0)
        dg.linalg.cross(a, b)


def test_in_place_on_a_window_view_against_torch():
    """Non-overlapping windows changed in place: the base changes and gradients flow through."""
    def fn(m, x):
        y = x * 1
        windows = y.unfold(0, 2, 3)
        windows.mul_(2)
        return y, windows

    check_against_torch(fn, [(7, 2)])


# -- dtypes (integer, bool, float32, float16) against PyTorch ----------------------------------
INTS = np.arange(-3, 9).reshape(3, 4)
DTYPES = {
    "repeat_interleave_bool": (lambda m, x: m.repeat_interleave(x, 2), [INTS > 2]),
    "repeat_interleave_int8_counts": (lambda m, x, r: x.repeat_interleave(r, dim=0),
                                      [INTS.astype(np.int8), counts([1, 0, 2], np.int32)]),
    "unfold_int": (lambda m, x: x.unfold(1, 2, 1), [INTS]),
    "select_int32": (lambda m, x: x.select(0, -1), [INTS.astype(np.int32)]),
    "tensor_split_bool": (lambda m, x: x.tensor_split(3, dim=1), [INTS > 0]),
    "hsplit_uint8": (lambda m, x: x.hsplit(2), [INTS.astype(np.uint8)]),
    "rot90_bool": (lambda m, x: m.rot90(x, 3), [INTS > 0]),
    "fliplr_int8": (lambda m, x: m.fliplr(x), [INTS.astype(np.int8)]),
    "flipud_float32": (lambda m, x: x.flipud(), [INTS.astype(np.float32)]),
    "cross_int": (lambda m, a, b: m.cross(a, b, dim=0), [INTS[:, :3], INTS[:, 1:]]),
    "cross_float32": (lambda m, a, b: m.linalg.cross(a, b, dim=0),
                      [INTS[:, :3].astype(np.float32), INTS[:, 1:].astype(np.float32) / 3]),
    "broadcast_tensors_mixed": (lambda m, a, b: m.broadcast_tensors(a, b),
                                [INTS[:1].astype(np.float32), INTS[:, :1] > 0]),
    "cartesian_prod_int": (lambda m, a, b: m.cartesian_prod(a, b), [INTS[0], INTS[1, :2]]),
    "block_diag_int_and_0d_float": (lambda m, a, b: m.block_diag(a, b),
                                    [INTS.astype(np.int32), np.array(1.5)]),
    "block_diag_float32_and_0d_double": (lambda m, a, b: m.block_diag(a, b),
                                         [INTS.astype(np.float32), np.array(1.5)]),
    "block_diag_float32_and_double": (lambda m, a, b: m.block_diag(a, b),
                                      [INTS.astype(np.float32), np.ones((1, 2))]),
    "block_diag_bool": (lambda m, a, b: m.block_diag(a, b), [INTS > 0, np.array([True])]),
    "combinations_int": (lambda m, x: m.combinations(x, 3), [INTS[0]]),
    "vander_int8": (lambda m, x: m.vander(x), [INTS[0].astype(np.int8)]),
    "vander_int32": (lambda m, x: m.vander(x, 3, True), [INTS[0].astype(np.int32)]),
    "vander_bool": (lambda m, x: m.vander(x), [INTS[0] > 0]),
    "vander_float32": (lambda m, x: m.vander(x.detach() / 4), [INTS[0].astype(np.float32)]),
    "vander_float16": (lambda m, x: m.vander(x.detach() / 4), [INTS[0].astype(np.float16)]),
}


@pytest.mark.parametrize("name", list(DTYPES))
def test_dtypes_against_torch(name):
    fn, specs = DTYPES[name]
    check_against_torch(fn, specs, rtol=1e-6, atol=1e-6)


# -- gradients by finite differences (float64) -----------------------------------------------
DIFFERENTIABLE = {
    "repeat_interleave_int": (lambda x: x.repeat_interleave(2, dim=1), [(2, 3)]),
    "repeat_interleave_flat": (lambda x: dg.repeat_interleave(x, 3), [(2, 2)]),
    "repeat_interleave_tensor": (lambda x: x.repeat_interleave(dg.tensor([2, 0, 1]), dim=-1),
                                 [(2, 3)]),
    "unfold_overlapping": (lambda x: x.unfold(0, 3, 1), [(5, 2)]),
    "unfold_strided": (lambda x: x.unfold(1, 2, 3), [(2, 7)]),
    "unfold_0d": (lambda x: x.unfold(0, 1, 1), [()]),
    "select": (lambda x: dg.select(x, -2, 1), [(2, 3, 2)]),
    "tensor_split": (lambda x: x.tensor_split([1, -1], dim=1), [(2, 5)]),
    "hsplit": (lambda x: dg.hsplit(x, 2), [(2, 4)]),
    "vsplit": (lambda x: x.vsplit([1]), [(3, 2)]),
    "dsplit": (lambda x: dg.dsplit(x, [2]), [(1, 2, 3)]),
    "rot90": (lambda x: dg.rot90(x, 1, (1, 2)), [(2, 3, 4)]),
    "rot90_negative": (lambda x: x.rot90(-1), [(2, 3)]),
    "rot90_half_turn": (lambda x: dg.rot90(x, 2), [(2, 3)]),
    "fliplr": (lambda x: dg.fliplr(x), [(2, 3)]),
    "flipud": (lambda x: x.flipud(), [(3, 2)]),
    "cross": (lambda a, b: dg.cross(a, b, dim=0), [(3, 2), (3, 2)]),
    "linalg_cross_broadcast": (lambda a, b: dg.linalg.cross(a, b), [(2, 1, 3), (1, 4, 3)]),
    "broadcast_tensors": (lambda a, b: dg.broadcast_tensors(a, b), [(2, 1), (3,)]),
    "cartesian_prod": (lambda a, b: dg.cartesian_prod(a, b), [(3,), (2,)]),
    "block_diag": (lambda a, b, c: dg.block_diag(a, b, c), [(2, 2), (), (3,)]),
    "combinations": (lambda x: dg.combinations(x, 3), [(4,)]),
    "combinations_with_replacement": (lambda x: dg.combinations(x, with_replacement=True),
                                      [(3,)]),
    "vander": (lambda x: dg.vander(x), [(3,)]),
    "vander_increasing": (lambda x: dg.vander(x, 4, increasing=True), [(2,)]),
}


@pytest.mark.parametrize("name", list(DIFFERENTIABLE))
def test_gradcheck(name):
    fn, shapes = DIFFERENTIABLE[name]
    assert gradcheck(fn, tuple(inp(s, seed=i) for i, s in enumerate(shapes)))


@pytest.mark.parametrize("name", list(DIFFERENTIABLE))
def test_gradgradcheck(name):
    fn, shapes = DIFFERENTIABLE[name]
    assert gradgradcheck(fn, tuple(inp(s, seed=i) for i, s in enumerate(shapes)))


@pytest.mark.parametrize("n, increasing", [(None, False), (5, True), (2, False), (3, True)])
def test_vander_gradient_is_that_of_powers(n, increasing):
    """PyTorch's derivative of ``x ** p`` (``p * x ** (p - 1)``, 0 for ``p = 0``), also at 0."""
    def fn(m, x):
        if m is dg:
            return m.vander(x, n, increasing)
        powers = m.arange(n or len(x), dtype=x.dtype)
        return x[:, None] ** (powers if increasing else powers.flip(0))

    check_against_torch(fn, [np.array([0.5, 0.0, -2.0, 1.25])])


def test_vander_gradient_at_zero():
    """``vander``'s gradient through cumulative products stays exact where ``x`` is zero."""
    x = dg.tensor([0.0, 1.5, -0.5], dtype=dg.float64, requires_grad=True)
    assert gradcheck(lambda t: dg.vander(t, 4), (x,))
    assert gradgradcheck(lambda t: dg.vander(t, 4), (x,))


def test_unfold_gradient_adds_overlapping_windows():
    x = dg.zeros(5, dtype=dg.float64, requires_grad=True)
    x.unfold(0, 3, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0, 2.0, 1.0])
    y = dg.zeros(7, dtype=dg.float64, requires_grad=True)
    y.unfold(0, 2, 3).sum().backward()  # step > size: elements 2 and 5 are in no window
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0])


# -- views and copies ----------------------------------------------------------------------
VIEWS = {
    "select": lambda x: x.select(1, 0),
    "unfold": lambda x: x.unfold(1, 2, 1),
    "tensor_split": lambda x: x.tensor_split(2, 1)[1],
    "hsplit": lambda x: x.hsplit([1])[1],
    "vsplit": lambda x: x.vsplit(1)[0],
    "broadcast_tensors": lambda x: dg.broadcast_tensors(x, dg.zeros(2, 1, 3))[0],
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_views_share_storage_and_version(name):
    x = dg.arange(6.0).reshape(2, 3)
    view = VIEWS[name](x)
    assert view._base is x
    before = view.clone()
    x.add_(1)
    assert view._version == x._version
    np.testing.assert_array_equal(view.numpy(), before.numpy() + 1)


def test_unfold_view_writes_through_to_its_base():
    x = dg.arange(6.0)
    windows = x.unfold(0, 2, 2)
    windows[1, 0] = -1.0
    assert x.tolist() == [0.0, 1.0, -1.0, 3.0, 4.0, 5.0]
    assert x._version == windows._version == 1


COPIES = {
    "rot90": lambda m, x: m.rot90(x, 4),
    "rot90_quarter": lambda m, x: m.rot90(x),
    "fliplr": lambda m, x: m.fliplr(x),
    "flipud": lambda m, x: m.flipud(x),
    "repeat_interleave_one": lambda m, x: m.repeat_interleave(x, 1, dim=0),
    "repeat_interleave_one_tensor": lambda m, x: x.repeat_interleave(m.tensor([1, 1]), dim=0),
    "cross": lambda m, x: m.cross(x, x, dim=1),
    "block_diag": lambda m, x: m.block_diag(x),
}


@pytest.mark.parametrize("name", list(COPIES))
def test_copies_do_not_share_storage_as_in_torch(name, torch):
    t = torch.ones(2, 3)
    assert COPIES[name](torch, t).untyped_storage().data_ptr() != t.untyped_storage().data_ptr()
    x = dg.ones(2, 3)
    out = COPIES[name](dg, x)
    assert not np.shares_memory(out._data, x._data)
    out.zero_()
    assert x.tolist() == [[1.0] * 3] * 2 and x._version == 0


def test_broadcast_tensors_returns_a_tensor_of_the_common_shape_as_is(torch):
    for m in (torch, dg):
        a, b = m.ones(2, 3), m.ones(3)
        out = m.broadcast_tensors(a, b)
        assert isinstance(out, tuple) and out[0] is a and out[1]._base is b


def test_cartesian_prod_of_one_tensor_is_that_tensor():
    a = dg.ones(3)
    assert dg.cartesian_prod(a) is a


# -- broadcast_shapes --------------------------------------------------------------------------
SHAPES = [((2, 1), (3,)), ((2, 1), 3), (), ((0, 1), (3,)), ((0,), (1,)), ((2, 1), [3], (4, 1, 1)),
          (None, (2,)), ((), (1, 1)), (5, (1,))]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_broadcast_shapes_against_torch(shapes, torch):
    expected = torch.broadcast_shapes(*shapes)
    got = dg.broadcast_shapes(*shapes)
    assert isinstance(got, dg.Size) and got == tuple(expected)


# -- errors ------------------------------------------------------------------------------------
ERRORS = {
    "repeat_interleave_negative": lambda m: m.ones(2, 3).repeat_interleave(-1, dim=0),
    "repeat_interleave_output_size": lambda m: m.ones(2, 3).repeat_interleave(2, output_size=11),
    "repeat_interleave_0d_dim": lambda m: m.tensor(3.0).repeat_interleave(2, dim=0),
    "repeat_interleave_dim_range": lambda m: m.ones(2, 3).repeat_interleave(2, dim=2),
    "repeat_interleave_size": lambda m: m.ones(2, 3).repeat_interleave(m.tensor([1, 2]), dim=-1),
    "repeat_interleave_size_flat": lambda m: m.ones(2, 3).repeat_interleave(m.tensor([1, 2])),
    "repeat_interleave_2d_repeats": lambda m: m.ones(2, 3).repeat_interleave(m.tensor([[1, 2]]),
                                                                            dim=0),
    "repeat_interleave_0d_tensor_dim": lambda m: m.tensor(3.0).repeat_interleave(m.tensor([2]),
                                                                                 dim=0),
    "repeat_interleave_float_counts": lambda m: m.repeat_interleave(m.tensor([1.0, 2.0])),
    "repeat_interleave_bool_counts": lambda m: m.ones(2).repeat_interleave(m.tensor([True, False]),
                                                                          dim=0),
    "repeat_interleave_2d_counts": lambda m: m.repeat_interleave(m.tensor([[1, 2]])),
    "repeat_interleave_0d_counts": lambda m: m.repeat_interleave(m.tensor(3)),
    "repeat_interleave_negative_counts": lambda m: m.repeat_interleave(m.tensor([1, -2])),
    "repeat_interleave_counts_output_size": lambda m: m.repeat_interleave(m.tensor([1, 2]),
                                                                          output_size=4),
    "unfold_size_too_big": lambda m: m.ones(10).unfold(0, 11, 1),
    "unfold_negative_size": lambda m: m.ones(10).unfold(0, -1, 1),
    "unfold_step_zero": lambda m: m.ones(10).unfold(0, 3, 0),
    "unfold_negative_step": lambda m: m.ones(2, 4).unfold(-1, 3, -1),
    "unfold_dim_range": lambda m: m.ones(10).unfold(1, 2, 1),
    "unfold_0d_size": lambda m: m.tensor(5.0).unfold(0, 2, 1),
    "select_0d": lambda m: m.tensor(1.0).select(0, 0),
    "select_index": lambda m: m.ones(2, 3, 4).select(-2, 3),
    "select_negative_index": lambda m: m.ones(2, 3, 4).select(1, -4),
    "select_dim": lambda m: m.ones(2, 3).select(2, 0),
    "select_empty": lambda m: m.ones(0, 2).select(0, 0),
    "tensor_split_0d": lambda m: m.tensor(1.0).tensor_split(2),
    "tensor_split_zero_sections": lambda m: m.ones(4).tensor_split(0),
    "tensor_split_negative_sections": lambda m: m.ones(4).tensor_split(-1),
    "tensor_split_dim": lambda m: m.ones(4).tensor_split(2, dim=1),
    "tensor_split_float_tensor": lambda m: m.ones(4).tensor_split(m.tensor([1.0])),
    "tensor_split_int32_tensor": lambda m: m.ones(4).tensor_split(m.tensor([1], dtype=m.int32)),
    "tensor_split_2d_tensor": lambda m: m.ones(4).tensor_split(m.tensor([[1, 2]])),
    "hsplit_0d": lambda m: m.tensor(1.0).hsplit(1),
    "hsplit_indivisible": lambda m: m.ones(2, 3).hsplit(2),
    "hsplit_zero": lambda m: m.ones(2, 3).hsplit(0),
    "hsplit_negative": lambda m: m.ones(2, 3).hsplit(-1),
    "vsplit_1d": lambda m: m.ones(4).vsplit(2),
    "vsplit_indivisible": lambda m: m.ones(3, 2).vsplit(2),
    "dsplit_2d": lambda m: m.ones(2, 4).dsplit(2),
    "dsplit_indivisible": lambda m: m.dsplit(m.ones(1, 1, 4), 3),
    "rot90_one_dim": lambda m: m.rot90(m.ones(2, 3), 1, [0]),
    "rot90_three_dims": lambda m: m.rot90(m.ones(2, 3, 4), 1, [0, 1, 2]),
    "rot90_1d": lambda m: m.rot90(m.ones(3)),
    "rot90_same_dims": lambda m: m.rot90(m.ones(2, 3), 1, [1, 1]),
    "rot90_same_dims_wrapped": lambda m: m.rot90(m.ones(2, 3), 1, [0, -2]),
    "rot90_dim_range": lambda m: m.rot90(m.ones(2, 3), 1, [0, 2]),
    "fliplr_1d": lambda m: m.fliplr(m.ones(3)),
    "flipud_0d": lambda m: m.tensor(1.0).flipud(),
    "cross_ranks": lambda m: m.cross(m.ones(3), m.ones(2, 3), dim=0),
    "cross_length": lambda m: m.cross(m.ones(3, 4), m.ones(3, 4), dim=1),
    "cross_length_other": lambda m: m.linalg.cross(m.ones(2, 3), m.ones(2, 4), dim=1),
    "cross_dtypes": lambda m: m.cross(m.ones(2, 3), m.ones(2, 3, dtype=m.float64), dim=1),
    "cross_broadcast_before_dtypes": lambda m: m.cross(m.ones(2, 3), m.ones(3, 3).double(), 1),
    "cross_bool": lambda m: m.cross(m.ones(3, dtype=m.bool), m.ones(3, dtype=m.bool), dim=0),
    "cross_bool_int": lambda m: m.cross(m.ones(3, dtype=m.long), m.ones(3, dtype=m.bool), 0),
    "cross_no_size_3": lambda m: m.cross(m.ones(2, 4), m.ones(2, 4)),
    "cross_default_broadcast": lambda m: m.cross(m.ones(2, 3), m.ones(3, 3)),
    "linalg_cross_0d": lambda m: m.linalg.cross(m.tensor(1.0), m.tensor(2.0)),
    "linalg_cross_dim_range": lambda m: m.linalg.cross(m.ones(3, 3), m.ones(3, 3), dim=2),
    "linalg_cross_last_dim": lambda m: m.linalg.cross(m.ones(3, 4), m.ones(3, 4)),
    "broadcast_tensors": lambda m: m.broadcast_tensors(m.ones(2, 2), m.ones(3), m.ones(4)),
    "broadcast_tensors_list": lambda m: m.broadcast_tensors([m.ones(2), m.ones(2)]),
    "broadcast_tensors_number": lambda m: m.broadcast_tensors(m.ones(2), 3),
    "broadcast_shapes": lambda m: m.broadcast_shapes((2, 1), (3,), (2, 3), (4, 2, 2)),
    "broadcast_shapes_fewer_dims": lambda m: m.broadcast_shapes((2,), (2, 3)),
    "broadcast_shapes_negative": lambda m: m.broadcast_shapes((2, -1), (3,)),
    "broadcast_shapes_negative_alone": lambda m: m.broadcast_shapes(-1),
    "broadcast_shapes_not_a_shape": lambda m: m.broadcast_shapes(2.5),
    "cartesian_prod_2d": lambda m: m.cartesian_prod(m.ones(3), m.ones(2, 2)),
    "cartesian_prod_0d": lambda m: m.cartesian_prod(m.tensor(1.0)),
    "cartesian_prod_dtypes": lambda m: m.cartesian_prod(m.ones(3), m.ones(2, dtype=m.long)),
    "cartesian_prod_none": lambda m: m.cartesian_prod(),
    "cartesian_prod_list": lambda m: m.cartesian_prod([m.ones(3)]),
    "block_diag_3d": lambda m: m.block_diag(m.ones(2, 2), m.ones(2, 3, 4)),
    "block_diag_list": lambda m: m.block_diag([m.ones(2, 2)]),
    "combinations_2d": lambda m: m.combinations(m.ones(2, 2)),
    "combinations_0d": lambda m: m.combinations(m.tensor(1.0)),
    "combinations_negative_r": lambda m: m.combinations(m.ones(3), -1),
    "vander_2d": lambda m: m.vander(m.ones(3, 1)),
    "vander_0d": lambda m: m.vander(m.tensor(1.0)),
    "vander_negative_n": lambda m: m.vander(m.ones(3), -1),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_error_messages_match_torch(name, torch):
    """The same exception type and first line of the message."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as expected:
            ERRORS[name](torch)
        message = re.escape(str(expected.value).split("\n")[0])
        with pytest.raises(expected.type, match=f"^{message}$"):
            ERRORS[name](dg)


# PyTorch's argument parser lists its signatures after these words
PHRASES = {
    "repeat_interleave_float_repeats": (lambda m: m.ones(2).repeat_interleave(2.5),
                                        "repeat_interleave() received an invalid combination of "
                                        "arguments - got (float), "),
    "repeat_interleave_bool_repeats": (lambda m: m.ones(2).repeat_interleave(True, dim=0),
                                       "repeat_interleave() received an invalid combination of "
                                       "arguments - got (bool"),
}


@pytest.mark.parametrize("name", list(PHRASES))
def test_error_key_phrases_match_torch(name, torch):
    fn, phrase = PHRASES[name]
    for m in (torch, dg):
        with pytest.raises(TypeError) as raised:
            fn(m)
        assert str(raised.value).startswith(phrase), m.__name__


# -- the device-generic path (fake CuPy) -------------------------------------------------------
GPU_CASES = {
    "repeat_interleave": (lambda x: (x.repeat_interleave(2, 1), x.repeat_interleave(
        dg.tensor([1, 0, 2], device=x.device), dim=1), dg.repeat_interleave(
            dg.tensor([2, 1], device=x.device))), [(2, 3)]),
    "unfold": (lambda x: (x.unfold(1, 2, 1), x.t().unfold(0, 2, 2), x[0, 0].unfold(0, 1, 1)),
               [(2, 3)]),
    "select_splits": (lambda x: (x.select(1, -1),) + x.tensor_split([1, 2], 1) + x.hsplit(3)
                      + x.vsplit([1]), [(2, 3)]),
    "rotations": (lambda x: (dg.rot90(x), dg.rot90(x, 2), dg.rot90(x, -1), x.fliplr(),
                             x.flipud()), [(2, 3)]),
    "cross": (lambda a, b: (dg.linalg.cross(a, b), dg.cross(a, b, 1)), [(2, 3), (1, 3)]),
    "built": (lambda a, b: (dg.broadcast_tensors(a, b[:, None])[1], dg.cartesian_prod(a, b),
                            dg.block_diag(a, b, a[0]), dg.combinations(a, 2),
                            dg.vander(b, 3)), [(3,), (2,)]),
}


@pytest.mark.parametrize("name", list(GPU_CASES))
def test_fake_gpu_matches_cpu(name):
    from test_fake_gpu import check
    fn, shapes = GPU_CASES[name]
    arrays = [np.random.default_rng(i).standard_normal(s) for i, s in enumerate(shapes)]
    with fake_cupy.installed():
        check(fn, *arrays, rtol=1e-12, atol=1e-12)
