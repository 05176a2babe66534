"""``SyncBatchNorm``: batch normalisation with statistics over the whole global batch (PyTorch's
``torch.nn.SyncBatchNorm``).

In training mode with more than one rank, the per-channel mean and variance are computed over
the samples of *every* rank: two small all-reduces in the forward pass (the sums and the count,
then the squared deviations from the global mean: the two-pass formula, as accurate as a single
process) and one in the backward pass (the sums of ``dy * w`` and ``dy * w * xhat`` that the input
gradient needs). With DDP averaging the parameter gradients, training on N ranks then equals
BatchNorm on the concatenated batch in one process. The running statistics are updated from the
global statistics (unbiased variance with the global count), so they stay identical on every
rank.

In eval mode, in a world of one, or before ``init_process_group``, it is exactly ``BatchNorm``.
Every rank must run the same forward/backward sequence (collectives inside forward and backward;
the order is the graph's, the same on every rank). Use
``SyncBatchNorm.convert_sync_batchnorm(model)`` to replace the ``BatchNorm*d`` layers of a model
(parameters and buffers are kept).
"""
from __future__ import annotations

import numpy as np

from ...autograd.function import Function
from ...tensor import Tensor
from .normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


def _group(process_group):
    from ... import distributed as dist

    if not dist.is_initialized():
        return None
    pg = dist.process_group._resolve(process_group)
    if not pg.is_member or pg.size() <= 1:
        return None
    return pg


class _SyncBatchNormFunction(Function):
    @staticmethod
    def forward(ctx, input, weight, bias, running_mean, running_var, eps, momentum, pg):
        from ...distributed import collectives as coll

        xd = input._data
        xp = input._xp()
        N, C = xd.shape[:2]
        S = int(np.prod(xd.shape[2:])) if xd.ndim > 2 else 1
        xs = xd.reshape(N, C, S)
        acc = np.float64 if xd.dtype != np.float64 else xd.dtype
        # pass 1: global sums and count -> mean
        buf = xp.zeros(C + 1, np.float64)
        buf[:C] = xs.sum(axis=(0, 2), dtype=acc)
        buf[C] = N * S
        coll.all_reduce(buf, group=pg)
        count = float(buf[C])
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got {count:g} "
                             f"over all ranks")
        mean = buf[:C] / count
        xc = xs - mean.astype(xd.dtype).reshape(1, C, 1)
        # pass 2: global sum of squared deviations -> (biased) variance
        sq = xp.ascontiguousarray((xc * xc).sum(axis=(0, 2), dtype=acc), dtype=np.float64)
        coll.all_reduce(sq, group=pg)
        var = sq / count
        rstd = (1.0 / xp.sqrt(var + eps)).astype(xd.dtype)
        xhat = xc * rstd.reshape(1, C, 1)
        wd = None if weight is None else weight._data
        out = xhat * wd.reshape(1, C, 1) if wd is not None else xhat.copy()
        if bias is not None:
            out += bias._data.reshape(1, C, 1)
        for buf_t, value in ((running_mean, mean), (running_var, var * (count / (count - 1)))):
            if buf_t is not None:
                d = buf_t._data
                d *= 1 - momentum
                d += (momentum * value).astype(d.dtype).reshape(d.shape)
                buf_t._version_counter[0] += 1
        ctx.xhat, ctx.rstd, ctx.w, ctx.count, ctx.pg = xhat, rstd, wd, count, pg
        ctx.shape = xd.shape
        return Tensor._wrap(out.reshape(xd.shape))

    @staticmethod
    def backward(ctx, grad_output):
        from ...distributed import collectives as coll

        g = grad_output._data
        xp = grad_output._xp()
        N, C = ctx.shape[:2]
        gh = g.reshape(N, C, -1)
        xhat = ctx.xhat
        gw = gb = gx = None
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if need_w:
            gw = Tensor._wrap((gh * xhat).sum(axis=(0, 2)).reshape(ctx.w.shape))
        if need_b:
            gb = Tensor._wrap(gh.sum(axis=(0, 2)))
        if need_x:
            gxh = gh * ctx.w.reshape(1, C, 1) if ctx.w is not None else gh
            acc = np.float64
            buf = xp.zeros(2 * C, np.float64)
            buf[:C] = gxh.sum(axis=(0, 2), dtype=acc)
            buf[C:] = (gxh * xhat).sum(axis=(0, 2), dtype=acc)
            coll.all_reduce(buf, group=ctx.pg)
            m1 = (buf[:C] / ctx.count).astype(g.dtype).reshape(1, C, 1)
            m2 = (buf[C:] / ctx.count).astype(g.dtype).reshape(1, C, 1)
            gx = gxh - m1
            gx -= xhat * m2
            gx *= ctx.rstd.reshape(1, C, 1)
            gx = Tensor._wrap(gx.reshape(ctx.shape))
        return gx, gw, gb, None, None, None, None, None


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation over ``(N, C, *)`` inputs with statistics synchronized across the
    ranks of ``process_group`` (default: the world) in training mode; see the module docstring.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device,
                         dtype=dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input):
        pg = _group(self.process_group) if self.training else None
        if pg is None:
            return super().forward(input)
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data += 1
            self.num_batches_tracked._version_counter[0] += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        rm = self.running_mean if self.track_running_stats else None
        rv = self.running_var if self.track_running_stats else None
        return _SyncBatchNormFunction.apply(input, self.weight, self.bias, rm, rv, self.eps,
                                            factor, pg)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Replace every ``BatchNorm*d`` in ``module`` (or ``module`` itself) by a
        ``SyncBatchNorm`` holding the same parameters and buffers; returns the result."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.train(module.training)
        for name, child in module.named_children():
            new = cls.convert_sync_batchnorm(child, process_group)
            if new is not child:
                out.add_module(name, new)
        return out
