"""Random number generation: ``manual_seed``, ``Generator`` and the default generator.

One NumPy ``PCG64`` generator drives every random function (``rand``, ``randn``, ``randint``,
``randperm``, ``uniform_``, ``normal_``, dropout, data shuffling), so ``manual_seed`` makes all
of them reproducible. Its state is plain data (JSON-able), which checkpoints store.
"""
from __future__ import annotations

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


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and CuPy's, if CuPy is in use)."""
    default_generator.manual_seed(seed)
    from . import _backend
    if _backend._cupy is not None:  # pragma: no cover - GPU only
        _backend._cupy.random.seed(int(seed) % (2 ** 32))
    return default_generator


def seed() -> int:
    """Seed the default generator non-deterministically; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the default generator started from."""
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    """State of the default generator (plain data)."""
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    """Restore the default generator's state."""
    default_generator.set_state(state)


def rng(generator=None) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (or the default one)."""
    return (generator or default_generator)._rng
