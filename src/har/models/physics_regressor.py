"""A non-learned pose -> IMU regressor: the watch's accelerometer computed physically from the arm.

``model/regressor=physics`` puts it where the learned TCN would be, so a trial reports its
regression error and the F1 of a classifier trained on its output: the baseline a learned
regressor has to beat. The chain is ``har.physics`` (low-pass, double differentiation of the wrist,
forearm frame, specific force with gravity), in torch (``har.models.torch_physics``).

Units. The pose it receives is divided by a per-session body scale (the torso, hip to thorax) and
centred per window (``MMFitDataModule``), so positions are in body lengths, not metres, and the
target is standardised with the training statistics. The motion part of the specific force is
therefore multiplied by ``metres_per_body_unit`` (an adult torso is about 0.5 m) before gravity,
which is in m/s², is subtracted; the result is standardised with the same statistics as the target.
The per-session scale itself is not in the batch (chosen so the regressor keeps the one-tensor
interface of every regressor): a person whose torso differs from the nominal length gets their
motion part off by that ratio (a few per cent), and gravity, the larger part at exercise speeds,
is exact regardless. The calibration fits the scale on the training windows instead.

Calibration (``calibrate=true``, fitted on the training windows with real IMU when the trial
starts): a fixed mounting rotation M (watch axes from forearm axes), the metres per body length s,
the direction u of gravity in the camera frame (a tilted camera does not see gravity along +y),
and a per-axis gain and bias on the standardised output, by least squares on

    out = gain ⊙ (M (s · motion - gravity(u)) - mean) / std + bias

(gravity(u) = Rᵀ g·u in the forearm frame R, linear in u; u starts at +y and is refitted each round
by least squares, then normalised). Only training windows are used: the test split never is.

(a closed-form start read off an unconstrained linear fit, then a few rounds of block coordinate
descent; exact on noise-free data, see the tests). ``metres_per_body_unit`` is s without it.

With ``learn_calibration=true`` s, gain and bias then keep training with the objective (through
gamma·MSE, and through the simulated classification path); M stays fixed, as a mounting is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor, nn

from har.errors import ConfigError
from har.models.torch_physics import virtual_acc_parts

# Windows overlap heavily (a 2.56 s window every 0.2 s), so a few thousand cover the training set.
CALIBRATION_WINDOWS = 4096
CALIBRATION_ROUNDS = 5


class PhysicsRegressor(nn.Module):
    def __init__(
        self,
        num_joints: int = 3,
        input_channels: int = 3,
        output_channels: int = 3,
        sampling_rate_hz: float = 100.0,
        cutoff_hz: float | None = 2.0,
        stencil: int = 1,
        filter_order: int = 4,
        metres_per_body_unit: float = 0.5,
        calibrate: bool = True,
        learn_calibration: bool = False,
        fit_gravity_direction: bool = False,
    ) -> None:
        super().__init__()
        self.fit_gravity_direction = bool(fit_gravity_direction)
        if num_joints != 3 or input_channels != 3:
            raise ConfigError(
                f"model/regressor=physics needs data.joints = [shoulder, elbow, wrist] of the "
                f"watch's arm in xyz (3 joints x 3), got {num_joints} joints x {input_channels}"
            )
        if output_channels != 3:
            raise ConfigError(
                f"model/regressor=physics computes a 3-axis accelerometer; data.imu_channels is "
                f"{output_channels} (use an *_acc sensor)"
            )
        if not metres_per_body_unit > 0:
            raise ConfigError(f"metres_per_body_unit must be > 0, got {metres_per_body_unit}")
        if learn_calibration and not calibrate:
            raise ConfigError("learn_calibration=true needs calibrate=true (it refines the fit)")
        self.fs = float(sampling_rate_hz)
        self.cutoff_hz = cutoff_hz
        self.stencil = int(stencil)
        self.filter_order = int(filter_order)
        self.calibrate = calibrate
        self.register_buffer("mounting", torch.eye(3))
        self.register_buffer("gravity_direction", torch.tensor([0.0, 1.0, 0.0]))
        self.register_buffer("acc_mean", torch.zeros(3))
        self.register_buffer("acc_std", torch.ones(3))
        # Saved with the weights: a checkpoint restored for testing needs no refit.
        self.register_buffer("fitted", torch.tensor(False))
        grad = bool(learn_calibration)
        self.log_scale = nn.Parameter(torch.tensor(math.log(metres_per_body_unit)), grad)
        self.gain = nn.Parameter(torch.ones(3), grad)
        self.bias = nn.Parameter(torch.zeros(3), grad)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints from before the gravity fit hold no direction: theirs was the level camera's.
        state_dict.setdefault(prefix + "gravity_direction", torch.tensor([0.0, 1.0, 0.0]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ---- the physics -------------------------------------------------------------------------
    def _parts(
        self, pose: Tensor, gravity_direction: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """(motion, gravity), each (B, T, 3) in the forearm frame, from pose (B, 3, 3, T)."""
        shoulder, elbow, wrist = (pose[:, j].transpose(-1, -2) for j in range(3))
        direction = self.gravity_direction if gravity_direction is None else gravity_direction
        return virtual_acc_parts(
            shoulder,
            elbow,
            wrist,
            self.fs,
            self.cutoff_hz,
            self.stencil,
            self.filter_order,
            direction,
        )

    def specific_force(self, pose: Tensor) -> Tensor:
        """The watch's reading (B, T, 3) in m/s², in its own axes (mounting applied)."""
        motion, gravity = self._parts(pose)
        return (self.log_scale.exp() * motion - gravity) @ self.mounting.T

    def forward(self, pose: Tensor) -> Tensor:
        if not bool(self.fitted):
            raise RuntimeError(
                "PhysicsRegressor has no target statistics yet: call fit_to_data with the training "
                "batches (a trial does it when fitting starts)"
            )
        standardised = (self.specific_force(pose) - self.acc_mean) / self.acc_std
        return (self.gain * standardised + self.bias).transpose(1, 2).contiguous()

    # ---- fitting to the training data --------------------------------------------------------
    @torch.no_grad()
    def fit_to_data(
        self, batches: Iterable[Mapping[str, Tensor]], acc_mean: Tensor, acc_std: Tensor
    ) -> None:
        """Adopt the target's standardisation and, with ``calibrate``, fit the calibration.

        ``batches`` are training batches (``pose``, ``acc`` standardised, optional ``imu_mask``);
        windows without real IMU are left out.
        """
        device = self.acc_mean.device
        self.acc_mean.copy_(torch.as_tensor(acc_mean, dtype=torch.float32))
        self.acc_std.copy_(torch.as_tensor(acc_std, dtype=torch.float32))
        if self.calibrate:
            pose, acc = _gather(batches, CALIBRATION_WINDOWS)
            self._fit_calibration(pose.to(device), acc.to(device))
        self.fitted.fill_(True)

    def _fit_calibration(self, pose: Tensor, acc_standardised: Tensor) -> None:
        self.gravity_direction.copy_(torch.tensor([0.0, 1.0, 0.0]))
        motion, gravity = (part.double().reshape(-1, 3) for part in self._parts(pose))
        # Gravity along each pose axis, in the forearm frame: gravity(u) = basis @ u.
        basis = torch.stack(
            [self._parts(pose, axis)[1].double().reshape(-1, 3) for axis in torch.eye(3)], dim=-1
        )
        mean, std = self.acc_mean.double(), self.acc_std.double()
        wanted = acc_standardised.double().transpose(1, 2).reshape(-1, 3)
        mounting, scale, gain, direction = _initial_calibration(
            motion, basis, wanted, std, self.fit_gravity_direction
        )
        gravity = basis @ direction
        # Block coordinate descent from there: the rotation and the scale against the target with
        # the per-axis gain and bias undone (in m/s²), then gain and bias against the standardised
        # target. Each block is a closed-form least-squares fit.
        bias = torch.zeros_like(mean)
        for _ in range(CALIBRATION_ROUNDS):
            predicted = ((scale * motion - gravity) @ mounting.T - mean) / std
            centred = predicted - predicted.mean(0)
            gain = (centred * (wanted - wanted.mean(0))).sum(0) / (centred**2).sum(0).clamp_min(
                1e-12
            )
            gain = torch.where(gain.abs() > 1e-3, gain, torch.full_like(gain, 1e-3))
            bias = wanted.mean(0) - gain * predicted.mean(0)
            target = (wanted - bias) / gain * std + mean
            mounting = _best_rotation(scale * motion - gravity, target)
            motion_w, gravity_w = motion @ mounting.T, gravity @ mounting.T
            scale = (motion_w * (target + gravity_w)).sum() / (motion_w**2).sum().clamp_min(1e-12)
            scale = scale.clamp_min(1e-3)
            if self.fit_gravity_direction:
                wanted_gravity = scale * motion - target @ mounting
                direction = _gravity_direction(basis, wanted_gravity, direction)
                gravity = basis @ direction
        self.gravity_direction.copy_(direction.float())
        self.mounting.copy_(mounting.float())
        self.log_scale.copy_(scale.log().float())
        self.gain.copy_(gain.float())
        self.bias.copy_(bias.float())


def _initial_calibration(
    motion: Tensor, basis: Tensor, wanted: Tensor, std: Tensor, fit_direction: bool = True
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Rotation, scale, gain and gravity direction read off an unconstrained linear fit.

    The model wanted_i = (gain_i/std_i) Σ_j M_ij (scale·motion_j - Σ_k u_k basis_jk) + const is
    linear in motion and in the nine gravity-basis terms, so an ordinary least-squares fit gives,
    per output axis i, W_g[i, j, k] = -(gain_i/std_i) M_ij u_k: rank one in k, so u is its dominant
    right singular vector, and W_g·u = -diag(gain/std) M gives the rows of M (projected onto the
    nearest rotation) and their norms gain/std; W_m ≈ -scale·W_g·u gives the scale. Exact without
    noise; the start of the descent otherwise.
    """
    n = len(motion)
    design = torch.cat([motion, basis.reshape(n, 9), torch.ones_like(motion[:, :1])], dim=1)
    weights = torch.linalg.lstsq(design, wanted).solution  # (13, 3)
    w_motion, w_basis = weights[:3].T, -weights[3:12].T.reshape(3, 3, 3)
    if fit_direction:
        direction = torch.linalg.svd(w_basis.reshape(9, 3)).Vh[0]
        if direction[1] < 0:  # a camera is never upside down: gravity points down (+y) in it
            direction = -direction
    else:  # a level camera: gravity along +y of the pose frame
        direction = torch.tensor([0.0, 1.0, 0.0], dtype=w_basis.dtype)
    w_gravity = w_basis @ direction
    row_norms = w_gravity.norm(dim=1).clamp_min(1e-12)
    mounting = _nearest_rotation(w_gravity / row_norms[:, None])
    scale = ((w_motion * w_gravity).sum() / (w_gravity**2).sum().clamp_min(1e-12)).clamp_min(1e-3)
    return mounting, scale, row_norms * std, direction


def _gravity_direction(basis: Tensor, wanted: Tensor, previous: Tensor) -> Tensor:
    """The unit u minimising Σ |basis_i u - wanted_i|² (least squares, then normalised)."""
    normal = torch.einsum("nji,njk->ik", basis, basis)
    rhs = torch.einsum("nji,nj->i", basis, wanted)
    u = torch.linalg.solve(normal + 1e-9 * torch.eye(3, dtype=normal.dtype), rhs)
    return u / u.norm() if u.norm() > 1e-9 else previous


def _nearest_rotation(matrix: Tensor) -> Tensor:
    u, _, vh = torch.linalg.svd(matrix)
    flip = torch.sign(torch.linalg.det(u @ vh))
    d = torch.diag(torch.stack([torch.ones_like(flip), torch.ones_like(flip), flip]))
    return u @ d @ vh


def _best_rotation(source: Tensor, target: Tensor) -> Tensor:
    """The proper rotation M minimising Σ |M source_i - target_i|² (Kabsch, no translation)."""
    u, _, vh = torch.linalg.svd(source.T @ target)
    flip = torch.sign(torch.linalg.det(vh.T @ u.T))
    d = torch.diag(torch.stack([torch.ones_like(flip), torch.ones_like(flip), flip]))
    return vh.T @ d @ u.T


def _gather(batches: Iterable[Mapping[str, Tensor]], limit: int) -> tuple[Tensor, Tensor]:
    poses, accs, count = [], [], 0
    for batch in batches:
        keep = batch.get("imu_mask")
        pose, acc = batch["pose"], batch["acc"]
        if keep is not None:
            pose, acc = pose[keep], acc[keep]
        poses.append(pose)
        accs.append(acc)
        count += len(pose)
        if count >= limit:
            break
    if count == 0:
        raise ConfigError("the physics regressor's calibration found no training window with IMU")
    return torch.cat(poses)[:limit], torch.cat(accs)[:limit]
