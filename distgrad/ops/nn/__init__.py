"""Neural-network operations (the implementation of ``distgrad.nn.functional``): each is a
forward on raw arrays plus one fused backward node (attention is composed of them)."""
from .activation import (alpha_dropout, celu, dropout, dropout1d, dropout2d, dropout3d, elu,
                         feature_alpha_dropout, glu, gumbel_softmax, hardshrink, hardsigmoid,
                         hardswish, hardtanh, leaky_relu, log_softmax, logsigmoid, mish, prelu,
                         relu6, rrelu, selu, silu, softmax, softmin, softplus, softshrink, softsign,
                         tanhshrink, threshold)
from .attention import multi_head_attention_forward, scaled_dot_product_attention
from .conv import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
                   fold, unfold)
from .ctc import ctc_loss
from .distance import cosine_similarity, normalize, pairwise_distance, pdist
from .embedding import embedding, one_hot
from .linear import bilinear, linear
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits,
                   cosine_embedding_loss, cross_entropy, gaussian_nll_loss,
                   hinge_embedding_loss, huber_loss, kl_div, l1_loss, margin_ranking_loss,
                   mse_loss, multi_margin_loss, multilabel_margin_loss,
                   multilabel_soft_margin_loss, nll_loss, poisson_nll_loss, smooth_l1_loss,
                   soft_margin_loss, triplet_margin_loss, triplet_margin_with_distance_loss)
from .normalization import (batch_norm, group_norm, instance_norm, layer_norm,
                            local_response_norm, rms_norm)
from .padding import pad
from .shuffle import channel_shuffle, pixel_shuffle, pixel_unshuffle
from .sampling import affine_grid, grid_sample
from .pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d,
                      adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d, avg_pool1d,
                      avg_pool2d, avg_pool3d, lp_pool1d, lp_pool2d, lp_pool3d, max_pool1d,
                      max_pool2d, max_pool2d_with_indices, max_pool3d, max_pool3d_with_indices,
                      max_unpool1d, max_unpool2d, max_unpool3d)
from .upsample import interpolate, upsample, upsample_bilinear, upsample_nearest


def _guard_devices():
    # ops on several tensors: a failure on tensors of different devices (CuPy's TypeError or
    # ValueError) becomes PyTorch's error naming both devices; the success path is unchanged
    from .._util import device_guard
    g = globals()
    # (not the losses: they warn with fixed stacklevels, which a wrapper frame would shift;
    # they check devices themselves or fail in a tensor op that does; nor linear, which checks
    # its own devices without the wrapper's frame)
    for name in ("bilinear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                 "conv_transpose2d", "conv_transpose3d", "batch_norm", "group_norm",
                 "instance_norm", "layer_norm", "rms_norm", "embedding", "prelu",
                 "cosine_similarity", "pairwise_distance", "max_unpool1d", "max_unpool2d",
                 "max_unpool3d", "gaussian_nll_loss"):
        g[name] = device_guard(g[name])


_guard_devices()
