"""Look at a Slurm cluster from its login node, read-only; print JSON for toil_preflight's slurm check.

  slurm_probe.py RUN_DIR PARTITION TIME SBATCH_ARGS     (empty strings: the cluster's defaults)

sinfo's partitions, the filesystem type of RUN_DIR (or its nearest existing parent), this host's
name, and `sbatch --test-only` of a one-task job: Slurm answers whether and when it would run it,
and submits nothing.
"""

import json
import os
import shlex
import socket
import subprocess
import sys


def run(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"rc": 127, "out": str(error)}
    return {"rc": done.returncode, "out": done.stdout + done.stderr}


def main():
    run_dir, partition, time_limit, sbatch_args = sys.argv[1:5]
    existing = run_dir
    while existing and not os.path.exists(existing):
        existing = os.path.dirname(existing)
    fs = run(["stat", "-f", "-c", "%T", existing or "/"])
    test_only = ["sbatch", "--test-only", "--job-name=cactus-preflight", "--ntasks=1"]
    test_only += [f"--partition={partition}"] if partition else []
    test_only += [f"--time={time_limit}"] if time_limit else []
    test_only += shlex.split(sbatch_args) + ["--wrap", "true"]
    print(json.dumps({
        "run_dir": run_dir,
        "hostname": socket.gethostname().split(".")[0],
        "fs_type": fs["out"].strip() if fs["rc"] == 0 else "",
        "sinfo": run(["sinfo", "-h", "-a", "-o", "%P|%a|%l|%c|%m|%N"]),
        "test_only": run(test_only),
    }))


if __name__ == "__main__":
    main()
