"""The sampler: runs on the leader beside the alignment and appends one JSON line every few minutes to
samples.jsonl in the run directory, so the run's history is kept while the controller is offline.

Each sample holds the time, Toil's job counts (its leader's own lines in cactus's --logFile, as
cactus_progress counts them) and the worker nodes as Toil's leader sees them, by instance type: on
Kubernetes the nodes' instance-type labels (Toil's kubeconfig), on Mesos the master's agents matched to
the plan's node types by cores, memory and preemptibility. No AWS credentials are used or needed.
It stops by itself when the process it watches (the script that runs cactus) ends, after one last sample.

Run on the leader as a script (python3 cactus_sampler.py ...; cactus_progress.py beside it); the
controller reads the samples with read_samples and last_seen_by_ip."""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import signal
import subprocess
import sys
import time

try:
    from ansible_collections.genomics.cactus.plugins.module_utils.cactus_progress import job_counts
except ImportError:  # on the leader: a plain script with cactus_progress.py beside it
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from cactus_progress import job_counts  # type: ignore[no-redef]

MIN_INTERVAL, MAX_INTERVAL = 1, 3600  # seconds between samples (the role's bounds)
_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
_CONTROL_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


class LogCounter:
    """Toil's job lines in a growing log, read from where the last read stopped (a long run's log is big)."""

    def __init__(self, path: str):
        self.path, self.offset, self.rest = path, 0, ""
        self.issued = self.attempts = self.failed = 0
        self.hint = ""

    def counts(self) -> dict:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                f.seek(self.offset)
                text = f.read()
                self.offset = f.tell()
        except OSError:
            return {}
        lines = (self.rest + text).split("\n")
        self.rest = lines.pop()  # a line still being written is counted next time
        for line in lines:
            self.issued += "Issued job " in line
            self.attempts += "Job failed with exit value" in line
            self.failed += "is completely failed" in line
            if "jobs are issued and waiting to run" in line:
                self.hint = line
        return job_counts(self.issued, self.attempts, self.failed, self.hint)


def node_table(plan_nodes: dict) -> list[dict]:
    """[{type, vcpus, memory, preemptible}] of the plan's worker node types ('type:bid' is spot), with their
    instance facts (cores, memory in bytes) from the plan."""
    facts = plan_nodes.get("instance_facts") or {}
    table = []
    for spec in plan_nodes.get("node_types") or []:
        kind = str(spec).split(":", maxsplit=1)[0]
        fact = facts.get(kind) or {}
        table.append({"type": kind, "vcpus": fact.get("vcpus"), "memory": fact.get("memory"),
                      "preemptible": ":" in str(spec)})  # fmt: skip
    return table


def classify(cpus: float, memory_mb: float, preemptible: bool, node_types: list[dict]) -> str:
    """The plan's node type a Mesos agent is: same preemptibility, same cores, then nearest memory;
    '?' when none matches (Mesos knows no instance types, only the resources an agent offers)."""
    same = [t for t in node_types if bool(t.get("preemptible")) == preemptible] or node_types
    cores = [t for t in same if int(t.get("vcpus") or 0) == int(cpus)] or same
    if not cores:
        return "?"
    memory = memory_mb * 2**20
    return min(cores, key=lambda t: abs(int(t.get("memory") or 0) - memory))["type"]


def mesos_nodes(slaves: dict, node_types: list[dict]) -> dict:
    """{agent address: type} from the Mesos master's /slaves answer (active agents only)."""
    found = {}
    for agent in slaves.get("slaves") or []:
        if agent.get("active") is False:
            continue
        resources = agent.get("resources") or {}
        preemptible = str((agent.get("attributes") or {}).get("preemptible", "")).lower() == "true"
        found[agent.get("hostname", "?")] = classify(resources.get("cpus", 0), resources.get("mem", 0),
                                                     preemptible, node_types)  # fmt: skip
    return found


def kubernetes_nodes(nodes: dict) -> dict:
    """{internal address: type} from `kubectl get nodes -o json` (or the API's node list as a dict):
    ready workers only (the control plane is the leader, not a worker)."""
    found = {}
    for node in nodes.get("items") or []:
        labels = (node.get("metadata") or {}).get("labels") or {}
        if any(label in labels for label in _CONTROL_LABELS):
            continue
        status = node.get("status") or {}
        ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
        if ready and ready[0].get("status") != "True":
            continue
        addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
        name = addresses.get("InternalIP") or (node.get("metadata") or {}).get("name", "?")
        found[name] = next((labels[label] for label in _TYPE_LABELS if label in labels), "?")
    return found


def by_type(nodes: dict) -> dict:
    counts: dict[str, int] = {}
    for kind in nodes.values():
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


def look_at_nodes(cluster_type: str, node_types: list[dict]) -> dict | None:
    """{address: type} of the workers Toil's leader sees; None when it cannot be asked (no cluster manager
    here, as on a host or the test bed)."""
    try:
        if cluster_type == "kubernetes":
            done = subprocess.run(["kubectl", "get", "nodes", "-o", "json"], capture_output=True, text=True,
                                  timeout=60, check=True)  # fmt: skip
            return kubernetes_nodes(json.loads(done.stdout))
        if cluster_type == "mesos":
            try:
                from toil.lib.misc import get_public_ip  # the address Toil's leader reaches the master at

                host = get_public_ip()
            except ImportError:
                host = "127.0.0.1"
            master = http.client.HTTPConnection(host, 5050, timeout=30)  # the leader's own Mesos master
            try:
                master.request("GET", "/slaves")
                return mesos_nodes(json.load(master.getresponse()), node_types)
            finally:
                master.close()
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return None


def sample(counter: LogCounter, cluster_type: str, node_types: list[dict]) -> dict:
    nodes = look_at_nodes(cluster_type, node_types)
    # timezone.utc, not datetime.UTC: the leader's Python may be older than 3.11
    now = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017
    return {"at": now.isoformat(timespec="seconds"),
            "jobs": counter.counts(), "nodes": None if nodes is None else by_type(nodes),
            "addresses": nodes}  # fmt: skip


def _alive(pid: int) -> bool:
    """The process runs (an ended one not yet reaped by its parent, a zombie, has ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def run(out: str, log: str, pid: int, interval: int, cluster_type: str, node_types: list[dict]) -> int:
    """Sample every `interval` seconds while process `pid` lives, then once more; returns the count."""
    stop = []
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(True))
    interval = min(max(int(interval), MIN_INTERVAL), MAX_INTERVAL)
    counter, taken = LogCounter(log), 0
    while True:
        ending = stop or not _alive(pid)
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps(sample(counter, cluster_type, node_types)) + "\n")
        taken += 1
        if ending:
            return taken
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline and not stop and _alive(pid):
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def read_samples(text: str) -> list[dict]:
    """The samples in a samples.jsonl's text (a line cut short by a copy mid-write is left out)."""
    samples = []
    for line in text.splitlines():
        try:
            point = json.loads(line)
        except ValueError:
            continue
        if isinstance(point, dict) and "at" in point:
            samples.append(point)
    return samples


def last_seen_by_address(samples: list[dict]) -> dict:
    """{address: {type, first, last}} of every worker the samples saw (spend counts gone workers by them)."""
    seen: dict[str, dict] = {}
    for point in samples:
        for address, kind in (point.get("addresses") or {}).items():
            entry = seen.setdefault(address, {"type": kind, "first": point["at"], "last": point["at"]})
            entry["last"] = max(entry["last"], point["at"])
    return seen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Sample a Cactus run's nodes and jobs on the Toil leader.")
    parser.add_argument("--out", required=True, help="samples.jsonl to append to")
    parser.add_argument("--log", required=True, help="cactus's --logFile (Toil's leader log)")
    parser.add_argument("--pid", type=int, required=True, help="stop when this process ends")
    parser.add_argument("--interval", type=int, default=300)
    parser.add_argument("--cluster-type", default="", help="kubernetes, mesos, or empty (no nodes)")
    parser.add_argument("--node-types", default="{}",
                        help="JSON {node_types, instance_facts} of the plan (to match Mesos agents)")
    args = parser.parse_args(argv)
    table = node_table(json.loads(args.node_types))
    run(args.out, args.log, args.pid, args.interval, args.cluster_type, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
