"""Loaded by subprocesses of the offline test (via PYTHONPATH): refuses every outbound
connection and name lookup except loopback, and records each attempt in $KB_OFFLINE_LOG."""

import ipaddress
import os
import socket

_LOG = os.environ.get("KB_OFFLINE_LOG")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]")
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _record(what: str) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(what + "\n")


_orig_getaddrinfo = socket.getaddrinfo
_orig_connect = socket.socket.connect
_orig_connect_ex = socket.socket.connect_ex


def getaddrinfo(host, *args, **kwargs):
    if not _is_loopback(host):
        _record(f"getaddrinfo {host}")
        raise socket.gaierror(socket.EAI_NONAME, f"offline test: lookup of {host} refused")
    return _orig_getaddrinfo(host, *args, **kwargs)


def _check(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        _record(f"connect {address[0]}:{address[1]}")
        raise ConnectionRefusedError(f"offline test: connection to {address[0]} refused")


def connect(self, address):
    _check(self, address)
    return _orig_connect(self, address)


def connect_ex(self, address):
    _check(self, address)
    return _orig_connect_ex(self, address)


socket.getaddrinfo = getaddrinfo
socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
