"""The addresses this machine can be reached at, for ``serve --host 0.0.0.0`` to print.

Standard library only and without sending any traffic: the interface addresses come from
the kernel (``SIOCGIFADDR`` per interface and ``/proc/net/if_inet6`` on Linux), else from
resolving the host name.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys

__all__ = ["advertised_host", "reachable_hosts", "url_for"]

_SIOCGIFADDR = 0x8915


def url_for(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _linux_ipv4() -> list[str]:
    import fcntl

    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # no IPv4 address on this interface
            found.append(socket.inet_ntoa(packed[20:24]))
    return found


def _linux_ipv6() -> list[str]:
    found = []
    try:
        with open("/proc/net/if_inet6", encoding="ascii") as fh:
            for line in fh:
                raw = line.split()[0]
                found.append(str(ipaddress.IPv6Address(bytes.fromhex(raw))))
    except (OSError, ValueError, IndexError):
        pass
    return found


def _resolved(family: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, family, socket.SOCK_STREAM)
    except OSError:
        return []
    return [str(info[4][0]) for info in infos]


def _usable(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_unspecified or ip.is_link_local or ip.is_multicast)


def reachable_hosts(*, ipv6: bool = False) -> list[str]:
    """Non-loopback addresses of this machine (IPv4, and IPv6 when ``ipv6``), then its host name."""
    addresses: list[str] = []
    if sys.platform.startswith("linux"):
        try:
            addresses += _linux_ipv4()
        except (OSError, ImportError):
            pass
        if ipv6:
            addresses += _linux_ipv6()
    addresses += _resolved(socket.AF_INET)
    if ipv6:
        addresses += _resolved(socket.AF_INET6)
    hosts = [a for a in dict.fromkeys(addresses) if _usable(a)]
    name = socket.gethostname()
    if name and name not in ("localhost",):
        hosts.append(name)
    return hosts


def advertised_host(*, ipv6: bool = False) -> str | None:
    """The address to give other machines: the first interface address, else the host name."""
    hosts = reachable_hosts(ipv6=ipv6)
    return hosts[0] if hosts else None
