"""``distgrad.nn.utils.rnn`` (padding and packing variable-length sequences) and recurrent layers
on packed input, against PyTorch on the same float64 inputs: values, index tensors, gradients
and error messages."""
import numpy as np
import pytest

import distgrad as dg
from distgrad import nn
from distgrad.autograd import gradcheck
from distgrad.nn.utils import rnn as dg_rnn

torch = pytest.importorskip("torch")
torch_rnn = torch.nn.utils.rnn

pytestmark = pytest.mark.torch

LIBS = ((torch, torch_rnn), (dg, dg_rnn))


def _leaves(lib, arrays):
    return [lib.tensor(a, requires_grad=True) for a in arrays]


def _assert_same(mine, ref):
    assert tuple(mine.shape) == tuple(ref.shape)
    np.testing.assert_allclose(mine.detach().numpy(), ref.detach().numpy(), rtol=1e-10,
                               atol=1e-12)


def _compare(fn, arrays, seed=0):
    """Apply ``fn(lib, utils, *leaves)`` (returning one tensor) with both libraries, contract
    the result with the same weights, backpropagate; outputs and input gradients must agree."""
    rng = np.random.default_rng(seed)
    results = []
    for lib, utils in LIBS:
        leaves = _leaves(lib, arrays)
        out = fn(lib, utils, *leaves)
        if not results:
            weights = rng.standard_normal(tuple(out.shape))
        (out * lib.tensor(weights)).sum().backward()
        results.append((out, [t.grad for t in leaves]))
    (ref, ref_grads), (mine, grads) = results
    _assert_same(mine, ref)
    for g, rg in zip(grads, ref_grads):
        _assert_same(g, rg)


def _sequences(rng, lengths, *trailing):
    return [rng.standard_normal((n, *trailing)) for n in lengths]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, padding_side):
    seqs = _sequences(np.random.default_rng(0), [2, 4, 1], 3, 2)
    _compare(lambda lib, utils, *s: utils.pad_sequence(
        s, batch_first=batch_first, padding_value=-1.5, padding_side=padding_side), seqs)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted,lengths", [(True, [4, 3, 3, 1]), (False, [2, 4, 1, 3])])
def test_pack_padded_sequence_matches_torch(batch_first, enforce_sorted, lengths):
    x = np.random.default_rng(1).standard_normal((4, 5, 2) if batch_first else (5, 4, 2))
    packs = [utils.pack_padded_sequence(lib.tensor(x), lengths, batch_first=batch_first,
                                        enforce_sorted=enforce_sorted) for lib, utils in LIBS]
    (ref, mine) = packs
    assert isinstance(mine, dg_rnn.PackedSequence)
    for field in ("data", "batch_sizes", "sorted_indices", "unsorted_indices"):
        a, b = getattr(ref, field), getattr(mine, field)
        assert (a is None) == (b is None)
        if a is not None:
            assert b.dtype == (dg.float64 if field == "data" else dg.int64)
            np.testing.assert_array_equal(b.numpy(), a.numpy())

    def round_trip(lib, utils, t):
        packed = utils.pack_padded_sequence(t, lib.tensor(lengths), batch_first=batch_first,
                                            enforce_sorted=enforce_sorted)
        padded, lens = utils.pad_packed_sequence(packed, batch_first=batch_first,
                                                 padding_value=7.0, total_length=6)
        assert lens.tolist() == lengths
        return padded * 2

    _compare(round_trip, [x])


def test_unpad_and_unpack_sequence_match_torch():
    seqs = _sequences(np.random.default_rng(2), [3, 1, 4], 2)
    for batch_first in (False, True):
        outs = []
        for lib, utils in LIBS:
            padded = utils.pad_sequence([lib.tensor(s) for s in seqs], batch_first=batch_first)
            outs.append(utils.unpad_sequence(padded, lib.tensor([3, 1, 4]),
                                             batch_first=batch_first))
        assert tuple(padded.shape) == ((3, 4, 2) if batch_first else (4, 3, 2))  # PyTorch
        # transposes its argument in place when batch_first=False; distgrad leaves it alone
        for mine, ref in zip(outs[1], outs[0]):
            _assert_same(mine, ref)
    unpacked = dg_rnn.unpack_sequence(
        dg_rnn.pack_sequence([dg.tensor(s) for s in seqs], enforce_sorted=False))
    for mine, s in zip(unpacked, seqs):
        np.testing.assert_array_equal(mine.numpy(), s)


def test_packing_gradcheck_and_packed_sequence_methods():
    x = dg.randn(4, 3, 2, dtype=dg.float64, requires_grad=True)

    def round_trip(t):
        packed = dg_rnn.pack_padded_sequence(t, [2, 4, 1], enforce_sorted=False)
        return dg_rnn.pad_packed_sequence(packed, batch_first=True, padding_value=1.0)[0]

    assert gradcheck(round_trip, (x,))
    seqs = [dg.randn(n, 2, dtype=dg.float64, requires_grad=True) for n in (3, 1)]
    assert gradcheck(lambda *s: dg_rnn.pad_sequence(s, padding_side="left"), tuple(seqs))

    packed = dg_rnn.pack_sequence([dg.tensor([1.0, 2.0]), dg.tensor([3.0])])
    assert packed.sorted_indices is None and packed.unsorted_indices is None
    assert packed.to(dg.float32) is packed and not packed.is_cuda
    as_long = packed.long()
    assert as_long.data.dtype == dg.int64 and as_long.batch_sizes is packed.batch_sizes
    assert packed.double().data.dtype == dg.float64
    data, batch_sizes, _, _ = packed
    assert data.tolist() == [1.0, 3.0, 2.0] and batch_sizes.tolist() == [2, 1]
    assert dg_rnn.invert_permutation(dg.tensor([2, 0, 1])).tolist() == [1, 2, 0]
    assert dg_rnn.invert_permutation(None) is None


@pytest.mark.parametrize("call,message", [
    (lambda u, lib: u.pack_padded_sequence(lib.zeros(3, 2), [1, 2]),
     "must be sorted in decreasing order when `enforce_sorted` is True"),
    (lambda u, lib: u.pack_padded_sequence(lib.zeros(3, 2), [2, 0]),
     "Length of all samples has to be greater than 0"),
    (lambda u, lib: u.pack_padded_sequence(lib.zeros(3, 2), [3, 2, 1]),
     "Expected `len\\(lengths\\)` to be equal to batch_size, but got 3 \\(batch_size=2\\)"),
    (lambda u, lib: u.pad_packed_sequence(u.pack_padded_sequence(lib.zeros(3, 2), [3, 1]),
                                          total_length=2),
     "Expected total_length to be at least the length of the longest sequence in input, but "
     "got total_length=2 and max sequence length being 3"),
    (lambda u, lib: u.pad_sequence([]), "received an empty list of sequences"),
    (lambda u, lib: u.pad_sequence([lib.zeros(2)], padding_side="mid"),
     "Expected padding_side to be one of left or right, but got mid."),
    (lambda u, lib: u.pad_sequence(3), "pad_sequence: Expected iterable for input sequences"),
])
def test_errors_match_torch(call, message):
    for lib, utils in LIBS:
        with pytest.raises((RuntimeError, ValueError), match=message) as info:
            call(utils, lib)
        if lib is torch:
            expected = info.type
    assert info.type is expected


def _twins(name, **kwargs):
    ref = getattr(torch.nn, name)(3, 4, **kwargs).double()
    mine = getattr(nn, name)(3, 4, **kwargs, dtype=dg.float64)
    mine.load_state_dict({k: dg.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    return mine, ref


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers,bidirectional,enforce_sorted", [(1, False, True),
                                                                  (2, True, False)])
@pytest.mark.parametrize("with_hx", [False, True])
def test_recurrent_layers_on_packed_input_match_torch(name, layers, bidirectional,
                                                      enforce_sorted, with_hx):
    """Packed in, packed out: padded outputs, final states at each sequence's own length, and
    the gradients of the input, the initial states and every parameter."""
    rng = np.random.default_rng(3)
    lengths = [5, 3, 3, 1] if enforce_sorted else [2, 5, 1, 3]
    mine, ref = _twins(name, num_layers=layers, bidirectional=bidirectional)
    state_shape = (layers * (2 if bidirectional else 1), 4, 4)
    arrays = [rng.standard_normal((5, 4, 3))]
    if with_hx:
        arrays += [rng.standard_normal(state_shape) for _ in range(2 if name == "LSTM" else 1)]
    results = []
    for (lib, utils), module in zip(LIBS, (ref, mine)):
        x, *hx = _leaves(lib, arrays)
        packed = utils.pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
        out, h_n = module(packed, (tuple(hx) if name == "LSTM" else hx[0]) if hx else None)
        assert type(out).__name__ == "PackedSequence"
        padded, _ = utils.pad_packed_sequence(out)
        outs = [padded, *(h_n if name == "LSTM" else (h_n,))]
        if not results:
            weights = [rng.standard_normal(tuple(o.shape)) for o in outs]
        sum((o * lib.tensor(w)).sum() for o, w in zip(outs, weights)).backward()
        grads = [t.grad for t in (x, *hx)] + [p.grad for _, p in module.named_parameters()]
        results.append(outs + grads)
    for a, b in zip(*results):
        _assert_same(b, a)


def test_packed_final_states_are_at_each_true_length():
    """h_n of a packed batch equals running each sequence alone; a packed GRU passes
    gradcheck."""
    gru = nn.GRU(2, 3, bidirectional=True, dtype=dg.float64)
    seqs = [dg.randn(n, 2, dtype=dg.float64) for n in (2, 4, 1)]
    _, h_n = gru(dg_rnn.pack_sequence(seqs, enforce_sorted=False))
    for i, s in enumerate(seqs):
        _, h_alone = gru(s)
        np.testing.assert_allclose(h_n[:, i].detach().numpy(), h_alone.detach().numpy(),
                                   rtol=1e-12)
    x = dg.randn(3, 2, 2, dtype=dg.float64, requires_grad=True)
    assert gradcheck(lambda t: gru(dg_rnn.pack_padded_sequence(t, [1, 3],
                                                               enforce_sorted=False))[0].data,
                     (x,))


def test_recurrent_errors_match_torch():
    mine, ref = _twins("LSTM")
    for module, lib in ((ref, torch), (mine, dg)):
        with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0"):
            module(lib.zeros(0, 2, 3, dtype=lib.float64))
        with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 2, 4\), got "
                                               r"\[1, 3, 4\]"):
            module(lib.zeros(2, 2, 3, dtype=lib.float64),
                   (lib.zeros(1, 3, 4, dtype=lib.float64),) * 2)
    # PyTorch does not check the states of a packed batch (it broadcasts them); distgrad does
    packed = dg_rnn.pack_sequence([dg.zeros(2, 3, dtype=dg.float64)])
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 1, 4\)"):
        mine(packed, (dg.zeros(1, 1, 4, dtype=dg.float64), dg.zeros(1, 2, 4, dtype=dg.float64)))
