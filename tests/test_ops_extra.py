"""The ops added after the first release: tril/triu, cumsum/cumprod, sort/argsort/topk,
unique/nonzero, repeat/tile, scatter/scatter_add, einsum, the norms and multinomial.

Gradients by finite differences (``gradcheck``, ``gradgradcheck`` in float64); then, where
PyTorch is installed, forward values, dtypes, shapes and input gradients against PyTorch on the
same inputs (``check_against_torch`` of ``test_ops_torch.py``), and the error messages; and the
device-generic path on the fake CuPy.
"""
import math

import numpy as np
import pytest

import distgrad as dg
from distgrad import autograd
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.testing import fake_cupy


def inp(shape, seed=0, zeros=()):
    """A float64 leaf requiring grad with normal values (and exact zeros at ``zeros``)."""
    a = np.random.default_rng(seed).standard_normal(shape)
    for k in zeros:
        a[k] = 0.0
    return dg.tensor(a, requires_grad=True)


def idx(a):
    """An int64 index tensor."""
    return dg.tensor(np.array(a))


@pytest.fixture
def against_torch():
    """``check_against_torch(fn, specs)`` of test_ops_torch.py (skips without PyTorch)."""
    pytest.importorskip("torch")
    from test_ops_torch import check_against_torch
    return check_against_torch


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


# -- gradients by finite differences ---------------------------------------------------------
SCATTER_INDEX = np.array([[0, 2, 1, 0], [2, 0, 0, 1]])  # each column's rows distinct
DIFFERENTIABLE = {
    "tril": (lambda x: dg.tril(x), [(4, 3)]),
    "tril_batch_diag": (lambda x: x.tril(-1), [(2, 3, 4)]),
    "triu_diag": (lambda x: dg.triu(x, 1), [(2, 3, 4)]),
    "cumsum": (lambda x: dg.cumsum(x, 1), [(3, 4)]),
    "cumsum_neg_dim": (lambda x: x.cumsum(-3), [(3, 2, 2)]),
    "cumsum_0d": (lambda x: dg.cumsum(x, 0), [()]),
    "cumprod": (lambda x: dg.cumprod(x, 0), [(4, 3)]),
    "cumprod_dim": (lambda x: x.cumprod(dim=-1), [(2, 5)]),
    "sort": (lambda x: dg.sort(x).values, [(3, 5)]),
    "sort_desc_dim0": (lambda x: x.sort(0, descending=True)[0], [(4, 3)]),
    "topk": (lambda x: dg.topk(x, 2).values, [(3, 5)]),
    "topk_smallest_dim0": (lambda x: x.topk(3, dim=0, largest=False)[0], [(4, 3)]),
    "repeat": (lambda x: x.repeat(2, 1, 3), [(2, 3)]),
    "tile": (lambda x: dg.tile(x, (2,)), [(2, 3)]),
    "scatter": (lambda x, s: dg.scatter(x, 0, idx(SCATTER_INDEX), s), [(3, 4), (2, 4)]),
    "scatter_src_larger": (lambda x, s: x.scatter(1, idx([[3], [0]]), s), [(2, 4), (3, 3)]),
    "scatter_value": (lambda x: x.scatter(1, idx([[1, 3]]), 0.5), [(2, 4)]),
    "scatter_add": (lambda x, s: dg.scatter_add(x, 0, idx([[0, 2, 0, 0], [0, 0, 1, 1]]), s),
                    [(3, 4), (2, 4)]),
    "einsum_matmul": (lambda a, b: dg.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)]),
    "einsum_batch_ellipsis": (lambda a, b: dg.einsum("...ij,...jk", a, b),
                              [(2, 1, 2, 3), (3, 3, 2)]),
    "einsum_trace_other": (lambda b: dg.einsum("ii,ij->j", dg.ones(3, 3).double(), b), [(3, 2)]),
    "einsum_sum_only_in_one": (lambda a, b: dg.einsum("ij,j->j", a, b), [(3, 4), (4,)]),
    "einsum_broadcast_size1": (lambda a, b: dg.einsum("ij,ij->ij", a, b), [(3, 1), (3, 4)]),
    "einsum_single": (lambda a: dg.einsum("ijk->kj", a), [(2, 3, 4)]),
    "einsum_list": (lambda a, b, c: dg.einsum("i,j,k->ijk", [a, b, c]), [(2,), (3,), (2,)]),
    "einsum_scalar": (lambda a, b: dg.einsum(",i->i", a, b), [(), (3,)]),
    "norm": (lambda x: dg.norm(x), [(3, 4)]),
    "norm_p3_dim": (lambda x: x.norm(3, dim=1, keepdim=True), [(3, 4)]),
    "norm_p_half": (lambda x: dg.norm(x, 0.5, dim=(0, 1)), [(3, 4)]),
    "linalg_norm_vector": (lambda x: dg.linalg.norm(x, dim=-1), [(3, 4)]),
    "linalg_norm_inf": (lambda x: dg.linalg.norm(x, math.inf), [(5,)]),
    "linalg_norm_neg1": (lambda x: dg.linalg.norm(x, -1, dim=0), [(3, 4)]),
    "linalg_norm_fro": (lambda x: dg.linalg.norm(x, "fro"), [(3, 4)]),
    "linalg_norm_matrix_1": (lambda x: dg.linalg.norm(x, 1, dim=(0, 2)), [(3, 2, 4)]),
    "linalg_matrix_norm_inf": (lambda x: dg.linalg.matrix_norm(x, -math.inf), [(2, 3, 4)]),
}


@pytest.mark.parametrize("name", list(DIFFERENTIABLE))
def test_gradcheck(name):
    fn, shapes = DIFFERENTIABLE[name]
    assert gradcheck(fn, tuple(inp(s, seed=i) for i, s in enumerate(shapes)))


DOUBLE_BACKWARD = ["tril_batch_diag", "cumsum", "cumprod", "sort_desc_dim0", "topk", "repeat",
                   "scatter", "scatter_src_larger", "scatter_add", "einsum_matmul",
                   "einsum_batch_ellipsis", "norm", "linalg_norm_inf",
                   "linalg_matrix_norm_inf"]


@pytest.mark.parametrize("name", DOUBLE_BACKWARD)
def test_gradgradcheck(name):
    fn, shapes = DIFFERENTIABLE[name]
    assert gradgradcheck(fn, tuple(inp(s, seed=i) for i, s in enumerate(shapes)))


@pytest.mark.parametrize("zeros", [[(1, 0)], [(1, 0), (3, 0), (2, 1)], [(0, 2), (1, 2)]],
                         ids=["one", "several", "adjacent"])
def test_cumprod_gradient_with_zeros(zeros):
    x = inp((5, 3), zeros=zeros)
    assert gradcheck(lambda t: dg.cumprod(t, 0), (x,))
    assert gradgradcheck(lambda t: dg.cumprod(t, 0), (x,))


def test_cumprod_third_derivative():
    x = inp((4,), zeros=[(1,)])
    (g,) = autograd.grad(dg.cumprod(x, 0).sum(), x, create_graph=True)
    assert gradgradcheck(lambda t: autograd.grad(dg.cumprod(t, 0).sum(), t,
                                                 create_graph=True)[0], (x,))
    assert g.grad_fn is not None


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, -1, math.inf, -math.inf])
def test_vector_norm_gradient_at_zero_is_zero(ord):
    x = dg.zeros(3, dtype=dg.float64, requires_grad=True)
    out = dg.linalg.vector_norm(x, ord)
    out.backward()
    assert out.item() == 0 and np.array_equal(x.grad.numpy(), np.zeros(3))


def test_unique_has_no_derivative():
    x = inp((5,))
    out = dg.unique(x)
    assert out.requires_grad and out.grad_fn.name() == "Unique2Backward0"
    with pytest.raises(NotImplementedError, match="derivative for '_unique2' is not implemented"):
        out.sum().backward()


def test_einsum_repeated_subscript_gradient_raises():
    x = inp((3, 3))
    out = dg.einsum("ii->i", x)
    np.testing.assert_allclose(out.detach().numpy(), np.diag(x.detach().numpy()))
    with pytest.raises(RuntimeError, match="repeat a letter"):
        out.sum().backward()


def test_einsum_single_operand_result_does_not_share_memory():
    x = dg.ones(2, 3)
    y = dg.einsum("ij->ji", x)
    y[0, 0] = 5.0
    assert x[0, 0].item() == 1.0


def test_multinomial_reproducible_and_distributed():
    p = dg.tensor([[0.1, 0.0, 0.6, 0.3], [1.0, 1.0, 0.0, 2.0]])
    dg.manual_seed(3)
    a = dg.multinomial(p, 2)
    dg.manual_seed(3)
    b = p.multinomial(2)
    assert a.dtype == dg.int64 and a.shape == (2, 2) and dg.equal(a, b)
    assert len(set(a[0].tolist())) == 2 and 1 not in a.tolist()[0] and 2 not in a.tolist()[1]
    g = dg.Generator().manual_seed(5)
    draws = dg.multinomial(p[0], 20000, replacement=True, generator=g).numpy()
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / 20000, [0.1, 0, 0.6, 0.3],
                               atol=0.02)
    firsts = dg.multinomial(p[1].expand(4000, 4), 1).numpy().ravel()
    np.testing.assert_allclose(np.bincount(firsts, minlength=4) / 4000, [0.25, 0.25, 0, 0.5],
                               atol=0.03)
    everything = dg.multinomial(dg.tensor([0.0, 0.0, 1.0]), 3)  # zero weights come last
    assert everything.tolist()[0] == 2 and sorted(everything.tolist()) == [0, 1, 2]


# -- against PyTorch -------------------------------------------------------------------------
TIES = np.array([[1.0, 0.0, 1.0, 0.0, 2.0], [3.0, 3.0, 3.0, -1.0, 3.0]])
WITH_NAN = np.array([3.0, np.nan, 1.0, np.nan, -2.0])
ZEROS = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 0.5], [2.0, -0.5, 0.0, 1.0]])
AGAINST_TORCH = {
    "tril": (lambda m, x: m.tril(x), [(3, 4)]),
    "tril_diag": (lambda m, x: x.tril(2), [(2, 3, 4)]),
    "triu_neg_diag": (lambda m, x: m.triu(x, diagonal=-1), [(2, 4, 3)]),
    "cumsum": (lambda m, x: m.cumsum(x, dim=1), [(3, 4)]),
    "cumsum_0d": (lambda m, x: x.cumsum(0), [()]),
    "cumsum_dtype": (lambda m, x: m.cumsum(x.float(), 0, dtype=m.float64), [(3, 2)], 1e-6),
    "cumprod": (lambda m, x: m.cumprod(x, 0), [(4, 3)]),
    "cumprod_zeros": (lambda m, x: x.cumprod(1), [ZEROS]),
    "cumprod_zeros_dim0": (lambda m, x: m.cumprod(x, dim=0), [ZEROS]),
    "sort": (lambda m, x: m.sort(x), [(3, 5)]),
    "sort_desc": (lambda m, x: x.sort(dim=0, descending=True), [(4, 3)]),
    "sort_ties": (lambda m, x: m.sort(x, stable=True), [TIES]),
    "sort_ties_desc": (lambda m, x: m.sort(x, descending=True), [TIES]),
    "sort_nan": (lambda m, x: m.sort(x), [WITH_NAN]),
    "sort_nan_desc": (lambda m, x: m.sort(x, descending=True), [WITH_NAN]),
    "sort_0d": (lambda m, x: m.sort(x), [()]),
    "topk": (lambda m, x: m.topk(x, 3), [(3, 6)]),
    "topk_smallest": (lambda m, x: x.topk(2, dim=0, largest=False), [(4, 3)]),
    "topk_all": (lambda m, x: m.topk(x, 5, sorted=True), [(2, 5)]),
    "repeat": (lambda m, x: x.repeat(2, 3), [(2, 3)]),
    "repeat_new_dims": (lambda m, x: x.repeat((2, 1, 1, 2)), [(2, 3)]),
    "repeat_0d": (lambda m, x: x.repeat(3), [()]),
    "tile": (lambda m, x: m.tile(x, (2,)), [(2, 3)]),
    "tile_method": (lambda m, x: x.tile(2, 1, 2), [(2, 3)]),
    "scatter": (lambda m, x, s: m.scatter(x, 0, m.tensor(SCATTER_INDEX), s), [(3, 4), (2, 4)]),
    "scatter_dim1": (lambda m, x, s: x.scatter(1, m.tensor([[3, 0], [1, 2], [0, 1]]), s),
                     [(3, 4), (3, 2)]),
    "scatter_value": (lambda m, x: m.scatter(x, 1, m.tensor([[1, 3]]), 2.5), [(2, 4)]),
    "scatter_value_kw": (lambda m, x: x.scatter(0, m.tensor([[1, 0, 1]]), value=-1.0), [(2, 3)]),
    "scatter_add": (lambda m, x, s: m.scatter_add(x, 0, m.tensor([[0, 2, 0, 0], [0, 0, 1, 1]]), s),
                    [(3, 4), (2, 4)]),
    "scatter_add_int32_index": (lambda m, x, s: x.scatter_add(
        1, m.tensor([[0, 0, 2]], dtype=m.int32), s), [(2, 3), (1, 3)]),
    "scatter_0d": (lambda m, x, s: x.scatter(0, m.tensor(0), s), [(), ()]),
    "einsum_matmul": (lambda m, a, b: m.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)]),
    "einsum_bilinear": (lambda m, a, w, b: m.einsum("bi,oij,bj->bo", a, w, b),
                        [(2, 3), (4, 3, 5), (2, 5)]),
    "einsum_implicit": (lambda m, a, b: m.einsum("ba,ca", a, b), [(2, 3), (4, 3)]),
    "einsum_ellipsis": (lambda m, a, b: m.einsum("...ij,...jk->...ik", a, b),
                        [(5, 1, 2, 3), (4, 3, 2)]),
    "einsum_ellipsis_implicit": (lambda m, a: m.einsum("i...->...", a), [(3, 2, 4)]),
    "einsum_outer_list": (lambda m, a, b: m.einsum("i,j", [a, b]), [(3,), (4,)]),
    "einsum_dot_spaces": (lambda m, a, b: m.einsum("i , i ->", a, b), [(5,), (5,)]),
    "einsum_broadcast": (lambda m, a, b: m.einsum("ij,j->ij", a, b), [(3, 1), (4,)]),
    "einsum_trace_other": (lambda m, a, b: m.einsum("ii,ij->j", a.detach(), b), [(3, 3), (3, 2)]),
    "einsum_upper": (lambda m, a, b: m.einsum("Bi,iB->B", a, b), [(2, 3), (3, 2)]),
    "norm_default": (lambda m, x: m.norm(x), [(3, 4)]),
    "norm_method_p1_dim": (lambda m, x: x.norm(1, dim=0), [(3, 4)]),
    "norm_p3_keepdim": (lambda m, x: m.norm(x, p=3, dim=(0, 2), keepdim=True), [(2, 3, 4)]),
    "norm_inf": (lambda m, x: x.norm(float("inf"), dim=-1), [(3, 4)]),
    "norm_fro_dims": (lambda m, x: m.norm(x, "fro", dim=(1, 2)), [(2, 3, 4)]),
    "norm_p0": (lambda m, x: m.norm(x, 0), [ZEROS]),
    "norm_zeros_p_half": (lambda m, x: m.norm(x, 0.5, dim=1), [ZEROS]),
    "norm_zeros_neg1": (lambda m, x: m.norm(x, -1, dim=1), [ZEROS]),
    "norm_zero_rows": (lambda m, x: m.norm(x * m.tensor([[1.0], [0.0]]), dim=1), [(2, 3)]),
    "norm_dtype": (lambda m, x: m.norm(x.float(), dtype=m.float64), [(3,)], 1e-6),
    "linalg_norm": (lambda m, x: m.linalg.norm(x), [(2, 3, 4)]),
    "linalg_norm_vector_ord": (lambda m, x: m.linalg.norm(x, 3), [(5,)]),
    "linalg_norm_matrix_fro": (lambda m, x: m.linalg.norm(x, "fro"), [(3, 4)]),
    "linalg_norm_matrix_1": (lambda m, x: m.linalg.norm(x, 1), [(3, 4)]),
    "linalg_norm_matrix_neg_inf": (lambda m, x: m.linalg.norm(x, -math.inf, dim=(2, 0)),
                                   [(3, 2, 4)]),
    "linalg_norm_dim_keepdim": (lambda m, x: m.linalg.norm(x, dim=(0, 1), keepdim=True),
                                [(3, 4, 2)]),
    "linalg_norm_ord_dim1": (lambda m, x: m.linalg.norm(x, -math.inf, dim=1), [(3, 4)]),
    "vector_norm": (lambda m, x: m.linalg.vector_norm(x, 1.5, dim=(0, 2)), [(2, 3, 4)]),
    "matrix_norm": (lambda m, x: m.linalg.matrix_norm(x, math.inf, keepdim=True), [(2, 3, 4)]),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(AGAINST_TORCH))
def test_against_torch(name, against_torch):
    fn, specs, *rtol = AGAINST_TORCH[name]  # a float32 step needs a float32 tolerance
    against_torch(fn, specs, rtol=rtol[0] if rtol else 1e-9)


def _same(m_out, t_out):
    """Equal results (tensors, or tuples of them): values, dtypes and shapes."""
    if isinstance(t_out, tuple):
        assert isinstance(m_out, tuple) and len(m_out) == len(t_out)
        for a, b in zip(m_out, t_out):
            _same(a, b)
        return
    assert isinstance(m_out, dg.Tensor) and tuple(m_out.shape) == tuple(t_out.shape)
    assert str(t_out.dtype) == f"torch.{m_out.dtype}".replace("bool_", "bool")
    np.testing.assert_array_equal(m_out.numpy(), t_out.numpy())


NOT_DIFFERENTIABLE = {
    "argsort": lambda m, x: m.argsort(x),
    "argsort_desc_dim0": lambda m, x: x.argsort(dim=0, descending=True, stable=True),
    "argsort_0d": lambda m, x: m.argsort(x[0, 0]),
    "unique": lambda m, x: m.unique(x),
    "unique_all": lambda m, x: m.unique(x, return_inverse=True, return_counts=True),
    "unique_inverse_unsorted": lambda m, x: x.unique(sorted=False, return_inverse=True),
    "unique_counts_0d": lambda m, x: m.unique(x[1, 1], return_counts=True),
    "unique_nan": lambda m, x: m.unique(m.tensor([2.0, math.nan, 1.0, math.nan, 2.0])),
    "nonzero": lambda m, x: m.nonzero(x),
    "nonzero_tuple": lambda m, x: x.nonzero(as_tuple=True),
    "nonzero_0d": lambda m, x: (m.nonzero(x[0, 0]), m.nonzero(x[0, 1], as_tuple=True)),
    "cumsum_int": lambda m, x: m.cumsum(x.long(), 1),
    "cumsum_bool": lambda m, x: (x > 0).cumsum(0),
    "cumprod_int32": lambda m, x: m.cumprod(x.int(), 1),
    "cumsum_int_to_float": lambda m, x: x.long().cumsum(0, dtype=m.float32),
    "tril_bool": lambda m, x: (x > 0).tril(),
    "triu_int": lambda m, x: m.triu(x.long(), 1),
    "repeat_int": lambda m, x: x.long().repeat(1, 2),
    "scatter_int_value": lambda m, x: x.long().scatter(0, m.tensor([[2, 1, 0, 2]]), 7),
    "scatter_add_int": lambda m, x: m.scatter_add(x.long(), 1, m.tensor([[0, 0], [3, 3]]),
                                                  m.ones(2, 2, dtype=m.int64)),
    "sort_int": lambda m, x: m.sort(x.long(), descending=True),
    "topk_int": lambda m, x: m.topk(x.long() * 10 + m.arange(4), 2),
    "einsum_int": lambda m, x: m.einsum("ij,kj->ik", x.long(), x.long()),
    "einsum_int32_sum": lambda m, x: (m.einsum("ij->j", x.int()), m.einsum("ij->ji", x.int()),
                                      m.einsum("ij->i", x > 0)),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(NOT_DIFFERENTIABLE))
def test_not_differentiable_against_torch(name, torch):
    fn = NOT_DIFFERENTIABLE[name]
    data = np.array([[0.0, 2.0, 1.0, 2.0], [3.0, 0.0, 2.0, -1.0], [1.0, 1.0, 0.0, 3.0]])
    _same(fn(dg, dg.tensor(data)), fn(torch, torch.tensor(data)))


INPLACE = {
    "tril_": lambda m, x: x.tril_(1),
    "triu_": lambda m, x: x.triu_(),
    "cumsum_": lambda m, x: x.cumsum_(0),
    "cumprod_": lambda m, x: x.cumprod_(dim=1),
    "scatter_": lambda m, x: x.scatter_(1, m.tensor([[2, 0], [1, 1]]), x.detach() * 3),
    "scatter_value_": lambda m, x: x.scatter_(0, m.tensor([[1, 0, 1]]), 4.0),
    "scatter_add_": lambda m, x: x.scatter_add_(0, m.tensor([[1, 1, 1]]), x.detach()[:1] - 1),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_against_torch(name, against_torch):
    def fn(m, x):
        y = x * 1
        out = INPLACE[name](m, y)
        assert out is y
        return y
    against_torch(fn, [(2, 3)])


# -- error messages --------------------------------------------------------------------------
ERRORS = {
    "tril_1d": lambda m: m.tril(m.ones(3)),
    "triu_1d": lambda m: m.ones(3).triu(),
    "cumsum_dim": lambda m: m.cumsum(m.ones(2, 3), 2),
    "cumprod_dim_0d": lambda m: m.cumprod(m.tensor(1.0), 1),
    "sort_dim": lambda m: m.sort(m.ones(2, 3), 2),
    "topk_k": lambda m: m.topk(m.ones(2, 3), 4),
    "topk_negative_k": lambda m: m.ones(3).topk(-1),
    "repeat_few": lambda m: m.ones(2, 3).repeat(2),
    "repeat_negative": lambda m: m.ones(2, 3).repeat(-1, 2),
    "tile_negative": lambda m: m.tile(m.ones(3, 4), (-1,)),
    "scatter_index_dtype": lambda m: m.zeros(3).scatter(0, m.tensor([1.0]), 1.0),
    "scatter_src_dtype": lambda m: m.zeros(3).scatter(0, m.tensor([1]), m.ones(1).double()),
    "scatter_index_dims": lambda m: m.zeros(3, 4).scatter(0, m.tensor([1]), m.ones(1)),
    "scatter_src_dims": lambda m: m.zeros(3).scatter_add(0, m.tensor([1]), m.ones(1, 1)),
    "scatter_index_large": lambda m: m.zeros(3, 4).scatter(1, m.zeros(4, 1, dtype=m.int64),
                                                           m.ones(4, 4)),
    "scatter_value_index_large": lambda m: m.zeros(3, 4).scatter(1, m.zeros(4, 1,
                                                                           dtype=m.int64), 1.0),
    "scatter_out_of_bounds": lambda m: m.zeros(3, 4).scatter(0, m.tensor([[5]]), m.ones(1, 1)),
    "scatter_negative_index": lambda m: m.zeros(3).scatter_add(0, m.tensor([-1]), m.ones(1)),
    "einsum_fewer_operands": lambda m: m.einsum("ij,jk->ik", m.ones(2, 3)),
    "einsum_more_operands": lambda m: m.einsum("ij->ij", m.ones(2, 3), m.ones(2, 3)),
    "einsum_output_unknown": lambda m: m.einsum("ij->ik", m.ones(2, 3)),
    "einsum_output_twice": lambda m: m.einsum("ij,jk->ii", m.ones(2, 3), m.ones(3, 2)),
    "einsum_subscript_count": lambda m: m.einsum("ijk,jk->ik", m.ones(2, 3), m.ones(3, 4)),
    "einsum_ellipsis_count": lambda m: m.einsum("ijk...", m.ones(2, 3)),
    "einsum_bad_char": lambda m: m.einsum("i1,jk->ik", m.ones(2, 3), m.ones(3, 4)),
    "einsum_second_arrow": lambda m: m.einsum("ij->i->j", m.ones(2, 3)),
    "einsum_dot": lambda m: m.einsum("i.j", m.ones(2, 3)),
    "einsum_two_ellipses": lambda m: m.einsum("...i...", m.ones(2, 3)),
    "einsum_output_dot": lambda m: m.einsum("ij->i.", m.ones(2, 3)),
    "einsum_repeated_sizes": lambda m: m.einsum("ij,kk->ik", m.ones(2, 3), m.ones(3, 4)),
    "einsum_no_broadcast": lambda m: m.einsum("ij,jk->ik", m.ones(2, 3), m.ones(4, 5)),
    "einsum_dtypes": lambda m: m.einsum("ij,jk", m.ones(2, 3).double(), m.ones(3, 2)),
    "einsum_no_operands": lambda m: m.einsum("ij", []),
    "norm_int": lambda m: m.norm(m.tensor([1, 2])),
    "norm_nuc_3d_dims": lambda m: m.norm(m.ones(2, 3, 4), p="fro", dim=(0, 1, 2)),
    "vector_norm_dtype": lambda m: m.linalg.vector_norm(m.ones(3), dtype=m.int64),
    "vector_norm_narrowing": lambda m: m.linalg.vector_norm(m.ones(3).double(), dtype=m.float32),
    "vector_norm_empty_inf": lambda m: m.linalg.vector_norm(m.ones(0), math.inf),
    "vector_norm_empty_neg": lambda m: m.linalg.vector_norm(m.ones(0), -1),
    "linalg_norm_ord_3d": lambda m: m.linalg.norm(m.ones(2, 3, 4), 2),
    "linalg_norm_dims": lambda m: m.linalg.norm(m.ones(2, 3, 4), dim=(0, 1, 2)),
    "linalg_norm_fro_dim": lambda m: m.linalg.norm(m.ones(2, 3), "fro", dim=0),
    "matrix_norm_order": lambda m: m.linalg.norm(m.ones(2, 3), 3, dim=(0, 1)),
    "matrix_norm_order_str": lambda m: m.linalg.matrix_norm(m.ones(2, 3), "abc"),
    "matrix_norm_1d": lambda m: m.linalg.matrix_norm(m.ones(3), 1),
    "matrix_norm_same_dims": lambda m: m.linalg.matrix_norm(m.ones(3, 3), dim=(0, 0)),
    "multinomial_int": lambda m: m.multinomial(m.tensor([1, 2]), 1),
    "multinomial_3d": lambda m: m.multinomial(m.ones(2, 2, 2), 1),
    "multinomial_0_samples": lambda m: m.multinomial(m.ones(3), 0),
    "multinomial_too_many": lambda m: m.ones(3).multinomial(4),
    "multinomial_negative": lambda m: m.multinomial(m.tensor([-1.0, 1.0]), 1),
    "multinomial_nan": lambda m: m.multinomial(m.tensor([math.nan, 1.0]), 1, True),
    "multinomial_zero_sum": lambda m: m.multinomial(m.zeros(2, 3), 1, True),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(ERRORS))
def test_error_messages_match_torch(name, torch):
    fn = ERRORS[name]
    with pytest.raises(Exception) as expected:
        fn(torch)
    with pytest.raises(expected.type) as got:
        fn(dg)
    assert str(got.value) == str(expected.value).split("\n")[0]


def test_scatter_needs_src_or_value():
    with pytest.raises(TypeError, match="'src' or 'value'"):
        dg.scatter(dg.ones(2), 0, idx([0]))


# -- the device-generic path (fake CuPy) -----------------------------------------------------
GPU_CASES = {
    "tril": (lambda x: dg.tril(x, -1) * 2, [(2, 3, 3)]),
    "cumsum_cumprod": (lambda x: dg.cumsum(x, 0) + dg.cumprod(x, 1), [ZEROS]),
    "sort_topk": (lambda x: dg.sort(x, descending=True).values + dg.topk(x, 4).values, [(3, 4)]),
    "argsort_unique_nonzero": (lambda x: (dg.argsort(x), dg.unique(x.detach(), return_inverse=True,
                                                                    return_counts=True),
                                          dg.nonzero(x), dg.nonzero(x, as_tuple=True)), [ZEROS]),
    "repeat_tile": (lambda x: x.repeat(2, 1) + dg.tile(x, (2, 1)), [(2, 3)]),
    "scatter": (lambda x, s: dg.scatter(x, 0, idx(SCATTER_INDEX).to(x.device), s)
                + dg.scatter_add(x, 0, idx(SCATTER_INDEX).to(x.device), s), [(3, 4), (2, 4)]),
    "scatter_add_int64": (lambda x: dg.scatter_add(x.detach().long(), 0,
                                                   idx([[0, 0, 1]]).to(x.device),
                                                   dg.ones(1, 3, dtype=dg.int64,
                                                           device=x.device)), [(2, 3)]),
    "einsum": (lambda a, b: dg.einsum("bi,ij->bj", a, b) + dg.einsum("ij->j", b), [(2, 3), (3, 3)]),
    "norms": (lambda x: dg.norm(x) + dg.linalg.norm(x, 1) + x.norm(3, dim=0).sum(), [(3, 4)]),
}


@pytest.mark.parametrize("name", list(GPU_CASES))
def test_fake_gpu_matches_cpu(name):
    fn, specs = GPU_CASES[name]
    arrays = [s if isinstance(s, np.ndarray) else np.random.default_rng(i).standard_normal(s)
              for i, s in enumerate(specs)]

    def run(device):
        ts = [dg.tensor(a, device=device, requires_grad=True) for a in arrays]
        out = fn(*ts)
        outs = list(out) if isinstance(out, tuple) else [out]
        flat = [o for x in outs for o in (x if isinstance(x, tuple) else (x,))]
        loss = sum([o.sum() for o in flat if o.requires_grad])
        if flat[0].requires_grad:
            loss.backward()
        return flat, [t.grad for t in ts]

    cpu_outs, cpu_grads = run("cpu")
    with fake_cupy.installed():
        dev_outs, dev_grads = run("cuda")
        for c, d in zip(cpu_outs + cpu_grads, dev_outs + dev_grads):
            if c is None:
                assert d is None
                continue
            assert d.device.type == "cuda" and d.dtype == c.dtype
            np.testing.assert_allclose(d.detach().cpu().numpy(), c.detach().numpy(),
                                       rtol=1e-12, atol=1e-12)


def test_fake_gpu_multinomial_stays_on_device():
    dg.manual_seed(1)
    expected = dg.multinomial(dg.tensor([0.2, 0.8, 0.0]), 2).tolist()
    with fake_cupy.installed():
        p = dg.tensor([0.2, 0.8, 0.0], device="cuda")
        dg.manual_seed(1)
        out = dg.multinomial(p, 2)
        assert out.device.type == "cuda" and out.dtype == dg.int64
        assert out.tolist() == expected
