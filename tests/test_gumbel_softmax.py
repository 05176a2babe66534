"""nn.functional.gumbel_softmax: samples are distributions along ``dim``, their argmax follows
softmax(logits) (the Gumbel-max trick), ``hard`` gives one-hot samples with the soft sample's
gradient, manual_seed reproduces them."""
import numpy as np
import pytest

import distgrad as dg
import distgrad.nn.functional as F


def test_argmax_frequencies_follow_the_softmax():
    logits = dg.tensor([[0.5, -1.0, 2.0, 0.0]]).expand(40000, 4)
    dg.manual_seed(0)
    picks = F.gumbel_softmax(logits, tau=0.7, hard=True).numpy()
    assert np.array_equal(picks.sum(1), np.ones(40000)) and set(np.unique(picks)) == {0.0, 1.0}
    expected = np.exp([0.5, -1.0, 2.0, 0.0]) / np.exp([0.5, -1.0, 2.0, 0.0]).sum()
    np.testing.assert_allclose(picks.mean(0), expected, atol=0.01)


@pytest.mark.parametrize("dim", [0, -1])
def test_soft_samples_and_straight_through_gradient(dim):
    x = dg.randn(3, 5, dtype=dg.float64, requires_grad=True)
    weights = dg.randn(3, 5, dtype=dg.float64)
    grads = []
    for hard in (False, True):
        x.grad = None
        dg.manual_seed(4)
        y = F.gumbel_softmax(x, tau=0.5, hard=hard, dim=dim)
        np.testing.assert_allclose(y.detach().numpy().sum(dim), 1.0)
        (y * weights).sum().backward()
        grads.append(x.grad.numpy().copy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)  # hard passes the soft gradient


def test_manual_seed_reproduces_and_eps_is_deprecated():
    x = dg.randn(2, 6)
    dg.manual_seed(9)
    a = F.gumbel_softmax(x).numpy()
    dg.manual_seed(9)
    np.testing.assert_array_equal(F.gumbel_softmax(x).numpy(), a)
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated"):
        F.gumbel_softmax(x, eps=1e-5)
