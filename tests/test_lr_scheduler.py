"""Learning-rate schedulers: PyTorch's lr sequences, state_dict round trips, errors."""
import warnings

import numpy as np
import pytest

import distgrad as dg
from distgrad import optim
from distgrad.optim import lr_scheduler

from test_optim import _init_arrays, _make_params, _np, _train, assert_saveable, through_save


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _two_group_optimizer(lib, opt_mod, kind="sgd"):
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([3.0], requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.01}]
    if kind == "sgd":
        return opt_mod.SGD(groups, lr=0.1, momentum=0.9)
    return opt_mod.Adam(groups, lr=0.1)


def _warmup_cosine(m, o):
    return m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=5),
                              m.CosineAnnealingLR(o, T_max=20, eta_min=1e-4)], milestones=[5])


def _scale(epoch):
    return 0.95 ** epoch


class _Halver:
    """A callable object (not a function): LambdaLR keeps its attributes in state_dict."""

    def __init__(self):
        self.every = 4

    def __call__(self, epoch):
        return 0.5 ** (epoch // self.every)


SCHEDULERS = {
    "step": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "step-default-gamma": lambda m, o: m.StepLR(o, 3),
    "multistep": lambda m, o: m.MultiStepLR(o, milestones=[5, 12, 12, 20], gamma=0.3),
    "exponential": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    "cosine-past-tmax": lambda m, o: m.CosineAnnealingLR(o, T_max=7),
    "lambda": lambda m, o: m.LambdaLR(o, lr_lambda=lambda e: 1.0 / (1 + e)),
    "lambda-per-group": lambda m, o: m.LambdaLR(o, [_scale, lambda e: (e % 5) + 1]),
    "lambda-object": lambda m, o: m.LambdaLR(o, _Halver()),
    "linear": lambda m, o: m.LinearLR(o),
    "linear-options": lambda m, o: m.LinearLR(o, start_factor=0.25, end_factor=0.75, total_iters=8),
    "linear-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=10),
    "warmup-cosine": _warmup_cosine,
    "sequential-three": lambda m, o: m.SequentialLR(
        o, [m.ExponentialLR(o, gamma=0.8), m.StepLR(o, step_size=3, gamma=0.5),
            m.CosineAnnealingLR(o, T_max=6)], milestones=[4, 10]),
}


def _lr_sequence(lib, opt_mod, sched_mod, make, steps=30):
    opt = _two_group_optimizer(lib, opt_mod)
    sched = make(sched_mod, opt)
    lrs = [list(sched.get_last_lr())]
    groups = [[g["lr"] for g in opt.param_groups]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(list(sched.get_last_lr()))
        groups.append([g["lr"] for g in opt.param_groups])
    return lrs, groups, opt, sched


@pytest.mark.torch
@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_lr_sequence_matches_pytorch(torch, name):
    make = SCHEDULERS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # no spurious warnings on our side
        ours, our_groups, opt, sched = _lr_sequence(dg, optim, lr_scheduler, make)
    theirs, their_groups, topt, tsched = _lr_sequence(torch, torch.optim,
                                                      torch.optim.lr_scheduler, make)
    assert ours == theirs                   # same float arithmetic: exactly equal
    assert our_groups == their_groups
    assert ours == our_groups
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.01]
    if hasattr(tsched, "base_lrs"):
        assert sched.base_lrs == tsched.base_lrs
    assert sched.last_epoch == tsched.last_epoch


@pytest.mark.torch
@pytest.mark.parametrize("kwargs, metrics", [
    (dict(mode="min", factor=0.5, patience=2, cooldown=1, min_lr=[0.02, 0.001]),
     [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]),
    (dict(mode="max", factor=0.1, patience=0, threshold=0.05, threshold_mode="abs", eps=1e-12),
     [0.1, 0.2, 0.22, 0.3, 0.3, 0.1, 0.5, 0.52, 0.5, 0.4, 0.6, 0.6]),
    (dict(), [1.0] * 30),
])
def test_reduce_lr_on_plateau_matches_pytorch(torch, kwargs, metrics):
    results = []
    for lib, opt_mod, sched_mod in ((dg, optim, lr_scheduler),
                                    (torch, torch.optim, torch.optim.lr_scheduler)):
        opt = _two_group_optimizer(lib, opt_mod)
        sched = sched_mod.ReduceLROnPlateau(opt, **kwargs)
        seq = []
        for metric in metrics:
            opt.step()
            sched.step(metric)
            seq.append((list(sched.get_last_lr()), sched.num_bad_epochs, sched.cooldown_counter,
                        sched.best))
        results.append(seq)
    assert results[0] == results[1]


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_state_dict_round_trip(name, tmp_path):
    make = SCHEDULERS[name]
    ours, _, opt, sched = _lr_sequence(dg, optim, lr_scheduler, make, steps=12)
    sd, opt_sd = sched.state_dict(), opt.state_dict()
    assert_saveable(sd)
    assert "optimizer" not in sd
    sd, opt_sd = through_save(sd, tmp_path), through_save(opt_sd, tmp_path)
    opt2 = _two_group_optimizer(dg, optim)
    sched2 = make(lr_scheduler, opt2)
    sched2.load_state_dict(sd)
    opt2.load_state_dict(opt_sd)
    assert sched2.get_last_lr() == sched.get_last_lr()
    for _ in range(20):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]


def test_lambda_state_dict_excludes_functions():
    opt = _two_group_optimizer(dg, optim)
    sd = lr_scheduler.LambdaLR(opt, lambda e: 0.5).state_dict()
    assert sd["lr_lambdas"] == [None, None] and "optimizer" not in sd
    assert sd["base_lrs"] == [0.1, 0.01] and sd["last_epoch"] == 0
    halver = _Halver()
    opt = _two_group_optimizer(dg, optim)
    sched = lr_scheduler.LambdaLR(opt, [halver, _scale])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"every": 4}, None]
    halver.every = 10
    sched.load_state_dict(sd)
    assert halver.every == 4


def test_training_resume_with_scheduler_is_bit_exact():
    """Adam + warm-up/cosine: checkpoint after 5 steps, resume in fresh objects, 5 more steps."""
    arrays = _init_arrays(5)

    def build(params):
        opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 3e-3}], lr=1e-2,
                         amsgrad=True)
        return opt, _warmup_cosine(lr_scheduler, opt)

    def run(opt, sched, params, steps):
        for _ in range(steps):
            _train(dg, opt, params, arrays, 1)
            sched.step()

    params = _make_params(dg, arrays)
    opt, sched = build(params)
    run(opt, sched, params, 5)
    opt_sd, sched_sd = opt.state_dict(), sched.state_dict()
    assert_saveable(opt_sd)
    assert_saveable(sched_sd)
    copies = [dg.tensor(_np(p), requires_grad=True) for p in params]
    opt2, sched2 = build(copies)
    sched2.load_state_dict(sched_sd)
    opt2.load_state_dict(opt_sd)
    run(opt, sched, params, 5)
    run(opt2, sched2, copies, 5)
    assert sched2.get_last_lr() == sched.get_last_lr()
    for p, q in zip(params, copies):
        assert np.array_equal(_np(p), _np(q))


def test_initial_lr_base_lrs_and_last_epoch():
    opt = _two_group_optimizer(dg, optim)
    sched = lr_scheduler.StepLR(opt, step_size=2)
    assert sched.base_lrs == [0.1, 0.01] and sched.last_epoch == 0
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert sched.get_last_lr() == [0.1, 0.01]
    opt.param_groups[0]["lr"] = 0.5           # a second scheduler keeps the recorded initial_lr
    assert lr_scheduler.ExponentialLR(opt, 0.5).base_lrs == [0.1, 0.01]
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(_two_group_optimizer(dg, optim), 2, last_epoch=3)
    # Resuming at an epoch keeps the current lr, then continues recursively from it
    # (PyTorch 2.13 gives exactly these values).
    resumed = lr_scheduler.CosineAnnealingLR(opt, T_max=10, last_epoch=3)
    assert resumed.last_epoch == 4 and resumed.get_last_lr() == [0.5, 0.01]
    opt.step()
    resumed.step()
    assert resumed.get_last_lr() == [0.38196601125010515, 0.0076393202250021035]


def test_warnings():
    opt = _two_group_optimizer(dg, optim)
    sched = lr_scheduler.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()
    opt = _two_group_optimizer(dg, optim)
    sched = lr_scheduler.ExponentialLR(opt, 0.5)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(3)
    assert sched.get_last_lr() == [0.1 * 0.5 ** 3, 0.01 * 0.5 ** 3]


def test_errors():
    opt = _two_group_optimizer(dg, optim)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), 2)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="Ending multiplicative factor"):
        lr_scheduler.LinearLR(opt, end_factor=1.5)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(opt, [_scale])
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode max2 is unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="max2")
    first = lr_scheduler.LinearLR(opt)
    second = lr_scheduler.ExponentialLR(opt, 0.9)
    with pytest.raises(ValueError, match="number of milestones"):
        lr_scheduler.SequentialLR(opt, [first, second], milestones=[])
    with pytest.raises(ValueError, match="same optimizer"):
        other = lr_scheduler.StepLR(_two_group_optimizer(dg, optim), 2)
        lr_scheduler.SequentialLR(opt, [first, other], milestones=[3])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.SequentialLR(opt, [first, lr_scheduler.ReduceLROnPlateau(opt)], [3])
