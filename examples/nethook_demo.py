"""nethook on the digits CNN: trace every layer, plot feature maps, ablate channels, read an inner
gradient.

1. trains the digits CNN for a few epochs (or loads ``--checkpoint`` written by
   ``examples/digits.py --model cnn``),
2. records every layer's activations for a batch with ``TraceDict``,
3. plots the first convolution's feature maps for one image to a PNG,
4. ablates each channel of the second convolution with ``edit_output`` and reports the drop in
   validation accuracy per channel,
5. reads the gradient of the loss w.r.t. an inner activation with ``retain_grad=True``.

    python examples/nethook_demo.py [--out runs/nethook]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import distgrad as dg
import distgrad.nn.functional as F
from distgrad import nethook, optim
from distgrad.data import DataLoader

from digits import load_digits, make_model


def train(model, train_set, epochs):
    loader = DataLoader(train_set, batch_size=32, shuffle=True)
    opt = optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(epochs):
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()


def accuracy(model, x, y):
    with dg.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()


def zero_channel(ch):
    """An ``edit_output`` function that zeroes channel ``ch`` of a layer's output."""
    def edit(output):
        output = output.clone()
        output[:, ch] = 0
        return output
    return edit


def plot_feature_maps(path, image, maps):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 6, figsize=(9, 4.8), dpi=100)
    axes = axes.ravel()
    axes[0].imshow(image, cmap="gray_r")
    axes[0].set_title("input", fontsize=8)
    for i, ax in enumerate(axes[1:17]):
        ax.imshow(maps[i], cmap="viridis")
        ax.set_title(f"conv1 ch {i}", fontsize=8)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--checkpoint", help="a checkpoint.npz of examples/digits.py --model cnn")
    parser.add_argument("--out", default="runs/nethook")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    dg.manual_seed(0)
    train_set, val_set = load_digits()
    model = make_model("cnn")
    if args.checkpoint:
        model.load_state_dict(dg.load(args.checkpoint)["model"])
    else:
        train(model, train_set, args.epochs)
    model.eval()
    x_val, y_val = val_set.tensors
    base_acc = accuracy(model, x_val, y_val)
    print(f"layers: {nethook.module_names(model)}")
    print(f"validation accuracy {base_acc:.2%}")

    # 2. every layer's activations for a batch
    layers = [name for name in nethook.module_names(model) if name]
    with dg.no_grad(), nethook.TraceDict(model, layers) as traces:
        model(x_val[:16])
    for name in layers:
        print(f"  layer {name:2s} {type(nethook.get_module(model, name)).__name__:10s} "
              f"output {tuple(traces[name].output.shape)}")

    # 3. the first convolution's feature maps of one image
    png = out / "conv1_feature_maps.png"
    plot_feature_maps(png, x_val[0, 0].numpy(), traces["0"].output[0].numpy())
    print(f"saved {png}")

    # 4. ablate each channel of the second convolution
    drops = []
    for ch in range(32):
        with nethook.Trace(model, "2", edit_output=zero_channel(ch)):
            drops.append(base_acc - accuracy(model, x_val, y_val))
    order = np.argsort(drops)[::-1]
    print("accuracy drop when one channel of conv2 is zeroed (largest first):")
    print("  " + ", ".join(f"ch {i}: {drops[i]:+.2%}" for i in order[:8]) + ", ...")

    # 5. the gradient of the loss w.r.t. an inner activation
    with nethook.Trace(model, "3", retain_grad=True) as trace:
        loss = F.cross_entropy(model(x_val[:64]), y_val[:64])
        loss.backward()
    grad = trace.output.grad
    print(f"d loss / d relu2 output: shape {tuple(grad.shape)}, "
          f"mean |grad| {grad.abs().mean().item():.3e}")


if __name__ == "__main__":
    main()
