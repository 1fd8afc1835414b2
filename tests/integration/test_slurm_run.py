"""A host run on a Slurm login node (cactus_batch_system: slurm): the test bed's real Slurm
(tests/cloud/slurmbed.py: slurmctld, slurmd and munge of one node, in a host-mode cloud), the Cactus
stand-in running its Toil workflow on Toil's slurm batch system, so every Toil job is a Slurm job.

One scenario - run, kill the leader mid-run, teardown cancels the jobs it left in Slurm, --tags restart
to the same HAL, a second run changes nothing - and the bad Slurm settings pre-flight stops."""

import sys
import time

import pytest
from project import TOP, ReleaseServer, recap
from slurmbed import DOWN_PARTITION, PARTITION, PARTITION_TIME, SlurmBed
from test_host_run import HOST, HostProject, on_host, sha256
from testcloud import TestCloud, wait_until

sys.path.insert(0, str(TOP / "tests" / "standin" / "cactus" / "src"))

from cactus_standin.seqfile import parse_seqfile, write_newick  # noqa: E402
from cactus_standin.workflow import fasta_summary, hal_text  # noqa: E402

pytestmark = pytest.mark.cloud


@pytest.fixture(scope="session")
def slurm_cloud(tmp_path_factory):
    """One host-mode cloud with a Slurm bed for the session."""
    with TestCloud(tmp_path_factory.mktemp("slurm-cloud"), appliance=False) as cloud, SlurmBed(cloud) as bed:
        yield cloud, bed


@pytest.fixture(scope="session")
def slurm_release(tmp_path_factory):
    server = ReleaseServer(tmp_path_factory.mktemp("slurm-release"))
    yield server
    server.stop()


def expected_hal(seqfile):
    """The stand-in's HAL for a seqFile, from its own pure functions (what an uninterrupted run writes)."""
    seq = parse_seqfile(str(seqfile))
    summaries = [dict(fasta_summary(seqfile.parent / path), name=name) for name, path in seq.paths.items()]
    flags = {name: name in seq.outgroups or not seq.outgroups for name in seq.paths}
    return hal_text(write_newick(seq.tree), seq.root_name, flags, summaries).encode()


def run_jobs(bed, comment):
    return [job for job in bed.queue() if job["comment"] == comment]


def test_slurm_run_killed_cancelled_restarted(slurm_cloud, slurm_release, tmp_path):
    cloud, bed = slurm_cloud
    started = time.monotonic()
    # Paced: each genome's job sleeps, so the run is still in Slurm when its leader is killed.
    project = HostProject(cloud, tmp_path, slurm_release, "slurmrun", cactus_batch_system="slurm",
                          cactus_align_environment={"CACTUS_STANDIN_PACE": "120"}, cactus_align_wait=False)
    first = project.play()
    plan = project.plan()
    slurm, argv = plan["slurm"], plan["cactus_argv"]
    run_dir = plan["leader_run_dir"]
    nproc = on_host(cloud, "nproc").strip()
    # Cactus's advice, with the defaults from the partition pre-flight saw, said in the summary.
    assert argv[argv.index("--batchSystem") + 1] == "slurm"
    assert argv[argv.index("--slurmPartition") + 1] == PARTITION
    assert argv[argv.index("--slurmTime") + 1] == PARTITION_TIME
    assert argv[argv.index("--consCores") + 1] == nproc and argv[argv.index("--maxMemory") + 1].endswith("Mi")
    assert argv[argv.index("--doubleMem") + 1] == "true" and argv[argv.index("--maxJobs") + 1] == "1000"
    assert argv[argv.index("--batchLogsDir") + 1] == f"{run_dir}/batch-logs"
    assert f"--slurmArgs=--comment=cactus-run:{run_dir}" in argv
    assert plan["jobstore"] == f"{run_dir}/jobstore"
    assert "defaults used: partition (the cluster's default), time (the partition's limit)" in first.stdout
    assert "Slurm partition batch is up" in first.stdout

    # The run's jobs are in Slurm, found by their comment; status shows them beside Toil's counts.
    def genome_job_running():
        return any(j["state"] == "RUNNING" and "summarise_genome" in j["name"]
                   for j in run_jobs(bed, slurm["comment"]))

    wait_until(genome_job_running, 180, "a running genome job of the run in Slurm", interval=1)
    status = project.play("--tags", "status")
    assert "state: running" in status.stdout
    # (the Slurm line itself: Toil's own job counts beside it may say "0 running" while a job starts)
    slurm_line = next(line for line in status.stdout.splitlines() if "Slurm jobs of this run: " in line)
    assert "Slurm jobs of this run: 0 running" not in slurm_line, slurm_line

    # The leader dies (as a crash or an OOM killer would); its Slurm jobs go on (toil#5082).
    assert cloud.kill_host_processes("run-cactus.sh", "bin/cactus", "tmux") > 0
    left = run_jobs(bed, slurm["comment"])
    assert left, "the killed leader's jobs are still in Slurm"
    status = project.play("--tags", "status")
    assert "state: interrupted" in status.stdout and "Slurm jobs of this run: " in status.stdout

    # Teardown of a host run has no cluster to destroy, but cancels what the run left in Slurm.
    down = project.play(playbook="teardown.yml")
    assert "cancelled: " in down.stdout and all(j["id"] in down.stdout for j in left), down.stdout[-3000:]
    wait_until(lambda: not run_jobs(bed, slurm["comment"]), 60, "the run's jobs gone from Slurm", interval=1)

    # --tags restart finishes on Slurm, to the HAL an uninterrupted run writes.
    project.variables.update(cactus_align_wait=True, cactus_align_environment={})
    project.write_variables()
    project.play("--tags", "restart,fetch")
    record = project.record()
    assert record["state"] == "finished" and record["attempt"] == 2 and "--restart" in record["argv"]
    assert project.output.read_bytes() == expected_hal(project.root / "seqfile.txt")
    assert not run_jobs(bed, slurm["comment"]), "no Slurm job of the run is left"

    # Every Toil job went through Slurm: Slurm's own records (jobcomp/filetxt) have them, as core.
    names = [j["Name"] for j in bed.completed_jobs() if j.get("UserId", "").startswith("core(")]
    toil_jobs = [n for n in names if n.startswith("toil_job_")]
    assert sum("summarise_genome" in n for n in toil_jobs) >= 3 and any("align_all" in n for n in toil_jobs)
    log = (cloud.core_home / plan["log_file"].removeprefix("/home/core/")).read_text()
    assert "stand-in: running every job on slurm" in log and "single_machine" not in log
    assert (cloud.core_home / slurm["batch_logs_dir"].removeprefix("/home/core/")).is_dir()

    # A second run changes nothing.
    again = project.play()
    counts = recap(again.stdout)
    assert counts[HOST]["changed"] == 0 and counts["localhost"]["changed"] == 0, counts
    assert "The alignment finished: nothing to start" in again.stdout
    fetched = project.run_dir / "fetched.json"
    assert fetched.exists() and sha256(project.output) in fetched.read_text()
    print(f"\nSlurm scenario: {time.monotonic() - started:.0f}s, {len(toil_jobs)} Toil jobs as Slurm jobs")


@pytest.mark.parametrize("variables,message", [
    ({"cactus_slurm_partition": "nosuch"}, "cactus_slurm_partition: no partition 'nosuch' on this cluster"),
    ({"cactus_slurm_time": "2:00:00"}, f"cactus_slurm_time: 2:00:00 is above partition '{PARTITION}''s"),
    ({"cactus_slurm_partition": DOWN_PARTITION}, f"cactus_slurm_partition: partition '{DOWN_PARTITION}' is"),
])  # fmt: skip
def test_bad_slurm_settings_stop_at_preflight(slurm_cloud, slurm_release, tmp_path, variables, message):
    cloud, bed = slurm_cloud
    before = (len(bed.completed_jobs()), bed.queue())
    project = HostProject(cloud, tmp_path, slurm_release, "slurmbad", cactus_batch_system="slurm",
                          **variables)
    result = project.play("--tags", "prereqs,plan", check=False)
    assert result.returncode != 0 and message in " ".join(result.stdout.split()), result.stdout[-3000:]
    assert not project.run_dir.exists()
    assert (len(bed.completed_jobs()), bed.queue()) == before, "pre-flight submitted nothing"
