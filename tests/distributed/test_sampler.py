"""DistributedSampler (PyTorch's index algorithm) and DistributedEvalSampler: mostly pure Python
with num_replicas/rank given explicitly, plus one `mpiexec -n 3` job for the defaults taken from
the process group and the exact evaluation helper."""
import math
import warnings
from pathlib import Path

import pytest

import distgrad
from distgrad.data.distributed import DistributedSampler
from distgrad.distributed.evaluation import DistributedEvalSampler
from mpi_helpers import assert_ok_lines, run_mpi

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def shards(n, replicas, **kw):
    samplers = [DistributedSampler(range(n), num_replicas=replicas, rank=r, **kw)
                for r in range(replicas)]
    return samplers, [list(s) for s in samplers]


def torch_reference(n, replicas, rank, shuffle, seed, epoch, drop_last):
    """PyTorch's DistributedSampler.__iter__, line by line, with distgrad's generator."""
    if drop_last and n % replicas != 0:
        num_samples = math.ceil((n - replicas) / replicas)
    else:
        num_samples = math.ceil(n / replicas)
    total_size = num_samples * replicas
    if shuffle:
        g = distgrad.Generator()
        g.manual_seed(seed + epoch)
        indices = distgrad.randperm(n, generator=g).tolist()
    else:
        indices = list(range(n))
    if not drop_last:
        padding_size = total_size - len(indices)
        if padding_size <= len(indices):
            indices += indices[:padding_size]
        else:
            indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
    else:
        indices = indices[:total_size]
    return indices[rank:total_size:replicas]


def test_known_shards_without_shuffle():
    _, got = shards(10, 3, shuffle=False)
    assert got == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]  # padded with the first indices
    _, got = shards(10, 3, shuffle=False, drop_last=True)
    assert got == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    _, got = shards(2, 5, shuffle=False)  # padding longer than the data set
    assert got == [[0], [1], [0], [1], [0]]
    _, got = shards(0, 2, shuffle=False)
    assert got == [[], []]


@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("n", [1, 5, 9, 10, 11, 12, 17])
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("shuffle", [True, False])
def test_shards_cover_the_data_set_once_per_epoch(replicas, n, drop_last, shuffle):
    samplers = [DistributedSampler(range(n), num_replicas=replicas, rank=r, shuffle=shuffle,
                                   drop_last=drop_last, seed=3) for r in range(replicas)]
    orders = []
    for epoch in range(3):
        for s in samplers:
            s.set_epoch(epoch)
        got = [list(s) for s in samplers]
        for r, g in enumerate(got):
            assert g == torch_reference(n, replicas, r, shuffle, 3, epoch, drop_last)
            assert len(g) == len(samplers[r])
        assert len({len(g) for g in got}) == 1, "ranks must get the same number of samples"
        flat = [i for g in got for i in g]
        if drop_last:
            kept = n - n % replicas
            assert len(flat) == len(set(flat)) == kept
        else:
            assert set(flat) == set(range(n))
            assert len(flat) == math.ceil(n / replicas) * replicas
        orders.append(flat)
    if shuffle and n >= 5 and not (drop_last and n - n % replicas < 2):
        assert orders[0] != orders[1] or orders[1] != orders[2], "set_epoch must reshuffle"
    if not shuffle:
        assert orders[0] == orders[1] == orders[2]


def test_same_epoch_same_order_and_seed_matters():
    a = DistributedSampler(range(50), num_replicas=2, rank=1, seed=7)
    b = DistributedSampler(range(50), num_replicas=2, rank=1, seed=7)
    c = DistributedSampler(range(50), num_replicas=2, rank=1, seed=8)
    a.set_epoch(4)
    b.set_epoch(4)
    c.set_epoch(4)
    first = list(a)
    assert first == list(b) != list(c)
    distgrad.manual_seed(123)  # the global generator plays no part
    distgrad.randn(3)
    b.set_epoch(4)
    assert list(b) == first


def test_iterating_twice_without_set_epoch_warns_once():
    s = DistributedSampler(range(10), num_replicas=2, rank=0)
    list(s)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        list(s)
        list(s)
    msgs = [str(w.message) for w in caught]
    assert len(msgs) == 1 and "set_epoch" in msgs[0], msgs
    s.set_epoch(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        list(s)
    s2 = DistributedSampler(range(10), num_replicas=2, rank=0, shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        list(s2)
        list(s2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="Invalid rank 3"):
        DistributedSampler(range(4), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(range(4), num_replicas=3, rank=-1)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(range(4), num_replicas=0, rank=0)


def test_defaults_need_a_process_group():
    import distgrad.distributed as dist

    if dist.is_initialized():
        pytest.skip("a default group is initialized in this process")
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))


@pytest.mark.parametrize("n", [0, 1, 7, 10])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [False, True])
def test_eval_sampler_partitions_exactly(n, replicas, shuffle):
    got = [list(DistributedEvalSampler(range(n), num_replicas=replicas, rank=r, shuffle=shuffle))
           for r in range(replicas)]
    flat = [i for g in got for i in g]
    assert sorted(flat) == list(range(n))
    assert max(map(len, got)) - min(map(len, got)) <= 1
    assert [len(DistributedEvalSampler(range(n), num_replicas=replicas, rank=r))
            for r in range(replicas)] == [len(g) for g in got]


@pytest.mark.mpi
def test_sampler_defaults_and_exact_evaluation_on_three_ranks():
    res = run_mpi(3, SCRIPTS / "sampler_eval.py", timeout=120)
    assert_ok_lines(res, 3)
