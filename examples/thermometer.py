"""Chapter 5 of "Deep Learning with PyTorch" in distgrad: fit a thermometer's unknown units.

t_c are temperatures in Celsius, t_u the same readings in unknown units; the model is
``t_c = w * t_u + b``. The script follows the book: manual gradient descent with
``params.grad.zero_()`` and updates under ``no_grad``, then ``optim.SGD``, then ``optim.Adam`` on
the unnormalised input, then a train/validation split with validation under ``no_grad``. It
prints the book's published results and saves a plot of the fit.

    python examples/thermometer.py [--plot thermometer.png]
"""
from __future__ import annotations

import argparse

import distgrad as dg
from distgrad import optim

T_C = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]
T_U = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]


def model(t_u, w, b):
    return w * t_u + b


def loss_fn(t_p, t_c):
    return ((t_p - t_c) ** 2).mean()


def manual_training_loop(n_epochs, learning_rate, params, t_u, t_c):
    """Gradient descent by hand: zero the grad, backward, update under no_grad."""
    for _ in range(n_epochs):
        if params.grad is not None:
            params.grad.zero_()
        loss = loss_fn(model(t_u, *params), t_c)
        loss.backward()
        with dg.no_grad():
            params -= learning_rate * params.grad
    return params, loss.item()


def optimizer_training_loop(n_epochs, optimizer, params, t_u, t_c):
    """The same loop with an optimizer doing the update."""
    for _ in range(n_epochs):
        loss = loss_fn(model(t_u, *params), t_c)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return params, loss.item()


def split_training_loop(n_epochs, optimizer, params, train_t_u, val_t_u, train_t_c, val_t_c):
    """Training with a held-out validation set evaluated under no_grad."""
    for epoch in range(1, n_epochs + 1):
        train_loss = loss_fn(model(train_t_u, *params), train_t_c)
        with dg.no_grad():
            val_loss = loss_fn(model(val_t_u, *params), val_t_c)
            assert not val_loss.requires_grad
        optimizer.zero_grad()
        train_loss.backward()
        optimizer.step()
        if epoch <= 3 or epoch % 500 == 0:
            print(f"  epoch {epoch:4d}, training loss {train_loss.item():.4f}, "
                  f"validation loss {val_loss.item():.4f}")
    return params


def fmt(params):
    return "[" + ", ".join(f"{v:.4f}" for v in params.tolist()) + "]"


def plot_fit(path, t_u, t_c, params):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with dg.no_grad():
        t_p = model(0.1 * t_u, *params)
    order = t_u.numpy().argsort()
    fig = plt.figure(dpi=120)
    plt.xlabel("Temperature (unknown units)")
    plt.ylabel("Temperature (°Celsius)")
    plt.plot(t_u.numpy()[order], t_p.numpy()[order], label="fit")
    plt.plot(t_u.numpy(), t_c.numpy(), "o", label="measured")
    plt.legend()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", default="thermometer.png", help="where to save the fit ('' to skip)")
    args = parser.parse_args(argv)

    t_c = dg.tensor(T_C)
    t_u = dg.tensor(T_U)
    t_un = 0.1 * t_u

    params = dg.tensor([1.0, 0.0], requires_grad=True)
    loss = loss_fn(model(t_u, *params), t_c)
    loss.backward()
    print(f"gradient at [1.0, 0.0]: {fmt(params.grad)}  (book: [4517.2969, 82.6000])")

    params, loss = manual_training_loop(5000, 1e-2, dg.tensor([1.0, 0.0], requires_grad=True),
                                        t_un, t_c)
    print(f"manual gradient descent: params {fmt(params)}, loss {loss:.4f}  "
          "(book: [5.3671, -17.3012], 2.9276)")

    params = dg.tensor([1.0, 0.0], requires_grad=True)
    one_step = optim.SGD([params], lr=1e-2)
    loss = loss_fn(model(t_un, *params), t_c)
    one_step.zero_grad()
    loss.backward()
    one_step.step()
    print(f"one optim.SGD step: params {fmt(params)}  (book: [1.7761, 0.1064])")

    params = dg.tensor([1.0, 0.0], requires_grad=True)
    params, loss = optimizer_training_loop(5000, optim.SGD([params], lr=1e-2), params, t_un, t_c)
    print(f"optim.SGD: params {fmt(params)}, loss {loss:.4f}  (book: [5.3671, -17.3012], 2.9276)")

    params = dg.tensor([1.0, 0.0], requires_grad=True)
    params, loss = optimizer_training_loop(2000, optim.Adam([params], lr=1e-1), params, t_u, t_c)
    print(f"optim.Adam on unnormalised t_u: params {fmt(params)}, loss {loss:.4f}  "
          "(book: [0.5367, -17.3021], 2.9276)")

    n_samples = t_u.shape[0]
    n_val = int(0.2 * n_samples)
    dg.manual_seed(0)
    shuffled = dg.randperm(n_samples)
    train_idx, val_idx = shuffled[:-n_val], shuffled[-n_val:]
    print(f"train/validation split: train {train_idx.tolist()}, validation {val_idx.tolist()}")
    params = dg.tensor([1.0, 0.0], requires_grad=True)
    split_training_loop(3000, optim.SGD([params], lr=1e-2), params, t_un[train_idx],
                        t_un[val_idx], t_c[train_idx], t_c[val_idx])
    print(f"  params {fmt(params)}")

    if args.plot:
        params = dg.tensor([1.0, 0.0], requires_grad=True)
        params, _ = optimizer_training_loop(5000, optim.SGD([params], lr=1e-2), params, t_un, t_c)
        plot_fit(args.plot, t_u, t_c, params.detach())
        print(f"saved the fit to {args.plot}")


if __name__ == "__main__":
    main()
