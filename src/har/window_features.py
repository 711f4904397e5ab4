"""The hand-made window features of ``model=features_gbm``: per-channel statistics and spectra,
plus per-sensor (three-axis) correlations and magnitude statistics.

Computed on windows in physical units (m/s², rad/s: the DataModule's standardisation undone with
the training statistics), so that the magnitude of an accelerometer includes gravity and the zero
crossings are those of the sensor axis, as in the HAR literature the set follows (e.g. the feature
sets of Bulling et al. 2014 and of the MM-Fit / UCI-HAR baselines).

Per channel (and per sensor magnitude ``|v|``), over the window's T samples:

=====================  ===============================================================
mean, std, min, max    moments and extremes
p10 p25 p50 p75 p90    percentiles (numpy, linear interpolation)
rms                    root mean square
zero_cross             fraction of successive samples whose sign differs
mean_cross             the same for the mean-removed signal (an oscillation rate)
skew, kurtosis         scipy.stats (Fisher kurtosis, biased estimators)
acf_<lag>s             autocorrelation of the mean-removed signal at each lag in seconds (biased)
dom_freq               frequency (Hz) of the largest periodogram bin above DC
band_<lo>_<hi>hz       fraction of the (non-DC) spectral power in each band
log_power              log(1 + total non-DC power)
spec_entropy           Shannon entropy of the normalised non-DC power spectrum
=====================  ===============================================================

Per sensor, i.e. each consecutive channel triplet when the channel count is a multiple of 3
(``data.sensors`` lists three-axis streams): the three pairwise Pearson correlations of its axes.

One implementation in torch serves both users: ``transform`` (numpy in, float64 inside) for
``model=features_gbm``, and ``compute`` (a differentiable tensor op, any dtype and device) for the
neural F's window-statistics branch (``model.feature_extractor.window_features``). The spectra and
moments follow scipy's definitions (``periodogram`` with a boxcar window and density scaling;
``skew``/``kurtosis`` biased, NaN for a constant window, here 0); the tests check them against scipy.
Every operation has a finite gradient, constant windows included (safe square roots and ratios).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from har.errors import ConfigError

PERCENTILES = (10, 25, 50, 75, 90)
AXES_PER_SENSOR = 3
TINY = 1e-12  # floor of energies and correlation denominators (as in the numpy originals)


class WindowFeatures:
    """``transform(x, rate_hz)``: (N, C, T) windows -> (N, F) features; ``names`` after a call.
    ``compute(x, rate_hz)``: the same on a tensor, differentiable."""

    def __init__(
        self,
        autocorr_lags_s: Sequence[float],
        bands_hz: Sequence[Sequence[float]],
        key: str = "model.estimator",
    ):
        """``key``: the config node the settings come from, named in errors."""
        self.autocorr_lags_s = tuple(float(lag) for lag in autocorr_lags_s)
        self.bands_hz = tuple((float(lo), float(hi)) for lo, hi in bands_hz)
        self.key = key
        for lo, hi in self.bands_hz:
            if not 0 <= lo < hi:
                raise ConfigError(f"{key}.bands_hz: band [{lo}, {hi}] needs 0 <= lo < hi")
        if any(lag <= 0 for lag in self.autocorr_lags_s):
            raise ConfigError(f"{key}.autocorr_lags_s: lags must be > 0 seconds")
        self.names: list[str] = []

    def count(self, channels: int, rate_hz: float, length: int) -> int:
        """How many features windows of this shape give (one window of zeros is computed, so the
        count cannot drift from the list)."""
        return self.compute(torch.zeros(1, channels, length), rate_hz).shape[1]

    def transform(self, x: np.ndarray, rate_hz: float) -> np.ndarray:
        with torch.no_grad():
            features = self.compute(torch.as_tensor(np.asarray(x, dtype=np.float64)), rate_hz)
        return features.numpy().astype(np.float32)

    def compute(self, x: Tensor, rate_hz: float) -> Tensor:
        n, channels, length = x.shape
        lags = self._lags(rate_hz, length)
        columns: list[Tensor] = []
        names: list[str] = []
        signals, prefixes = [x], [f"ch{c}" for c in range(channels)]
        if channels % AXES_PER_SENSOR == 0:
            for s in range(channels // AXES_PER_SENSOR):
                axes = x[:, s * AXES_PER_SENSOR : (s + 1) * AXES_PER_SENSOR]
                signals.append(_safe_sqrt((axes**2).sum(dim=1, keepdim=True)))
                prefixes.append(f"sensor{s}_mag")
                for a, b in ((0, 1), (0, 2), (1, 2)):
                    columns.append(_pearson(axes[:, a], axes[:, b]))
                    names.append(f"sensor{s}_corr_{a}{b}")
        # Every signal (channels, then magnitudes) at once: (N, S, T) -> (N, S, K), signal-major.
        block, block_names = self._signal_features(torch.cat(signals, dim=1), rate_hz, lags)
        columns.extend(block.flatten(1).unbind(dim=1))
        names.extend(f"{prefix}_{name}" for prefix in prefixes for name in block_names)
        self.names = names
        features = torch.stack(columns, dim=1) if columns else x.new_zeros((n, 0))
        return torch.nan_to_num(features, nan=0.0, posinf=0.0, neginf=0.0)

    def _lags(self, rate_hz: float, length: int) -> list[tuple[str, int]]:
        lags = []
        for lag_s in self.autocorr_lags_s:
            samples = round(lag_s * rate_hz)
            if not 1 <= samples < length:
                raise ConfigError(
                    f"{self.key}.autocorr_lags_s: {lag_s} s is {samples} samples at "
                    f"{rate_hz} Hz; lags must lie within one window of {length} samples"
                )
            lags.append((f"acf_{lag_s:g}s", samples))
        return lags

    def _signal_features(
        self, v: Tensor, rate_hz: float, lags: list[tuple[str, int]]
    ) -> tuple[Tensor, list[str]]:
        """Features (N, S, K) of S signals (N, S, T), and the K names."""
        mean = v.mean(dim=-1)
        centred = v - mean[..., None]
        energy = (centred**2).sum(dim=-1)
        m2 = energy / v.shape[-1]
        out = {
            "mean": mean,
            "std": _safe_sqrt(m2),
            "min": v.amin(dim=-1),
            "max": v.amax(dim=-1),
            **{f"p{q}": p for q, p in zip(PERCENTILES, _percentiles(v, PERCENTILES), strict=True)},
            "rms": _safe_sqrt((v**2).mean(dim=-1)),
            "zero_cross": _sign_changes(v),
            "mean_cross": _sign_changes(centred),
            **_shape_moments(centred, m2, mean),
        }
        for name, lag in lags:
            lagged = (centred[..., :-lag] * centred[..., lag:]).sum(dim=-1)
            out[name] = lagged / energy.clamp_min(TINY)
        freqs, power = _periodogram(centred, rate_hz)
        freqs, power = freqs[1:], power[..., 1:]  # without DC: the mean is a feature already
        total = power.sum(dim=-1)
        floored = total.clamp_min(TINY)
        out["dom_freq"] = freqs[power.argmax(dim=-1)]
        for lo, hi in self.bands_hz:
            in_band = (freqs >= lo) & (freqs < hi)
            out[f"band_{lo:g}_{hi:g}hz"] = power[..., in_band].sum(dim=-1) / floored
        out["log_power"] = torch.log1p(total)
        p = power / floored[..., None]
        out["spec_entropy"] = -(p * torch.log(torch.where(p > 0, p, 1.0))).sum(dim=-1)
        return torch.stack(list(out.values()), dim=-1), list(out)


def _safe_sqrt(v: Tensor) -> Tensor:
    """sqrt with a finite gradient at 0 (where sqrt's is infinite)."""
    positive = v > 0
    return torch.where(positive, torch.where(positive, v, 1.0).sqrt(), 0.0)


def _percentiles(v: Tensor, qs: Sequence[float]) -> list[Tensor]:
    """numpy's default ("linear") percentiles along the last dim, by one sort (torch.quantile
    refuses inputs of more than 2**24 elements)."""
    ordered = v.sort(dim=-1).values
    last = v.shape[-1] - 1
    out = []
    for q in qs:
        position = q / 100 * last
        lo = int(np.floor(position))
        hi = min(lo + 1, last)
        out.append(ordered[..., lo] + (ordered[..., hi] - ordered[..., lo]) * (position - lo))
    return out


def _shape_moments(centred: Tensor, m2: Tensor, mean: Tensor) -> dict[str, Tensor]:
    """scipy.stats ``skew`` and Fisher ``kurtosis`` (biased); 0 where scipy's are NaN (a window
    whose variance is within float resolution of zero)."""
    resolution = torch.finfo(centred.dtype).resolution
    flat = m2 <= (resolution * mean) ** 2
    safe_m2 = torch.where(flat, 1.0, m2)
    m3 = (centred**3).mean(dim=-1)
    m4 = (centred**4).mean(dim=-1)
    return {
        "skew": torch.where(flat, 0.0, m3 / safe_m2**1.5),
        "kurtosis": torch.where(flat, 0.0, m4 / safe_m2**2 - 3.0),
    }


def _periodogram(centred: Tensor, rate_hz: float) -> tuple[Tensor, Tensor]:
    """scipy.signal.periodogram(detrend="constant", window boxcar, scaling="density") along the
    last dim: the one-sided power spectral density and its frequencies."""
    length = centred.shape[-1]
    spectrum = torch.fft.rfft(centred, dim=-1)
    power = (spectrum.real**2 + spectrum.imag**2) / (rate_hz * length)
    bins = power.shape[-1]
    doubled = torch.ones(bins, dtype=power.dtype, device=power.device)
    doubled[1 : bins - (1 if length % 2 == 0 else 0)] = 2.0  # all but DC (and Nyquist)
    freqs = torch.fft.rfftfreq(length, d=1 / rate_hz, dtype=power.dtype, device=power.device)
    return freqs, power * doubled


def _sign_changes(v: Tensor) -> Tensor:
    return (torch.signbit(v[..., 1:]) != torch.signbit(v[..., :-1])).to(v.dtype).mean(dim=-1)


def _pearson(a: Tensor, b: Tensor) -> Tensor:
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    denominator = _safe_sqrt((a**2).sum(dim=1) * (b**2).sum(dim=1)).clamp_min(TINY)
    return (a * b).sum(dim=1) / denominator
