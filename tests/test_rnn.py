"""RNN, LSTM, GRU and their cells against PyTorch: same weights (loaded from PyTorch's
state_dict, whose keys must match), same inputs in float64; outputs, final states and the
gradients of inputs, initial states and every parameter must agree."""
import numpy as np
import pytest

import distgrad as dg
from distgrad import nn
from distgrad.autograd import gradcheck

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


def _twins(name, *args, **kwargs):
    ref = getattr(torch.nn, name)(*args, **kwargs).double()
    mine = getattr(nn, name)(*args, **kwargs, dtype=dg.float64)
    state = {k: dg.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()}
    assert list(state) == list(mine.state_dict())
    mine.load_state_dict(state)
    return mine, ref


def _compare(mine, ref, inputs, rng):
    """Run both on the same inputs (arrays, or tuples of arrays for LSTM states), contract every
    output with the same weights, backpropagate, compare outputs and all gradients."""
    def build(lib, arrays):
        out = []
        for a in arrays:
            if isinstance(a, tuple):
                out.append(tuple(lib.tensor(x, requires_grad=True) for x in a))
            else:
                out.append(None if a is None else lib.tensor(a, requires_grad=True))
        return out

    def leaves(ts):
        for t in ts:
            yield from (t if isinstance(t, tuple) else () if t is None else (t,))

    def flat(out):
        if isinstance(out, tuple):
            for o in out:
                yield from flat(o)
        else:
            yield out

    results = []
    weights = None
    for lib, module in ((torch, ref), (dg, mine)):
        ins = build(lib, inputs)
        outs = list(flat(module(*ins)))
        if weights is None:
            weights = [rng.standard_normal(tuple(o.shape)) for o in outs]
        sum(((o * lib.tensor(w)).sum() for o, w in zip(outs, weights))).backward()
        grads = [t.grad.numpy() for t in leaves(ins)]
        grads += [p.grad.numpy() for _, p in module.named_parameters()]
        results.append(([o.detach().numpy() for o in outs], grads))
    (t_outs, t_grads), (d_outs, d_grads) = results
    for a, b in zip(t_outs + t_grads, d_outs + d_grads):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers,bidirectional,batch_first", [(1, False, False), (2, True, True)])
def test_recurrent_layers_match_torch(name, layers, bidirectional, batch_first):
    rng = np.random.default_rng(0)
    mine, ref = _twins(name, 3, 4, num_layers=layers, bidirectional=bidirectional,
                       batch_first=batch_first)
    x = rng.standard_normal((2, 5, 3) if batch_first else (5, 2, 3))
    state_shape = (layers * (2 if bidirectional else 1), 2, 4)
    h0 = rng.standard_normal(state_shape)
    hx = (h0, rng.standard_normal(state_shape)) if name == "LSTM" else h0
    _compare(mine, ref, [x, hx], rng)
    _compare(mine, ref, [x, None], rng)  # zero initial state


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_unbatched_and_no_bias_match_torch(name):
    rng = np.random.default_rng(1)
    mine, ref = _twins(name, 3, 2, bias=False)
    _compare(mine, ref, [rng.standard_normal((4, 3))], rng)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(name):
    rng = np.random.default_rng(2)
    mine, ref = _twins(name, 3, 4)
    h = rng.standard_normal((2, 4))
    hx = (h, rng.standard_normal((2, 4))) if name == "LSTMCell" else h
    _compare(mine, ref, [rng.standard_normal((2, 3)), hx], rng)
    _compare(mine, ref, [rng.standard_normal(3), None], rng)


def test_gru_gradcheck_and_relu_rnn():
    gru = nn.GRU(2, 3, dtype=dg.float64)
    x = dg.randn(3, 1, 2, dtype=dg.float64, requires_grad=True)
    assert gradcheck(lambda t: gru(t)[0], (x,))
    rng = np.random.default_rng(3)
    mine, ref = _twins("RNN", 2, 3, nonlinearity="relu")
    _compare(mine, ref, [rng.standard_normal((4, 2, 2))], rng)


def test_recurrent_errors_and_repr():
    lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True)
    assert repr(lstm) == "LSTM(3, 4, num_layers=2, batch_first=True)"
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. "
                                           "Expected 3, got 5"):
        lstm(dg.randn(2, 4, 5))
    with pytest.raises(RuntimeError, match="Expected hidden size"):
        nn.GRU(3, 4)(dg.randn(5, 2, 3), dg.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
    out, (h, c) = nn.LSTM(3, 4, num_layers=2, dropout=0.5)(dg.randn(5, 2, 3))
    assert out.shape == (5, 2, 4) and h.shape == c.shape == (2, 2, 4)
