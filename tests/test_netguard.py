"""The test bed cannot reach beyond loopback: the namespace has only `lo`, and the Python guard
fails loudly on any other address."""

import os
import socket
import subprocess
import sys
from pathlib import Path

GUARD_DIR = Path(__file__).parent / "netguard"

PROBE = """
import socket
from sitecustomize import NetworkGuardError
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.connect(("203.0.113.7", 53))
except NetworkGuardError as e:
    print("blocked connect:", e)
try:
    socket.getaddrinfo("aws.amazon.com", 443)
except NetworkGuardError as e:
    print("blocked lookup:", e)
with socket.create_server(("127.0.0.5", 0)) as server, socket.create_connection(server.getsockname()):
    print("loopback ok")
"""


def test_namespace_has_only_loopback():
    assert [name for _, name in socket.if_nameindex()] == ["lo"]


def test_guard_blocks_non_loopback_and_allows_loopback(tmp_path):
    log = tmp_path / "guard.log"
    env = {**os.environ, "PYTHONPATH": str(GUARD_DIR), "NETGUARD_LOG": str(log)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "blocked connect: NETGUARD: blocked socket.connect to ('203.0.113.7', 53)" in result.stdout
    assert "blocked lookup: NETGUARD: blocked socket.getaddrinfo to 'aws.amazon.com'" in result.stdout
    assert "loopback ok" in result.stdout
    # Loud: on stderr, and logged with a stack trace for the session's final check.
    assert "NETGUARD: blocked socket.connect" in result.stderr
    text = log.read_text()
    assert text.count("NETGUARD: blocked") == 2 and 'File "<string>"' in text


def test_guard_is_loaded_in_this_session():
    assert "sitecustomize" in sys.modules and hasattr(sys.modules["sitecustomize"], "NetworkGuardError")
