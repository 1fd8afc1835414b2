"""The whole run on the local test cloud, as a user types it: ansible-playbook run_alignment.yml from
an empty account to a fetched, verified HAL; idempotent re-runs; --check; a re-created appliance;
the alignment killed and restarted; the leader lost, relaunched and restarted; teardown.

Cactus is the stand-in (tests/standin); everything else is real: Toil's CLI, moto over HTTP,
sshd, the podman appliance, Ansible."""

import hashlib
import json
import subprocess
import time

import pytest
from project import TOP, Project, ReleaseServer, recap
from testcloud import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, ZONE, _kill_tree, wait_until

pytestmark = pytest.mark.cloud


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    server = ReleaseServer(tmp_path_factory.mktemp("release"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def reference_hal(cloud, release, tmp_path_factory):
    """The HAL of an uninterrupted full run: every other way to the end must give the same bytes.
    The run itself is the first must-show: from an empty account to a fetched, verified output."""
    project = _fresh_project(cloud, release, tmp_path_factory.mktemp("reference"), "e2e-ref")
    result = project.play("-vvv")
    out = result.stdout + result.stderr
    hal = project.output.read_bytes()
    assert hal.startswith(b"#cactus-standin-hal")
    fetched = json.loads((project.run_dir / "fetched.json").read_text())
    assert fetched["sha256"] == _sha256(project.output)
    assert project.record()["state"] == "finished"
    return {"project": project, "hal": hal, "verbose_output": out}


def _fresh_project(cloud, release, root, cluster, **variables):
    cloud.reset_account()
    cloud.new_leader_machine()
    return Project(cloud, root, cluster, release, **variables)


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _destroy(project):
    project.play("-e", "toil_teardown_force=true", playbook="teardown.yml", check=False)


def test_full_run_then_rerun_changes_nothing_then_teardown(cloud, reference_hal):
    project = reference_hal["project"]
    started = time.monotonic()
    again = project.play()
    seconds = time.monotonic() - started
    counts = recap(again.stdout)
    assert counts and all(host["changed"] == 0 and host["failed"] == 0 for host in counts.values()), counts
    assert project.output.read_bytes() == reference_hal["hal"]
    print(f"idempotent re-run of the whole playbook: {seconds:.1f} s")

    # Another cluster whose name extends this one: Toil's destroy would delete its IAM role too.
    ec2 = cloud.client("ec2")
    group = ec2.create_security_group(GroupName="e2e-ref-two", Description="Toil appliance security group")
    tags = [{"Key": k, "Value": v} for k, v in (("clusterName", "e2e-ref-two"), ("ToilNodeType", "leader"))]
    other = ec2.run_instances(ImageId="ami-1e749f67", InstanceType="t2.medium", MinCount=1, MaxCount=1,
                              SecurityGroupIds=[group["GroupId"]],
                              TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])  # fmt: skip
    refused = project.play(playbook="teardown.yml", check=False)
    assert refused.returncode != 0 and "e2e-ref-two" in refused.stdout, refused.stdout[-3000:]
    assert cloud.leftovers()["instances"], "nothing may be destroyed"
    ec2.terminate_instances(InstanceIds=[other["Instances"][0]["InstanceId"]])
    ec2.delete_security_group(GroupId=group["GroupId"])

    # Finished and fetched: teardown destroys exactly this cluster and leaves nothing behind.
    result = project.play(playbook="teardown.yml")
    assert "Nothing of cluster e2e-ref is left." in result.stdout
    left = cloud.leftovers()
    assert left == {"instances": [], "security_groups": [], "iam_roles": [], "instance_profiles": [],
                    "buckets": []}, left  # fmt: skip


def test_secret_never_leaks(cloud, reference_hal):
    """The controller's AWS secret appears in no log (-vvv), no run record and nowhere on the leader."""
    assert FAKE_SECRET_KEY not in reference_hal["verbose_output"]
    project = reference_hal["project"]
    for path in project.root.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert FAKE_SECRET_KEY.encode() not in text and FAKE_ACCESS_KEY.encode() not in text, path
    found = cloud.appliance(
        "sh", "-c",
        f"grep -rlI -e '{FAKE_SECRET_KEY}' -e '{FAKE_ACCESS_KEY}' /opt /var/lib/toil /tmp /var/tmp /root "
        "/etc /proc/1/environ 2>/dev/null; env | grep -e AWS_SECRET -e AWS_ACCESS_KEY; true",
    ).stdout  # fmt: skip
    assert found.strip() == "", found


def test_check_mode_on_an_empty_account_creates_nothing(cloud, release, tmp_path):
    project = _fresh_project(cloud, release, tmp_path, "e2e-check")
    before = cloud.leftovers()
    result = project.play("--check")
    assert "Would launch:" in result.stdout
    assert cloud.leftovers() == before
    assert not (project.run_dir / "plan.json").exists()


@pytest.mark.parametrize("method", ["git"])
def test_provision_from_git_tag_and_repair_a_recreated_appliance(cloud, release, tmp_path, method):
    project = _fresh_project(cloud, release, tmp_path, "e2e-prov", cactus_provision_method=method,
                             toil_launch_ssh_ingress_cidrs=["127.0.0.0/8"])  # fmt: skip
    try:
        project.play("--tags", "prereqs,plan,launch,provision")
        # SSH to the leader only from the given CIDR; Toil's rules inside the cluster kept.
        group = cloud.client("ec2").describe_security_groups(GroupNames=["e2e-prov"])["SecurityGroups"][0]
        rules = {(r["IpProtocol"], r.get("FromPort")): r for r in group["IpPermissions"]}
        assert [c["CidrIp"] for c in rules[("tcp", 22)]["IpRanges"]] == ["127.0.0.0/8"]
        assert not rules[("tcp", 22)].get("Ipv6Ranges")
        assert rules[("tcp", 0)]["UserIdGroupPairs"] and rules[("udp", 0)]["UserIdGroupPairs"]

        again = project.play("--tags", "launch,provision")
        assert all(h["changed"] == 0 for h in recap(again.stdout).values()), recap(again.stdout)

        # Toil re-creates the appliance when the leader restarts: apt packages are gone.
        cloud.recreate_appliance()
        assert cloud.appliance("sh", "-c", "command -v tmux", check=False).returncode != 0
        repaired = project.play("--tags", "provision")
        assert "The appliance was re-created" in repaired.stdout
        assert recap(repaired.stdout)["e2e-prov-leader"]["changed"] > 0
        cloud.appliance("sh", "-c", "command -v tmux && /opt/cactus/venv/bin/cactus --version")
        again = project.play("--tags", "provision")
        assert recap(again.stdout)["e2e-prov-leader"]["changed"] == 0
    finally:
        _destroy(project)


def _wait_for_aligned_genome(cloud, project, timeout=120):
    log = project.plan()["log_file"]

    def some_aligned():
        out = cloud.appliance("sh", "-c", f"cat {log} 2>/dev/null", check=False).stdout
        return "stand-in: aligned genome" in out

    wait_until(some_aligned, timeout, "the first aligned genome", interval=0.5)


def _kill_alignment(cloud):
    """SIGKILL everything the run started in the appliance (Toil's workers run in their own sessions)."""
    # [x] in the patterns: they must not match this shell's own command line.
    script = "pkill -9 -f [_]toil_worker; pkill -9 -f [r]un-cactus.sh; pkill -9 -f [b]in/cactus; "
    script += "tmux kill-server"
    cloud.appliance("sh", "-c", script + "; true")


def test_killed_alignment_restarts_to_the_same_output(cloud, release, reference_hal, tmp_path):
    # Paced (seconds per genome job): the run must still be going during the checks below on a busy machine.
    paced = {"cactus_align_environment": {"CACTUS_STANDIN_PACE": "15"}, "cactus_align_wait": False}
    project = _fresh_project(cloud, release, tmp_path, "e2e-kill", **paced)
    try:
        project.play()
        # Teardown is refused while the alignment runs, and destroys nothing.
        refused = project.play(playbook="teardown.yml", check=False)
        assert refused.returncode != 0 and "An alignment is running on cluster e2e-kill" in refused.stdout
        assert cloud.leftovers()["instances"]

        _wait_for_aligned_genome(cloud, project)
        _kill_alignment(cloud)
        status = project.play("--tags", "status")
        assert "state: interrupted" in status.stdout

        # A plain re-run must not start over on the existing job store: it points to restart.
        refused = project.play("--tags", "align", check=False)
        assert refused.returncode != 0 and "--tags restart" in refused.stdout

        # A restart that fails (the stand-in out of disk writing the HAL) with wait on: a non-zero exit and
        # the cause (the same roles as on a host, where test_host_run.py looks at the output more closely).
        project.variables.update(cactus_align_wait=True,
                                 cactus_align_environment={"CACTUS_STANDIN_FAIL": "ENOSPC"})  # fmt: skip
        project.write_variables()
        failed = project.play("--tags", "restart", check=False)
        assert failed.returncode != 0 and recap(failed.stdout)["e2e-kill-leader"]["failed"] == 1
        assert "cause: OSError: [Errno 28] No space left on device" in " ".join(failed.stdout.split())

        project.variables.update(cactus_align_environment={})
        project.write_variables()
        project.play("--tags", "restart,fetch")
        assert project.record()["state"] == "finished" and project.record()["attempt"] == 3
        assert "--restart" in project.record()["argv"]
        assert project.output.read_bytes() == reference_hal["hal"]
    finally:
        _destroy(project)


def test_lost_leader_relaunched_and_restarted(cloud, release, reference_hal, tmp_path):
    paced = {"cactus_align_environment": {"CACTUS_STANDIN_PACE": "3"}, "cactus_align_wait": False}
    project = _fresh_project(cloud, release, tmp_path, "e2e-lost", **paced)
    try:
        project.play()
        first_leader = project.record()
        _wait_for_aligned_genome(cloud, project)

        # The leader is gone at once: processes, instance, and machine (disks, appliance).
        _kill_alignment(cloud)
        cloud.run(["toil", "destroy-cluster", "--zone", ZONE, "e2e-lost"], timeout=300)
        cloud.new_leader_machine()

        project.variables.update(cactus_align_wait=True, cactus_align_environment={})
        project.write_variables()
        result = project.play("--tags", "all,restart")
        assert "A restart was asked for" in result.stdout
        record = project.record()
        assert record["state"] == "finished" and record["jobstore"] == first_leader["jobstore"]
        assert project.output.read_bytes() == reference_hal["hal"]
    finally:
        _destroy(project)


def test_cut_transfer_resumes_without_resending(cloud, release, tmp_path):
    project = _fresh_project(cloud, release, tmp_path, "e2e-xfer")
    big = project.genomes_dir / "simHuman.fa"
    with open(big, "w") as f:  # ~64 MiB of sequence
        f.write(">chr1\n")
        line = "ACGTTGCAAGCTTGCA" * 4 + "\n"
        f.write(line * (64 * 1024 * 1024 // len(line)))
    size = big.stat().st_size
    try:
        project.play("--tags", "prereqs,plan,launch,provision")
        # While rsync runs, the file grows as a temporary file beside its target; when cut, what
        # arrived is kept in the partial directory.
        genome_dir = f"{project.plan()['leader_run_dir']}/genomes/simHuman"

        project.variables["cactus_transfer_rsync_options"] = ["--bwlimit=4m"]
        project.write_variables()
        cut = subprocess.Popen(
            ["ansible-playbook", "-i", str(project.inventory), "run_alignment.yml", "--tags", "transfer"],
            cwd=TOP, env=cloud.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            wait_until(lambda: _remote_size(cloud, genome_dir) > 4 * 1024 * 1024, 120, "part of the transfer")
        finally:
            _kill_tree(cut.pid)
            cut.wait(timeout=30)
        # The receiver keeps what arrived in its partial directory.
        time.sleep(1)
        arrived = _remote_size(cloud, f"{genome_dir}/.rsync-partial/simHuman.fa")
        assert 0 < arrived < size

        project.variables["cactus_transfer_rsync_options"] = []
        project.write_variables()
        resumed = project.play("--tags", "transfer")
        literal = _stat(resumed.stdout, "Literal data")
        assert literal <= size - arrived + 1024 * 1024, (literal, size, arrived)
        assert "changed: [e2e-xfer-leader]" in resumed.stdout

        again = project.play("--tags", "transfer")
        assert _stat(again.stdout, "Number of regular files transferred") == 0
        assert recap(again.stdout)["e2e-xfer-leader"]["changed"] == 0
    finally:
        _destroy(project)


def _remote_size(cloud, path):
    """Bytes in a file, or in all files below a directory, on the leader (0 when missing)."""
    out = cloud.appliance("sh", "-c", f"du -sb {path} 2>/dev/null | cut -f1", check=False).stdout
    return int(out.strip() or 0)


def _stat(output, name):
    for line in output.splitlines():
        if name + ":" in line:
            return int(line.split(":", 1)[1].split("bytes")[0].strip().strip("'").replace(",", ""))
    raise AssertionError(f"no {name!r} in the output")


def test_s3_staging_gives_the_same_output(cloud, release, reference_hal, tmp_path):
    """Genomes uploaded to S3, the leader's seqFile pointing there, Toil importing them from S3."""
    staged = {"cactus_transfer_mode": "s3", "cactus_transfer_s3_url": "s3://e2e-inputs/run1"}
    project = _fresh_project(cloud, release, tmp_path, "e2e-s3", **staged)
    try:
        project.play()
        keys = [o["Key"] for o in cloud.client("s3").list_objects_v2(Bucket="e2e-inputs")["Contents"]]
        assert sorted(keys) == [f"run1/{name}/{name}.fa" for name in ("simDog", "simHuman", "simMouse")]
        seqfile = cloud.appliance("cat", project.plan()["leader_seqfile"]).stdout
        assert "simDog\ts3://e2e-inputs/run1/simDog/simDog.fa" in seqfile
        assert project.output.read_bytes() == reference_hal["hal"]
        again = project.play("--tags", "transfer")
        assert recap(again.stdout)["e2e-s3-leader"]["changed"] == 0
    finally:
        _destroy(project)
