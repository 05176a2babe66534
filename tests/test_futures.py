"""distgrad.futures: Future (set_result, set_exception, wait, value, then chains,
add_done_callback, done, waiting across threads), collect_all, wait_all; Work.get_future."""
import logging
import threading

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


def test_wait_raises_when_no_thread_could_complete_it(monkeypatch):
    monkeypatch.setattr("distgrad.futures.threading.active_count", lambda: 1)
    with pytest.raises(RuntimeError, match="nothing completes"):
        Future().wait()


def test_wait_blocks_until_another_thread_sets_the_result():
    fut = Future()
    seen = []
    fut.add_done_callback(lambda f: seen.append(f.value()))
    timer = threading.Timer(0.05, fut.set_result, args=(dg.ones(2) * 3,))
    timer.start()
    try:
        assert fut.wait().tolist() == [3.0, 3.0]
    finally:
        timer.join()
    assert [v.tolist() for v in seen] == [[3.0, 3.0]]


def test_set_exception_is_raised_by_wait_and_value_and_passed_to_then():
    fut = Future()
    seen = []
    child = fut.then(lambda f: seen.append("called") or f.wait())
    fut.set_exception(ValueError("foo"))
    assert fut.done() and seen == ["called"]
    for get in (fut.wait, fut.value, child.wait):
        with pytest.raises(ValueError, match="foo"):
            get()
    with pytest.raises(RuntimeError, match="only be marked completed once"):
        fut.set_result(1)
    with pytest.raises(TypeError, match="expects an exception"):
        Future().set_exception("not an exception")


def test_add_done_callback_runs_in_order_at_completion_or_at_once(caplog):
    fut = Future()
    order = []
    fut.add_done_callback(lambda f: order.append(("a", f.value())))
    fut.add_done_callback(lambda f: 1 / 0)  # logged, not raised
    fut.add_done_callback(lambda f: order.append(("b", f.value())))
    assert order == []
    with caplog.at_level(logging.ERROR, logger="distgrad.futures"):
        fut.set_result(7)
    assert order == [("a", 7), ("b", 7)]
    assert "error when running the callback" in caplog.text and "ZeroDivisionError" in caplog.text
    fut.add_done_callback(lambda f: order.append(("late", f.value())))
    assert order[-1] == ("late", 7)


def test_lazy_future_runs_callbacks_and_keeps_its_error():
    calls = []
    ok = Future._of(lambda: "v", lambda: True)
    ok.add_done_callback(lambda f: calls.append(f.value()))
    assert calls == [] and ok.wait() == "v" and calls == ["v"]
    bad = Future._of(lambda: 1 / 0, lambda: True)
    chained = bad.then(lambda f: "recovered" if isinstance(_error_of(f), ZeroDivisionError) else "?")
    assert chained.wait() == "recovered"
    for _ in range(2):  # the error is kept, not recomputed
        with pytest.raises(ZeroDivisionError):
            bad.wait()


def _error_of(fut):
    try:
        fut.wait()
    except Exception as error:  # noqa: BLE001
        return error
    return None


def test_collect_all_and_wait_all():
    a, b = Future(), Future()
    both = dg.futures.collect_all([a, b])
    assert not both.done()
    a.set_result(1)
    b.set_exception(KeyError("b"))
    assert both.done() and both.wait() == [a, b]
    with pytest.raises(KeyError):
        dg.futures.wait_all([a, b])
    c = Future()
    c.set_result(2)
    assert dg.futures.wait_all([a, c]) == [1, 2]


def test_work_future_completes_chained_callbacks():
    import distgrad.distributed as dist
    dist.init_process_group(backend="single")
    try:
        handle = dist.all_reduce(dg.ones(3), async_op=True)
        fut = handle.get_future().then(lambda f: f.value()[0] * 2)
        assert fut.wait().tolist() == [2.0, 2.0, 2.0]
    finally:
        dist.destroy_process_group()
