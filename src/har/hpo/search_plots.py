"""PNG plots of a study (Optuna's matplotlib backend); each is optional and never fails the search."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from har.hpo.search_plan import METRIC_ATTR

log = logging.getLogger(__name__)


def write_plots(study: optuna.Study, output_root: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a cluster node
    from optuna.visualization import matplotlib as optuna_plots

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    searched = {key for trial in complete for key in trial.params}
    has_curves = any(t.intermediate_values for t in study.get_trials(deepcopy=False))
    target = study.user_attrs.get(METRIC_ATTR, "Objective Value")
    wanted: list[tuple[str, bool, Callable[..., Any]]] = [
        (
            "optimization_history.png",
            len(complete) >= 1,
            partial(optuna_plots.plot_optimization_history, target_name=target),
        ),
        # Importances need a spread of results over at least one searched parameter.
        (
            "param_importances.png",
            len(complete) >= 2 and bool(searched),
            partial(optuna_plots.plot_param_importances, target_name=target),
        ),
        ("intermediate_values.png", has_curves, optuna_plots.plot_intermediate_values),
    ]
    written = []
    for name, possible, plot in wanted:
        if possible and _save(plot, study, output_root / name):
            written.append(output_root / name)
    return written


def _save(plot: Callable[..., Any], study: optuna.Study, path: Path) -> bool:
    import matplotlib.pyplot as plt

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the matplotlib backend is 'experimental' in Optuna
            axes = plot(study)
        figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
        figure.tight_layout()
        figure.savefig(path, dpi=120)
        plt.close(figure)
        return True
    except Exception as error:  # e.g. importances of parameters that never varied
        log.warning("plot %s skipped: %s", path.name, error)
        plt.close("all")
        return False
