"""A throw-away project whose `experiments/run_trial.py` fakes training in milliseconds.

For orchestration tests only (budget, resume, failures, signals): the acceptance tests in
test_acceptance.py use the real `run_trial`. The fake honours the real contract: it writes
`<hydra.run.dir>/results.json` and exits 0 (completed/pruned), 2 (bad config) or 1 (crash).
"""

from __future__ import annotations

from pathlib import Path

CONF = """\
seed: 0
optim:
  lr: 0.001
scenario:
  alpha: 1.0
fake:
  mode: ok        # ok | crash | hang
  sleep: 0.0      # seconds of "training"
optuna:
  storage: null
  study_name: null
  trial_number: null
  pruner: median
  monitor: val_f1
  direction: maximize
"""

SPACE = """\
hydra:
  sweeper:
    params:
      optim.lr: tag(log, interval(1e-4, 1e-1))
      scenario.alpha: interval(0.5, 2.0)
"""

RUN_TRIAL = r"""
import json, math, os, sys, time
from pathlib import Path

args = dict(token.split("=", 1) for token in sys.argv[1:])
def unquote(text):
    return text[1:-1] if text[:1] == "'" and text[-1:] == "'" else text
run_dir = Path(unquote(args["hydra.run.dir"]))
run_dir.mkdir(parents=True, exist_ok=True)
started = time.time()
print("fake run_trial", " ".join(sys.argv[1:]), flush=True)
lr = float(args.get("optim.lr", "0.001"))
alpha = float(args.get("scenario.alpha", "1.0"))
mode = args.get("fake.mode", "ok")
if lr <= 0:
    print("error: optim.lr must be positive", file=sys.stderr)
    sys.exit(2)
if mode == "crash":
    raise RuntimeError("the fake trial crashed on purpose")
(run_dir / "pid").write_text(str(os.getpid()))
deadline = time.time() + (3600 if mode == "hang" else float(args.get("fake.sleep", "0")))
while time.time() < deadline:
    time.sleep(0.02)
score = 1.0 / (1.0 + abs(math.log10(lr) + 2.5)) * min(alpha, 1.5) / 1.5
results = {
    "status": "completed",
    "error": None,
    "final_metrics": {
        "best_val_f1": score, "best_val_loss": 1.0 - score, "val_f1_last": score,
        "val_loss_last": 1.0 - score, "train_loss_last": 0.5, "test_f1": 0.0, "test_acc": 0.0,
    },
    "timing": {"process_to_first_step_s": 0.01, "total_s": time.time() - started},
}
(run_dir / "results.json").write_text(json.dumps(results))
"""


def make_fake_project(root: Path) -> Path:
    """Write conf/, experiments/run_trial.py and space.yaml under `root`; return `root`."""
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "conf.yaml").write_text(CONF)
    (root / "experiments").mkdir()
    (root / "experiments" / "run_trial.py").write_text(RUN_TRIAL)
    (root / "space.yaml").write_text(SPACE)
    return root
