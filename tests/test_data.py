"""distgrad.data: datasets, samplers, DataLoader batching/shuffling and collate."""
from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import distgrad as dg
from distgrad.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset,
                           RandomSampler, SequentialSampler, Subset, TensorDataset, default_collate,
                           random_split)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i * i


def tensor_dataset(n=10):
    x = dg.tensor(np.arange(n * 3, dtype=np.float32).reshape(n, 3))
    y = dg.tensor(np.arange(n))
    return TensorDataset(x, y)


def flat(loader):
    """The batches of a loader as nested lists of NumPy arrays."""
    return [[np.asarray(t._data) for t in batch] for batch in loader]


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for ba, bb in zip(a, b):
        for ta, tb in zip(ba, bb):
            assert ta.dtype == tb.dtype
            np.testing.assert_array_equal(ta, tb)


# -- datasets ---------------------------------------------------------------------------------
def test_tensor_dataset():
    ds = tensor_dataset(4)
    assert len(ds) == 4
    x, y = ds[2]
    np.testing.assert_array_equal(x._data, [6, 7, 8])
    assert y.item() == 2
    with pytest.raises(ValueError, match="Size mismatch between tensors"):
        TensorDataset(dg.zeros(3, 2), dg.zeros(4))


def test_subset_and_concat():
    sub = Subset(Squares(10), [3, 1, 4])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [9, 1, 16]
    cat = ConcatDataset([Squares(3), Squares(2)])
    assert len(cat) == 5
    assert [cat[i] for i in range(5)] == [0, 1, 4, 0, 1]
    assert cat[-1] == 1 and cat[-5] == 0
    with pytest.raises(IndexError):
        cat[5]
    assert len(Squares(3) + Squares(4)) == 7


def test_random_split_lengths_and_fractions():
    ds = Squares(10)
    dg.manual_seed(0)
    a, b, c = random_split(ds, [5, 3, 2])
    assert [len(a), len(b), len(c)] == [5, 3, 2]
    idx = a.indices + b.indices + c.indices
    assert sorted(idx) == list(range(10))  # disjoint and complete
    dg.manual_seed(0)
    assert random_split(ds, [5, 3, 2])[0].indices == a.indices  # reproducible with a seed
    g = dg.Generator().manual_seed(1)
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=g)
    assert [len(p) for p in parts] == [5, 3, 2]
    parts = random_split(Squares(11), [0.5, 0.5])  # remainder goes to the first parts
    assert [len(p) for p in parts] == [6, 5]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(11))
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [5, 4])


# -- samplers ---------------------------------------------------------------------------------
def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    g = dg.Generator().manual_seed(3)
    perm = list(RandomSampler(range(8), generator=g))
    assert sorted(perm) == list(range(8))
    draws = list(RandomSampler(range(3), replacement=True, num_samples=20, generator=g))
    assert len(draws) == 20 and set(draws) <= {0, 1, 2}
    assert len(list(RandomSampler(range(3), num_samples=7))) == 7
    bs = BatchSampler(SequentialSampler(range(7)), 3, drop_last=False)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6]] and len(bs) == 3
    bs = BatchSampler(SequentialSampler(range(7)), 3, drop_last=True)
    assert list(bs) == [[0, 1, 2], [3, 4, 5]] and len(bs) == 2


# -- DataLoader -------------------------------------------------------------------------------
def test_loader_order_batching_drop_last():
    loader = DataLoader(Squares(7), batch_size=3)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert batches[0].tolist() == [0, 1, 4] and batches[2].tolist() == [36]
    assert batches[0].dtype == np.int64
    loader = DataLoader(Squares(7), batch_size=3, drop_last=True)
    assert len(loader) == 2 and [b.tolist() for b in loader] == [[0, 1, 4], [9, 16, 25]]
    assert isinstance(loader.sampler, SequentialSampler)
    assert isinstance(DataLoader(Squares(3), shuffle=True).sampler, RandomSampler)


def test_loader_shuffle_reproducible_with_seed():
    loader = DataLoader(tensor_dataset(10), batch_size=4, shuffle=True)
    dg.manual_seed(42)
    first = flat(loader)
    second = flat(loader)  # the next epoch draws a new permutation
    dg.manual_seed(42)
    assert_same_batches(first, flat(loader))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first, second))
    labels = np.concatenate([b[1] for b in first])
    assert sorted(labels.tolist()) == list(range(10))


def test_loader_shuffle_reproducible_with_generator():
    def epoch(seed):
        g = dg.Generator().manual_seed(seed)
        return flat(DataLoader(tensor_dataset(10), batch_size=3, shuffle=True, generator=g))
    dg.manual_seed(0)
    a = epoch(5)
    dg.manual_seed(1)  # the default generator does not matter
    assert_same_batches(a, epoch(5))
    assert not np.array_equal(np.concatenate([b[1] for b in a]),
                              np.concatenate([b[1] for b in epoch(6)]))


def test_tensor_dataset_fast_path_matches_generic_path():
    ds = tensor_dataset(11)

    def generic(batch):  # the same collate, but not `is default_collate`: no fast path
        return default_collate(batch)

    for shuffle in (False, True):
        for drop_last in (False, True):
            dg.manual_seed(7)
            fast = flat(DataLoader(ds, batch_size=4, shuffle=shuffle, drop_last=drop_last))
            dg.manual_seed(7)
            slow = flat(DataLoader(ds, batch_size=4, shuffle=shuffle, drop_last=drop_last,
                                   collate_fn=generic))
            assert_same_batches(fast, slow)
    dg.manual_seed(3)
    train, _ = random_split(ds, [8, 3])
    fast = flat(DataLoader(train, batch_size=3))
    slow = flat(DataLoader(train, batch_size=3, collate_fn=generic))
    assert_same_batches(fast, slow)
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert isinstance(batch, list) and batch[0].shape == (4, 3) and batch[0].dtype == np.float32


def test_fast_path_keeps_autograd():
    w = dg.tensor(np.ones((4, 2)), requires_grad=True)
    (x,) = next(iter(DataLoader(TensorDataset(w), batch_size=2, sampler=[3, 3])))
    x.sum().backward()
    np.testing.assert_array_equal(w.grad._data[:, 0], [0, 0, 0, 2])


def test_collate_tuples_dicts_numbers():
    Point = namedtuple("Point", "x y")
    samples = [{"a": 1.5, "b": (i, np.float32(i)), "c": "s%d" % i, "d": np.full(2, i, np.int32),
                "e": True, "p": Point(i, dg.tensor([i, i]))} for i in range(3)]
    batch = default_collate(samples)
    assert batch["a"].dtype == np.float64 and batch["a"].tolist() == [1.5] * 3
    ints, floats = batch["b"]
    assert ints.dtype == np.int64 and ints.tolist() == [0, 1, 2]
    assert floats.dtype == np.float32
    assert batch["c"] == ["s0", "s1", "s2"]
    assert batch["d"].shape == (3, 2) and batch["d"].dtype == np.int32
    assert batch["e"].dtype == np.bool_
    assert isinstance(batch["p"], Point) and batch["p"].y.shape == (3, 2)
    od = default_collate([OrderedDict(z=1, a=2)] * 2)
    assert isinstance(od, OrderedDict) and list(od) == ["z", "a"]
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object()])


def test_batch_sampler_none_batch_size_and_iterable():
    loader = DataLoader(Squares(5), batch_sampler=[[0, 1], [4]])
    assert [b.tolist() for b in loader] == [[0, 1], [16]] and len(loader) == 2
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(Squares(5), batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(Squares(5), shuffle=True, sampler=[0, 1])
    single = list(DataLoader([np.zeros(2), np.ones(2)], batch_size=None))
    assert isinstance(single[0], dg.Tensor) and single[1].shape == (2,)

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(5))

        def __len__(self):
            return 5
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=2)] == [[0, 1], [2, 3], [4]]
    assert len(DataLoader(Stream(), batch_size=2, drop_last=True)) == 2
    with pytest.raises(ValueError):
        DataLoader(Stream(), shuffle=True)


def test_utils_data_is_pytorchs_path_to_the_same_objects():
    import subprocess
    import sys

    import distgrad
    from distgrad.utils.data import DataLoader, TensorDataset

    # attribute access first, in a fresh interpreter (as ``torch.utils.data.DataLoader``)
    code = "import distgrad; print(distgrad.utils.data.DataLoader.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "DataLoader", out.stderr

    assert DataLoader is distgrad.data.DataLoader and TensorDataset is distgrad.data.TensorDataset
    assert distgrad.utils.data.DistributedSampler is distgrad.data.DistributedSampler
