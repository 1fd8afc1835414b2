"""A real Slurm cluster of one node inside a host-mode test cloud (TestCloud(appliance=False)): Debian's
slurm-wlm (slurmctld + slurmd) and munge, on loopback, in the leader host's mount namespace, so jobs
see what `core` sees there (its home, /run) - the "filesystem the nodes share" of a real cluster.

Layout, all under cloud.workdir/slurm unless said otherwise:

  munged        root, key munge.key, socket /run/munge/munge.socket.2 of the leader host (its /run is
                the cloud's leader/run: per cloud, reachable by `core`)
  slurmctld     root, SlurmctldHost <this hostname>(127.0.0.1), free ports, state in state/
  slurmd        root, one node named as this machine (the login node is the cluster's only node), with
                its CPUs and half its memory, spool in the leader host's /run/slurm/spool (job scripts
                run as core from there);
                ProctrackType=proctrack/linuxproc, TaskPlugin=task/none: no cgroups needed
  partitions    `batch` (default, MaxTime 1:00:00, up) and `maint` (MaxTime 2:00:00, DOWN)
  records       JobCompType=jobcomp/filetxt: one line per ended job in jobcomp.log (Slurm's own
                record; sacct would need slurmdbd, which the bed does not run)
  config        /run/slurm/slurm.conf on the leader host; sshd gives every session SLURM_CONF (SetEnv,
                as TMUX_TMPDIR), so `core`'s sbatch, squeue, sinfo, scontrol and scancel find it

start() starts it, stop() cancels every job, then stops the daemons and anything left of a job.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from testcloud import CloudError, TestCloud, _kill_tree, free_port, wait_until

PARTITION = "batch"
PARTITION_TIME = "1:00:00"
DOWN_PARTITION = "maint"
SLURM_CONF = "/run/slurm/slurm.conf"  # as the leader host sees it
MUNGE_SOCKET = "/run/munge/munge.socket.2"
DAEMONS = ("slurmctld", "slurmd", "slurmstepd", "munged")


class SlurmBed:
    __test__ = False

    def __init__(self, cloud: TestCloud):
        if cloud.with_appliance:
            raise CloudError("the Slurm bed runs on a host-mode cloud (TestCloud(appliance=False))")
        self.cloud = cloud
        self.dir = cloud.workdir / "slurm"
        self.conf = cloud.leader_root / "run" / "slurm" / "slurm.conf"  # SLURM_CONF, seen from here
        self.jobcomp = self.dir / "jobcomp.log"
        self.ctld_log = self.dir / "slurmctld.log"
        self.node = socket.gethostname().split(".")[0]
        self._procs: list[subprocess.Popen] = []

    def __enter__(self) -> SlurmBed:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- start / stop ----
    def start(self) -> SlurmBed:
        for d in ("state", "munge"):
            (self.dir / d).mkdir(parents=True, exist_ok=True)
        # Job scripts run as core from the spool: it lives in the leader's /run, which core can reach.
        (self.conf.parent / "spool").mkdir(parents=True, exist_ok=True)
        os.chmod(self.conf.parent, 0o755)
        os.chmod(self.conf.parent / "spool", 0o755)
        os.chmod(self.dir / "munge", 0o700)
        try:
            _loopback_alias()
            self._start_munge()
            self._write_conf()
            self._daemon(["slurmctld", "-D", "-f", str(self.conf)], "slurmctld.out")
            wait_until(self._controller_answers, 30, "slurmctld", interval=0.3)
            self._daemon(["slurmd", "-D", "-N", self.node, "-f", str(self.conf)], "slurmd.out")
            wait_until(self._node_idle, 60, f"node {self.node} idle", interval=0.5)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        # A run's leader (tmux, cactus) may outlive a failed test: nothing of core's stays in this cloud.
        if self.cloud._leader and self.cloud._leader.poll() is None:
            self.cloud.kill_host_processes("")
        if any(p.poll() is None for p in self._procs):
            self.scontrol("update", "PartitionName=" + PARTITION, "State=DOWN", check=False)
            self._in_ns(["scancel", "--full", "--user", "core"], check=False)
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    _kill_tree(proc.pid)
                    proc.wait(timeout=10)
        self._procs.clear()
        # slurmstepd (one per job) detaches from slurmd: end those of this cloud and their job's processes.
        for pid in self.namespace_pids(DAEMONS):
            _kill_tree(pid)

    def _daemon(self, argv, log_name) -> None:
        with open(self.dir / log_name, "w") as log:
            self._procs.append(subprocess.Popen(
                self._ns(argv), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "SLURM_CONF": str(self.conf)},
            ))  # fmt: skip

    def _start_munge(self) -> None:
        key = self.dir / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        sock_dir = self.cloud.leader_root / "run" / "munge"
        sock_dir.mkdir(exist_ok=True)
        os.chmod(sock_dir, 0o755)
        m = self.dir / "munge"
        self._daemon(["munged", "--foreground", "--force", f"--socket={MUNGE_SOCKET}", f"--key-file={key}",
                      f"--log-file={m / 'munged.log'}", f"--pid-file={m / 'munged.pid'}",
                      f"--seed-file={m / 'munged.seed'}"], "munged.out")  # fmt: skip
        wait_until(lambda: (sock_dir / "munge.socket.2").exists() or self._procs[-1].poll() is not None,
                   20, "munged socket")
        if self._procs[-1].poll() is not None:
            raise CloudError(f"munged did not start: {(self.dir / 'munged.out').read_text()[-2000:]}")

    def _write_conf(self) -> None:
        self.conf.parent.mkdir(exist_ok=True)
        os.chmod(self.conf.parent, 0o755)
        cpus = os.cpu_count() or 1
        # Half the memory for jobs: Toil asks --mem for each job; the real figure stays for the bed.
        memory_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 / 2)
        d = self.dir
        self.conf.write_text("\n".join([
            "ClusterName=cactustest",
            f"SlurmctldHost={self.node}(127.0.0.1)",
            f"SlurmctldPort={free_port()}",
            f"SlurmdPort={free_port()}",
            "SlurmUser=root", "SlurmdUser=root",
            "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={MUNGE_SOCKET}",
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none",
            "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core_Memory",
            "SchedulerType=sched/backfill", "MpiDefault=none", "ReturnToService=2",
            "JobCompType=jobcomp/filetxt", f"JobCompLoc={self.jobcomp}",
            f"StateSaveLocation={d / 'state'}", "SlurmdSpoolDir=/run/slurm/spool",
            f"SlurmctldPidFile={d / 'slurmctld.pid'}", f"SlurmdPidFile={d / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.ctld_log}", f"SlurmdLogFile={d / 'slurmd.log'}",
            "SlurmctldDebug=info", "SlurmdDebug=info",
            # Quick to notice a finished job; a killed job's processes get a short grace.
            "SlurmctldTimeout=30", "SlurmdTimeout=60", "InactiveLimit=0", "MinJobAge=60", "KillWait=5",
            "MessageTimeout=20",
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
            f"PartitionName={PARTITION} Nodes={self.node} Default=YES MaxTime={PARTITION_TIME} State=UP",
            f"PartitionName={DOWN_PARTITION} Nodes={self.node} MaxTime=2:00:00 State=DOWN",
        ]) + "\n")  # fmt: skip
        os.chmod(self.conf, 0o644)

    # ---- in the leader host's mount namespace ----
    def _ns(self, argv) -> list[str]:
        leader = self.cloud._leader
        if not leader or leader.poll() is not None:
            raise CloudError("the leader host is not running")
        return ["nsenter", f"--mount=/proc/{leader.pid}/ns/mnt", "--", *argv]

    def _in_ns(self, argv, check=True, timeout=60) -> subprocess.CompletedProcess:
        env = {**os.environ, "SLURM_CONF": str(self.conf)}
        result = subprocess.run(self._ns(argv), capture_output=True, text=True, timeout=timeout, env=env)
        if check and result.returncode != 0:
            raise CloudError(f"{argv} exited {result.returncode}: {result.stderr[-2000:]}")
        return result

    def scontrol(self, *args, check=True) -> str:
        return self._in_ns(["scontrol", *args], check=check).stdout

    def _controller_answers(self) -> bool:
        if any(p.poll() is not None for p in self._procs):
            raise CloudError(f"a Slurm daemon exited; see {self.dir}/*.out and *.log")
        return self._in_ns(["scontrol", "ping"], check=False).stdout.count("UP") > 0

    def _node_idle(self) -> bool:
        if any(p.poll() is not None for p in self._procs):
            raise CloudError(f"a Slurm daemon exited; see {self.dir}/*.out and *.log")
        return self._in_ns(["sinfo", "-h", "-n", self.node, "-p", PARTITION, "-o", "%t"], check=False
                           ).stdout.strip() in ("idle", "mix", "alloc")

    # ---- what tests read ----
    def queue(self) -> list[dict[str, str]]:
        """Jobs Slurm still knows as pending or running: id, name, state, comment."""
        out = self._in_ns(["squeue", "-h", "-a", "-t", "PD,R,CG,S", "-o", "%i|%j|%T|%k"]).stdout
        return [dict(zip(("id", "name", "state", "comment"), line.split("|", 3), strict=False))
                for line in out.splitlines() if line.strip()]  # fmt: skip

    def completed_jobs(self) -> list[dict[str, str]]:
        """Slurm's own record of every ended job (jobcomp/filetxt): one dict of KEY=VALUE per job."""
        if not self.jobcomp.exists():
            return []
        lines = self.jobcomp.read_text().splitlines()
        return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in lines if line]

    def namespace_pids(self, names) -> list[int]:
        """Processes in the leader host's mount namespace whose name is one of `names`."""
        namespace = os.readlink(f"/proc/{self.cloud._leader.pid}/ns/mnt") if self.cloud._leader else None
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if namespace and os.readlink(f"/proc/{entry}/ns/mnt") != namespace:
                    continue
                if Path(f"/proc/{entry}/comm").read_text().strip() in names:
                    found.append(int(entry))
            except OSError:
                continue
        return found


def _loopback_alias() -> None:
    """glibc's getaddrinfo(AI_ADDRCONFIG), which Slurm uses even for 127.0.0.1, finds no IPv4 address
    when the only one is 127.0.0.1: a second loopback address on `lo` (still 127/8) gives it one."""
    if "127.0.0.2/" not in subprocess.run(["ip", "-4", "addr", "show", "dev", "lo"], capture_output=True,
                                          text=True, check=True).stdout:
        subprocess.run(["ip", "addr", "add", "127.0.0.2/32", "dev", "lo"], check=True)


def wait_for_queue_empty(bed: SlurmBed, comment: str, timeout: float = 60) -> None:
    wait_until(lambda: not [j for j in bed.queue() if j["comment"] == comment], timeout,
               f"no Slurm job with comment {comment}", interval=1)


if __name__ == "__main__":  # a quick look: tests/isolated .venv/bin/python tests/cloud/slurmbed.py DIR
    import sys
    import tempfile

    work = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
    with TestCloud(work, appliance=False) as cloud, SlurmBed(cloud) as bed:
        cloud.write_host_inventory()  # trusts the host key
        ssh = ["ssh", "-p", str(cloud.ssh_port), "core@127.0.0.1"]
        for cmd in ("sinfo", "sbatch --test-only -p batch -t 10 --wrap true",
                    "sbatch -p batch -t 1 --comment=probe --wrap 'hostname; id; pwd'", "squeue"):
            r = cloud.run([*ssh, cmd], check=False)
            print("$", cmd, "->", r.returncode, r.stdout, r.stderr)
        time.sleep(5)
        print(bed.completed_jobs())
