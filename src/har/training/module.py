"""The LightningModule of DESIGN §1: regressor R, feature extractor F and classifier C trained jointly.

    loss = gamma * MSE(R(pose), acc)
         + alpha * [ce_real * CE(C(F(acc)), y) + ce_sim * CE(C_sim(F_sim(R(pose))), y)]
         + beta  * similarity(F(acc), F_sim(R(pose)))
         + secondary.weight * CE(C_2(F_sim(R(pose_2))), y_2)      (pose-only data, own head)
         + adversary.weight * adversarial term                     (feature or signal discriminator)

Variants are switches in ``scenario`` (``har.training.scenario_spec``; never copies of this class)
and only what the objective uses is built. The deployed model is F+C on real IMU: ``{stage}_f1`` is
the real-path macro-F1; the sim path and the regression error are logged beside it. F's BatchNorm
statistics are per domain, so evaluation statistics come from real data alone. What trains what:
CE on the simulated path updates F/C only unless ``sim_ce_trains_regressor`` (else R learns to write
label information into its "IMU"); the similarity term compares features computed without dropout
and holds ``similarity_target`` still. ``freeze_regressor`` + ``virtual`` + ``augment`` are the
second stage of the virtual-IMU recipe (``har.training.two_stage``). Training CE terms use
``label_smoothing``; ``mixup`` blends real windows (the deployed path) and their labels.

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

from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from har.errors import ConfigError
from har.models.augmentation import SignalAugmentation
from har.models.gradient_reversal import reversal_strength
from har.models.signal_mapping import SignalMapping, in_channels
from har.training.adversarial import (
    build_adversary,
    critic_phase,
    feature_domain_loss,
    generator_loss,
    main_phase,
    training_progress,
)
from har.training.losses import Mix, classification_loss, feature_similarity_loss, mixup
from har.training.metrics import StageMetrics
from har.training.resume import regressor_weights
from har.training.scenario_spec import (
    AUGMENT_TARGETS,
    check_scenario,
    trains_sim_path,
    with_defaults,
)
from har.training.trainer import build_optimizers

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
        f_out = self.feature_extractor.out_features  # C's width is F's, whatever F is built of
        self.classifier: nn.Module = instantiate(model["classifier"], f_in=f_out)
        sim = trains_sim_path(s)
        self.regressor: nn.Module | None = instantiate(model["regressor"]) if sim else None
        imu_channels = model["feature_extractor"]["input_channels"]
        # Checkpoints from before data.sensors hold no regressed_channels: R predicted all of them.
        regressed = model.get("regressed_channels") or list(range(imu_channels))
        self.regressed_channels: list[int] = list(regressed)
        self._imu_channels = imu_channels
        self.mapping = SignalMapping(len(regressed), s["virtual"]["mapping"]) if sim else None
        augment = {k: v for k, v in s["augment"].items() if k not in AUGMENT_TARGETS}
        self.augmentation = SignalAugmentation(imu_channels, **augment)
        if sim and s["regressor_checkpoint"]:
            self.regressor.load_state_dict(regressor_weights(s["regressor_checkpoint"]))
        if sim and s["freeze_regressor"]:
            self.regressor.requires_grad_(False)
        # Separate modules are built from the same config but are new objects with their own
        # (independently initialised) parameters: nothing is shared with the real path.
        self.feature_extractor_sim: nn.Module | None = None
        self.classifier_sim: nn.Module | None = None
        if sim and s["separate_feature_extractor"]:
            self.feature_extractor_sim = instantiate(model["feature_extractor"])
        if sim and s["separate_classifier"]:
            self.classifier_sim = instantiate(model["classifier"], f_in=f_out)
        secondary = s["secondary"]
        self.secondary_classifier: nn.Module | None = None
        if secondary["weight"] > 0:
            n_secondary = secondary["n_classes"] or n_classes
            self.secondary_classifier = instantiate(
                model["classifier"], f_in=f_out, n_classes=n_secondary
            )
        self.adversary = build_adversary(s["adversary"], f_out, len(regressed), n_classes)
        self.automatic_optimization = s["adversary"]["kind"] != "signal"
        # Training only tracks the cheap scalars; evaluation stages get the full set.
        self.train_f1 = MulticlassF1Score(n_classes, average="macro")
        self.train_acc = MulticlassAccuracy(n_classes)
        self.val_metrics = StageMetrics(n_classes, len(regressed))
        self.test_metrics = StageMetrics(n_classes, len(regressed))
        self.test_outputs: dict[str, list[Tensor]] = {}

    @property
    def trains_sim_path(self) -> bool:
        return self.regressor is not None

    def forward(self, acc: Tensor) -> Tensor:
        """The deployed model: real IMU windows (B, C, T) -> logits."""
        return self.classifier(self.feature_extractor(acc, domain="real"))

    def simulate(self, pose: Tensor) -> Tensor:
        """R's simulation; a frozen R simulates as it was selected (eval mode: no dropout, fixed
        BatchNorm statistics; set at every call, as Lightning restores submodules' modes around
        each loop) and builds no graph."""
        assert self.regressor is not None
        if not self.scenario["freeze_regressor"]:
            return self.regressor(pose)
        self.regressor.eval()
        with torch.no_grad():
            return self.regressor(pose)

    def regressed(self, acc: Tensor) -> Tensor:
        """The channels of real IMU windows (B, C, T) that R predicts: its target."""
        if len(self.regressed_channels) == acc.shape[1]:
            return acc
        return acc[:, self.regressed_channels]

    def f_input(self, sim_acc: Tensor) -> Tensor:
        """F's input for a simulation: R's channels mapped onto the real distribution and put in
        their places, the streams R does not predict at their training mean (0)."""
        assert self.mapping is not None
        return in_channels(self.mapping(sim_acc), self.regressed_channels, self._imu_channels)

    def _virtual(self, sim_acc: Tensor, stage: str) -> Tensor:
        """What F_sim sees of a simulation: mapped, in training augmented; detached unless CE on
        the simulated path may train R."""
        virtual = self.f_input(sim_acc)
        if stage == "train" and self.scenario["augment"]["virtual"]:
            virtual = self.augmentation(virtual)
        return virtual if self.scenario["sim_ce_trains_regressor"] else virtual.detach()

    @property
    def _f_sim_net(self) -> nn.Module:
        return self.feature_extractor_sim or self.feature_extractor

    def _step(self, batch: Mapping[str, Any], stage: str) -> Tensor:
        """The objective of one batch (logged); adversarial and secondary terms in training only."""
        s = self.scenario
        paired, secondary = _unpack(batch)
        y_all = paired["label"]
        mask = paired.get("imu_mask") if stage == "train" else None
        acc, y = (paired["acc"], y_all) if mask is None else (paired["acc"][mask], y_all[mask])
        terms: dict[str, Tensor] = {}
        counts: dict[str, int] = {}  # each term is a mean over this many windows (for the log)
        loss = y_all.new_zeros((), dtype=torch.float32)
        f_real = logits_real = None
        if len(y) > 0:  # with scarce real IMU a batch may hold no window that has it
            seen = self.augmentation(acc) if stage == "train" and s["augment"]["real"] else acc
            seen, mix = mixup(seen, y, s["mixup"] if stage == "train" else 0.0)
            f_real = self.feature_extractor(seen, domain="real")
            logits_real = self.classifier(f_real)
            terms["ce_real"], counts["ce_real"] = self._ce(logits_real, y, stage, mix), len(y)
            if s["ce_real"]:
                loss = loss + s["alpha"] * terms["ce_real"]

        sim_acc = f_sim = None
        if self.regressor is not None:
            sim_acc = self.simulate(paired["pose"])
            f_sim = self._f_sim_net(self._virtual(sim_acc, stage), domain="sim")
            logits_sim = (self.classifier_sim or self.classifier)(f_sim)
            terms["ce_sim"], counts["ce_sim"] = self._ce(logits_sim, y_all, stage), len(y_all)
            if s["ce_sim"]:
                loss = loss + s["alpha"] * s["virtual_weight"] * terms["ce_sim"]
            detached = not s["sim_ce_trains_regressor"] and not s["freeze_regressor"]
            if stage == "train" and detached and s["adversary"]["kind"] == "feature":
                # The feature adversary trains R: it needs a pass without the CE pass's detach.
                f_sim = self._f_sim_net(self.f_input(sim_acc), domain="sim")
            if f_real is not None:
                paired_sim = sim_acc if mask is None else sim_acc[mask]
                terms["mse"], counts["mse"] = F.mse_loss(paired_sim, self.regressed(acc)), len(y)
                loss = loss + s["gamma"] * terms["mse"]
                if s["beta"] > 0 or stage != "train":
                    terms["similarity"] = self._similarity(acc, paired_sim)
                    counts["similarity"] = len(y)
                    loss = loss + s["beta"] * terms["similarity"]
            if stage != "train":
                target = self.regressed(acc)
                self._eval_metrics(stage).update_sim(logits_sim, y_all, sim_acc, target)
            if stage == "test":
                self._keep_test_outputs(
                    pred_sim=logits_sim.argmax(-1), sim_acc=sim_acc, acc=self.regressed(acc)
                )

        if stage == "train":
            loss = loss + self._secondary_term(secondary, terms, counts)
            loss = loss + self._adversarial_term(f_real, y, f_sim, sim_acc, y_all, terms, counts)
            if logits_real is not None:
                # Logged as metric objects: Lightning computes and resets them when the epoch
                # ends, before any callback reads the epoch's metrics.
                self.train_f1.update(logits_real, y)
                self.train_acc.update(logits_real, y)
                self.log_dict(
                    {"train_f1": self.train_f1, "train_acc": self.train_acc},
                    on_epoch=True,
                    batch_size=len(y),
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
            self.log(
                f"{stage}_{name}", value, on_step=False, on_epoch=True, batch_size=counts[name]
            )
        return loss

    def _ce(self, logits: Tensor, y: Tensor, stage: str, mix: Mix | None = None) -> Tensor:
        """Classification term; label smoothing in training only (val/test CE stay comparable)."""
        smoothing = self.scenario["label_smoothing"] if stage == "train" else 0.0
        return classification_loss(logits, y, smoothing, mix)

    def _similarity(self, acc: Tensor, sim_acc: Tensor) -> Tensor:
        """Distance of real and simulated features of the same windows (side passes of F: no
        dropout, running statistics untouched), the side ``similarity_target`` names held still."""
        target = self.scenario["similarity_target"]
        with torch.set_grad_enabled(torch.is_grad_enabled() and target != "real"):
            h_real = self.feature_extractor(acc, domain="real", side_pass=True)
        with torch.set_grad_enabled(torch.is_grad_enabled() and target != "sim"):
            h_sim = self._f_sim_net(self.f_input(sim_acc), domain="sim", side_pass=True)
        return feature_similarity_loss(h_real, h_sim, self.scenario["similarity"])

    def _secondary_term(
        self, secondary: Batch | None, terms: dict[str, Tensor], counts: dict[str, int]
    ) -> Tensor | float:
        if self.secondary_classifier is None:
            return 0.0
        if secondary is None:
            raise ConfigError(
                "scenario.secondary.weight > 0 but the training batches carry no pose-only data: "
                "set data.secondary (scenario=secondary_pose does)"
            )
        assert self.regressor is not None
        virtual = self._virtual(self.simulate(secondary["pose"]), "train")
        logits = self.secondary_classifier(self._f_sim_net(virtual, domain="sim"))
        terms["ce_secondary"] = self._ce(logits, secondary["label"], "train")
        counts["ce_secondary"] = len(secondary["label"])
        return self.scenario["secondary"]["weight"] * terms["ce_secondary"]

    def _adversarial_term(
        self,
        f_real: Tensor | None,
        y_real: Tensor,
        f_sim: Tensor | None,
        sim_acc: Tensor | None,
        y_all: Tensor,
        terms: dict[str, Tensor],
        counts: dict[str, int],
    ) -> Tensor | float:
        a = self.scenario["adversary"]
        if self.adversary is None or self.current_epoch < a["warmup_epochs"]:
            return 0.0
        assert f_sim is not None and sim_acc is not None
        if a["kind"] == "feature":
            if f_real is None:
                return 0.0
            strength = reversal_strength(
                a["grl_strength"], a["schedule"], training_progress(self._trainer)
            )
            terms["domain"] = feature_domain_loss(
                self.adversary, f_real, f_sim, y_real, y_all, strength
            )
            counts["domain"] = len(y_real) + len(y_all)
            return a["weight"] * terms["domain"]
        terms["adversarial"], counts["adversarial"] = (
            generator_loss(self.adversary, sim_acc, y_all),
            len(y_all),
        )
        return a["weight"] * terms["adversarial"]

    def _keep_test_outputs(self, **kept: Tensor) -> None:
        """Test predictions and signals for the plots (real path always, sim path when built)."""
        for key, value in kept.items():
            self.test_outputs.setdefault(key, []).append(value.detach().cpu())

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor | None:
        if self.automatic_optimization:
            loss = self._step(batch, "train")
            # A batch with nothing to learn from (real_only, no window with real IMU): no step.
            return loss if loss.requires_grad else None
        main, critic = self.optimizers()
        self._critic_phase(batch, critic)
        return self._main_phase(batch, main)

    def _critic_phase(self, batch: Mapping[str, Any], optimizer: Any) -> None:
        critic_phase(self, _unpack(batch)[0], optimizer)

    def _main_phase(self, batch: Mapping[str, Any], optimizer: Any) -> Tensor:
        return main_phase(self, lambda: self._step(batch, "train"), optimizer)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "test")

    def on_fit_start(self) -> None:
        """What adapts to the training data before training does so now (a restored checkpoint
        already holds it): the augmentation's units, the physics baseline's calibration and the
        virtual-IMU mapping, all from training windows only."""
        datamodule = self.trainer.datamodule
        stats = getattr(datamodule, "acc_stats", None)
        if stats is not None:  # sensor units, for the augmentation and F's window statistics
            mean, std = torch.as_tensor(stats.mean), torch.as_tensor(stats.std)
            for part in (self.augmentation, self.feature_extractor, self.feature_extractor_sim):
                getattr(part, "set_units", lambda *_: None)(mean, std)
        fit = getattr(self.regressor, "fit_to_data", None)
        fit_regressor = fit is not None and not bool(self.regressor.fitted)
        fit_mapping = self.mapping is not None and not bool(self.mapping.fitted)
        if not (fit_regressor or fit_mapping):
            return
        if stats is None:
            raise ConfigError(
                "model/regressor=physics and scenario.virtual.mapping need a data module with "
                "training IMU statistics (acc_stats)"
            )
        loader = datamodule.train_dataloader()
        if isinstance(loader, Mapping):
            loader = loader["paired"]
        channels = self.regressed_channels

        def batches() -> Any:  # R's view of the training windows: its target channels only
            return ({**batch, "acc": self.regressed(batch["acc"])} for batch in loader)

        if fit_regressor:
            mean, std = torch.as_tensor(stats.mean), torch.as_tensor(stats.std)
            fit(batches(), mean[channels], std[channels])
        if fit_mapping:
            self.mapping.fit_on(self.regressor, batches())

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
        critic = None if self.automatic_optimization else self.adversary
        return build_optimizers(self, self.hparams.optim, critic, self.scenario["adversary"]["lr"])
