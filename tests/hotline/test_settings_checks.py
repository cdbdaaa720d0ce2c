"""Settings that cannot work stop every `hotline` command at once with a message naming them:
SMS switched on (a Kannel URL) without Kannel credentials, which no longer default to hotline/hotline."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hotline.cli import app
from hotline.config import Settings
from hotline.db import reset_caches

runner = CliRunner()


def test_sms_without_kannel_credentials_is_refused_at_start(sqlite_env, monkeypatch):
    monkeypatch.setenv("HOTLINE_KANNEL_URL", "http://127.0.0.1:13013/cgi-bin/sendsms")
    monkeypatch.delenv("HOTLINE_KANNEL_USER", raising=False)
    monkeypatch.delenv("HOTLINE_KANNEL_PASSWORD", raising=False)
    reset_caches()
    for command in (["serve", "--no-sip"], ["kb", "search", "公积金"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2
        assert "HOTLINE_KANNEL_USER and HOTLINE_KANNEL_PASSWORD are not both set" in result.stderr
        assert "Traceback" not in result.output
    monkeypatch.setenv("HOTLINE_KANNEL_USER", "hotline-sms")
    monkeypatch.setenv("HOTLINE_KANNEL_PASSWORD", "a-long-sms-secret")
    reset_caches()
    assert runner.invoke(app, ["kb", "search", "公积金"]).exit_code == 0


def test_no_default_kannel_credentials():
    with pytest.raises(ValueError, match="HOTLINE_KANNEL_PASSWORD"):
        Settings(kannel_url="http://127.0.0.1:13013/cgi-bin/sendsms", kannel_user="hotline")
    assert Settings().kannel_user == "" and Settings().kannel_password == ""


def test_a_malformed_setting_is_named(sqlite_env, monkeypatch):
    monkeypatch.setenv("HOTLINE_WORKERS", "two")
    reset_caches()
    result = runner.invoke(app, ["kb", "search", "公积金"])
    assert result.exit_code == 2 and "error: settings: HOTLINE_WORKERS:" in result.stderr
