# The checks and defaults of a run on an inventory host (one machine, or a Slurm login node): the
# target host, Toil's batch system, the limits, the run directory, the Slurm settings.

from __future__ import annotations

import posixpath
import shlex
from difflib import get_close_matches
from functools import lru_cache

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_command import SBATCH_REFUSED
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_settings import (
    CLUSTER_BATCH_SYSTEMS,
    DEFAULT_HOST_BATCH_SYSTEM,
    DEFAULT_SLURM_MAX_JOBS,
    NO_TARGET_HOST_FIX,
    VARS,
)
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError


@lru_cache(maxsize=1)
def _toil_batch_systems():
    """The names `--batchSystem` accepts (Toil's registry, plugins included)."""
    from toil.batchSystems.registry import get_batch_systems

    return tuple(get_batch_systems())


def _toil_human2bytes(text):
    from toil.lib.conversions import human2bytes

    return human2bytes(text)


def slurm_plan(settings, run_dir):
    """({partition, time, max_jobs, batch_logs_dir, comment, sbatch_args, defaulted}, limit defaults)
    of a run on a Slurm login node. Unset settings come from the partition pre-flight saw: its name
    (the cluster's default partition), its time limit (Cactus gives one --slurmTime to every job), a
    node's CPUs as --consCores and a node's memory as --maxMemory."""
    from ansible_collections.genomics.cactus.plugins.module_utils.cactus_slurm import (
        run_comment,
        slurm_seconds,
    )

    facts = settings.slurm_facts or {}
    defaulted = []
    partition = settings.slurm_partition or facts.get("name")
    if not settings.slurm_partition and partition:
        defaulted.append("partition" + (" (the cluster's default)" if facts.get("default") else ""))
    time = settings.slurm_time
    if time:
        slurm_seconds(time)
    elif facts.get("time_limit") and facts["time_limit"].lower() not in ("infinite", "unlimited"):
        time = facts["time_limit"]
        defaulted.append("time (the partition's limit)")
    max_jobs = _whole_number(settings.max_jobs, "max_jobs", "give e.g. 1000, or leave it unset")
    if max_jobs is None:
        max_jobs = DEFAULT_SLURM_MAX_JOBS
        defaulted.append("maxJobs")
    sbatch_args = (settings.slurm_args or "").strip()
    for token in shlex.split(sbatch_args):
        name = token.split("=", 1)[0]
        name = name if name.startswith("--") else name[:2]
        if name in SBATCH_REFUSED:
            problem, fix = SBATCH_REFUSED[name]
            raise CactusError(VARS["slurm_args"], f"'{token}' {problem}", fix)
    limits = {}
    if facts.get("cpus"):
        limits["cons_cores"] = facts["cpus"]
    if facts.get("memory_mb"):
        limits["max_memory"] = f"{facts['memory_mb']}Mi"
    slurm = {"partition": partition, "time": time, "max_jobs": max_jobs,
             "batch_logs_dir": f"{run_dir}/batch-logs", "comment": run_comment(run_dir),
             "sbatch_args": sbatch_args, "defaulted": defaulted}
    return slurm, limits


def host_limits(settings, batch_system):
    """(--maxCores, --maxMemory): as given; else on single_machine the host's own cores and memory
    (its facts); else None - a login node's size says nothing about the cluster's nodes."""
    max_cores, max_memory = settings.max_cores, settings.max_memory
    if batch_system == DEFAULT_HOST_BATCH_SYSTEM:
        if max_cores is None:
            max_cores = settings.host_cores
        if max_memory is None and settings.host_memory_mb is not None:
            max_memory = f"{settings.host_memory_mb}Mi"
    fix = "give e.g. 32, or leave it unset for all of the host's cores"
    return _whole_number(max_cores, "max_cores", fix), check_max_memory(max_memory)


def check_target_host(name):
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
        raise CactusError(VARS["target_host"], f"{name!r} is not the name of one inventory host",
                          "give one host of your inventory, e.g. bigserver")
    return name


def check_batch_system(name):
    """A batch system of Toil 9.4.1's registry that runs from a host (not a cluster of its own)."""
    variable = VARS["batch_system"]
    name = DEFAULT_HOST_BATCH_SYSTEM if name is None else name
    known = _toil_batch_systems()
    on_host = sorted(b for b in known if b not in CLUSTER_BATCH_SYSTEMS)
    if name in CLUSTER_BATCH_SYSTEMS:
        raise CactusError(variable, f"'{name}' needs a cluster of its own, not an inventory host",
                          NO_TARGET_HOST_FIX)
    if not isinstance(name, str) or name not in known:
        close = get_close_matches(str(name), on_host, 1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise CactusError(variable, f"{name!r} is not a Toil 9.4.1 batch system",
                          f"{hint}use one of: {', '.join(on_host)}")
    return name


def _whole_number(value, key, fix):
    """None, or a whole number >= 1 (not a bool)."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise CactusError(VARS[key], f"{value!r} is not a whole number >= 1", fix)
    return value


def check_max_memory(value):
    """None, or the value as a string: a whole number of bytes or a size Toil's human2bytes reads."""
    if value is None:
        return None
    fix = "give bytes or a Toil size such as 64G, 2048M or 500Gi, or leave it unset for all of the memory"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise CactusError(VARS["max_memory"], f"{value!r} is not a size", fix)
    try:
        size = _toil_human2bytes(str(value))
    except (ValueError, RuntimeError, OverflowError) as error:
        raise CactusError(VARS["max_memory"], f"Toil cannot read {value!r} as a size ({error})",
                          fix) from None
    if size < 1:
        raise CactusError(VARS["max_memory"], f"{value!r} is {size} bytes; Toil wants at least 1", fix)
    return str(value)


def host_cons_cores(cons_cores, max_cores, batch_system):
    """Cactus v3.2.1: off single_machine --consCores (or --maxCores, which it copies) is required;
    everywhere --consCores <= --maxCores."""
    cons_cores = _whole_number(cons_cores, "cons_cores", "give e.g. 32, or leave it unset")
    if batch_system != DEFAULT_HOST_BATCH_SYSTEM and cons_cores is None and max_cores is None:
        raise CactusError(VARS["cons_cores"], f"--batchSystem {batch_system} needs --consCores or --maxCores "
                          "(Cactus: '--consCores required for non single_machine batch systems')",
                          "give the cores of one node of your cluster")
    if cons_cores is not None and max_cores is not None and cons_cores > max_cores:
        raise CactusError(VARS["cons_cores"], f"{cons_cores} is above {VARS['max_cores']} {max_cores} "
                          "(Cactus: '--consCores must be <= --maxCores')",
                          f"lower it or raise {VARS['max_cores']}")
    return cons_cores


def check_host_run_dir(run_dir):
    """The run directory on the host, absolute: the job store and every path of the run live in it."""
    variable = VARS["leader_run_dir"]
    if not run_dir or not isinstance(run_dir, str):
        raise CactusError(variable, "no run directory on the host",
                          "give an absolute path such as /home/alice/cactus/runs/myrun")
    if not posixpath.isabs(run_dir):
        raise CactusError(variable, f"'{run_dir}' is not an absolute path (Toil would read it from the "
                          "directory cactus starts in)", "give an absolute path such as "
                          "/home/alice/cactus/runs/myrun")
    run_dir = posixpath.normpath(run_dir)
    if not posixpath.basename(run_dir):
        raise CactusError(variable, f"'{run_dir}' is the root directory", "give a directory of its own, "
                          "such as /home/alice/cactus/runs/myrun")
    return run_dir


def host_warnings(genomes, batch_system):
    if batch_system != DEFAULT_HOST_BATCH_SYSTEM:
        return []
    big = [g for g in genomes if g["size_class"] != "small"]
    if not big:
        return []
    named = ", ".join(f"{g['name']} ({'size unknown' if g['size'] is None else g['size_class']})"
                      for g in big[:5])
    more = ", ..." if len(big) > 5 else ""
    return [f"{len(big)} genome(s) are 100 Mb or more, or of unknown size ({named}{more}): an autoscaling "
            "Toil cluster on AWS (leave cactus_target_hosts empty) finishes such genomes sooner, and one "
            "machine needs the memory for them"]
