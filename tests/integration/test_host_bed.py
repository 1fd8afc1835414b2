"""The test bed for "host mode" (Cactus on a plain ssh host, no Toil appliance): a test cloud without the
appliance, its leader host reached by Ansible's ssh connection as `core` through the cloud's inventory,
a home of its own per cloud, Toil installed offline into a venv there from the host wheelhouse, and no
AWS call on the way (moto's request counter does not move)."""

import json
import os
import pwd
import re
import shlex
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from testcloud import LEADER_USER, TOP, TestCloud

pytestmark = pytest.mark.cloud

TOIL_VERSION = re.search(r"^toil\[aws\]==(\S+)", (TOP / "requirements.txt").read_text(), re.M).group(1)


@pytest.fixture(scope="module")
def host_cloud(tmp_path_factory):
    with TestCloud(tmp_path_factory.mktemp("hostcloud"), appliance=False) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def lab(host_cloud, tmp_path_factory):
    """The inventory, and an environment for `ansible` with our own ControlPersist directories
    (ANSIBLE_SSH_CONTROL_PATH_DIR under `control`), whose masters are stopped at the end."""
    control = tmp_path_factory.mktemp("control")
    env = host_cloud.env(
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(control / "cp"),
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
    )
    yield host_cloud.write_host_inventory(), env
    for master in control.glob("*/*"):
        ssh = ["/usr/bin/ssh", "-F", str(host_cloud.ssh_config), "-o", f"ControlPath={master}"]
        subprocess.run([*ssh, "-O", "exit", "labhost"], capture_output=True, timeout=30)


def adhoc(cloud, inventory, env, module, args=None, timeout=300) -> dict:
    """`ansible -i <inventory> labhost -m <module> -a <args>`; the host's result."""
    argv = ["ansible", "-i", str(inventory), "labhost", "-m", module, *(["-a", args] if args else [])]
    result = cloud.run(argv, env=env, timeout=timeout)
    host = json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"]["labhost"]
    assert not host.get("failed") and not host.get("unreachable"), host
    return host


def test_moto_counter_counts(host_cloud):
    """The counter the other tests rely on moves with each AWS call (so "unchanged" means something)."""
    before = host_cloud.moto_request_count()
    host_cloud.client("ec2").describe_key_pairs()
    host_cloud.client("sts").get_caller_identity()
    assert host_cloud.moto_request_count() == before + 2


def test_setup_over_real_ssh(host_cloud, lab):
    inventory, env = lab
    assert not host_cloud.with_appliance
    before = host_cloud.moto_request_count()
    facts = adhoc(host_cloud, inventory, env, "ansible.builtin.setup", "gather_subset=!all")["ansible_facts"]
    assert facts["ansible_user_id"] == LEADER_USER
    assert facts["ansible_user_dir"] == "/home/core"
    assert facts["ansible_env"]["HOME"] == "/home/core"
    assert facts["ansible_env"]["SSH_CONNECTION"].split()[2] == "127.0.0.1"

    # The inventory alone is enough: no `ssh` wrapper on PATH, no SSH_AUTH_SOCK in the environment.
    bare = {k: v for k, v in env.items() if k != "SSH_AUTH_SOCK"}
    bare["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != str(host_cloud.bin))
    bare["ANSIBLE_SSH_CONTROL_PATH_DIR"] += "-bare"  # a new connection, not the first one's master
    facts = adhoc(host_cloud, inventory, bare, "ansible.builtin.setup", "gather_subset=!all")["ansible_facts"]
    assert facts["ansible_user_id"] == LEADER_USER

    # Host keys are checked against the cloud's known_hosts only, never the real user's.
    real_known_hosts = Path(pwd.getpwuid(os.getuid()).pw_dir, ".ssh", "known_hosts")
    if real_known_hosts.exists():
        assert host_cloud.host_public_key().split()[1] not in real_known_hosts.read_text()
    assert host_cloud.moto_request_count() == before


def test_home_is_per_cloud(host_cloud, lab):
    inventory, env = lab
    before = host_cloud.moto_request_count()
    name = f"host-bed-{uuid.uuid4().hex}.txt"
    copied = adhoc(host_cloud, inventory, env, "ansible.builtin.copy", f"content=probe dest=~/{name}")
    assert copied["dest"] == f"/home/core/{name}"
    landed = host_cloud.core_home / name
    assert landed.read_text() == "probe"
    assert landed.stat().st_uid == pwd.getpwnam(LEADER_USER).pw_uid
    assert not Path(pwd.getpwnam(LEADER_USER).pw_dir, name).exists()  # the machine's real home
    assert oct(host_cloud.core_home.stat().st_mode & 0o777) == "0o755"
    assert host_cloud.moto_request_count() == before


def test_offline_toil_venv(host_cloud, lab):
    inventory, env = lab
    wheels = host_cloud.host_wheelhouse()
    assert host_cloud.host_wheelhouse() == wheels  # linked once per cloud
    before = host_cloud.moto_request_count()
    pip = f"~/venv/bin/python -m pip install --no-index --find-links {shlex.quote(wheels)}"

    def shell(command: str) -> dict:
        return adhoc(host_cloud, inventory, env, "ansible.builtin.shell", command, timeout=600)

    made = shell("/usr/bin/python3 -m venv ~/venv && ~/venv/bin/python -c 'import sys; print(sys.version)'")
    assert made["stdout"].startswith("3.11.")
    shell(f"{pip} --upgrade pip setuptools wheel")
    started = time.monotonic()
    installed = shell(f"{pip} {shlex.quote(f'toil[aws]=={TOIL_VERSION}')}")
    elapsed = time.monotonic() - started
    print(
        f"\npip install toil[aws]=={TOIL_VERSION} (offline, as core on the host): "
        f"{installed['delta']} on the host, {elapsed:.1f}s through Ansible"
    )
    version = shell("~/venv/bin/toil --version")["stdout"].strip()
    assert version == TOIL_VERSION
    assert (host_cloud.core_home / "venv" / "bin" / "toil").exists()
    assert not Path(pwd.getpwnam(LEADER_USER).pw_dir, "venv").exists()
    assert host_cloud.moto_request_count() == before
