"""Pose -> IMU regressor R: a dilated temporal CNN, fully convolutional along time.

Input pose windows (B, J, 3, T) are flattened to (B, J*3, T). The network works for any window
length T; convolutions dilate along time only (joints and axes are channels). Pose comes from 30 fps
video resampled to the IMU rate, so the middle of the network runs at ``1/downsample`` of that rate
and the output is interpolated back to T samples.

``sequence_length`` is the temporal context, in samples, that each simulated IMU sample sees (the
receptive field). The number of dilated layers is the smallest that covers it, so the seed README's
``model.regressor.sequence_length=256`` still means something for a length-agnostic network.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn


def layers_for_context(sequence_length: int, kernel_size: int, downsample: int) -> int:
    """Smallest number of dilated layers (dilation 1, 2, 4, ...) whose receptive field covers it."""
    reduced = max(sequence_length / downsample, 2.0)
    return max(1, math.ceil(math.log2((reduced - 1) / (kernel_size - 1) + 1)))


class _DilatedResidual(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding="same")
        self.mix = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.drop(self.mix(F.gelu(self.conv(x))))


class Regressor(nn.Module):
    def __init__(
        self,
        num_joints: int,
        input_channels: int = 3,
        output_channels: int = 3,
        sequence_length: int = 256,
        hidden: int = 32,
        kernel_size: int = 5,
        fc_hidden: int = 64,
        downsample: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.downsample = downsample
        self.n_layers = layers_for_context(sequence_length, kernel_size, downsample)
        self.receptive_field = downsample * (1 + (kernel_size - 1) * (2**self.n_layers - 1))
        self.stem = nn.Conv1d(num_joints * input_channels, hidden, kernel_size, padding="same")
        self.down = (
            nn.Conv1d(hidden, hidden, downsample, stride=downsample)
            if downsample > 1
            else nn.Identity()
        )
        self.body = nn.Sequential(
            *(_DilatedResidual(hidden, kernel_size, 2**i, dropout) for i in range(self.n_layers))
        )
        # fc_hidden: width of the per-sample output MLP (1x1 convolutions).
        self.head = nn.Sequential(
            nn.Conv1d(hidden, fc_hidden, 1), nn.GELU(), nn.Conv1d(fc_hidden, output_channels, 1)
        )

    def forward(self, pose: Tensor) -> Tensor:
        b, j, c, t = pose.shape
        x = F.gelu(self.stem(pose.reshape(b, j * c, t)))
        x = self.body(self.down(x))
        if self.downsample > 1:
            x = F.interpolate(x, size=t, mode="linear", align_corners=False)
        return self.head(x)
