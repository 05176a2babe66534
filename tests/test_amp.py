"""distgrad.amp: GradScaler against PyTorch's on the same losses (scales, skipped steps on
overflow, backoff and growth, the parameters, the state dict), its misuse errors, the disabled
and no-GPU modes; autocast runs its region unchanged and warns once."""
import warnings

import numpy as np
import pytest

import distgrad as dg
from distgrad.amp import GradScaler


def _run(lib, scaler_cls, overflow_steps, steps=7):
    p = lib.nn.Parameter(lib.tensor([1.0, -2.0, 0.5], dtype=lib.float32))
    opt = lib.optim.SGD([p], lr=0.1, momentum=0.9)
    scaler = scaler_cls("cpu", init_scale=8.0, growth_interval=2)
    trace = []
    for step in range(steps):
        opt.zero_grad()
        loss = (p * p * lib.tensor([1.0, 2.0, 3.0])).sum()
        scaler.scale(loss).backward()
        if step in overflow_steps:
            with lib.no_grad():
                p.grad[1] = float("inf") if step % 2 else float("nan")
        scaler.unscale_(opt)
        grads = p.grad.detach().numpy().copy()
        scaler.step(opt)
        scaler.update()
        trace.append((p.detach().numpy().copy(), grads, scaler.get_scale()))
    return trace, scaler.state_dict()


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    ours, our_state = _run(dg, GradScaler, {2, 3, 5})
    theirs, their_state = _run(torch, torch.amp.GradScaler, {2, 3, 5})
    for (p1, g1, s1), (p2, g2, s2) in zip(ours, theirs):
        np.testing.assert_allclose(p1, p2, rtol=1e-6, atol=1e-6)  # float32 rounding
        np.testing.assert_allclose(g1, g2, rtol=1e-6, atol=1e-6)
        assert s1 == s2
    their_state["_growth_tracker"] = int(their_state["_growth_tracker"])
    assert our_state == their_state


def test_overflow_skips_the_step_and_backs_off():
    trace, state = _run(dg, GradScaler, {1})
    assert np.array_equal(trace[1][0], trace[0][0])  # the step with an inf was skipped
    assert [s for _, _, s in trace][:4] == [8.0, 4.0, 4.0, 8.0]  # backoff, then growth
    scaler = GradScaler("cpu")
    scaler.load_state_dict(state)
    assert scaler.state_dict() == state


def test_misuse_errors():
    p = dg.nn.Parameter(dg.ones(2))
    opt = dg.optim.SGD([p], lr=0.1)
    scaler = GradScaler("cpu")
    with pytest.raises(RuntimeError, match="Attempted update but _scale is None"):
        scaler.update()
    scaler.scale((p * 2).sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called since the last"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) is being called after step"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        scaler.step(opt, closure=lambda: 0)
    with pytest.raises(ValueError, match="growth factor must be > 1.0"):
        GradScaler("cpu", growth_factor=1.0)
    half = dg.nn.Parameter(dg.ones(2, dtype=dg.float16))
    opt16 = dg.optim.SGD([half], lr=0.1)
    scaler = GradScaler("cpu", init_scale=2.0)
    scaler.scale((half * 2).sum()).backward()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        scaler.unscale_(opt16)


def test_disabled_and_without_a_gpu():
    loss = dg.ones(1, requires_grad=True).sum()
    off = GradScaler("cpu", enabled=False)
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}
    with pytest.warns(UserWarning, match="CUDA is not available.  Disabling"):
        cuda_scaler = dg.cuda.amp.GradScaler()
    assert not cuda_scaler.is_enabled()


def test_autocast_runs_the_region_unchanged_and_warns_once(monkeypatch):
    monkeypatch.setattr("distgrad.amp._warned", False)
    x = dg.ones(2, 2)
    with pytest.warns(UserWarning, match="no automatic mixed precision"):
        with dg.autocast("cpu", dtype=dg.float16):
            y = x @ x
    assert y.dtype == dg.float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with dg.amp.autocast("cuda"):
            pass

    @dg.autocast("cpu")
    def f(t):
        return t * 2
    assert f(x).tolist() == [[2.0, 2.0], [2.0, 2.0]]
    assert not dg.amp.is_autocast_available("cpu")
