"""distgrad.futures.Future: set_result, wait, value, then chains, done; Work.get_future."""
import pytest

import distgrad as dg
from distgrad.futures import Future


def test_set_result_wait_value_and_then_chains():
    fut = Future()
    assert not fut.done()
    with pytest.raises(RuntimeError, match="before the future completed"):
        fut.value()
    with pytest.raises(RuntimeError, match="set_result"):
        fut.wait()
    chained = fut.then(lambda f: f.value() + 1).then(lambda f: f.value() * 10)
    fut.set_result(4)
    assert fut.done() and fut.wait() == 4 and fut.value() == 4
    assert chained.done() and chained.wait() == 50 and chained.value() == 50
    with pytest.raises(RuntimeError, match="only be marked completed once"):
        fut.set_result(5)


def test_lazy_future_completes_once_on_wait():
    calls = []
    fut = Future._of(lambda: calls.append(1) or "done", lambda: False)
    assert not fut.done() and calls == []
    assert fut.wait() == "done" and fut.wait() == "done" and calls == [1]
    assert fut.done()


def test_callback_error_surfaces_on_wait():
    fut = Future()
    fut.set_result(1)
    bad = fut.then(lambda f: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        bad.wait()


def test_futures_at_pytorchs_path():
    assert dg.futures.Future is Future
