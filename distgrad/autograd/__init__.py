"""distgrad's autograd: the engine, grad modes, custom functions and checks."""
from . import functional, graph
from .anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .engine import backward, grad, queue_callback
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,
                        no_grad, set_grad_enabled)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = [
    "backward", "grad", "queue_callback", "Function", "FunctionCtx", "once_differentiable",
    "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
    "is_inference_mode_enabled", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
    "gradcheck", "gradgradcheck", "GradcheckError", "graph", "functional",
]
