"""`hotline intake ...`: take new e-mail and faxes as submissions (what `hotline serve` does every
mail_poll_seconds), once or in a loop."""

from __future__ import annotations

import time

import typer

intake_app = typer.Typer(
    help="Intake channels: the mailbox (IMAP) and the fax receive folder.", no_args_is_help=True
)


@intake_app.command("poll")
def poll(
    mail: bool = typer.Option(
        True,
        "--mail/--no-mail",
        help="Poll the mailbox (when enabled: HOTLINE_MAIL_ENABLED or /admin/mailbox).",
    ),
    fax: bool = typer.Option(
        True, "--fax/--no-fax", help="Poll the fax folder (when HOTLINE_FAX_INBOX is set)."
    ),
    loop: bool = typer.Option(False, "--loop", help="Keep polling (every --interval seconds)."),
    interval: float = typer.Option(60.0, min=1.0, help="Seconds between rounds with --loop."),
) -> None:
    """Take new mails and faxes as submissions for review; prints the counts of each round."""
    from casework import intake, mailsettings
    from hotline import bootstrap
    from hotline.config import get_settings

    bootstrap.init()
    settings = mailsettings.effective(get_settings())  # the mailbox as set on /admin/mailbox, if it was
    if not (mail and settings.mail_enabled) and not (fax and settings.fax_inbox is not None):
        typer.echo(
            "error: no intake channel enabled (HOTLINE_MAIL_ENABLED or /admin/mailbox, HOTLINE_FAX_INBOX)",
            err=True,
        )
        raise typer.Exit(2)
    while True:
        counts = intake.poll_once(settings, mail=mail, fax=fax)
        typer.echo(" ".join(f"{k}={v}" for k, v in counts.items()) or "nothing new")
        if not loop:
            break
        time.sleep(interval)
        settings = mailsettings.effective(get_settings())  # as changed on the page meanwhile
