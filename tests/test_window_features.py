"""The hand-made window features: each named feature measures what its name says."""

from __future__ import annotations

import numpy as np
import pytest

from har.errors import ConfigError
from har.window_features import WindowFeatures

RATE = 100.0
T = 256


def features(x: np.ndarray, **kwargs) -> dict[str, np.ndarray]:
    extractor = WindowFeatures(
        kwargs.get("lags", (0.1, 0.25)), kwargs.get("bands", ((0, 1), (1, 3), (3, 10)))
    )
    values = extractor.transform(x, RATE)
    assert values.shape == (len(x), len(extractor.names)) and values.dtype == np.float32
    return dict(zip(extractor.names, values.T, strict=True))


def test_statistics_and_spectrum_of_a_sine_with_an_offset():
    t = np.arange(T) / RATE
    sine = 9.81 + 2.0 * np.sin(2 * np.pi * 2.0 * t)  # 2 Hz on top of gravity
    x = np.stack([sine, np.zeros(T), np.zeros(T)])[None]
    f = features(x)
    assert f["ch0_mean"][0] == pytest.approx(9.81, abs=0.02)
    assert f["ch0_max"][0] == pytest.approx(11.81, abs=0.01)
    assert f["ch0_p50"][0] == pytest.approx(9.81, abs=0.1)
    assert f["ch0_std"][0] == pytest.approx(2 / np.sqrt(2), rel=0.02)
    assert f["ch0_zero_cross"][0] == 0  # never below zero
    assert f["ch0_mean_cross"][0] == pytest.approx(2 * 2.0 * T / RATE / (T - 1), abs=0.01)
    assert abs(f["ch0_dom_freq"][0] - 2.0) < RATE / T  # within one periodogram bin
    assert f["ch0_band_1_3hz"][0] > 0.95 and f["ch0_band_3_10hz"][0] < 0.05
    # half a period (0.25 s) anticorrelates; the biased estimator scales by (T - lag) / T
    assert f["ch0_acf_0.25s"][0] == pytest.approx(-(T - 25) / T, abs=0.01)
    # one sensor of three axes: a magnitude and three correlations are added
    assert f["sensor0_mag_mean"][0] == pytest.approx(9.81, abs=0.02)
    assert {"sensor0_corr_01", "sensor0_corr_02", "sensor0_corr_12"} <= set(f)


def test_correlated_axes_and_channels_that_form_no_sensor():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, T))
    x = np.stack([a, a, -a], axis=1)
    f = features(x)
    assert np.allclose(f["sensor0_corr_01"], 1, atol=1e-5)
    assert np.allclose(f["sensor0_corr_02"], -1, atol=1e-5)
    two_channels = features(x[:, :2])
    assert not any(name.startswith("sensor") for name in two_channels)
    six_channels = features(np.concatenate([x, x], axis=1))  # acc + gyro: two sensors
    assert "sensor1_mag_std" in six_channels


@pytest.mark.parametrize(
    ("lags", "bands"), [((3.0,), ((0, 1),)), ((0.0,), ((0, 1),)), ((0.1,), ((2, 1),))]
)
def test_settings_that_cannot_work_name_their_key(lags, bands):
    with pytest.raises(ConfigError, match=r"model\.estimator\."):
        WindowFeatures(lags, bands).transform(np.zeros((1, 3, T)), RATE)


@pytest.mark.filterwarnings("ignore:Precision loss")
def test_the_features_follow_scipy_and_numpy_definitions():
    """One torch implementation serves features_gbm and F's branch: it must be scipy's spectra and
    moments and numpy's percentiles, for odd and even window lengths and a constant window."""
    from scipy.signal import periodogram
    from scipy.stats import kurtosis, skew

    rng = np.random.default_rng(3)
    for length in (128, 127):
        x = rng.normal(size=(6, 1, length)) * 2 + 1
        x[0] = 4.0  # constant: scipy's moments are NaN, ours 0
        f = features(x, lags=(0.1,), bands=((0, 5), (5, 50)))
        v = x[:, 0]
        assert np.allclose(f["ch0_p25"], np.percentile(v, 25, axis=1), atol=1e-5)
        assert np.allclose(f["ch0_skew"], np.nan_to_num(skew(v, axis=1)), atol=1e-4)
        assert np.allclose(f["ch0_kurtosis"], np.nan_to_num(kurtosis(v, axis=1)), atol=1e-4)
        freqs, power = periodogram(v, fs=RATE, detrend="constant", axis=1)
        freqs, power = freqs[1:], power[:, 1:]
        assert np.allclose(f["ch0_log_power"], np.log1p(power.sum(axis=1)), atol=1e-5)
        assert np.allclose(f["ch0_dom_freq"][1:], freqs[power[1:].argmax(axis=1)])
        low = power[:, freqs < 5].sum(axis=1) / np.maximum(power.sum(axis=1), 1e-12)
        assert np.allclose(f["ch0_band_0_5hz"], low, atol=1e-5)


def test_the_features_are_differentiable_even_for_a_constant_window():
    import torch

    extractor = WindowFeatures((0.1,), ((0, 5), (5, 50)))
    x = torch.randn(3, 3, 64, dtype=torch.float64)
    x[0] = 2.0  # std, rms, magnitude, moments and correlations all at their singular points
    x.requires_grad_(True)
    out = extractor.compute(x, RATE)
    assert out.shape == (3, extractor.count(3, RATE, 64)) == (3, len(extractor.names))
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad[1:].abs().sum() > 0
    assert np.allclose(out.detach().numpy(), extractor.transform(x.detach().numpy(), RATE))
