"""`hotline tts` and `hotline asr`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the speech commands to the main `hotline` command."""
    app.command("tts")(tts)
    app.command("asr")(asr)


def tts(
    text: Annotated[
        str, typer.Argument(help="Chinese text to speak (numbers, dates, phone numbers are normalised).")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output WAV file.")],
    engine: Annotated[
        str | None,
        typer.Option(help="kokoro (neural, offline, default), espeak (light) or edge (online, falls back)."),
    ] = None,
    voice: Annotated[
        str | None,
        typer.Option(help="Engine voice, e.g. zm_yunjian, zf_xiaobei, cmn or zh-CN-XiaoxiaoNeural."),
    ] = None,
    speed: Annotated[float | None, typer.Option(help="Kokoro speaking rate (1.0 normal).")] = None,
    rate: Annotated[
        int, typer.Option(help="Sample rate in Hz: 8000 for the phone, 16000/24000 for the web.")
    ] = 8000,
    codec: Annotated[str, typer.Option(help="pcm (16-bit WAV), ulaw or alaw (8 kHz G.711 WAV).")] = "pcm",
) -> None:
    """Synthesise speech to a WAV file."""
    from speech import SpeechError, synthesize, write_g711_wav

    try:
        if codec not in ("pcm", "ulaw", "alaw"):
            raise SpeechError(f"未知的编码 {codec!r}（可选：pcm、ulaw、alaw）")
        path = synthesize(text, engine=engine, voice=voice, rate=rate, speed=speed)
        output.parent.mkdir(parents=True, exist_ok=True)
        if codec == "pcm":
            shutil.copyfile(path, output)
        else:
            write_g711_wav(path, output, codec)
    except SpeechError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"wrote {output}")


def asr(
    audio: Annotated[Path, typer.Argument(help="Mono 16-bit PCM WAV (8 or 16 kHz).")],
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"text", "words", "pinyin"} as JSON.')
    ] = False,
    grammar: Annotated[
        str | None, typer.Option(help="Comma-separated phrases to choose from (grammar mode).")
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="sherpa (bundled, default) or vosk (HOTLINE_VOSK_MODEL_PATH).")
    ] = None,
) -> None:
    """Recognise Mandarin speech in a WAV file."""
    from speech import SpeechError, recognize_file

    phrases = [p.strip() for p in grammar.replace("，", ",").split(",") if p.strip()] if grammar else None
    try:
        result = recognize_file(audio, grammar=phrases, engine=engine)
    except SpeechError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        typer.echo(result.text)
