"""Filters that decide what to do with a Cactus run, from its run record.

The run record (run.json, on the leader under the run directory, copied to the controller's run
directory) holds the exact argv, the job store, start and end times, the log path and the state.
The wrapper script that runs cactus on the leader writes the end: state finished or failed, exit code.
"""

import datetime
import json
import shlex

from ansible.errors import AnsibleFilterError

STATES = ("none", "running", "interrupted", "finished", "failed")


def cactus_run_state(record, session_alive):
    """State of a run: none (no record), running, interrupted (the record says running but the
    tmux session is gone: killed, or the appliance was re-created), finished, failed."""
    if not record:
        return "none"
    state = record.get("state", "running")
    if state == "running" and not session_alive:
        return "interrupted"
    return state


def cactus_run_action(state, record_jobstore, restart, jobstore_exists, jobstore,
                      name_variable="toil_jobstore_name"):
    """What the align step does: {action: start|restart|skip|fail, message}.

    state and record_jobstore describe the recorded run; jobstore is the plan's; name_variable is
    the setting that names the job store (cactus_run_name on an inventory host). Never a second
    copy of a running alignment; never silently over an existing job store; a restart needs the
    job store (a successful run deletes it: Toil's --clean onSuccess).
    """
    if state == "running":
        return _act(
            "skip", "The alignment is running: not starting another copy. Watch it with --tags status."
        )
    if record_jobstore != jobstore:
        state = "none"  # the record is of an earlier run with another job store
    if restart:
        if not jobstore_exists:
            return _act(
                "fail",
                f"Cannot restart: job store {jobstore} does not exist (a finished run deletes it, and a run "
                "that never started has none). Start a new run with --tags align.",
            )
        return _act("restart", f"Restarting the alignment from job store {jobstore}.")
    if state == "finished":
        return _act("skip", "The alignment finished: nothing to start.")  # the summary says what next
    if state in ("interrupted", "failed") and jobstore_exists:
        how = "stopped before finishing" if state == "interrupted" else "failed"
        return _act(
            "fail",
            f"The last alignment {how} and its "
            f"job store {jobstore} still exists: continue it with --tags restart (see the log with --tags "
            "status), or delete the job store (toil clean) to start over.",
        )
    if jobstore_exists:
        return _act(
            "fail",
            f"Job store {jobstore} already exists: a run of this name was started before. Continue it with "
            f"--tags restart, or pick another {name_variable}, or delete it with toil clean.",
        )
    return _act("start", f"Starting the alignment with job store {jobstore}.")


def cactus_run_elapsed(record, now_iso):
    """Elapsed time of a run as H:MM:SS: to its end, or to now_iso while it has none."""
    if not record or "started_at" not in record:
        return None
    start = _utc(record["started_at"])
    end = _utc(record.get("ended_at") or now_iso)
    return str(datetime.timedelta(seconds=max(0, int((end - start).total_seconds()))))


def _utc(iso):
    """Parse an ISO time; a time without an offset is UTC (Ansible's now(utc=true) has none)."""
    moment = datetime.datetime.fromisoformat(iso)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _act(action, message):
    return {"action": action, "message": message}


def cactus_run_summary(plan, record=None, state=None, *, cluster_name="", zone="", target_host="",
                       leader_address="", host_run=False, inventory_sources=(), target_hosts="",
                       failure=None, changed_inputs=(), fetched=None, torn_down=False, spent=None,
                       report=""):
    """The lines every run ends with: where things are, what state the run is in, what to do next.

    plan: the plan (plan.json); record: the run record (run.json), {} before the start; state: the
    state read on the target this run (None: the record's, or 'not started'); failure: the cause of a
    failed run that status found ({cause, restart}: restart false when a restart cannot help);
    changed_inputs: what changed since the run started; fetched: the fetch's record (fetched.json), {}
    before a fetch. A host run is found again with the same inventory and target, so its next commands
    carry them. The next steps follow the state: no restart after a success, no fetch once this run's
    HAL was fetched and verified; torn_down (cactus_teardown_after_fetch did it): nothing left to do;
    spent: the last point of the run's spend series (spend.jsonl), None before any look; report: the path
    of the run report (report.html), "" before there is one.
    """
    record = record or {}
    state = state or record.get("state") or "not started"
    failure = (failure or {}) if state == "failed" else {}
    fetched = fetched or {}
    # Fetched: this record's job store's HAL is home and verified (an older fetch is of another run).
    is_fetched = state == "finished" and bool(fetched) and fetched.get("jobstore") == record.get("jobstore")
    if host_run:
        lines = [f"host:      {target_host} (--batchSystem {plan.get('batch_system', '')}; "
                 "no cloud resource, no AWS call)"]
        again = "".join(f" -i {shlex.quote(s)}" for s in inventory_sources)
        again += f" -e cactus_target_hosts={shlex.quote(target_hosts)}"
    else:
        lines = [f"cluster:   {cluster_name} ({plan.get('cluster_type', '')}) in {zone}"
                 + (": torn down after the verified fetch" if torn_down else ""),
                 f"leader:    {leader_address if target_host and not torn_down else 'not running'}"]
        again = ""
    lines += [
        f"job store: {plan['jobstore']}",
        f"command:   {' '.join(record.get('argv') or plan['cactus_argv'])}",
        f"state:     {state}" + (f": {failure['cause']}" if failure.get("cause") else "")
        + (f" (of earlier inputs: {'; '.join(changed_inputs)})" if changed_inputs else ""),
        f"output:    {plan['output']}" + (" (fetched, checksum verified)" if is_fetched else ""),
    ]
    if not host_run:
        cost = plan.get("cost_per_hour") or {}
        if cost.get("total") is not None:
            lines.append(f"cost:      at most ${cost['total']:.2f}/hour")
        else:
            lines.append(f"cost:      at most ${cost.get('known_total', 0):.2f}/hour + unknown prices")
        if spent:
            lines.append(f"spent:     ${spent['total']:.2f} by {spent['at']} (then ${spent['rate']:.2f}/hour"
                         + (", still billing until torn down)" if not torn_down else ")"))
    if report:
        lines.append(f"report:    {report}")
    if torn_down:
        return lines
    for tag in ("status", "restart", "fetch"):
        if tag == "restart" and (not failure.get("restart", True) or state not in ("interrupted", "failed")):
            continue
        if tag == "fetch" and (is_fetched or state not in ("finished", "running")):
            continue
        lines.append(f"{tag + ':':<11}ansible-playbook run_alignment.yml{again} --tags {tag}")
    if not host_run:
        lines.append("tear down: ansible-playbook teardown.yml")
    return lines


def cactus_plan_file(run_dir):
    """The plan the cactus_plan role wrote in run_dir (plan.json), for a step run alone; a missing or
    unreadable plan fails with what to run."""
    path = f"{run_dir}/plan.json"
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise AnsibleFilterError(f"No plan at {path}: run the plan step first "
                                 "(ansible-playbook run_alignment.yml --tags prereqs,plan).") from None
    except (OSError, ValueError) as e:
        raise AnsibleFilterError(f"Cannot read the plan {path} ({e}): run the plan step again "
                                 "(ansible-playbook run_alignment.yml --tags prereqs,plan).") from None


class FilterModule:
    def filters(self):
        return {
            "cactus_run_state": cactus_run_state,
            "cactus_run_action": cactus_run_action,
            "cactus_run_elapsed": cactus_run_elapsed,
            "cactus_run_summary": cactus_run_summary,
            "cactus_plan_file": cactus_plan_file,
        }
