"""Plot a metrics log (see ``distgrad.utils.metrics``): each metric against the step, one panel
per metric, to a PNG.

    python -m distgrad.utils.plot metrics.jsonl out.png [--keys loss accuracy] [--x step]

Needs matplotlib (``pip install "distgrad[examples]"``), imported on first use; drawing goes
through the Agg canvas directly, so no display and no global backend switch are involved.
"""
from __future__ import annotations

import argparse
import os

from .metrics import read_metrics

_NOT_METRICS = ("step", "epoch", "time")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def plot_metrics(path_or_records, out_png, keys=None, x="step"):
    """Plot ``keys`` (default: every numeric key except step, epoch and time) against ``x`` from a
    metrics log path or a list of records; writes ``out_png`` and returns its path."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError('plot_metrics needs matplotlib: pip install "distgrad[examples]"') from exc
    if isinstance(path_or_records, (str, os.PathLike)):
        records = read_metrics(path_or_records)
    else:
        records = list(path_or_records)
    if keys is None:
        names = dict.fromkeys(key for record in records for key in record)
        keys = [key for key in names if key not in _NOT_METRICS and key != x
                and any(_is_number(record.get(key)) for record in records)]
    if not keys:
        raise ValueError("plot_metrics: no numeric metrics to plot")
    fig = Figure(figsize=(7, 1 + 2.2 * len(keys)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(keys), 1, sharex=True, squeeze=False)[:, 0]
    for ax, key in zip(axes, keys):
        points = [(record.get(x, i), record[key]) for i, record in enumerate(records)
                  if _is_number(record.get(key))]
        if points:
            ax.plot(*zip(*points), marker="." if len(points) < 50 else None)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel(x if any(x in record for record in records) else "record")
    fig.savefig(out_png, dpi=120)
    return out_png


def main(argv=None) -> None:
    """Command line: plot a metrics log to a PNG."""
    parser = argparse.ArgumentParser(prog="python -m distgrad.utils.plot",
                                     description="Plot a distgrad metrics log (JSON lines) to a PNG.")
    parser.add_argument("metrics", help="metrics log written by distgrad.utils.metrics.MetricsLog")
    parser.add_argument("out", help="output PNG path")
    parser.add_argument("--keys", nargs="+", help="metrics to plot (default: all numeric ones)")
    parser.add_argument("--x", default="step", help="key for the horizontal axis (default: step)")
    args = parser.parse_args(argv)
    try:
        print(plot_metrics(args.metrics, args.out, keys=args.keys, x=args.x))
    except (ImportError, OSError, ValueError) as exc:
        parser.exit(1, f"{parser.prog}: error: {exc}\n")


if __name__ == "__main__":
    main()
