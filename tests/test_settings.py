"""The switches PyTorch scripts set: compile (returns its argument, also as a decorator with and
without arguments), the deterministic-algorithms and matmul-precision switches, and
distgrad.backends' flags (importable as modules, as PyTorch scripts import them)."""
import pytest

import distgrad as dg


def test_compile_returns_its_argument():
    model = dg.nn.Linear(2, 2)
    assert dg.compile(model) is model

    @dg.compile
    def f(x):
        return x + 1

    @dg.compile(mode="max-autotune", fullgraph=True)
    def g(x):
        return x * 2
    assert f(1) == 2 and g(3) == 6


def test_switches_are_kept(monkeypatch):
    monkeypatch.setattr("distgrad.settings._deterministic", {"enabled": False, "warn_only": False})
    monkeypatch.setattr("distgrad.settings._precision", ["highest"])
    dg.use_deterministic_algorithms(True, warn_only=True)
    assert dg.are_deterministic_algorithms_enabled()
    assert dg.is_deterministic_algorithms_warn_only_enabled()
    dg.set_float32_matmul_precision("high")
    assert dg.get_float32_matmul_precision() == "high"
    with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
        dg.set_float32_matmul_precision("fastest")
    assert dg.get_float32_matmul_precision() == "high"


def test_backends_flags_as_in_pytorch_scripts(monkeypatch):
    import distgrad.backends.cudnn as cudnn
    monkeypatch.setattr(cudnn, "benchmark", cudnn.benchmark)
    cudnn.benchmark = True
    assert dg.backends.cudnn.benchmark is True and not dg.backends.cudnn.is_available()
    assert dg.backends.cudnn.enabled and not dg.backends.cudnn.deterministic
    assert dg.backends.cuda.matmul.allow_tf32 is False
