"""Servers of one harness run never share a port, nor take one a reused recording's origin used.

A deployment that came up on the port the recording's server had freed shared the recorded origin,
and replay (rightly) kept every unsafe step off it: a whole Kinto run replayed nothing.
"""

from __future__ import annotations

import socket

from bench.realapps.harness import _LOCAL_PORT
from trodden.shop.services import free_port, reserve_ports


def test_free_port_never_hands_out_a_port_twice() -> None:
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)


def test_a_reserved_port_is_not_handed_out_even_when_free() -> None:
    with socket.socket() as s:  # a port the kernel just freed, as a stopped server's is
        s.bind(("127.0.0.1", 0))
        freed = s.getsockname()[1]
    reserve_ports([freed])
    assert freed not in {free_port() for _ in range(300)}


def test_the_recorded_origins_ports_are_read_from_beacon_bodies() -> None:
    body = '{"events":[{"url":"http://127.0.0.1:54049/v1/buckets?_limit=5"},{"url":"http://localhost:8000/"}]}'
    assert [int(p) for p in _LOCAL_PORT.findall(body)] == [54049, 8000]
