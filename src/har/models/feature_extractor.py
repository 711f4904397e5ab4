"""IMU feature extractor F: a small 1-D CNN over (B, C, T) windows -> (B, D) features."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from har.errors import ConfigError
from har.models.domain_norm import MODES as DOMAIN_NORM_MODES
from har.models.domain_norm import DomainBatchNorm1d
from har.models.window_statistics import WindowStatistics


class _ConvBlock(nn.Module):
    """Conv, BN, ReLU, max-pool, dropout. ``residual``: conv, BN, ReLU, conv, BN plus a 1x1-conv
    shortcut before the ReLU (the ResNet block of Wang et al. 2017's time-series baseline)."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        pool: int,
        drop: float,
        domain_norm: str,
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2, bias=False)
        self.norm = DomainBatchNorm1d(c_out, domain_norm)
        self.residual = residual
        if residual:
            self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=kernel // 2, bias=False)
            self.norm2 = DomainBatchNorm1d(c_out, domain_norm)
            self.shortcut = nn.Conv1d(c_in, c_out, 1, bias=False)
            self.norm_shortcut = DomainBatchNorm1d(c_out, domain_norm)
        self.pool = nn.MaxPool1d(pool) if pool > 1 else nn.Identity()
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor, domain: str, side_pass: bool) -> Tensor:
        track = not side_pass
        h = self.norm(self.conv(x), domain, track=track)
        if self.residual:
            h = self.norm2(self.conv2(torch.relu(h)), domain, track=track) + self.norm_shortcut(
                self.shortcut(x), domain, track=track
            )
        x = self.pool(torch.relu(h))
        return x if side_pass else self.drop(x)


class FeatureExtractor(nn.Module):
    """``n_conv`` blocks (conv, per-domain BN, ReLU, max-pool; ``residual``: two convs and a
    shortcut each), global average pool, ``n_dense`` layers.

    ``domain_norm`` says what real and simulated windows share in the BatchNorms (``domain_norm.py``).

    ``window_features`` ({autocorr_lags_s, bands_hz}; None: off) adds the hand-made window
    statistics of ``model=features_gbm`` beside the pooled convolutions, before the dense layers
    (``window_statistics.py``); ``rate_hz`` is the windows' sampling rate they need.

    Channels double every block starting at ``n_filters``. ``window_size`` is only used to check that
    the pooling stack leaves at least one sample (a window shorter than that cannot be classified).
    """

    def __init__(
        self,
        input_channels: int = 3,
        window_size: int = 256,
        n_filters: int = 16,
        filter_size: int = 5,
        n_conv: int = 3,
        pool_size: int = 2,
        n_dense: int = 1,
        out_features: int = 64,
        drop_prob: float = 0.1,
        domain_norm: str = "shared_affine",
        residual: bool = False,
        window_features: Mapping[str, Any] | None = None,
        rate_hz: float | None = None,
    ) -> None:
        super().__init__()
        if domain_norm not in DOMAIN_NORM_MODES:
            raise ConfigError(
                f"model.feature_extractor.domain_norm must be one of {DOMAIN_NORM_MODES}, "
                f"got {domain_norm!r}"
            )
        min_window = pool_size**n_conv if pool_size > 1 else 1
        if window_size < min_window:
            raise ConfigError(
                f"data.sensor_window_length={window_size} is shorter than the feature extractor's "
                f"pooling stack ({n_conv} x pool {pool_size} needs >= {min_window} samples): "
                "use a longer window or lower model.feature_extractor.n_conv / pool_size"
            )
        channels = [input_channels] + [n_filters * 2**i for i in range(n_conv)]
        self.blocks = nn.ModuleList(
            _ConvBlock(
                channels[i],
                channels[i + 1],
                filter_size,
                pool_size,
                drop_prob,
                domain_norm,
                residual,
            )
            for i in range(n_conv)
        )
        self.statistics: WindowStatistics | None = None
        width = channels[-1]
        if window_features is not None:
            if rate_hz is None:
                raise ConfigError(
                    "model.feature_extractor.window_features needs rate_hz (the windows' rate, "
                    "${data.sampling_rate_hz} in conf/model/feature_extractor/cnn.yaml)"
                )
            self.statistics = WindowStatistics(
                input_channels, window_size, rate_hz, **window_features, domain_norm=domain_norm
            )
            width += self.statistics.out_features
        dense: list[nn.Module] = []
        for _ in range(n_dense):
            dense += [nn.Linear(width, out_features), nn.ReLU(), nn.Dropout(drop_prob)]
            width = out_features
        self.dense = nn.Sequential(*dense)
        self.out_features = width

    def forward(self, x: Tensor, domain: str = "real", side_pass: bool = False) -> Tensor:
        """(B, C, T) -> (B, D). ``side_pass=True`` (the similarity term's features of windows the
        main pass already saw) skips every dropout layer, since two independent masks would keep
        real and simulated features apart for ever, and leaves BatchNorm's running statistics
        alone, so each window counts once in them."""
        h = x
        for block in self.blocks:
            h = block(h, domain, side_pass)
        h = h.mean(dim=-1)
        if self.statistics is not None:
            h = torch.cat([h, self.statistics(x, domain, track=not side_pass)], dim=1)
        for layer in self.dense:
            h = h if isinstance(layer, nn.Dropout) and side_pass else layer(h)
        return h

    def set_units(self, mean: Tensor, std: Tensor) -> None:
        """The training statistics of the standardised input, for the window statistics."""
        if self.statistics is not None:
            self.statistics.set_units(mean, std)
