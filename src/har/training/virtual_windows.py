"""Virtual IMU windows for a reference classifier: stage 2 of ``scenario=virtual_imu`` with a
``model.kind=classical`` model (features + gradient boosting, MiniRocket).

The neural recipe's stage 2 without its network: stage 1's R (from its selected checkpoint, frozen)
simulates every training window's pose (IMU and non-IMU subjects), ``scenario.virtual.mapping`` maps
the simulations onto the real IMU (fitted on the IMU subjects' training windows only) and, with
``scenario.augment.virtual``, each is perturbed once (a reference sees every window once). The
streams R does not predict sit at their training mean (0), as in F's input of the neural recipe.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from har.classical.window_arrays import WindowSplit
from har.training.module import JointHARModule

CHUNK = 512  # windows simulated per call (bounds R's activations)


@torch.no_grad()
def simulated_training_windows(module: JointHARModule, datamodule: Any) -> WindowSplit:
    """Every training window as the frozen R simulates it, standardised like the real windows."""
    assert module.regressor is not None and module.mapping is not None, "a virtual_imu module"
    dataset = datamodule.datasets["train"]
    stats = datamodule.acc_stats
    module.augmentation.set_units(torch.as_tensor(stats.mean), torch.as_tensor(stats.std))
    module.eval()

    def batches() -> Iterator[dict[str, torch.Tensor]]:
        for part in torch.split(torch.arange(len(dataset)), CHUNK):
            yield dataset.__getitems__(part.tolist())

    if not bool(module.mapping.fitted):  # R's view of the IMU subjects' windows: its channels
        module.mapping.fit_on(
            module.regressor, ({**b, "acc": module.regressed(b["acc"])} for b in batches())
        )
    augment = module.scenario["augment"]["virtual"]
    module.augmentation.train(augment)
    xs, ys = [], []
    for batch in batches():
        virtual = module.f_input(module.simulate(batch["pose"]))
        xs.append(module.augmentation(virtual).cpu().numpy())
        ys.append(batch["label"].cpu().numpy())
    return WindowSplit(x=np.concatenate(xs), y=np.concatenate(ys).astype(np.int64))
