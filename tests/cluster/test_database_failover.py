"""The runbook's database failover under running nodes: a PostgreSQL primary with a streaming replica
(pg_basebackup -R), the nodes connected through a connection string naming both
(target_session_attrs=read-write); the primary dies, the replica is promoted, the nodes reconnect by
themselves and the change feed goes on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hotline.cluster.local import LocalCluster, publish_and_find
from hotline.cluster.pgpair import PostgresPair, pg_bindir
from tests.cluster.conftest import SMALL_KB, require_engines

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture
def pair() -> Iterator[PostgresPair]:
    require_engines()
    try:
        pg_bindir()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    with PostgresPair() as made:
        made.create_database("hotline")
        yield made


def test_the_nodes_reconnect_to_the_promoted_replica(pair: PostgresPair, tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "cluster", nodes=2, sip=False, kb_file=SMALL_KB, database_url=pair.url("hotline")) as cluster:
        first, second = cluster.nodes
        assert publish_and_find(cluster, first, second, "松涛路占道审批", timeout=5) < 1.0

        pair.fail_primary()
        failed_at = time.monotonic()
        assert first.healthz(timeout=5)[0] == 503, "no database: the node says so, HAProxy takes it out"
        pair.promote()
        for node in cluster.nodes:
            node.wait_healthy(30)
        back_after = time.monotonic() - failed_at
        assert pair.query(pair.replica_port, "SELECT pg_is_in_recovery()") is False

        # writes work again on every node, and the change feed carries them
        assert publish_and_find(cluster, second, first, "枫林渡口候船亭", timeout=10) < 2.0
        cluster.wait_proxy_sees(lambda s: all(v == "UP" for v in s.values()), 10)
        found = httpx.get(cluster.url + "/api/search", params={"q": "枫林渡口候船亭"}, timeout=5).json()
        assert found["hits"] and found["hits"][0]["title"] == "枫林渡口候船亭办理指南"
        assert back_after < 30
