"""The web workers' listening sockets: one per worker on the same port, answering without Nagle delays."""

from __future__ import annotations

import asyncio
import socket

import pytest

from hotline.workers import reuseport_socket
from tests.conftest import free_port


def test_workers_bind_the_same_port_and_a_foreign_listener_is_refused() -> None:
    port = free_port()
    first, second = reuseport_socket("127.0.0.1", port), reuseport_socket("127.0.0.1", port)
    first.listen()
    second.listen()
    first.close()
    second.close()
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", port))
        foreign.listen()
        with pytest.raises(OSError):
            reuseport_socket("127.0.0.1", port)


def test_accepted_connections_have_tcp_nodelay() -> None:
    async def scenario() -> int:
        sock = reuseport_socket("127.0.0.1", free_port())
        sock.listen()
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            raw = writer.get_extra_info("socket")
            accepted.set_result(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(connected, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname())
        nodelay = await asyncio.wait_for(accepted, 10)
        writer.close()
        server.close()
        return nodelay

    assert asyncio.run(scenario()) == 1
