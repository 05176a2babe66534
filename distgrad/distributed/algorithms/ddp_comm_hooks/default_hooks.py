"""The basic communication hooks (PyTorch's ``ddp_comm_hooks.default_hooks``): ``state`` is the
process group to reduce over (None: the world)."""
from __future__ import annotations

from ... import collectives as _coll
from ... import process_group as _pgm
from ....dtypes import float16


def allreduce_hook(process_group, bucket):
    """Average the bucket over the group: divide by its size, then all-reduce (what DDP does
    without a hook)."""
    group = _pgm._resolve(process_group)
    tensor = bucket.buffer()
    tensor.div_(group.size())
    work = _coll.all_reduce(tensor, group=group, async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])


def fp16_compress_hook(process_group, bucket):
    """Average the bucket in float16: cast, divide, all-reduce, and cast back into the bucket.
    The result has float16's precision. (MPI has no float16 type, so distgrad's all-reduce of
    float16 data moves it as float32: this hook does not reduce the traffic on MPI.)"""
    group = _pgm._resolve(process_group)
    compressed = bucket.buffer().to(float16).div_(group.size())
    work = _coll.all_reduce(compressed, group=group, async_op=True)

    def decompress(fut):
        buffer = bucket.buffer()
        buffer.copy_(fut.value()[0])
        return buffer
    return work.get_future().then(decompress)
