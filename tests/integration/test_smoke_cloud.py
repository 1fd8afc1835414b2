"""Smoke test of the local test cloud with the real Toil CLI: launch a cluster, reach the leader's
appliance over SSH, destroy it, and find nothing left in the emulated account."""

import pytest
from testcloud import KEY_PAIR, ZONE

pytestmark = pytest.mark.cloud


@pytest.mark.parametrize("cluster_type", ["kubernetes", "mesos"])
def test_launch_reach_destroy(cloud, cluster_type):
    cloud.reset_account()
    name = f"smoke-{cluster_type}"
    try:
        _launch_and_reach(cloud, name, cluster_type)
    finally:
        cloud.run(["toil", "destroy-cluster", "--zone", ZONE, name], timeout=300)
    left = cloud.leftovers()
    assert left["instances"] == [] and left["security_groups"] == [] and left["iam_roles"] == [], left
    assert left["instance_profiles"] == [], left


def _launch_and_reach(cloud, name, cluster_type):
    cloud.run(
        ["toil", "launch-cluster", name, "--provisioner", "aws", "--zone", ZONE, "--keyPairName", KEY_PAIR,
         "--leaderNodeType", "t2.medium", "--clusterType", cluster_type],
        timeout=300,
    )  # fmt: skip
    made = cloud.leftovers()
    assert len(made["instances"]) == 1 and made["security_groups"] == [name]

    # Toil's own way in, and a plain ssh into the appliance as Ansible's connection will do it.
    out = cloud.run(["toil", "ssh-cluster", "--insecure", "--zone", ZONE, name, "cat", "/etc/debian_version"])
    assert out.stdout.strip()
    leader_ip = cloud.client("ec2").describe_instances()["Reservations"][0]["Instances"][0]["PublicIpAddress"]
    assert leader_ip.startswith("127.")
    out = cloud.run(
        ["ssh", "-o", "StrictHostKeyChecking=no", f"core@{leader_ip}", "docker", "exec", "-i", "toil_leader",
         "python3 -c 'import toil.version; print(toil.version.baseVersion)'"]
    )  # fmt: skip
    assert out.stdout.strip() == "9.4.1"
