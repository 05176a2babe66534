"""``torch.backends.cudnn``'s flags (``import distgrad.backends.cudnn as cudnn`` works as in
PyTorch scripts); distgrad does not use cuDNN, so they change nothing."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: distgrad does not use cuDNN."""
    return False
