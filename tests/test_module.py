"""Module mechanics: registration, naming, state_dict, conversion, modes, repr, containers."""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn


def arr(t):
    return np.asarray(t.detach()._data)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.block = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
        self.scale = nn.Parameter(dg.ones(1))
        self.register_buffer("steps", dg.zeros(1))
        self.register_buffer("scratch", dg.zeros(2), persistent=False)

    def forward(self, x):
        return x @ self.fc.weight.t() * self.scale


def small_net():
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3), nn.ReLU()),
                         nn.Linear(3, 2))


# -- Parameter -----------------------------------------------------------------------------------
def test_parameter_basics():
    t = dg.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert isinstance(p, dg.Tensor) and p.is_leaf and p.requires_grad
    assert p.data_ptr() == t.data_ptr()  # shares storage
    assert repr(p).startswith("Parameter containing:\ntensor([1., 2.]")
    assert str(p) == repr(p)
    q = nn.Parameter(t, requires_grad=False)
    assert not q.requires_grad
    assert nn.Parameter().shape == (0,)
    # a parameter built from a computed tensor is a leaf
    h = dg.tensor([1.0], requires_grad=True) * 2
    assert nn.Parameter(h).is_leaf
    # ops on parameters return plain tensors
    assert type(p * 2) is dg.Tensor
    c = copy.deepcopy(p)
    assert isinstance(c, nn.Parameter) and c.data_ptr() != p.data_ptr()
    assert arr(c).tolist() == [1.0, 2.0] and c.requires_grad


def test_parameter_in_place_on_leaf_raises_outside_no_grad():
    p = nn.Parameter(dg.ones(2))
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used"):
        p.add_(1)
    with dg.no_grad():
        p.add_(1)
    assert arr(p).tolist() == [2.0, 2.0]


# -- registration and naming ---------------------------------------------------------------------
def test_setattr_registers_parameters_buffers_modules():
    n = Net()
    assert list(n._parameters) == ["scale"]
    assert list(n._buffers) == ["steps", "scratch"]
    assert list(n._modules) == ["fc", "block"]
    assert n.fc is n._modules["fc"] and n.scale is n._parameters["scale"]
    assert "scale" not in n.__dict__ and "fc" not in n.__dict__


def test_named_modules_parameters_buffers():
    m = small_net()
    assert [n for n, _ in m.named_modules()] == ["", "0", "1", "2", "2.0", "2.1", "3"]
    assert [n for n, _ in m.named_parameters()] == [
        "0.weight", "0.bias", "2.0.weight", "2.0.bias", "3.weight", "3.bias"]
    assert [n for n, _ in m.named_parameters(prefix="model")][0] == "model.0.weight"
    assert [n for n, _ in m.named_children()] == ["0", "1", "2", "3"]
    assert len(list(m.parameters())) == 6
    assert len(list(m.parameters(recurse=False))) == 0
    n = Net()
    assert [k for k, _ in n.named_buffers()] == ["steps", "scratch"]
    assert [k for k, _ in n.named_parameters()] == [
        "scale", "fc.weight", "fc.bias", "block.0.weight", "block.0.bias"]
    assert len(list(n.modules())) == 5


def test_shared_parameters_and_modules_deduplicated():
    lin = nn.Linear(2, 2)
    m = nn.Sequential(lin, lin)
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias"]
    assert [n for n, _ in m.named_parameters(remove_duplicate=False)] == [
        "0.weight", "0.bias", "1.weight", "1.bias"]
    assert [n for n, _ in m.named_modules()] == ["", "0"]
    assert list(m.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_assign_none_and_type_errors():
    n = Net()
    n.scale = None
    assert "scale" in n._parameters and n.scale is None
    assert [k for k, _ in n.named_parameters()][0] == "fc.weight"
    with pytest.raises(TypeError, match="cannot assign .* as parameter 'scale'"):
        n.scale = dg.ones(1)
    n.scale = nn.Parameter(dg.ones(1))
    with pytest.raises(TypeError, match="cannot assign .* as child module 'fc'"):
        n.fc = 3
    n.fc = None
    assert n.fc is None and "fc" in n._modules
    with pytest.raises(TypeError, match="cannot assign .* as buffer 'steps'"):
        n.steps = 3
    n.steps = dg.ones(1)  # a tensor replaces a buffer
    assert arr(n._buffers["steps"]).tolist() == [1.0]


def test_reassigning_moves_between_kinds():
    n = Net()
    n.steps = nn.Parameter(dg.ones(1))  # a Parameter replaces the buffer
    assert "steps" in n._parameters and "steps" not in n._buffers
    n.plain = 5
    n.plain = nn.Linear(1, 1)
    assert "plain" in n._modules and "plain" not in n.__dict__


def test_register_errors():
    m = nn.Module()
    with pytest.raises(KeyError, match="parameter name can"):
        m.register_parameter("a.b", nn.Parameter(dg.ones(1)))
    with pytest.raises(KeyError, match="be empty string"):
        m.register_buffer("", dg.ones(1))
    with pytest.raises(TypeError, match="cannot assign .* object to parameter 'w'"):
        m.register_parameter("w", dg.ones(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    m.x = 1
    with pytest.raises(KeyError, match="attribute 'x' already exists"):
        m.register_buffer("x", dg.ones(1))
    nonleaf = nn.Parameter(dg.ones(1))
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'y'"):
        p = nn.Parameter(dg.ones(1))
        p.grad_fn = (dg.ones(1, requires_grad=True) * 2).grad_fn  # make it a non-leaf
        m.register_parameter("y", p)
    del nonleaf

    class NoInit(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(dg.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        NoInit()


def test_getattr_delattr_dir():
    n = Net()
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nope'"):
        n.nope
    assert "fc" in dir(n) and "scale" in dir(n) and "steps" in dir(n) and "forward" in dir(n)
    del n.fc
    del n.steps
    del n.scale
    assert "fc" not in n._modules and "steps" not in n._buffers and "scale" not in n._parameters
    n.other = 1
    del n.other
    assert not hasattr(n, "other")


def test_register_module_and_get_submodule_parameter_buffer():
    m = small_net()
    m.register_module("extra", nn.Identity())
    assert m.get_submodule("2.0") is m[2][0]
    assert m.get_submodule("") is m
    assert m.get_parameter("2.0.weight") is m[2][0].weight
    with pytest.raises(AttributeError, match="has no attribute `9`"):
        m.get_submodule("9")
    with pytest.raises(AttributeError, match="is not an nn.Parameter"):
        Net().get_parameter("steps")
    assert Net().get_buffer("steps").shape == (1,)
    m.set_submodule("2.1", nn.Tanh())
    assert isinstance(m[2][1], nn.Tanh)


def test_apply_and_requires_grad_():
    m = small_net()
    names = []
    m.apply(lambda mod: names.append(type(mod).__name__))
    assert names == ["Linear", "ReLU", "Linear", "ReLU", "Sequential", "Linear", "Sequential"]
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_train_eval():
    m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.Sequential(nn.BatchNorm1d(2)))
    assert m.training and all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        m.train("yes")


def test_zero_grad():
    m = Net()
    for p in m.parameters():
        p.grad = dg.ones(*p.shape)
    g = m.fc.weight.grad
    m.zero_grad(set_to_none=False)
    assert m.fc.weight.grad is g and not arr(g).any()
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_forward_missing():
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required '
                                                  r'"forward" function'):
        nn.Module()(1)


# -- conversion ----------------------------------------------------------------------------------
def test_double_float_to_keep_parameter_objects():
    m = Net()
    params = list(m.parameters())
    m.fc.weight.grad = dg.ones(2, 3)
    m.register_buffer("count", dg.tensor([3]))
    assert m.double() is m
    assert all(p.dtype == dg.float64 for p in m.parameters())
    assert list(m.parameters()) == params or all(a is b for a, b in zip(m.parameters(), params))
    assert m.fc.weight.grad.dtype == dg.float64
    assert m.steps.dtype == dg.float64
    assert m.count.dtype == dg.int64  # non-floating buffers keep their dtype
    m.to(dtype=dg.float32)
    assert m.fc.weight.dtype == dg.float32
    m.to(dg.float64)
    assert m.fc.weight.dtype == dg.float64
    m.float()
    assert m.fc.weight.dtype == dg.float32
    m.half()
    assert m.fc.weight.dtype == dg.float16
    m.to("cpu")
    m.cpu()
    assert m.fc.weight.device.type == "cpu"
    assert all(a is b for a, b in zip(m.parameters(), params))
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point"):
        m.to(dg.int64)


def test_to_keeps_optimizer_references_working():
    m = nn.Linear(3, 1)
    w = m.weight
    m.double()
    assert m.weight is w and w.dtype == dg.float64
    (m.weight.sum() * 2).backward()
    assert w.grad.dtype == dg.float64


# -- state dict ----------------------------------------------------------------------------------
def test_state_dict_keys_values_and_sharing():
    n = Net()
    sd = n.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["scale", "steps", "fc.weight", "fc.bias", "block.0.weight",
                        "block.0.bias"]  # the non-persistent buffer is left out
    assert not sd["fc.weight"].requires_grad
    assert sd["fc.weight"].data_ptr() == n.fc.weight.data_ptr()
    kv = n.state_dict(keep_vars=True)
    assert kv["fc.weight"] is n.fc.weight
    assert list(n.state_dict(prefix="net.")) [0] == "net.scale"


def test_load_state_dict_roundtrip_in_place():
    a, b = small_net(), small_net()
    w = b[0].weight
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert b[0].weight is w  # copied in place
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and np.array_equal(arr(va), arr(vb))
    assert w.requires_grad and w.is_leaf


def test_load_state_dict_errors_in_pytorch_format():
    m = nn.Linear(3, 3)
    sd = {"weight": dg.zeros(2, 3), "extra": dg.zeros(1)}
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(sd)
    assert str(info.value) == (
        'Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: "bias". '
        '\n\tUnexpected key(s) in state_dict: "extra". \n\tsize mismatch for weight: copying a '
        "param with shape (2, 3) from checkpoint, the shape in current model is (3, 3).")
    # non-strict: shape mismatches still fail, missing/unexpected are returned
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        m.load_state_dict(sd, strict=False)
    res = m.load_state_dict({"weight": dg.zeros(3, 3), "zzz": dg.ones(1)}, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == ["zzz"]
    assert not arr(m.weight).any()
    res = m.load_state_dict({"weight": dg.ones(3, 3), "bias": dg.ones(3)}, strict=True)
    assert arr(m.weight).sum() == 9


@pytest.mark.torch
def test_load_state_dict_matches_torch_message():
    torch = pytest.importorskip("torch")
    tm = torch.nn.Linear(3, 3)
    with pytest.raises(RuntimeError) as t_info:
        tm.load_state_dict({"weight": torch.zeros(2, 3), "extra": torch.zeros(1)})
    m = nn.Linear(3, 3)
    with pytest.raises(RuntimeError) as d_info:
        m.load_state_dict({"weight": dg.zeros(2, 3), "extra": dg.zeros(1)})
    expected = str(t_info.value).replace("torch.Size([2, 3])", "(2, 3)").replace(
        "torch.Size([3, 3])", "(3, 3)")
    assert str(d_info.value) == expected


def test_load_state_dict_nested_unexpected_and_missing():
    m = small_net()
    sd = m.state_dict()
    sd["2.5.weight"] = dg.ones(1)
    sd["9.weight"] = dg.ones(1)
    del sd["3.bias"]
    res = m.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["3.bias"]
    assert sorted(res.unexpected_keys) == ["2.5.weight", "9.weight"]
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(sd)
    msg = str(info.value)
    assert 'Missing key(s) in state_dict: "3.bias".' in msg
    assert '"9.weight"' in msg and '"2.5.weight"' in msg


def test_load_state_dict_assign_and_numpy_values():
    m = nn.Linear(2, 1)
    new_w = dg.ones(1, 2)
    m.load_state_dict({"weight": new_w, "bias": dg.zeros(1)}, assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight.data_ptr() == new_w.data_ptr()
    assert m.weight.requires_grad
    m.load_state_dict({"weight": np.full((1, 2), 5.0, np.float32),
                       "bias": np.zeros(1, np.float32)})
    assert arr(m.weight).tolist() == [[5.0, 5.0]]


def test_state_dict_buffers_and_batchnorm_roundtrip():
    bn = nn.BatchNorm1d(3)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    bn2 = nn.BatchNorm1d(3)
    with dg.no_grad():
        bn.running_mean.fill_(2.0)
    bn.num_batches_tracked._data[...] = 7
    bn2.load_state_dict(bn.state_dict())
    assert arr(bn2.running_mean).tolist() == [2.0] * 3
    assert int(bn2.num_batches_tracked.item()) == 7
    sd = bn.state_dict()
    del sd["num_batches_tracked"]
    sd._metadata = OrderedDict({"": {"version": 1}})  # an old checkpoint
    bn2.load_state_dict(sd)


def test_state_dict_hooks():
    m = nn.Linear(2, 2)
    seen = []
    m.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: seen.append("pre"))
    m.register_state_dict_post_hook(lambda mod, sd, prefix, meta: seen.append("post"))
    m.register_load_state_dict_post_hook(lambda mod, keys: seen.append("load"))
    m.load_state_dict(m.state_dict())
    assert seen == ["pre", "post", "load"]


# -- repr ----------------------------------------------------------------------------------------
def test_repr_nested():
    m = small_net()
    assert repr(m) == """Sequential(
  (0): Linear(in_features=4, out_features=3, bias=True)
  (1): ReLU()
  (2): Sequential(
    (0): Linear(in_features=3, out_features=3, bias=True)
    (1): ReLU()
  )
  (3): Linear(in_features=3, out_features=2, bias=True)
)"""


@pytest.mark.torch
def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    pairs = [
        (nn.Linear(3, 2, bias=False), tnn.Linear(3, 2, bias=False)),
        (nn.Conv2d(3, 8, 3, stride=2, padding=1, groups=1, bias=False),
         tnn.Conv2d(3, 8, 3, stride=2, padding=1, groups=1, bias=False)),
        (nn.Conv2d(4, 4, (3, 5), dilation=2, groups=2, padding_mode="reflect"),
         tnn.Conv2d(4, 4, (3, 5), dilation=2, groups=2, padding_mode="reflect")),
        (nn.MaxPool2d(2), tnn.MaxPool2d(2)), (nn.AvgPool2d(3, 1, 1), tnn.AvgPool2d(3, 1, 1)),
        (nn.Flatten(), tnn.Flatten()), (nn.ReLU(inplace=True), tnn.ReLU(inplace=True)),
        (nn.GELU("tanh"), tnn.GELU("tanh")), (nn.Softmax(dim=1), tnn.Softmax(dim=1)),
        (nn.LogSoftmax(-1), tnn.LogSoftmax(-1)), (nn.Dropout(0.2), tnn.Dropout(0.2)),
        (nn.BatchNorm2d(4, momentum=None), tnn.BatchNorm2d(4, momentum=None)),
        (nn.LayerNorm([4, 5]), tnn.LayerNorm([4, 5])),
        (nn.Embedding(10, 3, padding_idx=0), tnn.Embedding(10, 3, padding_idx=0)),
        (nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()), (nn.Identity(), tnn.Identity()),
        (nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()]),
         tnn.ModuleList([tnn.Linear(2, 2), tnn.Linear(2, 2), tnn.ReLU()])),
        (nn.ModuleDict({"a": nn.Tanh(), "b": nn.Sigmoid()}),
         tnn.ModuleDict({"a": tnn.Tanh(), "b": tnn.Sigmoid()})),
        (nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 3), act=nn.ReLU())),
         tnn.Sequential(OrderedDict(conv=tnn.Conv2d(1, 2, 3), act=tnn.ReLU()))),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


# -- containers ----------------------------------------------------------------------------------
def test_sequential_indexing_slicing_append():
    m = small_net()
    assert isinstance(m[0], nn.Linear) and m[-1] is m[3]
    sub = m[1:3]
    assert isinstance(sub, nn.Sequential) and list(sub._modules) == ["1", "2"]
    assert sub[0] is m[1]
    assert len(m) == 4 and list(m) == [m[0], m[1], m[2], m[3]]
    with pytest.raises(IndexError, match="index 4 is out of range"):
        m[4]
    m.append(nn.Tanh())
    assert list(m._modules) == ["0", "1", "2", "3", "4"]
    del m[1]
    assert list(m._modules) == ["0", "1", "2", "3"] and isinstance(m[1], nn.Sequential)
    m[0] = nn.Identity()
    assert isinstance(m[0], nn.Identity)
    m.insert(1, nn.ReLU())
    assert isinstance(m[1], nn.ReLU) and len(m) == 5
    m.extend([nn.Sigmoid()])
    assert isinstance(m[-1], nn.Sigmoid)
    assert isinstance(m.pop(-1), nn.Sigmoid) and len(m) == 5
    od = nn.Sequential(OrderedDict([("a", nn.ReLU()), ("b", nn.Tanh())]))
    assert list(od._modules) == ["a", "b"] and isinstance(od[1], nn.Tanh)
    assert len(od + nn.Sequential(nn.ReLU())) == 3


def test_sequential_forward_chains_children():
    class AddOne(nn.Module):
        def forward(self, x):
            return x + 1

    class Double(nn.Module):
        def forward(self, x):
            return x * 2

    m = nn.Sequential(AddOne(), Double(), AddOne())
    assert arr(m(dg.tensor([1.0]))).tolist() == [5.0]


def test_module_list():
    ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    ml.append(nn.Sigmoid())
    ml.extend([nn.Identity()])
    ml.insert(0, nn.Linear(1, 1))
    assert [type(x).__name__ for x in ml] == ["Linear", "ReLU", "Tanh", "Sigmoid", "Identity"]
    assert isinstance(ml[-1], nn.Identity) and len(ml) == 5
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    del ml[0]
    assert list(ml._modules) == ["0", "1", "2", "3"] and isinstance(ml[0], nn.ReLU)
    ml[0] = nn.GELU()
    assert isinstance(ml[0], nn.GELU)
    ml += [nn.ReLU()]
    assert len(ml) == 5
    with pytest.raises(IndexError):
        ml[10]
    holder = nn.Module()
    holder.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    assert [n for n, _ in holder.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]


def test_module_dict():
    md = nn.ModuleDict({"a": nn.ReLU(), "b": nn.Tanh()})
    md["c"] = nn.Linear(1, 1)
    md.update([("d", nn.Sigmoid())])
    assert list(md.keys()) == ["a", "b", "c", "d"] and "c" in md and len(md) == 4
    assert [n for n, _ in md.named_parameters()] == ["c.weight", "c.bias"]
    assert isinstance(md.pop("a"), nn.ReLU) and list(md) == ["b", "c", "d"]
    del md["b"]
    assert list(md.values())[0] is md["c"]
    md.clear()
    assert len(md) == 0


def test_parameter_list_and_dict():
    pl = nn.ParameterList([nn.Parameter(dg.ones(2)), dg.zeros(3)])
    assert isinstance(pl[1], nn.Parameter) and len(pl) == 2
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    pd = nn.ParameterDict({"a": dg.ones(1)})
    pd["b"] = nn.Parameter(dg.zeros(1))
    assert list(pd.keys()) == ["a", "b"] and isinstance(pd["a"], nn.Parameter)
    assert [n for n, _ in pd.named_parameters()] == ["a", "b"]


def test_deepcopy_module():
    m = small_net()
    c = copy.deepcopy(m)
    assert c[0].weight is not m[0].weight
    assert np.array_equal(arr(c[0].weight), arr(m[0].weight))
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in m.named_parameters()]


def test_clip_grad_norm_and_value():
    from distgrad.nn.utils import clip_grad_norm_, clip_grad_value_
    p1 = nn.Parameter(dg.zeros(2))
    p2 = nn.Parameter(dg.zeros(1))
    p1.grad = dg.tensor([3.0, 0.0])
    p2.grad = dg.tensor([4.0])
    g1 = p1.grad
    total = clip_grad_norm_([p1, p2], max_norm=1.0)
    assert abs(total.item() - 5.0) < 1e-6
    assert p1.grad is g1
    np.testing.assert_allclose(arr(p1.grad), [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(arr(p2.grad), [0.8], rtol=1e-5)
    total = clip_grad_norm_([p1, p2], max_norm=10.0, norm_type=float("inf"))
    assert abs(total.item() - 0.8) < 1e-6
    np.testing.assert_allclose(arr(p2.grad), [0.8], rtol=1e-5)  # unchanged below max_norm
    p2.grad = dg.tensor([float("inf")])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        clip_grad_norm_([p1, p2], 1.0, error_if_nonfinite=True)
    p2.grad = dg.tensor([-7.0])
    clip_grad_value_([p1, p2], 0.5)
    assert arr(p2.grad).tolist() == [-0.5]
    assert clip_grad_norm_([nn.Parameter(dg.zeros(1))], 1.0).item() == 0.0


@pytest.mark.torch
def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    from distgrad.nn.utils import clip_grad_norm_
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=5)]
    for norm_type in (2.0, 1.0, 3.0, float("inf")):
        ps = [nn.Parameter(dg.zeros(*g.shape, dtype=dg.float64)) for g in grads]
        tps = [torch.nn.Parameter(torch.zeros(*g.shape, dtype=torch.float64)) for g in grads]
        for p, tp, g in zip(ps, tps, grads):
            p.grad = dg.tensor(g)
            tp.grad = torch.tensor(g)
        total = clip_grad_norm_(ps, 0.5, norm_type)
        ttotal = torch.nn.utils.clip_grad_norm_(tps, 0.5, norm_type)
        np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-12)
        for p, tp in zip(ps, tps):
            np.testing.assert_allclose(arr(p.grad), tp.grad.numpy(), rtol=1e-12)


def test_parameters_to_vector_roundtrip():
    from distgrad.nn.utils import parameters_to_vector, vector_to_parameters
    m = nn.Linear(3, 2)
    v = parameters_to_vector(m.parameters())
    assert v.shape == (8,)
    vector_to_parameters(v * 0 + 1, m.parameters())
    assert arr(m.weight).tolist() == [[1.0] * 3] * 2 and arr(m.bias).tolist() == [1.0, 1.0]


def test_buffer_assignment_and_registration_hooks():
    from distgrad.nn.modules import module as module_mod
    m = nn.Module()
    m.x = 3
    m.x = nn.Buffer(dg.ones(2), persistent=False)
    m.y = nn.Buffer(dg.ones(1))
    assert list(m._buffers) == ["x", "y"] and "x" not in m.__dict__
    assert type(m.y) is dg.Tensor and list(m.state_dict()) == ["y"]
    seen = []
    with module_mod.register_module_module_registration_hook(
            lambda mod, name, sub: seen.append(name)), \
            module_mod.register_module_parameter_registration_hook(
                lambda mod, name, p: seen.append(name)):
        m.sub = nn.Identity()
        m.w = nn.Parameter(dg.ones(1))
    m.other = nn.Identity()
    assert seen == ["sub", "w"]


def test_linear_uses_a_weight_replaced_by_a_plain_attribute():
    """Linear reads its parameters from ``_parameters`` (fast path); a weight replaced by a plain
    tensor attribute, functional-call style, must still be the one used."""
    lin = nn.Linear(3, 2)
    del lin.weight
    lin.weight = dg.zeros(2, 3)
    expected = np.broadcast_to(lin.bias.detach().numpy(), (4, 2))
    np.testing.assert_array_equal(lin(dg.ones(4, 3)).detach().numpy(), expected)
