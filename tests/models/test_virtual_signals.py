"""Domain normalisation modes, the sim→real signal mapping and the training-time augmentation."""

from __future__ import annotations

import math

import pytest
import torch

from har.models.augmentation import SignalAugmentation, _axis_angle
from har.models.domain_norm import DomainBatchNorm1d
from har.models.feature_extractor import FeatureExtractor
from har.models.signal_mapping import SignalMapping


@pytest.mark.parametrize(
    ("mode", "affine_sets"), [("shared_affine", 1), ("separate", 2), ("shared", 1)]
)
def test_domain_norm_modes_build_what_they_say(mode, affine_sets):
    norm = DomainBatchNorm1d(4, mode)
    weights = [n for n, _ in norm.named_parameters() if n.endswith("weight")]
    assert len(weights) == affine_sets
    norm.train()
    norm(torch.randn(16, 4, 10) * 5 + 3, "sim")  # a simulated batch, far from the real data
    running = dict(norm.named_buffers())
    real_mean = running["norm.running_mean" if mode == "shared" else "norms.real.running_mean"]
    # Real statistics stay untouched by simulated windows unless the mode shares them.
    assert torch.equal(real_mean, torch.zeros(4)) == (mode != "shared")


def test_feature_extractor_refuses_an_unknown_domain_norm():
    with pytest.raises(Exception, match="domain_norm"):
        FeatureExtractor(domain_norm="mixed")


def test_affine_mapping_undoes_a_rotation_of_the_sensor_that_moments_cannot():
    torch.manual_seed(0)
    real = torch.randn(64, 3, 50) + torch.tensor([0.0, 9.8, 0.0])[:, None]
    rotation = _axis_angle(torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([0.7]))[0]
    sim = torch.einsum("ij,bjt->bit", rotation.T, real) * 1.3 + 0.5  # mounted rotated, scaled
    affine, moments = SignalMapping(3, "affine"), SignalMapping(3, "moments")
    affine.fit(sim, real)
    moments.fit(sim, real)
    assert torch.allclose(affine(sim), real, atol=1e-4)
    error = (moments(sim) - real).pow(2).mean()
    assert error > 0.1  # per-axis moments cannot rotate the axes back
    mapped = moments(sim).transpose(1, 2).reshape(-1, 3)
    target = real.transpose(1, 2).reshape(-1, 3)
    assert torch.allclose(mapped.mean(0), target.mean(0), atol=1e-3)
    assert torch.allclose(mapped.std(0), target.std(0), atol=1e-3)


def test_quantile_mapping_matches_the_distribution():
    torch.manual_seed(1)
    real = torch.randn(40, 1, 100).exp()  # skewed
    sim = torch.rand(40, 1, 100)
    mapping = SignalMapping(1, "quantile")
    mapping.fit(sim, real)
    levels = torch.tensor([0.1, 0.5, 0.9])
    mapped = torch.quantile(mapping(sim).flatten(), levels)
    assert torch.allclose(mapped, torch.quantile(real.flatten(), levels), rtol=0.05)


def test_an_unfitted_mapping_is_refused_and_none_is_the_identity():
    x = torch.randn(2, 3, 5)
    assert torch.equal(SignalMapping(3, "none")(x), x)
    with pytest.raises(RuntimeError, match="before fit"):
        SignalMapping(3, "affine")(x)


def units_norm(x: torch.Tensor, aug: SignalAugmentation) -> torch.Tensor:
    units = x * aug.std[:, None] + aug.mean[:, None]
    return units.view(len(x), -1, 3, x.shape[-1]).norm(dim=2)


def test_rotations_act_on_physical_vectors_and_keep_their_length():
    torch.manual_seed(2)
    aug = SignalAugmentation(6, roll_deg=90, rotate_deg=20)
    aug.set_units(torch.tensor([0.0, 9.8, 0.0, 0.0, 0.0, 0.0]), torch.tensor([2.0, 3, 4, 1, 1, 1]))
    aug.train()
    x = torch.randn(8, 6, 32)
    out = aug(x)
    assert not torch.allclose(out, x)
    assert torch.allclose(units_norm(out, aug), units_norm(x, aug), atol=1e-4)  # acc and gyro


def test_roll_turns_about_the_forearm_axis_only():
    aug = SignalAugmentation(3, roll_deg=180, roll_axis=0)
    aug.train()
    x = torch.randn(8, 3, 16)
    assert torch.allclose(aug(x)[:, 0], x[:, 0], atol=1e-5)  # the x component is the axis


def test_gain_jitter_and_warp_change_windows_only_in_training():
    aug = SignalAugmentation(3, gain=0.2, jitter=0.1, time_warp=0.2)
    x = torch.sin(torch.linspace(0, 6 * math.pi, 64)).expand(4, 3, 64).clone()
    aug.eval()
    assert torch.equal(aug(x), x)
    aug.train()
    out = aug(x)
    assert out.shape == x.shape and not torch.allclose(out, x)


def test_motion_gain_scales_the_motion_about_the_window_mean_and_keeps_gravity():
    torch.manual_seed(0)
    aug = SignalAugmentation(6, motion_gain=1.0)
    aug.train()
    x = torch.randn(16, 6, 50) + torch.tensor([0.0, 3.0, 0.0, 0.5, 0.0, 0.0])[:, None]
    out = aug(x)
    assert torch.allclose(out.mean(-1), x.mean(-1), atol=1e-5)  # gravity and posture stay
    ratio = (out - out.mean(-1, keepdim=True)).std(-1) / (x - x.mean(-1, keepdim=True)).std(-1)
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), rtol=1e-4)  # one factor a window
    assert ratio.min() >= 0.5 - 1e-4 and ratio.max() <= 2.0 + 1e-4 and ratio.std() > 0.1


def test_augmentation_refuses_negative_strengths():
    with pytest.raises(ValueError, match="gain"):
        SignalAugmentation(3, gain=-0.1)
