"""What a tensor or parameter carries through copies and checkpoints: class, requires_grad,
.grad and extra attributes (copy.copy, copy.deepcopy, distgrad.save/load)."""
import copy

import numpy as np
import pytest

import distgrad as dg
from distgrad import nn


def torch_or_skip():
    return pytest.importorskip("torch")


# -- copy.deepcopy / copy.copy ------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda m: m.randn(2, requires_grad=True),
                                  lambda m: m.nn.Parameter(m.randn(2))],
                         ids=["tensor", "parameter"])
def test_deepcopy_copies_data_grad_and_extra_attributes(make):
    t = make(dg)
    t.grad = dg.ones(2)
    t.tag = {"lr_scale": [1.0]}
    c = copy.deepcopy(t)
    assert type(c) is type(t) and c.is_leaf and c.requires_grad
    assert c.data_ptr() != t.data_ptr() and np.array_equal(c.numpy(force=True), t.numpy(force=True))
    assert c.grad is not t.grad and c.grad.tolist() == [1.0, 1.0]
    assert c.tag == t.tag and c.tag is not t.tag and c.tag["lr_scale"] is not t.tag["lr_scale"]


def test_deepcopy_of_a_tensor_with_extra_attributes_matches_pytorch():
    torch = torch_or_skip()
    for lib in (dg, torch):
        t = lib.randn(2, requires_grad=True)
        t.grad = lib.ones(2)
        t.tag = [1]
        c = copy.deepcopy(t)
        assert (c.tag, c.tag is t.tag, c.grad is t.grad, c.requires_grad) == ([1], False, False, True)


def test_deepcopy_keeps_sharing_within_one_call():
    p = nn.Parameter(dg.zeros(2))
    p.grad = dg.ones(2)
    p.me = p
    a, b, g = copy.deepcopy([p, p, p.grad])
    assert a is b and a.me is a and a.grad is g


def test_deepcopy_of_a_parameter_keeps_requires_grad_false_and_subclass_attributes():
    p = nn.Parameter(dg.zeros(2), requires_grad=False)
    assert not copy.deepcopy(p).requires_grad
    b = nn.Buffer(dg.zeros(2), persistent=False)
    c = copy.deepcopy(b)
    assert type(c) is nn.Buffer and c.persistent is False and c.data_ptr() != b.data_ptr()


def test_deepcopy_of_a_non_leaf_raises_pytorchs_error():
    y = dg.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"Only Tensors created explicitly by the user \(graph "
                                           r"leaves\) support the deepcopy protocol.*weight_norm"):
        copy.deepcopy(y)


def test_deepcopy_drops_graph_state_and_gradient_storage():
    lin = nn.Linear(2, 2)
    lin.weight.register_hook(lambda g: g)
    lin.weight._grad_dest = dg.zeros(2, 2)
    c = copy.deepcopy(lin.weight)
    assert c._hooks is None and c._grad_dest is None and c._version == 0


def test_deepcopy_of_an_inference_tensor_outside_inference_mode_is_a_normal_tensor():
    with dg.inference_mode():
        t = dg.ones(2)
    assert not copy.deepcopy(t).is_inference() and not copy.copy(t).is_inference()
    with dg.inference_mode():
        assert copy.deepcopy(t).is_inference()


def test_copy_shares_storage_and_extra_attributes():
    p = nn.Parameter(dg.zeros(2))
    p.grad = dg.ones(2)
    p.tag = [1]
    c = copy.copy(p)
    assert type(c) is nn.Parameter and c.requires_grad and c.grad is None
    assert c.data_ptr() == p.data_ptr() and c.tag is p.tag


def test_deepcopy_of_a_module_copies_parameter_attributes():
    lin = nn.Linear(2, 2)
    lin.weight.sequence_parallel = True
    c = copy.deepcopy(lin)
    assert c.weight is not lin.weight and c.weight.sequence_parallel is True
    assert isinstance(c.weight, nn.Parameter) and c.weight.requires_grad
