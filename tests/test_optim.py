"""Optimizers: PyTorch-exact updates, param groups, state_dict round trips, errors."""
import math
import warnings

import numpy as np
import pytest

import distgrad as dg
from distgrad import optim


# -- a small model from raw tensors, built identically in distgrad and in PyTorch ------------------
def _init_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((16, 3)),
        "t": rng.standard_normal((16, 2)),
        "W1": rng.standard_normal((3, 5)) * 0.5,
        "b1": rng.standard_normal(5) * 0.1,
        "W2": rng.standard_normal((5, 2)) * 0.5,
        "b2": rng.standard_normal(2) * 0.1,
    }


PARAM_NAMES = ("W1", "b1", "W2", "b2")


def _make_params(lib, arrays):
    return [lib.tensor(arrays[n].copy(), dtype=lib.float64, requires_grad=True)
            for n in PARAM_NAMES]


def _loss(lib, params, arrays, x=None):
    W1, b1, W2, b2 = params
    x = lib.tensor(arrays["x"]) if x is None else x
    y = lib.tanh(x @ W1 + b1) @ W2 + b2
    return ((y - lib.tensor(arrays["t"])) ** 2).mean()


def _train(lib, opt, params, arrays, steps):
    for _ in range(steps):
        opt.zero_grad()
        _loss(lib, params, arrays).backward()
        opt.step()


def _np(t):
    return t.detach().numpy().copy()


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


# Every configuration runs the same code against both libraries: ``make(optim_module, params)``.
CONFIGS = {
    "sgd": lambda o, p: o.SGD(p, lr=0.1),
    "sgd-default-lr": lambda o, p: o.SGD(p),
    "sgd-momentum": lambda o, p: o.SGD(p, lr=0.05, momentum=0.9),
    "sgd-dampening": lambda o, p: o.SGD(p, lr=0.05, momentum=0.9, dampening=0.3),
    "sgd-nesterov": lambda o, p: o.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
    "sgd-weight-decay": lambda o, p: o.SGD(p, lr=0.1, weight_decay=0.05),
    "sgd-maximize": lambda o, p: o.SGD(p, lr=0.01, maximize=True),
    "sgd-all": lambda o, p: o.SGD(p, lr=0.02, momentum=0.7, weight_decay=0.1, nesterov=True,
                                  maximize=True),
    "sgd-momentum-wd-dampening": lambda o, p: o.SGD(p, lr=0.03, momentum=0.5, dampening=0.5,
                                                    weight_decay=0.01),
    "adam": lambda o, p: o.Adam(p, lr=0.01),
    "adam-amsgrad": lambda o, p: o.Adam(p, lr=0.01, amsgrad=True),
    "adam-weight-decay": lambda o, p: o.Adam(p, lr=0.01, weight_decay=0.1),
    "adam-maximize": lambda o, p: o.Adam(p, lr=0.01, maximize=True),
    "adam-betas": lambda o, p: o.Adam(p, lr=0.02, betas=(0.3, 0.6), eps=1e-3),
    "adam-all": lambda o, p: o.Adam(p, lr=0.01, weight_decay=0.05, amsgrad=True, maximize=True),
    "adamw": lambda o, p: o.AdamW(p, lr=0.01),
    "adamw-amsgrad": lambda o, p: o.AdamW(p, lr=0.01, amsgrad=True),
    "adamw-weight-decay": lambda o, p: o.AdamW(p, lr=0.01, weight_decay=0.3),
    "adamw-no-decay": lambda o, p: o.AdamW(p, lr=0.01, weight_decay=0),
    "adamw-all": lambda o, p: o.AdamW(p, lr=0.01, betas=(0.8, 0.9), weight_decay=0.2,
                                      amsgrad=True, maximize=True),
    "rmsprop": lambda o, p: o.RMSprop(p, lr=0.01),
    "rmsprop-momentum": lambda o, p: o.RMSprop(p, lr=0.01, momentum=0.9),
    "rmsprop-centered": lambda o, p: o.RMSprop(p, lr=0.01, centered=True),
    "rmsprop-centered-momentum": lambda o, p: o.RMSprop(p, lr=0.01, centered=True, momentum=0.5),
    "rmsprop-weight-decay": lambda o, p: o.RMSprop(p, lr=0.01, weight_decay=0.1, alpha=0.9),
    "rmsprop-maximize": lambda o, p: o.RMSprop(p, lr=0.001, maximize=True),
    "rmsprop-all": lambda o, p: o.RMSprop(p, lr=0.005, alpha=0.8, eps=1e-4, weight_decay=0.1,
                                          momentum=0.3, centered=True, maximize=True),
    "adagrad": lambda o, p: o.Adagrad(p, lr=0.1),
    "adagrad-lr-decay": lambda o, p: o.Adagrad(p, lr=0.1, lr_decay=0.05),
    "adagrad-weight-decay": lambda o, p: o.Adagrad(p, lr=0.1, weight_decay=0.1),
    "adagrad-initial-accumulator": lambda o, p: o.Adagrad(p, lr=0.1, initial_accumulator_value=0.5,
                                                          eps=1e-6),
    "adagrad-maximize": lambda o, p: o.Adagrad(p, lr=0.01, maximize=True),
    "adagrad-all": lambda o, p: o.Adagrad(p, lr=0.05, lr_decay=0.01, weight_decay=0.05,
                                          initial_accumulator_value=0.1, maximize=True),
}


def _assert_close(ours, theirs):
    np.testing.assert_allclose(_np(ours), theirs.detach().numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.torch
@pytest.mark.parametrize("name", list(CONFIGS))
def test_matches_pytorch_after_20_steps(torch, name):
    make = CONFIGS[name]
    arrays = _init_arrays()
    ours = _make_params(dg, arrays)
    theirs = _make_params(torch, arrays)
    opt, topt = make(optim, ours), make(torch.optim, theirs)
    _train(dg, opt, ours, arrays, 20)
    _train(torch, topt, theirs, arrays, 20)
    for p, tp in zip(ours, theirs):
        _assert_close(p, tp)
    # Same state entries, with the same values.
    for p, tp in zip(ours, theirs):
        state, tstate = opt.state[p], topt.state[tp]
        assert set(state) == set(tstate)
        for key, value in state.items():
            if key == "step":
                assert value == float(tstate[key])
            else:
                _assert_close(value, tstate[key])


def run_two_groups(torch, make, steps, **second_group):
    """Train the same parameters in distgrad and PyTorch with ``make``'s optimizer over two
    groups (the second with half the learning rate and ``second_group``'s options) plus a
    parameter that gets no gradient; check the parameters match. Returns ``(params, unused
    parameter, optimizer)`` for each library."""
    arrays = _init_arrays(1)

    def build(lib, opt_mod):
        params = _make_params(lib, arrays)
        extra = lib.tensor(np.arange(3.0), requires_grad=True)
        first = make(opt_mod, params[:2] + [extra])
        group = dict(first.param_groups[0])
        group.update(params=params[2:], lr=group["lr"] * 0.5, **second_group)
        return params, extra, make(opt_mod, [{"params": params[:2] + [extra]}, group])

    ours, theirs = build(dg, optim), build(torch, torch.optim)
    _train(dg, ours[2], ours[0], arrays, steps)
    _train(torch, theirs[2], theirs[0], arrays, steps)
    for p, tp in zip(ours[0], theirs[0]):
        _assert_close(p, tp)
    return ours, theirs


@pytest.mark.torch
@pytest.mark.parametrize("name", ["sgd-momentum", "adam-all", "rmsprop-centered-momentum",
                                  "adagrad-all"])
def test_param_groups_and_missing_grads_match_pytorch(torch, name):
    """Two groups with their own options; a parameter without a gradient is skipped."""
    (ours, extra, opt), (theirs, textra, topt) = run_two_groups(torch, CONFIGS[name], 20,
                                                                weight_decay=0.01)
    assert extra.grad is None and np.array_equal(_np(extra), np.arange(3.0))
    with_state = [id(p) for p in ours + [extra] if opt.state.get(p)]
    assert with_state == [id(p) for p in ours] + ([id(extra)] if name == "adagrad-all" else [])
    assert len(with_state) == len([p for p in theirs + [textra] if topt.state.get(p)])


@pytest.mark.torch
def test_closure_matches_pytorch_and_returns_loss(torch):
    arrays = _init_arrays(2)
    results = []
    for lib, opt_mod in ((dg, optim), (torch, torch.optim)):
        params = _make_params(lib, arrays)
        opt = opt_mod.SGD(params, lr=0.1, momentum=0.5)

        def closure():
            opt.zero_grad()
            loss = _loss(lib, params, arrays)
            loss.backward()
            return loss

        losses = [float(opt.step(closure).detach()) for _ in range(10)]
        results.append((losses, [p.detach().numpy().copy() for p in params]))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_closure_runs_with_grad_enabled_inside_no_grad():
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([w], lr=0.1)

    def closure():
        assert dg.is_grad_enabled()
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with dg.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 5.0
    assert opt.step() is None


def test_seed_book_thermometer_example():
    """Deep Learning with PyTorch, ch. 5: one SGD step on the normalised thermometer data."""
    t_c = dg.tensor([0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0])
    t_u = dg.tensor([35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4])
    t_un = 0.1 * t_u
    params = dg.tensor([1.0, 0.0], requires_grad=True)
    optimizer = optim.SGD([params], lr=1e-2)
    t_p = params[0] * t_un + params[1]
    loss = ((t_p - t_c) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    np.testing.assert_allclose(params.detach().numpy(), [1.7761, 0.1064], atol=5e-5)


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                                  lambda p: optim.Adam(p), lambda p: optim.AdamW(p),
                                  lambda p: optim.RMSprop(p, momentum=0.1, centered=True),
                                  lambda p: optim.Adagrad(p)])
def test_step_is_in_place_without_graph_and_bumps_version(make):
    w = dg.tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    b = dg.tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    opt = make([w, b])
    data_before = w._data
    loss = (w.sum(0) * 2 + b).sum()
    loss.backward()
    version = w._version
    opt.step()
    assert w._data is data_before                      # updated in place
    assert w._version == version + 1                # once per parameter per step
    assert w.is_leaf and w.grad_fn is None and w.requires_grad
    assert w.dtype == np.float32 and b.dtype == np.float32
    assert not np.array_equal(w.detach().numpy(), np.ones((3, 2)))
    for state in opt.state.values():
        for value in state.values():
            if isinstance(value, dg.Tensor):
                assert value.dtype == np.float32 and value.grad_fn is None
    # A parameter whose grad is None is left alone (version unchanged).
    opt.zero_grad()
    version = w._version
    snapshot = w.detach().numpy().copy()
    opt.step()
    assert w._version == version and np.array_equal(w.detach().numpy(), snapshot)


def test_zero_grad():
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and np.array_equal(w.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None
    opt.zero_grad()  # no grads: fine


def test_sgd_first_momentum_buffer_is_a_clone_of_the_grad():
    w = dg.tensor([1.0, -1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9, dampening=0.5)
    (w * w).sum().backward()
    opt.step()
    buf = opt.state[w]["momentum_buffer"]
    np.testing.assert_array_equal(buf.numpy(), [2.0, -2.0])   # no dampening on the first step
    assert buf._data is not w.grad._data
    np.testing.assert_allclose(w.detach().numpy(), [0.8, -0.8])
    assert optim.SGD([dg.tensor([1.0], requires_grad=True)], lr=0.1).state == {}


def test_param_groups_defaults_and_add_param_group():
    a = dg.tensor([1.0], requires_grad=True)
    b = dg.tensor([2.0], requires_grad=True)
    c = dg.tensor([3.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert opt.defaults["lr"] == 0.1
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert len(opt.param_groups[1]["params"]) == 1 and opt.param_groups[1]["params"][0] is b
    assert all(g["momentum"] == 0.9 for g in opt.param_groups)
    opt.add_param_group({"params": [c], "momentum": 0.0})
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["lr"] == 0.1
    assert opt.param_groups[2]["momentum"] == 0.0
    # Generators work, like model.parameters().
    opt = optim.Adam(p for p in [a, b])
    assert len(opt.param_groups[0]["params"]) == 2


def test_named_parameters():
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    b = dg.tensor([0.5], requires_grad=True)
    opt = optim.Adam([("weight", w), ("bias", b)], lr=0.1)
    assert opt.param_groups[0]["params"][0] is w and opt.param_groups[0]["params"][1] is b
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    sd = opt.state_dict()
    assert sd["param_groups"][0]["param_names"] == ["weight", "bias"]
    with pytest.raises(ValueError, match="with/without names"):
        opt.add_param_group({"params": [dg.tensor([1.0], requires_grad=True)]})


@pytest.mark.torch
def test_repr_like_pytorch(torch):
    w = dg.tensor([1.0], requires_grad=True)
    text = repr(optim.SGD([w], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (\nParameter Group 0\n") and text.endswith(")")
    assert "    lr: 0.1\n" in text and "    momentum: 0.9\n" in text and "params" not in text
    tw = torch.tensor([1.0], requires_grad=True)
    theirs = repr(torch.optim.SGD([tw], lr=0.1, momentum=0.9)).splitlines()
    ours = text.splitlines()
    assert set(ours) <= set(theirs)
    assert "    betas: (0.9, 0.999)" in repr(optim.Adam([w])).splitlines()


# -- errors ----------------------------------------------------------------------------------------
def _leaf():
    return dg.tensor([1.0, 2.0], requires_grad=True)


@pytest.mark.parametrize("make, message", [
    (lambda: optim.SGD([_leaf()], lr=-1), "Invalid learning rate: -1"),
    (lambda: optim.SGD([_leaf()], lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda: optim.SGD([_leaf()], lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda: optim.Adam([_leaf()], lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda: optim.Adam([_leaf()], eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda: optim.Adam([_leaf()], betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda: optim.Adam([_leaf()], betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda: optim.Adam([_leaf()], weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda: optim.AdamW([_leaf()], lr=-1), "Invalid learning rate: -1"),
    (lambda: optim.RMSprop([_leaf()], alpha=-1), "Invalid alpha value: -1"),
    (lambda: optim.RMSprop([_leaf()], momentum=-1), "Invalid momentum value: -1"),
    (lambda: optim.Adagrad([_leaf()], lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda: optim.Adagrad([_leaf()], initial_accumulator_value=-1),
     "Invalid initial_accumulator_value value: -1"),
    (lambda: optim.SGD([], lr=0.1), "optimizer got an empty parameter list"),
    (lambda: optim.SGD([_leaf() * 2], lr=0.1), "can't optimize a non-leaf Tensor"),
    (lambda: optim.SGD([_leaf()], lr=0.1, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda: optim.SGD([_leaf()], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening"),
])
def test_value_errors(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert message in str(info.value)


def test_type_errors_and_duplicates():
    w = _leaf()
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([w, 3.0], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {w}}], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([w, w], lr=0.1)
    from distgrad.optim.optimizer import required

    class Custom(optim.Optimizer):
        def __init__(self, params, lr=required):
            super().__init__(params, dict(lr=lr))

    with pytest.raises(ValueError, match="required optimization parameter lr"):
        Custom([w])


# -- state_dict ------------------------------------------------------------------------------------
SAVEABLE = (dg.Tensor, bool, int, float, str, type(None))


def assert_saveable(obj, path="state_dict"):
    """Only tensors, numbers, strings, None, lists, tuples and dicts (what distgrad.save stores)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert isinstance(k, (str, int)), f"{path}: key {k!r}"
            assert_saveable(v, f"{path}[{k!r}]")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            assert_saveable(v, f"{path}[{i}]")
    else:
        assert isinstance(obj, SAVEABLE), f"{path}: {type(obj).__name__} {obj!r}"


def through_save(sd, tmp_path):
    """Round trip through distgrad.save/load (when the engine has them)."""
    if hasattr(dg, "save") and hasattr(dg, "load"):
        dg.save(sd, tmp_path / "state.dg")
        return dg.load(tmp_path / "state.dg")
    return sd


ROUND_TRIP = ["sgd-all", "sgd-momentum", "adam-all", "adamw-all", "rmsprop-all", "adagrad-all"]


def check_state_dict_round_trip(make, tmp_path, seed, steps, stateful=True):
    """Train ``make``'s optimizer over two groups, pass its state dict through distgrad.save
    and load, and load it into a new optimizer on copies of the parameters: the same groups,
    the same state (copies, in the same key order), and the two continue bit for bit."""
    arrays = _init_arrays(seed)
    params = _make_params(dg, arrays)
    opt = make(optim, [{"params": params[:2]}, {"params": params[2:], "lr": 0.003}])
    _train(dg, opt, params, arrays, steps)
    sd = opt.state_dict()
    assert_saveable(sd)
    assert sorted(sd) == ["param_groups", "state"]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3]]
    assert sorted(sd["state"]) == ([0, 1, 2, 3] if stateful else [])
    sd = through_save(sd, tmp_path)

    copies = [dg.tensor(_np(p), requires_grad=True) for p in params]
    opt2 = make(optim, [{"params": copies[:2]}, {"params": copies[2:]}])
    opt2.load_state_dict(sd)
    assert opt2.param_groups[1]["lr"] == 0.003
    assert repr(opt2) == repr(opt)
    for p, q in zip(params, copies):
        assert list(opt2.state[q]) == list(opt.state[p])
        for key, value in opt.state[p].items():
            other = opt2.state[q][key]
            if isinstance(value, dg.Tensor):
                assert other._data is not value._data        # loaded state is a copy
                assert np.array_equal(other.numpy(), value.numpy())
            else:
                assert other == value
    _train(dg, opt, params, arrays, 5)
    _train(dg, opt2, copies, arrays, 5)
    for p, q in zip(params, copies):
        assert np.array_equal(_np(p), _np(q))


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_state_dict_round_trip_is_bit_exact(name, tmp_path):
    check_state_dict_round_trip(CONFIGS[name], tmp_path, seed=3, steps=5, stateful=name != "sgd")


@pytest.mark.torch
def test_state_dict_layout_matches_pytorch(torch):
    arrays = _init_arrays(4)
    make = CONFIGS["adam-amsgrad"]
    ours, theirs = _make_params(dg, arrays), _make_params(torch, arrays)
    opt = make(optim, [{"params": ours[:3]}, {"params": ours[3:], "lr": 0.5}])
    topt = make(torch.optim, [{"params": theirs[:3]}, {"params": theirs[3:], "lr": 0.5}])
    _train(dg, opt, ours, arrays, 3)
    _train(torch, topt, theirs, arrays, 3)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert list(sd["state"]) == list(tsd["state"])
    for i in sd["state"]:
        assert set(sd["state"][i]) == set(tsd["state"][i])
        assert sd["state"][i]["step"] == float(tsd["state"][i]["step"]) == 3.0
    for g, tg in zip(sd["param_groups"], tsd["param_groups"]):
        assert g["params"] == tg["params"]
        for key, value in g.items():
            assert value == tg[key]
    # A state dict that PyTorch wrote loads too (tensors converted, 'step' a float).
    fresh = _make_params(dg, arrays)
    opt2 = make(optim, [{"params": fresh[:3]}, {"params": fresh[3:]}])
    converted = {
        "state": {i: {k: (dg.tensor(v.numpy()) if k != "step" else v.item()) for k, v in s.items()}
                  for i, s in tsd["state"].items()},
        "param_groups": [dict(g, betas=list(g["betas"])) for g in tsd["param_groups"]],
    }                                            # betas as a list, as JSON would give it
    opt2.load_state_dict(converted)
    assert opt2.param_groups[0]["betas"] == (0.9, 0.999)
    assert opt2.state[fresh[0]]["step"] == 3.0


def test_load_state_dict_errors_and_adamw_stays_decoupled():
    a, b = _leaf(), _leaf()
    opt = optim.SGD([a, b], lr=0.1)
    other = optim.SGD([_leaf()], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict(other.state_dict())
    two = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(two.state_dict())
    adam = optim.Adam([a], weight_decay=0.1)
    adamw = optim.AdamW([b])
    adamw.load_state_dict(adam.state_dict())
    assert adamw.param_groups[0]["decoupled_weight_decay"] is True
    assert adamw.param_groups[0]["weight_decay"] == 0.1
    assert adam.param_groups[0]["decoupled_weight_decay"] is False


def test_float32_params_keep_dtype_through_round_trip():
    w = dg.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    opt = optim.Adam([w], lr=0.1, amsgrad=True)
    for _ in range(3):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    sd = opt.state_dict()
    sd64 = {"state": {0: {k: (dg.tensor(v.numpy().astype(np.float64)) if isinstance(v, dg.Tensor)
                              else v) for k, v in sd["state"][0].items()}},
            "param_groups": sd["param_groups"]}
    w2 = dg.tensor(w.detach().numpy(), requires_grad=True)
    opt2 = optim.Adam([w2], lr=0.1, amsgrad=True)
    opt2.load_state_dict(sd64)
    assert all(v.dtype == np.float32 for v in opt2.state[w2].values() if isinstance(v, dg.Tensor))
    assert math.isclose(opt2.state[w2]["step"], 3.0)


def test_no_warnings_in_a_normal_step():
    w = _leaf()
    opt = optim.RMSprop([w], centered=True, momentum=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            opt.zero_grad()
            (w * w).sum().backward()
            opt.step()


@pytest.mark.torch
def test_nn_module_with_named_parameters_matches_pytorch(torch):
    """model.named_parameters() of an nn model; float64 weights copied from PyTorch's."""
    nn = pytest.importorskip("distgrad.nn")
    arrays = _init_arrays(6)
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(),
                                 torch.nn.Linear(5, 2)).double()
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        p.data = dg.tensor(tp.detach().numpy().copy())
    opt = optim.AdamW(model.named_parameters(), lr=0.01, amsgrad=True)
    topt = torch.optim.AdamW(tmodel.named_parameters(), lr=0.01, amsgrad=True)
    assert opt.param_groups[0]["param_names"] == topt.param_groups[0]["param_names"]

    def forward(lib, layers, x):  # the layers' maths, written out (independent of nn's forward)
        hidden = lib.tanh(x @ layers[0].weight.T + layers[0].bias)
        return hidden @ layers[2].weight.T + layers[2].bias

    for _ in range(20):
        for lib, net, o in ((dg, model, opt), (torch, tmodel, topt)):
            o.zero_grad()
            y = forward(lib, net, lib.tensor(arrays["x"]))
            ((y - lib.tensor(arrays["t"])) ** 2).mean().backward()
            o.step()
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        assert p.dtype == np.float64
        _assert_close(p, tp)
