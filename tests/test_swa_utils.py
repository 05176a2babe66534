"""distgrad.optim.swa_utils (AveragedModel, SWA and EMA averaging, SWALR, update_bn) against
PyTorch's torch.optim.swa_utils on the same weights, data and schedules."""
import numpy as np
import pytest

import distgrad as dg
from distgrad.optim import swa_utils

RNG = np.random.default_rng(0)
WEIGHTS = [(RNG.standard_normal((3, 4)), RNG.standard_normal(3)) for _ in range(4)]
BATCHES = [RNG.standard_normal((5, 4)) for _ in range(3)]


def _net(lib):
    return lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.BatchNorm1d(3)).double()


def _set(lib, net, w, b, shift=0.0):
    with lib.no_grad():
        net[0].weight.copy_(lib.tensor(w))
        net[0].bias.copy_(lib.tensor(b))
        net[1].running_mean.fill_(shift)


def _averaged(lib, mod, **kwargs):
    net = _net(lib)
    avg = mod.AveragedModel(net, **kwargs)
    for k, (w, b) in enumerate(WEIGHTS):
        _set(lib, net, w, b, shift=float(k))
        avg.update_parameters(net)
    return {k: v.detach().numpy().copy() for k, v in avg.state_dict().items()}


@pytest.mark.parametrize("kind", ["swa", "ema", "ema_multi", "swa_multi", "buffers"])
def test_averaged_model_matches_pytorch(kind):
    torch = pytest.importorskip("torch")
    results = []
    for lib, mod in ((dg, swa_utils), (torch, torch.optim.swa_utils)):
        kwargs = {"ema": {"avg_fn": mod.get_ema_avg_fn(0.9)},
                  "ema_multi": {"multi_avg_fn": mod.get_ema_multi_avg_fn(0.9)},
                  "swa_multi": {"multi_avg_fn": mod.get_swa_multi_avg_fn()},
                  "buffers": {"use_buffers": True}}.get(kind, {})
        results.append(_averaged(lib, mod, **kwargs))
    ours, theirs = results
    assert list(ours) == list(theirs)
    # PyTorch's in-place SWA divides with a float32 rounding of 1/n; distgrad's is exact
    rtol = 1e-6 if kind == "swa_multi" else 1e-12
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=rtol, err_msg=key)
    if kind in ("swa", "swa_multi"):  # the equal-weight mean of the four weights
        np.testing.assert_allclose(ours["module.0.weight"], np.mean([w for w, _ in WEIGHTS], 0),
                                   rtol=1e-13)
        assert ours["n_averaged"] == 4


def test_averaged_model_runs_its_copy_and_checks_arguments():
    net = dg.nn.Linear(2, 2)
    avg = swa_utils.AveragedModel(net)
    assert avg.module is not net
    x = dg.ones(1, 2)
    np.testing.assert_allclose(avg(x).detach().numpy(), net(x).detach().numpy())
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(net, avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())


@pytest.mark.parametrize("strategy, anneal_epochs", [("cos", 3), ("linear", 4), ("cos", 0)])
def test_swalr_matches_pytorch(strategy, anneal_epochs):
    torch = pytest.importorskip("torch")
    runs = []
    for lib, mod in ((dg, swa_utils), (torch, torch.optim.swa_utils)):
        p, q = lib.nn.Parameter(lib.zeros(1)), lib.nn.Parameter(lib.zeros(1))
        opt = lib.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.5}], lr=0.1)
        sched = mod.SWALR(opt, swa_lr=[0.05, 0.01], anneal_epochs=anneal_epochs,
                          anneal_strategy=strategy)
        lrs = []
        for _ in range(8):
            opt.step()
            sched.step()
            lrs.append(sched.get_last_lr())
        runs.append(lrs)
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12)


def test_swalr_argument_errors():
    opt = dg.optim.SGD([dg.nn.Parameter(dg.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy must by one of 'cos' or 'linear'"):
        swa_utils.SWALR(opt, 0.05, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
        swa_utils.SWALR(opt, 0.05, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length"):
        swa_utils.SWALR(opt, [0.05, 0.01])


def test_update_bn_matches_pytorch():
    torch = pytest.importorskip("torch")
    stats = []
    for lib, mod in ((dg, swa_utils), (torch, torch.optim.swa_utils)):
        net = _net(lib)
        _set(lib, net, *WEIGHTS[0], shift=3.0)
        net.eval()
        loader = [(lib.tensor(x), lib.tensor(0)) for x in BATCHES]
        mod.update_bn(loader, net)
        assert not net.training and net[1].momentum == 0.1
        stats.append([net[1].running_mean.numpy().copy(), net[1].running_var.numpy().copy(),
                      int(net[1].num_batches_tracked)])
    np.testing.assert_allclose(stats[0][0], stats[1][0], rtol=1e-12)
    np.testing.assert_allclose(stats[0][1], stats[1][1], rtol=1e-12)
    assert stats[0][2] == stats[1][2]
