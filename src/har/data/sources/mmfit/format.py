"""Facts about the published MM-Fit raw format, shared by the reader and the synthetic twin.

Source: Strömbäck, Huang, Radu (IMWUT 2020) and ``shared/reference/dataset-formats.md``.
"""

from __future__ import annotations

WORKOUTS: tuple[str, ...] = tuple(f"w{i:02d}" for i in range(21))

# Workout id -> participant id (21 workouts from 10 people).
PARTICIPANT_OF: dict[str, int] = {
    "w00": 2, "w01": 0, "w02": 1, "w03": 0, "w04": 1, "w05": 2, "w06": 0, "w07": 1,
    "w08": 0, "w09": 1, "w10": 0, "w11": 1, "w12": 3, "w13": 4, "w14": 0, "w15": 1,
    "w16": 5, "w17": 6, "w18": 7, "w19": 8, "w20": 9,
}  # fmt: skip

CLASS_NAMES: tuple[str, ...] = (
    "squats",
    "lunges",
    "bicep_curls",
    "situps",
    "pushups",
    "tricep_extensions",
    "dumbbell_rows",
    "jumping_jacks",
    "dumbbell_shoulder_press",
    "lateral_shoulder_raises",
    "non_activity",
)
NON_ACTIVITY = CLASS_NAMES.index("non_activity")

# Splits by workout id. "default" is the split of the seed README's project (w12 dropped);
# "official" is the data set's own split (only its unseen-subject test set is participant-disjoint);
# "official_unseen" tests on those unseen subjects; "unseen" also validates on people of its own.
SPLITS: dict[str, dict[str, tuple[str, ...]]] = {
    "default": {
        "train": (
            "w00",
            "w01",
            "w02",
            "w03",
            "w04",
            "w05",
            "w06",
            "w07",
            "w08",
            "w16",
            "w17",
            "w18",
        ),
        "val": ("w14", "w15", "w19", "w20"),
        "test": ("w09", "w10", "w11", "w13"),
    },
    "official": {
        "train": ("w01", "w02", "w03", "w04", "w06", "w07", "w08", "w16", "w17", "w18"),
        "val": ("w14", "w15", "w19"),
        "test": ("w09", "w10", "w11"),
    },
    "official_unseen": {
        "train": ("w01", "w02", "w03", "w04", "w06", "w07", "w08", "w16", "w17", "w18"),
        "val": ("w14", "w15", "w19"),
        "test": ("w00", "w05", "w12", "w13", "w20"),
    },
    # Every part its own people: official_unseen's test (participants 2, 3, 4, 9), validation on
    # participants 7 and 8, training on all workouts of 0, 1, 5 and 6. Early stopping and model
    # choice then reward what transfers to new people, not what fits the training participants.
    "unseen": {
        "train": tuple(f"w{i:02d}" for i in (1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 14, 15, 16, 17)),
        "val": ("w18", "w19"),
        "test": ("w00", "w05", "w12", "w13", "w20"),
    },
}

POSE_FPS = 30.0

# Human3.6M joint order of ``pose_3d`` (index = column - 1; column 0 holds the frame number).
H36M_JOINTS: tuple[str, ...] = (
    "hip", "l_hip", "l_knee", "l_foot", "r_hip", "r_knee", "r_foot", "spine", "thorax",
    "neck", "head", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
)  # fmt: skip
# COCO / OpenPose-18 order of ``pose_2d`` (index = column - 1).
COCO_JOINTS: tuple[str, ...] = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)  # fmt: skip

# Sensor streams: file suffix -> (columns, nominal rate in Hz).
IMU_STREAMS = ("sw_l_acc", "sw_l_gyr", "sw_r_acc", "sw_r_gyr", "sp_r_acc", "sp_r_gyr", "sp_r_mag",
               "sp_l_acc", "sp_l_gyr", "sp_l_mag", "eb_l_acc", "eb_l_gyr")  # fmt: skip


def file_name(workout: str, stream: str, suffix: str = "npy") -> str:
    """``file_name("w03", "sw_l_acc")`` -> ``"w03_sw_l_acc.npy"``."""
    return f"{workout}_{stream}.{suffix}"
