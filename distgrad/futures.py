"""``Future``: the result of an asynchronous operation (PyTorch's ``torch.futures.Future``).

distgrad's futures complete lazily: ``wait()`` finishes the operation behind the future (for
instance the ``Work`` of a non-blocking collective) in the calling thread, then runs the
callbacks chained with ``then()``. Nothing progresses in the background.
"""
from __future__ import annotations

_PENDING = object()


class Future:
    """A value that will be available later: ``wait()`` returns it (completing the future if
    needed), ``value()`` returns it once done, ``then(callback)`` chains a future of
    ``callback(this_future)``, and ``set_result`` completes a future made with ``Future()``."""

    def __init__(self, devices=None):
        self._value = _PENDING
        self._complete = None  # a function that completes this future (returns its value)
        self._is_done = None   # a function that says, without blocking, whether it could

    @classmethod
    def _of(cls, complete, is_done):
        """A future completed by ``complete()``; ``is_done()`` tells whether it would block."""
        fut = cls()
        fut._complete, fut._is_done = complete, is_done
        return fut

    def done(self) -> bool:
        """True when ``wait()`` would not block."""
        if self._value is not _PENDING:
            return True
        return self._is_done is not None and self._is_done()

    def set_result(self, result) -> None:
        """Complete the future with ``result``."""
        if self._value is not _PENDING:
            raise RuntimeError("Future can only be marked completed once")
        self._value = result

    def wait(self):
        """Block until the value is available and return it."""
        if self._value is _PENDING:
            if self._complete is None:
                raise RuntimeError("Future.wait() on a future that nothing completes: call "
                                   "set_result() first")
            complete, self._complete = self._complete, None
            self._value = complete()
        return self._value

    def value(self):
        """The value of a completed future (``wait()`` first)."""
        if self._value is _PENDING:
            raise RuntimeError("Future.value() called before the future completed: call wait()")
        return self._value

    def then(self, callback) -> "Future":
        """A future of ``callback(self)``, run when this one completes."""
        def complete():
            self.wait()
            return callback(self)
        return Future._of(complete, self.done)
