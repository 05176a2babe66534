"""``torch.backends.cuda``'s TF32 switch ``matmul.allow_tf32`` (kept, without effect)."""
import types

matmul = types.SimpleNamespace(allow_tf32=False)
