"""Search hyperparameters with Optuna, one run_trial process per trial.

Usage: python experiments/run_hpo.py --n-trials 10 --space-config conf/hpo/debug.yaml [Hydra overrides]
(or python -m experiments.run_hpo ...); see har.hpo.cli for the options.
"""

import sys

from har.hpo.cli import main

if __name__ == "__main__":
    sys.exit(main())
