"""The LightningModule of DESIGN §1: regressor R, feature extractor F and classifier C trained jointly.

    loss = gamma * MSE(R(pose), acc)
         + alpha * [ce_real * CE(C(F(acc)), y) + ce_sim * CE(C_sim(F_sim(R(pose))), y)]
         + beta  * similarity(F(acc), F_sim(R(pose)))
         + secondary.weight * CE(C_2(F_sim(R(pose_2))), y_2)      (pose-only data, own head)
         + adversary.weight * adversarial term                     (feature or signal discriminator)

Variants are switches in ``scenario`` (``har.training.scenario_spec``; never copies of this class)
and only what the objective uses is built: ``real_only`` has no regressor, F_sim/C_sim exist only
when switched on. The deployed model is F+C on real IMU, so ``{stage}_f1`` is the real-path
macro-F1; the sim path and the regression error are logged beside it. F's per-domain BatchNorm
sees real windows in the "real" domain only, so evaluation statistics come from real data alone.

Several IMU streams (``data.sensors``): F reads all their channels; R predicts only the channels
``model.regressed_channels`` names (``data.regress``, default the accelerometer). The regression
error and the signal critic compare those channels; on the simulated path F gets R's channels in
their places and the streams R does not predict at their training mean (0 once standardised).

Scarce real IMU: a training batch may carry ``imu_mask`` (B,), False for windows whose subject has
no real IMU (``data.imu_subjects``). Those windows feed only the terms that need no real signal
(CE on the simulated path, the adversarial term on simulations); F never sees their zero-filled acc.

The signal critic trains with its own optimiser, so the module then switches to Lightning's
manual optimisation: per batch, ``n_critic`` critic updates, then one update of everything else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from har.errors import ConfigError
from har.models.gradient_reversal import reversal_strength
from har.training.adversarial import (
    build_adversary,
    critic_loss,
    feature_domain_loss,
    generator_loss,
)
from har.training.losses import feature_similarity_loss
from har.training.metrics import StageMetrics
from har.training.scenario_spec import check_scenario, trains_sim_path, with_defaults

Batch = dict[str, Tensor]


def _unpack(batch: Mapping[str, Any]) -> tuple[Batch, Batch | None]:
    """(paired windows, pose-only windows or None): with a secondary stream Lightning combines the
    two training loaders into ``{"paired": ..., "secondary": ...}``."""
    if "paired" in batch:
        return batch["paired"], batch.get("secondary")
    return batch, None  # type: ignore[return-value]


class JointHARModule(pl.LightningModule):
    def __init__(
        self,
        model: dict[str, Any],
        scenario: dict[str, Any],
        optim: dict[str, Any],
        class_names: list[str],
        max_epochs: int = 1,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        check_scenario(scenario)
        self.scenario = s = with_defaults(scenario)
        n_classes = len(class_names)
        self.feature_extractor: nn.Module = instantiate(model["feature_extractor"])
        self.classifier: nn.Module = instantiate(model["classifier"])
        sim = trains_sim_path(s)
        self.regressor: nn.Module | None = instantiate(model["regressor"]) if sim else None
        # Separate modules are built from the same config but are new objects with their own
        # (independently initialised) parameters: nothing is shared with the real path.
        self.feature_extractor_sim: nn.Module | None = (
            instantiate(model["feature_extractor"])
            if sim and s["separate_feature_extractor"]
            else None
        )
        self.classifier_sim: nn.Module | None = (
            instantiate(model["classifier"]) if sim and s["separate_classifier"] else None
        )
        secondary = s["secondary"]
        self.secondary_classifier: nn.Module | None = (
            instantiate(model["classifier"], n_classes=secondary["n_classes"] or n_classes)
            if secondary["weight"] > 0
            else None
        )
        imu_channels = model["feature_extractor"]["input_channels"]
        # Checkpoints from before data.sensors hold no regressed_channels: R predicted all of them.
        regressed = model.get("regressed_channels") or list(range(imu_channels))
        self.regressed_channels: list[int] = list(regressed)
        self.adversary = build_adversary(
            s["adversary"],
            feature_dim=self.feature_extractor.out_features,
            imu_channels=len(regressed),
            n_classes=n_classes,
        )
        self.automatic_optimization = s["adversary"]["kind"] != "signal"
        # Training only tracks the cheap scalars; evaluation stages get the full set.
        self.train_f1 = MulticlassF1Score(n_classes, average="macro")
        self.train_acc = MulticlassAccuracy(n_classes)
        self.val_metrics = StageMetrics(n_classes, len(regressed))
        self.test_metrics = StageMetrics(n_classes, len(regressed))
        self._imu_channels = imu_channels
        self.test_outputs: dict[str, list[Tensor]] = {}

    # ---- the objective -------------------------------------------------------------------------
    @property
    def trains_sim_path(self) -> bool:
        return self.regressor is not None

    def forward(self, acc: Tensor) -> Tensor:
        """The deployed model: real IMU windows (B, C, T) -> logits."""
        return self.classifier(self.feature_extractor(acc, domain="real"))

    def regressed(self, acc: Tensor) -> Tensor:
        """The channels of real IMU windows (B, C, T) that R predicts: its target."""
        if len(self.regressed_channels) == acc.shape[1]:
            return acc
        return acc[:, self.regressed_channels]

    def _sim_features(self, pose: Tensor) -> tuple[Tensor, Tensor]:
        assert self.regressor is not None
        sim_acc = self.regressor(pose)
        f_input = sim_acc
        if len(self.regressed_channels) != self._imu_channels:
            f_input = sim_acc.new_zeros(len(sim_acc), self._imu_channels, sim_acc.shape[-1])
            f_input[:, self.regressed_channels] = sim_acc
        f_sim_net = self.feature_extractor_sim or self.feature_extractor
        return sim_acc, f_sim_net(f_input, domain="sim")

    def _step(self, batch: Mapping[str, Any], stage: str) -> Tensor:
        """The objective of one batch (logged); adversarial and secondary terms in training only."""
        s = self.scenario
        paired, secondary = _unpack(batch)
        y_all = paired["label"]
        mask = paired.get("imu_mask") if stage == "train" else None
        acc, y = (paired["acc"], y_all) if mask is None else (paired["acc"][mask], y_all[mask])
        terms: dict[str, Tensor] = {}
        loss = y_all.new_zeros((), dtype=torch.float32)
        f_real = logits_real = None
        if len(y) > 0:  # with scarce real IMU a batch may hold no window that has it
            f_real = self.feature_extractor(acc, domain="real")
            logits_real = self.classifier(f_real)
            terms["ce_real"] = F.cross_entropy(logits_real, y)
            if s["ce_real"]:
                loss = loss + s["alpha"] * terms["ce_real"]

        sim_acc = f_sim = None
        if self.regressor is not None:
            sim_acc, f_sim = self._sim_features(paired["pose"])
            logits_sim = (self.classifier_sim or self.classifier)(f_sim)
            terms["ce_sim"] = F.cross_entropy(logits_sim, y_all)
            if s["ce_sim"]:
                loss = loss + s["alpha"] * terms["ce_sim"]
            if f_real is not None:
                paired_sim, paired_f = (
                    (sim_acc, f_sim) if mask is None else (sim_acc[mask], f_sim[mask])
                )
                terms["mse"] = F.mse_loss(paired_sim, self.regressed(acc))
                terms["similarity"] = feature_similarity_loss(f_real, paired_f, s["similarity"])
                loss = loss + s["gamma"] * terms["mse"] + s["beta"] * terms["similarity"]
            if stage != "train":
                target = self.regressed(acc)
                self._eval_metrics(stage).update_sim(logits_sim, y_all, sim_acc, target)
            if stage == "test":
                self._keep_test_outputs(
                    pred_sim=logits_sim.argmax(-1), sim_acc=sim_acc, acc=self.regressed(acc)
                )

        if stage == "train":
            loss = loss + self._secondary_term(secondary, terms)
            loss = loss + self._adversarial_term(f_real, y, f_sim, sim_acc, y_all, terms)
            if logits_real is not None:
                # Logged as metric objects: Lightning computes and resets them when the epoch
                # ends, before any callback reads the epoch's metrics.
                self.train_f1.update(logits_real, y)
                self.train_acc.update(logits_real, y)
                self.log_dict(
                    {"train_f1": self.train_f1, "train_acc": self.train_acc}, on_epoch=True
                )
        else:
            assert logits_real is not None
            self._eval_metrics(stage).update_real(logits_real, y_all)
            if stage == "test":
                self._keep_test_outputs(pred=logits_real.argmax(-1), label=y_all)
        n = len(y_all)
        on_step = stage == "train"
        self.log(f"{stage}_loss", loss, on_step=on_step, on_epoch=True, prog_bar=True, batch_size=n)
        for name, value in terms.items():
            self.log(f"{stage}_{name}", value, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def _secondary_term(self, secondary: Batch | None, terms: dict[str, Tensor]) -> Tensor | float:
        if self.secondary_classifier is None:
            return 0.0
        if secondary is None:
            raise ConfigError(
                "scenario.secondary.weight > 0 but the training batches carry no pose-only data: "
                "set data.secondary (scenario=secondary_pose does)"
            )
        _, f_secondary = self._sim_features(secondary["pose"])
        logits = self.secondary_classifier(f_secondary)
        terms["ce_secondary"] = F.cross_entropy(logits, secondary["label"])
        return self.scenario["secondary"]["weight"] * terms["ce_secondary"]

    def _adversarial_term(
        self,
        f_real: Tensor | None,
        y_real: Tensor,
        f_sim: Tensor | None,
        sim_acc: Tensor | None,
        y_all: Tensor,
        terms: dict[str, Tensor],
    ) -> Tensor | float:
        a = self.scenario["adversary"]
        if self.adversary is None or self.current_epoch < a["warmup_epochs"]:
            return 0.0
        assert f_sim is not None and sim_acc is not None
        if a["kind"] == "feature":
            if f_real is None:
                return 0.0
            strength = reversal_strength(a["grl_strength"], a["schedule"], self._progress())
            terms["domain"] = feature_domain_loss(
                self.adversary, f_real, f_sim, y_real, y_all, strength
            )
            return a["weight"] * terms["domain"]
        terms["adversarial"] = generator_loss(self.adversary, sim_acc, y_all)
        return a["weight"] * terms["adversarial"]

    def _progress(self) -> float:
        """Fraction of the planned optimiser steps done (0 outside a fit)."""
        trainer = self._trainer
        if trainer is None:
            return 0.0
        total = trainer.estimated_stepping_batches
        return trainer.global_step / total if math.isfinite(total) and total > 0 else 0.0

    def _keep_test_outputs(self, **kept: Tensor) -> None:
        """Test predictions and signals for the plots (real path always, sim path when built)."""
        for key, value in kept.items():
            self.test_outputs.setdefault(key, []).append(value.detach().cpu())

    # ---- manual optimisation (signal critic) ----------------------------------------------------
    def _critic_phase(self, batch: Mapping[str, Any], optimizer: Any) -> None:
        """``n_critic`` updates of the critic alone, against detached simulations."""
        a = self.scenario["adversary"]
        paired, _ = _unpack(batch)
        mask = paired.get("imu_mask")
        y_all = paired["label"]
        target = self.regressed(paired["acc"])
        real, y_real = (target, y_all) if mask is None else (target[mask], y_all[mask])
        if len(real) == 0:
            return
        assert self.regressor is not None and self.adversary is not None
        with torch.no_grad():
            fake = self.regressor(paired["pose"])
        fake_of_real = fake if mask is None else fake[mask]
        self.toggle_optimizer(optimizer)
        for _ in range(a["n_critic"]):
            parts = critic_loss(
                self.adversary, real, y_real, fake, y_all, fake_of_real, a["gp_weight"]
            )
            optimizer.zero_grad()
            self.manual_backward(parts["loss"])
            optimizer.step()
        self.untoggle_optimizer(optimizer)
        for name, value in parts.items():
            self.log(f"train_critic_{name}", value.detach(), on_epoch=True, batch_size=len(real))

    def _main_phase(self, batch: Mapping[str, Any], optimizer: Any) -> Tensor:
        """One update of R, F, C (and the heads) with the critic frozen."""
        self.toggle_optimizer(optimizer)
        loss = self._step(batch, "train")
        optimizer.zero_grad()
        if loss.requires_grad:
            self.manual_backward(loss)
            optimizer.step()
        self.untoggle_optimizer(optimizer)
        return loss.detach()

    # ---- Lightning hooks -----------------------------------------------------------------------
    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor | None:
        if self.automatic_optimization:
            loss = self._step(batch, "train")
            # A batch with nothing to learn from (real_only, no window with real IMU): no step.
            return loss if loss.requires_grad else None
        main, critic = self.optimizers()
        self._critic_phase(batch, critic)
        return self._main_phase(batch, main)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "test")

    def on_fit_start(self) -> None:
        """A regressor that adapts to the data before training (the physics baseline) does so now;
        a restored checkpoint already holds its fit."""
        fit = getattr(self.regressor, "fit_to_data", None)
        if fit is None or bool(self.regressor.fitted):
            return
        datamodule = self.trainer.datamodule
        stats = getattr(datamodule, "acc_stats", None)
        if stats is None:
            raise ConfigError(
                "model/regressor=physics needs a data module with training IMU statistics "
                "(acc_stats) to put its output in the target's units"
            )
        loader = datamodule.train_dataloader()
        if isinstance(loader, Mapping):
            loader = loader["paired"]
        channels = self.regressed_channels
        batches = ({**batch, "acc": self.regressed(batch["acc"])} for batch in loader)
        mean, std = torch.as_tensor(stats.mean), torch.as_tensor(stats.std)
        fit(batches, mean[channels], std[channels])

    def on_train_epoch_end(self) -> None:
        if not self.automatic_optimization:  # Lightning steps schedulers only in automatic mode
            scheduler = self.lr_schedulers()
            if scheduler is not None:
                scheduler.step()

    def on_test_epoch_start(self) -> None:
        self.test_outputs = {}

    def _eval_metrics(self, stage: str) -> StageMetrics:
        return self.val_metrics if stage == "val" else self.test_metrics

    def _log_epoch_metrics(self, stage: str) -> None:
        metrics = self._eval_metrics(stage)
        self.log_dict(metrics.compute(stage))  # torchmetrics already reduced across processes
        metrics.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    def configure_optimizers(self) -> Any:
        o = self.hparams.optim
        critic = None if self.automatic_optimization else self.adversary
        critic_ids = {id(p) for p in critic.parameters()} if critic is not None else set()
        # The critic has its own optimiser: the main one never holds (nor decays) its weights.
        main_params = [p for p in self.parameters() if p.requires_grad and id(p) not in critic_ids]
        optimizer = torch.optim.AdamW(main_params, lr=o["lr"], weight_decay=o["weight_decay"])
        schedulers = []
        if o.get("scheduler", "none") == "cosine":
            schedulers.append(
                torch.optim.lr_scheduler.CosineAnnealingLR(
                    optimizer, T_max=max(1, self.hparams.max_epochs)
                )
            )
        if critic is None:
            if schedulers:
                return {"optimizer": optimizer, "lr_scheduler": schedulers[0]}
            return optimizer
        # Adam with beta1 = 0.5, beta2 = 0.9: the setting WGAN-GP was published with.
        critic_optimizer = torch.optim.Adam(
            critic.parameters(), lr=self.scenario["adversary"]["lr"], betas=(0.5, 0.9)
        )
        return [optimizer, critic_optimizer], schedulers
