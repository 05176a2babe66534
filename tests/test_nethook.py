"""distgrad.nethook: Trace, TraceDict, InstrumentedModel and the name utilities (nethook.md).

The test network is nethook.md's: Sequential(Linear(4,3), ReLU, Sequential(Linear, ReLU),
Linear(3,2)), built from layers made of plain tensor ops.
"""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn
from distgrad import nethook
from distgrad.nethook import (InstrumentedModel, StopForward, Trace, TraceDict,
                              invoke_with_optional_args, recursive_copy, subsequence)


def arr(t):
    return np.asarray(t.detach()._data)


class Lin(nn.Module):
    def __init__(self, n_in, n_out, seed):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.weight = nn.Parameter(dg.tensor(rng.normal(size=(n_in, n_out))))
        self.bias = nn.Parameter(dg.tensor(rng.normal(size=n_out)))

    def forward(self, x):
        return x @ self.weight + self.bias


class Relu(nn.Module):
    def forward(self, x):
        return dg.relu(x)


def make_net():
    return nn.Sequential(Lin(4, 3, 0), Relu(), nn.Sequential(Lin(3, 3, 1), Relu()), Lin(3, 2, 2))


def manual(net, x, edit=None):
    """Run the test net by hand; ``edit(name, value)`` may change any layer output."""
    edit = edit or (lambda name, v: v)
    h = edit("0", x @ net[0].weight + net[0].bias)
    h = edit("1", dg.relu(h))
    h = edit("2.0", h @ net[2][0].weight + net[2][0].bias)
    h = edit("2.1", dg.relu(h))
    return edit("3", h @ net[3].weight + net[3].bias)


@pytest.fixture
def net():
    return make_net()


@pytest.fixture
def x():
    return dg.tensor(np.random.default_rng(5).normal(size=(5, 4)))


# -- names -------------------------------------------------------------------------------------
def test_module_and_parameter_names(net):
    assert nethook.module_names(net) == ["", "0", "1", "2", "2.0", "2.1", "3"]
    assert nethook.parameter_names(net) == ["0.weight", "0.bias", "2.0.weight", "2.0.bias",
                                            "3.weight", "3.bias"]
    assert nethook.get_module(net, "2.0") is net[2][0]
    assert nethook.get_module(net, "") is net
    assert nethook.get_parameter(net, "3.bias") is net[3].bias
    with pytest.raises(LookupError):
        nethook.get_module(net, "7")
    with pytest.raises(LookupError):
        nethook.get_parameter(net, "3.nope")


def test_replace_module_nested_and_top_level(net, x):
    new = Relu()
    nethook.replace_module(net, "2.0", new)
    assert net[2][0] is new
    top = Lin(4, 3, 9)
    nethook.replace_module(net, "0", top)  # no dot: upstream raised UnboundLocalError
    assert net[0] is top and nethook.get_module(net, "0") is top
    assert "0.weight" in nethook.parameter_names(net)


def test_set_requires_grad(net):
    nethook.set_requires_grad(False, net)
    assert not any(p.requires_grad for p in net.parameters())
    t = dg.ones(2)
    nethook.set_requires_grad(True, net[0], t)
    assert net[0].weight.requires_grad and t.requires_grad and not net[3].weight.requires_grad
    with pytest.raises(AssertionError, match="unknown type"):
        nethook.set_requires_grad(True, 3)


# -- Trace -----------------------------------------------------------------------------------------
def test_trace_output_equals_manual_forward_and_hook_removed(net, x):
    with Trace(net, "2.0") as tr:
        y = net(x)
    expected = {}
    y_manual = manual(net, x, lambda n, v: expected.setdefault(n, v))
    assert tr.output.shape == (5, 3) and tr.output.requires_grad
    np.testing.assert_array_equal(arr(tr.output), arr(expected["2.0"]))
    np.testing.assert_array_equal(arr(y), arr(y_manual))
    assert len(net[2][0]._forward_hooks) == 0


def test_trace_module_directly_and_retain_input(net, x):
    with Trace(net[3], retain_input=True) as tr:
        net(x)
    expected = {}
    manual(net, x, lambda n, v: expected.setdefault(n, v))
    np.testing.assert_array_equal(arr(tr.input), arr(expected["2.1"]))
    np.testing.assert_array_equal(arr(tr.output), arr(expected["3"]))
    assert tr.input_kwargs == {}


def test_trace_retain_input_with_kwargs():
    class Kw(nn.Module):
        def forward(self, hidden_states=None, scale=1.0):
            return hidden_states * scale

    outer = nn.Sequential()
    outer.inner = Kw()
    h = dg.ones(2, 3)
    with Trace(outer, "inner", retain_input=True) as tr:
        outer.inner(hidden_states=h)  # keyword-only call, as HF models do
    assert tr.input is h and tr.input_kwargs == {"hidden_states": h}
    with Trace(outer, "inner", retain_input=True, clone=True) as tr:
        outer.inner(hidden_states=h, scale=2.0)
    assert set(tr.input) == {"hidden_states", "scale"} and tr.input["scale"] == 2.0
    assert tr.input["hidden_states"] is not h
    assert np.array_equal(arr(tr.input["hidden_states"]), arr(h))
    with Trace(outer, "inner", retain_input=True) as tr:
        outer.inner(h, scale=3.0)
    assert tr.input is h and tr.input_kwargs == {"scale": 3.0}


def test_trace_clone_and_detach(net, x):
    with Trace(net, "0", clone=True, detach=True) as tr:
        net(x)
    assert not tr.output.requires_grad and tr.output.grad_fn is None
    with Trace(net, "0", detach=True) as tr2:
        net(x)
    assert not tr2.output.requires_grad


def test_trace_retain_grad(net, x):
    net2 = copy.deepcopy(net)
    with Trace(net, "2.0", retain_grad=True) as tr:
        y = net(x)
    y.sum().backward()
    grads = {}

    def keep(name, v):
        if name == "2.0":
            v.retain_grad()
            grads["v"] = v
        return v

    manual(net2, x, keep).sum().backward()
    assert tr.output.grad is not None
    np.testing.assert_allclose(arr(tr.output.grad), arr(grads["v"].grad))
    np.testing.assert_allclose(arr(net[0].weight.grad), arr(net2[0].weight.grad))


def test_trace_retain_grad_on_output_that_does_not_require_grad(net, x):
    nethook.set_requires_grad(False, net)
    with Trace(net, "2.0", retain_grad=True) as tr:
        y = net(x)
    assert tr.output.requires_grad  # made a leaf that requires grad, as baukit does
    y.sum().backward()
    assert tr.output.grad is not None and tr.output.grad.shape == (5, 3)


@pytest.mark.parametrize("edit", [
    lambda output: output * 2,
    lambda output, layer: output * 2 if layer == "2.0" else None,
    lambda cur_out, cur_layer: cur_out * 2,  # rome's style: positional, other names
    lambda output, layer, inputs: output * 2 if len(inputs) == 1 else None,
    lambda layer, output: output * 2,  # matched by name regardless of order
])
def test_trace_edit_output_changes_final_output(net, x, edit):
    with Trace(net, "2.0", edit_output=edit) as tr:
        y = net(x)
    expected = {}
    y_manual = manual(net, x, lambda n, v: expected.setdefault(n, v * 2 if n == "2.0" else v))
    np.testing.assert_allclose(arr(y), arr(y_manual))
    # baukit's order: edit first, then retain -> the edited output is retained
    np.testing.assert_allclose(arr(tr.output), arr(expected["2.0"]))


def test_trace_stop_runs_nothing_after_layer(net, x):
    ran = []
    net[3].register_forward_hook(lambda *a: ran.append("3"))
    net[2][1].register_forward_pre_hook(lambda *a: ran.append("2.1"))
    with Trace(net, "2.0", stop=True) as tr:
        net(x)
        pytest.fail("StopForward should have left the block")
    assert ran == []
    assert tr.output.shape == (5, 3)
    assert len(net[2][0]._forward_hooks) == 0
    tr = Trace(net, "0", stop=True)  # without a with block StopForward reaches the caller
    with pytest.raises(StopForward):
        net(x)
    tr.close()
    assert ran == []


def test_trace_stop_exits_cleanly_without_exception(net):
    with Trace(net, "0", stop=True) as tr:  # upstream raised TypeError here
        pass
    assert len(net[0]._forward_hooks) == 0
    with TraceDict(net, ["0", "3"], stop=True):
        pass
    with pytest.raises(KeyError):  # other exceptions are not swallowed
        with Trace(net, "0", stop=True):
            raise KeyError("x")
    del tr


def test_trace_rome_style_in_place_edit_trains_delta(net, x):
    nethook.set_requires_grad(False, net)
    delta = dg.zeros(3, requires_grad=True)

    def edit_output_fn(cur_out, cur_layer):
        if cur_layer == "2.0":
            cur_out[0, :] += delta
        return cur_out

    with TraceDict(net, ["2.0"], edit_output=edit_output_fn):
        y = net(x)
    y.sum().backward()
    assert delta.grad is not None and delta.grad.shape == (3,)
    assert all(p.grad is None for p in net.parameters())
    # the gradient equals the gradient of the output of 2.0 at row 0
    net2 = make_net()
    grads = {}

    def keep(name, v):
        if name == "2.0":
            v.requires_grad_(True)
            v.retain_grad()
            grads["v"] = v
        return v

    nethook.set_requires_grad(False, net2)
    manual(net2, x, keep).sum().backward()
    np.testing.assert_allclose(arr(delta.grad), arr(grads["v"].grad)[0])


# -- TraceDict -----------------------------------------------------------------------------------
def test_tracedict_stop_applies_to_last_listed_layer(net, x):
    with TraceDict(net, ["3", "0"], stop=True) as td:
        net(x)
    assert hasattr(td["0"], "output")
    assert not hasattr(td["3"], "output")
    assert all(len(m._forward_hooks) == 0 for m in net.modules())


def test_tracedict_dedup_and_per_layer_options(net, x):
    with TraceDict(net, ["0", "2.1", "0", "3"], retain_input={"3": True}) as td:
        net(x)
    assert list(td.keys()) == ["0", "2.1", "3"]
    assert hasattr(td["3"], "input") and not hasattr(td["0"], "input")
    assert not hasattr(td["2.1"], "input")
    assert all(hasattr(t, "output") for t in td.values())


def test_tracedict_per_layer_edit_and_detach(net, x):
    edits = {"0": lambda output: output + 1, "3": lambda output: output * 0}
    with TraceDict(net, ["0", "2.0", "3"], edit_output=edits,
                   detach={"2.0": True}, retain_output={"0": True, "2.0": True}) as td:
        y = net(x)
    assert not np.any(arr(y))
    assert not hasattr(td["3"], "output")  # retain_output missing from the dict -> off
    assert not td["2.0"].output.requires_grad and td["0"].output.requires_grad
    expected = {}
    manual(net, x, lambda n, v: expected.setdefault(n, v + 1 if n == "0" else v))
    np.testing.assert_allclose(arr(td["0"].output), arr(expected["0"]))
    np.testing.assert_allclose(arr(td["2.0"].output), arr(expected["2.0"]))


def test_tracedict_shared_edit_gets_layer_name(net, x):
    seen = []

    def edit(output, layer):
        seen.append(layer)
        return output

    with TraceDict(net, ["3", "0", "2.0"], edit_output=edit):
        net(x)
    assert seen == ["0", "2.0", "3"]  # execution order


# -- recursive_copy and invoke_with_optional_args ---------------------------------------------
def test_recursive_copy_nested_flags_and_passthrough():
    a = dg.ones(2, requires_grad=True) * 1
    b = dg.ones(3, requires_grad=True) * 1
    data = {"x": [a, (b, None)], "n": 3}
    assert recursive_copy(data) is data
    out = recursive_copy(data, detach=True)
    assert not out["x"][0].requires_grad and not out["x"][1][0].requires_grad
    assert out["x"][1][1] is None and out["n"] == 3
    assert isinstance(out["x"][1], tuple)
    out = recursive_copy(data, clone=True)
    assert out["x"][1][0] is not b and out["x"][1][0].requires_grad
    assert out["x"][1][0].data_ptr() != b.data_ptr()
    recursive_copy([[a]], retain_grad=True)
    assert a.retains_grad
    od = recursive_copy(OrderedDict(k=a), detach=True)
    assert isinstance(od, OrderedDict)
    with pytest.raises(AssertionError, match="cannot be broken into tensors"):
        recursive_copy(object(), clone=True)


def test_invoke_with_optional_args():
    def f(output, layer):
        return (output, layer)

    assert invoke_with_optional_args(f, output=1, layer=2, inputs=3) == (1, 2)
    assert invoke_with_optional_args(lambda a: a, output=1, layer=2) == 1
    assert invoke_with_optional_args(lambda a, b, c=5: (a, b, c), 1, 2, 3) == (1, 2, 3)
    assert invoke_with_optional_args(lambda a, b, c=5: (a, b, c), 1, 2) == (1, 2, 5)
    assert invoke_with_optional_args(lambda *args: args, 1, 2) == (1, 2)
    assert invoke_with_optional_args(lambda x, **kw: (x, kw), 1, name="n", ablation=0.5) == \
        (1, {"name": "n", "ablation": 0.5})
    with pytest.raises(TypeError, match="cannot be passed c"):
        invoke_with_optional_args(lambda a, b, c: None, 1, 2)

    class Editor:
        def edit(self, output, layer):
            return output, layer

    assert invoke_with_optional_args(Editor().edit, output=1, layer="x") == (1, "x")


# -- subsequence ---------------------------------------------------------------------------------
def test_subsequence(net, x):
    s = subsequence(net, first_layer="1", last_layer="2")
    assert list(s._modules) == ["1", "2"] and s[1][0] is not net[2][0]
    s = subsequence(net, after_layer="0", upto_layer="3", share_weights=True)
    assert list(s._modules) == ["1", "2"] and s[1][0] is net[2][0]
    s = subsequence(net, single_layer="2.0", share_weights=True)
    assert list(s._modules) == ["2"] and list(s[0]._modules) == ["0"]
    s = subsequence(net, upto_layer="2.1", share_weights=True)
    assert list(s._modules) == ["0", "1", "2"] and list(s[2]._modules) == ["0"]
    net.eval()
    assert subsequence(net, last_layer="1").training is False
    with pytest.raises(ValueError, match="Layer 9 not found"):
        subsequence(net, first_layer="9")
    with pytest.raises(AssertionError, match="not Sequential"):
        subsequence(net, first_layer="0.weight")
    # the pieces compose to the whole network
    head = subsequence(net, last_layer="2.0", share_weights=True)
    tail = subsequence(net, after_layer="2.0", share_weights=True)
    np.testing.assert_allclose(arr(tail(head(x))), arr(net(x)))


# -- InstrumentedModel -----------------------------------------------------------------------------
def test_instrumented_retain_and_edit(net, x):
    expected = {}
    y_plain = manual(net, x, lambda n, v: expected.setdefault(n, v))
    with InstrumentedModel(net) as inst:
        assert inst.layer_names() == ["", "0", "1", "2", "2.0", "2.1", "3"]
        inst.retain_layer("2.0")
        inst.retain_layers(["0", ("3", "logits")], detach=False)
        y = inst(x)
        np.testing.assert_allclose(arr(y), arr(y_plain))
        np.testing.assert_allclose(arr(inst.retained_layer()), arr(expected["2.0"]))
        assert not inst.retained_layer("2.0").requires_grad  # detached by default
        assert inst.retained_layer("logits").requires_grad
        assert list(inst.retained_features()) == ["2.0", "0", "logits"]
        # ablation/replacement: x * (1 - a) + r * a, per channel
        a = np.array([1.0, 0.0, 0.5])
        r = np.array([2.0, 3.0, 4.0])
        inst.edit_layer("2.0", ablation=a, replacement=r)
        y_edit = inst(x)
        edited = {}
        y_expected = manual(net, x, lambda n, v: edited.setdefault(
            n, v * dg.tensor(1 - a) + dg.tensor(r * a) if n == "2.0" else v))
        np.testing.assert_allclose(arr(y_edit), arr(y_expected))
        # dissect's order: the retained value is the pre-edit output
        np.testing.assert_allclose(arr(inst.retained_layer("2.0")), arr(expected["2.0"]))
        inst.remove_edits("2.0")
        np.testing.assert_allclose(arr(inst(x)), arr(y_plain))
        value = inst.retained_layer("0", clear=True)
        assert value is not None and inst.retained_layer("0") is None
    assert "forward" not in net[2][0].__dict__ and "forward" not in net.__dict__


def test_instrumented_custom_rule_and_hooks_see_edit(net, x):
    seen = []
    net[3].register_forward_hook(lambda m, i, o: seen.append(arr(o).copy()))
    inst = InstrumentedModel(net)
    inst.edit_layer("3", rule=lambda x, imodel, name, k: x * k, k=10.0)
    y = inst(x)
    np.testing.assert_allclose(seen[-1], arr(y))  # the layer's forward hook sees the edit
    np.testing.assert_allclose(arr(y), 10 * arr(manual(net, x)))
    inst.close()
    np.testing.assert_allclose(arr(net(x)), arr(manual(net, x)))


def test_instrumented_close_with_alias(net, x):
    inst = InstrumentedModel(net)
    inst.retain_layer(("3", "logits"))
    inst.edit_layer(("0", "first"), ablation=1.0)
    inst(x)
    assert inst.retained_layer("logits").shape == (5, 2)
    inst.close()  # upstream: AssertionError with aliases
    assert "forward" not in net[3].__dict__ and "forward" not in net[0].__dict__
    assert not inst._old_forward and not inst._hooked_layer
    np.testing.assert_allclose(arr(net(x)), arr(manual(net, x)))


def test_instrumented_errors(net):
    inst = InstrumentedModel(net)
    with pytest.raises(ValueError, match="Layer 9 not found in model"):
        inst.retain_layer("9")
    inst.retain_layer("0")
    with pytest.raises(ValueError, match="already hooked"):
        inst.retain_layer(("0", "again"))
    inst.close()


def test_instrumented_sequential_extension(net, x):
    inst = InstrumentedModel(net)
    expected = {}
    manual(net, x, lambda n, v: expected.setdefault(n, v))
    np.testing.assert_allclose(arr(inst(x, layer=0)), arr(expected["0"]))
    h = inst(x, first_layer="0", last_layer="2")
    np.testing.assert_allclose(arr(h), arr(expected["2.1"]))
    np.testing.assert_allclose(arr(inst(h, first_layer="3")), arr(expected["3"]))
    inst.close()
    assert "forward" not in net.__dict__


def test_instrumented_model_on_non_sequential(x):
    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = make_net()

        def forward(self, x):
            return self.body(x)

    w = Wrapper()
    with InstrumentedModel(w) as inst:
        inst.retain_layer("body.2.0")
        inst(x)
        assert inst.retained_layer().shape == (5, 3)
