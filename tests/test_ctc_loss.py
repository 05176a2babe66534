"""ctc_loss and CTCLoss: values and gradients against PyTorch (float64 and float32; padded and
concatenated targets, varying lengths, repeated labels, impossible alignments, every blank
and reduction, unbatched input, unnormalised log-probabilities), finite differences through
log_softmax, PyTorch's argument errors, and the device path through the fake CuPy."""
import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn
import distgrad.nn.functional as F
from distgrad.autograd import gradcheck
from distgrad.testing import fake_cupy

RNG = np.random.default_rng(0)
T, N, C = 8, 4, 6
LOGITS = RNG.standard_normal((T, N, C)) * 2
LOG_PROBS = LOGITS - np.log(np.exp(LOGITS).sum(-1, keepdims=True))
# repeated labels (1 1, 3 3 3) need a blank between them; sample 2 has an empty target
PADDED = np.array([[1, 1, 2, 3, 0], [3, 3, 3, 5, 0], [2, 4, 4, 1, 2], [5, 4, 3, 2, 1]])
INPUT_LENGTHS = np.array([8, 7, 3, 5])
TARGET_LENGTHS = np.array([4, 3, 0, 2])
CONCATENATED = np.concatenate([PADDED[b, :n] for b, n in enumerate(TARGET_LENGTHS)])


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _run(lib, x, targets, input_lengths, target_lengths, dtype, module=False, **kwargs):
    """The loss and the gradient of a weighted sum of it w.r.t. ``x`` (both as NumPy)."""
    xt = lib.tensor(x.astype(dtype), requires_grad=True)
    lengths = [v if isinstance(v, (list, tuple)) else lib.tensor(v)
               for v in (input_lengths, target_lengths)]
    if module:
        out = lib.nn.CTCLoss(**kwargs)(xt, lib.tensor(targets), *lengths)
    else:
        out = lib.nn.functional.ctc_loss(xt, lib.tensor(targets), *lengths, **kwargs)
    weights = np.linspace(1, 2, out.numel()).reshape(tuple(out.shape)).astype(dtype)
    (out * lib.tensor(weights)).sum().backward()
    return out.detach().numpy(), xt.grad.numpy()


def _compare(torch, x, targets, il, tl, dtype=np.float64, **kwargs):
    (ours, our_grad), (theirs, their_grad) = (_run(lib, x, targets, il, tl, dtype, **kwargs)
                                              for lib in (dg, torch))
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, **tol)
    np.testing.assert_allclose(our_grad, their_grad, **tol)
    return ours, our_grad


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("targets", [PADDED, CONCATENATED], ids=["padded", "concatenated"])
def test_matches_pytorch(torch, dtype, reduction, targets):
    _compare(torch, LOG_PROBS, targets, INPUT_LENGTHS, TARGET_LENGTHS, dtype,
             reduction=reduction)


@pytest.mark.parametrize("blank", [0, 3, C - 1])
def test_blank_not_zero(torch, blank):
    targets = np.where(PADDED == blank, (blank + 1) % C, PADDED)
    _compare(torch, LOG_PROBS, targets, INPUT_LENGTHS, TARGET_LENGTHS, blank=blank,
             reduction="none")


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_unnormalised_log_probs_get_pytorchs_gradient(torch, reduction):
    # PyTorch's gradient is exp(lp) - occupancy (the one w.r.t. the inputs of a log_softmax
    # that made lp), not the derivative w.r.t. lp itself, -occupancy
    _compare(torch, LOGITS, PADDED, INPUT_LENGTHS, TARGET_LENGTHS, reduction=reduction)


@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_impossible_alignments(torch, zero_infinity, reduction):
    # 1 1 needs 3 steps (a blank between the repeats), 3 3 3 needs 5, and nothing fits in 0
    il, tl = np.array([2, 4, 0, 8]), np.array([2, 3, 1, 4])
    targets = np.array([[1, 1, 0, 0], [3, 3, 3, 0], [2, 0, 0, 0], [1, 2, 3, 4]])
    loss, grad = _compare(torch, LOG_PROBS, targets, il, tl, reduction=reduction,
                          zero_infinity=zero_infinity)
    if zero_infinity:
        assert np.isfinite(loss).all() and not grad[:, :3].any()
    else:
        assert np.isinf(loss).any() and np.isnan(grad[:2, 0]).all()
    assert not grad[:, 2].any() and np.isfinite(grad[:, 3]).all()


def test_lengths_as_lists_and_tuples(torch):
    _compare(torch, LOG_PROBS, PADDED, INPUT_LENGTHS.tolist(), tuple(TARGET_LENGTHS.tolist()),
             reduction="none")
    _compare(torch, LOG_PROBS, CONCATENATED, tuple(INPUT_LENGTHS.tolist()),
             TARGET_LENGTHS.tolist())


@pytest.mark.parametrize("targets, target_length", [
    (PADDED[0, :4], np.array(4)), (PADDED[:1], np.array([4])), (PADDED[0, :4], [4]),
])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_unbatched(torch, targets, target_length, reduction):
    il = [T] if isinstance(target_length, list) else np.array(T).reshape(target_length.shape)
    loss, _ = _compare(torch, LOG_PROBS[:, 0], targets, il, target_length,
                       reduction=reduction)
    assert loss.shape == ()


def test_pytorch_quirks(torch):
    # the last label being the blank (PyTorch overwrites a gradient term at the last step),
    # a log-probability of -inf (a NaN gradient there), float targets (truncated), uint8 lengths
    x = LOG_PROBS.copy()
    x[2, 1, 4] = -np.inf
    targets = np.array([[1, 0, 2], [3, 4, 0], [0, 0, 0], [2, 2, 2]])
    _compare(torch, x, targets, INPUT_LENGTHS, np.array([2, 2, 3, 0]), reduction="none")
    _compare(torch, LOG_PROBS, PADDED + 0.7, INPUT_LENGTHS.astype(np.uint8), TARGET_LENGTHS)


def test_module(torch):
    kwargs = dict(blank=2, reduction="sum", zero_infinity=True)
    targets = np.where(PADDED == 2, 1, PADDED)
    _compare(torch, LOG_PROBS, targets, INPUT_LENGTHS, TARGET_LENGTHS, module=True, **kwargs)
    m = nn.CTCLoss(**kwargs)
    assert (m.blank, m.reduction, m.zero_infinity) == (2, "sum", True)
    assert nn.CTCLoss().reduction == "mean"


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("targets", [PADDED, CONCATENATED], ids=["padded", "concatenated"])
def test_gradcheck_through_log_softmax(reduction, targets):
    def fn(x):
        return F.ctc_loss(x.log_softmax(2), dg.tensor(targets), dg.tensor(INPUT_LENGTHS),
                          dg.tensor(TARGET_LENGTHS), blank=0, reduction=reduction)
    assert gradcheck(fn, (dg.tensor(LOGITS / 2, requires_grad=True),))


def test_graph():
    x = dg.tensor(LOG_PROBS, requires_grad=True)
    loss = F.ctc_loss(x, dg.tensor(PADDED), INPUT_LENGTHS.tolist(), TARGET_LENGTHS.tolist())
    assert loss.grad_fn.name() == "CtcLossBackward0"
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()
    with dg.no_grad():
        assert F.ctc_loss(x, dg.tensor(PADDED), INPUT_LENGTHS.tolist(),
                          TARGET_LENGTHS.tolist()).grad_fn is None


X = dg.tensor(LOG_PROBS)
TARGETS = dg.tensor(PADDED)
IL, TL = dg.tensor(INPUT_LENGTHS), dg.tensor(TARGET_LENGTHS)
ERRORS = [  # (args, kwargs, exception, key phrase)
    ((X, TARGETS, IL, TL), {"reduction": "avg"}, ValueError,
     "avg is not a valid value for reduction"),
    ((X, TARGETS, IL, TARGET_LENGTHS.tolist()), {}, TypeError,
     r"received an invalid combination of arguments"),
    ((X, TARGETS, [8.0, 7, 3, 5], TARGET_LENGTHS.tolist()), {}, TypeError,
     r"received an invalid combination of arguments"),
    ((X, TARGETS, IL.double(), TL), {}, RuntimeError, "input_lengths must be integral"),
    ((X, TARGETS, IL, TL.bool()), {}, RuntimeError, "target_lengths must be integral"),
    ((dg.tensor(1.0), TARGETS, IL, TL), {}, IndexError, "Dimension out of range"),
    ((X.half(), TARGETS, IL, TL), {}, NotImplementedError,
     "\"ctc_loss_cpu\" not implemented for 'Half'"),
    ((X[:0], TARGETS, IL, TL), {}, RuntimeError, "log_probs tensor must not be empty"),
    ((X[None], TARGETS, IL, TL), {}, RuntimeError,
     "Expected 3-dimensional tensor, but got 5-dimensional tensor for argument #1 'log_probs'"),
    ((X, TARGETS[..., None], IL, TL), {"blank": 9}, RuntimeError,
     "Expected 1 to 2 dimensions, but got 3-dimensional tensor for argument #2 'targets'"),
    ((X, TARGETS, IL, TL), {"blank": C}, RuntimeError, "blank must be in label range"),
    ((X, TARGETS, IL, TL), {"blank": -1}, RuntimeError, "blank must be in label range"),
    ((X, TARGETS, IL[:3], TL), {}, RuntimeError, "input_lengths must be of size batch_size"),
    ((X, TARGETS, IL, TL[:3]), {}, RuntimeError, "target_lengths must be of size batch_size"),
    ((X, TARGETS, [9, 7, 3, 5], [4, -1, 0, 9]), {}, RuntimeError,
     "Expected target_lengths to have value at least 0, but got value -1"),
    ((X, TARGETS[:3], IL, TL), {}, RuntimeError,
     "Expected tensor to have size 4 at dimension 0, but got size 3 for argument #2 'targets'"),
    ((X, TARGETS, IL, dg.tensor([6, 0, 0, 0])), {}, RuntimeError,
     "Expected tensor to have size at least 6 at dimension 1, but got size 5"),
    ((X, dg.tensor(CONCATENATED[:-1]), IL, TL), {}, RuntimeError,
     "Expected tensor to have size 9 at dimension 0, but got size 8"),
    ((X, TARGETS, [9, -1, 3, 5], TL.tolist()), {}, RuntimeError,
     "Expected input_lengths to have value at most 8, but got value 9"),
    ((X, TARGETS, [8, -1, 3, 5], TL.tolist()), {}, RuntimeError,
     "Expected input_lengths to have value at least 0, but got value -1"),
]


@pytest.mark.parametrize("args, kwargs, error, phrase", ERRORS)
def test_errors_match_pytorchs_key_phrases(torch, args, kwargs, error, phrase):
    with pytest.raises(error, match=phrase):
        F.ctc_loss(*args, **kwargs)
    theirs = [torch.from_numpy(a.numpy()) if isinstance(a, dg.Tensor) else a for a in args]
    with pytest.raises(error, match=phrase):
        torch.nn.functional.ctc_loss(*theirs, **kwargs)


def test_targets_out_of_range():
    # PyTorch reads outside the array here; distgrad refuses (padding past a length is free)
    with pytest.raises(IndexError, match="Target 6 is out of bounds"):
        F.ctc_loss(X, dg.tensor(np.where(PADDED == 5, 6, PADDED)), IL, TL)
    padded = np.where(np.arange(5) >= TARGET_LENGTHS[:, None], -1, PADDED)
    np.testing.assert_array_equal(F.ctc_loss(X, dg.tensor(padded), IL, TL).numpy(),
                                  F.ctc_loss(X, TARGETS, IL, TL).numpy())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_device_path_matches_the_cpu(dtype):
    def run(device):
        x = dg.tensor(LOG_PROBS.astype(dtype), device=device, requires_grad=True)
        loss = F.ctc_loss(x, dg.tensor(CONCATENATED), dg.tensor(INPUT_LENGTHS, device=device),
                          dg.tensor(TARGET_LENGTHS), reduction="none")
        (loss * dg.tensor(np.arange(1.0, 5.0, dtype=dtype), device=device)).sum().backward()
        assert loss.dtype == x.grad.dtype == x.dtype and x.grad.device == x.device
        return loss.detach().cpu().numpy(), x.grad.cpu().numpy()
    with fake_cupy.installed():
        on_device = run("cuda")
    for a, b in zip(on_device, run("cpu")):
        np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == np.float32 else 1e-12)
