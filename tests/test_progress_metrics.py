"""distgrad.utils: progress output, metrics log, metrics plot."""
import io
import json
import math

import numpy as np
import pytest

import distgrad as dg
from distgrad.utils import progress as progress_mod
from distgrad.utils.metrics import MetricsLog, read_metrics
from distgrad.utils.progress import LogProgress, progress


def test_non_terminal_prints_plain_lines(capsys):
    bar = progress(range(100), desc="epoch 1")
    assert isinstance(bar, LogProgress) and len(bar) == 100
    for i in bar:
        bar.set_postfix(loss=1.0 / (i + 1), lr=0.01)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10  # every 10%
    assert lines[2].startswith("epoch 1: 30/100 [00:00, ") and "it/s]" in lines[2]
    assert lines[2].endswith("loss=0.03333, lr=0.01")
    assert lines[-1].startswith("epoch 1: 100/100 ")
    assert "\r" not in capsys.readouterr().err


def test_non_terminal_small_total_unknown_total_and_break(capsys):
    list(progress(range(3), desc="d"))
    assert [line.split(" [")[0] for line in capsys.readouterr().err.splitlines()] == \
        ["d: 1/3", "d: 2/3", "d: 3/3"]
    for _ in progress(iter(range(5)), desc="stream"):  # no len: one final line
        pass
    assert [line.split(" [")[0] for line in capsys.readouterr().err.splitlines()] == ["stream: 5"]
    for i in progress(range(100)):
        if i == 14:
            break
    assert capsys.readouterr().err.splitlines()[-1].startswith("14/100 [")


def test_time_interval_and_manual_update(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    with progress(total=1000, file=out, log_interval=5.0, unit="batch") as bar:
        for _ in range(3):
            clock[0] += 6.0
            bar.update(2)
    lines = out.getvalue().splitlines()
    assert lines == ["2/1000 [00:06, 3.00 s/batch]", "4/1000 [00:12, 3.00 s/batch]",
                     "6/1000 [00:18, 3.00 s/batch]"]


def test_disable_and_default_hook(capsys, monkeypatch):
    for _ in progress(range(10), disable=True):
        pass
    monkeypatch.setattr(progress_mod, "_default_disable", lambda: True)
    bar = progress(range(10))
    for _ in bar:
        bar.set_postfix(loss=1.0)
    assert capsys.readouterr().err == ""


def test_terminal_uses_tqdm():
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    out = Terminal()
    bar = progress(range(5), desc="tty", file=out)
    assert type(bar).__name__ == "tqdm"
    for _ in bar:
        bar.set_postfix(loss=0.5)
    assert "tty" in out.getvalue() and "\r" in out.getvalue()


def test_metrics_log_roundtrip(tmp_path):
    path = tmp_path / "metrics.jsonl"
    with MetricsLog(path) as log:
        log.log(step=1, epoch=0, loss=dg.tensor(0.5), accuracy=np.float32(0.25), lr=0.1)
        log.log(step=2, epoch=0, loss=math.nan, samples_per_s=1000.0, time=123.0, note="x")
        assert len(read_metrics(path)) == 2  # flushed line by line
    with MetricsLog(path) as log:  # appends
        log.log(step=3, loss=0.25)
    records = read_metrics(path)
    assert [r["step"] for r in records] == [1, 2, 3]
    assert records[0]["loss"] == 0.5 and records[0]["accuracy"] == 0.25 and records[0]["lr"] == 0.1
    assert isinstance(records[0]["time"], float)
    assert math.isnan(records[1]["loss"]) and records[1]["time"] == 123.0
    assert records[1]["note"] == "x"
    with open(path, "a") as f:  # a line torn by a crash is skipped
        f.write('{"step": 4, "lo')
    assert len(read_metrics(path)) == 3
    for line in path.read_text().splitlines()[:3]:
        json.loads(line)


def _records():
    return [{"step": s, "epoch": s // 5, "loss": 1.0 / s, "accuracy": s / 10, "time": float(s)}
            for s in range(1, 11)]


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    from distgrad.utils.plot import main, plot_metrics
    out = tmp_path / "m.png"
    assert plot_metrics(_records(), out) == out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    path = tmp_path / "metrics.jsonl"
    with MetricsLog(path) as log:
        for r in _records():
            log.log(**r)
    out2 = tmp_path / "cli.png"
    main([str(path), str(out2), "--keys", "loss"])  # python -m distgrad.utils.plot ...
    assert out2.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no numeric metrics"):
        plot_metrics([{"step": 1}], tmp_path / "none.png")


def test_plot_without_matplotlib(tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    from distgrad.utils.plot import plot_metrics
    with pytest.raises(ImportError, match=r'pip install "distgrad\[examples\]"'):
        plot_metrics(_records(), tmp_path / "m.png")
