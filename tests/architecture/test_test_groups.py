"""The suite's xdist groups hold: tests marked ``xdist_group("tiny_lake")`` run on one worker, so
the tiny province, lake and warehouse are built once (pytest 9.2 with pytest-xdist 3.8 silently
broke this: every worker built them, and the suite took three times as long)."""

import os

import pytest

pytestmark = pytest.mark.xdist_group("tiny_lake")


def test_a_grouped_test_carries_its_group_under_loadgroup(request):
    if not os.environ.get("PYTEST_XDIST_WORKER") or not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only meaningful under pytest-xdist --dist loadgroup (make test)")
    assert request.node.nodeid.endswith("@tiny_lake"), request.node.nodeid
