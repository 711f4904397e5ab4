"""Where the project lives: the directory holding `conf/` and `experiments/run_trial.py`.

Trials are launched as `python -m experiments.run_trial` with this directory as the working
directory, so the orchestrator must find it whether it was started from the repository, from a
sub-directory, or through an installed `har` package.
"""

from __future__ import annotations

import os
from pathlib import Path

import har
from har.errors import ConfigError

PROJECT_ROOT_ENV = "HAR_PROJECT_ROOT"


def is_project_root(path: Path) -> bool:
    return (path / "conf").is_dir() and (path / "experiments" / "run_trial.py").is_file()


def find_project_root(start: Path | None = None) -> Path:
    """The project root: `$HAR_PROJECT_ROOT`, else the launch directory or a parent, else the checkout
    that holds the imported `har` package (an editable install)."""
    explicit = os.environ.get(PROJECT_ROOT_ENV)
    if explicit:
        root = Path(explicit).resolve()
        if not is_project_root(root):
            raise ConfigError(
                f"{PROJECT_ROOT_ENV}={explicit} does not contain conf/ and experiments/run_trial.py"
            )
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if is_project_root(candidate):
            return candidate
    package_checkout = Path(har.__file__).resolve().parents[2]
    if is_project_root(package_checkout):
        return package_checkout
    raise ConfigError(
        "cannot find the project root (a directory with conf/ and experiments/run_trial.py): "
        f"run from inside the repository or set {PROJECT_ROOT_ENV}"
    )


def package_search_path() -> str:
    """The directory that holds the imported `har`, so a trial imports the very same package
    even when it was found through a relative PYTHONPATH in another working directory."""
    return str(Path(har.__file__).resolve().parents[1])
