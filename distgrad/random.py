"""Random number generation: ``manual_seed``, ``Generator`` and the default generator.

One NumPy ``PCG64`` generator drives every random function (``rand``, ``randn``, ``randint``,
``randperm``, ``uniform_``, ``normal_``, dropout, data shuffling), so ``manual_seed`` makes all
of them reproducible. Its state is plain data (JSON-able), which checkpoints store. A
``DataLoader`` worker thread has a default generator of its own (seeded per worker, like
PyTorch's worker processes), so the random functions its dataset calls do not depend on how the
threads interleave.
"""
from __future__ import annotations

import threading

import numpy as np


class Generator:
    """A random generator (``torch.Generator``); pass it as ``generator=`` to random functions."""

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = 67280421310721  # PyTorch's default seed
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> "Generator":
        """Reset the generator to a state determined by ``seed``."""
        self._seed = int(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def initial_seed(self) -> int:
        """The seed the generator was last seeded with."""
        return self._seed

    def seed(self) -> int:
        """Seed from a non-deterministic source and return the seed."""
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.manual_seed(seed)
        return seed

    def get_state(self) -> dict:
        """The generator's state as plain data (nested dicts of ints and strings)."""
        return {"seed": self._seed, "bit_generator": self._rng.bit_generator.state}

    def set_state(self, state: dict) -> "Generator":
        """Restore a state returned by ``get_state``."""
        self._seed = int(state["seed"])
        bit_generator = np.random.PCG64()
        bit_generator.state = state["bit_generator"]
        self._rng = np.random.Generator(bit_generator)
        return self

    @property
    def numpy_generator(self) -> np.random.Generator:
        """The underlying ``numpy.random.Generator``."""
        return self._rng


default_generator = Generator()


class _ThreadGenerator(threading.local):
    generator = None  # a DataLoader worker thread's own default generator


_thread = _ThreadGenerator()


def _current() -> Generator:
    """This thread's default generator: a DataLoader worker's own, else ``default_generator``."""
    return _thread.generator or default_generator


def set_thread_generator(generator) -> None:
    """Make ``generator`` the default generator of the calling thread (None: the process's)."""
    _thread.generator = generator


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and CuPy's, if CuPy is in use)."""
    generator = _current().manual_seed(seed)
    from . import _backend
    if _backend._cupy is not None and generator is default_generator:  # pragma: no cover - GPU
        _backend._cupy.random.seed(int(seed) % (2 ** 32))
    return generator


def seed() -> int:
    """Seed the default generator non-deterministically; returns the seed."""
    return _current().seed()


def initial_seed() -> int:
    """The seed the default generator started from."""
    return _current().initial_seed()


def get_rng_state() -> dict:
    """State of the default generator (plain data)."""
    return _current().get_state()


def set_rng_state(state: dict) -> None:
    """Restore the default generator's state."""
    _current().set_state(state)


def rng(generator=None) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (or the default one)."""
    return (generator or _current())._rng
