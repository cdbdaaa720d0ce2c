"""One settings object, read from `HOTLINE_*` environment variables and an optional hotline.toml."""

from __future__ import annotations

import os
import secrets
import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DATA = REPO_ROOT / "data"
MAX_AUTO_WORKERS = 4
PRIVATE_DIR = 0o700  # HOTLINE_HOME and its folders: citizens' data, recordings, case-password hashes
PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077  # set by every `hotline` command (hotline/cli.py), inherited by its children


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as HOTLINE_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", toml_file="hotline.toml", extra="ignore")

    home: Path = Path("var")
    # call recordings, voicemails and case attachments go here instead of under `home`: on a cluster one
    # folder every node mounts (NFS-class), so any node plays and serves any of them (docs/deployment.md)
    shared_dir: Path | None = None
    database_url: str | None = None
    secret_key: str | None = None
    data_dir: Path = BUNDLED_DATA
    time_zone: str = "Asia/Shanghai"  # the centre's local time: every page and deadline (docs/kb.md)
    search_engine: str = "tantivy"
    # repeated searches on the same index commit answered from memory (per process; 0: off)
    search_results_cached: int = 2048
    # the semantic signal (kb/search/semantic.py, docs/kb.md): keep the published documents' sentence
    # vectors and re-rank the searches of these channels (comma-separated) by meaning too; the query's
    # vector costs ~90 ms (one thread), so the web's search-as-you-type and the public API stay lexical;
    # measured: no lift, hence off (docs/performance.md)
    search_semantic: bool = False
    search_semantic_channels: str = "ivr"
    search_semantic_threads: int = 1  # OpenMP threads of the embedding model per process
    kb_max_text_chars: int = 100_000  # a document's body and answer, each (docs/security.md)
    # scheduled publish and withdrawal of documents: each web worker looks this often (0: never; then
    # run `hotline kb schedule` from cron)
    kb_schedule_seconds: float = 60.0
    # attachments (casework/attachments.py): per file, and files per case
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachment_max_files: int = 5
    # speech
    tts_engine: str = "kokoro"  # kokoro (neural, offline), espeak (light fallback), edge (online)
    tts_voice: str | None = None  # unset: the engine's default (kokoro: zm_yunjian)
    tts_speed: float = 1.0  # speaking rate of the kokoro voice (0.8 slower, 1.2 faster)
    tts_threads: int = 1  # onnxruntime threads per Kokoro synthesis (docs/performance.md)
    # ... for the parts a caller waits for or is about to hear (TTS priorities NOW and AHEAD)
    tts_urgent_threads: int = 2
    # the most-read documents rendered into the TTS cache by the SIP line (at start, then every 10 min),
    # with every listing the menu's keys reach (0: no documents)
    tts_prerender_documents: int = 20
    kokoro_model_path: Path | None = None  # unset: joined from the model wheels (speech/kokoro.py)
    edge_tts_timeout: float = 5.0
    vosk_model_path: Path | None = None
    asr_engine: str = "sherpa"
    voicemail_asr_engine: str = "whisper"  # whisper (sherpa when not installed), sherpa, vosk
    # IVR SIP line (`hotline serve` answers SIP calls on it when enabled)
    sip_enabled: bool = False
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060  # the media node's own port (behind Kamailio: `hotline serve` moves it to 5070)
    # concurrent callers of the media node behind Kamailio (IVR, queue, talking to agents): 2 per PJSIP
    # process of ~20 MB (the PJSIP build holds 4 call legs a process), on ports sip_port .. + max/2 - 1
    sip_max_calls: int = 200
    sip_rtp_port: int = 20000  # first RTP port; each PJSIP process takes 16
    # call centre: Kamailio in front (registrar for agents' phones, proxy), ACD in the database
    kamailio_enabled: bool = False
    kamailio_host: str = "127.0.0.1"
    kamailio_port: int = 5060
    sip_trusted_networks: str = "127.0.0.0/8"  # where agents' phones may register from (comma-separated)
    sip_flood_limit: int = 40  # INVITE/REGISTER per source address per 2 s before Kamailio drops them
    sip_trunk: str | None = None  # "host:port" of the carrier gateway for outside numbers (transfers)
    acd_ring_seconds: float = 15.0  # an agent's phone rings this long, then the call goes to the next
    acd_wrap_up_seconds: float = 30.0  # after-call work before an agent is ready again
    recording_retention_days: int = 180  # `hotline callcentre purge` removes older call recordings
    # web
    host: str = "127.0.0.1"
    port: int = 8000
    # slow clients (hotline.httpserver): a request head must be complete this many seconds after the
    # connection opens (or after its first byte on a kept-alive connection); 0: no limit
    header_timeout: float = 10.0
    keepalive_timeout: float = 5.0  # an idle keep-alive connection is closed after this many seconds
    # web worker processes of `hotline serve`; unset: one per CPU core, at most MAX_AUTO_WORKERS
    workers: int | None = None
    # several nodes (docs/architecture.md "Several nodes: the change feed"): this node's name in /healthz
    # and `hotline node status` (unset: the host name); how often a node's follower polls the change log
    # on SQLite (on PostgreSQL it listens, and looks every second too; 0: no follower)
    node_name: str = Field(default_factory=socket.gethostname)
    # where the other nodes reach this node's web port, to fetch the recordings and attachments it wrote
    # when there is no shared_dir (hotline/nodefiles.py); unset: http://<host>:<port> (`hotline serve`
    # sets it from its --host/--port)
    node_url: str | None = None
    kb_feed_poll_seconds: float = 0.25
    # sms
    kannel_url: str | None = None
    kannel_user: str = ""  # the sendsms-user of Kannel's smsbox: required when kannel_url is set
    kannel_password: str = ""
    sms_sender: str = "12345"
    # where Kannel reports delivery (our /api/sms/dlr, with the token), e.g.
    # http://127.0.0.1:8000/api/sms/dlr?token=...; unset: no delivery reports asked for
    kannel_dlr_url: str | None = None
    kannel_dlr_token: str = ""
    # incoming SMS: smsbox's sms-service get-url calls /api/sms/incoming?...&token=<this> (docs/casework.md);
    # unset: incoming SMS are refused
    kannel_incoming_token: str = ""
    # the 回访 SMS survey (casework/followup.py): "review" sends it when a reply is approved, "manual"
    # only when an agent sends it from the 回访 list
    followup_survey: Literal["review", "manual"] = "review"
    # fax: HylaFAX submit command (e.g. "sendfax -n"); unset: TIFFs stay in <outbox>/fax
    fax_command: str | None = None
    # e-mail intake (casework/mailintake.py, docs/casework.md): an IMAP mailbox polled for new mail, each
    # one a submission for review; replies and notices to e-mail contacts by SMTP. Off unless enabled
    mail_enabled: bool = False
    imap_host: str = ""
    imap_port: int = 993
    imap_user: str = ""
    imap_password: str = ""
    imap_tls: Literal["ssl", "starttls", "none"] = "ssl"
    imap_folder: str = "INBOX"
    smtp_host: str = ""  # unset: no mail is sent (notices to e-mail contacts wait in the outbox)
    smtp_port: int = 465
    smtp_user: str = ""  # unset: no SMTP login
    smtp_password: str = ""
    smtp_tls: Literal["ssl", "starttls", "none"] = "ssl"
    mail_from: str = ""  # the hotline's address on replies; unset: imap_user
    mail_poll_seconds: float = 60.0  # `hotline serve` polls the mailbox (and the fax inbox) this often
    mail_per_destination_per_day: int = 10  # replies and notices to one address a day
    # fax intake (casework/faxintake.py): the HylaFAX receive folder (recvq); unset: no fax intake
    fax_inbox: Path | None = None
    fax_settle_seconds: float = 10.0  # a TIFF is taken once it has not changed for this long
    # outbound caps (docs/security.md): per destination and per source a day, per call; staff per user
    fax_international: bool = False  # fax only to domestic numbers unless set
    sms_per_destination_per_day: int = 5
    fax_per_destination_per_day: int = 3
    sms_per_source_per_day: int = 10  # anonymous source: calling number or client address
    fax_per_source_per_day: int = 5
    sms_per_call: int = 2
    fax_per_call: int = 1
    sms_per_staff_per_day: int = 300
    fax_per_staff_per_day: int = 100
    # staff sessions and login (docs/security.md)
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    session_cookie_secure: bool = False  # set behind a TLS proxy: the cookie only travels over HTTPS
    trusted_proxies: list[str] = []  # addresses/networks whose X-Forwarded-For is believed
    password_checks_at_once: int = 2  # concurrent argon2 checks per process (64 MiB each)

    @model_validator(mode="after")
    def _sms_credentials(self) -> Settings:
        if self.kannel_url and not (self.kannel_user and self.kannel_password):
            raise ValueError(
                "SMS is enabled (HOTLINE_KANNEL_URL is set) but HOTLINE_KANNEL_USER and "
                "HOTLINE_KANNEL_PASSWORD are not both set: give the sendsms-user of Kannel's smsbox"
            )
        return self

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
    def advertised_url(self) -> str:
        """This node's web address as the other nodes reach it (setting node_url)."""
        if self.node_url:
            return self.node_url.rstrip("/")
        host = socket.gethostname() if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def audio_cache_dir(self) -> Path:
        return self.home / "audio-cache"

    @property
    def recordings_dir(self) -> Path:
        return (self.shared_dir or self.home) / "recordings"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def attachments_dir(self) -> Path:
        return (self.shared_dir or self.home) / "attachments"

    def ensure_home(self) -> None:
        """Create the data directory and its sub-folders, open to the service's own user only (0700;
        the files in it 0600 through the umask `hotline` sets, and those an older version left directly
        in it, such as the database and its WAL, made 0600 here). docs/security.md"""
        for path in (self.home, self.index_dir, self.audio_cache_dir, self.recordings_dir, self.outbox_dir):
            path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
            if path.stat().st_mode & 0o777 != PRIVATE_DIR:
                path.chmod(PRIVATE_DIR)
        for path in self.home.iterdir():
            if path.is_file() and path.stat().st_mode & 0o077:
                path.chmod(PRIVATE_FILE)

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


def local_timezone() -> ZoneInfo:
    """The centre's time zone (setting time_zone); casework.calendar.LOCAL_TZ holds it per process."""
    return ZoneInfo(get_settings().time_zone)
