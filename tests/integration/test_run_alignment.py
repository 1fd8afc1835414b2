"""The whole run on the local test cloud, as a user types it: ansible-playbook run_alignment.yml from
an empty account to a fetched, verified HAL; idempotent re-runs; --check; a re-created appliance;
the alignment killed and restarted; the leader lost, relaunched and restarted; teardown.

Cactus is the stand-in (tests/standin); everything else is real: Toil's CLI, moto over HTTP,
sshd, the podman appliance, Ansible."""

import contextlib
import datetime
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import toil_claims
from project import TOP, Project, ReleaseServer, recap
from testcloud import AMI, FAKE_ACCESS_KEY, FAKE_SECRET_KEY, KEY_PAIR, ZONE, _kill_tree, wait_until

pytestmark = pytest.mark.cloud


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    server = ReleaseServer(tmp_path_factory.mktemp("release"))
    yield server
    server.stop()


# ./test.sh runs the cloud tests as two streams at once and gives both this directory: the stream that
# makes the reference run (it holds the tests that look at that run itself) leaves its HAL there, and
# the other stream compares with it instead of making a second reference run.
SHARED = os.environ.get("CACTUS_TEST_SHARED")
REFERENCE_USERS = ("test_full_run_then_rerun_changes_nothing_then_teardown", "test_secret_never_leaks")


@pytest.fixture(scope="module")
def reference_output(request):
    """The bytes every other way to the end must give: the HAL of this stream's reference run, or, when
    this stream makes none, the one the other stream left in CACTUS_TEST_SHARED (a bounded wait)."""
    makes_it = any(item.originalname in REFERENCE_USERS for item in request.session.items)
    if makes_it or not SHARED:
        return request.getfixturevalue("reference_hal")["hal"]
    hal, failed = Path(SHARED, "reference.hal"), Path(SHARED, "reference.failed")
    wait_until(lambda: hal.exists() or failed.exists(), 1200, f"the other stream's reference HAL ({hal})",
               interval=2)
    assert not failed.exists(), f"the other stream's reference run failed: {failed.read_text()}"
    return hal.read_bytes()


@pytest.fixture(scope="module")
def reference_hal(cloud, release, tmp_path_factory):
    """The HAL of an uninterrupted full run: every other way to the end must give the same bytes.
    The run itself is the first must-show: from an empty account to a fetched, verified output."""
    try:
        made = _reference_run(cloud, release, tmp_path_factory)
    except BaseException as failure:
        if SHARED:
            Path(SHARED, "reference.failed").write_text(repr(failure)[:2000])
        raise
    if SHARED:  # written whole, then renamed: the other stream never reads half a file
        Path(SHARED, "reference.hal.part").write_bytes(made["hal"])
        Path(SHARED, "reference.hal.part").rename(Path(SHARED, "reference.hal"))
    return made


def _reference_run(cloud, release, tmp_path_factory):
    project = _fresh_project(cloud, release, tmp_path_factory.mktemp("reference"), "e2e-ref")
    result = project.play("-vvv")
    out = result.stdout + result.stderr
    hal = project.output.read_bytes()
    assert hal.startswith(b"#cactus-standin-hal")
    fetched = json.loads((project.run_dir / "fetched.json").read_text())
    assert fetched["sha256"] == _sha256(project.output)
    assert project.record()["state"] == "finished"
    # The default path (Kubernetes): cactus-prepare-toil, its HAL through the run's bucket, checked by
    # size and ETag; every step asked Toil for what the plan sized (the stand-in records the requests).
    plan = project.plan()
    assert plan["workflow"] == "prepare_toil" and project.record()["argv"][0].endswith("/cactus-prepare-toil")
    assert fetched["source"] == plan["hal"]["url"] == "s3://e2e-ref-jobstore--hal/aligned.hal"
    assert fetched["etag"] and int(fetched["size"]) == len(hal)
    # the run report, written at fetch: facts and checksums, its plots inline
    report = (project.run_dir / "report.html").read_text()
    assert fetched["sha256"] in report and "<svg" in report and "//" not in report.split("<svg")[0]
    for step, request in plan["steps"].items():
        asked = f"step\t{step}\t"
        lines = [line for line in hal.decode().splitlines() if line.startswith(asked)]
        assert lines and all(line.endswith(f"\tcores={request['cores']}\tmemory={request['memory']}"
                                           f"\tdisk={request['disk']}") for line in lines), (step, lines)
    return {"project": project, "hal": hal, "verbose_output": out}


def _fresh_project(cloud, release, root, cluster, **variables):
    cloud.reset_account()
    cloud.new_leader_machine()
    return Project(cloud, root, cluster, release, **variables)


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_readable(output):
    """A full run's output a person reads: short, no retry lines, no noise, no header of a play that
    does nothing, no warning Ansible makes about an inventory that has no leader yet."""
    lines = output.splitlines()
    assert len(lines) < 300, f"{len(lines)} lines"
    for noise in ("FAILED - RETRYING", "skipping:", "Validating arguments", "PLAY [Tear down",
                  "provided hosts list is empty", "Could not match supplied host pattern"):
        assert noise not in output, noise


def _destroy(project):
    """Tear the scenario's cluster down, unless nothing of it is left (the scenario tore it down itself
    and checked that: another teardown run would find nothing)."""
    left, cluster = project.cloud.leftovers(), project.cluster
    roles = [role for role in left["iam_roles"] if toil_claims(cluster, role)]  # Toil's rule for its role
    if left["instances"] or cluster in left["security_groups"] or roles:
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

    # One genome edited after the run finished: the re-run names it, sends nothing over the leader's
    # copy, does not call the old HAL the result, and names the job store variable to align it anew.
    genome = project.genomes_dir / "simMouse.fa"
    original = genome.read_text()
    genome.write_text(original + ">chr2\nACGT\n")
    edited = project.play(check=False)
    said = " ".join(edited.stdout.split())
    assert edited.returncode != 0, edited.stdout[-3000:]
    assert "The inputs changed since the alignment in job store aws:us-west-2:e2e-ref-jobstore finished: " \
           "genome simMouse (sha256" in said, said[-3000:]
    assert "-e toil_jobstore_name=e2e-ref-jobstore-2" in said and "nothing to start" not in said
    leader_copy = f"{project.plan()['leader_run_dir']}/genomes/simMouse/simMouse.fa"
    assert cloud.appliance("cat", leader_copy).stdout == original
    genome.write_text(original)

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

    # Finished and fetched: teardown destroys exactly this cluster and, asked to, the HAL's bucket.
    result = project.play("-e", "toil_teardown_clean_output_bucket=true", playbook="teardown.yml")
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


@pytest.fixture(scope="module")
def provisioned(cloud, release, tmp_path_factory):
    """One launched leader with Cactus provisioned from its git tag, SSH only from 127.0.0.0/8: shared by
    the provisioning scenario and the cut transfer that follows it (neither starts an alignment). The
    last of them destroys it."""
    project = _fresh_project(cloud, release, tmp_path_factory.mktemp("prov"), "e2e-prov",
                             cactus_provision_method="git", toil_launch_ssh_ingress_cidrs=["127.0.0.0/8"])
    yield project
    if not getattr(project, "destroyed", False):
        _destroy(project)


def test_provision_from_git_tag_and_repair_a_recreated_appliance(cloud, provisioned):
    project = provisioned
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


def test_cut_transfer_resumes_without_resending(cloud, provisioned):
    """On the provisioning scenario's leader (launched and provisioned again when run alone)."""
    project = provisioned
    leader = f"{project.cluster}-leader"
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
        partial = f"{genome_dir}/.rsync-partial/simHuman.fa"
        arrived = wait_until(lambda: _remote_size(cloud, partial), 10, "the partial file", interval=0.2)
        assert 0 < arrived < size
        # A byte of what arrived damaged: the resumed file must still be the controller's, byte for byte.
        cloud.appliance("sh", "-c", f"printf X | dd of={partial} bs=1 seek=4096 conv=notrunc status=none")

        project.variables["cactus_transfer_rsync_options"] = []
        project.write_variables()
        resumed = project.play("--tags", "transfer")
        literal = _stat(resumed.stdout, "Literal data")
        assert literal <= size - arrived + 1024 * 1024, (literal, size, arrived)
        assert f"changed: [{leader}]" in resumed.stdout
        leader_sha = cloud.appliance("sha256sum", f"{genome_dir}/simHuman.fa").stdout.split()[0]
        assert leader_sha == _sha256(big)
        verified = cloud.appliance("cat", f"{genome_dir}/../.verified.sha256").stdout
        assert f"{leader_sha}  simHuman/simHuman.fa" in verified.splitlines()

        again = project.play("--tags", "transfer")
        assert _stat(again.stdout, "Number of regular files transferred") == 0
        assert recap(again.stdout)[leader]["changed"] == 0
    finally:
        _destroy(project)
        project.destroyed = True


def _wait_for_aligned_genome(cloud, project, timeout=120):
    log = cloud.leader_path(project.plan()["log_file"])

    def some_aligned():
        out = log.read_text(errors="replace") if log.exists() else ""
        return "stand-in: aligned genome" in out or "stand-in: preprocessed genome" in out

    wait_until(some_aligned, timeout, "the first aligned genome", interval=0.5)


def _kill_alignment(cloud):
    """SIGKILL everything the run started in the appliance (Toil's workers run in their own sessions)."""
    # [x] in the patterns: they must not match this shell's own command line.
    script = "pkill -9 -f [_]toil_worker; pkill -9 -f [r]un-cactus.sh; pkill -9 -f [b]in/cactus; "
    script += "tmux kill-server"
    cloud.appliance("sh", "-c", script + "; true")


# Prices given (the emulator has no Price List API): on demand, spot; volumes left unpriced (said).
PRICES = {"cactus_plan_on_demand_prices": {"t2.medium": 0.0464, "r5.large": 0.126},
          "cactus_spot_prices": {"c5.4xlarge": 0.25}}


def _add_workers(cloud, cluster):
    """Two workers the way Toil's autoscaler tags them, in the cluster's security group: one spot."""
    ec2 = cloud.client("ec2")
    group = ec2.describe_security_groups(GroupNames=[cluster])["SecurityGroups"][0]["GroupId"]
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "clusterName", "Value": cluster},
                                                  {"Key": "ToilNodeType", "Value": "worker"}]}]
    ids = []
    for kind, market in (("c5.4xlarge", {"MarketType": "spot"}), ("r5.large", None)):
        extra = {"InstanceMarketOptions": market} if market else {}
        made = ec2.run_instances(ImageId=AMI, InstanceType=kind, MinCount=1, MaxCount=1,
                                 SecurityGroupIds=[group], Placement={"AvailabilityZone": ZONE},
                                 TagSpecifications=tags, **extra)
        ids.append(made["Instances"][0]["InstanceId"])
    return ids


def _check_spend_by_hand(cloud, project):
    """The last point of the run's spend series equals the sum of price x hours of its instances."""
    point = json.loads((project.run_dir / "spend.jsonl").read_text().splitlines()[-1])
    at = datetime.datetime.fromisoformat(point["at"])
    ec2 = cloud.client("ec2")
    group = ec2.describe_security_groups(GroupNames=["e2e-kill"])["SecurityGroups"][0]["GroupId"]
    found = ec2.describe_instances(Filters=[{"Name": "instance.group-id", "Values": [group]}])["Reservations"]
    by_hand = 0.0
    for i in (i for reservation in found for i in reservation["Instances"]):
        if i["State"]["Name"] == "running":
            spot = i.get("InstanceLifecycle") == "spot"
            prices = PRICES["cactus_spot_prices" if spot else "cactus_plan_on_demand_prices"]
            by_hand += prices[i["InstanceType"]] * (at - i["LaunchTime"]).total_seconds() / 3600
    assert point["total"] == pytest.approx(by_hand, abs=1e-3), (point, by_hand)
    assert point["nodes"] == {"c5.4xlarge": 1, "r5.large": 1}


def _check_samples_and_report(cloud, project):
    """The leader's sampler recorded Toil's jobs while the run went on, stopped with the killed run, and
    status brought its samples home into report.html (its plots inline)."""
    samples = [json.loads(line) for line in (project.run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) >= 3 and all(p["at"] and "jobs" in p for p in samples), samples
    assert samples[-1]["jobs"]["issued"] >= 1 and samples[-1]["nodes"] is None  # the bed has no Kubernetes
    left = cloud.appliance("sh", "-c", "pgrep -f '[c]actus_sampler.py' || true").stdout.strip()
    assert not left, f"the sampler outlived its run: {left}"
    page = (project.run_dir / "report.html").read_text()
    assert page.count("<svg") == 3 and "e2e-kill" in page, page[:2000]


def test_killed_alignment_restarts_to_the_same_output(cloud, release, reference_output, tmp_path):
    # Paced (seconds per genome job): the run must still be going during the checks below on a busy machine.
    # The sampler on the leader every 2 s: a few samples before the kill.
    # Toil waits between a failing job's retries (the failed restart below: 5 of them), by default
    # 2, 6, 18, 54 and 162 s: four minutes of the test's waiting. 2 s each is enough to be seen.
    paced = {"cactus_align_environment": {"CACTUS_STANDIN_PACE": "15"}, "cactus_align_wait": False,
             "cactus_sample_interval": 2,
             "cactus_extra_options": ["--retryBackoffSeconds", "2", "--retryBackoffFactor", "1"]}  # fmt: skip
    project = _fresh_project(cloud, release, tmp_path, "e2e-kill", **paced)
    try:
        project.play()
        # Teardown is refused while the alignment runs, and destroys nothing.
        refused = project.play(playbook="teardown.yml", check=False)
        assert refused.returncode != 0 and "An alignment is running on cluster e2e-kill" in refused.stdout
        assert cloud.leftovers()["instances"]

        _wait_for_aligned_genome(cloud, project)
        _kill_alignment(cloud)
        workers = _add_workers(cloud, "e2e-kill")
        status = project.play("--tags", "status", "-e", json.dumps(PRICES))
        said = status.stdout
        assert "state: interrupted | " in said and " elapsed | jobs: " in said
        assert "workers: 1 c5.4xlarge, 1 r5.large" in said, said[-3000:]
        # cactus-prepare-toil's steps, from toil status: the jobs each step has left.
        assert "steps (jobs left): " in said and "halAppend 1" in said and "align " in said, said[-3000:]
        _check_spend_by_hand(cloud, project)
        _check_samples_and_report(cloud, project)
        cloud.client("ec2").terminate_instances(InstanceIds=workers)

        # A plain re-run must not start over on the existing job store: it points to restart.
        refused = project.play("--tags", "align", check=False)
        assert refused.returncode != 0 and "--tags restart" in refused.stdout

        # A restart that fails (the stand-in out of disk writing the HAL) with wait on: a non-zero exit and
        # the cause (the same roles as on a host, where test_host_run.py looks at the output more closely).
        project.variables.update(cactus_align_wait=True,
                                 cactus_align_environment={"CACTUS_STANDIN_FAIL": "ENOSPC"})  # fmt: skip
        project.write_variables()
        failed = project.play("--tags", "restart,fetch", "-e", "cactus_teardown_after_fetch=true",
                              check=False)
        assert failed.returncode != 0 and recap(failed.stdout)["e2e-kill-leader"]["failed"] == 1
        # a failed alignment keeps its cluster even with cactus_teardown_after_fetch, and says so
        assert "cluster e2e-kill is kept" in failed.stdout and cloud.leftovers()["instances"]
        # while waiting (paced: seconds per job), one line per look with elapsed time and Toil's jobs
        looks = [line for line in failed.stdout.splitlines() if line.startswith("running | ")]
        assert looks and all(" elapsed | jobs: " in line for line in looks), failed.stdout[-3000:]
        assert "FAILED - RETRYING" not in failed.stdout
        assert "cause: OSError: [Errno 28] No space left on device" in " ".join(failed.stdout.split())

        project.variables.update(cactus_align_environment={})
        project.write_variables()
        project.play("--tags", "restart,fetch")
        assert project.record()["state"] == "finished" and project.record()["attempt"] == 3
        assert "--restart" in project.record()["argv"]
        assert project.output.read_bytes() == reference_output
    finally:
        _destroy(project)


# pytest-timeout counts fixture set-up: on a busy 2-core machine the reference run this stream makes
# first (~3-5 min; under ./test.sh, the wait for the other stream's) and this scenario (~6-11 min)
# together can pass the suite's 900 s.
@pytest.mark.timeout(1500)
def test_lost_leader_relaunched_and_restarted(cloud, release, reference_output, tmp_path):
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
        assert project.output.read_bytes() == reference_output
    finally:
        _destroy(project)


def _remote_size(cloud, path):
    """Bytes in a file, or in all files below a directory, on the leader (0 when missing); read on the
    leader host's disk, as the waits look many times a second. Files rsync renames meanwhile count 0."""
    where = cloud.leader_path(path)
    names = [where] if where.is_file() else [Path(d, f) for d, _, files in os.walk(where) for f in files]
    total = 0
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            total += name.stat().st_size
    return total


def _stat(output, name):
    for line in output.splitlines():
        if name + ":" in line:
            return int(line.split(":", 1)[1].split("bytes")[0].strip().strip("'").replace(",", ""))
    raise AssertionError(f"no {name!r} in the output")


def test_s3_staging_gives_the_same_output(cloud, release, reference_output, tmp_path):
    """Genomes uploaded to S3, the leader's seqFile pointing there, Toil importing them from S3."""
    staged = {"cactus_transfer_mode": "s3", "cactus_transfer_s3_url": "s3://e2e-inputs/run1"}
    project = _fresh_project(cloud, release, tmp_path, "e2e-s3", **staged)
    try:
        run = project.play()
        _assert_readable(run.stdout + run.stderr)
        # fetched and verified: the summary sends nobody to --tags fetch or restart
        assert "(fetched, checksum verified)" in run.stdout and "--tags fetch" not in run.stdout
        keys = [o["Key"] for o in cloud.client("s3").list_objects_v2(Bucket="e2e-inputs")["Contents"]]
        assert sorted(keys) == [f"run1/{name}/{name}.fa" for name in ("simDog", "simHuman", "simMouse")]
        seqfile = cloud.appliance("cat", project.plan()["leader_seqfile"]).stdout
        assert "simDog\ts3://e2e-inputs/run1/simDog/simDog.fa" in seqfile
        assert project.output.read_bytes() == reference_output
        again = project.play("--tags", "transfer")
        assert recap(again.stdout)["e2e-s3-leader"]["changed"] == 0
        # cactus_teardown_after_fetch: the HAL verified again, then no instance, group or role of the cluster
        done = project.play("--tags", "fetch", "-e", "cactus_teardown_after_fetch=true")
        assert "torn down after the verified fetch" in done.stdout, done.stdout[-3000:]
        left = cloud.leftovers()
        assert (left["instances"], left["security_groups"], left["iam_roles"]) == ([], [], []), left
    finally:
        _destroy(project)


# ---- A governed account: its VPC's subnet without public addresses, its own instance profile and
# security group, mandatory tags, pinned images; the whole run over private addresses.
GOVERNED_TAGS = {"CostCenter": "4711", "Team": "genomics"}


def _governed_account(cloud):
    """What the network and security teams hand out: a VPC of their own with a subnet that gives no
    public address, a baseline security group there, and an instance profile with its role."""
    ec2, iam = cloud.client("ec2"), cloud.client("iam")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24", AvailabilityZone=ZONE)["Subnet"]
    assert not subnet["MapPublicIpOnLaunch"]
    group = ec2.create_security_group(GroupName="ops-baseline", Description="ops baseline", VpcId=vpc)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="ops-cactus-node", AssumeRolePolicyDocument=json.dumps(trust))
    profile = iam.create_instance_profile(InstanceProfileName="ops-cactus-node")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName="ops-cactus-node", RoleName="ops-cactus-node")
    return {"vpc": vpc, "subnet": subnet["SubnetId"], "group": group["GroupId"], "profile": profile["Arn"]}


def _tags(items):
    return {t["Key"]: t["Value"] for t in items or []}


def test_governed_account_private_subnet_own_profile_tags(cloud, release, tmp_path):
    from toil.version import currentCommit

    started = time.monotonic()
    cloud.reset_account()
    cloud.new_leader_machine()
    account = _governed_account(cloud)
    # A mirror's name that carries Toil's commit: Toil 9.4.1 never looks such an image up.
    appliance = f"registry.example.org/mirror/toil:9.4.1-{currentCommit}-py3.10"
    project = Project(
        cloud, tmp_path, "e2e-gov", release, toil_vpc_subnet=account["subnet"],
        toil_instance_profile_arn=account["profile"], toil_extra_security_groups=[account["group"]],
        toil_tags=GOVERNED_TAGS, toil_aws_ami=AMI, toil_appliance_image=appliance,
        cactus_transfer_mode="s3", cactus_transfer_s3_url="s3://e2e-gov-inputs/run1",
        # Keep the job store after success, to read the tags Toil gave its bucket.
        cactus_extra_options=["--clean", "never"],
    )  # fmt: skip
    inventory = project.inventory / "toil_cluster.yml"
    inventory.write_text(inventory.read_text() + "use_private_ip: true\n")
    ec2, iam, s3 = cloud.client("ec2"), cloud.client("iam"), cloud.client("s3")
    expected_tags = {**GOVERNED_TAGS, "Owner": KEY_PAIR, "cactus-run": "e2e-gov-jobstore"}
    try:
        played = project.play()
        out = " ".join((played.stdout + played.stderr).split())
        assert "gives no public addresses" in out and "a bastion cannot carry the launch" in out
        assert "profile ops-cactus-node (role ops-cactus-node) exists: Toil creates no IAM role" in out
        assert f"appliance image {appliance} carries Toil's commit" in out
        plan = project.plan()
        assert plan["governed"]["creates_iam_role"] is False
        assert plan["launch_cluster_environment"]["TOIL_APPLIANCE_SELF"] == appliance
        assert project.record()["appliance_image"] == appliance and project.record()["aws_ami"] == AMI

        # The leader: in the subnet, no public address, the run over its private one (loopback here).
        [leader] = [i for r in ec2.describe_instances(Filters=[
            {"Name": "tag:clusterName", "Values": ["e2e-gov"]}])["Reservations"] for i in r["Instances"]]
        assert leader["SubnetId"] == account["subnet"] and leader["VpcId"] == account["vpc"]
        assert "PublicIpAddress" not in leader and leader["PrivateIpAddress"].startswith("127.0.128.")
        assert f"leader: {leader['PrivateIpAddress']}" in out
        assert leader["IamInstanceProfile"]["Arn"] == account["profile"]
        assert account["group"] in [g["GroupId"] for g in leader["SecurityGroups"]]
        # No IAM role made by the run; the tags on every instance, volume, security group and bucket.
        assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["ops-cactus-node"]
        assert _tags(leader["Tags"]).items() >= expected_tags.items()
        volumes = ec2.describe_volumes(Filters=[
            {"Name": "attachment.instance-id", "Values": [leader["InstanceId"]]}])["Volumes"]
        assert volumes and all(_tags(v.get("Tags")).items() >= expected_tags.items() for v in volumes)
        [group] = ec2.describe_security_groups(GroupNames=["e2e-gov"])["SecurityGroups"]
        assert _tags(group.get("Tags")).items() >= expected_tags.items()
        for bucket in ("e2e-gov-inputs", "e2e-gov-jobstore--toil", "e2e-gov-jobstore--hal"):
            tags = _tags(s3.get_bucket_tagging(Bucket=bucket)["TagSet"])
            assert tags.items() >= expected_tags.items(), (bucket, tags)
        fetched = json.loads((project.run_dir / "fetched.json").read_text())
        assert project.output.read_bytes().startswith(b"#cactus-standin-hal")
        assert fetched["sha256"] == _sha256(project.output)

        # Teardown leaves the user's profile, role, group and VPC; nothing of the run is left.
        clean = ["-e", "toil_teardown_clean_jobstore=true", "-e", "toil_teardown_clean_output_bucket=true"]
        result = project.play(*clean, playbook="teardown.yml")
        assert "Nothing of cluster e2e-gov is left." in result.stdout
        left = cloud.leftovers()
        assert left == {"instances": [], "security_groups": ["ops-baseline"],
                        "iam_roles": ["ops-cactus-node"], "instance_profiles": ["ops-cactus-node"],
                        "buckets": ["e2e-gov-inputs"]}, left  # fmt: skip
    finally:
        _destroy(project)
    print(f"governed-account scenario (full run over private addresses, teardown): "
          f"{time.monotonic() - started:.1f} s")
