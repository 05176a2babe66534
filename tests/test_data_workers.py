"""DataLoader worker threads: same batches as in the loop, real concurrency, per-worker seeds,
get_worker_info, worker_init_fn, errors, timeout, persistent workers, IterableDataset sharding."""
import threading
import time

import numpy as np
import pytest

import distgrad as dg
from distgrad.data import (DataLoader, Dataset, IterableDataset, Subset, TensorDataset,
                           get_worker_info)


class Squares(Dataset):
    def __init__(self, n=23):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.float32(i * i), i


class Shards(IterableDataset):
    """Worker w of n yields w, w + n, ... up to 10 + 3 w: shards of different lengths."""

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        return iter(range(worker, 10 + 3 * worker, workers))


def _array(x):
    return np.asarray(x._data if isinstance(x, dg.Tensor) else x)


def _batches(loader):
    return [[_array(t) for t in batch] if isinstance(batch, list) else _array(batch)
            for batch in loader]


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, list):
            _assert_same(x, y)
        else:
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)


def _worker_threads():
    return [t for t in threading.enumerate() if t.name.startswith("DataLoader worker")]


def _wait_for_no_workers(deadline_s=10.0):
    end = time.monotonic() + deadline_s
    while _worker_threads() and time.monotonic() < end:
        time.sleep(0.01)
    assert not _worker_threads()


@pytest.mark.parametrize("options", [
    dict(batch_size=4), dict(batch_size=4, drop_last=True), dict(batch_size=None),
    dict(batch_size=5, shuffle=True), dict(batch_size=3, prefetch_factor=1),
])
@pytest.mark.parametrize("num_workers", [1, 3])
def test_workers_give_the_batches_of_the_loop(options, num_workers):
    def load(workers):
        dg.manual_seed(7)
        extra = {} if workers == 0 else {"num_workers": workers}
        if "prefetch_factor" in options and workers == 0:
            extra["prefetch_factor"] = None
        return _batches(DataLoader(Squares(), **{**options, **extra}))
    _assert_same(load(num_workers), load(0))
    _wait_for_no_workers()


def test_tensor_dataset_fast_path_and_subset_in_workers():
    x = dg.arange(60, dtype=dg.float32).reshape(20, 3)
    ds = Subset(TensorDataset(x, dg.arange(20)), list(range(19, -1, -2)))
    _assert_same(_batches(DataLoader(ds, batch_size=3, num_workers=2)),
                 _batches(DataLoader(ds, batch_size=3)))


def test_out_of_order_delivery_gives_every_batch_once():
    got = DataLoader(Squares(30), batch_size=4, num_workers=3, in_order=False)
    firsts = sorted(int(b[1][0]) for b in got)
    assert firsts == list(range(0, 30, 4))


def test_workers_run_concurrently():
    """Each worker's first batch waits for the others at a barrier: only concurrent workers get
    through (a serial loader would break the barrier)."""
    barrier = threading.Barrier(3, timeout=20)

    class Meeting(Squares):
        def __getitem__(self, i):
            if i % 2 == 0 and i < 6:  # the first sample of batches 0, 1 and 2
                barrier.wait()
            return super().__getitem__(i)
    assert len(list(DataLoader(Meeting(12), batch_size=2, num_workers=3))) == 6


def test_worker_info_and_per_worker_generators():
    assert get_worker_info() is None

    class Noisy(Squares):
        def __getitem__(self, i):
            info = get_worker_info()
            time.sleep(0.003 * ((7 * i) % 3))  # let the threads interleave differently
            return (dg.rand(2), info.id, info.num_workers, info.seed, dg.initial_seed(),
                    info.dataset is ds)
    ds = Noisy(12)

    def run():
        dg.manual_seed(3)
        return list(DataLoader(ds, batch_size=2, num_workers=3))
    first, second = run(), run()
    for k, (a, b) in enumerate(zip(first, second)):
        np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())  # reproducible
        worker, workers, seed, initial, same = (t.tolist() for t in a[1:])
        assert worker == [k % 3] * 2 and workers == [3, 3] and all(same)
        assert initial == seed and seed[0] == a[3].tolist()[0]
    base = first[0][3].tolist()[0]
    assert [first[k][3].tolist()[0] for k in range(3)] == [base, base + 1, base + 2]
    # the workers' draws leave the process's generator alone: one draw (the base seed) only
    dg.manual_seed(3)
    dg.random.rng().integers(2 ** 62)
    expected = dg.rand(4)
    run()
    dg.manual_seed(3)
    list(DataLoader(Squares(2), batch_size=2, num_workers=2))
    np.testing.assert_array_equal(dg.rand(4).numpy(), expected.numpy())


def test_worker_init_fn_runs_once_in_each_worker_and_seeds_its_generator():
    calls = []

    def init(worker_id):
        calls.append((worker_id, get_worker_info().id, threading.current_thread().name))
        dg.manual_seed(100 + worker_id)  # seeds this worker's generator, not the process's

    class Draws(Squares):
        def __getitem__(self, i):
            return dg.rand(1)
    state = dg.get_rng_state()
    batches = list(DataLoader(Draws(4), batch_size=2, num_workers=2, worker_init_fn=init))
    assert sorted(calls) == [(0, 0, "DataLoader worker 0"), (1, 1, "DataLoader worker 1")]
    for worker, batch in enumerate(batches):
        own = dg.Generator().manual_seed(100 + worker)
        expected = [dg.rand(1, generator=own).item() for _ in range(2)]
        assert batch.numpy().ravel().tolist() == expected
    assert dg.get_rng_state()["seed"] == state["seed"]


def test_worker_error_is_reraised_with_its_traceback():
    class Broken(Squares):
        def __getitem__(self, i):
            if i == 5:
                raise KeyError(f"no sample {i}")
            return super().__getitem__(i)
    loader = DataLoader(Broken(12), batch_size=2, num_workers=2)
    with pytest.raises(KeyError, match="no sample 5") as info:
        list(loader)
    frames = [entry.name for entry in info.traceback]
    assert "__getitem__" in frames  # the worker's frames are kept
    assert any("DataLoader worker 0" in note for note in getattr(info.value, "__notes__", [])) \
        or not hasattr(info.value, "add_note")
    _wait_for_no_workers()

    def init(worker_id):
        if worker_id == 1:
            raise ValueError("cannot open the shard")
    with pytest.raises(ValueError, match="cannot open the shard"):
        list(DataLoader(Squares(8), batch_size=2, num_workers=2, worker_init_fn=init))


def test_timeout_names_the_wait():
    release = threading.Event()

    class Stuck(Squares):
        def __getitem__(self, i):
            release.wait(30)
            return super().__getitem__(i)
    loader = DataLoader(Stuck(4), batch_size=2, num_workers=1, timeout=0.2)
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.2 seconds"):
        list(loader)
    release.set()
    _wait_for_no_workers()


def test_persistent_workers_live_across_epochs_and_others_stop():
    seen, inits = set(), []

    class Where(Squares):
        def __getitem__(self, i):
            seen.add(threading.get_ident())
            return super().__getitem__(i)
    loader = DataLoader(Where(8), batch_size=2, num_workers=2, persistent_workers=True,
                        worker_init_fn=inits.append)
    for _ in range(3):
        assert len(list(loader)) == 4
    assert len(seen) == 2 and sorted(inits) == [0, 1]
    assert len(_worker_threads()) == 2
    del loader
    _wait_for_no_workers()

    # an iterator left after its first batch stops its workers
    it = iter(DataLoader(Squares(40), batch_size=2, num_workers=3))
    next(it)
    del it
    _wait_for_no_workers()


def test_iterable_dataset_round_robin_over_worker_shards():
    got = [b.tolist() for b in DataLoader(Shards(), batch_size=2, num_workers=2)]
    assert got == [[0, 2], [1, 3], [4, 6], [5, 7], [8], [9, 11]]
    single = [int(b) for b in DataLoader(Shards(), batch_size=None, num_workers=2)]
    assert single == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11]
    dropped = [b.tolist() for b in DataLoader(Shards(), batch_size=2, drop_last=True,
                                              num_workers=2)]
    assert dropped == [[0, 2], [1, 3], [4, 6], [5, 7], [9, 11]]


def test_iterable_order_matches_pytorch():
    torch = pytest.importorskip("torch")

    class TorchShards(torch.utils.data.IterableDataset):
        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            return iter(range(info.id, 10 + 3 * info.id, info.num_workers))
    for kwargs in (dict(batch_size=2), dict(batch_size=2, drop_last=True), dict(batch_size=3)):
        expected = [b.tolist() for b in torch.utils.data.DataLoader(TorchShards(), num_workers=2,
                                                                     **kwargs)]
        assert [b.tolist() for b in DataLoader(Shards(), num_workers=2, **kwargs)] == expected


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_workers=-1), "num_workers option should be non-negative"),
    (dict(timeout=-1), "timeout option should be non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified"),
    (dict(num_workers=2, prefetch_factor=0), "prefetch_factor option should be positive"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
])
def test_worker_option_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(Squares(3), **kwargs)
