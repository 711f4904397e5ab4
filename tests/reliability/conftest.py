"""The fake project of the HPO tests (trials in milliseconds) serves the fault-injection suite."""

from tests.hpo.conftest import fake_project  # noqa: F401  (a fixture, used by name)
