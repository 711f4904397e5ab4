"""Train one configuration. Usage: python experiments/run_trial.py [Hydra overrides]."""

import hydra
from omegaconf import DictConfig

import har.config  # noqa: F401  (registers the config resolvers)
from har.cli import hydra_entrypoint, trial_main


@hydra.main(config_path="../conf", config_name="conf", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    return trial_main(cfg)


if __name__ == "__main__":
    hydra_entrypoint(main)  # user errors, Hydra's own included, exit 2
