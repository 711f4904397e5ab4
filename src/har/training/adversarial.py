"""Adversarial terms of the joint objective: a feature discriminator and a signal critic.

- Feature discriminator (DANN): binary cross-entropy of "real IMU features" (1) vs "simulated
  features" (0), computed on features passed through gradient reversal. One optimiser step then
  trains the discriminator and pushes F (and R, through the simulated features) to confuse it.
- Signal critic (WGAN-GP, Gulrajani et al. 2017): the critic maximises D(real) - D(sim) with a
  gradient penalty on random interpolates; the regressor minimises -D(sim). The two sides have
  their own optimisers (the module switches to Lightning's manual optimisation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import Tensor

from har.models.discriminator import Discriminator
from har.models.gradient_reversal import reverse_gradient


def build_adversary(
    adversary: Mapping[str, Any], feature_dim: int, imu_channels: int, n_classes: int
) -> Discriminator | None:
    kind = adversary["kind"]
    if kind == "none":
        return None
    return Discriminator(
        kind=kind,
        in_features=feature_dim if kind == "feature" else imu_channels,
        hidden=adversary["hidden"],
        n_classes=n_classes,
        conditional=adversary["conditional"],
        aux_classifier=adversary["aux_classifier"],
    )


def _score(disc: Discriminator, x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor | None]:
    # Only a conditional discriminator ever sees the label (it then has no label head).
    return disc(x, labels if disc.conditional else None)


def feature_domain_loss(
    disc: Discriminator,
    f_real: Tensor,
    f_sim: Tensor,
    y_real: Tensor,
    y_sim: Tensor,
    strength: float,
) -> Tensor:
    """Domain BCE on reversed features, the mean of the two domains' terms (so unequal counts of
    real and simulated windows, as with scarce real IMU, weigh the domains equally)."""
    real, _ = _score(disc, reverse_gradient(f_real, strength), y_real)
    sim, _ = _score(disc, reverse_gradient(f_sim, strength), y_sim)
    return 0.5 * (
        F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
        + F.binary_cross_entropy_with_logits(sim, torch.zeros_like(sim))
    )


def gradient_penalty(critic: Discriminator, real: Tensor, fake: Tensor, labels: Tensor) -> Tensor:
    """E[(‖∇_x̂ D(x̂)‖ - 1)²] on x̂ = ε·real + (1 - ε)·fake, one ε per window."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    score, _ = _score(critic, mixed, labels)
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


def critic_loss(
    critic: Discriminator,
    real: Tensor,
    y_real: Tensor,
    fake: Tensor,
    y_fake: Tensor,
    fake_of_real: Tensor,
    gp_weight: float,
) -> dict[str, Tensor]:
    """The critic's loss and its parts. ``fake`` is every simulated window of the batch;
    ``fake_of_real`` the simulations of the windows in ``real`` (paired for the interpolates)."""
    score_real, logits_real = _score(critic, real, y_real)
    score_fake, _ = _score(critic, fake, y_fake)
    wasserstein = score_real.mean() - score_fake.mean()
    penalty = gradient_penalty(critic, real, fake_of_real, y_real)
    parts = {"wasserstein": wasserstein, "gp": penalty, "loss": gp_weight * penalty - wasserstein}
    if logits_real is not None:  # AC-GAN: the critic learns the classes from real windows only
        parts["critic_ce"] = F.cross_entropy(logits_real, y_real)
        parts["loss"] = parts["loss"] + parts["critic_ce"]
    return parts


def generator_loss(critic: Discriminator, fake: Tensor, y_fake: Tensor) -> Tensor:
    """What the regressor minimises: -D(sim), plus the critic's CE on sims when it has a label head."""
    score, logits = _score(critic, fake, y_fake)
    loss = -score.mean()
    if logits is not None:
        loss = loss + F.cross_entropy(logits, y_fake)
    return loss


def training_progress(trainer: pl.Trainer | None) -> float:
    """Fraction of the planned optimiser steps done (0 outside a fit): the DANN schedule's p."""
    if trainer is None:
        return 0.0
    total = trainer.estimated_stepping_batches
    return trainer.global_step / total if math.isfinite(total) and total > 0 else 0.0


# ---- manual optimisation (signal critic): one batch = n_critic critic updates, then one main --
def critic_phase(module: pl.LightningModule, paired: Mapping[str, Tensor], optimizer: Any) -> None:
    """``n_critic`` updates of the critic alone, against detached simulations."""
    a = module.scenario["adversary"]
    mask = paired.get("imu_mask")
    y_all = paired["label"]
    target = module.regressed(paired["acc"])  # the critic compares the channels R predicts
    real, y_real = (target, y_all) if mask is None else (target[mask], y_all[mask])
    if len(real) == 0:
        return
    with torch.no_grad():
        fake = module.regressor(paired["pose"])
    fake_of_real = fake if mask is None else fake[mask]
    module.toggle_optimizer(optimizer)
    for _ in range(a["n_critic"]):
        parts = critic_loss(
            module.adversary, real, y_real, fake, y_all, fake_of_real, a["gp_weight"]
        )
        optimizer.zero_grad()
        module.manual_backward(parts["loss"])
        optimizer.step()
    module.untoggle_optimizer(optimizer)
    for name, value in parts.items():
        module.log(f"train_critic_{name}", value.detach(), on_epoch=True, batch_size=len(real))


def main_phase(module: pl.LightningModule, step: Callable[[], Tensor], optimizer: Any) -> Tensor:
    """One update of R, F, C (and the heads) with the critic frozen."""
    module.toggle_optimizer(optimizer)
    loss = step()
    optimizer.zero_grad()
    if loss.requires_grad:
        module.manual_backward(loss)
        optimizer.step()
    module.untoggle_optimizer(optimizer)
    return loss.detach()
