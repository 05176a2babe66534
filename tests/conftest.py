"""Shared fixtures: a fresh default RNG per test, and the thermometer data of "Deep Learning with
PyTorch" chapter 5."""
import pytest

import distgrad as dg

T_C = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]
T_U = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]


@pytest.fixture(autouse=True)
def _seed():
    dg.manual_seed(0)


@pytest.fixture
def thermometer():
    """(t_c, t_u) as float32 tensors."""
    return dg.tensor(T_C), dg.tensor(T_U)
