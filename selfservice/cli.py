"""`hotline ivr ...` commands."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

ivr_app = typer.Typer(help="Voice self-service (IVR).", no_args_is_help=True)


@ivr_app.command("simulate")
def simulate(
    script: Annotated[Path, typer.Option("--script", help="Caller script: press/say/silence/hangup lines.")],
    caller: Annotated[str, typer.Option("--caller", help="The caller's phone number.")] = "",
    at: Annotated[str | None, typer.Option("--at", help="Pretend the call happens at this ISO time.")] = None,
    agents_busy: Annotated[bool, typer.Option("--agents-busy", help="Pretend every agent is busy.")] = False,
    menu_file: Annotated[
        Path | None, typer.Option("--menu", help="Menu file (default data/ivr/menu.toml).")
    ] = None,
) -> None:
    """Run one call against a scripted caller and print the transcript of prompts and actions."""
    from hotline import bootstrap
    from selfservice.engine import Dialog
    from selfservice.menu import MenuError, load_menu
    from selfservice.simulator import ScriptError, SimulatedChannel, parse_script

    try:
        menu = load_menu(menu_file)
        steps = parse_script(script.read_text(encoding="utf-8"), script.parent)
        moment = datetime.fromisoformat(at) if at else None
    except FileNotFoundError as exc:
        typer.echo(f"error: script not found: {script}", err=True)
        raise typer.Exit(2) from exc
    except (MenuError, ScriptError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if moment is not None and moment.tzinfo is None:
        from zoneinfo import ZoneInfo

        moment = moment.replace(tzinfo=ZoneInfo(menu.hours.timezone))
    bootstrap.init()
    channel = SimulatedChannel(steps, caller)
    dialog = Dialog(channel, menu, agents_free=(lambda: False) if agents_busy else None)
    if moment is not None:
        dialog.clock = lambda: moment
    outcome = asyncio.run(dialog.run())
    for line in channel.log.lines:
        typer.echo(line)
    typer.echo(f"call {dialog.call_id} outcome={outcome}")


@ivr_app.command("transcribe")
def transcribe_pending() -> None:
    """Write the transcripts of voicemail cases still waiting for one (e.g. after a restart)."""
    from hotline import bootstrap
    from selfservice.voicemail import transcribe_pending as run

    bootstrap.init()
    typer.echo(f"transcribed {run()} voicemail(s)")
