"""The progress line of a running alignment: Toil's log counted, workers by type, back-off."""

import json

from ansible_collections.genomics.cactus.plugins.module_utils import cactus_progress as p
from ansible_collections.genomics.cactus.plugins.module_utils.toil_aws import in_cluster

LOG = """Running Toil version 9.4.1 on host vm.
Issued job 'align_all' kind-1 v1 with job batch system ID: 1 and disk: 244.1 Mi
0 jobs are running, 0 jobs are issued and waiting to run
Issued job 'summarise_genome' kind-2 v1 with job batch system ID: 2 and disk: 256.0 Mi
Issued job 'summarise_genome' kind-3 v1 with job batch system ID: 3 and disk: 256.0 Mi
Job failed with exit value 1: 'summarise_genome' kind-3 v1
Exit reason: FAILED
Issued job 'summarise_genome' kind-3 v2 with job batch system ID: 4 and disk: 256.0 Mi
Issued job 'write_hal' kind-4 v1 with job batch system ID: 5 and disk: 244.1 Mi
2 jobs are running, 1 jobs are issued and waiting to run
"""


def test_jobs_from_toils_own_log_lines():
    jobs = p.log_job_counts(LOG)
    # 5 issued, 1 failed attempt retried, none failed for good; the last hint: 2 running, 1 waiting
    assert jobs == {"issued": 5, "failed": 0, "retried": 1, "running": 2, "waiting": 1, "done": 1}
    assert p.log_job_counts("Issued job 'a' x\n") == {"issued": 1, "failed": 0, "retried": 0}
    gave_up = LOG + "Job 'x' kind-3 v3 is completely failed\nJob failed with exit value 1: x\n"
    assert p.log_job_counts(gave_up)["failed"] == 1


def test_probe_output_parsed():
    record = {"state": "running", "started_at": "2026-12-06T02:56:52", "log_file": "/r/cactus.log"}
    hint = "2 jobs are running, 1 jobs are issued and waiting to run"
    out = f"alive\n5 1 0\n{hint}\n{json.dumps(record)}\n"
    probe = p.parse_probe(out)
    assert probe["alive"] and probe["record"] == record
    assert probe["jobs"]["running"] == 2 and probe["jobs"]["done"] == 1
    before_log = p.parse_probe("gone\n\n\n{}\n")
    assert before_log == {"alive": False, "record": {}, "jobs": {}}
    assert p.parse_probe("gone\n\n\nnot json")["record"] == {}


def test_progress_line():
    jobs = p.log_job_counts(LOG)
    line = p.progress_line("running", "0:01:05", jobs, {"c5.4xlarge": 2, "r5.8xlarge": 1})
    assert line == ("running | 0:01:05 elapsed | jobs: 5 issued, 1 done, 2 running, 1 waiting, 0 failed"
                    " (1 retried) | workers: 2 c5.4xlarge, 1 r5.8xlarge")
    started = p.progress_line("running", "0:00:03", {}, {})
    assert started == "running | 0:00:03 elapsed | jobs: none yet | workers: none"
    assert "workers" not in p.progress_line("running", "", {}, None)  # a host run has no workers


def test_back_off_from_seconds_to_the_interval():
    delays, delay = [], 5.0
    for _ in range(6):
        delays.append(delay)
        delay = p.next_delay(delay, 60)
    assert delays == [5, 10, 20, 40, 60, 60]
    assert p.next_delay(5, 3) == 3


def _instance(iid, kind, group="run", state="running", leader=False):
    tags = [{"Key": "ToilNodeType", "Value": "leader" if leader else "worker"}]
    return {"InstanceId": iid, "InstanceType": kind, "State": {"Name": state}, "Tags": tags,
            "SecurityGroups": [{"GroupName": group}]}


def test_workers_by_type_only_the_clusters_running_workers():
    instances = [_instance("i-1", "m5.large", leader=True), _instance("i-2", "c5.4xlarge"),
                 _instance("i-3", "c5.4xlarge"), _instance("i-4", "r5.8xlarge", state="pending"),
                 _instance("i-5", "c5.4xlarge", state="terminated"),
                 _instance("i-6", "c5.4xlarge", group="run-2")]
    assert p.nodes_by_type(instances, "run", in_cluster) == {"c5.4xlarge": 2, "r5.8xlarge": 1}
