"""Linear regression with ``nn.Parameter``: full-batch gradient descent against mini-batch SGD.

Data: ``y = x @ a_true + noise``. Both loops update the parameter by hand, ``a.sub_(lr * a.grad)``
and ``a.grad.zero_()`` under ``no_grad``, and report the error of the recovered coefficients.

    python examples/linear_regression.py
"""
from __future__ import annotations

import argparse

import distgrad as dg
from distgrad import nn


def make_data(n, d, noise, seed):
    dg.manual_seed(seed)
    x = dg.randn(n, d)
    a_true = dg.randn(d, 1)
    y = x @ a_true + noise * dg.randn(n, 1)
    return x, y, a_true


def mse(a, x, y):
    return ((x @ a - y) ** 2).mean()


def batch_gradient_descent(x, y, steps, lr):
    """Every step uses the whole data set."""
    a = nn.Parameter(dg.zeros(x.shape[1], 1))
    for _ in range(steps):
        loss = mse(a, x, y)
        loss.backward()
        with dg.no_grad():
            a.sub_(lr * a.grad)
            a.grad.zero_()
    return a, loss.item()


def minibatch_sgd(x, y, epochs, lr, batch_size):
    """Each step uses a random mini-batch; an epoch visits every sample once."""
    a = nn.Parameter(dg.zeros(x.shape[1], 1))
    n = x.shape[0]
    for _ in range(epochs):
        perm = dg.randperm(n)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            loss = mse(a, x[idx], y[idx])
            loss.backward()
            with dg.no_grad():
                a.sub_(lr * a.grad)
                a.grad.zero_()
    return a, mse(a, x, y).item()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--features", type=int, default=5)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x, y, a_true = make_data(args.samples, args.features, args.noise, args.seed)
    a_bgd, loss_bgd = batch_gradient_descent(x, y, steps=200, lr=0.1)
    a_sgd, loss_sgd = minibatch_sgd(x, y, epochs=5, lr=0.05, batch_size=32)
    for name, a, loss in (("batch gradient descent (200 steps)", a_bgd, loss_bgd),
                          ("mini-batch SGD (5 epochs, batch 32)", a_sgd, loss_sgd)):
        err = (a.detach() - a_true).abs().max().item()
        print(f"{name:38s} loss {loss:.5f}  max |a - a_true| {err:.4f}")
    print(f"noise variance (the best achievable loss): {args.noise ** 2:.5f}")


if __name__ == "__main__":
    main()
