"""The windows of one split as a torch Dataset whose ``__getitems__`` gathers a whole batch.

A split's streams are concatenated into one tensor each and a window is its start sample, so a
batch of B windows is one indexing op per stream (``start[chosen] + offsets``), never a Python
loop over windows: the data path stays a small fraction of a training step.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from har.data.windows import WindowIndex


class WindowDataset(Dataset):
    """Windows over one split's concatenated streams; ``__getitems__`` gathers a whole batch.

    ``acc=None``: pose-only windows; ``pose=None`` (and ``root=None``): IMU-only windows, no
    ``"pose"`` in the batch. ``clip_bounds``: clamp every sample index into its own
    session (edge replication for windows that overhang a short clip) and return ``"mask"``.
    """

    def __init__(
        self,
        acc: torch.Tensor | None,
        pose: torch.Tensor | None,
        root: torch.Tensor | None,
        index: WindowIndex,
        clip_bounds: bool = False,
        imu_mask: torch.Tensor | None = None,
    ) -> None:
        self.acc = acc  # (N, C) standardised
        self.imu_mask = imu_mask  # (W,) bool: the window's subject has real IMU (data.imu_subjects)
        self.pose = pose  # (N, J, 3) body-scaled, not centred
        self.root = root  # (N, 3) body-scaled root joint trajectory
        self.start = torch.from_numpy(index.start)
        self.label = torch.from_numpy(index.label)
        self.offsets = torch.arange(index.window_length)
        self.centre = index.window_length // 2
        self.first = self.last = None
        if clip_bounds:
            offsets = torch.from_numpy(index.session_offsets)
            session = torch.from_numpy(index.session)
            self.first, self.last = offsets[session], offsets[session + 1] - 1

    def __len__(self) -> int:
        return len(self.start)

    @property
    def device(self) -> torch.device:
        return self.start.device

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in vars(self).values() if isinstance(t, torch.Tensor))

    def to(self, device: torch.device | str) -> WindowDataset:
        """Move every stream in place, so batches are gathered where the model runs (see
        ``har.training.acceleration.DataOnDevice``)."""
        for name, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                setattr(self, name, value.to(device))
        return self

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {key: value[0] for key, value in self.__getitems__([i]).items()}

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        chosen = torch.as_tensor(indices, dtype=torch.long, device=self.device)
        samples = self.start[chosen][:, None] + self.offsets  # (B, T)
        batch: dict[str, torch.Tensor] = {}
        if self.first is not None:
            first, last = self.first[chosen][:, None], self.last[chosen][:, None]
            batch["mask"] = (samples >= first) & (samples <= last)
            samples = torch.minimum(torch.maximum(samples, first), last)
        if self.pose is not None and self.root is not None:
            # Centre on the root joint at the window's centre sample: one fixed point per window,
            # so whole-body translation within the window (squats, jumps) stays in the input.
            pose = self.pose[samples] - self.root[samples[:, self.centre]][:, None, None, :]
            batch["pose"] = pose.permute(0, 2, 3, 1).contiguous()  # (B, T, J, 3) -> (B, J, 3, T)
        if self.acc is not None:
            batch["acc"] = self.acc[samples].transpose(1, 2).contiguous()  # (B, C, T)
        batch["label"] = self.label[chosen]
        if self.imu_mask is not None:
            batch["imu_mask"] = self.imu_mask[chosen]
        return batch


def already_batched(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return batch
