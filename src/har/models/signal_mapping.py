"""Map simulated IMU onto the real signal's distribution, fitted on the IMU subjects' training data.

A regressor's output can be right in shape and wrong in level, scale or orientation (a watch worn
rotated on the wrist). Before virtual windows train the classifier, ``SignalMapping`` corrects that
with statistics of *paired* training windows (simulation and real IMU of the same moments, IMU
subjects only; validation and test never take part):

* ``none``: identity;
* ``moments``: per channel, match the simulated mean and standard deviation to the real ones;
* ``quantile``: per channel, map the simulated quantiles onto the real ones (piecewise linear);
* ``affine``: real ≈ A · sim + b by least squares over all samples (A is C × C), which can undo a
  rotation of the sensor that per-channel moments cannot.

The fitted values are buffers, so they travel with every checkpoint and a resumed run reuses them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor, nn

MODES = ("none", "moments", "quantile", "affine")
QUANTILES = 101


class SignalMapping(nn.Module):
    def __init__(self, channels: int, mode: str = "none") -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mapping must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.register_buffer("fitted", torch.tensor(mode == "none"))
        self.register_buffer("matrix", torch.eye(channels))
        self.register_buffer("offset", torch.zeros(channels))
        self.register_buffer("sim_quantiles", torch.zeros(channels, QUANTILES))
        self.register_buffer("real_quantiles", torch.zeros(channels, QUANTILES))

    def fit(self, sim: Tensor, real: Tensor) -> None:
        """Fit on paired windows ``sim`` and ``real`` (N, C, T)."""
        s = sim.transpose(1, 2).reshape(-1, sim.shape[1]).double()
        r = real.transpose(1, 2).reshape(-1, real.shape[1]).double()
        if self.mode == "moments":
            scale = r.std(0) / s.std(0).clamp_min(1e-8)
            self.matrix.copy_(torch.diag(scale))
            self.offset.copy_(r.mean(0) - scale * s.mean(0))
        elif self.mode == "affine":
            design = torch.cat([s, torch.ones(len(s), 1, dtype=s.dtype)], dim=1)
            solution = torch.linalg.lstsq(design, r).solution  # (C + 1, C)
            self.matrix.copy_(solution[:-1].T)
            self.offset.copy_(solution[-1])
        elif self.mode == "quantile":
            levels = torch.linspace(0, 1, QUANTILES, dtype=s.dtype)
            self.sim_quantiles.copy_(torch.quantile(s, levels, dim=0).T)
            self.real_quantiles.copy_(torch.quantile(r, levels, dim=0).T)
        self.fitted.fill_(True)

    @torch.no_grad()
    def fit_on(self, regressor: nn.Module, loader: Iterable[Mapping[str, Tensor]]) -> None:
        """Fit on every training window with real IMU: R's simulation of its pose vs its IMU."""
        was_training = regressor.training
        regressor.eval()
        device = self.matrix.device
        sims, reals = [], []
        for batch in loader:
            keep = batch.get("imu_mask")
            keep = slice(None) if keep is None else keep.to(device)
            sims.append(regressor(batch["pose"].to(device))[keep])
            reals.append(batch["acc"].to(device)[keep])
        regressor.train(was_training)
        if not sims or sum(len(s) for s in sims) == 0:
            raise ValueError("no training window with real IMU to fit the mapping on")
        self.fit(torch.cat(sims), torch.cat(reals))

    def forward(self, sim: Tensor) -> Tensor:
        if self.mode == "none":
            return sim
        if not bool(self.fitted):
            raise RuntimeError("SignalMapping used before fit()")
        if self.mode == "quantile":
            return torch.stack(
                [_interp(sim[:, c], self.sim_quantiles[c], self.real_quantiles[c])
                 for c in range(sim.shape[1])], dim=1,
            )  # fmt: skip
        return torch.einsum("ij,bjt->bit", self.matrix, sim) + self.offset[:, None]


def _interp(x: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
    """``np.interp`` in torch, extrapolating with the end segments' slopes."""
    xp, fp = xp.to(x.dtype), fp.to(x.dtype)
    index = torch.searchsorted(xp.contiguous(), x.contiguous()).clamp(1, len(xp) - 1)
    x0, x1, f0, f1 = xp[index - 1], xp[index], fp[index - 1], fp[index]
    return f0 + (f1 - f0) * (x - x0) / (x1 - x0).clamp_min(1e-12)


def in_channels(signal: Tensor, channels: list[int], total: int) -> Tensor:
    """``signal`` (B, len(channels), T) put in ``channels`` of a (B, total, T) window whose other
    channels hold 0 (their training mean once standardised)."""
    if len(channels) == total:
        return signal
    full = signal.new_zeros(len(signal), total, signal.shape[-1])
    full[:, channels] = signal
    return full
