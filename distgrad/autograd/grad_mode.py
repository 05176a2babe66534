"""Grad modes: ``no_grad``, ``enable_grad``, ``set_grad_enabled`` and ``inference_mode``.

The modes are thread-local, nest, restore the previous mode on exit (also on exceptions), and
work as context managers and as decorators (``@no_grad`` and ``@no_grad()``), including on
generator functions.
"""
from __future__ import annotations

import functools
import inspect
import threading


class _GradState(threading.local):
    def __init__(self):
        self.enabled = True
        self.inference = False


_state = _GradState()


def is_grad_enabled() -> bool:
    """True when operations are recorded for autograd in this thread."""
    return _state.enabled


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()`` in this thread."""
    return _state.inference


# The number of threads now in inference mode. While it is 0, code that makes many tensors
# (Tensor._wrap) skips the thread-local read, several times slower than a global one.
inference_threads = 0
_inference_threads_lock = threading.Lock()


def _set_mode(enabled: bool, inference: bool) -> tuple[bool, bool]:
    global inference_threads
    previous = (_state.enabled, _state.inference)
    _state.enabled = enabled
    if inference != previous[1]:
        with _inference_threads_lock:
            inference_threads += 1 if inference else -1
        _state.inference = inference
    return previous


class _DecoratorContextManager:
    """Base of the grad-mode context managers: usable as decorators too."""

    def _mode(self) -> tuple[bool, bool]:
        raise NotImplementedError

    def __enter__(self):
        self._previous = _set_mode(*self._mode())
        return self

    def __exit__(self, exc_type, exc, tb):
        _set_mode(*self._previous)
        return False

    def clone(self):
        return self.__class__()

    def __call__(self, func):
        if inspect.isgeneratorfunction(func):
            @functools.wraps(func)
            def generator(*args, **kwargs):
                gen = func(*args, **kwargs)
                with self.clone():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self.clone():
                            gen.close()
                        raise
                    except BaseException as exc:  # forward throw() into the generator
                        with self.clone():
                            response = gen.throw(exc)
                    else:
                        try:
                            with self.clone():
                                response = gen.send(request)
                        except StopIteration as stop:
                            return stop.value
            return generator

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)
        return wrapper


class _NoParamDecoratorContextManager(_DecoratorContextManager):
    """Allows ``@no_grad`` without parentheses as well as ``@no_grad()``."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamDecoratorContextManager):
    """Disable gradient recording: results of operations have ``requires_grad=False``."""

    def _mode(self):
        return False, _state.inference


class enable_grad(_NoParamDecoratorContextManager):
    """Enable gradient recording, also inside ``no_grad``."""

    def _mode(self):
        return True, _state.inference


class set_grad_enabled(_DecoratorContextManager):
    """Enable or disable gradients; takes effect immediately, and also works with ``with``."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._previous = _set_mode(self.mode, _state.inference)

    def __enter__(self):
        return self

    def __call__(self, func):
        _set_mode(*self._previous)  # decorating must not change the mode of the caller
        return super().__call__(func)

    def clone(self):
        """A copy that sets the mode only on enter (used when decorating a function)."""
        # Build without the immediate effect of __init__, then apply on enter.
        clone = object.__new__(set_grad_enabled)
        clone.mode = self.mode
        return _Entering(clone)


class _Entering:
    """Helper for ``set_grad_enabled`` used as a decorator: applies the mode on enter."""

    def __init__(self, inner):
        self.inner = inner

    def __enter__(self):
        self.inner._previous = _set_mode(self.inner.mode, _state.inference)
        return self.inner

    def __exit__(self, *exc):
        _set_mode(*self.inner._previous)
        return False


class inference_mode(_DecoratorContextManager):
    """Like ``no_grad``, and results are inference tensors that autograd refuses to save."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):
            return cls(True)(mode)
        return super().__new__(cls)

    def _mode(self):
        if self.mode:
            return False, True
        return True, False

    def clone(self):
        """A new ``inference_mode`` with the same mode (entered on each decorated call)."""
        return self.__class__(self.mode)
