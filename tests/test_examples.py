"""The examples run to completion and reach their published results / accuracy goals."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mpi_helpers import run_mpi

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_example(name, *args, timeout=240):
    res = subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)], cwd=ROOT,
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_thermometer_reproduces_the_book(tmp_path):
    out = run_example("thermometer.py", "--plot", tmp_path / "fit.png")
    assert "gradient at [1.0, 0.0]: [4517.2969, 82.6000]" in out
    assert "manual gradient descent: params [5.3671, -17.3012], loss 2.9276" in out
    assert "one optim.SGD step: params [1.7761, 0.1064]" in out
    assert "optim.SGD: params [5.3671, -17.3012], loss 2.9276" in out
    assert "optim.Adam on unnormalised t_u: params [0.5367, -17.3021], loss 2.9276" in out
    assert (tmp_path / "fit.png").stat().st_size > 1000


def test_linear_regression_recovers_coefficients():
    out = run_example("linear_regression.py")
    errors = [float(line.split()[-1]) for line in out.splitlines() if "max |a - a_true|" in line]
    assert len(errors) == 2 and max(errors) < 0.02


def _metrics(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_digits_mlp_accuracy_and_resume_bit_for_bit(tmp_path):
    pytest.importorskip("sklearn")
    full, part = tmp_path / "full", tmp_path / "part"
    out = run_example("digits.py", "--model", "mlp", "--out", full)
    acc = float(out.strip().splitlines()[-1].split()[-1].rstrip("%")) / 100
    assert acc >= 0.95, out
    assert (full / "metrics.png").exists() and (full / "checkpoint.npz").exists()
    # the second run builds its batches in worker threads: the same batches, the same training
    run_example("digits.py", "--model", "mlp", "--out", part, "--stop-after", "4")
    run_example("digits.py", "--model", "mlp", "--out", part, "--resume", "--workers", "2")
    keys = ("loss", "val_loss", "accuracy", "lr")
    assert [{k: m[k] for k in keys} for m in _metrics(part / "metrics.jsonl")] == \
           [{k: m[k] for k in keys} for m in _metrics(full / "metrics.jsonl")]


@pytest.mark.mpi
def test_digits_cnn_on_two_ranks(tmp_path):
    """Under mpiexec, with DDP, the sampler and DataLoader worker threads on every rank."""
    pytest.importorskip("sklearn")
    res = run_mpi(2, str(EXAMPLES / "digits.py"), "--model", "cnn", "--out", str(tmp_path),
                  "--workers", "2", timeout=300, env={"PYTHONPATH": f"{ROOT}:{EXAMPLES}"})
    assert res.returncode == 0, res.output
    final = [line for line in res.stdout.splitlines() if "final validation accuracy" in line]
    assert len(final) == 1  # printed by rank 0 only
    assert float(final[0].split()[-1].rstrip("%")) >= 97.0, res.output
    assert "2 rank(s)" in res.stdout


def test_nethook_demo(tmp_path):
    pytest.importorskip("sklearn")
    out = run_example("nethook_demo.py", "--out", tmp_path, "--epochs", "2")
    assert "layer 6  Linear     output (16, 10)" in out
    assert "accuracy drop when one channel of conv2 is zeroed" in out
    assert "d loss / d relu2 output: shape (64, 32, 8, 8)" in out
    assert (tmp_path / "conv1_feature_maps.png").stat().st_size > 1000


def _final_reversal(stdout):
    last = [line for line in stdout.splitlines() if line.startswith("step 300:")]
    assert len(last) == 1, stdout  # printed by rank 0 only
    words = last[0].replace("%", "").replace(",", "").split()
    return float(words[words.index("accuracy") + 1]), float(words[-1])


def test_transformer_learns_to_reverse_sequences():
    token, sequences = _final_reversal(run_example("reverse_transformer.py"))
    assert token >= 99.0 and sequences >= 95.0


@pytest.mark.mpi
def test_transformer_example_on_two_ranks():
    res = run_mpi(2, str(EXAMPLES / "reverse_transformer.py"), timeout=300,
                  env={"PYTHONPATH": f"{ROOT}:{EXAMPLES}"})
    assert res.returncode == 0, res.output
    token, sequences = _final_reversal(res.stdout)
    assert token >= 99.0 and sequences >= 95.0
