"""Diagonals (diagonal/diag/diag_embed/trace/fill_diagonal_), roll, diff, meshgrid,
masked_select, take_along_dim, bincount/histc/searchsorted/bucketize, cdist, and the linear
algebra of ``distgrad.linalg`` (inv, det, slogdet, solve, cholesky).

Gradients by finite differences (``gradcheck``, ``gradgradcheck`` in float64); where PyTorch is
installed, values, dtypes and gradients against it (``check_against_torch`` of
``test_ops_torch.py``) and its error messages; and the device-generic path on the fake CuPy.
"""
import math
import re
import warnings

import numpy as np
import pytest

import distgrad as dg
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.testing import fake_cupy


def inp(shape, seed=0):
    """A float64 leaf requiring grad with normal values."""
    return dg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def spd(m, x):
    """A symmetric positive-definite matrix made from ``x`` (``m`` is torch or distgrad)."""
    return x @ x.mT + m.eye(x.shape[-1], dtype=x.dtype)


def idx(a):
    return dg.tensor(np.array(a))


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.fixture
def against_torch(torch):
    from test_ops_torch import check_against_torch
    return check_against_torch


MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])
TAKE = np.array([[0, 3], [2, 2], [1, 0]])


# -- gradients by finite differences ---------------------------------------------------------
DIFFERENTIABLE = {
    "diagonal": (lambda x: dg.diagonal(x, 1), [(3, 4)]),
    "diagonal_dims": (lambda x: x.diagonal(-1, 2, 0), [(3, 2, 4)]),
    "diag_vector": (lambda x: dg.diag(x, -1), [(3,)]),
    "diag_matrix": (lambda x: x.diag(1), [(3, 4)]),
    "diag_embed": (lambda x: dg.diag_embed(x, 1, 0, 2), [(2, 3)]),
    "trace": (lambda x: dg.trace(x), [(3, 4)]),
    "fill_diagonal_": (lambda x: (x * 1).fill_diagonal_(2.0, wrap=True), [(5, 2)]),
    "roll": (lambda x: dg.roll(x, (1, -2), (0, 1)), [(3, 4)]),
    "roll_flat": (lambda x: x.roll(5), [(3, 4)]),
    "diff": (lambda x, p, a: dg.diff(x, 2, dim=0, prepend=p, append=a), [(4, 3), (1, 3), (2, 3)]),
    "meshgrid": (lambda a, b: dg.prod(dg.stack(dg.meshgrid(a, b, indexing="xy")), 0),
                 [(3,), (2,)]),
    "masked_select_broadcast": (lambda x: dg.masked_select(x, dg.tensor(MASK)), [(3, 1)]),
    "take_along_dim": (lambda x: dg.take_along_dim(x, idx(TAKE[:, :1]), 1), [(3, 4)]),
    "take_along_dim_broadcast": (lambda x: x.take_along_dim(idx([[[1], [0]]]), -1), [(3, 1, 4)]),
    "take_along_dim_flat": (lambda x: dg.take_along_dim(x, idx(TAKE)), [(3, 4)]),
    "cdist_p1": (lambda a, b: dg.cdist(a, b, 1), [(3, 2), (4, 2)]),
    "cdist_p_half": (lambda a, b: dg.cdist(a, b, 0.5), [(3, 2), (4, 2)]),
    "cdist_p1_5": (lambda a, b: dg.cdist(a, b, 1.5), [(3, 2), (4, 2)]),
    "cdist_p2_batch": (lambda a, b: dg.cdist(a, b), [(2, 1, 3, 2), (4, 2)]),
    "cdist_p3": (lambda a, b: dg.cdist(a, b, 3), [(3, 2), (4, 2)]),
    "cdist_inf": (lambda a, b: dg.cdist(a, b, math.inf), [(3, 2), (4, 2)]),
    "cdist_mm": (lambda a, b: dg.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
                 [(3, 2), (4, 2)]),
    "inv": (lambda a: dg.linalg.inv(a), [(3, 3)]),
    "inverse_batch": (lambda a: a.inverse(), [(2, 3, 3)]),
    "det": (lambda a: dg.linalg.det(a), [(3, 3)]),
    "det_batch": (lambda a: a.det(), [(2, 2, 2)]),
    "slogdet": (lambda a: dg.linalg.slogdet(a), [(2, 3, 3)]),
    "solve": (lambda a, b: dg.linalg.solve(a, b), [(3, 3), (3, 2)]),
    "solve_vector_batch": (lambda a, b: dg.linalg.solve(a, b), [(2, 3, 3), (3,)]),
    "solve_broadcast": (lambda a, b: dg.linalg.solve(a, b), [(3, 3), (2, 3, 1)]),
    "solve_right": (lambda a, b: dg.linalg.solve(a, b, left=False), [(2, 3, 3), (4, 3)]),
    "cholesky": (lambda x: dg.linalg.cholesky(spd(dg, x)), [(2, 3, 3)]),
    "cholesky_upper": (lambda x: dg.linalg.cholesky(spd(dg, x), upper=True), [(3, 3)]),
}


@pytest.mark.parametrize("name", list(DIFFERENTIABLE))
def test_gradcheck(name):
    fn, shapes = DIFFERENTIABLE[name]
    assert gradcheck(fn, tuple(inp(s, seed=i) for i, s in enumerate(shapes)))


DOUBLE_BACKWARD = ["diagonal_dims", "diag_vector", "diag_matrix", "diag_embed", "trace",
                   "fill_diagonal_", "roll", "masked_select_broadcast", "cdist_p2_batch",
                   "cdist_mm", "inv", "det", "slogdet", "solve_broadcast", "solve_right",
                   "cholesky_upper"]


@pytest.mark.parametrize("name", DOUBLE_BACKWARD)
def test_gradgradcheck(name):
    fn, shapes = DIFFERENTIABLE[name]
    assert gradgradcheck(fn, tuple(inp(s, seed=i) for i, s in enumerate(shapes)))


def test_cdist_double_backward_only_for_p2():
    a, b = inp((3, 2)), inp((4, 2), seed=1)
    (g,) = dg.autograd.grad(dg.cdist(a, b, 3).sum(), a, create_graph=True)
    with pytest.raises(NotImplementedError, match="'_cdist_backward' is not implemented"):
        g.sum().backward()


def test_det_gradient_of_a_singular_matrix_is_the_cofactor_matrix():
    # PyTorch's first-order backward gives 0 here (its double-backward path the cofactors)
    a = dg.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=dg.float64, requires_grad=True)
    dg.linalg.det(a).backward()
    np.testing.assert_allclose(a.grad.numpy(), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)
    b = dg.tensor(np.diag([1.0, 0.0, 2.0]), requires_grad=True)
    dg.det(b).backward()
    np.testing.assert_allclose(b.grad.numpy(), np.diag([0.0, 2.0, 0.0]), atol=1e-12)


# -- against PyTorch -------------------------------------------------------------------------
SAME = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 1.0]])  # rows 0 of both: a zero distance
OTHER = np.array([[0.0, 0.0], [1.0, 1.0]])
AGAINST_TORCH = {
    "diagonal": (lambda m, x: m.diagonal(x, offset=-1, dim1=1, dim2=2) * 1, [(2, 4, 3)]),
    "diagonal_method": (lambda m, x: x.diagonal(2) * 1, [(3, 5)]),
    "diag_vector": (lambda m, x: m.diag(x, 2), [(3,)]),
    "diag_matrix": (lambda m, x: x.diag(-1), [(4, 3)]),
    "diag_embed": (lambda m, x: m.diag_embed(x, -1, 2, 0), [(2, 3)]),
    "diag_embed_method": (lambda m, x: x.diag_embed(), [(2, 3)]),
    "trace": (lambda m, x: m.trace(x), [(3, 4)]),
    "trace_method": (lambda m, x: x.trace(), [(4, 2)]),
    "roll": (lambda m, x: m.roll(x, 2), [(3, 4)]),
    "roll_dims": (lambda m, x: x.roll((1, -1, 2), (0, -1, 1)), [(2, 3, 4)]),
    "roll_int_dim": (lambda m, x: m.roll(x, shifts=-1, dims=1), [(3, 4)]),
    "diff": (lambda m, x: m.diff(x), [(3, 4)]),
    "diff_n_dim": (lambda m, x: x.diff(n=2, dim=0), [(4, 3)]),
    "diff_prepend_append": (lambda m, x, p, a: m.diff(x, 1, 1, prepend=p, append=a),
                            [(3, 4), (3, 2), (3, 1)]),
    "diff_too_long": (lambda m, x: m.diff(x, n=5), [(3, 4)]),
    "meshgrid_ij": (lambda m, a, b, c: m.meshgrid(a, b, c, indexing="ij"), [(2,), (3,), (4,)]),
    "meshgrid_xy": (lambda m, a, b: m.meshgrid([a, b], indexing="xy"), [(2,), (3,)]),
    "meshgrid_0d": (lambda m, a, b: m.meshgrid(a, b, indexing="xy"), [(), (3,)]),
    "masked_select": (lambda m, x, k: m.masked_select(x, k), [(3, 4), MASK]),
    "masked_select_broadcast": (lambda m, x, k: x.masked_select(k), [(4,), MASK]),
    "take_along_dim": (lambda m, x, i: m.take_along_dim(x, i, dim=1), [(3, 4), TAKE]),
    "take_along_dim_flat": (lambda m, x, i: x.take_along_dim(i), [(3, 4), TAKE]),
    "take_along_dim_broadcast": (lambda m, x, i: m.take_along_dim(x, i, -1),
                                 [(3, 1, 4), np.array([[[1], [-1]]])]),
    "cdist": (lambda m, a, b: m.cdist(a, b), [(3, 2), (4, 2)]),
    "cdist_batch": (lambda m, a, b: m.cdist(a, b, p=1.5), [(2, 1, 3, 2), (4, 5, 2)]),
    "cdist_mm": (lambda m, a, b: m.cdist(a, b), [(30, 3), (4, 3)]),
    "cdist_no_mm": (lambda m, a, b: m.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist"),
                    [(30, 3), (4, 3)]),
    **{f"cdist_zero_distance_p{p}": (lambda m, a, b, p=p: m.cdist(a, b, p), [SAME, OTHER])
       for p in (0, 0.5, 1, 1.5, 2, 3, math.inf)},
    "inv": (lambda m, a: m.linalg.inv(a), [(3, 3)]),
    "inverse_batch": (lambda m, a: m.inverse(a), [(2, 3, 3)]),
    "det": (lambda m, a: m.linalg.det(a), [(2, 3, 3)]),
    "det_top_level": (lambda m, a: m.det(a), [(4, 4)]),
    "slogdet": (lambda m, a: m.linalg.slogdet(a), [(2, 3, 3)]),
    "slogdet_method": (lambda m, a: tuple(a.slogdet()), [(3, 3)]),
    "solve": (lambda m, a, b: m.linalg.solve(a, b), [(3, 3), (3, 2)]),
    "solve_vector": (lambda m, a, b: m.linalg.solve(a, b), [(3, 3), (3,)]),
    "solve_batched_vector": (lambda m, a, b: m.linalg.solve(a, b), [(2, 3, 3), (2, 3)]),
    "solve_broadcast": (lambda m, a, b: m.linalg.solve(a, b), [(2, 3, 3), (4, 1, 3, 2)]),
    "solve_right": (lambda m, a, b: m.linalg.solve(a, b, left=False), [(2, 3, 3), (5, 3)]),
    "cholesky": (lambda m, x: m.linalg.cholesky(spd(m, x)), [(2, 3, 3)]),
    "cholesky_upper": (lambda m, x: m.linalg.cholesky(spd(m, x), upper=True), [(3, 3)]),
    "cholesky_reads_lower": (lambda m, x: m.linalg.cholesky(spd(m, x).tril()), [(3, 3)]),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(AGAINST_TORCH))
def test_against_torch(name, against_torch):
    fn, specs = AGAINST_TORCH[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        against_torch(fn, specs, rtol=1e-8, atol=1e-10)


def test_meshgrid_default_indexing_warns_like_torch(torch):
    for m in (torch, dg):
        with pytest.warns(UserWarning, match="it will be required to pass the indexing argument"):
            grids = m.meshgrid(m.arange(2), m.arange(3))
        assert [tuple(g.shape) for g in grids] == [(2, 3), (2, 3)]


@pytest.mark.torch
@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("shape", [(5, 2), (2, 5), (3, 3, 3)])
def test_fill_diagonal_against_torch(shape, wrap, against_torch):
    def fn(m, x):
        y = x * 1
        assert y.fill_diagonal_(-2.5, wrap=wrap) is y
        return y
    against_torch(fn, [shape])


@pytest.mark.torch
def test_writes_through_a_diagonal_view_against_torch(against_torch):
    def fn(m, x):
        y = x * 1
        d = y.diagonal(1)
        d.mul_(3)
        d[0] = 7.0
        return y, d
    against_torch(fn, [(3, 4)])


def test_diagonal_is_a_writable_view():
    x = dg.zeros(3, 3)
    d = x.diagonal()
    d.fill_(2.0)
    assert x.tolist() == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]
    assert d._version_counter is x._version_counter and x._version == 1
    assert dg.diag(x).fill_(5.0) is not None and x[0, 0].item() == 2  # diag copies


def test_slogdet_sign_has_no_gradient():
    a = inp((2, 3, 3))
    sign, logabsdet = dg.linalg.slogdet(a)
    assert sign.requires_grad and sign.grad_fn is logabsdet.grad_fn
    sign.sum().backward()
    assert a.grad is None


# -- not differentiable: values and dtypes ---------------------------------------------------
INTS = np.array([0, 3, 1, 3, 5])
DATA = np.array([1.0, 2.0, 1.0, 2.5, 4.0, -1.0, np.nan, 3.0])
SEQ = np.array([1.0, 3.0, 5.0, 7.0, 9.0])
VALUES = np.array([[3.0, 6.0, 9.0, 0.0], [10.0, 1.0, np.nan, 5.0]])


NOT_DIFFERENTIABLE = {
    "bincount": lambda m: m.bincount(m.tensor(INTS)),
    "bincount_minlength": lambda m: m.tensor(INTS).int().bincount(minlength=8),
    "bincount_weights": lambda m: m.bincount(m.tensor(INTS), m.tensor(DATA[:5]).float()),
    "bincount_weights_double": lambda m: m.bincount(m.tensor(INTS), m.tensor(DATA[:5])),
    "bincount_int_weights": lambda m: m.bincount(m.tensor(INTS), m.tensor(INTS), minlength=7),
    "bincount_empty": lambda m: m.bincount(m.tensor(INTS[:0]), m.ones(0), minlength=2),
    "bincount_uint8": lambda m: m.bincount(m.tensor(INTS).to(m.uint8)),
    "histc": lambda m: m.histc(m.tensor(DATA), bins=4, min=0, max=3),
    "histc_data_range": lambda m: m.tensor(DATA[:6]).float().histc(5),
    "histc_min_equals_max": lambda m: m.histc(m.tensor(DATA[:5]), 3, min=2, max=2),
    "histc_constant": lambda m: m.histc(m.ones(2, 3), bins=4),
    "histc_empty": lambda m: m.histc(m.ones(0), bins=3),
    "histc_half": lambda m: m.histc(m.tensor(DATA[:5]).half(), bins=3),
    "searchsorted": lambda m: m.searchsorted(m.tensor(SEQ), m.tensor(VALUES)),
    "searchsorted_right": lambda m: (m.searchsorted(m.tensor(SEQ), m.tensor(VALUES), right=True),
                                     m.searchsorted(m.tensor(SEQ), m.tensor(VALUES),
                                                    side="right", out_int32=True)),
    "searchsorted_batched": lambda m: m.searchsorted(m.tensor(np.stack([SEQ, SEQ * 2])),
                                                     m.tensor(VALUES[:, :3])),
    "searchsorted_scalar": lambda m: (m.searchsorted(m.tensor(SEQ), 4),
                                      m.searchsorted(m.tensor(SEQ), 5.0, right=True),
                                      m.searchsorted(m.tensor(SEQ), m.tensor(3.0))),
    "searchsorted_sorter": lambda m: m.searchsorted(m.tensor([5.0, 1.0, 3.0]), m.tensor(VALUES),
                                                    sorter=m.tensor([1, 2, 0])),
    "searchsorted_int_values": lambda m: m.searchsorted(m.tensor(SEQ), m.tensor(INTS)),
    "bucketize": lambda m: m.bucketize(m.tensor(VALUES), m.tensor(SEQ)),
    "bucketize_right_int32": lambda m: m.bucketize(m.tensor(VALUES), m.tensor(SEQ), right=True,
                                                   out_int32=True),
    "bucketize_scalar": lambda m: (m.bucketize(3, m.tensor(SEQ)),
                                   m.bucketize(3.0, m.tensor(SEQ), right=True)),
    "integer_and_bool_inputs": lambda m: (
        m.diff(m.tensor(INTS) > 2), m.diff(m.tensor(INTS).to(m.uint8), prepend=m.tensor([9]).to(
            m.uint8)), m.roll(m.tensor(INTS), 2), m.diag(m.tensor(INTS)), m.tensor(MASK).diagonal(),
        m.trace(m.tensor(TAKE)), m.trace(m.tensor(TAKE).int()), m.diag_embed(m.tensor(TAKE)),
        m.masked_select(m.tensor(TAKE), m.tensor(MASK[:, :2])),
        m.take_along_dim(m.tensor(MASK), m.tensor(TAKE), 1), *m.meshgrid(m.tensor(INTS),
                                                                          indexing="ij")),
}


FLOAT32 = {
    "inv_det_slogdet": lambda m, a, b: (m.linalg.inv(a), m.det(a), *m.linalg.slogdet(a)),
    "solve_cholesky": lambda m, a, b: (m.linalg.solve(a, b), m.linalg.cholesky(spd(m, a))),
    "cdist": lambda m, a, b: (m.cdist(a, b.mT), m.cdist(a, b.mT, 1), m.cdist(a, b.mT, math.inf),
                              m.cdist(a.repeat(10, 1), b.mT)),
    "shape": lambda m, a, b: (m.diag(a), a.diagonal(), m.trace(a), m.roll(a, 1), m.diff(a),
                              m.diag_embed(b)),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(FLOAT32))
def test_float32_against_torch(name, torch):
    arrays = [np.random.default_rng(i).standard_normal(s).astype(np.float32)
              for i, s in enumerate([(3, 3), (3, 2)])]
    got = FLOAT32[name](dg, *[dg.tensor(a) for a in arrays])
    expected = FLOAT32[name](torch, *[torch.tensor(a) for a in arrays])
    for d, t in zip(got, expected):
        assert str(t.dtype) == f"torch.{d.dtype}" and tuple(t.shape) == d.shape
        np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.torch
@pytest.mark.parametrize("name", list(NOT_DIFFERENTIABLE))
def test_not_differentiable_against_torch(name, torch):
    from test_ops_extra import _same
    fn = NOT_DIFFERENTIABLE[name]
    _same(fn(dg), fn(torch))


def test_bincount_of_weights_that_require_grad_has_no_derivative(torch):
    assert not dg.histc(dg.ones(3, requires_grad=True), bins=2).requires_grad
    out = dg.bincount(idx(INTS), dg.ones(5, requires_grad=True))
    assert out.requires_grad and torch.bincount(torch.tensor(INTS),
                                                torch.ones(5, requires_grad=True)).requires_grad
    with pytest.raises(RuntimeError, match="derivative for aten::bincount is not implemented"):
        out.sum().backward()


# -- error messages --------------------------------------------------------------------------
SINGULAR = [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]
ERRORS = {
    "diag_3d": lambda m: m.diag(m.ones(2, 2, 2)),
    "diag_0d": lambda m: m.diag(m.tensor(1.0)),
    "diagonal_same_dims": lambda m: m.diagonal(m.ones(2, 3), 1, 0, -2),
    "diagonal_dim_range": lambda m: m.ones(3).diagonal(),
    "diag_embed_same_dims": lambda m: m.diag_embed(m.ones(2, 3), 0, 0, 0),
    "diag_embed_dim_range": lambda m: m.diag_embed(m.ones(2, 3), 0, 0, 3),
    "trace_3d": lambda m: m.trace(m.ones(2, 2, 2)),
    "trace_bool": lambda m: m.ones(2, 2, dtype=m.bool).trace(),
    "fill_diagonal_1d": lambda m: m.ones(3).fill_diagonal_(1),
    "fill_diagonal_unequal": lambda m: m.ones(2, 3, 3).fill_diagonal_(1),
    "roll_align": lambda m: m.roll(m.ones(2, 3), (1, 2)),
    "roll_align_dims": lambda m: m.roll(m.ones(2, 3), (1, 2), (0,)),
    "roll_empty": lambda m: m.roll(m.ones(2, 3), [], []),
    "roll_dim_range": lambda m: m.roll(m.ones(2, 3), 1, 2),
    "roll_0d_dim": lambda m: m.roll(m.tensor(1.0), 1, 0),
    "diff_order": lambda m: m.diff(m.ones(3), n=-1),
    "diff_0d": lambda m: m.diff(m.tensor(1.0)),
    "diff_prepend_dims": lambda m: m.diff(m.ones(2, 3), prepend=m.ones(3)),
    "diff_prepend_shape": lambda m: m.diff(m.ones(2, 3), append=m.ones(4, 3)),
    "diff_prepend_number": lambda m: m.diff(m.ones(3), prepend=1),
    "meshgrid_indexing": lambda m: m.meshgrid(m.ones(2), indexing="foo"),
    "meshgrid_dtypes": lambda m: m.meshgrid(m.ones(2), m.ones(2).double(), indexing="ij"),
    "meshgrid_empty": lambda m: m.meshgrid(indexing="ij"),
    "masked_select_mask_dtype": lambda m: m.masked_select(m.ones(3), m.ones(3).long()),
    "masked_select_shapes": lambda m: m.masked_select(m.ones(2, 3), m.ones(4, 1, dtype=m.bool)),
    "take_along_dim_dtype": lambda m: m.take_along_dim(m.ones(2, 3), m.zeros(2, 1).int(), 1),
    "take_along_dim_dims": lambda m: m.take_along_dim(m.ones(2, 3), m.zeros(2).long(), 1),
    "take_along_dim_shapes": lambda m: m.take_along_dim(m.ones(3, 4),
                                                        m.zeros(2, 1, dtype=m.int64), 1),
    "bincount_float": lambda m: m.bincount(m.ones(3)),
    "bincount_negative": lambda m: m.bincount(m.tensor([1, -1])),
    "bincount_2d": lambda m: m.bincount(m.ones(2, 2, dtype=m.int64)),
    "bincount_minlength": lambda m: m.bincount(m.tensor([1]), minlength=-1),
    "bincount_weights": lambda m: m.bincount(m.tensor([1, 2]), m.ones(3)),
    "histc_int": lambda m: m.histc(m.tensor([1, 2])),
    "histc_bins": lambda m: m.histc(m.ones(3), bins=0),
    "histc_min_max": lambda m: m.histc(m.ones(3), bins=3, min=3, max=1),
    "histc_not_finite": lambda m: m.histc(m.tensor([1.0, math.inf]), bins=3),
    "histc_nan_min": lambda m: m.histc(m.ones(3), bins=3, min=math.nan),
    "searchsorted_side": lambda m: m.searchsorted(m.ones(3), m.ones(2), side="up"),
    "searchsorted_side_right": lambda m: m.searchsorted(m.ones(3), m.ones(2), right=True,
                                                        side="left"),
    "searchsorted_dims": lambda m: m.searchsorted(m.ones(2, 5), m.ones(1, 3)),
    "searchsorted_0d_boundaries": lambda m: m.searchsorted(m.tensor(1.0), m.ones(2)),
    "searchsorted_scalar_nd": lambda m: m.searchsorted(m.ones(2, 5), 1.0),
    "searchsorted_sorter_size": lambda m: m.searchsorted(m.ones(3), m.ones(2),
                                                         sorter=m.tensor([0, 1])),
    "searchsorted_sorter_dtype": lambda m: m.searchsorted(m.ones(3), m.ones(2),
                                                          sorter=m.ones(3)),
    "searchsorted_sorter_range": lambda m: m.searchsorted(m.ones(3), m.ones(2),
                                                          sorter=m.tensor([0, 1, 3])),
    "bucketize_dims": lambda m: m.bucketize(m.ones(2), m.ones(2, 2)),
    "cdist_1d": lambda m: m.cdist(m.ones(3, 2), m.ones(2)),
    "cdist_columns": lambda m: m.cdist(m.ones(3, 2), m.ones(4, 3)),
    "cdist_int": lambda m: m.cdist(m.ones(3, 2).long(), m.ones(3, 2).long()),
    "cdist_p": lambda m: m.cdist(m.ones(3, 2), m.ones(3, 2), p=-1),
    "cdist_dtypes": lambda m: m.cdist(m.ones(3, 2), m.ones(3, 2).double()),
    "cdist_half": lambda m: m.cdist(m.ones(3, 2).half(), m.ones(3, 2).half()),
    "cdist_batch": lambda m: m.cdist(m.ones(2, 3, 2), m.ones(4, 5, 2)),
    "cdist_mode": lambda m: m.cdist(m.ones(3, 2), m.ones(3, 2), compute_mode="fast"),
    "inv_singular": lambda m: m.linalg.inv(m.tensor(SINGULAR)),
    "inv_singular_batch": lambda m: m.inverse(m.stack([m.eye(3), m.tensor(SINGULAR)])),
    "inv_zero": lambda m: m.linalg.inv(m.zeros(2, 2)),
    "inv_1d": lambda m: m.linalg.inv(m.ones(3)),
    "inv_square": lambda m: m.linalg.inv(m.ones(2, 3)),
    "inv_int": lambda m: m.linalg.inv(m.ones(3, 3, dtype=m.int64)),
    "inv_half": lambda m: m.linalg.inv(m.eye(2).half()),
    "det_1d": lambda m: m.det(m.ones(3)),
    "det_square": lambda m: m.linalg.det(m.ones(3, 4)),
    "det_int": lambda m: m.linalg.det(m.ones(3, 3, dtype=m.int64)),
    "det_half": lambda m: m.linalg.det(m.eye(2).half()),
    "slogdet_int": lambda m: m.linalg.slogdet(m.ones(3, 3, dtype=m.int64)),
    "slogdet_half": lambda m: m.linalg.slogdet(m.eye(2).half()),
    "solve_singular": lambda m: m.linalg.solve(m.tensor(SINGULAR), m.ones(3)),
    "solve_singular_batch": lambda m: m.linalg.solve(m.stack([m.eye(3), m.tensor(SINGULAR)]),
                                                     m.ones(3, 1)),
    "solve_int": lambda m: m.linalg.solve(m.ones(3, 4, dtype=m.int64), m.ones(3)),
    "solve_dtypes": lambda m: m.linalg.solve(m.eye(3), m.ones(3).double()),
    "solve_square": lambda m: m.linalg.solve(m.ones(3, 4), m.ones(3)),
    "solve_b_0d": lambda m: m.linalg.solve(m.eye(3), m.tensor(1.0)),
    "solve_shapes": lambda m: m.linalg.solve(m.eye(3), m.ones(2, 3)),
    "solve_shapes_right": lambda m: m.linalg.solve(m.eye(3), m.ones(3), left=False),
    "solve_batch": lambda m: m.linalg.solve(m.eye(3).expand(2, 3, 3), m.ones(4, 3, 1)),
    "cholesky_not_pd": lambda m: m.linalg.cholesky(m.tensor([[4.0, 1.0], [100.0, 2.0]])),
    "cholesky_upper_reads_upper": lambda m: m.linalg.cholesky(m.tensor([[4.0, 100.0],
                                                                        [1.0, 2.0]]), upper=True),
    "cholesky_negative_batch": lambda m: m.linalg.cholesky(m.stack([m.eye(2), -m.eye(2)])),
    "cholesky_nan": lambda m: m.linalg.cholesky(m.tensor([[4.0, 1.0], [1.0, math.nan]])),
    "cholesky_square": lambda m: m.linalg.cholesky(m.ones(3, 4)),
    "cholesky_half": lambda m: m.linalg.cholesky(m.eye(2).half()),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(ERRORS))
def test_error_messages_match_torch(name, torch):
    """The same exception type (LinAlgError for PyTorch's) and first line of the message."""
    with pytest.raises(Exception) as expected:
        ERRORS[name](torch)
    linalg = isinstance(expected.value, torch.linalg.LinAlgError)
    message = re.escape(str(expected.value).split("\n")[0])
    with pytest.raises(dg.linalg.LinAlgError if linalg else expected.type, match=f"^{message}$"):
        ERRORS[name](dg)


def test_linalg_error_is_a_runtime_error():
    assert issubclass(dg.linalg.LinAlgError, RuntimeError)
    with pytest.raises(dg.linalg.LinAlgError, match=r"\(Batch element 1\): The diagonal element 1"):
        dg.linalg.inv(dg.stack([dg.eye(2), dg.zeros(2, 2)]))


# -- the device-generic path (fake CuPy) -----------------------------------------------------
def _spd_data(seed):
    x = np.random.default_rng(seed).standard_normal((2, 3, 3))
    return x @ x.transpose(0, 2, 1) + np.eye(3)


GPU_CASES = {
    "diagonals": (lambda x: (x.diagonal(1) * 2, dg.diag(x[0]), dg.diag_embed(x), x.trace()),
                  [(3, 3)]),
    "fill_diagonal_": (lambda x: (x * 1).fill_diagonal_(3.0, wrap=True), [(5, 2)]),
    "roll_diff_meshgrid": (lambda x: (dg.roll(x, (1, 2), (0, 1)), x.diff(prepend=x[:, :1]),
                                      dg.meshgrid(x[0], x[1], indexing="xy")), [(2, 3)]),
    "select": (lambda x: (dg.masked_select(x, dg.tensor(MASK, device=x.device)),
                          dg.take_along_dim(x, dg.tensor(TAKE, device=x.device), 1)), [(3, 4)]),
    "binning": (lambda x: (dg.histc(x, 4), dg.bincount(idx(INTS).to(x.device), x[0, :5].detach()),
                           dg.searchsorted(dg.tensor(SEQ, device=x.device), x),
                           dg.bucketize(x, dg.tensor(SEQ, device=x.device))), [(3, 5)]),
    "cdist": (lambda a, b: (dg.cdist(a, b), dg.cdist(a, b, 1.5), dg.cdist(a, b, math.inf),
                            dg.cdist(a, b, compute_mode="use_mm_for_euclid_dist")),
              [(3, 2), (4, 2)]),
    "linalg": (lambda a, b: (dg.linalg.inv(a), dg.det(a), dg.linalg.slogdet(a),
                             dg.linalg.solve(a, b), dg.linalg.cholesky(a, upper=True)),
               [_spd_data(0), (2, 3, 2)]),
}


@pytest.mark.parametrize("name", list(GPU_CASES))
def test_fake_gpu_matches_cpu(name):
    from test_fake_gpu import check
    fn, specs = GPU_CASES[name]
    arrays = [s if isinstance(s, np.ndarray) else np.random.default_rng(i).standard_normal(s)
              for i, s in enumerate(specs)]
    with fake_cupy.installed():
        check(fn, *arrays, rtol=1e-10, atol=1e-12)


def test_fake_gpu_singular_and_not_positive_definite_errors():
    with fake_cupy.installed():
        a = dg.tensor(SINGULAR, device="cuda")
        with pytest.raises(dg.linalg.LinAlgError, match="The diagonal element 3 is zero"):
            dg.linalg.inv(a)
        with pytest.raises(dg.linalg.LinAlgError, match="leading minor of order 1"):
            dg.linalg.cholesky(-dg.eye(2, device="cuda"))
