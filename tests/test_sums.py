"""The fast array helpers of ``distgrad.ops._util`` (BLAS sums, column-wise maxima, the maximum
with zero) agree with NumPy in shape, dtype and value, for every layout and dtype, into ``out``
too."""
import numpy as np
import pytest

from distgrad.ops import _util
from distgrad.ops._util import (max_axis, maximum_zero, sum_axis, sum_last, sum_leading,
                                unbroadcast)


def _arrays(dtype):
    rng = np.random.default_rng(0)
    base = (rng.standard_normal((3, 4, 5)) * 10).astype(dtype)
    return [base, base[:, ::2, 1:], base.transpose(2, 0, 1), np.ones((0, 3, 2), dtype),
            np.ones((3, 0), dtype), base[0]]


def _close(result, expected):
    assert result.shape == expected.shape and result.dtype == expected.dtype
    np.testing.assert_allclose(result, expected, rtol=1e-5 if expected.dtype.itemsize < 8 else 1e-12,
                               atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64])
def test_sums_match_numpy(dtype):
    for a in _arrays(dtype):
        for n in range(1, a.ndim + 1):
            expected = a.sum(axis=tuple(range(n)))
            _close(np.asarray(sum_leading(a, n)), expected)
            out = np.empty_like(expected)
            assert sum_leading(a, n, out=out) is out
            _close(out, expected)
        for keepdims in (False, True):
            _close(sum_last(a, keepdims), a.sum(axis=-1, keepdims=keepdims))
            for axis in range(a.ndim):
                _close(sum_axis(a, axis, keepdims), a.sum(axis=axis, keepdims=keepdims))


def test_full_sums_keep_numpys_rounding():
    """A full sum stays NumPy's pairwise one (the thermometer gradient of the book depends on it)."""
    a = np.random.default_rng(1).standard_normal(1001).astype(np.float32)
    assert sum_leading(a) == a.sum()
    assert unbroadcast(a, ()) == a.sum()


def test_long_rows_keep_numpys_pairwise_sum():
    a = np.random.default_rng(2).standard_normal((2, 100_000)).astype(np.float32)
    np.testing.assert_array_equal(sum_last(a), a.sum(axis=-1))


def test_non_contiguous_out_is_filled():
    a = np.random.default_rng(3).standard_normal((6, 4))
    out = np.zeros((4, 2))[:, 0]
    assert sum_leading(a, out=out) is out
    np.testing.assert_allclose(out, a.sum(axis=0))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64])
def test_max_axis_matches_numpy(dtype):
    rng = np.random.default_rng(4)
    for shape in [(64, 10), (4, 50, 3), (40, 32), (40, 33), (3, 10), (2, 3)]:
        a = (rng.standard_normal(shape) * 10).astype(dtype)
        for axis in range(a.ndim):
            for keepdims in (False, True):
                result = max_axis(a, axis, keepdims)
                expected = a.max(axis=axis, keepdims=keepdims)
                assert result.shape == expected.shape and result.dtype == expected.dtype
                np.testing.assert_array_equal(result, expected)
    nan = np.zeros((64, 10), np.float32)
    nan[5, 3] = np.nan
    assert np.isnan(max_axis(nan, 1)[5]) and not np.isnan(max_axis(nan, 1)[4])


def test_results_own_their_memory():
    """A sum is a fresh array (not a view), so backward can keep it as ``.grad`` without a copy."""
    a = np.ones((2, 3, 4, 5), np.float32)
    for result in (sum_leading(a), sum_leading(a, 2), sum_last(a), sum_last(a, True),
                   sum_last(a[0, 0]), sum_last(a[0, 0], True)):
        assert result.base is None and result.flags.c_contiguous


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int32])
def test_maximum_zero_matches_numpy(dtype):
    rng = np.random.default_rng(5)
    base = (rng.standard_normal((64, 40)) * 10).astype(dtype)
    for a in (base, base[:, ::2], base.T, base[:3], base.reshape(4, 16, 40)):
        result = maximum_zero(a)
        expected = np.maximum(a, 0)
        assert result.shape == expected.shape and result.dtype == expected.dtype
        np.testing.assert_array_equal(result, expected)
        assert result.flags.writeable and result.base is None


def test_maximum_zero_keeps_nan_and_takes_no_writable_zeros():
    a = np.full((32, 64), -1.0, np.float32)
    a[3, 5] = np.nan
    result = maximum_zero(a)
    assert np.isnan(result[3, 5]) and np.count_nonzero(result) == 1
    result[...] = 7  # the result is the caller's; the shared zeros stay zeros and read-only
    zeros = _util._zeros_view(a)
    assert not zeros.flags.writeable and not zeros.any()


def test_maximum_zero_beyond_the_mapping_falls_back(monkeypatch):
    monkeypatch.setattr(_util, "_ZERO_MAPPING_BYTES", 1024)
    a = np.linspace(-1, 1, 4096, dtype=np.float32).reshape(64, 64)
    np.testing.assert_array_equal(maximum_zero(a), np.maximum(a, 0))
