"""``Future``: the result of an asynchronous operation (PyTorch's ``torch.futures.Future``),
with ``collect_all`` and ``wait_all``.

distgrad's futures complete lazily: ``wait()`` finishes the operation behind the future (for
instance the ``Work`` of a non-blocking collective) in the calling thread, then runs the
callbacks attached with ``then()`` and ``add_done_callback()``. Nothing progresses in the
background. A plain ``Future()`` is completed by ``set_result`` or ``set_exception``, from this
thread or another one; ``wait()`` blocks for it while another thread could still complete it,
and raises instead of hanging when none could.
"""
from __future__ import annotations

import logging
import threading

__all__ = ["Future", "collect_all", "wait_all"]

_PENDING = object()
_completion = threading.Condition()  # shared by all futures: set under it, waited on with it
_POLL_S = 0.1  # how often a blocked wait() checks that another thread could still complete it
_log = logging.getLogger(__name__)


class Future:
    """A value that will be available later: ``wait()`` returns it (completing the future if
    needed, raising its error if it failed), ``value()`` returns it once done,
    ``then(callback)`` chains a future of ``callback(this_future)``, ``add_done_callback`` runs
    a function on completion, and ``set_result``/``set_exception`` complete a ``Future()``."""

    def __init__(self, devices=None):
        self._value = _PENDING
        self._error = None     # the exception this future completed with, if any
        self._complete = None  # a function that completes this future (returns its value)
        self._is_done = None   # a function that says, without blocking, whether it could
        self._callbacks = []

    @classmethod
    def _of(cls, complete, is_done):
        """A future completed by ``complete()``; ``is_done()`` tells whether it would block."""
        fut = cls()
        fut._complete, fut._is_done = complete, is_done
        return fut

    def _pending(self) -> bool:
        return self._value is _PENDING and self._error is None

    def done(self) -> bool:
        """True when the future has a result or an error, or ``wait()`` would not block."""
        if not self._pending():
            return True
        return self._is_done is not None and self._is_done()

    def set_result(self, result) -> None:
        """Complete the future with ``result`` and run its callbacks."""
        self._finish(result, None)

    def set_exception(self, result: BaseException) -> None:
        """Complete the future with the error ``result`` (raised by ``wait()`` and ``value()``)
        and run its callbacks."""
        if not isinstance(result, BaseException):
            raise TypeError(f"set_exception expects an exception, got {type(result).__name__}")
        self._finish(_PENDING, result)

    def _finish(self, value, error) -> None:
        with _completion:
            if not self._pending():
                raise RuntimeError("Future can only be marked completed once")
            self._value, self._error = value, error
            callbacks, self._callbacks = self._callbacks, []
            _completion.notify_all()
        for callback in callbacks:
            _run_callback(callback, self)

    def wait(self):
        """Block until the future completes; return its value or raise its error."""
        if self._pending():
            if self._complete is not None:
                complete, self._complete = self._complete, None
                try:
                    value = complete()
                except BaseException as error:  # noqa: BLE001 - kept as the future's error
                    if self._pending():
                        self._finish(_PENDING, error)
                else:
                    if self._pending():  # a chained future may be finished by its callback
                        self._finish(value, None)
            else:
                self._wait_for_other_thread()
        return self.value()

    def _wait_for_other_thread(self) -> None:
        with _completion:
            while self._pending():
                if threading.active_count() == 1:
                    raise RuntimeError("Future.wait() on a future that nothing completes: call "
                                       "set_result() or set_exception() first (no other thread "
                                       "is running that could)")
                _completion.wait(_POLL_S)

    def value(self):
        """The value of a completed future, or its error raised (``wait()`` first)."""
        if self._error is not None:
            raise self._error
        if self._value is _PENDING:
            raise RuntimeError("Future.value() called before the future completed: call wait()")
        return self._value

    def add_done_callback(self, callback) -> None:
        """Run ``callback(self)`` when this future completes (now, if it already has). Its
        return value is ignored, and an error it raises is logged, as in PyTorch."""
        with _completion:
            if self._pending():
                self._callbacks.append(callback)
                return
        _run_callback(callback, self)

    def then(self, callback) -> "Future":
        """A future of ``callback(self)``, run when this one completes (also when it fails:
        ``callback`` sees the error from ``wait()``); an error ``callback`` raises becomes the
        new future's error."""
        def complete_child(parent):
            try:
                result = callback(parent)
            except BaseException as error:  # noqa: BLE001 - kept as the child's error
                child.set_exception(error)
            else:
                child.set_result(result)

        def complete():
            try:
                self.wait()  # runs complete_child
            except BaseException:  # noqa: BLE001 - the callback has seen it
                pass

        child = Future._of(complete, self.done)
        self.add_done_callback(complete_child)
        return child


def _run_callback(callback, fut) -> None:
    try:
        callback(fut)
    except Exception:  # noqa: BLE001 - PyTorch logs a done-callback's error and goes on
        _log.exception("Got the following error when running the callback")


def collect_all(futures) -> Future:
    """A future of the list ``futures``, complete when every one of them is (failed or not)."""
    futures = list(futures)

    def complete():
        for fut in futures:
            try:
                fut.wait()
            except BaseException:  # noqa: BLE001 - each future keeps its own error
                pass
        return futures
    return Future._of(complete, lambda: all(f.done() for f in futures))


def wait_all(futures) -> list:
    """Wait for every future and return their values; the first error is raised."""
    return [fut.wait() for fut in futures]
