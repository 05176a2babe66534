"""distgrad.testing.assert_close: PyTorch's tolerances by dtype and its failure messages, checked
against torch.testing.assert_close on the same inputs where torch is installed."""
import math

import numpy as np
import pytest

import distgrad as dg
from distgrad.testing import assert_close

CASES = [  # (actual, expected, keyword arguments), as nested lists of values and dtypes
    (([1.0, 2.0, 3.0], "float32"), ([1.0, 2.5, 3.0], "float32"), {}),
    (([1.0, 2.0], "float32"), ([1.0, 2.0, 3.0], "float32"), {}),
    (([1.0, 2.0], "float32"), ([1.0, 2.0], "float64"), {}),
    (([1.0, 2.0], "float32"), ([1.0, 2.0], "float64"), {"check_dtype": False}),
    (([[1.0, 2.0], [3.0, 4.0]], "float64"), ([[1.0, 2.0], [3.0, 4.00001]], "float64"), {}),
    (([1, 2], "int64"), ([1, 3], "int64"), {}),
    (([math.nan], "float32"), ([math.nan], "float32"), {}),
    (([math.nan], "float32"), ([math.nan], "float32"), {"equal_nan": True}),
    (([1.0, 2.0], "float32"), ([1.0, 2.00001], "float32"), {}),  # within float32's tolerance
    (([1.0, 2.0], "float32"), ([1.1, 2.0], "float32"), {"rtol": 0.2, "atol": 0.0}),
    (([1.0, 2.0], "float16"), ([1.0, 2.001], "float16"), {}),
    (([True, False], "bool"), ([True, True], "bool"), {}),
]


def _make(lib, spec):
    values, dtype = spec
    return lib.tensor(values, dtype=getattr(lib, dtype))


def _outcome(fn):
    try:
        fn()
        return "OK"
    except AssertionError as e:
        return str(e).replace("torch.", "distgrad.")


@pytest.mark.parametrize("actual, expected, kwargs", CASES)
def test_matches_pytorch(actual, expected, kwargs):
    torch = pytest.importorskip("torch")
    ours = _outcome(lambda: assert_close(_make(dg, actual), _make(dg, expected), **kwargs))
    theirs = _outcome(lambda: torch.testing.assert_close(_make(torch, actual),
                                                         _make(torch, expected), **kwargs))
    if "Greatest relative difference" in theirs:  # PyTorch prints it in the inputs' dtype
        ours, theirs = (m.split("Greatest relative difference")[0] for m in (ours, theirs))
    assert ours == theirs


def test_messages_nested_scalars_and_errors():
    with pytest.raises(AssertionError, match=r"(?s)Scalars are not close!.*Expected 3.0 but got "
                                             r"2.0.*up to 1e-05 allowed.*item \[1\]"):
        assert_close([dg.tensor(1.0), dg.tensor(2.0)], [dg.tensor(1.0), dg.tensor(3.0)])
    with pytest.raises(AssertionError, match=r"(?s)not equal!.*item \['a'\]"):
        assert_close({"a": dg.tensor([1, 2])}, {"a": dg.tensor([1, 3])})
    with pytest.raises(AssertionError, match=r"(?s)Expected 1.5 but got 1.0.*up to 1e-07"):
        assert_close(1.0, 1.5)
    with pytest.raises(AssertionError, match="length of the sequences mismatch: 1 != 2"):
        assert_close([1], [1, 2])
    with pytest.raises(AssertionError, match="keys of the mappings do not match"):
        assert_close({"a": 1}, {"b": 1})
    with pytest.raises(AssertionError, match="^custom$"):
        assert_close(dg.ones(2), dg.zeros(2), msg="custom")
    with pytest.raises(AssertionError, match="^wrapped: Tensor-likes"):
        assert_close(dg.ones(2), dg.zeros(2), msg=lambda m: "wrapped: " + m)
    with pytest.raises(ValueError, match="must be either specified or omitted, but got no atol"):
        assert_close(dg.ones(2), dg.ones(2), rtol=0.1)
    with pytest.raises(TypeError, match="must be of the same type"):
        assert_close(dg.ones(1), np.ones(1))
    assert_close(np.ones(3), np.ones(3))
    assert_close((dg.ones(2), 3, {"k": [1.0]}), (dg.ones(2), 3, {"k": [1.0]}))
    assert_close(dg.tensor([1.0, 2.0]), dg.tensor([1.0, 2.0 + 1e-6]))
