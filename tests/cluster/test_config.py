"""The configurations hotline generates for a cluster's engines, checked by the engines themselves
(`haproxy -c`, `kamailio -c`), and the settings a node of a cluster uses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hotline.cli import app
from hotline.cluster.haproxy import HAPROXY, HaproxyError, ProxyConfig, WebNode, parse_nodes, render_config
from hotline.config import Settings
from selfservice.kamailio import KAMAILIO, MODULES, FrontConfig, MediaNode, dispatcher_list
from selfservice.kamailio import render_config as render_kamailio
from tests.cluster.conftest import require_engines

runner = CliRunner()


def test_haproxy_config_checks_health_and_keeps_only_the_voice_sticky(tmp_path: Path) -> None:
    require_engines()
    nodes = parse_nodes(["10.0.0.11", "b=10.0.0.12:8001"], 8000)
    assert nodes == (WebNode("node1", "10.0.0.11", 8000), WebNode("b", "10.0.0.12", 8001))
    text = render_config(ProxyConfig("127.0.0.1", 8080, nodes), tmp_path)
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    checked = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "uri /healthz" in text and "http-check expect status 200" in text
    nodes_backend, voice_backend = text.split("\nbackend nodes\n")[1].split("\nbackend voice\n")
    assert "cookie" not in nodes_backend  # no stickiness for pages and the API
    assert "cookie hotline_node insert" in voice_backend and "server b 10.0.0.12:8001 check cookie b" in voice_backend


@pytest.mark.parametrize("spec", ["", "host:port", "bad name=10.0.0.1"])
def test_a_wrong_node_address_is_refused(spec: str) -> None:
    with pytest.raises(HaproxyError):
        parse_nodes([spec], 8000)


def test_haproxy_config_command(tmp_path: Path) -> None:
    result = runner.invoke(app, ["cluster", "haproxy-config", "--node", "10.0.0.11", "--node", "10.0.0.12:9000",
                                 "--bind", "0.0.0.0:80"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "bind 0.0.0.0:80" in result.output and "server node2 10.0.0.12:9000 check" in result.output
    refused = runner.invoke(app, ["cluster", "haproxy-config", "--node", "10.0.0.11", "--bind", "80"])
    assert refused.exit_code == 2 and "监听地址" in refused.output


def test_kamailio_dispatches_over_every_nodes_media_processes_and_probes_them(tmp_path: Path) -> None:
    require_engines()
    front = FrontConfig("127.0.0.1", 5060, (MediaNode("10.0.0.11", 5070, 2), MediaNode("10.0.0.12", 5070, 3)))
    # interleaved: after a dead node's process the next destination is the other node's
    assert dispatcher_list(front).splitlines() == [
        "1 sip:10.0.0.11:5070", "1 sip:10.0.0.12:5070", "1 sip:10.0.0.11:5071", "1 sip:10.0.0.12:5071",
        "1 sip:10.0.0.12:5072",
    ]  # fmt: skip
    text = render_kamailio(front, tmp_path)
    (tmp_path / "kamailio.cfg").write_text(text)
    (tmp_path / "dispatcher.list").write_text(dispatcher_list(front))
    checked = subprocess.run([KAMAILIO, "-c", "-f", str(tmp_path / "kamailio.cfg"), "-L", MODULES],
                             capture_output=True, text=True)  # fmt: skip
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert 'modparam("dispatcher", "ds_ping_interval", 1)' in text
    # requests from either node's processes are the media side (they ring agents through Kamailio)
    assert "(src_ip==10.0.0.11 && src_port>=5070 && src_port<=5071)" in text
    assert "(src_ip==10.0.0.12 && src_port>=5070 && src_port<=5072)" in text


def test_kamailio_config_command_for_a_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hotline.config import get_settings

    monkeypatch.setenv("HOTLINE_SIP_PORT", "5070")
    monkeypatch.setenv("HOTLINE_SIP_MAX_CALLS", "4")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["callcentre", "kamailio-config", "--node", "10.0.0.11", "--node",
                                     "10.0.0.12:6000", "--out", str(tmp_path)])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert (tmp_path / "dispatcher.list").read_text().splitlines() == [
            "1 sip:10.0.0.11:5070", "1 sip:10.0.0.12:6000", "1 sip:10.0.0.11:5071", "1 sip:10.0.0.12:6001",
        ]  # fmt: skip
        assert f'"list_file", "{tmp_path.resolve()}/dispatcher.list"' in (tmp_path / "kamailio.cfg").read_text()
        refused = runner.invoke(app, ["callcentre", "kamailio-config", "--node", "10.0.0.11:sip"])
        assert refused.exit_code == 2 and "媒体节点地址" in refused.output
    finally:
        get_settings.cache_clear()


def test_a_shared_dir_holds_the_recordings_and_attachments_of_every_node(tmp_path: Path) -> None:
    alone = Settings(home=tmp_path / "home")
    assert alone.recordings_dir == tmp_path / "home" / "recordings"
    clustered = Settings(home=tmp_path / "home", shared_dir=tmp_path / "nfs")
    assert clustered.recordings_dir == tmp_path / "nfs" / "recordings"
    assert clustered.attachments_dir == tmp_path / "nfs" / "attachments"
    assert clustered.index_dir == tmp_path / "home" / "index"  # each node indexes for itself
    assert clustered.audio_cache_dir == tmp_path / "home" / "audio-cache"


def test_the_change_feeds_listener_reaches_the_writable_server_of_a_multi_host_url(postgres_ok: bool) -> None:
    """The URL of the failover runbook names both servers; the LISTEN connection must take it as the
    engine does (a dead first host, then the live one)."""
    import psycopg

    from hotline.cluster.local import free_tcp_port
    from kb.feed import libpq_url
    from tests.conftest import PG_ADMIN_DSN

    if not postgres_ok:
        pytest.skip("PostgreSQL not reachable")
    live = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_DSN)
    dead = free_tcp_port("127.0.0.1")
    url = (
        f"postgresql+psycopg://{live.get('user', 'postgres')}@/{live.get('dbname', 'postgres')}"
        f"?host=127.0.0.1:{dead}&host={live.get('host', '127.0.0.1')}:{live.get('port', 5432)}"
        "&target_session_attrs=read-write&connect_timeout=3"
    )
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        assert conn.execute("SELECT NOT pg_is_in_recovery()").fetchone() == (True,)
        assert str(conn.info.port) == str(live.get("port", 5432))
