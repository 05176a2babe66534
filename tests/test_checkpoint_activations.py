"""distgrad.utils.checkpoint: gradients equal the plain run's (float64), dropout replayed, parameters
reached when no input requires grad, autograd.grad and double backward through a checkpoint,
closures over outer tensors, several outputs, freed-graph and in-place errors, a function that
changes between runs, checkpoint_sequential; against PyTorch's non-reentrant checkpoint too."""
import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn
from distgrad.utils.checkpoint import CheckpointBackward, checkpoint, checkpoint_sequential


def _model():
    dg.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Dropout(0.3), nn.Linear(7, 3)).double()


def _grads(model, x, use_checkpoint, **kwargs):
    model.zero_grad()
    x = x.detach().requires_grad_(x.requires_grad)
    dg.manual_seed(1)  # the same dropout mask in both runs
    out = checkpoint(model, x, **kwargs) if use_checkpoint else model(x)
    (out ** 2).sum().backward()
    return out.detach().numpy(), [p.grad.numpy().copy() for p in model.parameters()], \
        None if x.grad is None else x.grad.numpy()


@pytest.mark.parametrize("use_reentrant", [None, True, False])
@pytest.mark.parametrize("input_requires_grad", [True, False])
def test_gradients_equal_the_plain_run(use_reentrant, input_requires_grad):
    model = _model()
    x = dg.randn(4, 5, dtype=dg.float64, requires_grad=input_requires_grad)
    plain = _grads(model, x, False)
    ckpt = _grads(model, x, True, use_reentrant=use_reentrant)
    np.testing.assert_array_equal(plain[0], ckpt[0])  # dropout replayed: the same outputs
    for a, b in zip(plain[1], ckpt[1]):
        np.testing.assert_allclose(b, a, rtol=1e-13, atol=1e-15)
    if input_requires_grad:
        np.testing.assert_allclose(ckpt[2], plain[2], rtol=1e-13)
    else:
        assert ckpt[2] is None


def test_the_region_keeps_no_graph():
    model = _model()
    x = dg.randn(4, 5, dtype=dg.float64, requires_grad=True)
    out = checkpoint(model, x)
    node = out.grad_fn
    assert isinstance(node, CheckpointBackward)
    ends = {id(e[0].variable) for e in node.next_functions if hasattr(e[0], "variable")}
    assert ends == {id(p) for p in model.parameters()} | {id(x)}


def test_autograd_grad_and_double_backward_through_a_checkpoint():
    x = dg.tensor([0.5, -1.5, 2.0], dtype=dg.float64, requires_grad=True)
    w = dg.tensor(3.0, dtype=dg.float64, requires_grad=True)
    y = checkpoint(lambda t: w * t ** 3, x).sum()
    gx, gw = dg.autograd.grad(y, (x, w), create_graph=True)
    np.testing.assert_allclose(gx.detach().numpy(), 9 * x.detach().numpy() ** 2)
    np.testing.assert_allclose(gw.item(), (x.detach().numpy() ** 3).sum())
    (ggx,) = dg.autograd.grad(gx.sum(), x)
    np.testing.assert_allclose(ggx.numpy(), 18 * x.detach().numpy())
    assert w.grad is None and x.grad is None


def test_closures_and_several_outputs():
    x = dg.tensor([1.0, 2.0], dtype=dg.float64, requires_grad=True)
    h = x * 2  # closed over: its gradient reaches x through the outer graph

    def f(z):
        return z * h, (z + 1).sum(), z.detach()

    a, b, c = checkpoint(f, x)
    assert not c.requires_grad
    (a.sum() * 3).backward()  # b unused: no gradient arrives through it
    np.testing.assert_allclose(x.grad.numpy(), 3 * (2 * x.detach().numpy() + 2 * x.detach().numpy()))
    x.grad = None
    a, b, c = checkpoint(f, x)
    b.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])


def test_errors_freed_graph_inplace_and_changing_function():
    x = dg.randn(3, dtype=dg.float64, requires_grad=True)
    y = checkpoint(lambda t: (t * t).sum(), x)
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * x.detach().numpy())
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    leaf = dg.randn(3, dtype=dg.float64, requires_grad=True)
    z = leaf * 1
    y = checkpoint(lambda t: (t * t).sum(), z)
    with dg.no_grad():
        z.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    w = dg.tensor(2.0, requires_grad=True)
    calls = []

    def changing(t):
        calls.append(1)
        return t * w if len(calls) == 1 else t * 2

    y = checkpoint(changing, dg.ones(2, requires_grad=True)).sum()
    with pytest.raises(RuntimeError, match="gave a different graph"):
        y.backward()
    with pytest.raises(TypeError, match="must return a Tensor"):
        checkpoint(lambda t: {"a": t}, dg.ones(1, requires_grad=True))


def test_no_grad_runs_plainly():
    with dg.no_grad():
        out = checkpoint(lambda t: t * 2, dg.ones(2, requires_grad=True))
    assert out.grad_fn is None and out.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("segments", [1, 2, 3, 7])
def test_checkpoint_sequential_equals_the_plain_run(segments):
    dg.manual_seed(0)
    model = nn.Sequential(*[m for _ in range(3) for m in (nn.Linear(4, 4), nn.Tanh())]).double()
    x = dg.randn(2, 4, dtype=dg.float64, requires_grad=True)
    model(x).sum().backward()
    plain = [p.grad.numpy().copy() for p in model.parameters()] + [x.grad.numpy().copy()]
    model.zero_grad()
    x.grad = None
    checkpoint_sequential(model, segments, x).sum().backward()
    for a, b in zip(plain, [p.grad.numpy() for p in model.parameters()] + [x.grad.numpy()]):
        np.testing.assert_allclose(b, a, rtol=1e-13)
    with pytest.raises(ValueError, match="at least 1"):
        checkpoint_sequential(model, 0, x)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    from torch.utils.checkpoint import checkpoint as torch_checkpoint
    rng = np.random.default_rng(3)
    w1, w2, xv = rng.standard_normal((6, 4)), rng.standard_normal((2, 6)), rng.standard_normal((5, 4))
    results = []
    for lib, ckpt in ((dg, checkpoint), (torch, torch_checkpoint)):
        a = lib.tensor(w1, requires_grad=True)
        b = lib.tensor(w2, requires_grad=True)
        x = lib.tensor(xv)  # no input requires grad
        out = ckpt(lambda t: (t @ a.T).tanh() @ b.T, x, use_reentrant=False)
        (out ** 2).mean().backward()
        results.append((a.grad.numpy(), b.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
