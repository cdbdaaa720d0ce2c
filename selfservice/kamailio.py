"""Kamailio, the call centre's SIP front: registrar for the agents' phones and proxy between callers
(or the trunk), the hotline media node and the agents.

hotline writes kamailio.cfg from its settings (`render_config`) and runs Kamailio as a supervised
child process (`KamailioProcess`, started by `hotline serve`); a centre may instead run the Debian
service with the same file (`hotline callcentre kamailio-config`, see docs/callcentre.md).

Routing, in words:
- REGISTER from a trusted network (settings: `sip_trusted_networks`) is saved in the location table
  (in memory); other registrations get 403.
- A new INVITE from the media node goes to the registered phone of its user part (an agent's
  extension, a department's phone); a number with no registration goes to the trunk when one is set,
  else 404.
- Every other new INVITE (a caller, the trunk) goes to a media node, which answers with the IVR or
  the queue: the dispatcher module spreads callers over the PJSIP processes of every media node (round
  robin, the nodes' processes interleaved) and tries the next one when a process is full (486), refuses
  (5xx: e.g. a draining node) or does not answer within `INVITE_NO_REPLY_MS`.
- Several nodes (docs/deployment.md): the dispatcher probes every process with OPTIONS each
  `probe_seconds`; one that does not answer is left out of the rotation until it answers again, so a dead
  node stops getting calls within about `probe_seconds` + `INVITE_NO_REPLY_MS`. A call that times out on
  a process marks it inactive at once. Calls in progress on a dead node end with it.
- Floods: more than `sip_flood_limit` INVITE/REGISTER requests from one address within 2 s (the media
  node excepted) are dropped by the pike module until the source calms down.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hotline import subprocesses

log = logging.getLogger("hotline.kamailio")

KAMAILIO = "/usr/sbin/kamailio"
MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"


# a SIP request that gets no reply at all (not even 100 Trying) fails after this long: a dead media node
# costs a caller this much before the next one is tried, and a probe this long to fail
INVITE_NO_REPLY_MS = 2000


class KamailioError(RuntimeError):
    """Kamailio is missing, its configuration is invalid, or it would not start (the message says which)."""


@dataclass(frozen=True)
class MediaNode:
    """One hotline media node behind Kamailio: PJSIP processes on host:port .. port + processes - 1."""

    host: str
    port: int
    processes: int = 1

    @property
    def last_port(self) -> int:
        return self.port + self.processes - 1

    def source_test(self) -> str:
        """Kamailio's test for a request sent by one of this node's processes."""
        return f"(src_ip=={self.host} && src_port>={self.port} && src_port<={self.last_port})"


@dataclass(frozen=True)
class FrontConfig:
    """What kamailio.cfg is generated from."""

    host: str  # Kamailio's address (the centre's SIP address for phones and the trunk)
    port: int
    media: tuple[MediaNode, ...]  # one node, or every node of a cluster
    trusted_networks: tuple[str, ...] = ("127.0.0.0/8",)
    flood_limit: int = 40  # INVITE/REGISTER per source per 2 s; 0: no limit
    trunk: str | None = None  # "host:port" of the carrier's gateway for outside numbers
    children: int = 2
    probe_seconds: int = 1  # OPTIONS to every media process this often (dispatcher ds_ping_interval)

    @classmethod
    def from_settings(cls, media_hosts: Sequence[str] = ()) -> FrontConfig:
        """The front from the settings: for this node's media processes, or for the nodes at
        `media_hosts` ("host" or "host:port"; each with this node's settings' processes and port)."""
        from hotline.config import get_settings
        from selfservice.sip.server import processes_for

        s = get_settings()
        networks = tuple(n.strip() for n in s.sip_trusted_networks.split(",") if n.strip())
        processes = processes_for(s.sip_max_calls)
        nodes = tuple(_media_node(h, s.sip_port, processes) for h in media_hosts) or (
            MediaNode(s.sip_host, s.sip_port, processes),
        )
        return cls(
            host=s.kamailio_host,
            port=s.kamailio_port,
            media=nodes,
            trusted_networks=networks,
            flood_limit=s.sip_flood_limit,
            trunk=s.sip_trunk or None,
        )

    @property
    def uri(self) -> str:
        return f"sip:{self.host}:{self.port}"


def _media_node(address: str, port: int, processes: int) -> MediaNode:
    host, _, given = address.strip().partition(":")
    if not host or (given and not given.isdigit()):
        raise KamailioError(f"媒体节点地址“{address}”无效，应为 主机 或 主机:端口")
    return MediaNode(host, int(given) if given else port, processes)


def render_config(config: FrontConfig, run_dir: Path, list_file: Path | None = None) -> str:
    """kamailio.cfg for this front (plain Kamailio script; no hotline-specific module). The dispatcher
    list is read from `list_file` (default `<run_dir>/dispatcher.list`, see `dispatcher_list`)."""
    trusted = " || ".join(f'is_in_subnet("$si", "{net}")' for net in config.trusted_networks) or "0"
    from_media = "(" + " || ".join(node.source_test() for node in config.media) + ")"
    list_file = list_file or run_dir / "dispatcher.list"
    flood = (
        f"""
    if (is_method("INVITE|REGISTER") && !{from_media}) {{
        if (!pike_check_req()) {{
            xlog("L_WARN", "SIP flood from $si:$sp dropped ($rm)\\n");
            exit;
        }}
    }}"""
        if config.flood_limit > 0
        else ""
    )
    outside = (
        f'$du = "sip:{config.trunk}";\n            t_relay();\n            exit;'
        if config.trunk
        else 'sl_send_reply("404", "Not Found");\n            exit;'
    )
    return f"""#!KAMAILIO
# Generated by hotline from its settings; edits are overwritten at the next start.
debug=2
log_stderror=yes
log_prefix="{{$mt $hdr(CSeq) $ci}} "
children={config.children}
auto_aliases=no
listen=udp:{config.host}:{config.port}
alias=udp:{config.host}:{config.port}
mpath="{MODULES}/"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "ctl.so"
loadmodule "pike.so"
loadmodule "ipops.so"
loadmodule "dispatcher.so"
modparam("dispatcher", "list_file", "{list_file}")
modparam("dispatcher", "flags", 2)
modparam("dispatcher", "ds_ping_interval", {config.probe_seconds})
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_inactive_threshold", 1)
modparam("dispatcher", "ds_ping_from", "sip:dispatcher@{config.host}:{config.port}")
modparam("dispatcher", "ds_ping_reply_codes", "class=2")
modparam("ctl", "binrpc", "unix:{run_dir}/kamailio_ctl")
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)
modparam("registrar", "default_expires", 600)
modparam("rr", "enable_full_lr", 1)
modparam("pike", "sampling_time_unit", 2)
modparam("pike", "reqs_density_per_unit", {max(config.flood_limit, 1)})
modparam("pike", "remove_latency", 4)
modparam("tm", "fr_timer", {INVITE_NO_REPLY_MS})
modparam("tm", "fr_inv_timer", 120000)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (!sanity_check("17895", "7")) {{
        exit;
    }}{flood}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (has_totag()) {{
        if (loose_route()) {{
            t_relay();
            exit;
        }}
        if (is_method("ACK")) {{
            if (t_check_trans()) {{
                t_relay();
            }}
            exit;
        }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    t_check_trans();
    if (is_method("REGISTER")) {{
        if (!({trusted})) {{
            xlog("L_WARN", "REGISTER from untrusted $si refused\\n");
            sl_send_reply("403", "Forbidden");
            exit;
        }}
        if (!save("location")) {{
            sl_reply_error();
        }}
        exit;
    }}
    if (is_method("OPTIONS") && uri==myself) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    if (!is_method("INVITE|MESSAGE|OPTIONS|INFO|NOTIFY|SUBSCRIBE")) {{
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }}
    record_route();
    if {from_media} {{
        # the media node rings an agent, a department or an outside number
        if (lookup("location")) {{
            t_relay();
            exit;
        }}
        if ($rU =~ "^[0-9]{{5,}}$") {{
            {outside}
        }}
        sl_send_reply("404", "Not Found");
        exit;
    }}
    if (is_method("INVITE")) {{
        # a caller (or the trunk): the hotline answers, on the next live media process with a free line
        if (!ds_select_dst("1", "4")) {{
            sl_send_reply("503", "Service Unavailable");
            exit;
        }}
        t_on_failure("MEDIA_BUSY");
        t_relay();
        exit;
    }}
    sl_send_reply("404", "Not Found");
    exit;
}}

failure_route[MEDIA_BUSY] {{
    if (t_is_canceled()) {{
        exit;
    }}
    if (t_branch_timeout() && !t_branch_replied()) {{
        # no reply at all: the node is down; out of the rotation until it answers a probe again
        xlog("L_WARN", "media process $du did not answer; marked inactive\n");
        ds_mark_dst("ip");
    }}
    if (t_check_status("486|408|5[0-9][0-9]") && ds_next_dst()) {{
        t_on_failure("MEDIA_BUSY");
        t_relay();
    }}
}}
"""


def dispatcher_list(config: FrontConfig) -> str:
    """The media processes as dispatcher set 1, the nodes interleaved (node A's first process, node B's
    first, A's second ...): the next destination after a dead node's is another node's."""
    rows = max(node.processes for node in config.media)
    return "".join(
        f"1 sip:{node.host}:{node.port + i}\n" for i in range(rows) for node in config.media if i < node.processes
    )


class KamailioProcess:
    """Kamailio as a supervised child process: `start()` checks the configuration and waits until the
    port answers; a watchdog thread starts it again if it dies; `stop()` ends it."""

    def __init__(self, config: FrontConfig, run_dir: Path) -> None:
        self.config = config
        self.run_dir = run_dir
        self.cfg_path = run_dir / "kamailio.cfg"
        self.log_path = run_dir / "kamailio.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    def write_config(self) -> Path:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.cfg_path.write_text(render_config(self.config, self.run_dir), encoding="utf-8")
        (self.run_dir / "dispatcher.list").write_text(dispatcher_list(self.config), encoding="utf-8")
        return self.cfg_path

    def check_config(self) -> None:
        if not Path(KAMAILIO).exists():
            raise KamailioError("Kamailio 未安装（Debian 软件包 kamailio；scripts/install 会安装）")
        result = subprocess.run(
            [KAMAILIO, "-c", "-f", str(self.cfg_path), "-L", MODULES], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise KamailioError(f"kamailio.cfg 有误（{self.cfg_path}）：{result.stderr.strip()[-800:]}")

    def _spawn(self) -> None:
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [
                KAMAILIO, "-DD", "-E", "-f", str(self.cfg_path), "-L", MODULES,
                "-P", str(self.run_dir / "kamailio.pid"), "-Y", str(self.run_dir), "-m", "64", "-M", "8",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C at the terminal is for hotline, which stops Kamailio itself
            preexec_fn=die_with_parent,
        )
        log_file.close()

    def start(self, timeout: float = 10.0) -> None:
        self.write_config()
        self.check_config()
        self._spawn()
        self._wait_listening(timeout)
        self._watchdog = threading.Thread(target=self._watch, name="kamailio-watchdog", daemon=True)
        self._watchdog.start()
        nodes = ", ".join(f"{node.host}:{node.port}" for node in self.config.media)
        log.info("Kamailio on %s (media nodes %s)", self.config.uri, nodes)

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-800:]
                raise KamailioError(f"Kamailio 未能启动（{self.config.uri}，端口被占用？）：{tail}")
            if (self.run_dir / "kamailio_ctl").exists() and options_ping(self.config.host, self.config.port):
                return
            time.sleep(0.1)
        raise KamailioError(f"Kamailio 在 {timeout:.0f} 秒内未能就绪（{self.config.uri}）")

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            if self.process is not None and self.process.poll() is not None:
                self.restarts += 1
                log.error("Kamailio ended (exit code %s); starting it again", self.process.returncode)
                self._spawn()

    def stop(self) -> None:
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(3)
        subprocesses.stop(self.process)
        self.process = None


def die_with_parent() -> None:
    """In a child process before exec: SIGTERM when the process that started it ends, however it ends
    (Linux PR_SET_PDEATHSIG), so no Kamailio or PJSIP process outlives hotline."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def options_ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether a SIP server answers an OPTIONS request on UDP host:port."""
    import socket
    import uuid

    tag = uuid.uuid4().hex[:10]
    request = (
        f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:9;branch=z9hG4bK{tag}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@{host}>;tag={tag}\r\n"
        f"To: <sip:{host}:{port}>\r\n"
        f"Call-ID: {tag}@hotline\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.bind((host, 0))
        request = request.replace(f"{host}:9", f"{host}:{sock.getsockname()[1]}")
        try:
            sock.sendto(request.encode(), (host, port))
            data, _ = sock.recvfrom(4096)
        except OSError:
            return False
    return data.startswith(b"SIP/2.0 ")


def registered(run_dir: Path, extension: str) -> bool:
    """Whether a phone is registered for `extension` now (asks the running Kamailio over its socket)."""
    result = subprocess.run(
        ["kamcmd", "-s", f"unix:{run_dir}/kamailio_ctl", "ul.lookup", "location", f"s:{extension}"],
        capture_output=True,
        text=True,
        timeout=5,
    )
    return result.returncode == 0 and "Contact" in result.stdout

