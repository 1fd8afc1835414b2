"""The roles' filters for Toil's rules: the same answers as toil_rules/toil_aws (their one home)."""

from ansible_collections.genomics.cactus.plugins.filter.toil_cluster import FilterModule

FILTERS = FilterModule().filters()


def instance(instance_id, launch_time, node_type="leader", state="running", group="birds"):
    """An instance as amazon.aws.ec2_instance_info returns it."""
    return {
        "instance_id": instance_id,
        "launch_time": launch_time,
        "state": {"name": state},
        "tags": {"ToilNodeType": node_type} if node_type else {},
        "security_groups": [{"group_name": group}],
        "public_ip_address": "203.0.113.7",
        "instance_type": "t2.medium",
    }


def test_cluster_states():
    state = FILTERS["toil_cluster_state"]
    t0, t1 = "2025-01-01T00:00:00+00:00", "2025-01-01T00:00:05+00:00"
    assert state([], [], "birds")["state"] == "absent"
    assert state([], [{"group_name": "birds"}], "birds")["state"] == "headless"
    healthy = state([instance("i-2", t1, "worker"), instance("i-1", t0)], [], "birds")
    assert healthy["state"] == "healthy" and healthy["leader"]["instance_id"] == "i-1"
    assert state([instance("i-1", t0, state="stopped")], [], "birds")["state"] == "stopped"
    # Equal launch times: the instance tagged leader, as the inventory plugin decides.
    tie = state([instance("i-1", t0, "worker"), instance("i-2", t0)], [], "birds")
    assert tie["leader"]["instance_id"] == "i-2"
    wrong = state([instance("i-1", t0, "worker"), instance("i-2", t1)], [], "birds")
    assert wrong["state"] == "not_leader" and "i-1" in wrong["message"] and "Fix:" in wrong["message"]
    # Terminated instances and another cluster's group are not this cluster.
    assert state([instance("i-1", t0, state="terminated"), instance("i-3", t0, group="birds-2")], [],
                 "birds")["state"] == "absent"


def test_leader_state_from_the_inventory_is_the_state_from_aws():
    """What the inventory found (its host variables) gives the launch step the same answer as asking AWS."""
    t0 = "2025-01-01T00:00:00+00:00"
    for aws_state in ("running", "pending", "stopped", "stopping"):
        from_aws = FILTERS["toil_cluster_state"]([instance("i-1", t0, state=aws_state)], [], "birds")
        hostvars = {"toil_instance_id": "i-1", "toil_state": aws_state, "toil_public_ip": "203.0.113.7",
                    "toil_private_ip": "", "toil_instance_type": "t2.medium", "toil_launch_time": t0}
        assert FILTERS["toil_leader_state"](hostvars, "birds") == from_aws, aws_state


def test_names():
    assert FILTERS["toil_zone_region"]("us-west-2b") == "us-west-2"
    assert FILTERS["toil_zone_region"]("us-west-2") == ""  # pre-flight's names check says why
    assert FILTERS["toil_jobstore_bucket"]("birds-jobstore") == "birds-jobstore--toil"
    assert FILTERS["toil_jobstore_locator"]("us-west-2", "birds-jobstore") == "aws:us-west-2:birds-jobstore"
    assert FILTERS["toil_jobstore_name"]("aws:us-west-2:birds-jobstore") == "birds-jobstore"
    assert FILTERS["toil_jobstore_name"]("/home/a/cactus/runs/r/jobstore") == "/home/a/cactus/runs/r/jobstore"
    assert FILTERS["toil_jobstore_name"]("") == FILTERS["toil_jobstore_name"](None) == ""
    assert FILTERS["toil_role_name"]("cactus-run") == "cactus_run_toil"


def test_paths_filters():
    from ansible_collections.genomics.cactus.plugins.filter.cactus_paths import FilterModule as Paths

    paths = Paths().filters()
    assert paths["cactus_s3_location"]("s3://my-bucket/runs/birds.hal") == {"bucket": "my-bucket",
                                                                            "key": "runs/birds.hal"}
    assert paths["cactus_run_name"]("", "cactus-birds") == "cactus-birds"
    assert paths["cactus_run_name"]("slurm login[1]", "cactus-birds") == "slurm-login-1-"
