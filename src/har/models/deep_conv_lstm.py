"""DeepConvLSTM (Ordóñez & Roggen 2016) as a feature extractor F: (B, C, T) -> (B, D).

Convolutions along time (no pooling, as in the paper; per-domain BatchNorm so real and simulated
windows keep their own statistics, like ``FeatureExtractor``), then an LSTM over the convolved
sequence; the features are its last hidden state. Same interface as ``FeatureExtractor``
(``domain``, ``side_pass``, ``out_features``), so every scenario can use it
(``model/feature_extractor=deepconvlstm``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from har.errors import ConfigError
from har.models.domain_norm import DomainBatchNorm1d


class DeepConvLSTM(nn.Module):
    def __init__(
        self,
        input_channels: int = 3,
        window_size: int = 256,
        n_filters: int = 64,
        filter_size: int = 5,
        n_conv: int = 4,
        out_features: int = 128,
        lstm_layers: int = 2,
        drop_prob: float = 0.5,
        domain_norm: str = "shared_affine",
    ) -> None:
        super().__init__()
        if window_size < 1 or n_conv < 1 or lstm_layers < 1:
            raise ConfigError(
                "model.feature_extractor: DeepConvLSTM needs window_size, n_conv and lstm_layers "
                f">= 1 (got {window_size}, {n_conv}, {lstm_layers})"
            )
        channels = [input_channels] + [n_filters] * n_conv
        self.convs = nn.ModuleList(
            nn.Conv1d(channels[i], channels[i + 1], filter_size, padding=filter_size // 2)
            for i in range(n_conv)
        )
        self.norms = nn.ModuleList(DomainBatchNorm1d(n_filters, domain_norm) for _ in range(n_conv))
        self.lstm = nn.LSTM(n_filters, out_features, num_layers=lstm_layers, batch_first=True)
        self.drop = nn.Dropout(drop_prob)
        self.out_features = out_features

    def forward(self, x: Tensor, domain: str = "real", side_pass: bool = False) -> Tensor:
        """``side_pass=True``: no dropout, BatchNorm running statistics untouched (see
        ``FeatureExtractor.forward``)."""
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = torch.relu(norm(conv(x), domain, track=not side_pass))
        _, (hidden, _) = self.lstm(x.transpose(1, 2))  # (B, T, C) -> last hidden state per layer
        features = hidden[-1]
        return features if side_pass else self.drop(features)
