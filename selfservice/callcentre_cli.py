"""`hotline callcentre ...`: the Kamailio front's configuration, recordings' retention, agents' states;
and `start_front()`, which `hotline serve` uses to bring Kamailio up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hotline.config import get_settings

if TYPE_CHECKING:
    from selfservice.kamailio import KamailioProcess

callcentre_app = typer.Typer(help="Call centre: Kamailio front, recordings, agents.", no_args_is_help=True)


def front_dir() -> Path:
    return get_settings().home / "kamailio"


def start_front() -> KamailioProcess:
    """Start Kamailio from the settings (exits with a clear message when it cannot)."""
    from selfservice.kamailio import FrontConfig, KamailioError, KamailioProcess

    config = FrontConfig.from_settings()
    front = KamailioProcess(config, front_dir())
    try:
        front.start()
    except KamailioError as exc:
        typer.echo(f"错误：{exc}（不需要呼叫中心入口时可用 --no-kamailio）", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"呼叫中心 SIP 入口（Kamailio）：来电拨 sip:12345@{config.host}:{config.port}；"
        f"坐席话机注册到 {config.host}:{config.port}"
    )
    return front


@callcentre_app.command("kamailio-config")
def kamailio_config(
    node: Annotated[
        list[str] | None,
        typer.Option(
            "--node",
            help="A cluster's media node, HOST or HOST:PORT (repeat for each node; processes and port from "
            "the settings, as on the nodes). Default: this node's media processes.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write kamailio.cfg and dispatcher.list into this directory instead of printing."),
    ] = None,
) -> None:
    """Print the kamailio.cfg that `hotline serve` would run (to install Kamailio as a system service),
    or the front of a cluster: the dispatcher over every node's media processes (docs/deployment.md)."""
    from selfservice.kamailio import FrontConfig, KamailioError, dispatcher_list, render_config

    try:
        config = FrontConfig.from_settings(node or ())
    except KamailioError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(2) from exc
    if out is None:
        typer.echo(render_config(config, Path("/run/kamailio")), nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "dispatcher.list").write_text(dispatcher_list(config), encoding="utf-8")
    (out / "kamailio.cfg").write_text(
        render_config(config, Path("/run/kamailio"), out.resolve() / "dispatcher.list"), encoding="utf-8"
    )
    typer.echo(f"已写入 {out / 'kamailio.cfg'} 与 {out / 'dispatcher.list'}（{len(config.media)} 个媒体节点）")


@callcentre_app.command("purge")
def purge(
    days: int = typer.Option(None, help="Keep this many days (default: HOTLINE_RECORDING_RETENTION_DAYS)."),
) -> None:
    """Delete call recordings older than the retention period (the call records keep their metadata)."""
    from hotline.db import session_scope
    from selfservice.recordings import purge_recordings

    keep = days if days is not None else get_settings().recording_retention_days
    if keep < 1:
        typer.echo("错误：保留天数至少为 1。", err=True)
        raise typer.Exit(2)
    with session_scope() as session:
        removed = purge_recordings(session, datetime.now(UTC) - timedelta(days=keep))
    typer.echo(f"已删除 {removed} 个超过 {keep} 天的通话录音")


@callcentre_app.command("agents")
def agents() -> None:
    """Agents' seats and states now."""
    from sqlalchemy import select

    from hotline.db import session_scope
    from hotline.models import User
    from selfservice.acd import AGENT_STATES
    from selfservice.models import AgentSeat

    with session_scope() as session:
        rows = session.execute(select(AgentSeat, User).join(User, User.id == AgentSeat.user_id)).all()
        for seat, user in rows:
            typer.echo(f"{user.username}\t{seat.extension}\t{AGENT_STATES[seat.state]}\t{seat.reason}")
    if not rows:
        typer.echo("尚无坐席签入记录")
