"""A real cluster on this machine for the tests of this folder: a new PostgreSQL database, two nodes
(`hotline serve` on 127.0.0.2 and 127.0.0.3, each with its own home and SIP media processes), HAProxy and
Kamailio's dispatcher in front (hotline.cluster.local). One cluster for the folder's tests; a test that
kills or stops a node leaves it to the next test's `cluster` fixture to start it again."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.cluster.haproxy import HAPROXY
from hotline.cluster.local import LocalCluster
from selfservice.kamailio import KAMAILIO
from tests.conftest import PG_ADMIN_DSN

SMALL_KB = Path(__file__).parents[1] / "selfservice" / "data" / "kb.jsonl"


def require_engines() -> None:
    """HAProxy and Kamailio are Debian packages scripts/install installs; without them: skip."""
    missing = [name for name, path in (("haproxy", HAPROXY), ("kamailio", KAMAILIO)) if not Path(path).exists()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/install installs them)")
    if shutil.which("kamcmd") is None:
        pytest.skip("kamcmd not installed (Debian package kamailio)")


@pytest.fixture(scope="package")
def running_cluster(tmp_path_factory: pytest.TempPathFactory, postgres_ok: bool) -> Iterator[LocalCluster]:
    require_engines()
    if not postgres_ok:
        pytest.skip("PostgreSQL not reachable")
    cluster = LocalCluster(
        tmp_path_factory.mktemp("cluster"),
        nodes=2,
        kb_file=SMALL_KB,
        admin_dsn=PG_ADMIN_DSN,
        max_calls=4,  # two PJSIP processes a node
        env={"HOTLINE_ACD_RING_SECONDS": "6", "HOTLINE_ACD_WRAP_UP_SECONDS": "1"},
    )
    with cluster:
        yield cluster


@pytest.fixture
def cluster(running_cluster: LocalCluster) -> LocalCluster:
    """The module's cluster with every node up, healthy and back in HAProxy's and Kamailio's rotation."""
    for node in running_cluster.nodes:
        if not node.running:
            running_cluster.restart(node)
    running_cluster.wait_proxy_sees(lambda s: all(v == "UP" for v in s.values()), 20)
    if running_cluster.front is not None:
        running_cluster.wait_dispatcher(lambda s: all(flags.startswith("A") for flags in s.values()), 20)
    return running_cluster
