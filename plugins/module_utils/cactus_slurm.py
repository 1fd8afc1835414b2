# Slurm rules of a host run on a cluster's login node: pure functions, no I/O.
#
# - the tag a run gives its Slurm jobs (sbatch --comment, through Toil's --slurmArgs), so that the
#   run's jobs can be listed and cancelled (roles/cactus_common/tasks/slurm_jobs.yml; Toil's kill
#   can leave them running, toil#5082);
# - reading the `sinfo` output the probe (roles/toil_prereqs/files/slurm_probe.py) collects on the
#   login node;
# - the pre-flight judgement: the partition exists and is up, the time limit fits it, the job store
#   is on a filesystem the compute nodes see (best effort), and `sbatch --test-only` accepts a job.
#
# Time limits are read with Toil 9.4.1's own parse_slurm_time, the parser of --slurmTime.

from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError

VARS = {
    "partition": "cactus_slurm_partition",
    "time": "cactus_slurm_time",
    "run_dir": "cactus_leader_dir",
    "batch_system": "cactus_batch_system",
    "slurm_args": "cactus_slurm_args",
}
COMMENT_PREFIX = "cactus-run:"
# Filesystems that other machines mount: a job store there is seen by the compute nodes.
SHARED_FILESYSTEMS = ("nfs", "nfs4", "lustre", "gpfs", "beegfs", "ceph", "cephfs", "glusterfs",
                      "fuse.glusterfs", "panfs", "cifs", "smb2", "smb", "wekafs", "afs", "fuse.sshfs",
                      "9p", "virtiofs", "orangefs", "pvfs2", "fhgfs")


def run_comment(run_dir):
    """The comment every Slurm job of the run carries: the run directory is unique on the cluster."""
    return f"{COMMENT_PREFIX}{run_dir}"


def slurm_seconds(text, variable=VARS["time"]):
    """Seconds of a Slurm time ([DD-]HH:MM:SS, MM:SS, MM, ...), read by Toil's parser of --slurmTime."""
    from toil.batchSystems.slurm import parse_slurm_time

    try:
        return parse_slurm_time(str(text))
    except (ValueError, IndexError):
        raise CactusError(variable, f"'{text}' is not a Slurm time limit", "give [DD-]HH:MM:SS, e.g. "
                          "2-00:00:00 or 12:00:00, or leave it empty for the partition's limit") from None


def parse_sinfo(text):
    """Partitions from `sinfo -h -a -o '%P|%a|%l|%c|%m|%N'` (one line per node group): {name: {
    default, up, time_limit, seconds (None: unlimited), cpus, memory_mb (smallest node), nodes}}."""
    partitions = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 6:
            continue
        name, avail, limit, cpus, memory, nodes = fields
        default = name.endswith("*")
        name = name.rstrip("*")
        seconds = None if limit.strip().lower() in ("infinite", "unlimited", "n/a") else slurm_seconds(limit)
        entry = partitions.setdefault(name, {"name": name, "default": default, "up": avail == "up",
                                             "time_limit": limit, "seconds": seconds, "cpus": None,
                                             "memory_mb": None, "nodes": []})
        for key, value in (("cpus", cpus), ("memory_mb", memory)):
            number = value.rstrip("+")
            if number.isdigit():
                entry[key] = int(number) if entry[key] is None else min(entry[key], int(number))
        entry["nodes"] += [n for n in nodes.split(",") if n and n != "n/a"]
    return partitions


def check_slurm(probe, partition=None, time_limit=None):
    """Judge what the probe saw on the login node. Returns (facts, warnings); raises CactusError.

    probe: {"sinfo": {"rc", "out"}, "hostname", "fs_type", "run_dir", "test_only": {"rc", "out"}}.
    facts: the partition used and its limits, for the plan's defaults."""
    sinfo = probe.get("sinfo") or {}
    if sinfo.get("rc") != 0:
        raise CactusError(VARS["batch_system"], f"'slurm': sinfo failed on the login node "
                          f"({_last_line(sinfo.get('out'))})", "check that Slurm answers there (sinfo), or "
                          "aim cactus_target_hosts at a login node of the cluster")
    partitions = parse_sinfo(sinfo.get("out", ""))
    if partition:
        chosen = partitions.get(partition)
        if chosen is None:
            raise CactusError(VARS["partition"], f"no partition '{partition}' on this cluster",
                              f"use one of: {', '.join(sorted(partitions)) or '(none found)'}")
    else:
        chosen = next((p for p in partitions.values() if p["default"]), None)
        if chosen is None:
            raise CactusError(VARS["partition"], "this cluster has no default partition",
                              f"name one of: {', '.join(sorted(partitions)) or '(none found)'}")
    name = chosen["name"]
    if not chosen["up"]:
        others = ", ".join(sorted(p for p, v in partitions.items() if v["up"])) or "(none)"
        raise CactusError(VARS["partition"], f"partition '{name}' is not up (sinfo: down, drained or "
                          "inactive): its jobs would wait",
                          f"wait until the admins bring it up, or use another: {others}")
    if time_limit:
        asked = slurm_seconds(time_limit)
        if chosen["seconds"] is not None and asked > chosen["seconds"]:
            raise CactusError(VARS["time"], f"{time_limit} is above partition '{name}''s limit "
                              f"{chosen['time_limit']}", f"give at most {chosen['time_limit']}, or a "
                              "partition with a longer limit (cactus_slurm_partition)")
    test = probe.get("test_only") or {}
    if test.get("rc") != 0:
        raise CactusError(VARS["partition"], f"Slurm refused a test job in partition '{name}' "
                          f"(sbatch --test-only: {_last_line(test.get('out'))})",
                          "fix the partition, the time (cactus_slurm_time) or the extra sbatch arguments "
                          "(cactus_slurm_args)")
    warnings = _filesystem_warnings(probe, chosen)
    facts = {key: chosen[key] for key in ("name", "default", "time_limit", "cpus", "memory_mb")}
    return facts, warnings


def _filesystem_warnings(probe, partition):
    """Best effort: the job store must be on a filesystem the compute nodes see (Cactus's rule)."""
    fs_type, run_dir, host = probe.get("fs_type"), probe.get("run_dir"), probe.get("hostname")
    if not fs_type:
        return [f"could not tell which filesystem holds {run_dir}: the job store there must be on a "
                "filesystem every compute node mounts (Cactus needs a shared filesystem)"]
    if fs_type in SHARED_FILESYSTEMS or fs_type.startswith("fuse."):
        return []
    if partition["nodes"] and all(node == host for node in partition["nodes"]):
        return []  # the login node is the partition's only node
    return [f"the job store directory {run_dir} is on {fs_type}, a local filesystem of {host}: unless "
            f"it is exported to the compute nodes of partition '{partition['name']}' at the same path, "
            "their jobs will not find the job store. Fix: set cactus_leader_dir to a shared filesystem "
            "(NFS, Lustre, GPFS, ...)"]


def _last_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
