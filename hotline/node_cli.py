"""`hotline node ...`: this node's status, and draining it before maintenance (hotline.node)."""

from __future__ import annotations

import json

import typer

from hotline import node

node_app = typer.Typer(help="This node of a cluster: status, drain, undrain.", no_args_is_help=True)
ACTOR = "cli"


def _number(value: int | None) -> str:
    return "未知" if value is None else str(value)


@node_app.command("status")
def status_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """This node's name, database role, index and change-log positions, lag, calls, drain state."""
    now = node.status()
    if as_json:
        typer.echo(json.dumps(now.as_dict(), ensure_ascii=False))
        return
    calls = (
        "SIP 线路未在本节点运行"
        if now.calls_in_progress is None
        else f"{now.calls_in_progress}（进程 {now.sip_line_pid}）"
    )
    lines = [
        f"节点：{now.node}",
        f"状态：{now.status}",
        f"数据库：{now.role}",
        f"索引位置：{_number(now.index_position)}",
        f"变更日志位置：{_number(now.log_position)}",
        f"落后：{_number(now.lag)}",
        f"进行中的通话：{calls}",
        f"排空：{'是' if now.draining else '否'}",
    ]
    typer.echo("\n".join(lines))


@node_app.command("drain")
def drain_cmd() -> None:
    """Stop taking new web requests (/healthz 503) and new calls (INVITE 503); calls in progress go on."""
    changed = node.set_draining(True, actor=ACTOR)
    calls, _pid = node.sip_calls()
    typer.echo(f"节点 {node.node_name()} {'开始排空' if changed else '已在排空中'}：不再接收新的请求和来电。")
    if calls:
        typer.echo(f"仍有 {calls} 个通话进行中；等其结束后再停止本节点（hotline node status 查看）。")


@node_app.command("undrain")
def undrain_cmd() -> None:
    """Take new web requests and calls again."""
    changed = node.set_draining(False, actor=ACTOR)
    typer.echo(f"节点 {node.node_name()} {'恢复接收' if changed else '未在排空'}：接收新的请求和来电。")
