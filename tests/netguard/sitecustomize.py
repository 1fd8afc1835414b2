"""Network guard for the test bed: any connection outside 127.0.0.0/8 fails loudly.

Loaded by every Python process the tests start (ansible, toil, moto, the Cactus stand-in),
because tests/netguard is on PYTHONPATH. The tests also run in a network namespace that has
only `lo`, so nothing could leave the machine anyway; this guard turns a mistake into a stack
trace and a line in $NETGUARD_LOG (checked by the test session) instead of a silent time-out.
"""

import ipaddress
import os
import socket
import sys
import traceback

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class NetworkGuardError(OSError):
    """Raised for a connection or name look-up that would leave 127.0.0.0/8."""


def _is_loopback(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]").lower()
    if host in _LOCAL_NAMES or host == "":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _report(event: str, target) -> None:
    message = f"NETGUARD: blocked {event} to {target!r} (tests may only use 127.0.0.0/8)"
    log_path = os.environ.get("NETGUARD_LOG")
    if log_path:
        stack = "".join(traceback.format_stack(limit=12)[:-2])
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"{message} pid={os.getpid()} argv={sys.argv!r}\n{stack}\n")
    print(message, file=sys.stderr)
    raise NetworkGuardError(message)


def _address_host(sock, address):
    """Return the host of an inet address tuple, or None for other families (unix, netlink)."""
    family = getattr(sock, "family", None)
    if family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        return address[0]
    return None


def _audit(event: str, args) -> None:
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args[0], args[1]
        host = _address_host(sock, address)
        if host is not None and not _is_loopback(host):
            _report(event, address)
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        if not _is_loopback(args[0]):
            _report(event, args[0])


sys.addaudithook(_audit)
