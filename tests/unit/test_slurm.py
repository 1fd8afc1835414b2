"""Slurm pre-flight rules (module_utils cactus_slurm): sinfo parsing with Toil's time parser, and the
judgement of what the login-node probe saw, each failure naming the variable."""

import pytest
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_plan import PlanError
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_slurm import (
    check_slurm,
    parse_sinfo,
    run_comment,
    slurm_seconds,
)

SINFO = "\n".join([
    "batch*|up|1:00:00|2|12052|vm",
    "long|up|2-00:00:00|64+|512000|n[1-2]",
    "long|up|2-00:00:00|32|256000|n3",
    "maint|down|2:00:00|2|12052|vm",
    "free|up|infinite|8|16000|n4",
])  # fmt: skip


def probe(sinfo=SINFO, fs_type="nfs", test_rc=0, test_out="sbatch: Job 7 to start at now", hostname="vm"):
    return {"run_dir": "/home/alice/cactus/runs/r", "hostname": hostname, "fs_type": fs_type,
            "sinfo": {"rc": 0, "out": sinfo}, "test_only": {"rc": test_rc, "out": test_out}}


def test_parse_sinfo_takes_the_smallest_node_and_the_default():
    parts = parse_sinfo(SINFO)
    assert parts["batch"]["default"] and parts["batch"]["seconds"] == 3600 and parts["batch"]["up"]
    assert (parts["long"]["cpus"], parts["long"]["memory_mb"]) == (32, 256000)
    assert parts["long"]["seconds"] == 2 * 86400 and parts["free"]["seconds"] is None
    assert not parts["maint"]["up"]


def test_the_default_partition_and_its_limits_become_facts():
    facts, warnings = check_slurm(probe())
    assert facts == {"name": "batch", "default": True, "time_limit": "1:00:00", "cpus": 2, "memory_mb": 12052}
    assert warnings == []
    facts, _ = check_slurm(probe(), "long", "36:00:00")
    assert facts["name"] == "long" and facts["cpus"] == 32


@pytest.mark.parametrize("kwargs,variable,fragment", [
    (dict(partition="nosuch"), "cactus_slurm_partition", "no partition 'nosuch' on this cluster"),
    (dict(partition="maint"), "cactus_slurm_partition", "partition 'maint' is not up"),
    (dict(time_limit="1:00:01"), "cactus_slurm_time", "1:00:01 is above partition 'batch''s limit 1:00:00"),
    (dict(time_limit="later"), "cactus_slurm_time", "'later' is not a Slurm time limit"),
    (dict(probe=probe(test_rc=1, test_out="sbatch: error: Invalid account")), "cactus_slurm_partition",
     "sbatch --test-only: sbatch: error: Invalid account"),
    (dict(probe=dict(probe(), sinfo={"rc": 1, "out": "slurm_load_partitions: Unable to contact"})),
     "cactus_batch_system", "sinfo failed on the login node (slurm_load_partitions: Unable to contact)"),
    (dict(probe=probe(sinfo="long|up|1:00:00|2|100|n1")), "cactus_slurm_partition", "no default partition"),
])  # fmt: skip
def test_bad_slurm_settings_name_the_variable(kwargs, variable, fragment):
    seen = kwargs.pop("probe", probe())
    with pytest.raises(PlanError) as caught:
        check_slurm(seen, kwargs.get("partition"), kwargs.get("time_limit"))
    assert caught.value.variable == variable and fragment in str(caught.value)


def test_an_unlimited_partition_takes_any_time():
    assert check_slurm(probe(), "free", "30-00:00:00")[0]["time_limit"] == "infinite"


@pytest.mark.parametrize("fs_type,hostname,warned", [
    ("nfs", "login", False), ("lustre", "login", False), ("fuse.sshfs", "login", False),
    ("ext2/ext3", "vm", False),  # the login node is the partition's only node
    ("xfs", "login", True), ("", "vm", True),
])  # fmt: skip
def test_the_job_store_filesystem_is_checked_best_effort(fs_type, hostname, warned):
    _, warnings = check_slurm(probe(fs_type=fs_type, hostname=hostname))
    assert bool(warnings) is warned
    if warned:
        assert "/home/alice/cactus/runs/r" in warnings[0]


def test_run_comment_and_times():
    assert run_comment("/home/a/cactus/runs/r") == "cactus-run:/home/a/cactus/runs/r"
    assert slurm_seconds("2-00:00:00") == 172800 and slurm_seconds("90") == 5400
