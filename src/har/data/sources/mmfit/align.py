"""Put one MM-Fit recording's pose and IMU on one uniform clock.

MM-Fit has two clocks: video frames (30 fps, absolute frame numbers, no timestamps) and the IMU's
milliseconds. Every IMU row also carries the frame number shown when it was logged, which is the
only bridge between them. We estimate the time of every video frame from those rows, then
resample both streams by linear interpolation onto ``rate_hz`` over the span both cover. Further
IMU streams (``data.sensors``) are interpolated from their own timestamps onto the same clock, over
the span every stream covers; a hole in any stream invalidates the sample.
``frame / 100`` as time, or repeating frames (sample-and-hold), would be wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from har.data.session import MAX_GAP_S, Session, interpolate
from har.data.sources.mmfit.format import NON_ACTIVITY
from har.data.sources.mmfit.raw_files import ImuRows
from har.data.sources.mmfit.reader import Recording
from har.errors import DataError

log = logging.getLogger(__name__)

# A few timestamps stepping backwards are logging glitches we sort away; more means a scrambled file.
MAX_BACKWARD_STEPS = 10
MAX_BACKWARD_FRACTION = 0.001
# Logging pauses are holes (MAX_GAP_S), but rows covering under a tenth of their span (and more than
# an hour of it missing) mean a corrupt timestamp, not a pause.
MAX_SPAN_FACTOR = 10.0
MAX_EXTRA_SPAN_MS = 3_600_000.0

FrameClock = Callable[[np.ndarray], np.ndarray]  # frame numbers -> IMU milliseconds


def align(
    rec: Recording, rate_hz: float, max_gap_s: float = MAX_GAP_S, pose_lag_ms: float = 0.0
) -> Session:
    """Resample ``rec``'s pose and IMU onto one ``rate_hz`` clock and label every sample.

    ``pose_lag_ms`` moves the video (pose and the labels, which are video frames) this much later
    against the IMU: the frame a row carries is the one shown when the phone logged it, after the
    watch's delivery delay, so the frame clock places the video early by about that delay less
    half a frame. ``python -m har.data.inspect --estimate-lag`` estimates the value to set.
    """
    imu_path = rec.files[1]  # Recording.files is (pose_3d, imu, labels)
    report: dict[str, int | float | str] = dict(rec.dropped)
    imu_t, imu_frames, imu = _clean_imu(rec, imu_path, report)
    fitted = _fit_frame_clock(imu_frames, imu_t, report, str(imu_path))
    frame_time = fitted if not pose_lag_ms else (lambda f: fitted(f) + pose_lag_ms)
    pose_t, pose = _clean_pose(rec, frame_time, report)

    finite = np.all(np.isfinite(imu), axis=1)
    report["imu_rows_nonfinite"] = int((~finite).sum())
    imu_t, imu = imu_t[finite], imu[finite]
    if len(imu_t) < 2:
        raise DataError(f"{imu_path} has fewer than two finite rows: replace the file")

    more = [_clean_more(rows, report) for rows in rec.more_imu]  # further streams, own clocks
    start = max(pose_t[0], imu_t[0], *(t[0] for t, _ in more))
    end = min(pose_t[-1], imu_t[-1], *(t[-1] for t, _ in more))
    if end <= start:
        raise DataError(
            f"{imu_path} ({imu_t[0]:.0f}..{imu_t[-1]:.0f} ms) and {rec.files[0]} "
            f"({pose_t[0]:.0f}..{pose_t[-1]:.0f} ms) do not overlap in time: check both files"
        )
    period_ms = 1000.0 / rate_hz
    clock = start + np.arange(int(np.floor((end - start) / period_ms + 1e-9)) + 1) * period_ms

    acc, imu_span = interpolate(clock, imu_t, imu)
    for t, values in more:  # each on the common clock like the primary stream
        resampled, span = interpolate(clock, t, values)
        acc, imu_span = np.hstack([acc, resampled]), np.maximum(imu_span, span)
    pose_flat, pose_span = interpolate(clock, pose_t, pose.reshape(len(pose), -1))
    max_gap_ms = max_gap_s * 1000.0
    imu_hole, pose_hole = imu_span > max_gap_ms, pose_span > max_gap_ms
    report.update(
        samples=len(clock),
        samples_invalid_imu_gap=int(imu_hole.sum()),
        samples_invalid_pose_gap=int(pose_hole.sum()),
    )
    session = Session(
        workout=rec.workout,
        participant=rec.participant,
        pose=(pose_flat.reshape(len(clock), *pose.shape[1:]) / 1000.0).astype(np.float32),
        acc=acc.astype(np.float32),
        labels=_label_samples(clock, rec, frame_time),
        valid=~(imu_hole | pose_hole),
        t0_ms=float(start),
        rate_hz=float(rate_hz),
        report=report,
    )
    _log_report(rec.workout, report)
    return session


def _clean_imu(
    rec: Recording, imu_path: object, report: dict
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort rows by time (stably) and drop repeated timestamps; too many backward steps is fatal."""
    t = rec.imu_time_ms
    backward = int(np.sum(np.diff(t) < 0))
    allowed = max(MAX_BACKWARD_STEPS, int(MAX_BACKWARD_FRACTION * len(t)))
    if backward > allowed:
        raise DataError(
            f"{imu_path}: {backward} timestamps go backwards (at most {allowed} tolerated): "
            "the file is scrambled, replace it"
        )
    order = np.argsort(t, kind="stable")
    t, frames, values = t[order], rec.imu_frames[order], rec.imu[order]
    repeat = np.concatenate([[False], t[1:] == t[:-1]])
    # A repeated timestamp with identical content is a logging duplicate; with different content
    # we cannot tell which is right, so we keep the first and count the rest separately.
    same = np.concatenate(
        [[False], (frames[1:] == frames[:-1]) & _rows_equal(values[1:], values[:-1])]
    )
    report.update(
        imu_rows=len(t),
        imu_rows_out_of_order=backward,
        imu_rows_duplicate=int((repeat & same).sum()),
        imu_rows_conflicting_timestamp=int((repeat & ~same).sum()),
    )
    keep = ~repeat
    _check_span(t[keep], imu_path)
    return t[keep], frames[keep], values[keep]


def _check_span(t: np.ndarray, imu_path: object) -> None:
    """A corrupt timestamp far from the others would stretch the session's clock without bound
    (one flipped byte can ask for billions of samples): the rows must roughly cover their span."""
    if len(t) < 3:
        return
    span, step = float(t[-1] - t[0]), float(np.median(np.diff(t)))
    covered = len(t) * max(step, 1e-3)
    if span > max(MAX_SPAN_FACTOR * covered, covered + MAX_EXTRA_SPAN_MS):
        raise DataError(
            f"{imu_path}: timestamps span {span / 1000:.0f} s but its {len(t)} rows cover about "
            f"{covered / 1000:.0f} s (median step {step:.1f} ms): a timestamp is corrupt, "
            "replace the file"
        )


def _clean_more(rows: ImuRows, report: dict) -> tuple[np.ndarray, np.ndarray]:
    """A further stream sorted by time, one row per timestamp, finite values only."""
    order = np.argsort(rows.time_ms, kind="stable")
    t, values = rows.time_ms[order], rows.values[order]
    keep = np.concatenate([[True], t[1:] != t[:-1]]) & np.all(np.isfinite(values), axis=1)
    report[f"{rows.path.stem}_rows_dropped"] = int((~keep).sum())
    if keep.sum() < 2:
        raise DataError(f"{rows.path} has fewer than two finite rows: replace the file")
    return t[keep], values[keep]


def _rows_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.all((a == b) | (np.isnan(a) & np.isnan(b)), axis=1)


def _fit_frame_clock(frames: np.ndarray, t_ms: np.ndarray, report: dict, source: str) -> FrameClock:
    """Time of any frame number, from the mean timestamp of the IMU rows carrying each frame.

    The camera runs at a steady rate, so normally a least-squares line through the per-frame means
    fits them to within jitter, and using the line removes that jitter. If the line does not fit
    (paused video, clock jumps) we interpolate between the per-frame means instead. Either way,
    frames beyond the carried range are extrapolated with the line's slope.
    """
    carried, inverse = np.unique(frames, return_inverse=True)
    mean_t = np.bincount(inverse, weights=t_ms) / np.bincount(inverse)
    if len(carried) < 2:
        raise DataError(
            f"{source}: IMU rows carry fewer than two distinct frame numbers: replace the file"
        )
    x, y = carried - carried.mean(), mean_t - mean_t.mean()
    slope = float(np.dot(x, y) / np.dot(x, x))
    if slope <= 0:
        raise DataError(
            f"{source}: IMU timestamps do not increase with frame number: replace the file"
        )
    intercept = float(mean_t.mean() - slope * carried.mean())
    residual = np.abs(mean_t - (intercept + slope * carried))
    residual_p95 = float(np.percentile(residual, 95))
    report.update(frames_carried=len(carried), frame_clock_residual_ms_p95=round(residual_p95, 3))
    if residual_p95 < 0.5 * slope:  # within half a frame period: the clocks are linearly related
        report["frame_clock"] = "line"
        return lambda f: intercept + slope * np.asarray(f, dtype=np.float64)

    # Keep the per-frame means that move forward in time so the mapping is monotonic.
    forward = mean_t > np.maximum.accumulate(np.concatenate([[-np.inf], mean_t[:-1]]))
    report.update(frame_clock="interp", frames_clock_non_monotonic=int((~forward).sum()))
    knots_f, knots_t = carried[forward].astype(np.float64), mean_t[forward]

    def piecewise(f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, dtype=np.float64)
        out = np.interp(f, knots_f, knots_t)
        out = np.where(f < knots_f[0], knots_t[0] + slope * (f - knots_f[0]), out)
        return np.where(f > knots_f[-1], knots_t[-1] + slope * (f - knots_f[-1]), out)

    return piecewise


def _clean_pose(
    rec: Recording, frame_time: FrameClock, report: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Pose frames sorted by frame number, one per number, all joints finite, with their times."""
    order = np.argsort(rec.pose_frames, kind="stable")
    frames, pose = rec.pose_frames[order], rec.pose_mm[order]
    first = np.concatenate([[True], frames[1:] != frames[:-1]])
    finite = np.all(np.isfinite(pose), axis=(1, 2))
    report.update(
        pose_frames=len(frames),
        pose_frames_duplicate=int((~first).sum()),
        pose_frames_nonfinite=int((first & ~finite).sum()),
    )
    keep = first & finite
    if keep.sum() < 2:
        raise DataError(
            f"{rec.files[0]} has fewer than two frames with finite joints: replace the file"
        )
    return frame_time(frames[keep]), pose[keep]


def _label_samples(clock: np.ndarray, rec: Recording, frame_time: FrameClock) -> np.ndarray:
    """A sample takes a set's class if its time lies within [time(start), time(end)] of the set."""
    labels = np.full(len(clock), NON_ACTIVITY, dtype=np.int64)
    for segment in rec.segments:  # file order: a later overlapping row wins
        start, end = frame_time(np.array([segment.start_frame, segment.end_frame]))
        labels[(clock >= start) & (clock <= end)] = segment.class_index
    return labels


def _log_report(workout: str, report: dict) -> None:
    dropped = {
        key: value
        for key, value in report.items()
        if isinstance(value, int)
        and value
        and key not in ("imu_rows", "pose_frames", "samples", "frames_carried")
    }
    if dropped:
        log.warning(
            "%s: aligned %d samples; dropped/invalid: %s", workout, report["samples"], dropped
        )
    else:
        log.info(
            "%s: aligned %d samples (frame clock: %s)",
            workout,
            report["samples"],
            report["frame_clock"],
        )
