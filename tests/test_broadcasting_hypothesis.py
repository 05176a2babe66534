"""Property tests: for random broadcast-compatible shapes (up to 4 dims, sizes 1-3), the gradient
of ``(a op b).sum()`` has each input's shape and equals PyTorch's, for + - * / maximum where."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import distgrad as dg

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

SETTINGS = settings(max_examples=50, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

OPS = {
    "add": lambda m, a, b, c: a + b,
    "sub": lambda m, a, b, c: a - b,
    "mul": lambda m, a, b, c: a * b,
    "div": lambda m, a, b, c: a / b,
    "maximum": lambda m, a, b, c: m.maximum(a, b),
    "where": lambda m, a, b, c: m.where(c, a, b),
}


def _values(rng, shape, op, which):
    if op == "maximum":  # small integers: ties happen, and the gradient is split at ties
        return rng.integers(-2, 3, shape).astype(np.float64)
    if op == "div" and which == 1:  # keep the denominator away from zero
        return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return np.asarray(rng.standard_normal(shape))


def _grads(m, op, a, b, cond, weight):
    ta = m.tensor(a, requires_grad=True)
    tb = m.tensor(b, requires_grad=True)
    tc = m.tensor(cond)
    out = OPS[op](m, ta, tb, tc)
    if weight is not None:
        out = out * m.tensor(weight)
    out.sum().backward()
    return out, ta.grad, tb.grad


def _check(op, shapes, seed, weighted):
    (sa, sb, sc), result_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a = _values(rng, sa, op, 0)
    b = _values(rng, sb, op, 1)
    cond = rng.random(sc) > 0.5
    out_shape = result_shape if op == "where" else np.broadcast_shapes(sa, sb)
    weight = rng.standard_normal(out_shape) if weighted else None
    d_out, d_ga, d_gb = _grads(dg, op, a, b, cond, weight)
    t_out, t_ga, t_gb = _grads(torch, op, a, b, cond, weight)
    assert tuple(d_out.shape) == tuple(t_out.shape)
    if op != "where":
        assert tuple(d_out.shape) == np.broadcast_shapes(sa, sb)
    np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-12)
    for d, t, shape in ((d_ga, t_ga, sa), (d_gb, t_gb, sb)):
        assert tuple(d.shape) == tuple(shape)  # summed over the broadcast dimensions
        assert d.dtype == dg.float64
        np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", list(OPS))
@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=4, min_side=1,
                                            max_side=3),
       seed=st.integers(0, 2 ** 32 - 1), weighted=st.booleans())
def test_broadcast_gradient_matches_torch(op, shapes, seed, weighted):
    _check(op, shapes, seed, weighted)


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1,
                                            max_side=3),
       seed=st.integers(0, 2 ** 32 - 1))
def test_broadcast_double_backward_shapes(shapes, seed):
    """create_graph gradients of a*b are broadcast-reduced too, and their derivative w.r.t. the
    other input has that input's shape."""
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a = dg.tensor(rng.standard_normal(sa), requires_grad=True)
    b = dg.tensor(rng.standard_normal(sb), requires_grad=True)
    ga, gb = dg.autograd.grad((a * b * b).sum(), (a, b), create_graph=True)
    assert ga.shape == a.shape and gb.shape == b.shape
    (gab,) = dg.autograd.grad(ga.sum(), b)
    assert gab.shape == b.shape
    # d/db sum_a(d/da sum(a*b*b)) = d/db (n_a * b^2 broadcast) = 2 * b * (count of a per b element)
    ta = torch.tensor(a.detach().numpy(), requires_grad=True)
    tb = torch.tensor(b.detach().numpy(), requires_grad=True)
    (tga,) = torch.autograd.grad((ta * tb * tb).sum(), ta, create_graph=True)
    (tgab,) = torch.autograd.grad(tga.sum(), tb)
    np.testing.assert_allclose(gab.numpy(), tgab.numpy(), rtol=1e-12)


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1,
                                            max_side=3))
def test_incompatible_shapes_raise_like_torch(shapes):
    """Grow one dimension of one operand so the shapes no longer broadcast; the error message is
    PyTorch's."""
    sa, sb = [list(s) for s in shapes.input_shapes]
    if not sa or not sb:
        return
    sa[-1] = 2 if sb[-1] != 2 else 3
    sb[-1] = 3 if sa[-1] == 2 else 2
    messages = []
    for m in (torch, dg):
        with pytest.raises(RuntimeError) as info:
            m.ones(sa) + m.ones(sb)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
