"""The align step's decisions: never twice, never silently over an existing job store."""

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "cactus_run", Path(__file__).parents[2] / "plugins" / "filter" / "cactus_run.py"
)
cactus_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cactus_run)

JS = "aws:us-west-2:run-jobstore"


@pytest.mark.parametrize(
    ("record", "alive", "state"),
    [
        (None, False, "none"),
        ({}, False, "none"),
        ({"state": "running"}, True, "running"),
        ({"state": "running"}, False, "interrupted"),
        ({"state": "finished"}, False, "finished"),
        ({"state": "failed"}, False, "failed"),
    ],
)
def test_state(record, alive, state):
    assert cactus_run.cactus_run_state(record, alive) == state


@pytest.mark.parametrize(
    ("state", "record_js", "restart", "exists", "action", "words"),
    [
        ("none", None, False, False, "start", "Starting"),
        ("none", None, False, True, "fail", "already exists"),
        ("running", JS, False, True, "skip", "not starting another"),
        ("running", JS, True, True, "skip", "not starting another"),
        ("running", "aws:us-west-2:other", False, False, "skip", "not starting another"),
        ("interrupted", JS, False, True, "fail", "--tags restart"),
        ("failed", JS, False, True, "fail", "--tags restart"),
        ("interrupted", JS, True, True, "restart", "Restarting"),
        ("failed", JS, True, True, "restart", "Restarting"),
        ("finished", JS, False, False, "skip", "finished"),
        ("finished", JS, True, False, "fail", "does not exist"),
        ("none", None, True, False, "fail", "does not exist"),
        ("none", None, True, True, "restart", "Restarting"),
        ("finished", "aws:us-west-2:older", False, False, "start", "Starting"),
        ("failed", "aws:us-west-2:older", False, True, "fail", "already exists"),
    ],
)
def test_action(state, record_js, restart, exists, action, words):
    decision = cactus_run.cactus_run_action(state, record_js, restart, exists, JS)
    assert decision["action"] == action
    assert words in decision["message"]


def test_elapsed():
    record = {"started_at": "2026-11-24T01:00:00+00:00"}
    assert cactus_run.cactus_run_elapsed(record, "2026-11-24T02:01:05+00:00") == "1:01:05"
    record["ended_at"] = "2026-11-24T01:00:30+00:00"
    assert cactus_run.cactus_run_elapsed(record, "2026-11-24T09:00:00+00:00") == "0:00:30"
    assert cactus_run.cactus_run_elapsed({}, "2026-11-24T09:00:00+00:00") is None
    # Ansible's now(utc=true) is naive: read as UTC.
    naive = {"started_at": "2026-11-24T01:00:00"}
    assert cactus_run.cactus_run_elapsed(naive, "2026-11-24T01:00:09+00:00") == "0:00:09"


PLAN = {"jobstore": JS, "cactus_argv": ["cactus", JS, "seq.txt", "out.hal"], "output": "/tmp/out.hal",
        "cluster_type": "kubernetes", "cost_per_hour": {"total": None, "known_total": 1.5}}


def test_summary_of_a_cluster_run():
    lines = cactus_run.cactus_run_summary(PLAN, {}, None, cluster_name="run", zone="us-west-2a")
    assert lines[:2] == ["cluster:   run (kubernetes) in us-west-2a", "leader:    not running"]
    assert "state:     not started" in lines and "cost:      at most $1.50/hour + unknown prices" in lines
    assert lines[-1] == "tear down: ansible-playbook teardown.yml"
    record = {"argv": ["/v/bin/cactus", JS, "--restart"], "state": "finished"}
    lines = cactus_run.cactus_run_summary({**PLAN, "cost_per_hour": {"total": 2.0}}, record, "running",
                                          cluster_name="run", zone="z", target_host="run-leader",
                                          leader_address="203.0.113.9")
    assert "leader:    203.0.113.9" in lines and f"command:   /v/bin/cactus {JS} --restart" in lines
    assert "state:     running" in lines and "cost:      at most $2.00/hour" in lines
    # the run report, once fetch or status wrote it
    lines = cactus_run.cactus_run_summary(PLAN, record, "finished", cluster_name="run", zone="z",
                                          report="runs/run/report.html")
    assert "report:    runs/run/report.html" in lines


def test_summary_of_a_host_run_names_the_inventory_and_target():
    plan = {**PLAN, "batch_system": "single_machine"}
    lines = cactus_run.cactus_run_summary(plan, {"state": "finished"}, None, target_host="lab", host_run=True,
                                          inventory_sources=["/my inv"], target_hosts="lab")
    assert lines[0].startswith("host:      lab (--batchSystem single_machine;")
    again = "-i '/my inv' -e cactus_target_hosts=lab"
    assert f"status:    ansible-playbook run_alignment.yml {again} --tags status" in lines
    assert "state:     finished" in lines and not any(line.startswith(("cost", "tear")) for line in lines)


def test_transfer_rsync_goes_through_the_appliance_like_the_connection():
    from ansible_collections.genomics.cactus.plugins.filter.cactus_transfer import cactus_transfer_rsync_argv

    argv = cactus_transfer_rsync_argv(
        "/c/stage", "/opt/cactus/runs/r/genomes", connection="genomics.cactus.toil_appliance",
        host="203.0.113.9", user="core", rsh="ssh -p 22", options=["--bwlimit=5m"],
    )
    assert argv[argv.index("--rsync-path") + 1] == "docker exec -i toil_leader rsync"
    assert argv[-3:] == ["--bwlimit=5m", "/c/stage/", "core@203.0.113.9:/opt/cactus/runs/r/genomes/"]
    host = cactus_transfer_rsync_argv("/c/stage", "/home/a/g", connection="ssh", host="lab")
    assert host[host.index("--rsync-path") + 1] == "rsync" and host[-1] == "lab:/home/a/g/"
    assert cactus_transfer_rsync_argv("/c/stage", "/home/a/g", connection="local")[-1] == "/home/a/g/"


def test_summary_of_a_failed_run_names_the_cause_and_what_changed():
    failure = {"cause": "out of disk", "restart": False}
    lines = cactus_run.cactus_run_summary(PLAN, {"state": "failed"}, "failed", cluster_name="run", zone="z",
                                          failure=failure, changed_inputs=["genome a"])
    assert "state:     failed: out of disk (of earlier inputs: genome a)" in lines
    assert not any(line.startswith("restart:") for line in lines)


def test_summary_next_steps_follow_the_state():
    def steps(record, state, fetched=None):
        lines = cactus_run.cactus_run_summary(PLAN, record, state, cluster_name="run", zone="z",
                                              fetched=fetched)
        named = [line.split(":")[0] for line in lines]
        return [name for name in named if name in ("status", "restart", "fetch")], lines

    finished = {"state": "finished", "jobstore": JS}
    assert steps(finished, "finished")[0] == ["status", "fetch"]  # no restart: nothing to restart
    named, lines = steps(finished, "finished", {"jobstore": JS, "sha256": "ab"})
    assert named == ["status"] and "output:    /tmp/out.hal (fetched, checksum verified)" in lines
    # a fetch of an earlier run (another job store) is not this run's
    assert steps(finished, "finished", {"jobstore": "aws:us-west-2:old"})[0] == ["status", "fetch"]
    assert steps({"state": "running"}, "running")[0] == ["status", "fetch"]
    assert steps({"state": "running"}, "interrupted")[0] == ["status", "restart"]


def test_summary_after_the_teardown_after_fetch():
    record = {"state": "finished", "jobstore": JS}
    lines = cactus_run.cactus_run_summary(PLAN, record, "finished", cluster_name="run", zone="z",
                                          target_host="run-leader", leader_address="203.0.113.9",
                                          fetched={"jobstore": JS}, torn_down=True)
    assert lines[:2] == ["cluster:   run (kubernetes) in z: torn down after the verified fetch",
                         "leader:    not running"]
    assert not any(line.startswith(("status", "restart", "fetch", "tear down")) for line in lines)


def test_plan_file_loads_the_plan_or_says_what_to_run(tmp_path):
    from ansible.errors import AnsibleFilterError

    (tmp_path / "plan.json").write_text('{"jobstore": "aws:us-west-2:r"}')
    assert cactus_run.cactus_plan_file(str(tmp_path)) == {"jobstore": "aws:us-west-2:r"}
    with pytest.raises(AnsibleFilterError, match=r"No plan at .*/nope/plan.json: run the plan step first "
                       r"\(ansible-playbook run_alignment.yml --tags prereqs,plan\)"):  # fmt: skip
        cactus_run.cactus_plan_file(str(tmp_path / "nope"))
    (tmp_path / "plan.json").write_text("{")
    with pytest.raises(AnsibleFilterError, match="Cannot read the plan .*: run the plan step again"):
        cactus_run.cactus_plan_file(str(tmp_path))


def test_a_step_without_a_plan_is_one_message_in_its_own_words(tmp_path):
    """load_plan in one task: the filter's message, as the compact callback shows it (no Ansible wrapping)."""
    import subprocess
    import sys

    top = Path(__file__).parents[2]
    playbook = tmp_path / "step.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  connection: local\n  tasks:\n"
        "    - ansible.builtin.import_role:\n        name: genomics.cactus.cactus_common\n"
        "        tasks_from: load_plan\n"
        f"      vars:\n        cactus_run_dir: {tmp_path}\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ANSIBLE_CONFIG": str(top / "ansible.cfg")}
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook)]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode != 0 and "FAILED! genomics.cactus.cactus_common : Load the plan" in done.stdout
    assert f"  No plan at {tmp_path}/plan.json: run the plan step first" in done.stdout, done.stdout
    assert "Task failed" not in done.stdout and "filter plugin" not in done.stdout, done.stdout
