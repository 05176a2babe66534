"""powerSGD_hook's pieces in one process: PowerSGDState's arguments and statistics, the
Gram-Schmidt orthogonalisation (zero columns stay zero instead of NaN), the compression rule.
The hook itself runs on real MPI ranks in tests/distributed/test_ddp.py."""
import numpy as np
import pytest

from distgrad.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as powerSGD


def test_state_checks_pytorchs_arguments():
    with pytest.raises(ValueError, match=r"Expect `start_powerSGD_iter` > 1"):
        powerSGD.PowerSGDState(None, start_powerSGD_iter=1)
    with pytest.raises(ValueError, match="matrix_approximation_rank"):
        powerSGD.PowerSGDState(None, matrix_approximation_rank=0)
    state = powerSGD.PowerSGDState(None, start_powerSGD_iter=1, use_error_feedback=False,
                                   warm_start=False)
    assert state.iter == 0 and state.compression_stats() == (0, 0, 0)
    state.total_numel_before_compression, state.total_numel_after_compression = 300, 100
    assert state.compression_stats() == (3.0, 300, 100)


class _Bucket:
    def __init__(self, last):
        self.last = last

    def is_last(self):
        return self.last


def test_iterations_count_at_the_last_bucket(caplog):
    state = powerSGD.PowerSGDState(None, start_powerSGD_iter=2)
    with caplog.at_level("INFO", logger=powerSGD.__name__):
        for last in (False, True, False, True):
            state.maybe_increase_iter(_Bucket(last))
    assert state.iter == 2 and "Start to apply PowerSGD after 2 iterations" in caplog.text


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_orthogonalize_gives_orthonormal_columns(dtype, tol):
    m = np.random.default_rng(0).standard_normal((7, 3)).astype(dtype)
    q, _ = np.linalg.qr(m.astype(np.float64))
    powerSGD._orthogonalize(m, 0)
    np.testing.assert_allclose(m.T @ m, np.eye(3), atol=tol)
    np.testing.assert_allclose(np.abs(m), np.abs(q), atol=tol * 10)  # the same basis as QR's


def test_orthogonalize_leaves_zero_columns_at_zero():
    m = np.zeros((4, 2))
    powerSGD._orthogonalize(m, 0)  # PyTorch divides by a zero norm here: NaNs
    assert np.array_equal(m, np.zeros((4, 2)))
    m = np.array([[3.0], [4.0]])
    powerSGD._orthogonalize(m, 1.0)
    np.testing.assert_allclose(m, [[0.5], [2 / 3]])


def test_should_compress_needs_the_rate():
    assert powerSGD._should_compress(100, 100, 1, 2) == (True, 10000, 200)
    assert powerSGD._should_compress(4, 3, 1, 2) == (False, 12, 7)
    assert powerSGD._should_compress(4, 3, 1, 1) == (True, 12, 7)
