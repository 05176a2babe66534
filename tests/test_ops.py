"""Gradients of every differentiable op checked by finite differences (``gradcheck`` in float64),
second and third derivatives of the ops with double backward (``gradgradcheck`` and explicit
``autograd.grad(..., create_graph=True)`` chains), and the error messages of the ops."""
import math

import numpy as np
import pytest

import distgrad as dg
from distgrad import autograd
from distgrad.autograd import gradcheck, gradgradcheck


def inp(shape, kind="n", seed=0):
    """A float64 leaf requiring grad: n normal, p in [0.5, 2], z normal with |x| >= 0.2,
    u in (-0.9, 0.9)."""
    rng = np.random.default_rng(seed)
    if kind == "p":
        a = rng.uniform(0.5, 2.0, shape)
    elif kind == "u":
        a = rng.uniform(-0.9, 0.9, shape)
    else:
        a = np.asarray(rng.standard_normal(shape))
        if kind == "z":
            a = np.where(np.abs(a) < 0.2, np.sign(a + 1e-12) * (0.2 + np.abs(a)), a)
    return dg.tensor(a, dtype=dg.float64, requires_grad=True)


def gc(fn, *tensors, **kw):
    assert gradcheck(fn, tensors, **kw)


def ggc(fn, *tensors, **kw):
    assert gradgradcheck(fn, tensors, **kw)


def third(fn, *tensors):
    """Check third derivatives: gradgradcheck of the first derivative."""
    def first(*xs):
        out = fn(*xs)
        return autograd.grad(out, xs, dg.ones_like(out), create_graph=True)
    assert gradgradcheck(first, tensors)


# -- elementwise ---------------------------------------------------------------------------------
BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 1, 2), (1, 8, 1)), ((2, 3), (3,)), ((4, 1), (3,)),
                    ((), (2, 3)), ((2, 3), ()), ((), ())]

BINARY = {
    "add": (dg.add, "n", "n"), "add_alpha": (lambda a, b: dg.add(a, b, alpha=-2), "n", "n"),
    "sub": (dg.sub, "n", "n"), "mul": (dg.mul, "n", "n"), "div": (dg.div, "n", "z"),
    "pow": (dg.pow, "p", "n"), "maximum": (dg.maximum, "n", "n"),
    "minimum": (dg.minimum, "n", "n"), "op+": (lambda a, b: a + b, "n", "n"),
    "op-": (lambda a, b: a - b, "n", "n"), "op*": (lambda a, b: a * b, "n", "n"),
    "op/": (lambda a, b: a / b, "n", "z"), "op**": (lambda a, b: a ** b, "p", "u"),
    "remainder": (lambda a, b: a % (b + 2), "p", "p"),
}


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_gradcheck_binary(name, shapes):
    fn, ka, kb = BINARY[name]
    a, b = inp(shapes[0], ka, 1), inp(shapes[1], kb, 2)
    out = fn(a, b)
    assert out.shape == np.broadcast_shapes(shapes[0], shapes[1])
    gc(fn, a, b)


@pytest.mark.parametrize("shapes", [((2, 3), (2, 3), (2, 3)), ((3, 1), (1, 4), (4,)),
                                    ((2, 1, 3), (3,), (2, 4, 1)), ((), (2,), ())], ids=str)
def test_gradcheck_where(shapes):
    cond = dg.tensor(np.random.default_rng(5).random(shapes[0]) > 0.5)
    gc(lambda a, b: dg.where(cond, a, b), inp(shapes[1], seed=1), inp(shapes[2], seed=2))
    gc(lambda a: dg.where(cond, a, 0.5), inp(shapes[1]))
    gc(lambda b: b.where(cond, -1.0), inp(shapes[2]))


SCALAR = {
    "x+2.5": (lambda x: x + 2.5, "n"), "2.5+x": (lambda x: 2.5 + x, "n"),
    "x-2": (lambda x: x - 2, "n"), "2.0-x": (lambda x: 2.0 - x, "n"),
    "x*3": (lambda x: x * 3, "n"), "3*x": (lambda x: 3 * x, "n"), "x/4": (lambda x: x / 4, "n"),
    "1/x": (lambda x: 1 / x, "z"), "x**2": (lambda x: x ** 2, "n"), "x**3": (lambda x: x ** 3, "n"),
    "x**0.5": (lambda x: x ** 0.5, "p"), "x**-1.5": (lambda x: x ** -1.5, "p"),
    "2**x": (lambda x: 2 ** x, "n"), "2.5**x": (lambda x: 2.5 ** x, "n"), "-x": (lambda x: -x, "n"),
    "x%1.5": (lambda x: (x + 5) % 1.5, "u"),
}


@pytest.mark.parametrize("shape", [(3, 2), ()], ids=str)
@pytest.mark.parametrize("name", list(SCALAR))
def test_gradcheck_scalar_operands(name, shape):
    fn, kind = SCALAR[name]
    gc(fn, inp(shape, kind))


UNARY = {
    "neg": (dg.neg, "n"), "abs": (dg.abs, "z"), "exp": (dg.exp, "n"), "log": (dg.log, "p"),
    "sqrt": (dg.sqrt, "p"), "sin": (dg.sin, "n"), "cos": (dg.cos, "n"), "tanh": (dg.tanh, "n"),
    "sigmoid": (dg.sigmoid, "n"), "relu": (dg.relu, "z"), "gelu": (dg.gelu, "n"),
    "gelu_tanh": (lambda x: dg.gelu(x, approximate="tanh"), "n"),
    "clamp": (lambda x: dg.clamp(x, -0.5, 0.7), "z"),
    "clamp_min": (lambda x: x.clamp(min=0.1), "z"), "clamp_max": (lambda x: x.clamp(max=-0.1), "z"),
}


@pytest.mark.parametrize("shape", [(3, 4), ()], ids=str)
@pytest.mark.parametrize("name", list(UNARY))
def test_gradcheck_unary(name, shape):
    fn, kind = UNARY[name]
    x = inp(shape, kind)
    if name.startswith("clamp"):  # keep finite differences away from the kinks
        x = dg.tensor(np.where(np.abs(np.abs(x.detach().numpy()) - 0.6) < 0.15, 1.3,
                               x.detach().numpy()), requires_grad=True)
        x.data[(x.detach() - 0.1).abs() < 0.02] = 0.9
    gc(fn, x)


@pytest.mark.parametrize("shapes", [((3, 4), (4,), (3, 1)), ((2, 3), (), ())], ids=str)
def test_gradcheck_clamp_tensor_bounds(shapes):
    x, lo, hi = inp(shapes[0], seed=1), inp(shapes[1], seed=2), inp(shapes[2], "p", seed=3)
    gc(lambda x, lo, hi: dg.clamp(x, min=lo - 0.5, max=hi), x, lo, hi)
    gc(lambda x, lo: dg.clamp(x, min=lo), x, lo)
    gc(lambda x, hi: dg.clamp(x, max=hi - 1), x, hi)


# -- reductions ----------------------------------------------------------------------------------
DIMS = [None, 0, -1, (0, 2), (-1, 0), [1]]


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("op", ["sum", "mean", "var", "std", "amax", "amin"])
def test_gradcheck_reductions(op, dim, keepdim):
    x = inp((2, 3, 4))
    if dim is None:
        fn = (lambda x: getattr(x, op)()) if not keepdim else \
            (lambda x: getattr(x, op)(dim=(0, 1, 2), keepdim=True))
    else:
        fn = lambda x: getattr(dg, op)(x, dim, keepdim=keepdim)  # noqa: E731
    out = fn(x)
    if dim is not None:
        axes = (dim,) if isinstance(dim, int) else dim
        expected = list(x.shape)
        for a in sorted((a % 3 for a in axes), reverse=True):
            if keepdim:
                expected[a] = 1
            else:
                del expected[a]
        assert list(out.shape) == expected
    gc(fn, x)


@pytest.mark.parametrize("kwargs", [dict(unbiased=False), dict(correction=0), dict(correction=2),
                                    dict(dim=1, unbiased=True, keepdim=True)], ids=str)
@pytest.mark.parametrize("op", ["var", "std"])
def test_gradcheck_var_std_correction(op, kwargs):
    gc(lambda x: getattr(x, op)(**kwargs), inp((3, 4)))


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), (-1, False)])
def test_gradcheck_max_min_dim(op, dim, keepdim):
    x = inp((3, 4, 2))
    values, indices = getattr(x, op)(dim, keepdim)
    assert indices.dtype == dg.int64 and not indices.requires_grad
    assert values.shape == indices.shape
    gc(lambda x: getattr(x, op)(dim=dim, keepdim=keepdim).values, x)
    gc(lambda x: getattr(dg, op)(x, dim, keepdim), x)  # (values, indices): indices are skipped


@pytest.mark.parametrize("op", ["max", "min", "sum", "mean", "amax", "amin", "prod", "logsumexp"])
def test_gradcheck_reductions_all_and_0d(op):
    fn = (lambda x: x.logsumexp(0)) if op == "logsumexp" else (lambda x: getattr(x, op)())
    gc(fn, inp((3, 4) if op != "logsumexp" else (4,)))
    if op != "logsumexp":
        gc(fn, inp(()))
    if op in ("sum", "mean"):
        gc(lambda x: getattr(x, op)(0, keepdim=True), inp(()))


def test_gradcheck_prod_with_zeros():
    x = dg.tensor([[1.5, 0.0, 2.0], [0.5, -1.0, 3.0], [0.0, 0.0, 1.0]], dtype=dg.float64,
                  requires_grad=True)
    gc(lambda x: x.prod(1), x)
    gc(lambda x: x.prod(0, keepdim=True), x)
    gc(lambda x: x[:2].prod(), x)


def test_reduction_gradient_shapes():
    x = inp((2, 3, 4))
    for out in (x.sum(), x.mean((0, 2)), x.var(1, keepdim=True), x.amax(-1), x.max(1)[0],
                x.std(dim=(-1, -2))):
        (g,) = autograd.grad(out, x, dg.ones_like(out))
        assert g.shape == x.shape and g.dtype == dg.float64


# -- shape ops -----------------------------------------------------------------------------------
SHAPE_OPS = {
    "reshape": (lambda x: x.reshape(4, 6), (2, 3, 4)),
    "reshape_infer": (lambda x: dg.reshape(x, (-1, 3)), (2, 3, 4)),
    "view": (lambda x: x.view(2, 12), (2, 3, 4)),
    "view_flat": (lambda x: x.view(-1), (2, 3, 4)),
    "view_strided": (lambda x: x[:, :2].view(2, 2, 2, 4), (4, 3, 4)),
    "transpose": (lambda x: x.transpose(0, 2), (2, 3, 4)),
    "transpose_neg": (lambda x: dg.transpose(x, -1, -2), (2, 3, 4)),
    "permute": (lambda x: x.permute(2, 0, 1), (2, 3, 4)),
    "permute_tuple": (lambda x: dg.permute(x, (1, 2, 0)), (2, 3, 4)),
    "T": (lambda x: x.T, (3, 4)), "t": (lambda x: x.t(), (3, 4)),
    "expand": (lambda x: x.expand(2, 3, 5, 4), (3, 1, 4)),
    "expand_minus1": (lambda x: x.expand(-1, 5, -1), (3, 1, 4)),
    "expand_0d": (lambda x: x.expand(3, 2), ()),
    "squeeze": (lambda x: x.squeeze(), (3, 1, 4, 1)),
    "squeeze_dim": (lambda x: x.squeeze(1), (3, 1, 4, 1)),
    "squeeze_neg": (lambda x: dg.squeeze(x, -1), (3, 1, 4, 1)),
    "squeeze_tuple": (lambda x: x.squeeze((1, 3)), (3, 1, 4, 1)),
    "unsqueeze": (lambda x: x.unsqueeze(0), (3, 4)),
    "unsqueeze_neg": (lambda x: dg.unsqueeze(x, -1), (3, 4)),
    "unsqueeze_0d": (lambda x: x.unsqueeze(0), ()),
    "flatten": (lambda x: x.flatten(), (2, 3, 4)),
    "flatten_1": (lambda x: dg.flatten(x, 1), (2, 3, 4)),
    "flatten_0_1": (lambda x: x.flatten(0, 1), (2, 3, 4)),
    "split": (lambda x: x.split(2), (5, 3)),
    "split_sizes": (lambda x: dg.split(x, [1, 3, 1], dim=1), (3, 5)),
    "chunk": (lambda x: x.chunk(3), (7, 2)),
    "chunk_dim": (lambda x: dg.chunk(x, 2, dim=-1), (3, 5)),
    "unbind": (lambda x: x.unbind(1), (2, 3)),
    "narrow": (lambda x: x.narrow(1, 1, 2), (2, 4)),
    "flip": (lambda x: x.flip(0, 1), (2, 3)),
    "chain": (lambda x: x.view(6, 4).t().reshape(2, 12).unsqueeze(0).expand(3, 2, 12), (2, 3, 4)),
}


@pytest.mark.parametrize("name", list(SHAPE_OPS))
def test_gradcheck_shape_ops(name):
    fn, shape = SHAPE_OPS[name]
    gc(fn, inp(shape))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gradcheck_cat_stack(dim):
    a, b, c = inp((2, 3), seed=1), inp((2, 3), seed=2), inp((2, 3), seed=3)
    gc(lambda a, b, c: dg.cat([a, b, c], dim), a, b, c)
    gc(lambda a, b, c: dg.stack((a, b, c), dim), a, b, c)
    gc(lambda a, b: dg.cat([a, b * 2, a], dim=dim), a, b)  # the same tensor twice
    frozen = dg.ones(2, 3, dtype=dg.float64)
    gc(lambda a: dg.cat([frozen, a], dim), a)


def test_gradcheck_cat_uneven():
    gc(lambda a, b: dg.cat([a, b], 1), inp((2, 3), seed=1), inp((2, 1), seed=2))


# -- indexing ------------------------------------------------------------------------------------
IDX = dg.tensor([0, 2, 0, 1, 2, 2])
MASK = dg.tensor(np.random.default_rng(7).random((3, 4)) > 0.4)
INDEX_OPS = {
    "int": lambda x: x[1], "neg_int": lambda x: x[-1], "neg_pair": lambda x: x[-2, -1],
    "slice": lambda x: x[:, 1:3], "step": lambda x: x[::2, ::-1],
    "neg_slice": lambda x: x[-2:, :-1],
    "ellipsis": lambda x: x[..., -1], "none": lambda x: x[None, 1, :, None],
    "fancy_repeats": lambda x: x[IDX], "fancy_dim1": lambda x: x[:, dg.tensor([3, 0, 3, 3])],
    "fancy_2d": lambda x: x[dg.tensor([[1, 0], [1, 1]])],
    "fancy_pair": lambda x: x[IDX, dg.tensor([0, 1, 0, 3, 3, 3])],
    "fancy_neg": lambda x: x[dg.tensor([-1, -3, -1])], "list": lambda x: x[[0, 0, 2]],
    "fancy_slice": lambda x: x[IDX, 1:], "mask": lambda x: x[MASK],
    "row_mask": lambda x: x[dg.tensor([True, False, True])],
    "int_mask": lambda x: x[1, dg.tensor([True, False, True, True])],
    "masked_fill": lambda x: x.masked_fill(MASK, 0.5),
    "index_select": lambda x: x.index_select(1, dg.tensor([3, 1, 3])),
    "gather": lambda x: x.gather(1, dg.tensor([[0, 0, 3], [1, 2, 1], [3, 3, 3]])),
}


@pytest.mark.parametrize("name", list(INDEX_OPS))
def test_gradcheck_indexing(name):
    gc(INDEX_OPS[name], inp((3, 4)))


def test_fancy_index_repeats_scatter_add():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[dg.tensor([0, 0, 2, 0])].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]
    x.grad = None
    x[dg.tensor([True, False, True])].sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]


# -- linear algebra ------------------------------------------------------------------------------
MATMUL_SHAPES = [((3, 4), (4, 2)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)),
                 ((2, 3, 4), (4, 2)), ((2, 1, 3, 4), (3, 4, 2)), ((3, 4), (2, 4, 5)),
                 ((2, 3, 4), (4,)), ((4,), (2, 4, 3))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_gradcheck_matmul(shapes):
    a, b = inp(shapes[0], seed=1), inp(shapes[1], seed=2)
    assert (a @ b).shape == np.matmul(np.ones(shapes[0]), np.ones(shapes[1])).shape
    gc(dg.matmul, a, b)


def test_gradcheck_matrix_products():
    gc(dg.mm, inp((3, 4), seed=1), inp((4, 2), seed=2))
    gc(dg.bmm, inp((2, 3, 4), seed=1), inp((2, 4, 2), seed=2))
    gc(dg.mv, inp((3, 4), seed=1), inp((4,), seed=2))
    gc(dg.dot, inp((4,), seed=1), inp((4,), seed=2))
    gc(dg.outer, inp((3,), seed=1), inp((4,), seed=2))


# -- second derivatives (double backward) --------------------------------------------------------
DOUBLE = {
    "add": (lambda a, b: (a + b) * (a + b), [((3, 1), "n"), ((4,), "n")]),
    "sub": (lambda a, b: (a - b) ** 2, [((3, 1), "n"), ((4,), "n")]),
    "mul": (lambda a, b: a * b, [((3, 1), "n"), ((4,), "n")]),
    "div": (lambda a, b: a / b, [((3, 1), "n"), ((4,), "z")]),
    "pow_scalar": (lambda a: a ** 3, [((3,), "n")]),
    "pow_frac": (lambda a: a ** 2.5, [((3,), "p")]),
    "pow_tensor": (lambda a, b: a ** b, [((3, 1), "p"), ((2,), "n")]),
    "rpow": (lambda a: 2.0 ** a, [((3,), "n")]),
    "rdiv": (lambda a: 1.5 / a, [((3,), "z")]),
    "neg": (lambda a: -(a * a), [((3,), "n")]),
    "exp": (dg.exp, [((3,), "n")]), "log": (dg.log, [((3,), "p")]),
    "sqrt": (dg.sqrt, [((3,), "p")]), "sin": (dg.sin, [((3,), "n")]),
    "cos": (dg.cos, [((3,), "n")]), "tanh": (dg.tanh, [((3,), "n")]),
    "sigmoid": (dg.sigmoid, [((3,), "n")]),
    "relu": (lambda a: dg.relu(a) * a, [((4,), "z")]),
    "abs": (lambda a: dg.abs(a) * a, [((4,), "z")]),
    "gelu": (dg.gelu, [((4,), "n")]),
    "gelu_tanh": (lambda a: dg.gelu(a, approximate="tanh"), [((4,), "n")]),
    "sum": (lambda a: a.sum(1) ** 2, [((2, 3), "n")]),
    "sum_all": (lambda a: a.sum() * a, [((2, 3), "n")]),
    "mean": (lambda a: a.mean(0, keepdim=True) * a, [((2, 3), "n")]),
    "var": (lambda a: a.var(1), [((2, 4), "n")]),
    "std": (lambda a: a.std(), [((5,), "n")]),
    "reshape": (lambda a: a.reshape(3, 2) ** 2, [((2, 3), "n")]),
    "view": (lambda a: a.view(-1) ** 2, [((2, 3), "n")]),
    "transpose": (lambda a: a.t() @ a, [((2, 3), "n")]),
    "permute": (lambda a: a.permute(1, 0, 2) ** 3, [((2, 3, 1), "n")]),
    "expand": (lambda a: a.expand(2, 3) * a.expand(2, 3), [((3,), "n")]),
    "squeeze": (lambda a: a.squeeze(1) ** 2, [((3, 1), "n")]),
    "unsqueeze": (lambda a: a.unsqueeze(0) ** 2 * a, [((3,), "n")]),
    "matmul": (lambda a, b: (a @ b) ** 2, [((2, 3), "n"), ((3, 2), "n")]),
    "matmul_batched": (lambda a, b: (a @ b) ** 2, [((2, 2, 3), "n"), ((3,), "n")]),
    "matvec": (lambda a, b: (a @ b) ** 2, [((2, 3), "n"), ((3,), "n")]),
    "getitem": (lambda a: a[1:, 0] ** 2, [((3, 2), "n")]),
    "getitem_fancy": (lambda a: a[dg.tensor([0, 0, 2])] ** 2, [((3, 2), "n")]),
    "getitem_mask": (lambda a: a[a.detach() > 0] ** 3, [((3, 2), "n")]),
    "cat": (lambda a, b: dg.cat([a * a, b, a * b], 0), [((2,), "n"), ((2,), "n")]),
    "stack": (lambda a, b: dg.stack([a * b, b]) ** 2, [((2,), "n"), ((2,), "n")]),
    "where": (lambda a, b: dg.where(dg.tensor([True, False, True]), a * a, b * a),
              [((3,), "n"), ((3,), "n")]),
    "clamp": (lambda a: dg.clamp(a, -0.5, 0.5) * a, [((4,), "z")]),
    "clamp_tensor": (lambda a, lo: dg.clamp(a, min=lo) * a * lo, [((4,), "z"), ((4,), "n")]),
    "maximum": (lambda a, b: dg.maximum(a, b) * a, [((3,), "n"), ((3,), "n")]),
    "minimum": (lambda a, b: dg.minimum(a, b) ** 2, [((3, 1), "n"), ((2,), "n")]),
    "amax": (lambda a: a.amax(1) ** 2, [((2, 3), "n")]),
    "max_dim": (lambda a: a.max(1)[0] ** 2, [((2, 3), "n")]),
    "gather": (lambda a: a.gather(1, dg.tensor([[0, 0], [2, 1]])) ** 2, [((2, 3), "n")]),
    "remainder": (lambda a, b: (a % b) ** 2, [((3,), "p"), ((3,), "p")]),
    "split": (lambda a: a.split(2)[1] ** 2, [((5,), "n")]),
}


@pytest.mark.parametrize("name", list(DOUBLE))
def test_gradgradcheck(name):
    fn, specs = DOUBLE[name]
    tensors = [inp(s, k, seed=i + 1) for i, (s, k) in enumerate(specs)]
    ggc(fn, *tensors)


@pytest.mark.parametrize("name", list(DOUBLE))
def test_create_graph_gradient_equals_first_order_gradient(name):
    """``graph_backward`` (used with create_graph=True) gives the same values as ``backward``;
    gradgradcheck alone cannot tell, since it differentiates whatever the first pass returns."""
    fn, specs = DOUBLE[name]
    tensors = [inp(s, k, seed=i + 1) for i, (s, k) in enumerate(specs)]
    out = fn(*tensors)
    seed = dg.tensor(np.random.default_rng(9).standard_normal(out.shape))
    plain = autograd.grad(fn(*tensors), tensors, seed)
    graph = autograd.grad(out, tensors, seed, create_graph=True)
    for p, g in zip(plain, graph):
        assert g.requires_grad and g.dtype == p.dtype and g.shape == p.shape
        np.testing.assert_allclose(g.detach().numpy(), p.numpy(), rtol=1e-12, atol=1e-14)


THIRD = {
    "mul": (lambda a, b: a * b * a, [((3,), "n"), ((3,), "n")]),
    "div": (lambda a, b: a / b, [((2,), "n"), ((2,), "z")]),
    "pow": (lambda a: a ** 4, [((3,), "n")]),
    "pow_tensor": (lambda a, b: a ** b, [((2,), "p"), ((2,), "n")]),
    "exp": (dg.exp, [((3,), "n")]), "log": (dg.log, [((3,), "p")]),
    "sqrt": (dg.sqrt, [((3,), "p")]), "sin": (dg.sin, [((3,), "n")]),
    "cos": (dg.cos, [((3,), "n")]), "tanh": (dg.tanh, [((3,), "n")]),
    "sigmoid": (dg.sigmoid, [((3,), "n")]), "gelu": (dg.gelu, [((3,), "n")]),
    "var": (lambda a: a.var(), [((4,), "n")]),
    "matmul_tanh": (lambda w, x: (x @ w).tanh().sum(1), [((3, 2), "n"), ((2, 3), "n")]),
    "mean_sum": (lambda a: (a.mean(0) * a.sum(1, keepdim=True)) ** 2, [((2, 2), "n")]),
}


@pytest.mark.parametrize("name", list(THIRD))
def test_third_derivatives(name):
    fn, specs = THIRD[name]
    third(fn, *[inp(s, k, seed=i + 1) for i, (s, k) in enumerate(specs)])


def test_x_cubed_derivatives_chain():
    x = dg.tensor(2.0, dtype=dg.float64, requires_grad=True)
    y = x ** 3
    (g1,) = autograd.grad(y, x, create_graph=True)
    (g2,) = autograd.grad(g1, x, create_graph=True)
    (g3,) = autograd.grad(g2, x)
    assert (g1.item(), g2.item(), g3.item()) == (12.0, 12.0, 6.0)
    assert g1.requires_grad and g2.requires_grad and not g3.requires_grad
    assert x.grad is None


def test_sin_higher_derivatives():
    x = dg.linspace(-3, 3, 7, dtype=dg.float64, requires_grad=True)
    y = dg.sin(x)
    (d1,) = autograd.grad(y.sum(), x, create_graph=True)
    (d2,) = autograd.grad(d1.sum(), x, create_graph=True)
    (d3,) = autograd.grad(d2.sum(), x, create_graph=True)
    (d4,) = autograd.grad(d3.sum(), x)
    xs = x.detach().numpy()
    np.testing.assert_allclose(d1.detach().numpy(), np.cos(xs))
    np.testing.assert_allclose(d2.detach().numpy(), -np.sin(xs))
    np.testing.assert_allclose(d3.detach().numpy(), -np.cos(xs))
    np.testing.assert_allclose(d4.numpy(), np.sin(xs))


def test_tanh_exp_log_second_derivatives_closed_form():
    x = dg.tensor([-1.0, 0.3, 2.0], dtype=dg.float64, requires_grad=True)
    xs = x.detach().numpy()
    cases = [(dg.tanh, lambda v: -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)),
             (dg.sigmoid, lambda v: (s := 1 / (1 + np.exp(-v))) * (1 - s) * (1 - 2 * s)),
             (dg.exp, np.exp), (lambda t: dg.log(t + 3), lambda v: -1 / (v + 3) ** 2),
             (lambda t: dg.sqrt(t + 3), lambda v: -0.25 * (v + 3) ** -1.5),
             (dg.cos, lambda v: -np.cos(v)), (lambda t: 1 / (t + 3), lambda v: 2 / (v + 3) ** 3)]
    for fn, d2 in cases:
        (g,) = autograd.grad(fn(x).sum(), x, create_graph=True)
        (h,) = autograd.grad(g.sum(), x)
        np.testing.assert_allclose(h.numpy(), d2(xs), rtol=1e-10)


def test_matmul_tanh_composite_hessian_vector_product():
    rng = np.random.default_rng(0)
    w = dg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    x = dg.tensor(rng.standard_normal((4, 3)))
    v = dg.tensor(rng.standard_normal((3, 2)))

    def loss(w):
        return (x @ w).tanh().pow(2).sum()
    (g,) = autograd.grad(loss(w), w, create_graph=True)
    (hv,) = autograd.grad((g * v).sum(), w)
    eps = 1e-6  # central difference of the gradient along v
    wp = dg.tensor(w.detach().numpy() + eps * v.numpy(), requires_grad=True)
    wm = dg.tensor(w.detach().numpy() - eps * v.numpy(), requires_grad=True)
    (gp,) = autograd.grad(loss(wp), wp)
    (gm,) = autograd.grad(loss(wm), wm)
    np.testing.assert_allclose(hv.numpy(), (gp.numpy() - gm.numpy()) / (2 * eps), rtol=1e-5,
                               atol=1e-8)
    ggc(lambda w: loss(w), w)


def test_gradient_penalty_style_double_backward():
    """d/dw of ||d loss / d x||^2 (as in WGAN-GP): grads flow through create_graph grads."""
    rng = np.random.default_rng(1)
    w = dg.tensor(rng.standard_normal((3, 1)), requires_grad=True)
    x = dg.tensor(rng.standard_normal((5, 3)), requires_grad=True)

    def penalty(w, x):
        out = (x @ w).sigmoid().sum()
        (gx,) = autograd.grad(out, x, create_graph=True)
        return (gx * gx).sum()
    gc(penalty, w, x)


# -- error messages ------------------------------------------------------------------------------
@pytest.mark.parametrize("a,b,message", [
    ((4, 2), (3,), "The size of tensor a (2) must match the size of tensor b (3) at non-singleton "
                   "dimension 1"),
    ((2, 3), (2,), "The size of tensor a (3) must match the size of tensor b (2) at non-singleton "
                   "dimension 1"),
    ((3,), (2, 4), "The size of tensor a (3) must match the size of tensor b (4) at non-singleton "
                   "dimension 1"),
    ((2, 1), (3, 1), "The size of tensor a (2) must match the size of tensor b (3) at "
                     "non-singleton dimension 0"),
    ((4, 1, 3), (2, 5, 1), "The size of tensor a (4) must match the size of tensor b (2) at "
                           "non-singleton dimension 0"),
    ((2, 3, 4), (5, 4), "The size of tensor a (3) must match the size of tensor b (5) at "
                        "non-singleton dimension 1"),
], ids=str)
def test_broadcast_error_messages(a, b, message):
    x, y = dg.ones(a, requires_grad=True), dg.ones(b)
    for op in (lambda: x + y, lambda: x - y, lambda: x * y, lambda: x / y, lambda: x ** y,
               lambda: dg.maximum(x, y), lambda: dg.where(x > 0, x, y), lambda: x < y,
               lambda: x == y):
        with pytest.raises(RuntimeError) as info:
            op()
        assert str(info.value) == message


@pytest.mark.parametrize("a,b,message", [
    ((2, 3), (4, 5), "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"),
    ((3,), (4,), "inconsistent tensor size, expected tensor [3] and src [4] to have the same "
                 "number of elements, but got 3 and 4 elements respectively"),
    ((2, 3), (4,), "size mismatch, got input (2), mat (2x3), vec (4)"),
    ((3,), (4, 2), "mat1 and mat2 shapes cannot be multiplied (1x3 and 4x2)"),
    ((2, 2, 3), (2, 4, 5), "Expected size for first two dimensions of batch2 tensor to be: "
                           "[2, 3] but got: [2, 4]."),
    ((2, 2, 3), (3, 3, 5), "The size of tensor a (2) must match the size of tensor b (3) at "
                           "non-singleton dimension 0"),
    ((2, 2, 3), (4, 5), "mat1 and mat2 shapes cannot be multiplied (4x3 and 4x5)"),
    ((), (3,), "both arguments to matmul need to be at least 1D, but they are 0D and 1D"),
], ids=str)
def test_matmul_error_messages(a, b, message):
    with pytest.raises(RuntimeError) as info:
        dg.ones(a, requires_grad=True) @ dg.ones(b)
    assert str(info.value) == message


def test_matmul_dtype_mismatch():
    with pytest.raises(RuntimeError, match=r"expected m1 and m2 to have the same dtype, but got: "
                                           r"float != double"):
        dg.ones(2, 3) @ dg.ones(3, 2, dtype=dg.float64)
    with pytest.raises(TypeError):
        dg.ones(2, 2) @ 2


def test_view_error_messages():
    msg = ("view size is not compatible with input tensor's size and stride (at least one "
           "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
    x = dg.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        x.t().view(6)
    assert str(info.value) == msg
    with pytest.raises(RuntimeError) as info:
        x.view(4)
    assert str(info.value) == "shape '[4]' is invalid for input of size 6"
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        x.reshape(-1, -1)
    assert x.t().reshape(6).shape == (6,)  # reshape copies instead
    assert x.view(3, -1).shape == (3, 2)


@pytest.mark.parametrize("fn,exc,message", [
    (lambda x: x.squeeze(2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda x: x.squeeze(-3), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got -3)"),
    (lambda x: x.unsqueeze(3), IndexError,
     "Dimension out of range (expected to be in range of [-3, 2], but got 3)"),
    (lambda x: x.unsqueeze(-4), IndexError,
     "Dimension out of range (expected to be in range of [-3, 2], but got -4)"),
    (lambda x: x.sum(2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda x: x.mean((0, 5)), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 5)"),
    (lambda x: x.max(2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda x: x.argmax(-3), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got -3)"),
    (lambda x: x.transpose(0, 2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda x: x.sum((0, 0)), RuntimeError, "dim 0 appears multiple times in the list of dims"),
    (lambda x: x.permute(0, 0), RuntimeError, "permute(): duplicate dims are not allowed."),
    (lambda x: x.flatten(1, 0), RuntimeError,
     "flatten() has invalid args: start_dim cannot come after end_dim"),
    (lambda x: x.expand(-1, 2, 3), RuntimeError,
     "The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension 0"),
    (lambda x: x.expand(2, 4), RuntimeError,
     "The expanded size of the tensor (4) must match the existing size (3) at non-singleton "
     "dimension 1.  Target sizes: [2, 4].  Tensor sizes: [2, 3]"),
    (lambda x: x.reshape(4), RuntimeError, "shape '[4]' is invalid for input of size 6"),
    (lambda x: dg.where(x, x, x), RuntimeError,
     "where expected condition to be a boolean tensor, but got a tensor with dtype Double"),
    (lambda x: dg.clamp(x), RuntimeError,
     "torch.clamp: At least one of 'min' or 'max' must not be None"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_dim_and_shape_errors(fn, exc, message):
    x = dg.ones(2, 3, dtype=dg.float64, requires_grad=True)
    with pytest.raises(exc) as info:
        fn(x)
    assert str(info.value) == message


def test_cat_and_stack_errors():
    with pytest.raises(RuntimeError) as info:
        dg.cat([dg.ones(2, 3), dg.ones(2, 4)])
    assert str(info.value) == ("Sizes of tensors must match except in dimension 0. Expected size 3 "
                               "but got size 4 for tensor number 1 in the list.")
    with pytest.raises(RuntimeError) as info:
        dg.cat([dg.ones(2, 3), dg.ones(3, 3), dg.ones(2, 2)], dim=1)
    assert str(info.value) == ("Sizes of tensors must match except in dimension 1. Expected size 2 "
                               "but got size 3 for tensor number 1 in the list.")
    with pytest.raises(RuntimeError, match=r"Tensors must have same number of dimensions: got 2 "
                                           r"and 1"):
        dg.cat([dg.ones(2, 3), dg.ones(3)])
    with pytest.raises(RuntimeError, match=r"zero-dimensional tensor \(at position 1\) cannot be "
                                           r"concatenated"):
        dg.cat([dg.ones(1), dg.ones(())])
    with pytest.raises(ValueError, match="expected a non-empty list of Tensors"):
        dg.cat([])
    with pytest.raises(IndexError, match="Dimension out of range"):
        dg.cat([dg.ones(2), dg.ones(2)], dim=1)
    with pytest.raises(RuntimeError) as info:
        dg.stack([dg.ones(2, 3), dg.ones(2, 4)])
    assert str(info.value) == ("stack expects each tensor to be equal size, but got [2, 3] at "
                               "entry 0 and [2, 4] at entry 1")
    with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum exactly "
                                           "to 5"):
        dg.ones(5).split([2, 2])


@pytest.mark.parametrize("key,exc,message", [
    (5, IndexError, "index 5 is out of bounds for dimension 0 with size 2"),
    (-3, IndexError, "index -3 is out of bounds for dimension 0 with size 2"),
    ((slice(None), -4), IndexError, "index -4 is out of bounds for dimension 1 with size 3"),
    ((0, 0, 0), IndexError, "too many indices for tensor of dimension 2"),
    (1.5, IndexError, "only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                      "Variables are valid indices (got float)"),
    ("tensor_float", IndexError, "tensors used as indices must be long, int, byte or bool tensors"),
    ("tensor_oob", IndexError, "index 5 is out of bounds for dimension 0 with size 2"),
    ("mask", IndexError, "The shape of the mask [3] at index 0 does not match the shape of the "
                         "indexed tensor [2, 3] at index 0"),
], ids=str)
def test_indexing_errors(key, exc, message):
    keys = {"tensor_float": dg.tensor([0.0]), "tensor_oob": dg.tensor([0, 5]),
            "mask": dg.tensor([True, False, True])}
    key = keys.get(key, key) if isinstance(key, str) else key
    x = dg.ones(2, 3, requires_grad=True)
    with pytest.raises(exc) as info:
        x[key]
    assert str(info.value) == message


def test_dtype_errors():
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor is not "
                                           "supported"):
        -dg.tensor([True])
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool tensors "
                                           "is not supported"):
        dg.tensor([True]) - dg.tensor([False])
    with pytest.raises(RuntimeError, match=r"mean\(\): could not infer output dtype. Input dtype "
                                           r"must be either a floating point or complex dtype. "
                                           r"Got: Long"):
        dg.tensor([1, 2]).mean()
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        dg.tensor([1, 2]).var()
    with pytest.raises(TypeError):
        dg.ones(3).max(dim=(0,))


# -- behaviour details ---------------------------------------------------------------------------
def test_broadcast_gradients_have_input_shapes():
    """PyTorch's example (autograd-semantics.md 2.9)."""
    a = dg.ones(2, 3, requires_grad=True)
    b = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = dg.ones(2, 1, requires_grad=True)
    s = dg.tensor(2.0, requires_grad=True)
    (a * b * c * s).sum().backward()
    assert b.grad.tolist() == [4.0, 4.0, 4.0]
    assert c.grad.tolist() == [[12.0], [12.0]]
    assert s.grad.shape == () and s.grad.item() == 12.0
    assert a.grad.shape == (2, 3)


def test_views_share_storage_and_copies_do_not():
    x = dg.arange(6.0).reshape(2, 3)
    for v in (x.view(3, 2), x.reshape(6), x.t(), x[0], x[:, 1:], x.unsqueeze(0), x.squeeze(),
              x.expand(2, 2, 3), x.transpose(0, 1), x.flatten(), x.permute(1, 0)):
        assert np.shares_memory(v.numpy(), x.numpy())
    for c in (x[dg.tensor([0, 1])], x[x > 2], x.t().reshape(6), x.clone(), x.flip(0)):
        assert not np.shares_memory(c.numpy(), x.numpy())


def test_max_min_dim_return_types():
    x = dg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    out = x.max(dim=1)
    assert out.values.tolist() == [5.0, 7.0] and out.indices.tolist() == [1, 0]
    values, indices = dg.min(x, 0, keepdim=True)
    assert values.shape == (1, 3) and indices.tolist() == [[0, 1, 0]]
    assert x.argmax().item() == 3 and x.argmin(dim=1).tolist() == [0, 1]


def test_no_grad_records_nothing():
    x = inp((3,))
    with dg.no_grad():
        for y in (x * 2, x.exp(), x[0], x.sum(), x @ x, dg.cat([x, x]), x.reshape(3, 1),
                  dg.where(x > 0, x, 0.0), dg.maximum(x, x), x.var()):
            assert not y.requires_grad and y.grad_fn is None


def test_integer_and_bool_ops_have_no_history():
    x = dg.tensor([3, -1, 2])
    assert (x * 2).dtype == dg.int64 and (x // 2).tolist() == [1, -1, 1]
    assert (x % 2).tolist() == [1, 1, 0]
    assert (-x).tolist() == [-3, 1, -2]
    assert dg.div(x, 2, rounding_mode="trunc").tolist() == [1, 0, 1]
    assert (x / 2).dtype == dg.float32
    assert math.isclose(dg.tensor([1.0, 4.0]).sqrt().sum().item(), 3.0)


def test_comparing_with_none_is_not_elementwise():
    t = dg.tensor([1, 2])
    assert (t == None) is False  # noqa: E711 -- the operator itself is under test
    assert (t != None) is True  # noqa: E711
    assert (t == 1).tolist() == [True, False]


def test_cat_skips_empty_1d_tensors_next_to_other_ranks():
    x = dg.ones(2, 3, requires_grad=True)
    out = dg.cat([dg.tensor([]), x, dg.tensor([])])
    assert out.shape == (2, 3)
    out.sum().backward()
    assert x.grad.tolist() == [[1.0] * 3] * 2
    assert dg.cat([dg.tensor([]), dg.tensor([])]).shape == (0,)
    with pytest.raises(RuntimeError, match="same number of dimensions: got 1 and 2"):
        dg.cat([dg.zeros(2), dg.ones(2, 4)])


def test_an_element_is_a_view_that_in_place_ops_write_through():
    x = dg.zeros(2, 2)
    x[0, 0].fill_(5)
    x[1, -1].add_(2)
    assert x.tolist() == [[5.0, 0.0], [0.0, 2.0]]
    assert x[0, 1].shape == () and x[0, 0].item() == 5.0
