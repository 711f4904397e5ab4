"""The classification term's regularisers against hand computations."""

from __future__ import annotations

import math

import torch

from har.training.losses import classification_loss, mixup


def _ce(logits: list[float], target: int, smoothing: float = 0.0) -> float:
    """Cross-entropy by hand: smoothing spreads that much of the target's mass over all classes."""
    log_z = math.log(sum(math.exp(v) for v in logits))
    log_p = [v - log_z for v in logits]
    k = len(logits)
    return -sum(((1 - smoothing) * (c == target) + smoothing / k) * log_p[c] for c in range(k))


def test_label_smoothing_matches_the_hand_computation():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, 3.0]])
    y = torch.tensor([0, 1])
    expected = (_ce([2.0, -1.0, 0.5], 0, 0.2) + _ce([0.0, 1.0, 3.0], 1, 0.2)) / 2
    assert math.isclose(classification_loss(logits, y, 0.2).item(), expected, rel_tol=1e-6)
    plain = (_ce([2.0, -1.0, 0.5], 0) + _ce([0.0, 1.0, 3.0], 1)) / 2
    assert math.isclose(classification_loss(logits, y).item(), plain, rel_tol=1e-6)


def test_mixup_blends_windows_and_labels_with_one_weight():
    windows = torch.arange(12.0).reshape(4, 1, 3)
    labels = torch.tensor([0, 1, 2, 3])
    torch.manual_seed(0)
    mixed, mix = mixup(windows, labels, alpha=0.4)
    partner, lam = mix
    assert 0.0 <= lam <= 1.0 and sorted(partner.tolist()) == [0, 1, 2, 3]
    assert torch.allclose(mixed, lam * windows + (1 - lam) * windows[partner])
    logits = torch.tensor([[1.0, 0.0, 0.0, 0.0]] * 4)
    expected = (
        sum(
            lam * _ce([1.0, 0, 0, 0], int(a)) + (1 - lam) * _ce([1.0, 0, 0, 0], int(b))
            for a, b in zip(labels, partner, strict=True)
        )
        / 4
    )
    assert math.isclose(
        classification_loss(logits, labels, 0.0, mix).item(), expected, rel_tol=1e-6
    )
    torch.manual_seed(0)
    assert torch.equal(mixup(windows, labels, 0.4)[0], mixed)  # the run's seed fixes the draw
    torch.manual_seed(1)
    assert not torch.equal(mixup(windows, labels, 0.4)[0], mixed)


def test_mixup_off_or_on_a_single_window_leaves_the_batch_alone():
    windows, labels = torch.randn(4, 3, 8), torch.arange(4)
    one, one_label = windows[:1], labels[:1]
    for batch, y, alpha in ((windows, labels, 0.0), (one, one_label, 0.4)):
        out, mix = mixup(batch, y, alpha)
        assert out is batch and mix is None
