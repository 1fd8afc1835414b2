"""Progress of a running alignment, in one line per look: state, elapsed time, Toil's jobs, worker nodes.

One look is one shell command on the target (probe_argv: the tmux session, the run record, counts of
Toil's own log lines in cactus's --logFile), read by parse_probe; the nodes come from EC2 on the
controller (nodes_by_type). Used by the action plugin genomics.cactus.cactus_progress (the align step's
wait and the status step)."""

from __future__ import annotations

import json
import re

# Toil 9.4.1's leader logs at INFO (toil/leader.py): one line per issued job, one per failed attempt,
# one per job that failed for good, and now and then "N jobs are running, M jobs are issued and waiting".
_ISSUED = "Issued job "
_FAILED = "Job failed with exit value"
_GAVE_UP = "is completely failed"
_HINT = re.compile(r"(\d+) jobs are running, (\d+) jobs are issued and waiting to run")

_PROBE = r"""
session=$1 record=$2
tmux has-session -t "$session" 2>/dev/null && echo alive || echo gone
log=$(sed -n 's/.*"log_file": *"\([^"]*\)".*/\1/p' "$record" 2>/dev/null | head -n 1)
if [ -n "$log" ] && [ -f "$log" ]; then
  printf '%s %s %s\n' "$(grep -c -F 'Issued job ' "$log")" \
    "$(grep -c -F 'Job failed with exit value' "$log")" \
    "$(grep -c -F 'is completely failed' "$log")"
  grep -E -o '[0-9]+ jobs are running, [0-9]+ jobs are issued and waiting to run' "$log" | tail -n 1
  echo
else
  printf '\n\n'
fi
cat "$record" 2>/dev/null || echo '{}'
"""


def probe_argv(session: str, record_path: str) -> list[str]:
    """The one command a look runs on the target: prints 'alive'/'gone', the job counts, the record."""
    return ["sh", "-c", _PROBE, "probe", session, record_path]


def parse_probe(stdout: str) -> dict:
    """{alive, record, jobs} from probe_argv's output; jobs is {} before the log exists."""
    lines = stdout.split("\n")
    alive = lines[0].strip() == "alive"
    counts, hint = lines[1].split(), lines[2] if len(lines) > 2 else ""
    try:
        record = json.loads("\n".join(lines[3:]) or "{}")
    except ValueError:
        record = {}
    jobs = {}
    if len(counts) == 3:
        jobs = job_counts(*(int(c) for c in counts), hint)
    return {"alive": alive, "record": record if isinstance(record, dict) else {}, "jobs": jobs}


def job_counts(issued: int, failed_attempts: int, failed: int, hint: str = "") -> dict:
    """Jobs from Toil's log: issued so far, failed attempts (Toil retries them), failed for good, and,
    once the leader has said it, running and waiting (done = issued - running - waiting - attempts)."""
    jobs = {"issued": issued, "failed": failed, "retried": max(0, failed_attempts - failed)}
    found = _HINT.search(hint or "")
    if found:
        running, waiting = int(found.group(1)), int(found.group(2))
        jobs.update(running=running, waiting=waiting,
                    done=max(0, issued - running - waiting - failed_attempts))  # fmt: skip
    return jobs


def log_job_counts(text: str) -> dict:
    """The same counts from a log's text (unit tests, and a log already on the controller)."""
    hints = _HINT.findall(text)
    hint = ""
    if hints:
        hint = f"{hints[-1][0]} jobs are running, {hints[-1][1]} jobs are issued and waiting to run"
    return job_counts(text.count(_ISSUED), text.count(_FAILED), text.count(_GAVE_UP), hint)


def nodes_by_type(instances, cluster: str, in_cluster) -> dict:
    """Running worker instances of the cluster by instance type ({} when none): the leader is not a worker."""
    nodes: dict[str, int] = {}
    for instance in instances:
        tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags") or []}
        state = (instance.get("State") or {}).get("Name")
        worker = tags.get("ToilNodeType") != "leader"
        if in_cluster(instance, cluster) and state in ("pending", "running") and worker:
            kind = instance.get("InstanceType", "?")
            nodes[kind] = nodes.get(kind, 0) + 1
    return dict(sorted(nodes.items()))


def progress_line(state: str, elapsed_text: str, jobs: dict, nodes: dict | None) -> str:
    """One line a person reads while waiting; nodes None: not a cluster (a host run)."""
    parts = [state]
    if elapsed_text:
        parts.append(f"{elapsed_text} elapsed")
    if jobs:
        text = f"jobs: {jobs['issued']} issued"
        if state != "running":
            pass  # Toil's last running/waiting line is stale once the run is over
        elif "done" in jobs:
            text += f", {jobs['done']} done, {jobs['running']} running, {jobs['waiting']} waiting"
        text += f", {jobs['failed']} failed"
        if jobs.get("retried"):
            text += f" ({jobs['retried']} retried)"
        parts.append(text)
    else:
        parts.append("jobs: none yet")
    if nodes is not None:
        parts.append("workers: " + (", ".join(f"{n} {kind}" for kind, n in nodes.items()) or "none"))
    return " | ".join(parts)


def next_delay(delay: float, interval: float) -> float:
    """Back off from a few seconds to the configured interval: short runs end fast, long ones poll rarely."""
    return min(max(delay, 1.0) * 2, interval)
