"""`hotline cluster ...`: HAProxy's configuration for the nodes, and a 2-node cluster on one machine."""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hotline.config import BUNDLED_DATA, get_settings

if TYPE_CHECKING:
    from hotline.cluster.local import LocalCluster

cluster_app = typer.Typer(help="Several nodes: HAProxy configuration, a local demo cluster.", no_args_is_help=True)
CHECK_KB = BUNDLED_DATA / "kb" / "guides.jsonl"  # a few bundled service guides: a quick first import


@cluster_app.command("haproxy-config")
def haproxy_config(
    node: Annotated[
        list[str],
        typer.Option("--node", help="A node's web address: HOST, HOST:PORT or NAME=HOST:PORT (repeat for each node)."),
    ],
    bind: Annotated[str, typer.Option(help="Where HAProxy listens (HOST:PORT).")] = "0.0.0.0:80",
    run_dir: Annotated[Path, typer.Option(help="Where HAProxy's admin socket goes.")] = Path("/run/haproxy"),
) -> None:
    """Print haproxy.cfg for the nodes (health checks on /healthz, sticky only for the browser voice)."""
    from hotline.cluster.haproxy import HaproxyError, ProxyConfig, parse_nodes, render_config

    host, _, port = bind.rpartition(":")
    try:
        if not host or not port.isdigit():
            raise HaproxyError(f"监听地址“{bind}”无效，应为 主机:端口")
        nodes = parse_nodes(node, get_settings().port)
    except HaproxyError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(render_config(ProxyConfig(host, int(port), nodes), run_dir), nl=False)


@cluster_app.command("demo")
def demo(
    check: Annotated[
        bool,
        typer.Option("--check", help="Publish a document on node 1, find it on node 2, print the lag last, tear down."),
    ] = False,
    nodes: Annotated[int, typer.Option(min=2, max=8, help="Nodes (127.0.0.2, 127.0.0.3 ...).")] = 2,
    kb: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Knowledge base to start with (JSON Lines; default: the bundled one, ~1 min to import; with "
            "--check a few bundled service guides).",
        ),
    ] = None,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where the nodes' homes and logs go (default: a temporary folder).")
    ] = None,
    sip: Annotated[bool, typer.Option("--sip/--no-sip", help="Kamailio's dispatcher and each node's SIP line.")] = True,
    port: Annotated[int | None, typer.Option(help="HAProxy's port on 127.0.0.1 (default: a free one).")] = None,
) -> None:
    """A cluster on this machine: a new PostgreSQL database, N nodes, HAProxy, Kamailio's dispatcher."""
    import os

    from hotline.cluster.local import ClusterError, LocalCluster, publish_and_find

    if check and "HOTLINE_TTS_ENGINE" not in os.environ:
        os.environ["HOTLINE_TTS_ENGINE"] = "espeak"  # the nodes render their prompts at start: quickly
    root = directory or Path(tempfile.mkdtemp(prefix="hotline-cluster-"))
    cluster = LocalCluster(
        root, nodes=nodes, sip=sip, kb_file=kb or (CHECK_KB if check else None), proxy_port=port
    )
    typer.echo(f"集群目录：{root}（各节点的数据目录与日志{'' if directory else '，停止时删除'}）")
    typer.echo("创建数据库、导入知识库、启动节点、HAProxy" + ("与 Kamailio" if sip else "") + "…")
    lag: float | None = None
    try:
        with cluster:
            _describe(cluster)
            if check:
                first, second = cluster.nodes[0], cluster.nodes[1]
                lag = publish_and_find(cluster, first, second, "集群同步检查")
                typer.echo(f"在 {first.name} 发布的文档已可在 {second.name}（{second.url}）检索到")
            else:
                _wait_for_stop()
            typer.echo("正在停止集群…")
    except ClusterError as exc:
        typer.echo(f"错误：{exc}（日志保留在 {root}）", err=True)
        raise typer.Exit(1) from exc
    if directory is None:  # a folder of our own: nothing in it outlives the cluster
        shutil.rmtree(root, ignore_errors=True)
    if lag is not None:
        typer.echo(f"lag {lag:.3f} s")


def _describe(cluster: LocalCluster) -> None:
    typer.echo(f"门户（经 HAProxy）：{cluster.url}")
    for node in cluster.nodes:
        sip = f"，SIP 媒体 {node.address}:{node.sip_port}" if node.sip_port else ""
        typer.echo(f"  {node.name}：{node.url}{sip}，数据目录 {node.home}")
    if cluster.front is not None:
        typer.echo(f"来电拨 {cluster.sip_uri}（Kamailio 分发到各节点）；坐席话机注册到 127.0.0.1:{cluster.front_port}")
    typer.echo(f"数据库：{cluster.database_url}")


def _wait_for_stop() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    typer.echo("集群运行中；按 Ctrl-C 停止并清理。")
    stop.wait()
