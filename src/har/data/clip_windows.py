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

from har.data.session import Session
from har.data.windows import WindowIndex, index_windows

CLIP_WINDOWS = ("centre", "sliding")


def build_clip_index(
    sessions: Sequence[Session], window_length: int, stride: int, mode: str, split: str = "split"
) -> WindowIndex:
    if mode not in CLIP_WINDOWS:
        raise ValueError(f"clip window mode {mode!r} is not one of {CLIP_WINDOWS}")

    def positions(n: int) -> np.ndarray:
        if mode == "centre" or n <= window_length:
            return np.array([(n - window_length) // 2], dtype=np.int64)
        return np.arange(0, n - window_length + 1, stride, dtype=np.int64)

    def nothing_fits() -> str:
        return (
            f"no window fits in split {split!r}: every clip has a hole (invalid samples) in its "
            "window: check the clips' files or the reader's gap settings"
        )

    return index_windows(sessions, window_length, positions, nothing_fits)


def padded_samples(index: WindowIndex) -> np.ndarray:
    """(W,) number of edge-replicated samples in each window (0 for a window inside its clip)."""
    first = index.session_offsets[index.session]
    end = index.session_offsets[index.session + 1]
    before = np.maximum(first - index.start, 0)
    after = np.maximum(index.start + index.window_length - end, 0)
    return before + after
