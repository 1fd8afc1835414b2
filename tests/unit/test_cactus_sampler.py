"""The sampler on the leader: Toil's job lines counted as the log grows, the workers Toil's leader sees
(Kubernetes nodes, Mesos agents) by type, a real run of the script that stops when its process ends, and
its samples folded into the spend."""

import json
import os
import subprocess
import sys
import time

from ansible_collections.genomics.cactus.plugins.module_utils import cactus_sampler as s
from ansible_collections.genomics.cactus.plugins.module_utils import cactus_spend

PLAN_NODES = {"node_types": ["m5.12xlarge:0.6", "r5.24xlarge"],
              "instance_facts": {"m5.12xlarge": {"vcpus": 48, "memory": 192 * 2**30},
                                 "r5.24xlarge": {"vcpus": 96, "memory": 768 * 2**30}}}  # fmt: skip
TABLE = s.node_table(PLAN_NODES)


def test_log_counter_reads_on_from_where_it_stopped(tmp_path):
    log = tmp_path / "cactus.log"
    counter = s.LogCounter(str(log))
    assert counter.counts() == {}  # no log yet
    log.write_text("Issued job 'a'\nIssued job 'b'\nJob failed with exit value 1\nIssued job 'c")
    assert counter.counts() == {"issued": 2, "failed": 0, "retried": 1}  # 'c' is still being written
    with log.open("a") as f:
        f.write("'\n2 jobs are running, 0 jobs are issued and waiting to run\n")
    assert counter.counts() == {"issued": 3, "failed": 0, "retried": 1, "running": 2, "waiting": 0, "done": 0}


def test_kubernetes_nodes_by_instance_type_label_without_the_control_plane():
    def node(address, kind, control=False, ready="True"):
        labels = {"node.kubernetes.io/instance-type": kind}
        if control:
            labels["node-role.kubernetes.io/control-plane"] = ""
        return {"metadata": {"name": f"ip-{address}", "labels": labels},
                "status": {"addresses": [{"type": "InternalIP", "address": address}],
                           "conditions": [{"type": "Ready", "status": ready}]}}  # fmt: skip

    nodes = {"items": [node("10.0.0.1", "t2.medium", control=True), node("10.0.0.2", "m5.12xlarge"),
                       node("10.0.0.3", "m5.12xlarge"), node("10.0.0.4", "r5.24xlarge"),
                       node("10.0.0.5", "r5.24xlarge", ready="False")]}  # fmt: skip
    found = s.kubernetes_nodes(nodes)
    assert found == {"10.0.0.2": "m5.12xlarge", "10.0.0.3": "m5.12xlarge", "10.0.0.4": "r5.24xlarge"}
    assert s.by_type(found) == {"m5.12xlarge": 2, "r5.24xlarge": 1}


def test_mesos_agents_matched_to_the_plan_node_types():
    slaves = {"slaves": [
        {"hostname": "10.0.0.2", "active": True, "attributes": {"preemptible": "True"},
         "resources": {"cpus": 48, "mem": 190 * 1024}},
        {"hostname": "10.0.0.3", "active": True, "attributes": {"preemptible": "False"},
         "resources": {"cpus": 96, "mem": 760 * 1024}},
        {"hostname": "10.0.0.4", "active": False, "resources": {"cpus": 96, "mem": 760 * 1024}},
    ]}  # fmt: skip
    assert s.mesos_nodes(slaves, TABLE) == {"10.0.0.2": "m5.12xlarge", "10.0.0.3": "r5.24xlarge"}
    assert s.classify(4, 1024, False, []) == "?"


def test_no_cluster_manager_means_nodes_unknown_not_none_running():
    assert s.look_at_nodes("", TABLE) is None
    counter = s.LogCounter("/nonexistent")
    point = s.sample(counter, "", TABLE)
    assert point["nodes"] is None and point["jobs"] == {} and point["at"].endswith("+00:00")


def test_the_script_samples_then_stops_when_its_process_ends(tmp_path):
    """As run-cactus.sh starts it: a plain script beside cactus_progress.py, watching a process."""
    here = os.path.dirname(s.__file__)
    for name in ("cactus_sampler.py", "cactus_progress.py"):
        (tmp_path / name).write_bytes(open(os.path.join(here, name), "rb").read())  # noqa: SIM115
    log, out = tmp_path / "cactus.log", tmp_path / "samples.jsonl"
    log.write_text("Issued job 'a'\n")
    watched = subprocess.Popen(["sleep", "3"])
    started = time.monotonic()
    sampler = subprocess.run(
        [sys.executable, "-I", str(tmp_path / "cactus_sampler.py"), "--out", str(out), "--log", str(log),
         "--pid", str(watched.pid), "--interval", "1", "--node-types", json.dumps(PLAN_NODES)],
        timeout=30, capture_output=True, text=True, check=False)  # fmt: skip
    watched.wait()
    assert sampler.returncode == 0, sampler.stderr
    samples = s.read_samples(out.read_text() + '{"cut sh')
    assert 2 <= len(samples) <= 6 and time.monotonic() - started < 15, samples
    assert all(p["jobs"]["issued"] == 1 and p["nodes"] is None for p in samples)


def test_samples_give_the_spend_its_last_seen_times():
    samples = [{"at": "2026-12-06T10:00:00+00:00", "addresses": {"10.0.0.2": "m5.12xlarge"}},
               {"at": "2026-12-06T11:00:00+00:00", "addresses": {"10.0.0.2": "m5.12xlarge",
                                                                 "10.0.0.9": "r5.24xlarge"}},
               {"at": "2026-12-06T11:30:00+00:00", "addresses": {}, "nodes": {}}]  # fmt: skip
    seen = s.last_seen_by_address(samples)
    known = {"i-w1": {"InstanceId": "i-w1", "InstanceType": "m5.12xlarge", "InstanceLifecycle": "spot",
                      "LaunchTime": "2026-12-06T09:30:00+00:00", "PrivateIpAddress": "10.0.0.2",
                      "State": {"Name": "gone"}}}  # fmt: skip
    last_seen = {"i-w1": "2026-12-06T10:15:00+00:00"}  # the controller's last look
    cactus_spend.with_samples(known, last_seen, seen, spot_types=["m5.12xlarge"])
    assert last_seen == {"i-w1": "2026-12-06T11:00:00+00:00", "sampled:10.0.0.9": "2026-12-06T11:00:00+00:00"}
    prices = {"spot": {"m5.12xlarge": 0.6}, "on-demand": {"r5.24xlarge": 6.048}}
    result = cactus_spend.spend(list(known.values()), [], prices, "2026-12-06T12:00:00+00:00", last_seen)
    # by hand: 1.5 h of spot m5.12xlarge (launch to its last sample), 0 h of the r5 seen in one sample only
    assert result["total"] == round(1.5 * 0.6, 4) and result["rate"] == 0
