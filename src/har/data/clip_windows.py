"""Windows over short labelled clips (UTD-MHAD, NTU): the pad-or-crop rule.

A clip holds one action and is often about as long as a window, sometimes shorter. The rule:

- ``centre`` (default): exactly one window per clip, centred on the clip. A longer clip is CROPPED
  to its central ``window_length`` samples; a shorter one is PADDED symmetrically (the odd sample
  goes before the clip) by EDGE REPLICATION — the samples outside the clip repeat its first/last
  pose and IMU sample (the person holding the start/end posture), never zeros. Every batch of a
  clip data set carries ``"mask"`` (B, T) bool: False exactly on those replicated samples, so a
  loss or metric can leave them out.
- ``sliding``: every ``stride``-th window lying wholly inside the clip; a clip shorter than the
  window still gives its one centred, padded window.

A window takes the clip's label (its centre sample's, clipped into the clip). A window whose
in-clip part touches an invalid sample (a hole in a stream) is left out, as for long sessions.
Window starts are offsets in the split's concatenation and may point before the clip (or the
window may run past its end): ``WindowDataset`` clamps every sample index into its own clip,
which is what implements the edge replication inside the one gather per batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from har.data.align import Session
from har.data.windows import WindowIndex
from har.errors import DataError

CLIP_WINDOWS = ("centre", "sliding")


def build_clip_index(
    sessions: Sequence[Session], window_length: int, stride: int, mode: str, split: str = "split"
) -> WindowIndex:
    if mode not in CLIP_WINDOWS:
        raise ValueError(f"clip window mode {mode!r} is not one of {CLIP_WINDOWS}")
    lengths = np.array([len(s) for s in sessions], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    starts, labels, owners = [], [], []
    for number, session in enumerate(sessions):
        n = len(session)
        if mode == "centre" or n <= window_length:
            local = np.array([(n - window_length) // 2], dtype=np.int64)
        else:
            local = np.arange(0, n - window_length + 1, stride, dtype=np.int64)
        first, end = np.maximum(local, 0), np.minimum(local + window_length, n)
        invalid_before = np.concatenate([[0], np.cumsum(~session.valid)])
        local = local[invalid_before[end] == invalid_before[first]]
        starts.append(local + offsets[number])
        labels.append(session.labels[np.clip(local + window_length // 2, 0, n - 1)])
        owners.append(np.full(len(local), number, dtype=np.int64))
    start = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    if len(start) == 0:
        raise DataError(
            f"no window fits in split {split!r}: every clip has a hole (invalid samples) in its "
            "window: check the clips' files or the reader's gap settings"
        )
    return WindowIndex(
        start=start,
        label=np.concatenate(labels).astype(np.int64),
        session=np.concatenate(owners),
        session_offsets=offsets,
        window_length=window_length,
    )


def padded_samples(index: WindowIndex) -> np.ndarray:
    """(W,) number of edge-replicated samples in each window (0 for a window inside its clip)."""
    first = index.session_offsets[index.session]
    end = index.session_offsets[index.session + 1]
    before = np.maximum(first - index.start, 0)
    after = np.maximum(index.start + index.window_length - end, 0)
    return before + after
