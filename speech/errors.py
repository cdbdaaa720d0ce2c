"""The error users can cause in speech/: bad audio, unknown engine, missing model."""

from __future__ import annotations


class SpeechError(ValueError):
    """A speech problem with a message that can be shown as is."""
