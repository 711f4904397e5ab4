"""Training-time augmentation of IMU windows (B, C, T), real or virtual, on the training device.

Rotations act on physical vectors, so a standardised window is first brought back to sensor units
with the training statistics (``set_units``), each 3-axis triad (acc, gyro, ...) is rotated by the
same matrix, and the result is standardised again. Each transform is off at 0:

* ``roll_deg``: rotation about the sensor axis ``roll_axis`` (the forearm, x, in MM-Fit's watch
  frame) by U(-roll_deg, roll_deg): supination and strap roll, which pose cannot observe;
* ``rotate_deg``: a small 3-D rotation about a random axis by U(0, rotate_deg): mounting error;
* ``gain``: per-window, per-channel scale 1 + U(-gain, gain);
* ``motion_gain``: the window's motion about its own mean (gravity and posture stay) scaled by one
  factor per window, log-uniform in [1 / (1 + x), 1 + x]: people who move their arms less or more
  (a per-channel gain about the standardised mean would also scale gravity, which no one does);
* ``jitter``: Gaussian noise of this standard deviation (standardised units);
* ``time_warp``: a smooth random time warp; the local speed stays within 1 ± time_warp.

Inactive in eval mode: validation and test windows are never augmented.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _axis_angle(axis: Tensor, angle: Tensor) -> Tensor:
    """Rotation matrices (B, 3, 3) from unit axes (B, 3) and angles (B,) (Rodrigues)."""
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).view(-1, 3, 3)
    s, c = torch.sin(angle)[:, None, None], torch.cos(angle)[:, None, None]
    eye = torch.eye(3, dtype=axis.dtype, device=axis.device).expand_as(k)
    return eye + s * k + (1 - c) * (k @ k)


class SignalAugmentation(nn.Module):
    def __init__(
        self,
        channels: int,
        roll_deg: float = 0.0,
        rotate_deg: float = 0.0,
        gain: float = 0.0,
        motion_gain: float = 0.0,
        jitter: float = 0.0,
        time_warp: float = 0.0,
        roll_axis: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (("roll_deg", roll_deg), ("rotate_deg", rotate_deg), ("gain", gain),
                            ("motion_gain", motion_gain), ("jitter", jitter),
                            ("time_warp", time_warp)):  # fmt: skip
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if roll_axis not in (0, 1, 2):
            raise ValueError(f"roll_axis must be 0, 1 or 2, got {roll_axis}")
        self.roll = math.radians(roll_deg)
        self.rotate = math.radians(rotate_deg)
        self.gain, self.jitter, self.time_warp = gain, jitter, time_warp
        self.log_motion_gain = math.log1p(motion_gain)
        self.roll_axis = roll_axis
        # Standardisation of the windows (the training statistics), set before training.
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    @property
    def active(self) -> bool:
        return any(
            (self.roll, self.rotate, self.gain, self.log_motion_gain, self.jitter, self.time_warp)
        )

    def set_units(self, mean: Tensor, std: Tensor) -> None:
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
        self.std.copy_(torch.as_tensor(std, dtype=self.std.dtype))

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or not self.active or len(x) == 0:
            return x
        if self.roll or self.rotate:
            x = self._rotate(x)
        if self.gain:
            x = x * (1 + self.gain * (2 * torch.rand(*x.shape[:2], 1, device=x.device) - 1))
        if self.log_motion_gain:
            # Standardisation is affine per channel, so scaling about the window's mean in
            # standardised units is the same scaling in sensor units.
            factor = torch.exp(
                self.log_motion_gain * (2 * torch.rand(len(x), 1, 1, device=x.device) - 1)
            )
            mean = x.mean(dim=-1, keepdim=True)
            x = mean + factor * (x - mean)
        if self.time_warp:
            x = self._warp(x)
        if self.jitter:
            x = x + self.jitter * torch.randn_like(x)
        return x

    def _rotate(self, x: Tensor) -> Tensor:
        b, c, _ = x.shape
        rotation = torch.eye(3, device=x.device).expand(b, 3, 3)
        if self.roll:
            axis = torch.zeros(b, 3, device=x.device)
            axis[:, self.roll_axis] = 1.0
            rotation = _axis_angle(axis, self.roll * (2 * torch.rand(b, device=x.device) - 1))
        if self.rotate:
            axis = F.normalize(torch.randn(b, 3, device=x.device), dim=-1)
            rotation = _axis_angle(axis, self.rotate * torch.rand(b, device=x.device)) @ rotation
        units = x * self.std[:, None] + self.mean[:, None]
        triads = c // 3 * 3  # a trailing channel that is not part of a triad stays as it is
        rotated = torch.einsum(
            "bij,bkjt->bkit", rotation, units[:, :triads].view(b, -1, 3, x.shape[-1])
        )
        units = torch.cat([rotated.reshape(b, triads, -1), units[:, triads:]], dim=1)
        return (units - self.mean[:, None]) / self.std[:, None]

    def _warp(self, x: Tensor) -> Tensor:
        """Resample along time at a speed that varies smoothly in [1 - w, 1 + w]."""
        b, _, t = x.shape
        knots = 1 + self.time_warp * (2 * torch.rand(b, 1, 4, device=x.device) - 1)
        speed = F.interpolate(knots, size=t, mode="linear", align_corners=True)[:, 0]
        position = torch.cumsum(speed, dim=-1)
        position = (position - position[:, :1]) / (position[:, -1:] - position[:, :1]) * 2 - 1
        grid = torch.stack([position, torch.zeros_like(position)], dim=-1)[:, None]  # (B, 1, T, 2)
        return F.grid_sample(x[:, :, None], grid, align_corners=True)[:, :, 0]
