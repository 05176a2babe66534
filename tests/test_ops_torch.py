"""Every differentiable op against PyTorch: forward values and gradients on the same random
float64 inputs (broadcasting shapes, fancy indexing with repeats, bool masks, reductions with
``dim``/``keepdim``, shapes, matmul batches), dtype promotion and comparison results.

Each case is ``fn(m, *tensors)`` with ``m`` either ``torch`` or ``distgrad`` (their APIs match);
both get tensors built from the same NumPy arrays, the outputs are contracted with the same
random weights and backpropagated, and values, dtypes, shapes and input gradients must agree.
"""
import numpy as np
import pytest

import distgrad as dg
from distgrad.dtypes import dtype_name

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


# -- helpers ---------------------------------------------------------------------------------
def _array(spec, rng):
    """A float64 array for ``(shape, kind)``: n normal, p in [0.5, 2], z normal but |x| >= 0.2,
    u in (-0.9, 0.9); an ndarray spec is used as is (index tensors, masks)."""
    if isinstance(spec, (np.ndarray, np.generic)):
        return np.asarray(spec)
    shape, kind = spec if isinstance(spec[-1] if spec else None, str) else (spec, "n")
    if kind == "p":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "u":
        return rng.uniform(-0.9, 0.9, shape)
    a = rng.standard_normal(shape)
    if kind == "z":
        a = np.where(np.abs(a) < 0.2, np.sign(a + 1e-12) * (0.2 + np.abs(a)), a)
    return np.asarray(a, dtype=np.float64)


def _np(t):
    return t.detach().numpy() if isinstance(t, (torch.Tensor, dg.Tensor)) else np.asarray(t)


def _dtype_str(t):
    if isinstance(t, torch.Tensor):
        return str(t.dtype).replace("torch.", "")
    return dtype_name(t.dtype)


def _run(m, fn, arrays, weights):
    ins = [m.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    out = fn(m, *ins)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if weights is None:
        weights = [np.random.default_rng(123).standard_normal(tuple(o.shape)) for o in outs]
    terms = [(o * m.tensor(w)).sum() for o, w in zip(outs, weights)
             if o.requires_grad and o.is_floating_point()]
    if terms:
        loss = terms[0]
        for t in terms[1:]:
            loss = loss + t
        loss.backward()
    grads = [None if not t.requires_grad or t.grad is None else _np(t.grad) for t in ins]
    return outs, grads, weights


def check_against_torch(fn, specs, seed=0, rtol=1e-9, atol=1e-11, grads=True):
    """Run ``fn`` in both libraries on the same inputs and compare outputs and gradients."""
    rng = np.random.default_rng(seed)
    arrays = [_array(s, rng) for s in specs]
    t_outs, t_grads, weights = _run(torch, fn, arrays, None)
    d_outs, d_grads, _ = _run(dg, fn, arrays, weights)
    assert len(t_outs) == len(d_outs)
    for i, (t, d) in enumerate(zip(t_outs, d_outs)):
        assert isinstance(d, dg.Tensor), f"output {i} is a {type(d).__name__}"
        assert tuple(d.shape) == tuple(t.shape), f"output {i} shape"
        assert _dtype_str(d) == _dtype_str(t), f"output {i} dtype"
        np.testing.assert_allclose(_np(d), _np(t), rtol=rtol, atol=atol,
                                   err_msg=f"output {i} value")
        assert d.requires_grad == t.requires_grad, f"output {i} requires_grad"
    if grads:
        for i, (t, d) in enumerate(zip(t_grads, d_grads)):
            if t is None:
                assert d is None or not np.any(d), f"input {i}: torch gives no gradient"
                continue
            assert d is not None, f"input {i}: no gradient"
            assert d.shape == t.shape, f"input {i} gradient shape"
            np.testing.assert_allclose(d, t, rtol=rtol, atol=atol,
                                       err_msg=f"input {i} gradient")


def _gelu(m, x, approximate="none"):
    f = torch.nn.functional.gelu if m is torch else dg.gelu
    return f(x, approximate=approximate)


# -- elementwise binary ops with broadcasting ------------------------------------------------
BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 1, 2), (1, 8, 1)), ((2, 3), (3,)), ((4, 1), (3,)),
                    ((), (2, 3)), ((2, 3), ()), ((), ()), ((2, 1, 3), (4, 1))]

BINARY = {
    "add": (lambda m, a, b: m.add(a, b), "n", "n"),
    "add_alpha": (lambda m, a, b: m.add(a, b, alpha=2.5), "n", "n"),
    "sub": (lambda m, a, b: m.sub(a, b), "n", "n"),
    "sub_alpha": (lambda m, a, b: a.sub(b, alpha=-0.5), "n", "n"),
    "mul": (lambda m, a, b: m.mul(a, b), "n", "n"),
    "div": (lambda m, a, b: m.div(a, b), "n", "z"),
    "pow": (lambda m, a, b: m.pow(a, b), "p", "n"),
    "maximum": (lambda m, a, b: m.maximum(a, b), "n", "n"),
    "minimum": (lambda m, a, b: m.minimum(a, b), "n", "n"),
    "op+": (lambda m, a, b: a + b, "n", "n"),
    "op-": (lambda m, a, b: a - b, "n", "n"),
    "op*": (lambda m, a, b: a * b, "n", "n"),
    "op/": (lambda m, a, b: a / b, "n", "z"),
    "op**": (lambda m, a, b: a ** b, "p", "u"),
    "remainder": (lambda m, a, b: m.remainder(a, b), "p", "p"),
    "atan2-like": (lambda m, a, b: (a * b).tanh() / (1 + b * b), "n", "n"),
}


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_broadcasting(name, shapes):
    fn, ka, kb = BINARY[name]
    check_against_torch(fn, [(shapes[0], ka), (shapes[1], kb)])


@pytest.mark.parametrize("shapes", [((2, 3), (2, 3), (2, 3)), ((3, 1), (1, 4), (4,)),
                                    ((2, 1, 3), (3,), (2, 4, 1)), ((), (2,), ())], ids=str)
def test_where_broadcasting(shapes):
    cond = np.random.default_rng(5).random(shapes[0]) > 0.5
    check_against_torch(lambda m, c, a, b: m.where(c, a, b), [cond, shapes[1], shapes[2]])
    check_against_torch(lambda m, c, a, b: a.where(c, b), [cond, shapes[1], shapes[2]])


def test_where_with_numbers():
    cond = np.array([True, False, True])
    check_against_torch(lambda m, c, a: m.where(c, a, 0.0), [cond, (3,)])
    check_against_torch(lambda m, c, a: m.where(c, 2.0, a), [cond, (2, 3)])


# -- scalar operands and reflected operators -------------------------------------------------
SCALAR_OPS = {
    "x+2.5": (lambda m, x: x + 2.5, "n"), "2.5+x": (lambda m, x: 2.5 + x, "n"),
    "x-2": (lambda m, x: x - 2, "n"), "2.0-x": (lambda m, x: 2.0 - x, "n"),
    "x*3": (lambda m, x: x * 3, "n"), "3*x": (lambda m, x: 3 * x, "n"),
    "x/4": (lambda m, x: x / 4, "n"), "1/x": (lambda m, x: 1 / x, "z"),
    "x**2": (lambda m, x: x ** 2, "n"), "x**3": (lambda m, x: x ** 3, "n"),
    "x**0.5": (lambda m, x: x ** 0.5, "p"), "x**-1.5": (lambda m, x: x ** -1.5, "p"),
    "x**0": (lambda m, x: x ** 0, "n"), "2**x": (lambda m, x: 2 ** x, "n"),
    "2.5**x": (lambda m, x: 2.5 ** x, "n"), "-x": (lambda m, x: -x, "n"),
    "x%1.5": (lambda m, x: x % 1.5, "n"), "pow(x,2)": (lambda m, x: m.pow(x, 2), "n"),
    "x*np.float64": (lambda m, x: x * np.float64(1.5), "n"),
    "np.float64*x": (lambda m, x: np.float64(1.5) * x, "n"),
    "add(x,2,alpha)": (lambda m, x: m.add(x, 2, alpha=3), "n"),
    "rsub": (lambda m, x: 1 - x * 2, "n"),
}


@pytest.mark.parametrize("shape", [(3, 4), ()], ids=str)
@pytest.mark.parametrize("name", list(SCALAR_OPS))
def test_scalar_operands(name, shape):
    fn, kind = SCALAR_OPS[name]
    check_against_torch(fn, [(shape, kind)])


def test_in_place_operators():
    def fn(m, x):
        y = x * 1
        y += 2
        y -= x
        y *= x
        y /= 3
        y **= 2
        return y
    check_against_torch(fn, [((3, 4), "n")])


# -- unary math --------------------------------------------------------------------------------
UNARY = {
    "neg": (lambda m, x: m.neg(x), "n"), "abs": (lambda m, x: m.abs(x), "z"),
    "exp": (lambda m, x: m.exp(x), "n"), "log": (lambda m, x: m.log(x), "p"),
    "sqrt": (lambda m, x: m.sqrt(x), "p"), "sin": (lambda m, x: m.sin(x), "n"),
    "cos": (lambda m, x: m.cos(x), "n"), "tanh": (lambda m, x: m.tanh(x), "n"),
    "sigmoid": (lambda m, x: m.sigmoid(x), "n"), "relu": (lambda m, x: m.relu(x), "z"),
    "gelu": (lambda m, x: _gelu(m, x), "n"),
    "gelu_tanh": (lambda m, x: _gelu(m, x, "tanh"), "n"),
    "clamp": (lambda m, x: m.clamp(x, -0.5, 0.7), "n"),
    "clamp_min": (lambda m, x: m.clamp(x, min=-0.3), "n"),
    "clamp_max": (lambda m, x: x.clamp(max=0.4), "n"),
    "clip": (lambda m, x: x.clip(-0.5, 0.5), "n"),
    "method_exp": (lambda m, x: x.exp(), "n"), "method_log": (lambda m, x: x.log(), "p"),
    "method_sigmoid": (lambda m, x: x.sigmoid(), "n"), "method_relu": (lambda m, x: x.relu(), "z"),
    "abs_op": (lambda m, x: abs(x), "z"),
    "sigmoid_large": (lambda m, x: m.sigmoid(x * 40), "n"),
}


@pytest.mark.parametrize("shape", [(3, 4), ()], ids=str)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name, shape):
    fn, kind = UNARY[name]
    check_against_torch(fn, [(shape, kind)])


@pytest.mark.parametrize("shapes", [((3, 4), (4,), (3, 1)), ((3, 4), (3, 4), (3, 4)),
                                    ((2, 3), (), ())], ids=str)
def test_clamp_tensor_bounds(shapes):
    lo = (shapes[1], "n")
    check_against_torch(lambda m, x, a, b: m.clamp(x, min=a - 0.5, max=b.abs() + 0.1),
                        [shapes[0], lo, (shapes[2], "n")])
    check_against_torch(lambda m, x, a: m.clamp(x, min=a), [shapes[0], lo])
    check_against_torch(lambda m, x, a: m.clamp(x, max=a), [shapes[0], lo])


def test_maximum_minimum_ties_split_gradient():
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 0.0, 3.0])
    check_against_torch(lambda m, x, y: m.maximum(x, y), [a, b])
    check_against_torch(lambda m, x, y: m.minimum(x, y), [a, b])


def test_abs_and_relu_at_zero():
    x = np.array([-1.0, 0.0, 2.0])
    check_against_torch(lambda m, t: t.abs(), [x])
    check_against_torch(lambda m, t: t.relu(), [x])
    check_against_torch(lambda m, t: t.clamp(0.0, 2.0), [x])


# -- reductions --------------------------------------------------------------------------------
DIMS = [None, 0, -1, 1, (0, 2), (-1, 0), [1]]


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "var", "std"])
def test_reductions_dims(op, dim, keepdim):
    def fn(m, x):
        if dim is None:
            if op in ("amax", "amin"):
                return getattr(x, op)()
            return getattr(m, op)(x) if not keepdim else getattr(x, op)(dim=(0, 1, 2), keepdim=True)
        return getattr(m, op)(x, dim, keepdim=keepdim)
    check_against_torch(fn, [(2, 3, 4)])


@pytest.mark.parametrize("kwargs", [dict(unbiased=False), dict(unbiased=True), dict(correction=0),
                                    dict(correction=2), dict(dim=1, unbiased=False),
                                    dict(dim=(0, 1), correction=0, keepdim=True)], ids=str)
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_correction(op, kwargs):
    check_against_torch(lambda m, x: getattr(x, op)(**kwargs), [(3, 4)])


def test_var_std_positional_overloads():
    check_against_torch(lambda m, x: x.var(0, False), [(3, 4)])
    check_against_torch(lambda m, x: x.std(1, True, True), [(3, 4)])
    check_against_torch(lambda m, x: m.var(x, False), [(3, 4)])


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), (-1, False), (-2, True)])
def test_max_min_dim_values_and_indices(op, dim, keepdim):
    def fn(m, x):
        values, indices = getattr(m, op)(x, dim, keepdim)
        named = getattr(x, op)(dim=dim, keepdim=keepdim)
        assert (named.values.detach().numpy() == values.detach().numpy()).all()
        return values, indices
    check_against_torch(fn, [(3, 4, 2)])


@pytest.mark.parametrize("op", ["max", "min", "amax", "amin", "sum", "mean", "argmax", "argmin"])
def test_reductions_of_all_elements(op):
    check_against_torch(lambda m, x: getattr(x, op)(), [(3, 4)])
    check_against_torch(lambda m, x: getattr(x, op)(), [()])


def test_max_all_with_ties_spreads_gradient():
    x = np.array([[1.0, 3.0], [3.0, 2.0]])
    check_against_torch(lambda m, t: t.max(), [x])
    check_against_torch(lambda m, t: t.amax(dim=1), [x])
    check_against_torch(lambda m, t: t.amin(dim=0, keepdim=True),
                        [np.array([[1.0, 1.0], [1.0, 2.0]])])


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), (-1, False),
                                         (None, True)])
def test_argmax_argmin(op, dim, keepdim):
    check_against_torch(lambda m, x: getattr(m, op)(x, dim=dim, keepdim=keepdim), [(3, 4)])


def test_max_of_two_tensors_is_maximum():
    check_against_torch(lambda m, a, b: m.max(a, b), [(3, 4), (4,)])
    check_against_torch(lambda m, a, b: a.min(b), [(3, 4), (3, 1)])


def test_reductions_on_zero_dim_tensor():
    check_against_torch(lambda m, x: x.sum(0), [()])
    check_against_torch(lambda m, x: x.mean(-1, keepdim=True), [()])
    check_against_torch(lambda m, x: x.max(0), [()])


def test_sum_dtype_and_empty_dim():
    check_against_torch(lambda m, x: x.sum(dim=()), [(2, 3)])
    check_against_torch(lambda m, x: x.mean(dim=[]), [(2, 3)])
    check_against_torch(lambda m, x: (x > 0).sum(), [(2, 3)])
    check_against_torch(lambda m, x: (x > 0).sum(1), [(2, 3)])


def test_prod_and_logsumexp():
    x = np.array([[1.5, 0.0, 2.0], [0.5, -1.0, 3.0], [0.0, 0.0, 1.0]])
    check_against_torch(lambda m, t: t.prod(), [(3, 4)])
    check_against_torch(lambda m, t: t.prod(1), [x])
    check_against_torch(lambda m, t: t.prod(0, keepdim=True), [x])
    check_against_torch(lambda m, t: t.prod(), [np.array([2.0, 0.0, 3.0])])
    check_against_torch(lambda m, t: t.logsumexp(1), [(3, 4)])


# -- shape ops ---------------------------------------------------------------------------------
SHAPE_OPS = {
    "reshape": (lambda m, x: x.reshape(4, 6), [(2, 3, 4)]),
    "reshape_tuple": (lambda m, x: m.reshape(x, (-1, 3)), [(2, 3, 4)]),
    "reshape_flat": (lambda m, x: x.reshape(-1), [(2, 3, 4)]),
    "view": (lambda m, x: x.view(2, 12), [(2, 3, 4)]),
    "view_infer": (lambda m, x: x.view(-1, 4), [(2, 3, 4)]),
    "view_noncontig_ok": (lambda m, x: x[:, :2].view(2, 2, 2, 4), [(4, 3, 4)]),
    "view_as": (lambda m, x: x.view_as(x.reshape(6, 4)), [(2, 3, 4)]),
    "transpose": (lambda m, x: x.transpose(0, 2), [(2, 3, 4)]),
    "transpose_neg": (lambda m, x: m.transpose(x, -1, -2), [(2, 3, 4)]),
    "permute": (lambda m, x: x.permute(2, 0, 1), [(2, 3, 4)]),
    "permute_tuple": (lambda m, x: m.permute(x, (1, 2, 0)), [(2, 3, 4)]),
    "T": (lambda m, x: x.T * 1, [(3, 4)]),
    "t": (lambda m, x: x.t(), [(3, 4)]),
    "mT": (lambda m, x: x.mT, [(2, 3, 4)]),
    "expand": (lambda m, x: x.expand(2, 3, 5, 4), [(3, 1, 4)]),
    "expand_minus1": (lambda m, x: x.expand(-1, 5, -1), [(3, 1, 4)]),
    "expand_as": (lambda m, x, y: x.expand_as(y), [(3, 1), (2, 3, 4)]),
    "broadcast_to": (lambda m, x: m.broadcast_to(x, (2, 3, 4)), [(4,)]),
    "squeeze": (lambda m, x: x.squeeze(), [(3, 1, 4, 1)]),
    "squeeze_dim": (lambda m, x: x.squeeze(1), [(3, 1, 4, 1)]),
    "squeeze_neg": (lambda m, x: m.squeeze(x, -1), [(3, 1, 4, 1)]),
    "squeeze_tuple": (lambda m, x: x.squeeze((1, 3)), [(3, 1, 4, 1)]),
    "squeeze_noop": (lambda m, x: x.squeeze(0), [(3, 1, 4, 1)]),
    "unsqueeze": (lambda m, x: x.unsqueeze(0), [(3, 4)]),
    "unsqueeze_neg": (lambda m, x: m.unsqueeze(x, -1), [(3, 4)]),
    "unsqueeze_mid": (lambda m, x: x.unsqueeze(1), [(3, 4)]),
    "unsqueeze_0d": (lambda m, x: x.unsqueeze(0), [()]),
    "flatten": (lambda m, x: x.flatten(), [(2, 3, 4)]),
    "flatten_1": (lambda m, x: m.flatten(x, 1), [(2, 3, 4)]),
    "flatten_0_1": (lambda m, x: x.flatten(0, 1), [(2, 3, 4)]),
    "flatten_0d": (lambda m, x: x.flatten(), [()]),
    "cat0": (lambda m, a, b: m.cat([a, b]), [(2, 3), (4, 3)]),
    "cat1": (lambda m, a, b: m.cat((a, b), dim=1), [(2, 3), (2, 1)]),
    "cat_neg": (lambda m, a, b, c: m.cat([a, b, c], -1), [(2, 3), (2, 1), (2, 2)]),
    "stack0": (lambda m, a, b: m.stack([a, b]), [(2, 3), (2, 3)]),
    "stack_neg": (lambda m, a, b: m.stack([a, b], dim=-1), [(2, 3), (2, 3)]),
    "stack1": (lambda m, a, b, c: m.stack([a, b, c], 1), [(2, 3), (2, 3), (2, 3)]),
    "split": (lambda m, x: x.split(2), [(5, 3)]),
    "split_dim": (lambda m, x: m.split(x, 2, dim=1), [(3, 5)]),
    "split_sizes": (lambda m, x: x.split([1, 3, 1], 1), [(3, 5)]),
    "chunk": (lambda m, x: x.chunk(3), [(7, 2)]),
    "chunk_dim": (lambda m, x: m.chunk(x, 2, dim=-1), [(3, 5)]),
    "unbind": (lambda m, x: x.unbind(1), [(2, 3)]),
    "narrow": (lambda m, x: x.narrow(1, 1, 2), [(2, 4)]),
    "flip": (lambda m, x: x.flip(0, 1), [(2, 3)]),
    "flip_tuple": (lambda m, x: m.flip(x, (1,)), [(2, 3)]),
    "contiguous": (lambda m, x: x.t().contiguous(), [(2, 3)]),
    "clone": (lambda m, x: x.clone() * 2, [(2, 3)]),
    "view_chain": (lambda m, x: x.view(6, 4).transpose(0, 1).reshape(2, 12).unsqueeze(0),
                   [(2, 3, 4)]),
}


@pytest.mark.parametrize("name", list(SHAPE_OPS))
def test_shape_ops(name):
    fn, specs = SHAPE_OPS[name]
    check_against_torch(fn, specs)


# -- indexing ----------------------------------------------------------------------------------
IDX = np.array([0, 2, 0, 1, 2, 2])
IDX2 = np.array([[1, 0], [1, 1]])
MASK = np.random.default_rng(7).random((3, 4)) > 0.4
ROW_MASK = np.array([True, False, True])

INDEX_OPS = {
    "int": (lambda m, x: x[1], []),
    "neg_int": (lambda m, x: x[-1], []),
    "neg_int_2d": (lambda m, x: x[-2, -1], []),
    "slice": (lambda m, x: x[:, 1:3], []),
    "step": (lambda m, x: x[::2, ::-1] if m is dg else x[::2].flip(1), []),
    "neg_slice": (lambda m, x: x[-2:, :-1], []),
    "ellipsis": (lambda m, x: x[..., -1], []),
    "none": (lambda m, x: x[None, 1, :, None], []),
    "fancy_repeats": (lambda m, x, i: x[i], [IDX]),
    "fancy_dim1": (lambda m, x, i: x[:, i], [np.array([3, 0, 3, 3])]),
    "fancy_2d_index": (lambda m, x, i: x[i], [IDX2]),
    "fancy_pair": (lambda m, x, i, j: x[i, j], [IDX, np.array([0, 1, 0, 3, 3, 3])]),
    "fancy_neg": (lambda m, x, i: x[i], [np.array([-1, -3, -1])]),
    "fancy_list": (lambda m, x: x[[0, 0, 2]], []),
    "fancy_and_slice": (lambda m, x, i: x[i, 1:], [IDX]),
    "bool_mask": (lambda m, x, k: x[k], [MASK]),
    "bool_rows": (lambda m, x, k: x[k], [ROW_MASK]),
    "bool_and_int": (lambda m, x, k: x[1, k], [np.array([True, False, True, True])]),
    "bool_from_compare": (lambda m, x: x[x > 0], []),
    "masked_fill": (lambda m, x, k: x.masked_fill(k, 0.5), [MASK]),
    "index_select": (lambda m, x, i: x.index_select(1, i), [np.array([3, 1, 3])]),
    "gather": (lambda m, x, i: x.gather(1, i), [np.array([[0, 0, 3], [1, 2, 1], [3, 3, 3]])]),
    "getitem_then_op": (lambda m, x, i: (x[i] * x[i]).sum(0), [IDX]),
}


@pytest.mark.parametrize("name", list(INDEX_OPS))
def test_indexing(name):
    fn, extra = INDEX_OPS[name]
    check_against_torch(fn, [(3, 4)] + extra)


def test_index_on_3d_mixed():
    check_against_torch(lambda m, x, i: x[1:, i, -1], [(3, 4, 5), np.array([2, 2, 0])])
    check_against_torch(lambda m, x, k: x[:, k], [(2, 3, 4), np.array([[True, False, True, True],
                                                                       [False, False, True, False],
                                                                       [True, True, True, True]])])


# -- linear algebra ----------------------------------------------------------------------------
MATMUL_SHAPES = [((3, 4), (4, 2)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)),
                 ((2, 3, 4), (4, 2)), ((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (2, 4, 5)),
                 ((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (2, 4, 5))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes):
    check_against_torch(lambda m, a, b: m.matmul(a, b), list(shapes))
    check_against_torch(lambda m, a, b: a @ b, list(shapes))


def test_matrix_products():
    check_against_torch(lambda m, a, b: m.mm(a, b), [(3, 4), (4, 2)])
    check_against_torch(lambda m, a, b: m.bmm(a, b), [(2, 3, 4), (2, 4, 5)])
    check_against_torch(lambda m, a, b: m.mv(a, b), [(3, 4), (4,)])
    check_against_torch(lambda m, a, b: m.dot(a, b), [(4,), (4,)])
    check_against_torch(lambda m, a, b: m.outer(a, b), [(3,), (4,)])
    check_against_torch(lambda m, a, b: (a @ b).tanh() @ b.t(), [(3, 4), (4, 4)])


# -- a few composites (chains of views, broadcasting and reductions) ---------------------------
def test_mlp_like_composite():
    def fn(m, x, w1, b1, w2):
        h = (x @ w1 + b1).relu()
        logits = h @ w2
        z = logits - logits.amax(dim=1, keepdim=True)
        return (z - z.exp().sum(1, keepdim=True).log()).mean()
    check_against_torch(fn, [(5, 4), (4, 6), (6,), (6, 3)])


def test_normalisation_composite():
    def fn(m, x, g):
        mu = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        return (x - mu) / (var + 1e-5).sqrt() * g
    check_against_torch(fn, [(3, 5), (5,)])


def test_same_tensor_used_twice_and_views():
    check_against_torch(lambda m, x: x * x + x[0] * x.sum(0), [(3, 4)])
    check_against_torch(lambda m, x: m.cat([x, x.t()], 0).sum(1), [(3, 3)])


def test_mixed_float_dtypes_gradient_dtype():
    def fn(m, a, b):
        return a.float() * b
    check_against_torch(fn, [(3,), (3,)], rtol=1e-6)
    check_against_torch(lambda m, a, b: a.float() + b.float() * 2, [(3,), (3,)], rtol=1e-6)


# -- dtype promotion ---------------------------------------------------------------------------
DTYPES = ["bool", "int32", "int64", "float16", "float32", "float64"]


def _operand(m, spec):
    kind, value = spec
    if kind == "py":
        return value
    dtype = getattr(m, value)
    shape = (3,) if kind == "t" else ()
    return m.ones(shape, dtype=dtype)


_OPERANDS = ([("t", d) for d in DTYPES] + [("z", d) for d in DTYPES] +
             [("py", 2), ("py", 2.5), ("py", True)])
_BINOPS = {
    "+": lambda a, b: a + b, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
    "maximum": None, "where": None, "<": lambda a, b: a < b, "==": lambda a, b: a == b,
}


def _promotion_cases(op):
    cases = []
    for a in _OPERANDS:
        for b in _OPERANDS:
            if a[0] == "py" and b[0] == "py":
                continue
            if op == "maximum" and (a[0] == "py" or b[0] == "py"):
                continue
            cases.append((a, b))
    return cases


@pytest.mark.parametrize("op", list(_BINOPS))
def test_dtype_promotion_table(op):
    """Result dtype (and value) of ``a op b`` for every pair of operands: tensors with dims,
    0-d tensors and Python numbers of bool/int/float types."""
    mismatches = []
    for a, b in _promotion_cases(op):
        results = []
        for m in (torch, dg):
            x, y = _operand(m, a), _operand(m, b)
            if op == "maximum":
                out = m.maximum(x, y)
            elif op == "where":
                out = m.where(m.tensor([True, False, True]), x, y)
            else:  # a Python number on the left goes through the reflected operator
                out = _BINOPS[op](x, y)
            results.append(out)
        t, d = results
        if (_dtype_str(d), tuple(d.shape)) != (_dtype_str(t), tuple(t.shape)) or not np.allclose(
                _np(d).astype(np.float64), _np(t).astype(np.float64)):
            mismatches.append(f"{a} {op} {b}: distgrad {_dtype_str(d)}{tuple(d.shape)}, "
                              f"torch {_dtype_str(t)}{tuple(t.shape)}")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("a,b", [(("t", "int64"), ("py", 2)), (("t", "int32"), ("py", 3)),
                                 (("t", "float32"), ("py", 2)), (("t", "int64"), ("py", 2.5)),
                                 (("t", "float16"), ("py", 2)), (("t", "int64"), ("t", "float32")),
                                 (("t", "float32"), ("z", "float64")),
                                 (("t", "int32"), ("t", "int64"))],
                         ids=str)
@pytest.mark.parametrize("op", ["-", "//", "%", "**"])
def test_dtype_promotion_more_ops(op, a, b):
    fns = {"-": lambda x, y: x - y, "//": lambda x, y: x // y, "%": lambda x, y: x % y,
           "**": lambda x, y: x ** y}
    outs = [fns[op](_operand(m, a), _operand(m, b)) for m in (torch, dg)]
    assert _dtype_str(outs[1]) == _dtype_str(outs[0])
    np.testing.assert_allclose(_np(outs[1]).astype(float), _np(outs[0]).astype(float))
    reflected = [fns[op](_operand(m, b), _operand(m, a)) for m in (torch, dg)]
    assert _dtype_str(reflected[1]) == _dtype_str(reflected[0])
    np.testing.assert_allclose(_np(reflected[1]).astype(float), _np(reflected[0]).astype(float))


@pytest.mark.parametrize("dtypes", [("int64", "float32"), ("float32", "float64"),
                                    ("int32", "int64"), ("bool", "int32"), ("float16", "int64")])
def test_cat_promotion(dtypes):
    outs = [m.cat([m.ones(2, dtype=getattr(m, dtypes[0])), m.ones(3, dtype=getattr(m, dtypes[1]))])
            for m in (torch, dg)]
    assert _dtype_str(outs[1]) == _dtype_str(outs[0])


def test_dtype_promotion_of_reductions_and_unary():
    for fn in (lambda m: m.ones(3, dtype=m.int32).sum(), lambda m: m.ones(3, dtype=m.bool).sum(),
               lambda m: m.ones(3, dtype=m.int64).sum(0), lambda m: m.tensor([1, 2]) / 2,
               lambda m: m.tensor([1, 2]) * 1.5, lambda m: m.tensor([1., 2.]) * 1.5,
               lambda m: m.tensor([1, 2]).clamp(min=1.5), lambda m: m.tensor([1, 2]).float().mean(),
               lambda m: m.ones(2, dtype=m.float16) * m.tensor(1.0),
               lambda m: m.arange(4).reshape(2, 2) @ m.arange(4).reshape(2, 2),
               lambda m: m.div(m.tensor([7, -7]), 2, rounding_mode="floor"),
               lambda m: m.div(m.tensor([7, -7]), 2, rounding_mode="trunc"),
               lambda m: m.div(m.tensor([7., -7.]), 2, rounding_mode="trunc"),
               lambda m: m.where(m.tensor([True, False]), 1.0, 0.0),
               lambda m: m.where(m.tensor([True, False]), 1, 0)):
        t, d = fn(torch), fn(dg)
        assert _dtype_str(d) == _dtype_str(t)
        np.testing.assert_allclose(_np(d).astype(float), _np(t).astype(float))


# -- comparisons -------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!=", "eq", "ne", "lt", "le", "gt",
                                "ge"])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (4,)), ((3, 4), ())], ids=str)
def test_comparisons(op, shapes):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 3, shapes[0]).astype(np.float64)
    b = rng.integers(0, 3, shapes[1]).astype(np.float64)
    ops = {"<": lambda x, y: x < y, "<=": lambda x, y: x <= y, ">": lambda x, y: x > y,
           ">=": lambda x, y: x >= y, "==": lambda x, y: x == y, "!=": lambda x, y: x != y}
    outs = []
    for m in (torch, dg):
        x, y = m.tensor(a), m.tensor(b)
        out = ops[op](x, y) if op in ops else getattr(x, op)(y)
        outs.append(out)
        assert not out.requires_grad
    assert _dtype_str(outs[1]) == "bool" == _dtype_str(outs[0])
    np.testing.assert_array_equal(_np(outs[1]), _np(outs[0]))
    # with a number, reflected, and on tensors that require grad
    for m_out in ([ops.get(op, lambda x, y: getattr(x, op)(y))(m.tensor(a, requires_grad=True), 1.0)
                   for m in (torch, dg)],):
        np.testing.assert_array_equal(_np(m_out[1]), _np(m_out[0]))
        assert not m_out[1].requires_grad


def test_logical_ops():
    a = np.array([True, False, True, False])
    b = np.array([True, True, False, False])
    for fn in (lambda m, x, y: x & y, lambda m, x, y: x | y, lambda m, x, y: x ^ y,
               lambda m, x, y: ~x, lambda m, x, y: m.logical_and(x, y),
               lambda m, x, y: m.logical_or(x, y), lambda m, x, y: m.logical_not(x),
               lambda m, x, y: m.logical_xor(x, y)):
        t, d = fn(torch, torch.tensor(a), torch.tensor(b)), fn(dg, dg.tensor(a), dg.tensor(b))
        assert _dtype_str(d) == _dtype_str(t)
        np.testing.assert_array_equal(_np(d), _np(t))


@pytest.mark.parametrize("op", ["all", "any"])
def test_all_any(op):
    a = np.array([[True, False, True], [True, True, True]])
    for fn in (lambda m, x: getattr(x, op)(), lambda m, x: getattr(x, op)(1),
               lambda m, x: getattr(m, op)(x, dim=0, keepdim=True),
               lambda m, x: getattr((x.float() - 1), op)(1)):
        t, d = fn(torch, torch.tensor(a)), fn(dg, dg.tensor(a))
        assert _dtype_str(d) == _dtype_str(t) and tuple(d.shape) == tuple(t.shape)
        np.testing.assert_array_equal(_np(d), _np(t))


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float16"])
@pytest.mark.parametrize("op", ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "abs",
                                "relu", "neg"])
def test_unary_on_integer_and_bool_dtypes(op, dtype):
    """Float-only functions compute integers and bools in the default float dtype."""
    values = np.array([0, 1, 2, 3]) if dtype != "bool" else np.array([True, False, True, True])
    outs = []
    for m in (torch, dg):
        x = m.tensor(values).to(getattr(m, dtype))
        try:
            outs.append(getattr(x, op)())
        except RuntimeError as exc:  # e.g. -bool
            outs.append(type(exc))
    t, d = outs
    if isinstance(t, type):
        assert d is t
        return
    assert _dtype_str(d) == _dtype_str(t)
    np.testing.assert_allclose(_np(d).astype(float), _np(t).astype(float), rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda m, a, b: a * b.double(), lambda m, a, b: a.double() + b, lambda m, a, b: b.double() - a,
    lambda m, a, b: a / b.double(), lambda m, a, b: a.abs() ** b.double(),
    lambda m, a, b: m.maximum(a, b.double()), lambda m, a, b: m.where(a > 0, a, b.double()),
    lambda m, a, b: m.cat([a, b.double()]), lambda m, a, b: m.clamp(a, min=b.double()),
    lambda m, a, b: a % (b.double().abs() + 1)])
def test_mixed_dtype_gradients_keep_input_dtype(make):
    """A float32 tensor used with a float64 one receives a float32 gradient (also non-leaves)."""
    rng = np.random.default_rng(0)
    a0, b0 = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    res = []
    for m in (torch, dg):
        a = m.tensor(a0, requires_grad=True)
        b = m.tensor(b0, requires_grad=True)
        mid = a * 1
        mid.retain_grad()
        out = make(m, mid, b)
        weight = m.tensor(np.arange(out.numel()).reshape(out.shape), dtype=m.float64)
        (out * weight).sum().backward()
        res.append((out, mid.grad, a.grad, b.grad))
    for t, d in zip(*res):
        assert _dtype_str(d) == _dtype_str(t)
        np.testing.assert_allclose(_np(d), _np(t), rtol=1e-5, atol=1e-6)


def test_integer_division_and_power_errors():
    for m in (torch, dg):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            m.tensor([1, 2]) // 0
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            m.tensor([1, 2]) // m.tensor([1, 0])
        with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
            m.tensor([1, 2]) ** -1


def test_division_by_zero_and_degenerate_variance():
    """x / 0 gives inf (and inf gradients) instead of raising; var over one element is nan and
    warns."""
    with np.errstate(all="ignore"):
        check_against_torch(lambda m, x: x / 0, [np.array([1.0, -2.0, 0.5])])
        check_against_torch(lambda m, x: x / 0.0 * 0 + x, [np.array([1.0, -2.0])])
    outs = []
    for m in (torch, dg):
        with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
            outs.append(m.ones(3, 1, dtype=m.float64, requires_grad=True).var(1))
    np.testing.assert_array_equal(_np(outs[1]), _np(outs[0]))
    for m in (torch, dg):
        with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
            assert np.isnan(m.tensor([2.0], requires_grad=True).std().item())


def test_std_gradient_of_constant_input_is_zero():
    check_against_torch(lambda m, x: x.std(0, keepdim=True), [np.array([[1.0, 2.0], [1.0, 2.0]])])
    check_against_torch(lambda m, x: x.std(), [np.array([3.0, 3.0, 3.0])])
    check_against_torch(lambda m, x: x.std(1, unbiased=False), [np.array([[1.0, 1.0], [1.0, 2.0]])])


def _inplace_through_whole_views(lib, x0, w0):
    x = lib.tensor(x0, requires_grad=True)
    w = lib.tensor(w0, requires_grad=True)
    y = x * 2
    y.view(3, 2).mul_(w)             # a reshape view
    y.t().add_(1.5)                  # a transpose view
    y.reshape(-1)[1:3].mul_(3)       # an index view of a reshape view
    y.permute(1, 0).unsqueeze(0).sub_(w.unsqueeze(0))  # a view of a view
    (y * y).sum().backward()
    return [t.detach().numpy() for t in (y, x.grad, w.grad)]


def test_inplace_on_reshape_and_transpose_views_matches_torch():
    rng = np.random.default_rng(3)
    x0, w0 = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    for mine, ref in zip(_inplace_through_whole_views(dg, x0, w0),
                         _inplace_through_whole_views(torch, x0, w0)):
        np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-12)
