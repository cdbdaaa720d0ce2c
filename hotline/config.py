"""One settings object, read from `HOTLINE_*` environment variables and an optional hotline.toml."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DATA = REPO_ROOT / "data"
MAX_AUTO_WORKERS = 4


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as HOTLINE_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", toml_file="hotline.toml", extra="ignore")

    home: Path = Path("var")
    database_url: str | None = None
    secret_key: str | None = None
    data_dir: Path = BUNDLED_DATA
    search_engine: str = "tantivy"
    # speech
    tts_engine: str = "kokoro"  # kokoro (neural, offline), espeak (light fallback), edge (online)
    tts_voice: str | None = None  # unset: the engine's default (kokoro: zm_yunjian)
    tts_speed: float = 1.0  # speaking rate of the kokoro voice (0.8 slower, 1.2 faster)
    tts_threads: int = 1  # onnxruntime threads per Kokoro synthesis (docs/performance.md)
    kokoro_model_path: Path | None = None  # unset: joined from the model wheels (speech/kokoro.py)
    edge_tts_timeout: float = 5.0
    vosk_model_path: Path | None = None
    asr_engine: str = "sherpa"
    # IVR SIP line (`hotline serve` answers SIP calls on it when enabled)
    sip_enabled: bool = False
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    # web
    host: str = "127.0.0.1"
    port: int = 8000
    # web worker processes of `hotline serve`; unset: one per CPU core, at most MAX_AUTO_WORKERS
    workers: int | None = None
    # sms
    kannel_url: str | None = None
    kannel_user: str = "hotline"
    kannel_password: str = "hotline"
    sms_sender: str = "12345"
    # where Kannel reports delivery (our /api/sms/dlr, with the token), e.g.
    # http://127.0.0.1:8000/api/sms/dlr?token=...; unset: no delivery reports asked for
    kannel_dlr_url: str | None = None
    kannel_dlr_token: str = ""
    # fax: HylaFAX submit command (e.g. "sendfax -n"); unset: TIFFs stay in <outbox>/fax
    fax_command: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'hotline.db').resolve()}"

    @property
    def worker_count(self) -> int:
        """Web worker processes: the setting, or one per CPU core available (at most 4)."""
        if self.workers:
            return max(1, self.workers)
        return max(1, min(MAX_AUTO_WORKERS, len(os.sched_getaffinity(0))))

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def audio_cache_dir(self) -> Path:
        return self.home / "audio-cache"

    @property
    def recordings_dir(self) -> Path:
        return self.home / "recordings"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    def ensure_home(self) -> None:
        """Create the data directory and its sub-folders."""
        for path in (self.home, self.index_dir, self.audio_cache_dir, self.recordings_dir, self.outbox_dir):
            path.mkdir(parents=True, exist_ok=True)

    def session_secret(self) -> str:
        """The cookie-signing secret: configured, or generated once and kept in HOTLINE_HOME (created
        atomically: processes starting together all read the one key that was written first)."""
        if self.secret_key:
            return self.secret_key
        self.ensure_home()
        path = self.home / "secret_key"
        if not path.exists():
            tmp = path.with_name(f".secret_key.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
            try:
                os.link(tmp, path)  # fails if another process was first
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
