"""PyTorch's ``torch.backends`` flags that training scripts set (``cudnn.benchmark``,
``cuda.matmul.allow_tf32`` ...): kept and readable, without effect, since distgrad uses
neither cuDNN nor TF32 (see ``distgrad.settings``)."""
from . import cuda, cudnn  # noqa: F401
