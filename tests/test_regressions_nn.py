"""Regression tests for discrepancies with PyTorch found by differential testing of distgrad.nn,
distgrad.optim and distgrad.checkpoint (expected values are PyTorch 2.13's)."""
import numpy as np
import pytest

import distgrad as dg
import distgrad.nn.functional as F


@pytest.mark.parametrize("pad, expected", [((-1, 2), [1, 2, 3, 4, 1, 2]),
                                           ((2, -1), [2, 3, 0, 1, 2, 3]),
                                           ((3, -2), [0, 1, 2, 0, 1, 2]),
                                           ((1, 0), [4, 0, 1, 2, 3, 4])])
def test_circular_pad_with_a_negative_pad_wraps_around_the_cropped_input(pad, expected):
    x = dg.arange(5.0).reshape(1, 1, 5).requires_grad_()
    y = F.pad(x, pad, mode="circular")
    assert y.detach().numpy().ravel().tolist() == expected
    y.backward(dg.arange(1.0, 7.0).reshape(1, 1, 6))
    grad = np.zeros(5)
    np.add.at(grad, expected, np.arange(1.0, 7.0))
    np.testing.assert_array_equal(x.grad.numpy().ravel(), grad)


@pytest.mark.parametrize("x_dtype, w_dtype, b_dtype, message", [
    (dg.float64, dg.float32, dg.float32, "mat1 and mat2 must have the same dtype, but got Double and Float"),
    (dg.float64, dg.float32, None, "expected m1 and m2 to have the same dtype, but got: double != float"),
    (dg.float32, dg.float32, dg.float64, "self and mat2 must have the same dtype, but got Double and Float"),
])
def test_linear_dtype_mismatch_messages_are_pytorchs(x_dtype, w_dtype, b_dtype, message):
    # nn.Linear fed a float64 batch: PyTorch's addmm names mat1 and mat2
    bias = None if b_dtype is None else dg.ones(2, dtype=b_dtype)
    with pytest.raises(RuntimeError, match=message):
        F.linear(dg.ones(3, 2, dtype=x_dtype), dg.ones(2, 2, dtype=w_dtype), bias)


def test_rnn_cell_repr_shows_a_relu_nonlinearity():
    assert repr(dg.nn.RNNCell(3, 4, bias=False, nonlinearity="relu")) == \
        "RNNCell(3, 4, bias=False, nonlinearity=relu)"
    assert repr(dg.nn.RNNCell(3, 4)) == "RNNCell(3, 4)"


def test_adaptive_max_pool2d_with_overlapping_windows_routes_ties_to_the_first_maximum():
    # windows [0:2), [1:3), [2:4) overlap; PyTorch sends each gradient to the first maximum
    x = dg.tensor([[[1.0, 3, 3, 2], [3, 1, 2, 3], [0, 0, 0, 0], [5, 5, 1, 1]]], requires_grad=True)
    out, idx = F.adaptive_max_pool2d(x, 3, return_indices=True)
    assert out.detach().numpy().tolist() == [[[3, 3, 3], [3, 2, 3], [5, 5, 1]]]
    assert idx.numpy().tolist() == [[[1, 1, 2], [4, 6, 7], [12, 13, 14]]]
    out.backward(dg.arange(1.0, 10.0).reshape(1, 3, 3))
    assert x.grad.numpy().tolist() == [[[0, 3, 3, 0], [4, 0, 5, 6], [0, 0, 0, 0], [7, 8, 9, 0]]]
    out1, idx1 = F.adaptive_max_pool1d(dg.tensor([[3.0, 1, 3, 3, 0]]), 3, return_indices=True)
    assert out1.numpy().tolist() == [[3, 3, 3]] and idx1.numpy().tolist() == [[0, 2, 3]]


def test_hardswish_gradient_at_the_ends_of_the_ramp():
    # PyTorch: 0 at x = -3 and 1 at x = 3 (the outer pieces), x / 3 + 1/2 strictly inside
    x = dg.tensor([-3.0, 3.0, 0.0, -4.0, 4.0], requires_grad=True)
    F.hardswish(x).sum().backward()
    assert x.grad.numpy().tolist() == [0.0, 1.0, 0.5, 0.0, 1.0]


def test_rnn_flatten_parameters_and_all_weights():
    # models written for cuDNN call flatten_parameters() in forward
    lstm = dg.nn.LSTM(2, 3, num_layers=2, bidirectional=True, bias=False)
    lstm.flatten_parameters()
    shapes = [[tuple(w.shape) for w in ws] for ws in lstm.all_weights]
    assert shapes == [[(12, 2), (12, 3)], [(12, 2), (12, 3)], [(12, 6), (12, 3)], [(12, 6), (12, 3)]]
    assert lstm.all_weights[1][0] is lstm.weight_ih_l0_reverse
    assert len(dg.nn.GRU(2, 3).all_weights[0]) == 4


def test_cross_entropy_with_float64_probability_targets_promotes_like_pytorch():
    # soft labels built in NumPy (float64) with float32 logits: PyTorch returns a float64 loss
    x = dg.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], requires_grad=True)
    t = dg.tensor(np.array([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0]]))
    loss = F.cross_entropy(x, t)
    assert loss.dtype == dg.float64
    np.testing.assert_allclose(loss.item(), 2.0901263, rtol=1e-6)
    loss.backward()
    assert x.grad.dtype == dg.float32
    np.testing.assert_allclose(x.grad.numpy(), [[0.0156119, 0.0642658, -0.0798778],
                                                [-0.4766937, 0.0085739, 0.4681198]], atol=1e-6)


def test_save_and_load_with_file_objects_and_weights_only(tmp_path):
    # torch.save(obj, io.BytesIO()) and torch.load(f, weights_only=True) are common in PyTorch code
    import io
    model = dg.nn.Linear(2, 3)
    buffer = io.BytesIO()
    buffer.write(b"header")
    dg.save({"model": model.state_dict(), "epoch": 3}, buffer)
    buffer.seek(6)
    loaded = dg.load(buffer, weights_only=True)
    assert loaded["epoch"] == 3
    np.testing.assert_array_equal(loaded["model"]["weight"].numpy(), model.weight.detach().numpy())
    with open(tmp_path / "c.pt", "wb") as f:
        dg.save([dg.ones(2)], f)
    with open(tmp_path / "c.pt", "rb") as f:
        assert dg.load(f, map_location="cpu")[0].tolist() == [1.0, 1.0]
    assert dg.load(tmp_path / "c.pt", weights_only=False)[0].tolist() == [1.0, 1.0]
    with pytest.raises(dg.checkpoint.CheckpointError, match="not a distgrad checkpoint"):
        dg.load(io.BytesIO(b"not a zip"))


def test_full_backward_hook_grad_input_has_zeros_for_inputs_without_gradient():
    # PyTorch: grad_input materializes zeros for a tensor input that got no gradient (here b,
    # which does not require grad, and c, unused); grad_output keeps None for an unused output.
    class Two(dg.nn.Module):
        def forward(self, a, b, c):
            return a * b, a * 3

    seen = []
    m = Two()
    m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go)))
    a, c = dg.ones(2, requires_grad=True), dg.ones(2, requires_grad=True)
    out, _ = m(a, dg.full((2,), 2.0), c)
    out.sum().backward()
    (ga, gb, gc), go = seen[0]
    assert ga.tolist() == [2.0, 2.0] and gb.tolist() == [0.0, 0.0] and gc.tolist() == [0.0, 0.0]
    assert go[0].tolist() == [1.0, 1.0] and go[1] is None


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_normalize_has_a_second_derivative(p):
    # gradient penalties differentiate through F.normalize twice (was first order only)
    x = dg.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    assert dg.autograd.gradcheck(lambda t: F.normalize(t, p=p), (x,))
    assert dg.autograd.gradgradcheck(lambda t: F.normalize(t, p=p), (x,))
