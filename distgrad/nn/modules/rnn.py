"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their single-step cells, with PyTorch's
parameter names, shapes, initialisation and gate order (LSTM: i, f, g, o; GRU: r, z, n).

The input-to-hidden products of a whole sequence are one ``linear`` call; each time step then
adds the hidden-to-hidden product and applies the gates, composed of differentiable ops. The
layers run over packed steps (``PackedSequence``'s layout); a plain batch is packed for free, as
sequences of one length.
"""
from __future__ import annotations

import math

from ... import ops
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _rnn_step(activation):
    def step(xw, state, w_hh, b_hh):
        (h,) = state
        return (activation(xw + F.linear(h, w_hh, b_hh)),)
    return step


def _lstm_step(xw, state, w_hh, b_hh):
    h, c = state
    i, f, g, o = (xw + F.linear(h, w_hh, b_hh)).chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def _gru_step(xw, state, w_hh, b_hh):
    (h,) = state
    x_r, x_z, x_n = xw.chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r = (x_r + h_r).sigmoid()
    z = (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return ((1 - z) * n + z * h,)


_STEPS = {"RNN_TANH": _rnn_step(ops.tanh), "RNN_RELU": _rnn_step(ops.relu), "LSTM": _lstm_step,
          "GRU": _gru_step}


def _projected(step, w_hr):
    """The LSTM ``step`` with its new hidden state projected by ``w_hr`` (``proj_size``)."""
    def projected(xw, state, w_hh, b_hh):
        h, c = step(xw, state, w_hh, b_hh)
        return F.linear(h, w_hr), c
    return projected


def _uniform_init(module, hidden_size):
    stdv = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0
    for weight in module.parameters():
        init.uniform_(weight, -stdv, stdv)


def _with_batch(module, input, ndim, axis):
    """``input`` with a batch dimension at ``axis`` (added when it has ``ndim - 1`` dims) and
    whether it had one."""
    if input.dim() not in (ndim - 1, ndim):
        raise ValueError(f"{type(module).__name__}: Expected input to be {ndim - 1}D or {ndim}D, "
                         f"got {input.dim()}D instead")
    batched = input.dim() == ndim
    return (input if batched else input.unsqueeze(axis)), batched


def _zero_states(shapes, like):
    """Zero initial states of the given ``shapes``: ``(h,)``, or ``(h, c)`` for an LSTM."""
    return tuple(ops.zeros(shape, dtype=like.dtype, device=like.device) for shape in shapes)


def _forward_scan(step, xw, state, w_hh, b_hh, batch_sizes):
    """Run ``step`` left to right over the packed input products ``xw``: step ``t`` advances
    the first ``batch_sizes[t]`` sequences, so a sequence that has ended keeps its last state.
    Returns the outputs of every step and the final states."""
    outputs, ended, start = [], [], 0
    for size in batch_sizes:
        if size < state[0].shape[0]:
            ended.append(tuple(s[size:] for s in state))
            state = tuple(s[:size] for s in state)
        state = step(xw[start:start + size], state, w_hh, b_hh)
        outputs.append(state[0])
        start += size
    if ended:
        state = tuple(ops.cat([s, *(e[i] for e in reversed(ended))]) for i, s in enumerate(state))
    return outputs, state


def _reverse_scan(step, xw, initial, w_hh, b_hh, batch_sizes):
    """Run ``step`` right to left over the packed input products ``xw``: each sequence starts
    from its ``initial`` state at its own last step. Returns the outputs of every step (in time
    order) and the final states."""
    outputs, state, end = [], (), xw.shape[0]
    for size in reversed(batch_sizes):
        running = state[0].shape[0] if state else 0
        if size > running:
            joining = tuple(s[running:size] for s in initial)
            state = tuple(ops.cat([s, j]) for s, j in zip(state, joining)) if state else joining
        state = step(xw[end - size:end], state, w_hh, b_hh)
        outputs.append(state[0])
        end -= size
    outputs.reverse()
    return outputs, state


def _permute(states, indices):
    """``states`` with their batch dimension (1) reordered by ``indices`` (as they are for
    None)."""
    return states if indices is None else tuple(s.index_select(1, indices) for s in states)


def _rnn_mode(nonlinearity):
    if nonlinearity == "tanh":
        return "RNN_TANH"
    if nonlinearity == "relu":
        return "RNN_RELU"
    raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")


class RNNBase(Module):
    """The multi-layer, optionally bidirectional recurrent layer behind ``RNN``, ``LSTM`` and
    ``GRU``. Parameters per layer ``k`` and direction: ``weight_ih_l{k}``, ``weight_hh_l{k}``,
    ``bias_ih_l{k}``, ``bias_hh_l{k}``, and ``weight_hr_l{k}`` for an LSTM with ``proj_size``
    (suffix ``_reverse`` for the backward direction)."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        out_size = proj_size or hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else out_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, out_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name + suffix,
                            Parameter(ops.empty(shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(name + suffix)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _uniform_init(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """A no-op kept for PyTorch code (cuDNN's packed weights do not exist here)."""

    @property
    def all_weights(self) -> list:
        """The parameters as one list per layer and direction: ``[w_ih, w_hh, b_ih, b_hh]``
        (without the biases when ``bias=False``; then ``w_hr`` with ``proj_size``)."""
        names = self._flat_weights_names
        per = len(names) // (self.num_layers * (2 if self.bidirectional else 1))
        return [[getattr(self, n) for n in names[i:i + per]] for i in range(0, len(names), per)]

    def _weights(self, layer, direction):
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        get = self._parameters.get
        return (get("weight_ih" + suffix), get("weight_hh" + suffix), get("bias_ih" + suffix),
                get("bias_hh" + suffix), get("weight_hr" + suffix))

    def forward(self, input, hx=None):
        """Run the sequence ``input`` (``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first``,
        unbatched ``(L, H_in)``, or a ``PackedSequence``); returns ``(output, h_n)``
        (``(output, (h_n, c_n))`` for LSTM). A packed input gives a packed output, and ``h_n``
        holds each sequence's state at its own last step. With ``proj_size``, ``output`` and
        ``h_n`` have ``proj_size`` features."""
        lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        if packed:
            x, batch_sizes, batched = input.data, input.batch_sizes.tolist(), True
        else:
            x, batched = _with_batch(self, input, 3, 1)
            if batched and self.batch_first:
                x = x.transpose(0, 1)
            if x.shape[0] == 0:
                raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
            batch_sizes = [x.shape[1]] * x.shape[0]
            x = x.flatten(0, 1)
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {x.shape[-1]}")
        states = self._initial_states(hx, lstm, batched, self._state_shapes(batch_sizes[0]), x)
        if packed:
            states = _permute(states, input.sorted_indices)
        out, finals = self._layers(x, states, batch_sizes)
        if packed:
            out = PackedSequence(out, input.batch_sizes, input.sorted_indices,
                                 input.unsorted_indices)
            finals = _permute(finals, input.unsorted_indices)
        else:
            out = out.unflatten(0, (len(batch_sizes), batch_sizes[0]))
            if not batched:
                out, finals = out.squeeze(1), tuple(s.squeeze(1) for s in finals)
            elif self.batch_first:
                out = out.transpose(0, 1)
        return out, (finals if lstm else finals[0])

    def _layers(self, x, states, batch_sizes):
        """Run every layer and direction over the packed steps ``x``; returns the last layer's
        packed outputs and the final states stacked per layer and direction."""
        step = _STEPS[self.mode]
        directions = 2 if self.bidirectional else 1
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, direction)
                state = tuple(s[layer * directions + direction] for s in states)
                scan = _reverse_scan if direction else _forward_scan
                seq, state = scan(step if w_hr is None else _projected(step, w_hr),
                                  F.linear(x, w_ih, b_ih), state, w_hh, b_hh, batch_sizes)
                outputs.append(ops.cat(seq))
                finals.append(state)
            x = outputs[0] if directions == 1 else ops.cat(outputs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        return x, tuple(ops.stack(s) for s in zip(*finals))

    def _state_shapes(self, batch):
        """The shapes of the hidden (and cell) states for ``batch`` sequences."""
        lead = (self.num_layers * (2 if self.bidirectional else 1), batch)
        hidden = lead + (self.proj_size or self.hidden_size,)
        return (hidden, lead + (self.hidden_size,)) if self.mode == "LSTM" else (hidden,)

    def _initial_states(self, hx, lstm, batched, shapes, x):
        """The initial hidden (and cell) states as a tuple of tensors of ``shapes``."""
        if hx is None:
            return _zero_states(shapes, x)
        given = tuple(hx) if lstm else (hx,)
        if not batched:
            given = tuple(h.unsqueeze(1) for h in given)
        for i, (h, shape) in enumerate(zip(given, shapes)):
            if tuple(h.shape) != shape:
                which = f"hidden[{i}]" if lstm else "hidden"
                raise RuntimeError(f"Expected {which} size {shape}, got {list(h.shape)}")
        return given

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


def _no_projections(proj_size):
    """PyTorch's error for a ``proj_size`` given to ``RNN`` or ``GRU`` (even 0)."""
    if proj_size is not None:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or ``relu``)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None, *,
                 proj_size=None):
        _no_projections(proj_size)
        super().__init__(_rnn_mode(nonlinearity), input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory; returns ``(output, (h_n, c_n))``. With ``proj_size > 0`` each
    new hidden state is projected to ``proj_size`` features by ``weight_hr_l{k}``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit (PyTorch's formulation: ``n = tanh(W_in x + b_in + r * (W_hn h +
    b_hn))``)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, *, proj_size=None):
        _no_projections(proj_size)
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)


class RNNCellBase(Module):
    """One time step: parameters ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``."""

    def __init__(self, mode, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        self.mode, self.input_size, self.hidden_size, self.bias = mode, input_size, hidden_size, bias
        gate_size = _GATES[mode] * hidden_size
        self.weight_ih = Parameter(ops.empty((gate_size, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(ops.empty((gate_size, hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(ops.empty(gate_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(ops.empty(gate_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _uniform_init(self, self.hidden_size)

    def forward(self, input, hx=None):
        """One step from ``input`` (``(N, H_in)`` or ``(H_in,)``) and the previous state (zeros
        when None); returns the new hidden state (``(h, c)`` for LSTMCell)."""
        lstm = self.mode == "LSTM"
        x, batched = _with_batch(self, input, 2, 0)
        if hx is None:
            state = _zero_states([(x.shape[0], self.hidden_size)] * (2 if lstm else 1), x)
        else:
            state = tuple(hx) if lstm else (hx,)
            if not batched:
                state = tuple(h.unsqueeze(0) for h in state)
        state = _STEPS[self.mode](F.linear(x, self.weight_ih, self.bias_ih), state,
                                  self.weight_hh, self.bias_hh)
        if not batched:
            state = tuple(h.squeeze(0) for h in state)
        return state if lstm else state[0]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """One step of ``RNN``."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(_rnn_mode(nonlinearity), input_size, hidden_size, bias, device=device,
                         dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTMCell(RNNCellBase):
    """One step of ``LSTM``; returns ``(h, c)``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, device=device, dtype=dtype)


class GRUCell(RNNCellBase):
    """One step of ``GRU``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, device=device, dtype=dtype)
