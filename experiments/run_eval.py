"""Evaluate one configuration over several seeds (mean ± std of the test metrics).

Usage: python experiments/run_eval.py --best experiments/hpo/<study>/best.json [--seeds 1,2,3,4,5]
(or python -m experiments.run_eval ...); see har.launch.evaluate for the protocol.
"""

import sys

from har.launch.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
