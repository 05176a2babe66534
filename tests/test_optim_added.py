"""Adamax, NAdam, RAdam, Adadelta, ASGD, Rprop: PyTorch-exact updates after every step, the
state_dict layout and round trips, signatures and argument errors."""
import inspect

import numpy as np
import pytest

import distgrad as dg
from distgrad import optim
from distgrad.testing import fake_cupy
from test_optim import (_assert_close, _init_arrays, _make_params, _np, _train,
                        check_state_dict_round_trip, run_two_groups)

ADDED = ("Adamax", "NAdam", "RAdam", "Adadelta", "ASGD", "Rprop")


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


# Every configuration runs the same code against both libraries: ``make(optim_module, params)``.
CONFIGS = {
    "adamax": lambda o, p: o.Adamax(p),
    "adamax-betas-eps": lambda o, p: o.Adamax(p, lr=0.01, betas=(0.5, 0.8), eps=1e-3),
    "adamax-weight-decay": lambda o, p: o.Adamax(p, lr=0.01, weight_decay=0.1),
    "adamax-maximize": lambda o, p: o.Adamax(p, lr=0.005, maximize=True),
    "adamax-all": lambda o, p: o.Adamax(p, lr=0.01, betas=(0.8, 0.9), weight_decay=0.05,
                                        maximize=True),
    "nadam": lambda o, p: o.NAdam(p),
    "nadam-momentum-decay": lambda o, p: o.NAdam(p, lr=0.01, momentum_decay=0.3),
    "nadam-weight-decay": lambda o, p: o.NAdam(p, lr=0.01, weight_decay=0.1),
    "nadam-decoupled": lambda o, p: o.NAdam(p, lr=0.01, weight_decay=0.2,
                                            decoupled_weight_decay=True),
    "nadam-maximize": lambda o, p: o.NAdam(p, lr=0.005, maximize=True),
    "nadam-all": lambda o, p: o.NAdam(p, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1,
                                      momentum_decay=0.05, decoupled_weight_decay=True,
                                      maximize=True),
    "radam": lambda o, p: o.RAdam(p, lr=0.01),
    "radam-betas": lambda o, p: o.RAdam(p, lr=0.01, betas=(0.7, 0.95), eps=1e-4),
    "radam-weight-decay": lambda o, p: o.RAdam(p, lr=0.01, weight_decay=0.1),
    "radam-decoupled": lambda o, p: o.RAdam(p, lr=0.01, weight_decay=0.2,
                                            decoupled_weight_decay=True),
    "radam-maximize": lambda o, p: o.RAdam(p, lr=0.005, maximize=True),
    "radam-all": lambda o, p: o.RAdam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1,
                                      decoupled_weight_decay=True, maximize=True),
    "adadelta": lambda o, p: o.Adadelta(p),
    "adadelta-rho-eps": lambda o, p: o.Adadelta(p, lr=0.5, rho=0.6, eps=1e-4),
    "adadelta-weight-decay": lambda o, p: o.Adadelta(p, weight_decay=0.1),
    "adadelta-maximize": lambda o, p: o.Adadelta(p, lr=0.1, maximize=True),
    "adadelta-all": lambda o, p: o.Adadelta(p, lr=2.0, rho=0.8, eps=1e-5, weight_decay=0.05,
                                            maximize=True),
    "asgd": lambda o, p: o.ASGD(p),
    "asgd-t0": lambda o, p: o.ASGD(p, lr=0.05, t0=4),
    "asgd-lambd-alpha": lambda o, p: o.ASGD(p, lr=0.1, lambd=0.05, alpha=0.5, t0=6),
    "asgd-weight-decay": lambda o, p: o.ASGD(p, lr=0.05, weight_decay=0.1, t0=2),
    "asgd-maximize": lambda o, p: o.ASGD(p, lr=0.01, maximize=True, t0=3),
    "asgd-all": lambda o, p: o.ASGD(p, lr=0.08, lambd=0.01, alpha=0.9, t0=5, weight_decay=0.05,
                                    maximize=True),
    "rprop": lambda o, p: o.Rprop(p),
    "rprop-etas": lambda o, p: o.Rprop(p, lr=0.02, etas=(0.3, 1.7)),
    "rprop-step-sizes": lambda o, p: o.Rprop(p, lr=0.01, etas=(0.2, 1.5),
                                             step_sizes=(0.004, 0.03)),
    "rprop-maximize": lambda o, p: o.Rprop(p, lr=0.001, maximize=True),
    "rprop-all": lambda o, p: o.Rprop(p, lr=0.02, etas=(0.4, 1.3), step_sizes=(0.005, 0.04),
                                      maximize=True),
}
# One configuration per optimizer with all its options on.
ALL = [f"{name.lower()}-all" for name in ADDED]


def _assert_state_dicts_match(sd, tsd):
    """Same layout as PyTorch's (indices, key order, param groups) and the same values: tensors
    close, scalars (``step``, ``mu_product``, ``eta``, ``mu``) equal."""
    assert sd["param_groups"] == tsd["param_groups"]
    assert list(sd["state"]) == list(tsd["state"])
    for i, state in sd["state"].items():
        tstate = tsd["state"][i]
        assert list(state) == list(tstate)
        for key, value in state.items():
            if isinstance(value, dg.Tensor):
                _assert_close(value, tstate[key])
            else:
                assert isinstance(value, float) and value == tstate[key].item(), key


@pytest.mark.torch
@pytest.mark.parametrize("name", list(CONFIGS))
def test_matches_pytorch_after_every_step(torch, name):
    make = CONFIGS[name]
    arrays = _init_arrays()
    ours, theirs = _make_params(dg, arrays), _make_params(torch, arrays)
    opt, topt = make(optim, ours), make(torch.optim, theirs)
    for _ in range(12):
        _train(dg, opt, ours, arrays, 1)
        _train(torch, topt, theirs, arrays, 1)
        for p, tp in zip(ours, theirs):
            _assert_close(p, tp)
    _assert_state_dicts_match(opt.state_dict(), topt.state_dict())


@pytest.mark.torch
@pytest.mark.parametrize("name", ALL)
def test_param_groups_and_missing_grads_match_pytorch(torch, name):
    """Two groups with their own learning rates; a parameter without a gradient is skipped."""
    (_, extra, opt), (_, _, topt) = run_two_groups(torch, CONFIGS[name], 12)
    assert extra.grad is None and np.array_equal(_np(extra), np.arange(3.0))
    assert extra not in opt.state
    _assert_state_dicts_match(opt.state_dict(), topt.state_dict())


@pytest.mark.torch
@pytest.mark.parametrize("name", ["nadam-all", "asgd-all"])
def test_scalar_state_precision_follows_the_default_dtype(torch, name):
    """PyTorch keeps NAdam's ``mu_product`` and ASGD's ``eta``, ``mu`` in float64 when the
    default dtype is float64 (float32 otherwise): so do we."""
    make = CONFIGS[name]
    arrays = _init_arrays(2)
    saved, tsaved = dg.get_default_dtype(), torch.get_default_dtype()
    dg.set_default_dtype(dg.float64)
    torch.set_default_dtype(torch.float64)
    try:
        ours, theirs = _make_params(dg, arrays), _make_params(torch, arrays)
        opt, topt = make(optim, ours), make(torch.optim, theirs)
        _train(dg, opt, ours, arrays, 12)
        _train(torch, topt, theirs, arrays, 12)
    finally:
        dg.set_default_dtype(saved)
        torch.set_default_dtype(tsaved)
    for p, tp in zip(ours, theirs):
        _assert_close(p, tp)
    _assert_state_dicts_match(opt.state_dict(), topt.state_dict())
    scalar = "mu_product" if name.startswith("nadam") else "eta"
    assert opt.state[ours[0]][scalar] != float(np.float32(opt.state[ours[0]][scalar]))


def test_radam_is_unrectified_until_rho_t_exceeds_5():
    """With beta2 = 0.999, rho_t is 1, 2, 3, 4, 4.996 in steps 1-5 (plain momentum steps
    ``lr * m / (1 - beta1**t)``) and 5.994 in step 6, the first adaptive step."""
    arrays = _init_arrays(3)
    params = _make_params(dg, arrays)
    opt = optim.RAdam(params, lr=0.01)
    for step in range(1, 9):
        before = _np(params[0])
        _train(dg, opt, params, arrays, 1)
        momentum_step = 0.01 * opt.state[params[0]]["exp_avg"].numpy() / (1 - 0.9 ** step)
        plain = np.allclose(before - _np(params[0]), momentum_step, rtol=1e-12, atol=0)
        assert plain == (step <= 5), step


def _to_torch_state_dict(torch, sd):
    """Our state dict with its tensors as PyTorch tensors (scalar state stays float)."""
    return {"state": {i: {k: (torch.tensor(v.numpy()) if isinstance(v, dg.Tensor) else v)
                          for k, v in s.items()} for i, s in sd["state"].items()},
            "param_groups": sd["param_groups"]}


def _from_torch_state_dict(tsd):
    """PyTorch's state dict with its tensors as distgrad tensors (scalar ones too), and its
    tuples as lists, as JSON would give them."""
    return {"state": {i: {k: dg.tensor(v.numpy()) for k, v in s.items()}
                      for i, s in tsd["state"].items()},
            "param_groups": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
                             for g in tsd["param_groups"]]}


@pytest.mark.torch
@pytest.mark.parametrize("name", ALL)
def test_state_dicts_load_both_ways_with_pytorch(torch, name):
    """Our state dict loads into PyTorch's optimizer and PyTorch's into ours; each pair then
    continues like the optimizer that wrote the state."""
    make = CONFIGS[name]
    arrays = _init_arrays(4)
    ours, theirs = _make_params(dg, arrays), _make_params(torch, arrays)
    opt, topt = make(optim, ours), make(torch.optim, theirs)
    _train(dg, opt, ours, arrays, 7)
    _train(torch, topt, theirs, arrays, 7)
    ours2 = [dg.tensor(_np(p), requires_grad=True) for p in theirs]
    theirs2 = [torch.tensor(_np(p), requires_grad=True) for p in ours]
    opt2, topt2 = make(optim, ours2), make(torch.optim, theirs2)
    opt2.load_state_dict(_from_torch_state_dict(topt.state_dict()))
    topt2.load_state_dict(_to_torch_state_dict(torch, opt.state_dict()))
    for p, p2 in zip(ours, ours2):   # scalar state (mu_product, eta, mu) back to floats
        assert ([type(v) for v in opt2.state[p2].values()]
                == [type(v) for v in opt.state[p].values()])
    assert opt2.param_groups == [dict(g, params=opt2.param_groups[0]["params"])
                                 for g in opt.param_groups]
    for _ in range(5):
        for lib, o, params in ((dg, opt, ours), (torch, topt, theirs), (dg, opt2, ours2),
                               (torch, topt2, theirs2)):
            _train(lib, o, params, arrays, 1)
        for p, tp, p2, tp2 in zip(ours, theirs, ours2, theirs2):
            _assert_close(p, tp2)
            _assert_close(p2, tp)


@pytest.mark.parametrize("name", ALL)
def test_state_dict_round_trip_is_bit_exact(name, tmp_path):
    check_state_dict_round_trip(CONFIGS[name], tmp_path, seed=5, steps=7)


@pytest.mark.parametrize("name", ADDED)
def test_ignored_keywords_are_kept_but_change_nothing(name):
    cls = getattr(optim, name)
    flags = dict(foreach=False, capturable=True, differentiable=True)
    arrays = _init_arrays(6)
    plain, flagged = _make_params(dg, arrays), _make_params(dg, arrays)
    opt, opt_flagged = cls(plain), cls(flagged, **flags)
    assert all(opt_flagged.param_groups[0][k] == v for k, v in flags.items())
    assert opt.param_groups[0]["foreach"] is None
    _train(dg, opt, plain, arrays, 8)
    _train(dg, opt_flagged, flagged, arrays, 8)
    for p, q in zip(plain, flagged):
        assert np.array_equal(_np(p), _np(q))


@pytest.mark.torch
@pytest.mark.parametrize("name", ADDED)
def test_signature_and_defaults_match_pytorch(torch, name):
    def layout(cls):
        return [(n, p.kind, p.default) for n, p in inspect.signature(cls).parameters.items()]

    cls, tcls = getattr(optim, name), getattr(torch.optim, name)
    assert layout(cls) == layout(tcls)
    w, tw = dg.tensor([1.0], requires_grad=True), torch.tensor([1.0], requires_grad=True)
    ours, theirs = cls([w]).param_groups[0], tcls([tw]).param_groups[0]
    assert list(ours) == list(theirs)
    assert {k: v for k, v in ours.items() if k != "params"} == \
        {k: v for k, v in theirs.items() if k != "params"}


@pytest.mark.parametrize("name", ALL)
def test_step_is_in_place_keeps_float32_and_skips_missing_grads(name):
    make = CONFIGS[name]
    w = dg.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2), requires_grad=True)
    b = dg.tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    opt = make(optim, [w, b])
    data_before, version = w._data, w._version
    (dg.tanh(w).sum(0) * 2 + b * b).sum().backward()
    loss = opt.step(lambda: dg.tensor(1.5))
    assert float(loss) == 1.5
    assert w._data is data_before and w._version == version + 1
    assert w.is_leaf and w.grad_fn is None and w.requires_grad
    assert w.dtype == np.float32 and b.dtype == np.float32
    for state in opt.state.values():
        assert all(v.dtype == np.float32 and v.grad_fn is None
                   for v in state.values() if isinstance(v, dg.Tensor))
    opt.zero_grad()
    version, snapshot = w._version, _np(w)
    assert opt.step() is None
    assert w._version == version and np.array_equal(_np(w), snapshot)


def _device_run(make, device, steps=8):
    """Train a small model on ``device``; its parameters and state, as NumPy arrays."""
    arrays = _init_arrays(7)
    params = [dg.tensor(arrays[n], device=device, requires_grad=True) for n in ("W1", "b1")]
    x = dg.tensor(arrays["x"], device=device)
    opt = make(optim, params)
    for _ in range(steps):
        opt.zero_grad()
        (dg.tanh(x @ params[0] + params[1]) ** 2).mean().backward()
        opt.step()
    arrays = [p.detach().cpu().numpy() for p in params]
    for state in opt.state.values():
        arrays += [v.cpu().numpy() if isinstance(v, dg.Tensor) else np.float64(v)
                   for v in state.values()]
    return arrays


@pytest.mark.parametrize("name", ALL)
def test_device_code_path_on_fake_cuda_equals_cpu(name):
    """The update runs on a CuPy-like module (``fake_cupy``): no host arrays in device kernels."""
    cpu = _device_run(CONFIGS[name], "cpu")
    with fake_cupy.installed(n_devices=1):
        cuda = _device_run(CONFIGS[name], "cuda")
    assert len(cpu) == len(cuda)
    for a, b in zip(cpu, cuda):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15)


# -- errors ----------------------------------------------------------------------------------------
ERRORS = [
    ("Adamax", dict(lr=-1), "Invalid learning rate: -1"),
    ("Adamax", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("Adamax", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adamax", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adamax", dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    ("NAdam", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("NAdam", dict(eps=-1), "Invalid epsilon value: -1"),
    ("NAdam", dict(betas=(-0.1, 0.999)), "Invalid beta parameter at index 0: -0.1"),
    ("NAdam", dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    ("NAdam", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("NAdam", dict(momentum_decay=-0.004), "Invalid momentum_decay value: -0.004"),
    ("NAdam", dict(lr=-1, momentum_decay=-1), "Invalid learning rate: -1"),
    ("RAdam", dict(lr=-1e-3), "Invalid learning rate: -0.001"),
    ("RAdam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("RAdam", dict(betas=(1.5, 0.999)), "Invalid beta parameter at index 0: 1.5"),
    ("RAdam", dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    ("RAdam", dict(weight_decay=-1e-2), "Invalid weight_decay value: -0.01"),
    ("Adadelta", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("Adadelta", dict(rho=1.1), "Invalid rho value: 1.1"),
    ("Adadelta", dict(rho=-0.1), "Invalid rho value: -0.1"),
    ("Adadelta", dict(eps=-1e-6), "Invalid epsilon value: -1e-06"),
    ("Adadelta", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("ASGD", dict(lr=-0.01), "Invalid learning rate: -0.01"),
    ("ASGD", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("Rprop", dict(lr=-0.01), "Invalid learning rate: -0.01"),
    ("Rprop", dict(etas=(1.0, 1.2)), "Invalid eta values: 1.0, 1.2"),
    ("Rprop", dict(etas=(0.0, 1.2)), "Invalid eta values: 0.0, 1.2"),
    ("Rprop", dict(etas=(0.5, 1.0)), "Invalid eta values: 0.5, 1.0"),
]


@pytest.mark.parametrize("name, kwargs, message", ERRORS)
def test_value_errors(name, kwargs, message):
    with pytest.raises(ValueError) as info:
        getattr(optim, name)([dg.tensor([1.0], requires_grad=True)], **kwargs)
    assert str(info.value) == message


@pytest.mark.torch
@pytest.mark.parametrize("name, kwargs, message", ERRORS)
def test_value_errors_are_pytorchs(torch, name, kwargs, message):
    with pytest.raises(ValueError) as info:
        getattr(torch.optim, name)([torch.tensor([1.0], requires_grad=True)], **kwargs)
    assert str(info.value) == message


def test_rprop_has_no_weight_decay():
    with pytest.raises(TypeError):
        optim.Rprop([dg.tensor([1.0], requires_grad=True)], weight_decay=0.1)
