"""nn.LazyLinear and nn.UninitializedParameter: the first forward (or a loaded state dict)
gives the weight its shape and initialises it as Linear does; the module becomes a Linear and
the parameter objects stay the same; an uninitialised parameter's shape cannot be read."""
import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn
from distgrad.nn.parameter import is_lazy

pytestmark = pytest.mark.filterwarnings("ignore:Lazy modules are a new feature")


def test_first_forward_initialises_like_linear():
    dg.manual_seed(0)
    plain = nn.Linear(5, 3)
    dg.manual_seed(0)
    lazy = nn.LazyLinear(3)
    weight = lazy.weight
    assert is_lazy(weight) and lazy.has_uninitialized_params() and lazy.in_features == 0
    assert repr(lazy) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
        weight.shape
    x = dg.randn(2, 5)
    dg.manual_seed(0)  # the same draws as Linear's construction
    out = lazy(x)
    assert type(lazy) is nn.Linear and lazy.in_features == 5 and lazy.weight is weight
    assert not is_lazy(weight) and type(weight) is nn.Parameter and weight.shape == (3, 5)
    np.testing.assert_array_equal(lazy.weight.detach().numpy(), plain.weight.detach().numpy())
    np.testing.assert_array_equal(out.detach().numpy(), plain(x).detach().numpy())


def test_without_bias_training_and_the_warning():
    with pytest.warns(UserWarning, match="Lazy modules are a new feature"):
        lazy = nn.LazyLinear(2, bias=False)
    model = nn.Sequential(lazy, nn.Tanh())
    x = dg.randn(4, 6)
    model(x)  # a dry run, then the optimizer
    opt = dg.optim.SGD(model.parameters(), lr=0.1)
    loss = model(x).pow(2).sum()
    loss.backward()
    opt.step()
    assert lazy.bias is None and lazy.weight.grad.shape == (2, 6)


def test_load_state_dict_gives_the_shapes():
    source = nn.Linear(4, 3)
    lazy = nn.LazyLinear(3)
    lazy.load_state_dict(source.state_dict())
    assert type(lazy) is nn.Linear and lazy.in_features == 4
    np.testing.assert_array_equal(lazy.weight.detach().numpy(), source.weight.detach().numpy())
    np.testing.assert_array_equal(lazy.bias.detach().numpy(), source.bias.detach().numpy())


def test_uninitialized_parameter_materializes_in_place():
    p = nn.UninitializedParameter(dtype=dg.float64)
    assert repr(p) == "<UninitializedParameter>" and p.requires_grad
    p.materialize((2, 2))
    assert type(p) is nn.Parameter and p.shape == (2, 2) and p.dtype == dg.float64
