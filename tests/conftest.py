"""Fixtures shared by all tests: the local test cloud, and the network guard's verdict."""

import os
import resource
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "cloud"))
# The repository is the genomics.cactus collection: collections/ansible_collections/genomics/cactus
# links to it, so `import ansible_collections.genomics.cactus.plugins...` works as under Ansible.
sys.path.append(str(Path(__file__).resolve().parents[1] / "collections"))

from testcloud import TestCloud  # noqa: E402


@pytest.fixture(scope="session")
def cloud(tmp_path_factory):
    """One local test cloud for the session. Tests leave the account as they found it, or call
    cloud.reset_account() first when they need it empty."""
    with TestCloud(tmp_path_factory.mktemp("cloud")) as test_cloud:
        yield test_cloud


# The tests on the appliance cloud, in two streams of about equal length: each needs its own
# namespace (the leader's sshd has port 22). The second stream: these tests, by node id prefix.
# The reference run is made in the first stream (its own tests are there); under ./test.sh the second
# stream's scenarios compare with its HAL (see test_run_alignment.py), so it makes none.
SECOND_CLOUD = (
    "tests/integration/test_leader_access.py",
    "tests/integration/test_preflight.py",
    "tests/unit/",
    "tests/integration/test_run_alignment.py::test_provision_",
    "tests/integration/test_run_alignment.py::test_cut_transfer_",
    "tests/integration/test_run_alignment.py::test_lost_leader_",
)


def _stream_of(item) -> str:
    if "cloud" not in getattr(item, "fixturenames", ()):
        return "rest"
    return "cloud-2" if item.nodeid.startswith(SECOND_CLOUD) else "cloud-1"


# Under ./test.sh (CACTUS_TEST_POOL, a directory all streams share) the rest stream's unit tests are
# shared work: each stream runs its own tests, then takes test modules of these not yet taken, one at
# a time (creating a file in the pool claims one), so the three streams end at about the same time.
POOL = os.environ.get("CACTUS_TEST_POOL")
SHARED = ("tests/unit/", "tests/standin/", "tests/test_netguard.py")


def _shared(item) -> bool:
    return bool(POOL) and _stream_of(item) == "rest" and item.nodeid.startswith(SHARED)


def pytest_collection_modifyitems(config, items):
    """CACTUS_TEST_STREAM picks one stream of the suite: `cloud-1` and `cloud-2`, the tests on the
    session's appliance cloud (the `cloud` fixture: one sshd on port 22 per network namespace) split
    in two, `cloud` both of them, `rest` all others. ./test.sh runs the streams at once, each in a
    namespace of its own, and the shared tests (above) in whichever stream is free first."""
    stream = os.environ.get("CACTUS_TEST_STREAM")
    if stream not in ("cloud", "cloud-1", "cloud-2", "rest"):
        return
    own, shared, drop = [], [], []
    for item in items:
        ours = _stream_of(item)
        if _shared(item) and stream != "cloud":
            shared.append(item)
        elif ours == stream or (stream == "cloud" and ours.startswith("cloud-")):
            own.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = own + shared  # each stream's own tests first


_TAKEN: list[int] = []  # the number of tests of each shared module this stream ran


def _claim(module: str) -> bool:
    try:
        os.close(os.open(Path(POOL, module.replace("/", "__")), os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    """pytest's loop, except that each shared module runs only in the stream that claims it first."""
    if not POOL or session.testsfailed or session.config.option.collectonly:
        return None  # pytest's own loop
    queue = [item for item in session.items if not _shared(item)]
    modules: dict[str, list] = {}
    for item in session.items:
        if _shared(item):
            modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    unclaimed = list(modules)
    while True:
        while not queue and unclaimed:
            module = unclaimed.pop(0)
            if _claim(module):
                queue = modules[module]
                _TAKEN.append(len(queue))
        if not queue:
            return True
        item = queue.pop(0)
        # At the end of a module nothing is known to follow: every fixture is torn down (the cloud
        # too, once this stream's own tests are done), and the next module sets up what it needs.
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=queue[0] if queue else None)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)


# Each test's CPU time (with its module fixtures' set-up, as pytest's --durations counts it): the suite
# is CPU-bound on 2 cores, so ./test.sh's streams print where the CPU went.
_CPU_BY_TEST: dict[str, tuple[float, float]] = {}


def _cpu_seconds() -> float:
    """This process and the commands it waited for (not the appliance containers, not daemons still
    running: the test bed's moto and sshd count when the session ends)."""
    own, waited = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    cpu, wall = _cpu_seconds(), time.monotonic()
    yield
    _CPU_BY_TEST[item.nodeid] = (_cpu_seconds() - cpu, time.monotonic() - wall)


def pytest_terminal_summary(terminalreporter):
    if not os.environ.get("CACTUS_TEST_STREAM") or not _CPU_BY_TEST:
        return
    if POOL:
        ran = f"shared unit tests: {len(_TAKEN)} modules, {sum(_TAKEN)} tests ran in this stream"
        terminalreporter.write_line(f"{ran} (the others in the other streams)")
    total = sum(cpu for cpu, _ in _CPU_BY_TEST.values())
    what = f"most CPU of {total:.0f} CPU-s (the tests' processes, not the containers')"
    terminalreporter.write_sep("=", what)
    for nodeid, (cpu, wall) in sorted(_CPU_BY_TEST.items(), key=lambda kv: -kv[1][0])[:15]:
        terminalreporter.write_line(f"{cpu:7.1f} CPU-s {wall:7.1f} s  {nodeid}")


# Known harmless offender: Toil's get_public_ip() UDP-connects to 203.0.113.1 to learn its own
# address and falls back to 127.0.0.1 when that fails.
_ALLOWED_OFFENDERS = ("in get_public_ip",)


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when any process tried to leave 127.0.0.0/8 (see tests/netguard)."""
    log_path = os.environ.get("NETGUARD_LOG")
    if not log_path or not os.path.exists(log_path):
        return
    entries = [e for e in Path(log_path).read_text().split("\n\n") if e.startswith("NETGUARD")]
    offences = [e for e in entries if not any(a in e for a in _ALLOWED_OFFENDERS)]
    if offences:
        sys.stderr.write("\n\nNETWORK GUARD: connections outside 127.0.0.0/8 were attempted:\n\n")
        sys.stderr.write("\n\n".join(offences[:10]) + "\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
