"""``F.embedding_bag`` and ``nn.EmbeddingBag`` against PyTorch 2.13: the three modes, 2-D input
and 1-D input with offsets (``include_last_offset``, empty bags), per-sample weights,
``padding_idx``, ``max_norm``, gradients (also finite differences) and the errors."""
import re

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn as nn
import distgrad.nn.functional as F
from distgrad.autograd import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

pytestmark = pytest.mark.torch

WEIGHT = np.random.default_rng(0).standard_normal((7, 4))
FLAT = np.array([1, 2, 4, 5, 4, 3, 2, 0, 2, 2, 6])
OFFSETS = np.array([0, 3, 3, 6, 8])          # bag 1 is empty
GRAD = np.random.default_rng(1).standard_normal((5, 4))


def _run(m, f, weight, input, offsets=None, psw=None, grad=None, **kw):
    """``f.embedding_bag`` on copies of the arrays: (output, weight grad, per-sample grad,
    grad_fn name)."""
    w = m.tensor(weight.copy(), requires_grad=True)
    p = None if psw is None else m.tensor(psw.copy(), requires_grad=True)
    out = f.embedding_bag(m.tensor(input), w, None if offsets is None else m.tensor(offsets),
                          per_sample_weights=p, **kw)
    out.backward(m.ones_like(out) if grad is None else m.tensor(grad).to(out.dtype))
    name = type(out.grad_fn).__name__ if m is torch else out.grad_fn.name()
    return (out.detach().numpy(), w.grad.numpy(), None if p is None else p.grad.numpy(), name)


def compare(*args, **kw):
    expected = _run(torch, TF, *args, **kw)
    got = _run(dg, F, *args, **kw)
    for e, g in zip(expected[:3], got[:3]):
        if e is None:
            assert g is None
        else:
            assert g.dtype == e.dtype and g.shape == e.shape
            np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-12)
    assert got[3] == expected[3] == "EmbeddingBagBackward0"


@pytest.mark.parametrize("padding_idx", [None, 2, -1, 0])
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_offsets_match_torch(mode, padding_idx):
    compare(WEIGHT, FLAT, OFFSETS, grad=GRAD, mode=mode, padding_idx=padding_idx)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_include_last_offset_and_2d_input_match_torch(mode):
    compare(WEIGHT, FLAT, np.array([0, 3, 3, 6, 11]), grad=GRAD[:4], mode=mode,
            include_last_offset=True)
    # indices after the last offset are left out (PyTorch's CPU kernels disagree there: its
    # 'sum' leaves them out, 'max' takes them, 'mean' counts them)
    w = dg.tensor(WEIGHT, requires_grad=True)
    out = F.embedding_bag(dg.tensor(FLAT), w, dg.tensor([0, 3, 9]), mode=mode,
                          include_last_offset=True)
    expected = F.embedding_bag(dg.tensor(FLAT[:9]), w, dg.tensor([0, 3]), mode=mode)
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    compare(WEIGHT, FLAT[:9].reshape(3, 3), grad=GRAD[:3], mode=mode, padding_idx=4)
    compare(WEIGHT, FLAT.astype(np.int32), OFFSETS.astype(np.int32), mode=mode)
    compare(WEIGHT, np.zeros(0, dtype=np.int64), np.array([0, 0]), mode=mode)  # empty bags
    compare(WEIGHT, np.zeros((0, 3), dtype=np.int64), mode=mode)
    # no bags (PyTorch's CPU backward crashes here)
    out = F.embedding_bag(dg.tensor(FLAT), dg.tensor(WEIGHT), dg.tensor([0]), mode=mode,
                          include_last_offset=True)
    assert out.shape == (0, 4)


@pytest.mark.parametrize("padding_idx", [None, 4])
def test_per_sample_weights_match_torch(padding_idx):
    psw = np.random.default_rng(2).uniform(-1, 2, FLAT.shape)
    compare(WEIGHT, FLAT, OFFSETS, psw=psw, grad=GRAD, mode="sum", padding_idx=padding_idx)
    compare(WEIGHT, FLAT[:10].reshape(2, 5), psw=psw[:10].reshape(2, 5), grad=GRAD[:2],
            mode="sum", padding_idx=padding_idx)
    compare(WEIGHT, FLAT, np.array([0, 4, 11]), psw=psw, grad=GRAD[:2], mode="sum",
            include_last_offset=True)


def test_only_one_input_requiring_grad():
    psw = np.random.default_rng(5).uniform(-1, 2, FLAT.shape)
    grads = {}
    for m, f in ((torch, TF), (dg, F)):
        p = m.tensor(psw, requires_grad=True)
        f.embedding_bag(m.tensor(FLAT), m.tensor(WEIGHT), m.tensor(OFFSETS), mode="sum",
                        per_sample_weights=p).sum().backward()
        w = m.tensor(WEIGHT, requires_grad=True)
        f.embedding_bag(m.tensor(FLAT), w, m.tensor(OFFSETS), mode="sum",
                        per_sample_weights=m.tensor(psw)).sum().backward()
        grads[m.__name__] = (p.grad.numpy(), w.grad.numpy())
    for d, t in zip(grads["distgrad"], grads["torch"]):
        np.testing.assert_allclose(d, t)
    with dg.no_grad():
        out = F.embedding_bag(dg.tensor(FLAT), dg.tensor(WEIGHT, requires_grad=True),
                              dg.tensor(OFFSETS))
    assert out.grad_fn is None and not out.requires_grad


def test_weight_changed_in_place_before_backward():
    # with per-sample weights the weight is saved (the per-sample gradient needs it)
    w2 = dg.tensor(WEIGHT, requires_grad=True) * 1
    out = F.embedding_bag(dg.tensor(FLAT), w2, dg.tensor(OFFSETS), mode="sum",
                          per_sample_weights=dg.ones(11, dtype=dg.float64, requires_grad=True))
    w2.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_dtypes_and_max_ties():
    for dtype in (np.float32, np.float16):
        compare(WEIGHT.astype(dtype), FLAT, OFFSETS, mode="mean")
    # ties: the first row holding the maximum gets the gradient, as in PyTorch
    tied = np.array([[1.0, 5.0], [1.0, 2.0], [3.0, 5.0]])
    compare(tied, np.array([0, 1, 2, 0]), np.array([0]), mode="max")


def test_max_norm_renormalises_the_rows_used_in_place():
    w_t, w_d = torch.tensor(WEIGHT * 3), dg.tensor(WEIGHT * 3)
    out_t = TF.embedding_bag(torch.tensor(FLAT[:5]), w_t, torch.tensor([0, 2]), max_norm=1.5)
    out_d = F.embedding_bag(dg.tensor(FLAT[:5]), w_d, dg.tensor([0, 2]), max_norm=1.5)
    np.testing.assert_allclose(w_d.numpy(), w_t.numpy())
    np.testing.assert_allclose(out_d.numpy(), out_t.numpy())


def test_scale_grad_by_freq():
    # each index equally frequent: PyTorch's CPU kernel (which divides by the count of another
    # index when frequencies differ) agrees
    for mode in ("sum", "mean"):
        compare(WEIGHT, np.array([0, 1, 2, 0, 1, 2]), np.array([0, 2]), mode=mode,
                scale_grad_by_freq=True)
    # in general each row's gradient is divided by its frequency in the mini-batch
    w = dg.tensor(WEIGHT, requires_grad=True)
    F.embedding_bag(dg.tensor(FLAT), w, dg.tensor(OFFSETS), mode="sum",
                    scale_grad_by_freq=True, padding_idx=2).sum().backward()
    # (with a gradient of ones, every row used gets 1 in all; the padding row 2 gets none)
    np.testing.assert_allclose(w.grad.numpy(), np.array([[1, 1, 0, 1, 1, 1, 1]]).T * np.ones(4))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_gradcheck(mode):
    w = dg.tensor(np.random.default_rng(3).standard_normal((7, 3)), requires_grad=True)
    psw = dg.tensor(np.random.default_rng(4).uniform(0.5, 1.5, FLAT.shape), requires_grad=True)
    idx, offsets = dg.tensor(FLAT), dg.tensor(OFFSETS)
    assert gradcheck(lambda a: F.embedding_bag(idx, a, offsets, mode=mode, padding_idx=2), (w,))
    if mode == "sum":
        assert gradcheck(lambda a, p: F.embedding_bag(idx, a, offsets, mode="sum",
                                                      per_sample_weights=p), (w, psw))


def _error(m, f, case):
    try:
        case(m, f)
    except Exception as e:  # noqa: BLE001 - the exception itself is compared
        return type(e), str(e)
    return None


ERROR_CASES = {
    "offsets[0]": lambda m, f: f.embedding_bag(m.tensor(FLAT), m.tensor(WEIGHT), m.tensor([1, 3])),
    "offsets[-1]": lambda m, f: f.embedding_bag(m.tensor(FLAT), m.tensor(WEIGHT), m.tensor([0, 12])),
    "no offsets for include_last_offset": lambda m, f: f.embedding_bag(
        m.tensor(FLAT), m.tensor(WEIGHT), m.tensor(np.zeros(0, dtype=np.int64)),
        include_last_offset=True),
    "index range": lambda m, f: f.embedding_bag(m.tensor([1, 7]), m.tensor(WEIGHT),
                                                m.tensor([0])),
    "negative index": lambda m, f: f.embedding_bag(m.tensor([[1, -1]]), m.tensor(WEIGHT)),
    # the message of PyTorch's fast float32 kernel
    "index range float32": lambda m, f: f.embedding_bag(
        m.tensor([[1, 7]]), m.tensor(WEIGHT, dtype=m.float32), mode="sum"),
    "index range float32 max": lambda m, f: f.embedding_bag(
        m.tensor([[1, 7]]), m.tensor(WEIGHT, dtype=m.float32), mode="max"),
    "index range float32 padding_idx": lambda m, f: f.embedding_bag(
        m.tensor([[1, 7]]), m.tensor(WEIGHT, dtype=m.float32), padding_idx=0),
    "float input": lambda m, f: f.embedding_bag(m.tensor([1.0, 2.0]), m.tensor(WEIGHT),
                                                m.tensor([0])),
    "float offsets": lambda m, f: f.embedding_bag(m.tensor(FLAT), m.tensor(WEIGHT),
                                                  m.tensor([0.0])),
    "3-D input": lambda m, f: f.embedding_bag(m.tensor(FLAT[:8].reshape(2, 2, 2)),
                                              m.tensor(WEIGHT)),
    "2-D input with offsets": lambda m, f: f.embedding_bag(
        m.tensor(FLAT[:8].reshape(2, 4)), m.tensor(WEIGHT), m.tensor([0])),
    "1-D input without offsets": lambda m, f: f.embedding_bag(m.tensor(FLAT), m.tensor(WEIGHT)),
    "2-D offsets": lambda m, f: f.embedding_bag(m.tensor(FLAT), m.tensor(WEIGHT),
                                                m.tensor([[0]])),
    "mode": lambda m, f: f.embedding_bag(m.tensor(FLAT), m.tensor(WEIGHT), m.tensor([0]),
                                         mode="min"),
    "max with frequency scaling": lambda m, f: f.embedding_bag(
        m.tensor(FLAT), m.tensor(WEIGHT), m.tensor([0]), mode="max", scale_grad_by_freq=True),
    "max sparse": lambda m, f: f.embedding_bag(m.tensor(FLAT), m.tensor(WEIGHT), m.tensor([0]),
                                               mode="max", sparse=True),
    "per-sample weights in mean": lambda m, f: f.embedding_bag(
        m.tensor(FLAT), m.tensor(WEIGHT), m.tensor([0]), per_sample_weights=m.ones(11)),
    "per-sample weights shape": lambda m, f: f.embedding_bag(
        m.tensor(FLAT), m.tensor(WEIGHT), m.tensor([0]), mode="sum",
        per_sample_weights=m.ones(10, dtype=m.float64)),
    "per-sample weights dtype": lambda m, f: f.embedding_bag(
        m.tensor(FLAT), m.tensor(WEIGHT), m.tensor([0]), mode="sum",
        per_sample_weights=m.ones(11, dtype=m.float32)),
    "1-D weight": lambda m, f: f.embedding_bag(m.tensor(FLAT), m.tensor(WEIGHT[0]),
                                               m.tensor([0])),
    "integer weight": lambda m, f: f.embedding_bag(m.tensor(FLAT), m.tensor(FLAT[:, None]),
                                                   m.tensor([0])),
    "padding_idx": lambda m, f: f.embedding_bag(m.tensor(FLAT), m.tensor(WEIGHT), m.tensor([0]),
                                                padding_idx=-8),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_errors_match_torch(case):
    expected = _error(torch, TF, ERROR_CASES[case])
    got = _error(dg, F, ERROR_CASES[case])
    assert expected is not None and got is not None
    assert got[0] is expected[0]
    message = expected[1].splitlines()[0].replace("torch.", "distgrad.").replace(
        "<class 'distgrad.Tensor'>", "<class 'distgrad.tensor.Tensor'>")
    assert got[1] == message


def test_decreasing_offsets_are_refused():
    with pytest.raises(RuntimeError, match="offsets must be non-decreasing"):
        F.embedding_bag(dg.tensor(FLAT), dg.tensor(WEIGHT), dg.tensor([0, 5, 3]))


# -- the module ----------------------------------------------------------------------------------
def test_module_matches_torch():
    kw = dict(mode="max", padding_idx=-2, include_last_offset=True)
    tm = torch.nn.EmbeddingBag(7, 4, **kw).double()
    dm = nn.EmbeddingBag(7, 4, dtype=dg.float64, **kw)
    assert dm.padding_idx == tm.padding_idx == 5 and (dm.weight.detach().numpy()[5] == 0).all()
    assert repr(dm) == repr(tm)
    assert list(dm.state_dict()) == ["weight"] and dm.weight.requires_grad
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(WEIGHT))
    dm.load_state_dict({"weight": dg.tensor(WEIGHT)})
    offsets = np.array([0, 3, 3, 6, 11])
    out_t = tm(torch.tensor(FLAT), torch.tensor(offsets))
    out_d = dm(dg.tensor(FLAT), dg.tensor(offsets))
    np.testing.assert_allclose(out_d.detach().numpy(), out_t.detach().numpy())
    out_t.sum().backward()
    out_d.sum().backward()
    np.testing.assert_allclose(dm.weight.grad.numpy(), tm.weight.grad.numpy())
    s = dict(max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True, mode="sum")
    assert repr(nn.EmbeddingBag(3, 2, **s)) == repr(torch.nn.EmbeddingBag(3, 2, **s))
    with pytest.raises(AssertionError, match="padding_idx must be within num_embeddings"):
        nn.EmbeddingBag(3, 2, padding_idx=3)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(3, 2, padding_idx=-4)


def test_from_pretrained():
    table = dg.tensor(WEIGHT)
    bag = nn.EmbeddingBag.from_pretrained(table, mode="sum")
    assert bag.weight.data_ptr() == table.data_ptr() and not bag.weight.requires_grad
    assert bag.mode == "sum" and bag.num_embeddings == 7 and bag.embedding_dim == 4
    expected = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(WEIGHT), mode="sum")(
        torch.tensor(FLAT[:6].reshape(2, 3)))
    np.testing.assert_allclose(bag(dg.tensor(FLAT[:6].reshape(2, 3))).numpy(), expected.numpy())
    assert nn.EmbeddingBag.from_pretrained(table, freeze=False).weight.requires_grad
    with pytest.raises(AssertionError, match=re.escape("expected to be 2-dimensional")):
        nn.EmbeddingBag.from_pretrained(dg.tensor(WEIGHT[0]))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_device_code_path_on_fake_cupy(mode):
    from distgrad.testing import fake_cupy
    psw = np.random.default_rng(6).uniform(0.5, 1.5, FLAT.shape) if mode == "sum" else None

    def run(device):
        w = dg.tensor(WEIGHT, device=device, requires_grad=True)
        p = None if psw is None else dg.tensor(psw, device=device, requires_grad=True)
        out = F.embedding_bag(dg.tensor(FLAT, device=device), w,
                              dg.tensor(OFFSETS, device=device), mode=mode, padding_idx=2,
                              per_sample_weights=p, max_norm=2.0)
        out.backward(dg.tensor(GRAD, device=device))
        return [t.detach().cpu().numpy() for t in (out, w.grad) + (() if p is None else (p.grad,))]
    expected = run("cpu")
    with fake_cupy.installed():
        got = run("cuda")
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e)
