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
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.signal import periodogram
from scipy.stats import kurtosis, skew

from har.errors import ConfigError

PERCENTILES = (10, 25, 50, 75, 90)
AXES_PER_SENSOR = 3


class WindowFeatures:
    """``transform(x, rate_hz)``: (N, C, T) windows -> (N, F) features; ``names`` after a call."""

    def __init__(self, autocorr_lags_s: Sequence[float], bands_hz: Sequence[Sequence[float]]):
        self.autocorr_lags_s = tuple(float(lag) for lag in autocorr_lags_s)
        self.bands_hz = tuple((float(lo), float(hi)) for lo, hi in bands_hz)
        for lo, hi in self.bands_hz:
            if not 0 <= lo < hi:
                raise ConfigError(f"model.estimator.bands_hz: band [{lo}, {hi}] needs 0 <= lo < hi")
        if any(lag <= 0 for lag in self.autocorr_lags_s):
            raise ConfigError("model.estimator.autocorr_lags_s: lags must be > 0 seconds")
        self.names: list[str] = []

    def transform(self, x: np.ndarray, rate_hz: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        n, channels, length = x.shape
        lags = self._lags(rate_hz, length)
        columns: list[np.ndarray] = []
        names: list[str] = []
        signals = [(f"ch{c}", x[:, c]) for c in range(channels)]
        if channels % AXES_PER_SENSOR == 0:
            for s in range(channels // AXES_PER_SENSOR):
                axes = x[:, s * AXES_PER_SENSOR : (s + 1) * AXES_PER_SENSOR]
                signals.append((f"sensor{s}_mag", np.linalg.norm(axes, axis=1)))
                for a, b in ((0, 1), (0, 2), (1, 2)):
                    columns.append(_pearson(axes[:, a], axes[:, b]))
                    names.append(f"sensor{s}_corr_{a}{b}")
        for prefix, signal in signals:
            block, block_names = self._signal_features(signal, rate_hz, lags)
            columns.extend(block)
            names.extend(f"{prefix}_{name}" for name in block_names)
        self.names = names
        features = np.stack(columns, axis=1) if columns else np.zeros((n, 0))
        return np.nan_to_num(features, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)

    def _lags(self, rate_hz: float, length: int) -> list[tuple[str, int]]:
        lags = []
        for lag_s in self.autocorr_lags_s:
            samples = round(lag_s * rate_hz)
            if not 1 <= samples < length:
                raise ConfigError(
                    f"model.estimator.autocorr_lags_s: {lag_s} s is {samples} samples at "
                    f"{rate_hz} Hz; lags must lie within one window of {length} samples"
                )
            lags.append((f"acf_{lag_s:g}s", samples))
        return lags

    def _signal_features(
        self, v: np.ndarray, rate_hz: float, lags: list[tuple[str, int]]
    ) -> tuple[list[np.ndarray], list[str]]:
        """Features of one (N, T) signal, and their names."""
        centred = v - v.mean(axis=1, keepdims=True)
        energy = (centred**2).sum(axis=1)
        out = {
            "mean": v.mean(axis=1),
            "std": v.std(axis=1),
            "min": v.min(axis=1),
            "max": v.max(axis=1),
            **{
                f"p{q}": p
                for q, p in zip(PERCENTILES, np.percentile(v, PERCENTILES, axis=1), strict=True)
            },
            "rms": np.sqrt((v**2).mean(axis=1)),
            "zero_cross": _sign_changes(v),
            "mean_cross": _sign_changes(centred),
            "skew": skew(v, axis=1),
            "kurtosis": kurtosis(v, axis=1),
        }
        for name, lag in lags:
            out[name] = (centred[:, :-lag] * centred[:, lag:]).sum(axis=1) / np.maximum(
                energy, 1e-12
            )
        freqs, power = periodogram(v, fs=rate_hz, detrend="constant", axis=1)
        freqs, power = freqs[1:], power[:, 1:]  # without DC: the mean is a feature already
        total = np.maximum(power.sum(axis=1), 1e-12)
        out["dom_freq"] = freqs[power.argmax(axis=1)]
        for lo, hi in self.bands_hz:
            in_band = (freqs >= lo) & (freqs < hi)
            out[f"band_{lo:g}_{hi:g}hz"] = power[:, in_band].sum(axis=1) / total
        out["log_power"] = np.log1p(power.sum(axis=1))
        p = power / total[:, None]
        out["spec_entropy"] = -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1)
        return list(out.values()), list(out)


def _sign_changes(v: np.ndarray) -> np.ndarray:
    return (np.signbit(v[:, 1:]) != np.signbit(v[:, :-1])).mean(axis=1)


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denominator = np.sqrt((a**2).sum(axis=1) * (b**2).sum(axis=1))
    return (a * b).sum(axis=1) / np.maximum(denominator, 1e-12)
