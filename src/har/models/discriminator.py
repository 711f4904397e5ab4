"""Domain discriminators of the adversarial variants: one class, a body per input kind.

- ``kind="feature"``: an MLP on feature vectors (B, D); it tells F(real IMU) from F_sim(R(pose)).
  Trained through gradient reversal, so it outputs a logit (real = 1, simulated = 0).
- ``kind="signal"``: a 1-D convolutional critic on IMU windows (B, C, T) for WGAN-GP. It has no
  BatchNorm: the gradient penalty is defined per sample, and batch statistics would couple the
  samples of a batch (Gulrajani et al., 2017).

Optional heads, never both: ``conditional`` adds a projection term ⟨embed(y), h⟩ (Miyato & Koyama,
2018), so the score judges "real for this class"; ``aux_classifier`` adds a label head (AC-GAN).
A discriminator that received the label could predict it by copying it, so its label head would
teach nothing and reward nothing: the combination is refused, and a discriminator without a label
embedding refuses labels at forward time too.
"""

from __future__ import annotations

from torch import Tensor, nn

from har.errors import ConfigError

KINDS = ("feature", "signal")


def _feature_body(in_features: int, hidden: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(in_features, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden),
        nn.LeakyReLU(0.2),
    )


class _SignalBody(nn.Module):
    """Strided convolutions, then the mean over time: any window length works."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(channels, hidden, 7, stride=2, padding=3),
            nn.LeakyReLU(0.2),
            nn.Conv1d(hidden, hidden, 5, stride=2, padding=2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(hidden, hidden, 5, stride=2, padding=2),
            nn.LeakyReLU(0.2),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).mean(dim=-1)


class Discriminator(nn.Module):
    def __init__(
        self,
        kind: str,
        in_features: int,
        hidden: int = 64,
        n_classes: int = 0,
        conditional: bool = False,
        aux_classifier: bool = False,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ConfigError(
                f"scenario.adversary.kind={kind!r}: a discriminator is one of {KINDS}"
            )
        if conditional and aux_classifier:
            raise ConfigError(
                "scenario.adversary: conditional=true feeds the label to the discriminator, so it "
                "cannot also predict it (aux_classifier=true): choose one"
            )
        if (conditional or aux_classifier) and n_classes < 2:
            raise ConfigError(f"a label-aware discriminator needs n_classes >= 2, got {n_classes}")
        self.kind = kind
        self.body = (
            _feature_body(in_features, hidden)
            if kind == "feature"
            else _SignalBody(in_features, hidden)
        )
        self.score = nn.Linear(hidden, 1)
        self.label_embedding = nn.Embedding(n_classes, hidden) if conditional else None
        self.label_head = nn.Linear(hidden, n_classes) if aux_classifier else None

    @property
    def conditional(self) -> bool:
        return self.label_embedding is not None

    def forward(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Score (B,) and, with ``aux_classifier``, label logits (B, n_classes)."""
        if self.conditional != (labels is not None):
            raise ValueError(
                "labels must be given to a conditional discriminator and only to one"
                f" (conditional={self.conditional})"
            )
        h = self.body(x)
        score = self.score(h).squeeze(-1)
        if self.label_embedding is not None:
            score = score + (self.label_embedding(labels) * h).sum(dim=-1)
        logits = self.label_head(h) if self.label_head is not None else None
        return score, logits
