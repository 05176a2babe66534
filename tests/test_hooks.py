"""Module, tensor and graph-node hooks (autograd-semantics.md §1 and checklist §3).

Where PyTorch is installed, the full backward hooks are compared with PyTorch's on the same
module and data.
"""
import warnings

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn
from distgrad.nn.modules import module as module_mod
from distgrad.utils.hooks import RemovableHandle


def arr(t):
    return np.asarray(t.detach()._data)


class MatMul(nn.Module):
    """``x @ w`` with a fixed float32 weight of shape (3, 2)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(dg.tensor(np.arange(6.0).reshape(3, 2), dtype=dg.float32))

    def forward(self, x):
        return x @ self.w


class TwoInTwoOut(nn.Module):
    """Two positional inputs, two outputs: ``(a @ w + b, a * b)``."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(dg.tensor(w))

    def forward(self, a, b):
        return a @ self.w + b, a * b


@pytest.fixture(autouse=True)
def _no_global_hooks_left():
    yield
    for d in (module_mod._global_forward_pre_hooks, module_mod._global_forward_hooks,
              module_mod._global_backward_hooks, module_mod._global_backward_pre_hooks):
        assert not d, "a test left a global hook registered"


# -- forward hooks ---------------------------------------------------------------------------------
def test_forward_hook_order_global_local_prepend():
    m = MatMul()
    order = []
    with module_mod.register_module_forward_pre_hook(
            lambda mod, a: order.append(f"global pre {type(mod).__name__}")), \
            module_mod.register_module_forward_hook(
                lambda mod, a, o: order.append(f"global fwd {type(mod).__name__}")):
        m.register_forward_pre_hook(lambda mod, a: order.append("local pre"))
        m.register_forward_pre_hook(lambda mod, a: order.append("local pre prepend"), prepend=True)
        m.register_forward_hook(lambda mod, a, o: order.append("local fwd"))
        m(dg.ones(4, 3))
    assert order == ["global pre MatMul", "local pre prepend", "local pre", "global fwd MatMul",
                     "local fwd"]


def test_forward_hook_prepend_runs_first():
    m = MatMul()
    order = []
    m.register_forward_hook(lambda mod, a, o: order.append(1))
    m.register_forward_hook(lambda mod, a, o: order.append(0), prepend=True)
    m(dg.ones(1, 3))
    assert order == [0, 1]


def test_forward_pre_hook_non_tuple_return_replaces_all_args():
    seen = []

    class Two(nn.Module):
        def forward(self, a, b=None):
            seen.append(b)
            return a

    m = Two()
    m.register_forward_pre_hook(lambda mod, args: args[0] + 1)
    out = m(dg.tensor([1.0]), dg.tensor([5.0]))
    assert arr(out).tolist() == [2.0]
    assert seen == [None]  # the second positional argument was dropped, as in PyTorch


def test_forward_pre_hook_with_kwargs():
    class K(nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    m = K()
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"scale": 3.0}), with_kwargs=True)
    assert arr(m(dg.tensor([2.0]))).tolist() == [6.0]

    bad = K()
    bad.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"forward pre-hook must return None or a tuple of "
                                           r"\(new_args, new_kwargs\), but got"):
        bad(dg.tensor([2.0]))


def test_forward_hook_return_replaces_output_and_later_hooks_see_it():
    m = MatMul()
    seen = []
    m.register_forward_hook(lambda mod, a, o: o * 0 + 7)
    m.register_forward_hook(lambda mod, a, o: seen.append(arr(o).copy()))
    out = m(dg.ones(2, 3))
    assert np.all(arr(out) == 7) and np.all(seen[0] == 7)


def test_forward_hook_with_kwargs_sees_kwargs():
    class K(nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    m = K()
    got = {}
    m.register_forward_hook(lambda mod, args, kwargs, out: got.update(kwargs), with_kwargs=True)
    m(dg.tensor([1.0]), scale=2.0)
    assert got == {"scale": 2.0}


def test_always_call_runs_on_exception_with_output_none():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m = Boom()
    calls = []
    m.register_forward_hook(lambda mod, a, o: calls.append(("always", o)), always_call=True)
    m.register_forward_hook(lambda mod, a, o: calls.append(("normal", o)))
    with pytest.raises(ValueError, match="boom"):
        m(dg.ones(1))
    assert calls == [("always", None)]


def test_always_call_not_run_twice_when_a_later_hook_raises():
    m = MatMul()
    calls = []
    m.register_forward_hook(lambda mod, a, o: calls.append("always"), always_call=True)

    def raising(mod, a, o):
        raise KeyError("later")

    m.register_forward_hook(raising)
    with pytest.raises(KeyError):
        m(dg.ones(1, 3))
    assert calls == ["always"]


def test_global_always_call_hook():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    calls = []
    with module_mod.register_module_forward_hook(lambda mod, a, o: calls.append(o),
                                                 always_call=True):
        with pytest.raises(ValueError):
            Boom()(dg.ones(1))
    assert calls == [None]


def test_calling_forward_directly_bypasses_hooks():
    m = MatMul()
    calls = []
    m.register_forward_pre_hook(lambda *a: calls.append("pre"))
    m.register_forward_hook(lambda *a: calls.append("fwd"))
    m.forward(dg.ones(1, 3))
    assert calls == []
    m(dg.ones(1, 3))
    assert calls == ["pre", "fwd"]


def test_hooks_fire_once_per_call():
    m = MatMul()
    calls = []
    m.register_forward_hook(lambda *a: calls.append("fwd"))
    m(dg.ones(3, 3))
    m(dg.ones(3, 3))
    assert calls == ["fwd", "fwd"]


def test_hook_returning_handle_replaces_output_gotcha():
    # A lambda that returns the RemovableHandle replaces the output with it (PyTorch's gotcha).
    m = MatMul()
    m.register_forward_hook(lambda mod, a, o: o.register_hook(lambda g: g))
    out = m(dg.ones(1, 3, requires_grad=True))
    assert isinstance(out, RemovableHandle)


# -- RemovableHandle -----------------------------------------------------------------------------
def test_removable_handle_ids_remove_and_context_manager():
    m = MatMul()
    calls = []
    h1 = m.register_forward_hook(lambda *a: calls.append(1))
    h2 = m.register_forward_hook(lambda *a: calls.append(2), with_kwargs=False)
    h3 = m.register_forward_pre_hook(lambda *a: calls.append(3))
    assert h1.id < h2.id < h3.id
    assert list(m._forward_hooks) == [h1.id, h2.id]
    h1.remove()
    h1.remove()  # idempotent
    m(dg.ones(1, 3))
    assert calls == [3, 2]
    with m.register_forward_hook(lambda *a: calls.append(4)) as h4:
        assert isinstance(h4, RemovableHandle) and h4.id in m._forward_hooks
    assert h4.id not in m._forward_hooks


def test_handle_removes_flag_dicts():
    m = MatMul()
    h = m.register_forward_hook(lambda *a: None, with_kwargs=True, always_call=True)
    p = m.register_forward_pre_hook(lambda *a: None, with_kwargs=True)
    assert h.id in m._forward_hooks_with_kwargs and h.id in m._forward_hooks_always_called
    h.remove()
    p.remove()
    assert not m._forward_hooks_with_kwargs and not m._forward_hooks_always_called
    assert not m._forward_pre_hooks_with_kwargs


def test_fast_path_when_no_hooks():
    m = MatMul()
    called = []
    m._call_impl = lambda args, kwargs: called.append(1)  # instance attribute: never used
    m(dg.ones(1, 3))
    assert called == []
    h = m.register_forward_hook(lambda *a: None)
    m(dg.ones(1, 3))
    assert called == [1]
    h.remove()


# -- full backward hooks -------------------------------------------------------------------------
W = np.array([[1.0, 2.0], [3.0, 4.0]])
A = np.array([[1.0, 2.0], [3.0, 4.0]])
B = np.array([[0.5, 1.0], [2.0, 1.0]])


def _two_in_two_out(lib, m, twice=False, pre_scale=None, replace_input=None):
    """Run ``m`` (distgrad's ``TwoInTwoOut`` or its PyTorch twin; ``lib`` is the matching
    library) with full backward (pre-)hooks that log the gradients they see; returns the log and
    the gradients of both inputs and the weight."""
    def copy(g):
        return None if g is None else np.array(g.detach().numpy())

    log = []

    def pre(mod, gout):
        log.append(("pre", [copy(g) for g in gout]))
        if pre_scale is not None:
            return tuple(None if g is None else g * pre_scale for g in gout)
        return None

    def hook(mod, gin, gout):
        log.append(("bw", [copy(g) for g in gin], [copy(g) for g in gout]))
        if replace_input is not None:
            return tuple(None if g is None else g * replace_input for g in gin)
        return None

    m.register_full_backward_pre_hook(pre)
    m.register_full_backward_hook(hook)
    a = lib.tensor(A, requires_grad=True)
    b = lib.tensor(B, requires_grad=True)
    o1, o2 = m(a, b)
    loss = (o1 * o1).sum() + (o2 * 3).sum()
    if twice:
        p1, p2 = m(o1, o2)
        loss = loss + (p1 * 2).sum() + (p2 * p2).sum()
    loss.backward()
    return log, copy(a.grad), copy(b.grad), copy(m.w.grad)


def _dg_two_in_two_out(**kwargs):
    return _two_in_two_out(dg, TwoInTwoOut(W), **kwargs)


def _torch_two_in_two_out(torch, **kwargs):
    class T(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor(W))

        def forward(self, a, b):
            return a @ self.w + b, a * b

    return _two_in_two_out(torch, T(), **kwargs)


def _assert_logs_equal(log_dg, log_torch):
    assert [e[0] for e in log_dg] == [e[0] for e in log_torch]
    for e_dg, e_t in zip(log_dg, log_torch):
        for group_dg, group_t in zip(e_dg[1:], e_t[1:]):
            assert len(group_dg) == len(group_t)
            for g_dg, g_t in zip(group_dg, group_t):
                assert (g_dg is None) == (g_t is None)
                if g_dg is not None:
                    np.testing.assert_allclose(g_dg, g_t, rtol=1e-12)


@pytest.mark.parametrize("kwargs", [{}, {"twice": True}, {"pre_scale": 2.0},
                                    {"replace_input": 0.0}, {"twice": True, "replace_input": 0.5}])
@pytest.mark.torch
def test_full_backward_hooks_match_torch(kwargs):
    torch = pytest.importorskip("torch")
    log_dg, *grads_dg = _dg_two_in_two_out(**kwargs)
    log_t, *grads_t = _torch_two_in_two_out(torch, **kwargs)
    _assert_logs_equal(log_dg, log_t)
    for g_dg, g_t in zip(grads_dg, grads_t):
        np.testing.assert_allclose(g_dg, g_t, rtol=1e-12)


def test_full_backward_hooks_module_called_twice_fire_twice():
    log, *_ = _dg_two_in_two_out(twice=True)
    # the second call's hooks fire first (its outputs are nearer the loss)
    assert [e[0] for e in log] == ["pre", "bw", "pre", "bw"]
    m = MatMul()
    calls = []
    m.register_forward_hook(lambda *a: calls.append("fwd"))
    m.register_full_backward_hook(lambda *a: calls.append("bwd"))
    x = dg.ones(2, 3, requires_grad=True)
    (m(x) + m(x * 2)).sum().backward()
    assert calls == ["fwd", "fwd", "bwd", "bwd"]


def test_full_backward_hook_grad_input_is_wrt_inputs_and_replacement_zeroes_grad():
    m = MatMul()
    shapes = []

    def hook(mod, gin, gout):
        shapes.append([tuple(g.shape) for g in gin])
        return (gin[0] * 0,)

    m.register_full_backward_hook(hook)
    x = dg.ones(4, 3, requires_grad=True)
    m(x).sum().backward()
    assert shapes == [[(4, 3)]]
    assert np.all(arr(x.grad) == 0)
    assert arr(m.w.grad).tolist() == [[4.0, 4.0]] * 3  # parameters are unaffected


def test_full_backward_pre_hook_doubles_grad_output():
    m = MatMul()
    x = dg.ones(4, 3, requires_grad=True)
    m(x).sum().backward()
    base = arr(m.w.grad).copy()
    m.zero_grad()
    m.register_full_backward_pre_hook(lambda mod, gout: (gout[0] * 2,))
    m(x).sum().backward()
    np.testing.assert_allclose(arr(m.w.grad), 2 * base)


def test_full_backward_pre_hook_runs_before_hook():
    m = MatMul()
    order = []
    m.register_full_backward_hook(lambda *a: order.append("bw"))
    m.register_full_backward_pre_hook(lambda *a: order.append("bw-pre"))
    m(dg.ones(1, 3, requires_grad=True)).sum().backward()
    assert order == ["bw-pre", "bw"]


def test_wrong_length_errors():
    m = MatMul()
    m.register_full_backward_hook(lambda mod, gin, gout: (gin[0], gin[0]))
    with pytest.raises(RuntimeError, match="Backward hook returned an invalid number of "
                                           "grad_input, got 2, but expected 1"):
        m(dg.ones(1, 3, requires_grad=True)).sum().backward()
    m2 = MatMul()
    m2.register_full_backward_pre_hook(lambda mod, gout: (gout[0], gout[0]))
    with pytest.raises(RuntimeError, match="Backward pre hook returned an invalid number of "
                                           "grad_output, got 2, but expected 1"):
        m2(dg.ones(1, 3, requires_grad=True)).sum().backward()


def test_no_input_requires_grad_warns_and_fires_with_output_grads():
    m = MatMul()
    got = []
    m.register_full_backward_hook(lambda mod, gin, gout: got.append((gin, gout)))
    with pytest.warns(UserWarning, match="Full backward hook is firing when gradients are "
                                         "computed with respect to module outputs since no "
                                         "inputs require gradients"):
        m(dg.ones(2, 3)).sum().backward()
    assert len(got) == 1
    gin, gout = got[0]
    assert gin == (None,)
    assert arr(gout[0]).tolist() == [[1.0, 1.0]] * 2
    assert m.w.grad is not None


def test_no_input_requires_grad_hook_must_return_none():
    m = MatMul()
    m.register_full_backward_hook(lambda mod, gin, gout: (dg.ones(2, 3),))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="Backward hook for Modules where no input requires "
                                               "gradient should always return None or None for all "
                                               "gradients."):
            m(dg.ones(2, 3)).sum().backward()


def test_no_output_requires_grad_does_not_fire():
    class Detaching(nn.Module):
        def forward(self, x):
            return (x * 2).detach()

    m = Detaching()
    calls = []
    m.register_full_backward_hook(lambda *a: calls.append("bw"))
    m.register_full_backward_pre_hook(lambda *a: calls.append("pre"))
    x = dg.ones(2, requires_grad=True)
    out = m(x)
    assert not out.requires_grad
    (out + x).sum().backward()
    assert calls == []
    assert arr(x.grad).tolist() == [1.0, 1.0]


def test_global_backward_hooks_before_local():
    m = MatMul()
    order = []
    m.register_full_backward_hook(lambda *a: order.append("local"))
    m.register_full_backward_pre_hook(lambda *a: order.append("local pre"))
    with module_mod.register_module_full_backward_hook(lambda *a: order.append("global")), \
            module_mod.register_module_full_backward_pre_hook(
                lambda *a: order.append("global pre")):
        out = m(dg.ones(1, 3, requires_grad=True))
    out.sum().backward()  # hooks are collected at call time
    assert order == ["global pre", "local pre", "global", "local"]


def test_backward_hook_views_cannot_be_modified_in_place():
    m = MatMul()
    m.register_full_backward_hook(lambda *a: None)
    out = m(dg.ones(2, 3, requires_grad=True) * 1)
    with pytest.raises(RuntimeError):
        out.add_(1)


def test_non_tensor_inputs_get_none_grads():
    class Scale(nn.Module):
        def forward(self, x, k):
            return x * k

    m = Scale()
    got = []
    m.register_full_backward_hook(lambda mod, gin, gout: got.append(gin))
    x = dg.ones(2, requires_grad=True)
    m(x, 3.0).sum().backward()
    assert len(got[0]) == 2 and got[0][1] is None
    assert arr(got[0][0]).tolist() == [3.0, 3.0]


def test_full_hook_cannot_mix_with_legacy():
    m = MatMul()
    with pytest.raises(NotImplementedError):
        m.register_backward_hook(lambda *a: None)


# -- tensor hooks --------------------------------------------------------------------------------
def test_tensor_hook_ordering_with_retain_grad():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g + 1)
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    seen = []
    y.register_hook(lambda g: seen.append(arr(g).copy()))
    y.sum().backward()
    assert arr(y.grad).tolist() == [10.0, 10.0]  # retain_grad sees the hooks' result
    assert seen[0].tolist() == [10.0, 10.0]
    assert arr(x.grad).tolist() == [31.0, 31.0]


def test_tensor_hook_errors():
    x = dg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't "
                                           "require gradient"):
        x.register_hook(lambda g: g)
    w = dg.tensor([1.0, 2.0], requires_grad=True)

    def bad(g):
        return dg.ones(3)

    w.register_hook(bad)
    with pytest.raises(RuntimeError, match="hook 'bad' has changed the size of value"):
        (w * 2).sum().backward()


def test_tensor_hook_on_leaf_changes_accumulated_grad_and_handle_removes():
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    h = w.register_hook(lambda g: g * 0)
    (w * 2).sum().backward()
    assert arr(w.grad).tolist() == [0.0, 0.0]
    h.remove()
    (w * 2).sum().backward()
    assert arr(w.grad).tolist() == [2.0, 2.0]


def test_post_accumulate_grad_hook():
    p = dg.tensor([1.0, 2.0], requires_grad=True)
    seen = []

    def hook(t):
        assert t is p
        seen.append((arr(t.grad).tolist(), dg.is_grad_enabled()))

    p.register_post_accumulate_grad_hook(hook)
    (p * 2).sum().backward()
    (p * p).sum().backward()
    assert seen == [([2.0, 2.0], False), ([4.0, 6.0], False)]
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on "
                                           "non-leaf tensors"):
        (p * 2).register_post_accumulate_grad_hook(hook)


def test_post_accumulate_grad_hook_on_module_parameters():
    m = MatMul()
    ready = []
    for name, prm in m.named_parameters():
        prm.register_post_accumulate_grad_hook(lambda t, name=name: ready.append(name))
    m(dg.ones(1, 3)).sum().backward()
    assert ready == ["w"]


# -- graph node hooks ----------------------------------------------------------------------------
def test_node_hooks_and_prehooks():
    a = dg.tensor([1.0, 1.0], requires_grad=True)
    b = a * 2
    order = []
    b.register_hook(lambda g: order.append("tensor"))
    b.grad_fn.register_prehook(lambda gout: order.append("pre"))

    def post(gin, gout):
        order.append("post")
        assert arr(gin[0]).tolist() == [2.0, 2.0]
        assert arr(gout[0]).tolist() == [1.0, 1.0]

    b.grad_fn.register_hook(post)
    b.sum().backward()
    assert order == ["tensor", "pre", "post"]


def test_node_hook_replaces_grad_inputs_and_prehook_grad_outputs():
    a = dg.tensor([1.0, 1.0], requires_grad=True)
    b = a * 2
    b.grad_fn.register_prehook(lambda gout: (gout[0] * 10,))
    b.grad_fn.register_hook(lambda gin, gout: tuple(None if g is None else g + 1 for g in gin))
    b.sum().backward()
    assert arr(a.grad).tolist() == [21.0, 21.0]
