"""Autograd engine behaviour: the seed notebooks, PyTorch's semantics and error messages."""
import gc
import threading
import weakref

import numpy as np
import pytest

import distgrad as dg
from distgrad import autograd


def test_mean_of_x_plus_2_gives_quarter():
    x = dg.ones(2, 2, requires_grad=True)
    y = x + 2
    z = y.mean()
    z.backward()
    assert np.allclose(x.grad.numpy(), 0.25)
    assert x.is_leaf and not y.is_leaf
    assert y.grad_fn.name() == "AddBackward0"


def test_broadcast_shapes_multiply():
    a = dg.ones(3, 1, 2)
    b = dg.ones(1, 8, 1)
    assert (a * b).shape == (3, 8, 2)


def test_vector_jacobian_product():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    v = dg.tensor([0.1, 1.0, 0.0001])
    y.backward(v)
    assert np.allclose(x.grad.numpy(), [0.2, 2.0, 0.0002])


def test_gradients_accumulate_and_zero():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        (x * x).sum().backward()
    assert np.allclose(x.grad.numpy(), [6.0, 12.0])
    x.grad.zero_()
    (x * 3).sum().backward()
    assert np.allclose(x.grad.numpy(), [3.0, 3.0])


def test_three_ways_to_stop_tracking():
    x = dg.randn(3, requires_grad=True)
    x.requires_grad_(False)
    assert not (x * 2).requires_grad
    x.requires_grad_(True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    assert d.data_ptr() == x.data_ptr()
    with dg.no_grad():
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_thermometer_gradient(thermometer):
    t_c, t_u = thermometer
    params = dg.tensor([1.0, 0.0], requires_grad=True)

    def model(t_u, w, b):
        return w * t_u + b

    t_p = model(t_u, *params)
    loss = ((t_p - t_c) ** 2).mean()
    loss.backward()
    assert np.allclose(params.grad.numpy(), [4517.2969, 82.6], rtol=1e-5)


def test_thermometer_training_loop(thermometer):
    """The book's loop: 5000 epochs of manual gradient descent on t_u * 0.1."""
    t_c, t_u = thermometer
    t_un = 0.1 * t_u
    params = dg.tensor([1.0, 0.0], requires_grad=True)
    for _ in range(5000):
        if params.grad is not None:
            params.grad.zero_()
        t_p = params[0] * t_un + params[1]
        loss = ((t_p - t_c) ** 2).mean()
        loss.backward()
        with dg.no_grad():
            params -= 1e-2 * params.grad
    assert np.allclose(params.detach().numpy(), [5.3671, -17.3012], atol=2e-3)
    assert abs(loss.item() - 2.9276) < 1e-3


def test_backward_twice_needs_retain_graph():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert np.allclose(x.grad.numpy(), [4.0, 8.0])
    z = (x * x).sum()
    z.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        z.backward()


def test_graph_without_saved_tensors_backprops_twice():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    assert np.allclose(x.grad.numpy(), [2.0, 2.0])


def test_implicit_grad_only_for_scalars():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    (x * 2).sum().reshape(1, 1).backward()  # one element is enough


def test_backward_errors():
    x = dg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        x.sum().backward()
    y = dg.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        y.backward(dg.ones(3))


def test_inplace_on_saved_tensor_detected():
    a = dg.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1
    c = b.sin()
    b.mul_(2)
    with pytest.raises(RuntimeError, match="has been modified by an inplace operation") as info:
        c.sum().backward()
    assert "is at version 1; expected version 0 instead" in str(info.value)
    assert "output 0 of Mul" in str(info.value)


def test_inplace_on_saved_output_detected():
    a = dg.tensor([1.0, 2.0], requires_grad=True)
    b = a.exp()
    b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*output 0 of Exp"):
        b.sum().backward()


def test_inplace_through_detached_alias_detected():
    a = dg.tensor([1.0, 2.0], requires_grad=True)
    s = a.sigmoid()
    s.detach().zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.sum().backward()


def test_inplace_through_view_detected():
    a = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = a * 1
    c = b.sin()
    b[1:].detach().mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


def test_inplace_not_needed_by_backward_is_fine():
    a = dg.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    b.add_(1)
    (b * 3).sum().backward()
    assert np.allclose(a.grad.numpy(), [6.0, 6.0])


def test_leaf_inplace_errors():
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation."):
        w.add_(1)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        w[0] = 5.0
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        w[:1].mul_(2)
    with dg.no_grad():
        w.add_(1)
        w[0] = 5.0
    assert w.is_leaf and w.requires_grad
    assert w.tolist() == [5.0, 3.0]
    w.data.add_(1)  # .data bypasses autograd, as in PyTorch
    assert w.tolist() == [6.0, 4.0]


def test_inplace_ops_record_history():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y.mul_(x)
    y += 1
    y.sum().backward()
    assert np.allclose(x.grad.numpy(), 2 * x.detach().numpy())


def test_inplace_on_view_of_nonleaf_propagates_to_base():
    x = dg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = x * 1
    y[1:3].mul_(10)
    (y * dg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert np.allclose(x.grad.numpy(), [1.0, 20.0, 30.0, 4.0])


def test_rome_style_edit_gives_delta_gradient():
    out = dg.randn(2, 3, 4) * 1  # a non-leaf activation
    delta = dg.zeros(4, requires_grad=True)
    out[1, 2, :] += delta
    (out * 2).sum().backward()
    assert np.allclose(delta.grad.numpy(), 2.0)


def test_setitem_gradients():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = dg.tensor(5.0, requires_grad=True)
    y = x * 1
    y[0] = v * 2
    (y * dg.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert np.allclose(x.grad.numpy(), [0.0, 2.0, 3.0])
    assert np.allclose(v.grad.item(), 2.0)


def test_version_counter_shared_with_views():
    x = dg.zeros(3, 4)
    v = x[:, 0]
    assert x._version == 0
    v.uniform_(-1, 1)
    assert x._version == 1 and v._version == 1
    assert np.all(x.numpy()[:, 0] != 0)
    x.add_(1)
    assert v._version == 2


def test_requires_grad_rules():
    y = dg.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        y.requires_grad = False
    y.requires_grad_(True)  # silent no-op on a non-leaf
    with dg.no_grad():
        m = dg.tensor([1.0]) * 2
    m.requires_grad_()
    assert m.is_leaf and m.requires_grad
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
        dg.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype can require gradients"):
        dg.tensor([1, 2], requires_grad=True)
    assert not dg.tensor([1.0, 2.0], requires_grad=True).argmax().requires_grad


def test_non_leaf_grad_is_none_unless_retained():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = x * 4
    z.retain_grad()
    (y + z).sum().backward()
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        assert y.grad is None
    assert z.retains_grad
    assert np.allclose(z.grad.numpy(), [1.0, 1.0])
    x.retain_grad()  # no-op on a leaf
    assert not x.retains_grad
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        dg.ones(2).retain_grad()


def test_detach_shares_storage():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    d[0] = 100.0
    assert x.tolist() == [100.0, 2.0]
    y = x * 2
    y.detach_()
    assert y.is_leaf and y.grad_fn is None and not y.requires_grad


def test_grad_modes_nest_and_decorate():
    x = dg.ones(2, requires_grad=True)
    with dg.no_grad():
        assert not (x * 2).requires_grad
        with dg.enable_grad():
            assert (x * 2).requires_grad
        with dg.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert dg.ones(2, requires_grad=True).requires_grad  # factories ignore no_grad
    dg.set_grad_enabled(False)
    try:
        assert not dg.is_grad_enabled()
    finally:
        dg.set_grad_enabled(True)

    @dg.no_grad
    def bare(t):
        return t * 2

    @dg.no_grad()
    def called(t):
        return t * 2

    @dg.set_grad_enabled(False)
    def disabled(t):
        return t * 2

    assert dg.is_grad_enabled()

    @dg.no_grad()
    def gen():
        yield dg.is_grad_enabled()

    assert not bare(x).requires_grad and not called(x).requires_grad
    assert not disabled(x).requires_grad and dg.is_grad_enabled()
    assert list(gen()) == [False]

    with pytest.raises(ValueError):
        with dg.no_grad():
            raise ValueError
    assert dg.is_grad_enabled()

    with dg.no_grad():
        @dg.enable_grad()
        def enabled(t):
            return t * 2
        assert enabled(x).requires_grad


def test_grad_mode_is_thread_local():
    seen = []
    with dg.no_grad():
        t = threading.Thread(target=lambda: seen.append(dg.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_inference_mode():
    x = dg.ones(2, requires_grad=True)
    with dg.inference_mode():
        y = x * 2
        with dg.inference_mode(False):
            z = x * 2
    assert not y.requires_grad and y.is_inference()
    assert z.requires_grad and not z.is_inference()
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
        x * y
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside InferenceMode"):
        y.add_(1)
    with dg.no_grad():
        k = x * 2
    assert (k * x).requires_grad


def test_inference_mode_is_per_thread_and_counted():
    """Tensors are inference tensors exactly in threads in inference mode (the global count of
    such threads, which lets tensor creation skip the thread-local read, stays exact)."""
    from distgrad.autograd import grad_mode
    entered, release, seen = threading.Event(), threading.Event(), []

    def worker():
        with dg.inference_mode():
            seen.append(dg.ones(1).is_inference())
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=worker)
    thread.start()
    assert entered.wait(10)
    assert grad_mode.inference_threads == 1
    assert not dg.ones(1).is_inference() and not (dg.ones(1) * 2).is_inference()
    with dg.inference_mode():
        assert grad_mode.inference_threads == 2 and dg.ones(1).is_inference()
        with dg.inference_mode(False):
            assert grad_mode.inference_threads == 1 and not dg.ones(1).is_inference()
    release.set()
    thread.join()
    assert seen == [True] and grad_mode.inference_threads == 0


def test_autograd_grad_and_higher_order():
    x = dg.tensor(2.0, requires_grad=True)
    y = x ** 3
    (g,) = autograd.grad(y, x, create_graph=True)
    assert g.item() == 12.0 and g.requires_grad
    (g2,) = autograd.grad(g, x, create_graph=True)
    assert g2.item() == 12.0
    (g3,) = autograd.grad(g2, x)
    assert g3.item() == 6.0
    assert x.grad is None
    (g1,) = autograd.grad(x ** 3, x)
    assert not g1.requires_grad


def test_autograd_grad_unused():
    x = dg.tensor([1.0], requires_grad=True)
    u = dg.tensor([1.0], requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="The differentiated Tensor at index 1 appears to not have been used in the graph"):
        autograd.grad(y, [x, u], retain_graph=True)
    gx, gu = autograd.grad(y, [x, u], allow_unused=True, retain_graph=True)
    assert gu is None
    gx, gu = autograd.grad(y, [x, u], materialize_grads=True)
    assert gu.tolist() == [0.0]


def test_backward_create_graph_gives_differentiable_grad():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="reference cycle"):
        (x ** 2).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    gg = autograd.grad(x.grad.sum(), x)[0]
    assert gg.tolist() == [2.0, 2.0]


def test_long_chain_has_no_recursion_limit():
    x = dg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1e-9
    y.sum().backward()
    assert x.grad.tolist() == [1.0]


def test_graph_does_not_keep_outputs_alive():
    x = dg.ones(3, requires_grad=True)
    y = x * 2
    z = y.exp()
    ref = weakref.ref(y)
    del y
    gc.collect()
    assert ref() is None
    z.sum().backward()
    assert np.allclose(x.grad.numpy(), 2 * np.exp(2.0))


def test_saved_tensors_freed_after_backward():
    x = dg.ones(3, requires_grad=True)
    y = (x * x).sum()
    node = y.grad_fn.next_functions[0][0]
    y.backward()
    assert node._saved is None


def test_backward_order_is_deterministic_and_leaves_first():
    order = []
    w1 = dg.ones(2, requires_grad=True)
    w2 = dg.ones(2, requires_grad=True)
    for name, w in (("w1", w1), ("w2", w2)):
        w.register_post_accumulate_grad_hook(lambda p, name=name: order.append(name))
    h = (dg.ones(2) * w1).tanh()
    out = (h * w2).sum()
    out.backward()
    assert order == ["w2", "w1"]  # w2's gradient is ready first and is accumulated at once


def test_tensor_hooks_replace_grad_and_retain_grad_runs_last():
    x = dg.tensor([1.0, 1.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    x.register_hook(lambda g: g + 1)
    y.sum().backward()
    assert y.grad.tolist() == [10.0, 10.0]
    assert seen == [[10.0, 10.0]]
    assert x.grad.tolist() == [31.0, 31.0]


def test_tensor_hook_errors():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        dg.ones(2).register_hook(lambda g: g)
    x = dg.ones(2, requires_grad=True)
    x.register_hook(lambda g: dg.ones(3))
    with pytest.raises(RuntimeError, match="hook '<lambda>' has changed the size of value"):
        (x * 2).sum().backward()


def test_hook_handles_remove():
    x = dg.ones(2, requires_grad=True)
    handle = x.register_hook(lambda g: g * 0)
    handle.remove()
    handle.remove()
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_post_accumulate_grad_hooks():
    x = dg.tensor([1.0, 1.0], requires_grad=True)
    seen = []
    x.register_post_accumulate_grad_hook(lambda p: seen.append((p.grad.tolist(), dg.is_grad_enabled())))
    (x * 2).sum().backward()
    (x * dg.tensor([2.0, 4.0])).sum().backward()
    assert seen == [([2.0, 2.0], False), ([4.0, 6.0], False)]
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf tensors"):
        (x * 2).register_post_accumulate_grad_hook(lambda p: None)


def test_node_hooks_order():
    a = dg.tensor([1.0, 1.0], requires_grad=True)
    b = a * 2
    calls = []
    b.register_hook(lambda g: calls.append("tensor"))
    b.grad_fn.register_prehook(lambda go: calls.append("pre"))
    b.grad_fn.register_hook(lambda gi, go: calls.append(("post", gi[0].tolist(), gi[1], go[0].tolist())))
    b.sum().backward()
    assert calls == ["tensor", "pre", ("post", [2.0, 2.0], None, [1.0, 1.0])]
    assert b.grad_fn.next_functions[1] is None
    assert b.grad_fn.next_functions[0][0].variable is a


def test_hook_bound_to_old_grad_fn_after_inplace():
    t = dg.tensor(1.0, requires_grad=True).sin()
    order = []
    t.register_hook(lambda g: order.append(("A", round(g.item(), 4))))
    t.cos_()
    t.register_hook(lambda g: order.append(("B", round(g.item(), 4))))
    t.backward()
    assert order == [("B", 1.0), ("A", -0.7456)]


def test_queue_callback_runs_after_backward():
    x = dg.ones(2, requires_grad=True)
    events = []

    def hook(p):
        events.append("grad")
        autograd.queue_callback(lambda: events.append("end"))

    x.register_post_accumulate_grad_hook(hook)
    (x * 2).sum().backward()
    assert events == ["grad", "end"]
    with pytest.raises(RuntimeError, match="only be called during the backward pass"):
        autograd.queue_callback(lambda: None)


def test_custom_function():
    class Cube(autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x ** 3 * k

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2 * ctx.k, None

    x = dg.tensor([1.0, 2.0], dtype=dg.float64, requires_grad=True)
    y = Cube.apply(x, 2.0)
    assert y.grad_fn.name() == "CubeBackward"
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 24.0]
    assert autograd.gradcheck(lambda t: Cube.apply(t, 2.0), (x,))


def test_custom_function_multiple_outputs_and_needs_input_grad():
    class SplitTwo(autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.flags = ctx.needs_input_grad
            return a * 2, a + b

        @staticmethod
        def backward(ctx, ga, gs):
            return ga * 2 + gs, gs

    a = dg.ones(2, requires_grad=True)
    b = dg.ones(2)
    p, s = SplitTwo.apply(a, b)
    (p.sum() + 3 * s.sum()).backward()
    assert a.grad.tolist() == [5.0, 5.0]
    p, s = SplitTwo.apply(a, b)
    assert p.grad_fn.flags == (True, False)
    s.sum().backward()  # the unused output's gradient is materialised as zeros
    assert a.grad.tolist() == [6.0, 6.0]


def test_gradcheck_detects_wrong_backward():
    class Wrong(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = dg.randn(3, dtype=dg.float64, requires_grad=True)
    with pytest.raises(autograd.GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        autograd.gradcheck(Wrong.apply, (x,))
    assert autograd.gradcheck(Wrong.apply, (x,), raise_exception=False) is False
    with pytest.warns(UserWarning, match="not a double precision"):
        autograd.gradcheck(dg.tanh, (dg.randn(2, requires_grad=True),), raise_exception=False)
    assert autograd.gradcheck(dg.tanh, (x,))
    assert autograd.gradgradcheck(dg.tanh, (x,))


def test_detect_anomaly_names_the_op():
    x = dg.tensor([0.0, 1.0], requires_grad=True)
    with autograd.detect_anomaly():
        y = x.sqrt()  # d sqrt / dx at 0 is inf; inf * 0 = nan below
        z = (y * 0).sum()
        with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan values") as info:
            z.backward()
    assert "test_detect_anomaly_names_the_op" in str(info.value)
    assert not autograd.is_anomaly_enabled()


def test_saved_tensors_hooks_pack_and_unpack():
    calls = []

    def pack(t):
        calls.append("pack")
        return t.detach().numpy().copy()

    def unpack(arr):
        calls.append("unpack")
        return dg.from_numpy(arr)

    a = dg.tensor([1.0, 2.0], requires_grad=True)
    with autograd.graph.saved_tensors_hooks(pack, unpack):
        y = a * a
    y.sum().backward()
    assert calls == ["pack", "pack", "unpack", "unpack"]
    assert a.grad.tolist() == [2.0, 4.0]


def test_backward_inputs_limits_accumulation():
    a = dg.ones(2, requires_grad=True)
    b = dg.ones(2, requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    assert a.grad.tolist() == [1.0, 1.0] and b.grad is None


def test_accumulated_grads_never_alias():
    a = dg.randn(3, requires_grad=True)
    b = dg.randn(3, requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    kept = []
    c = dg.randn(3, requires_grad=True)
    c.register_hook(lambda g: kept.append(g))
    (c * 2).sum().backward()
    assert not np.shares_memory(kept[0].numpy(), c.grad.numpy())
    c.grad.add_(1)
    assert kept[0].tolist() == [2.0, 2.0, 2.0]


def test_repr_of_non_finite_values():
    assert repr(dg.tensor([float("nan"), 1.0, float("-inf")])) == "tensor([nan, 1., -inf])"


def test_inplace_broadcast_to_larger_shape_raises():
    x = dg.ones(3)
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"):
        x += dg.ones(2, 3)


def test_custom_function_gradients_come_back_in_the_input_dtype():
    class Upcast(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return (g * 2).double()

    x = dg.ones(2, requires_grad=True)
    y = Upcast.apply(x * 1)
    y.retain_grad()
    (y * 1).sum().backward()
    assert x.grad.dtype == dg.float32


def test_gradcheck_on_a_non_contiguous_input():
    x = dg.from_numpy(np.random.default_rng(0).random((3, 2)).T).requires_grad_()
    assert autograd.gradcheck(dg.sin, (x,))


def test_a_fresh_gradient_becomes_grad_without_a_copy():
    pointers = []

    class Fresh(dg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            out = dg.ones(g.shape) * 3
            pointers.append(out.numpy().ctypes.data)  # the address only, no reference
            return out

    x = dg.zeros(1000, requires_grad=True)
    Fresh.apply(x).sum().backward()
    assert x.grad.numpy().ctypes.data == pointers[0]
    assert x.grad.sum().item() == 3000


def test_inplace_on_a_reshape_view_rewrites_the_base():
    x = dg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = x * 1
    v = y.view(2, 2)
    v.mul_(dg.tensor([[1.0, 10.0], [100.0, 1000.0]]))
    assert y.tolist() == [1.0, 20.0, 300.0, 4000.0]
    assert v.grad_fn is not None and y.grad_fn is not None
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 10.0, 100.0, 1000.0]
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        x.view(2, 2).mul_(2)
    with pytest.raises(RuntimeError, match="expanded view"):
        (x * 1)[:1].expand(3).mul_(2)
