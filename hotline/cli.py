"""The `hotline` command: one entry point, one sub-command (or group) per package."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError

from casework.cli import case_app, report_app
from casework.intake_cli import intake_app
from hotline import bootstrap
from hotline import workers as web_workers
from hotline.cluster.cli import cluster_app
from hotline.config import PRIVATE_UMASK, get_settings
from hotline.db import session_scope
from hotline.node_cli import node_app
from kb.cli import kb_app
from selfservice.callcentre_cli import callcentre_app
from selfservice.cli import ivr_app
from speech.cli import register as register_speech

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hotline.models import User

app = typer.Typer(help="12345 政务服务便民热线平台", no_args_is_help=True, pretty_exceptions_enable=False)
user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(ivr_app, name="ivr")
app.add_typer(callcentre_app, name="callcentre")
app.add_typer(case_app, name="case")
app.add_typer(report_app, name="report")
app.add_typer(intake_app, name="intake")
app.add_typer(user_app, name="user")
app.add_typer(cluster_app, name="cluster")
app.add_typer(node_app, name="node")
register_speech(app)


@app.callback()
def _start() -> None:
    os.umask(PRIVATE_UMASK)  # what any command writes under HOTLINE_HOME: files 0600, folders 0700
    try:
        get_settings()
    except ValidationError as exc:  # settings that cannot work: say which, before doing anything
        for error in exc.errors():
            name = "".join(f"HOTLINE_{str(part).upper()}: " for part in error["loc"])
            typer.echo(f"error: settings: {name}{error['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None


@app.command()
def init(
    bundled: bool = typer.Option(False, "--bundled", help="Import the bundled knowledge base if empty."),
) -> None:
    """Create or migrate the database and the search index (idempotent)."""
    counts = bootstrap.init(load_bundled=bundled)
    settings = get_settings()
    typer.echo(f"hotline ready: home={settings.home.resolve()}")
    if counts:
        typer.echo("bundled knowledge base: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on (default from settings)."),
    port: int = typer.Option(None, help="Port (default from settings)."),
    sip: bool = typer.Option(True, "--sip/--no-sip", help="Answer SIP calls (HOTLINE_SIP_HOST/PORT)."),
    kamailio: bool = typer.Option(
        True,
        "--kamailio/--no-kamailio",
        help="Run Kamailio in front of the SIP line: agents' phones register there, callers dial it "
        "(HOTLINE_KAMAILIO_HOST/PORT). --no-kamailio: a centre that runs Kamailio as a system service.",
    ),
    workers: int = typer.Option(
        None, min=1, help="Web worker processes (HOTLINE_WORKERS; default: one per CPU core, at most 4)."
    ),
) -> None:
    """Run the web portal and the IVR channels (SIP line, browser voice)."""
    if sip:
        os.environ["HOTLINE_SIP_ENABLED"] = "1"
        if kamailio:
            os.environ["HOTLINE_KAMAILIO_ENABLED"] = "1"
        get_settings.cache_clear()
    settings = get_settings()
    if settings.kamailio_enabled and settings.sip_port == settings.kamailio_port:
        os.environ["HOTLINE_SIP_PORT"] = str(settings.kamailio_port + 10)  # the media node behind Kamailio
        get_settings.cache_clear()
        settings = get_settings()
    workers = workers or settings.worker_count
    front = None
    # --no-kamailio with HOTLINE_KAMAILIO_ENABLED=1: a Kamailio run elsewhere (a system service, a
    # cluster's front) is in front of this node's media processes; its address rings the agents
    if sip and kamailio and settings.kamailio_enabled:
        from selfservice.callcentre_cli import start_front

        front = start_front()
    if sip:
        typer.echo(f"IVR SIP 线路（媒体节点）：sip:ivr@{settings.sip_host}:{settings.sip_port}")
        if settings.kamailio_enabled:
            from selfservice.sip.server import INBOUND_PER_PROCESS, processes_for

            count = processes_for(settings.sip_max_calls)
            typer.echo(
                f"媒体节点：{count} 个 PJSIP 进程（端口 {settings.sip_port}-{settings.sip_port + count - 1}），"
                f"可同时接待 {count * INBOUND_PER_PROCESS} 位来电人（HOTLINE_SIP_MAX_CALLS）"
            )
    try:
        _serve_web(host, port, workers)
    finally:
        if front is not None:
            front.stop()


def _serve_web(host: str | None, port: int | None, workers: int) -> None:
    """The web workers (one of them answers the SIP line) until stopped."""
    import uvicorn

    settings = get_settings()
    typer.echo(f"数据目录 {settings.home}：检查数据库与索引（首次启动会导入内置知识库，约需一分钟）…")
    imported = bootstrap.init(load_bundled=True)  # once, here, before the workers start
    settings.session_secret()  # likewise: every worker signs cookies with the same key
    if imported:
        typer.echo("已导入内置知识库：" + "，".join(f"{k} {v}" for k, v in imported.items()))
    if not bootstrap.has_staff_accounts():
        typer.echo("尚无工作人员账号；创建管理员：hotline user add admin --roles admin,editor,reviewer")
    typer.echo(f"网站工作进程：{workers} 个")
    host, port = host or settings.host, port or settings.port
    if not settings.node_url:  # where the other nodes fetch this node's files (hotline.nodefiles)
        os.environ["HOTLINE_NODE_URL"] = settings.model_copy(update={"host": host, "port": port}).advertised_url
        get_settings.cache_clear()
    if workers > 1:
        try:
            code = web_workers.run(host, port, workers, _log_config())
        except OSError as exc:  # the port: taken by another program, or an address not on this host
            typer.echo(
                f"错误：无法在 {host}:{port} 上监听（{exc.strerror}）。请用 --port 换一个端口。", err=True
            )
            raise typer.Exit(1) from exc
        if code == web_workers.STARTUP_FAILURE:
            typer.echo(
                "错误：网站工作进程未能启动（原因见上方日志中的错误，如 SIP 端口被占用、菜单文件有误）。",
                err=True,
            )
        if code:
            raise typer.Exit(code)
        return
    uvicorn.run(
        web_workers.APP,
        factory=True,
        host=host,
        port=port,
        log_config=_log_config(),
        **web_workers.uvicorn_options(),
    )


def _log_config() -> dict:
    """uvicorn's logging, plus our own INFO messages (e.g. which worker answers the SIP line)."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["hotline"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


@user_app.command("add")
def user_add(
    username: str,
    roles: str = typer.Option(..., help="Comma-separated: admin,editor,reviewer,agent,department,..."),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    department: str = typer.Option(None, help="Department name, for department staff."),
    display_name: str = typer.Option("", help="Name shown in the audit trail."),
) -> None:
    """Create a staff account."""
    from hotline.users import UserError, create_user

    bootstrap.init()
    try:
        with session_scope() as session:
            create_user(
                session,
                username,
                password,
                [r.strip() for r in roles.split(",") if r.strip()],
                department=department,
                display_name=display_name,
            )
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"user {username} created")


def _change_user(username: str, change: Callable[[Session, User], object]) -> None:
    """Apply `change(session, user)` to an existing account (operators act as "cli" in the audit)."""
    from sqlalchemy import select

    from hotline.models import User
    from hotline.users import UserError

    bootstrap.init()
    try:
        with session_scope() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise UserError(f"用户“{username}”不存在。")
            change(session, user)
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@user_app.command("passwd")
def user_passwd(
    username: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Set a new password; the account's sessions end."""
    from hotline.users import set_password

    _change_user(username, lambda session, user: set_password(session, user, password, actor="cli"))
    typer.echo(f"password of {username} changed; its sessions have ended")


@user_app.command("disable")
def user_disable(username: str) -> None:
    """Disable an account; its sessions end at once."""
    from hotline.users import set_active

    _change_user(username, lambda session, user: set_active(session, user, False, actor="cli"))
    typer.echo(f"user {username} disabled; its sessions have ended")


@user_app.command("enable")
def user_enable(username: str) -> None:
    """Enable a disabled account again."""
    from hotline.users import set_active

    _change_user(username, lambda session, user: set_active(session, user, True, actor="cli"))
    typer.echo(f"user {username} enabled")


if __name__ == "__main__":
    app()
