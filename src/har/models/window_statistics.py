"""F's window-statistics branch: the hand-made features of ``model=features_gbm``
(``har/window_features.py``) computed inside the network, beside the convolutions.

Why: on participants never seen in training, the statistics (moments, percentiles, magnitudes,
spectra) generalise where the convolutions alone overfit the training people (benchmarks/README.md,
"Choosing the deployed model"); the branch gives the network the same view and keeps it
differentiable, so simulated windows and the feature-similarity term work through it as through
the convolutions.

The features are computed in sensor units (the magnitude of an accelerometer includes gravity):
the DataModule's standardisation is undone with the training statistics that ``set_units`` gives
(called at fit start, like the augmentation's; the buffers travel in checkpoints). They are then
whitened by a per-domain BatchNorm (``domain_norm``, as in the convolutions), whose statistics are
the training windows'.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from har.models.domain_norm import DomainBatchNorm1d
from har.window_features import WindowFeatures

log = logging.getLogger("har")
KEY = "model.feature_extractor.window_features"


class WindowStatistics(nn.Module):
    def __init__(
        self,
        channels: int,
        window_size: int,
        rate_hz: float,
        autocorr_lags_s: Sequence[float],
        bands_hz: Sequence[Sequence[float]],
        domain_norm: str,
    ) -> None:
        super().__init__()
        self.rate_hz = float(rate_hz)
        # A lag as long as the window has no autocorrelation to measure: with windows that short
        # (tests, short-window data sets) the branch keeps the lags that fit, and says so.
        fits = [lag for lag in autocorr_lags_s if round(lag * self.rate_hz) < window_size]
        if len(fits) < len(autocorr_lags_s):
            log.warning(
                "%s.autocorr_lags_s: %s s do not fit a window of %d samples at %g Hz; F's "
                "window statistics leave them out",
                KEY, sorted(set(autocorr_lags_s) - set(fits)), window_size, self.rate_hz,
            )  # fmt: skip
        self.features = WindowFeatures(fits, bands_hz, key=KEY)
        self.out_features = self.features.count(channels, self.rate_hz, window_size)
        self.norm = DomainBatchNorm1d(self.out_features, domain_norm)
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def set_units(self, mean: Tensor, std: Tensor) -> None:
        """The training statistics of the standardised input (sensor units = x * std + mean)."""
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
        self.std.copy_(torch.as_tensor(std, dtype=self.std.dtype))

    def forward(self, x: Tensor, domain: str, track: bool) -> Tensor:
        """(B, C, T) standardised windows -> (B, D) whitened statistics."""
        physical = x * self.std[:, None] + self.mean[:, None]
        stats = self.features.compute(physical, self.rate_hz)
        return self.norm(stats[..., None], domain, track=track)[..., 0]
