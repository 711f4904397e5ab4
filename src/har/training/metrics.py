"""torchmetrics bundles per stage: real-path classification, sim-path classification, regression."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, PearsonCorrCoef
from torchmetrics.classification import MulticlassAccuracy, MulticlassCohenKappa, MulticlassF1Score

AXES = "xyz"


class StageMetrics(nn.Module):
    """Accumulates one stage's metrics over an epoch; ``compute`` returns ``{stage}_<name>`` floats.

    F1 is macro-averaged (torchmetrics' default is micro). Pearson r is per IMU axis, computed over
    all samples of all windows.
    """

    def __init__(self, n_classes: int, imu_channels: int) -> None:
        super().__init__()
        self.f1 = MulticlassF1Score(n_classes, average="macro")
        self.acc = MulticlassAccuracy(n_classes, average="micro")
        self.kappa = MulticlassCohenKappa(n_classes)
        self.f1_per_class = MulticlassF1Score(n_classes, average="none")
        self.sim_f1 = MulticlassF1Score(n_classes, average="macro")
        self.mse = MeanSquaredError()
        self.mae = MeanAbsoluteError()
        self.pearson = PearsonCorrCoef(num_outputs=imu_channels)
        self.has_sim = False

    def update_real(self, logits: Tensor, y: Tensor) -> None:
        for metric in (self.f1, self.acc, self.kappa, self.f1_per_class):
            metric.update(logits, y)

    def update_sim(self, logits_sim: Tensor, y: Tensor, sim_acc: Tensor, acc: Tensor) -> None:
        self.has_sim = True
        self.sim_f1.update(logits_sim, y)
        self.mse.update(sim_acc, acc)
        self.mae.update(sim_acc, acc)
        # (B, C, T) -> (B*T, C): one Pearson r per axis.
        self.pearson.update(
            *(t.transpose(1, 2).reshape(-1, t.shape[1]).float() for t in (sim_acc, acc))
        )

    def compute(self, stage: str) -> dict[str, float]:
        out = {
            f"{stage}_f1": self.f1.compute(),
            f"{stage}_acc": self.acc.compute(),
            f"{stage}_kappa": self.kappa.compute(),
        }
        for i, value in enumerate(self.f1_per_class.compute()):
            out[f"{stage}_f1_class{i}"] = value
        if self.has_sim:
            out[f"{stage}_sim_f1"] = self.sim_f1.compute()
            out[f"{stage}_mse"] = self.mse.compute()
            out[f"{stage}_mae"] = self.mae.compute()
            for axis, r in zip(AXES, torch.atleast_1d(self.pearson.compute()), strict=False):
                out[f"{stage}_pearson_{axis}"] = r
        return {k: float(v) for k, v in out.items()}

    def reset(self) -> None:
        for m in self.children():
            m.reset()
        self.has_sim = False
