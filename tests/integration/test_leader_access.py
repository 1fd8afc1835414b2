"""From a real `toil launch-cluster` to Ansible inside the leader's appliance: the toil_cluster inventory
finds the leader, the toil_appliance connection runs modules in the `toil_leader` container over real SSH,
files round-trip, and a changed host key is refused with advice that works."""

import hashlib
import json
import os
import re
import shlex
from pathlib import Path

import pytest
from testcloud import KEY_PAIR, ZONE

pytestmark = pytest.mark.cloud

CLUSTER = "leader-access"
LEADER = f"{CLUSTER}-leader"


def adhoc(cloud, inventory, env, *args, check=True):
    return cloud.run(
        ["ansible", "toil_leader", "-i", str(inventory), *args], env=env, check=check, timeout=300
    )


def facts_of(result) -> dict:
    return json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"][LEADER]


def test_leader_access(cloud, tmp_path):
    cloud.reset_account()
    inventory = tmp_path / "toil_cluster.yml"
    inventory.write_text(f"plugin: genomics.cactus.toil_cluster\ncluster_name: {CLUSTER}\nzone: {ZONE}\n")
    # Our own ControlPersist directory: the masters are stopped in `finally`.
    env = cloud.env(ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp_path / "cp"))
    json_env = {**env, "ANSIBLE_STDOUT_CALLBACK": "json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
    try:
        cloud.run(
            [
                "toil",
                "launch-cluster",
                CLUSTER,
                "--provisioner",
                "aws",
                "--zone",
                ZONE,
                "--keyPairName",
                KEY_PAIR,
                "--leaderNodeType",
                "t2.medium",
                "--clusterType",
                "kubernetes",
            ],
            timeout=300,
        )
        leader = cloud.client("ec2").describe_instances(
            Filters=[{"Name": "instance.group-name", "Values": [CLUSTER]}]
        )["Reservations"][0]["Instances"][0]

        # The inventory finds the leader Toil launched.
        graph = cloud.run(["ansible-inventory", "-i", str(inventory), "--graph"], env=env).stdout
        assert re.search(rf"@toil_leader:\n[ |]*--{LEADER}\n", graph), graph

        # ping and setup run INSIDE the appliance container.
        ping = adhoc(cloud, inventory, json_env, "-m", "ping")
        assert facts_of(ping)["ping"] == "pong"
        facts = facts_of(adhoc(cloud, inventory, json_env, "-m", "setup"))["ansible_facts"]
        assert facts["ansible_user_id"] == "root"  # the container's user, not the host's `core`
        assert facts["ansible_env"]["HOME"] == "/root"
        assert facts["ansible_virtualization_type"] in ("docker", "podman", "container")
        assert facts["ansible_python"]["executable"].startswith("/usr/bin/python3")
        toil = adhoc(
            cloud,
            inventory,
            json_env,
            "-m",
            "command",
            "-a",
            "python3 -c 'import toil.version; print(toil.version.baseVersion)'",
        )
        assert facts_of(toil)["stdout"] == "9.4.1"

        # Trust on first use, in this cluster's own known_hosts file, under the instance id.
        known_hosts = os.path.join(env["HOME"], ".ansible", "toil_known_hosts", CLUSTER)
        recorded = Path(known_hosts).read_text()
        assert (
            recorded.startswith(f"{leader['InstanceId']} ") and cloud.host_public_key().split()[1] in recorded
        )

        # Files round-trip through copy and fetch, byte for byte (text and a few MB of binary).
        files = {
            "notes.txt": b"seqFile line\nwith 'quotes' and \"more\"\n",
            "blob.bin": os.urandom(4 * 1024 * 1024),
        }
        (tmp_path / "back").mkdir()
        adhoc(cloud, inventory, env, "-m", "file", "-a", "path=/opt/leader-access-test state=directory")
        for name, data in files.items():
            (tmp_path / name).write_bytes(data)
            remote = f"/opt/leader-access-test/{name}"
            copied = facts_of(
                adhoc(cloud, inventory, json_env, "-m", "copy", "-a", f"src={tmp_path / name} dest={remote}")
            )
            assert copied["checksum"] == hashlib.sha1(data).hexdigest()  # noqa: S324 - Ansible's checksum
            stat = facts_of(
                adhoc(
                    cloud, inventory, json_env, "-m", "stat", "-a", f"path={remote} checksum_algorithm=sha256"
                )
            )
            assert stat["stat"]["checksum"] == hashlib.sha256(data).hexdigest()
            adhoc(
                cloud,
                inventory,
                env,
                "-m",
                "fetch",
                "-a",
                f"src={remote} dest={tmp_path / 'back'}/ flat=true",
            )
            assert (
                hashlib.sha256((tmp_path / "back" / name).read_bytes()).hexdigest()
                == hashlib.sha256(data).hexdigest()
            )
        assert (cloud.leader_root / "opt" / "leader-access-test" / "blob.bin").read_bytes() == files[
            "blob.bin"
        ]
        adhoc(cloud, inventory, env, "-m", "file", "-a", "path=/opt/leader-access-test state=absent")

        # The leader gets a new host key (as a relaunched leader would). Its old connections die with it:
        # stop our ControlPersist master, which would otherwise still be trusted.
        cloud.rotate_host_key()
        adhoc(cloud, inventory, env, "-m", "meta", "-a", "reset_connection")
        refused = adhoc(cloud, inventory, env, "-m", "command", "-a", "true", check=False)
        output = refused.stdout + refused.stderr
        assert refused.returncode != 0 and "UNREACHABLE" in output, output
        assert "differs from the one in" in output and known_hosts in output
        advice = re.search(r"(ssh-keygen -R \S+ -f \S+)", output)
        assert advice, output
        assert shlex.split(advice.group(1))[2] == leader["InstanceId"]

        # Reset as the message says; then it works again, and the new key is the one recorded.
        cloud.run(shlex.split(advice.group(1)), env=env)
        again = adhoc(cloud, inventory, env, "-m", "command", "-a", "true", check=False)
        assert again.returncode == 0, again.stdout + again.stderr
        assert cloud.host_public_key().split()[1] in Path(known_hosts).read_text()
    finally:
        adhoc(cloud, inventory, env, "-m", "meta", "-a", "reset_connection", check=False)
        cloud.run(["toil", "destroy-cluster", "--zone", ZONE, CLUSTER], timeout=300)
    left = cloud.leftovers()
    assert left["instances"] == [] and left["security_groups"] == [], left
