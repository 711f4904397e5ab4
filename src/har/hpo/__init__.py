"""Hyperparameter search: a native Optuna study loop that runs each trial as a `run_trial` process.

Kept import-free on purpose: `har.hpo.pruning_callback` is imported by every trial that reports to a study,
and a trial must not pay for importing Optuna (or this package's orchestration code) unless it prunes.
"""
