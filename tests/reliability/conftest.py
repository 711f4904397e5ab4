"""The fake project of the HPO tests (trials in milliseconds) serves the fault-injection suite; the
cluster tests' PostgreSQL server (tests/cluster/pg_up.sh, skipped where it is not installed) serves
its database schedules."""

from tests.cluster.conftest import cluster_root, fresh_database, postgres_url  # noqa: F401
from tests.hpo.conftest import fake_project  # noqa: F401  (fixtures, used by name)
