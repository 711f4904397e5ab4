"""The virtual-IMU chain of ``har.physics`` in torch, batched, for use inside a network.

Same conventions as ``har.physics`` (read its docstring): gravity +y in the pose frame, sensor
frames hold their axes as columns, forearm frame x = unit(wrist - elbow), z = unit(x × (shoulder -
elbow)), y = z × x. Time is dim -2 of every (..., T, 3) tensor, so a batch rides along in front.
It runs on the model's device and dtype, without a round trip through numpy.

The one deliberate difference is the low-pass filter. ``har.physics.lowpass`` runs a digital
Butterworth filter forward and backward (``sosfiltfilt``); here the same zero-phase magnitude
response, |H|² = 1 / (1 + (tan(π f/fs) / tan(π f_c/fs))^(2·order)), is applied in the frequency
domain after an odd reflection of each end and removal of the end-to-end line (so the FFT's
periodic extension has no jump). Away from a window's ends the two agree to rounding (the same
filter); near the ends they differ slightly because the two pad differently, over a span that
grows as the cut-off falls (at 100 Hz about 60 samples for 8 Hz, 100 for 4 Hz; see the tests).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from har.physics import GRAVITY_POSE_FRAME


def lowpass(x: Tensor, fs: float, cutoff_hz: float | None, order: int = 4) -> Tensor:
    """Zero-phase Butterworth-magnitude low-pass of (..., T, 3) along time (dim -2)."""
    if cutoff_hz is None or cutoff_hz >= 0.5 * fs:
        return x
    if cutoff_hz <= 0:
        raise ValueError(f"cutoff_hz must be positive, got {cutoff_hz}")
    t_len = x.shape[-2]
    if t_len < 3:
        return x
    pad = t_len - 1
    # Odd reflection about each end sample, as scipy's filtfilt pads: continues the local trend.
    left = 2 * x[..., :1, :] - torch.flip(x[..., 1 : pad + 1, :], dims=(-2,))
    right = 2 * x[..., -1:, :] - torch.flip(x[..., t_len - 1 - pad : t_len - 1, :], dims=(-2,))
    padded = torch.cat([left, x, right], dim=-2)
    n = padded.shape[-2]
    ramp = torch.linspace(0.0, 1.0, n, dtype=x.dtype, device=x.device)[:, None]
    line = padded[..., :1, :] + (padded[..., -1:, :] - padded[..., :1, :]) * ramp
    spectrum = torch.fft.rfft(padded - line, dim=-2)
    freqs = torch.fft.rfftfreq(n, d=1.0 / fs, dtype=x.dtype, device=x.device)
    # The digital Butterworth that scipy designs (bilinear transform) warps frequency by tan(π f/fs).
    warped = torch.tan(torch.pi * freqs / fs) / math.tan(math.pi * cutoff_hz / fs)
    gain = 1.0 / (1.0 + warped ** (2 * order))
    filtered = torch.fft.irfft(spectrum * gain[:, None], n=n, dim=-2) + line
    return filtered[..., pad : pad + t_len, :]


def kinematic_acceleration(pos: Tensor, fs: float, stencil: int = 1) -> Tensor:
    """Second central difference along time; edges take the nearest valid value (as numpy's)."""
    n = int(stencil)
    if n < 1:
        raise ValueError(f"stencil must be >= 1, got {stencil}")
    t_len = pos.shape[-2]
    if t_len < 2 * n + 1:
        return torch.zeros_like(pos)
    h = n / fs
    inner = pos[..., 2 * n :, :] - 2.0 * pos[..., n : t_len - n, :] + pos[..., : t_len - 2 * n, :]
    inner = inner / (h * h)
    head = inner[..., :1, :].expand(*inner.shape[:-2], n, inner.shape[-1])
    tail = inner[..., -1:, :].expand(*inner.shape[:-2], n, inner.shape[-1])
    return torch.cat([head, inner, tail], dim=-2)


def _unit(v: Tensor) -> Tensor:
    norm = v.norm(dim=-1, keepdim=True)
    return v / torch.where(norm > 0, norm, torch.ones_like(norm))


def _any_perpendicular(x: Tensor) -> Tensor:
    use_z = x[..., 2].abs() < 0.9
    ref = torch.zeros_like(x)
    ref[..., 2] = use_z.to(x.dtype)
    ref[..., 0] = (~use_z).to(x.dtype)
    return _unit(torch.linalg.cross(x, ref, dim=-1))


def forearm_frames(shoulder: Tensor, elbow: Tensor, wrist: Tensor, min_sin: float = 0.02) -> Tensor:
    """Forearm frames (..., T, 3, 3) with columns x, y, z; a straight arm keeps the last normal.

    Where the sine of the elbow angle is below ``min_sin`` the arm's plane is undefined: the last
    valid normal is carried forward (the first valid one backward), re-orthogonalised against the
    current forearm axis, exactly as ``har.physics.forearm_frames`` does.
    """
    x = _unit(wrist - elbow)
    upper = shoulder - elbow
    normal = torch.linalg.cross(x, upper, dim=-1)
    norm = normal.norm(dim=-1)
    valid = (norm > min_sin * upper.norm(dim=-1)) & torch.isfinite(norm)
    z = normal / torch.where(valid, norm, torch.ones_like(norm))[..., None]
    steps = torch.arange(valid.shape[-1], device=valid.device).expand_as(valid)
    last = torch.cummax(torch.where(valid, steps, torch.full_like(steps, -1)), dim=-1).values
    first = valid.to(torch.int64).argmax(dim=-1, keepdim=True).expand_as(last)
    source = torch.where(last >= 0, last, first)
    z = torch.gather(z, -2, source[..., None].expand_as(z))
    z = z - (z * x).sum(dim=-1, keepdim=True) * x
    z_norm = z.norm(dim=-1, keepdim=True)
    never_valid = ~valid.any(dim=-1, keepdim=True)
    bad = (z_norm[..., 0] <= 1e-6) | never_valid
    z = torch.where(bad[..., None], _any_perpendicular(x), z / z_norm.clamp_min(1e-12))
    y = torch.linalg.cross(z, x, dim=-1)
    return torch.stack([x, y, z], dim=-1)


def to_sensor_frame(frames: Tensor, world: Tensor) -> Tensor:
    """Rᵀ v for frames (..., 3, 3) and vectors (..., 3)."""
    return torch.einsum("...ji,...j->...i", frames, world)


def gravity_pose_frame(like: Tensor) -> Tensor:
    return torch.as_tensor(GRAVITY_POSE_FRAME, dtype=like.dtype, device=like.device)


def virtual_acc_parts(
    shoulder: Tensor,
    elbow: Tensor,
    wrist: Tensor,
    fs: float,
    cutoff_hz: float | None = 8.0,
    stencil: int = 1,
    order: int = 4,
    gravity_direction: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """The two parts of the watch's specific force, each (..., T, 3) in the forearm frame.

    ``gravity_direction`` (3,) is where gravity points in the pose frame (scaled to g); None: +y,
    a level camera.

    Returns ``(motion, gravity)`` with ``motion = Rᵀ a`` in the joints' length unit per s² and
    ``gravity = Rᵀ g`` in m/s², so that with positions in metres the accelerometer reads
    ``motion - gravity`` (``har.physics.specific_force``). Kept apart because the pose the
    network receives is in body lengths: the caller scales ``motion`` to metres.
    """
    s, e, w = (lowpass(j, fs, cutoff_hz, order) for j in (shoulder, elbow, wrist))
    frames = forearm_frames(s, e, w)
    motion = to_sensor_frame(frames, kinematic_acceleration(w, fs, stencil))
    g = gravity_pose_frame(w)
    if gravity_direction is not None:
        direction = gravity_direction.to(dtype=w.dtype, device=w.device)
        g = g.norm() * direction / direction.norm().clamp_min(1e-12)
    gravity = to_sensor_frame(frames, g.expand_as(w))
    return motion, gravity
