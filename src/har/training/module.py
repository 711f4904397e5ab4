"""The LightningModule of DESIGN §1: regressor R, feature extractor F and classifier C trained jointly.

    loss = gamma * MSE(R(pose), acc)
         + alpha * [ce_real * CE(C(F(acc)), y) + ce_sim * CE(C_sim(F_sim(R(pose))), y)]
         + beta  * similarity(F(acc), F_sim(R(pose)))

Variants are switches in ``scenario`` (never copies of this class). The deployed model is F+C on real
IMU, so ``{stage}_f1`` is the real-path macro-F1; the sim path and the regression error are logged
beside it. Components are built here from their config dicts so a checkpoint carries everything
needed to rebuild the model (and a mismatching config fails with the offending keys named).
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from har.training.losses import feature_similarity_loss
from har.training.metrics import StageMetrics


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
        self.scenario = scenario
        self.regressor: nn.Module = instantiate(model["regressor"])
        self.feature_extractor: nn.Module = instantiate(model["feature_extractor"])
        self.classifier: nn.Module = instantiate(model["classifier"])
        # Separate modules are built from the same config but are new objects with their own
        # (independently initialised) parameters: nothing is shared with the real path.
        self.feature_extractor_sim = (
            instantiate(model["feature_extractor"])
            if scenario["separate_feature_extractor"]
            else None
        )
        self.classifier_sim = (
            instantiate(model["classifier"]) if scenario["separate_classifier"] else None
        )
        n_classes = len(class_names)
        imu_channels = model["regressor"]["output_channels"]
        # Training only tracks the cheap scalars; evaluation stages get the full set.
        self.train_f1 = MulticlassF1Score(n_classes, average="macro")
        self.train_acc = MulticlassAccuracy(n_classes)
        self.val_metrics = StageMetrics(n_classes, imu_channels)
        self.test_metrics = StageMetrics(n_classes, imu_channels)
        self.test_outputs: dict[str, list[Tensor]] = {}

    # ---- the objective -------------------------------------------------------------------------
    @property
    def trains_sim_path(self) -> bool:
        s = self.scenario
        return s["gamma"] > 0 or s["beta"] > 0 or (s["alpha"] > 0 and s["ce_sim"])

    def forward(self, acc: Tensor) -> Tensor:
        """The deployed model: real IMU windows (B, C, T) -> logits."""
        return self.classifier(self.feature_extractor(acc, domain="real"))

    def _sim_branch(self, pose: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        sim_acc = self.regressor(pose)
        f_sim_net = self.feature_extractor_sim or self.feature_extractor
        f_sim = f_sim_net(sim_acc, domain="sim")
        logits_sim = (self.classifier_sim or self.classifier)(f_sim)
        return sim_acc, f_sim, logits_sim

    def _step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        s = self.scenario
        acc, y = batch["acc"], batch["label"]
        f_real = self.feature_extractor(acc, domain="real")
        logits_real = self.classifier(f_real)
        terms: dict[str, Tensor] = {"ce_real": F.cross_entropy(logits_real, y)}
        loss = s["alpha"] * terms["ce_real"] if s["ce_real"] else logits_real.new_zeros(())

        run_sim = stage != "train" or self.trains_sim_path
        if run_sim:
            sim_acc, f_sim, logits_sim = self._sim_branch(batch["pose"])
            terms["mse"] = F.mse_loss(sim_acc, acc)
            terms["ce_sim"] = F.cross_entropy(logits_sim, y)
            terms["similarity"] = feature_similarity_loss(f_real, f_sim, s["similarity"])
            loss = loss + s["gamma"] * terms["mse"] + s["beta"] * terms["similarity"]
            if s["ce_sim"]:
                loss = loss + s["alpha"] * terms["ce_sim"]
            if stage != "train":
                self._eval_metrics(stage).update_sim(logits_sim, y, sim_acc, acc)
            if stage == "test":
                self._keep_test_outputs(logits_real, logits_sim, y, sim_acc, acc)
        on_step = stage == "train"
        if on_step:
            # Logged as metric objects: Lightning computes and resets them when the epoch ends,
            # before any callback reads the epoch's metrics.
            self.train_f1.update(logits_real, y)
            self.train_acc.update(logits_real, y)
            self.log_dict({"train_f1": self.train_f1, "train_acc": self.train_acc}, on_epoch=True)
        else:
            self._eval_metrics(stage).update_real(logits_real, y)
        self.log(f"{stage}_loss", loss, on_step=on_step, on_epoch=True, prog_bar=True)
        for name, value in terms.items():
            self.log(f"{stage}_{name}", value, on_step=False, on_epoch=True)
        return loss

    def _keep_test_outputs(self, logits_real, logits_sim, y, sim_acc, acc) -> None:
        kept = {
            "pred": logits_real.argmax(-1),
            "pred_sim": logits_sim.argmax(-1),
            "label": y,
            "sim_acc": sim_acc,
            "acc": acc,
        }
        for key, value in kept.items():
            self.test_outputs.setdefault(key, []).append(value.detach().cpu())

    # ---- Lightning hooks -----------------------------------------------------------------------
    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

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
        optimizer = torch.optim.AdamW(self.parameters(), lr=o["lr"], weight_decay=o["weight_decay"])
        if o.get("scheduler", "none") == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=max(1, self.hparams.max_epochs)
            )
            return {"optimizer": optimizer, "lr_scheduler": scheduler}
        return optimizer
