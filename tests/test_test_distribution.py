"""`make test` runs the files marked ``xdist_group`` in one worker each (``--dist loadgroup``), so
their module fixtures (trained runs, a search, the cluster servers) are built once, not once per
worker. pytest-xdist learns a test's group from a suffix it appends to the node ID; a pytest that
ignores the suffix (9.2, pytest-dev/pytest-xdist#1386) spreads the groups silently."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.xdist_group("test_test_distribution")


def test_loadgroup_sees_the_xdist_group_marks(request):
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("meaningful under pytest-xdist's --dist loadgroup (make test)")
    assert request.node.nodeid.endswith("@test_test_distribution"), (
        f"{request.node.nodeid}: --dist loadgroup did not see this file's xdist_group mark "
        "(pytest and pytest-xdist versions: see the pin in pyproject.toml)"
    )
