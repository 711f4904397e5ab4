"""A throw-away project whose `experiments/run_trial.py` fakes training in milliseconds.

For orchestration tests only (budget, resume, failures, signals, kills): the acceptance tests in
test_acceptance.py use the real `run_trial`. The fake honours the real contract: it writes
`<hydra.run.dir>/results.json` atomically (``running`` at start, then ``completed`` with the
resolved ``config``) and exits 0 (completed/pruned), 2 (bad config) or 1 (crash); it trains
``fake.epochs`` epochs, writing ``checkpoints/last.ckpt`` atomically after each, continues from it
with ``resume=true``, and appends one line per launch to ``launches.log`` and per epoch run to
``epochs.log`` (what the reliability tests count). It calls the package's fault points
``mid_epoch`` and ``checkpoint_write`` (``har.launch.faults``).
"""

from __future__ import annotations

from pathlib import Path

CONF = """\
seed: 0
optim:
  lr: 0.001
scenario:
  alpha: 1.0
resume: false
fake:
  mode: ok        # ok | crash | hang
  sleep: 0.0      # seconds of "training" (all epochs together)
  epochs: 1
trainer:
  progress_bar: true
  enable_checkpointing: true
  checkpoint:
    enabled: true
    monitor: val_f1
    mode: max
    dirpath: checkpoints
  early_stopping:
    enabled: false
    monitor: val_loss
  wandb:
    group: null
    name: null
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

try:
    from har.launch.faults import fault_point
except ImportError:
    def fault_point(point):
        pass

args = dict(token.split("=", 1) for token in sys.argv[1:])
def unquote(text):
    return text[1:-1] if text[:1] == "'" and text[-1:] == "'" else text
def parsed(text):
    text = unquote(text)
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "null": None}.get(text, text)
def write_atomic(path, text):
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)

run_dir = Path(unquote(args["hydra.run.dir"]))
run_dir.mkdir(parents=True, exist_ok=True)
started = time.time()
print("fake run_trial", " ".join(sys.argv[1:]), flush=True)
config = {}
for key, value in args.items():
    if not key.startswith("hydra."):
        node = config
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = parsed(value)
lr = float(args.get("optim.lr", "0.001"))
alpha = float(args.get("scenario.alpha", "1.0"))
mode = args.get("fake.mode", "ok")
epochs = int(args.get("fake.epochs", "1"))
if lr <= 0:
    print("error: optim.lr must be positive", file=sys.stderr)
    sys.exit(2)
if mode == "crash":
    raise RuntimeError("the fake trial crashed on purpose")
write_atomic(run_dir / "pid", str(os.getpid()))  # a reader never sees it half-written
with open(run_dir / "launches.log", "a") as log:
    log.write(f"{os.getpid()} resume={args.get('resume', 'false')}\n")
results = {"status": "running", "error": None, "config": config, "final_metrics": {}}
write_atomic(run_dir / "results.json", json.dumps(results))
checkpoint = run_dir / "checkpoints" / "last.ckpt"
first = 0
if args.get("resume") == "true" and checkpoint.exists():
    first = json.loads(checkpoint.read_text())["epoch"] + 1
checkpoint.parent.mkdir(exist_ok=True)
epoch_s = (3600 if mode == "hang" else float(args.get("fake.sleep", "0"))) / epochs
for epoch in range(first, epochs):
    time.sleep(epoch_s / 2)
    fault_point("mid_epoch")
    time.sleep(epoch_s / 2)
    with open(run_dir / "epochs.log", "a") as log:
        log.write(f"{epoch}\n")
    tmp = checkpoint.with_name(".last.ckpt.tmp")
    tmp.write_text(json.dumps({"epoch": epoch}))
    fault_point("checkpoint_write")
    os.replace(tmp, checkpoint)
score = 1.0 / (1.0 + abs(math.log10(lr) + 2.5)) * min(alpha, 1.5) / 1.5
results |= {
    "status": "completed",
    "final_metrics": {
        "best_val_f1": score, "best_val_loss": 1.0 - score, "val_f1_last": score,
        "val_loss_last": 1.0 - score, "train_loss_last": 0.5, "test_f1": 0.1 * int(args.get("seed", 0)),
        "test_acc": 0.0,
    },
    "timing": {"process_to_first_step_s": 0.01, "total_s": time.time() - started},
}
write_atomic(run_dir / "results.json", json.dumps(results))
"""


def make_fake_project(root: Path) -> Path:
    """Write conf/, experiments/run_trial.py and space.yaml under `root`; return `root`."""
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "conf.yaml").write_text(CONF)
    (root / "experiments").mkdir()
    (root / "experiments" / "run_trial.py").write_text(RUN_TRIAL)
    (root / "space.yaml").write_text(SPACE)
    return root
