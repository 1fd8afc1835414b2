"""A run on a host of the user's own inventory (cactus_target_hosts), not a Toil cluster: the loopback
ssh host of the test bed as `core`, reached by Ansible's plain ssh connection, Cactus (the stand-in)
installed from its release into a venv of its own with Toil from the offline wheelhouse, a file job
store, single_machine. No AWS: moto sees no request, and the later runs have no AWS endpoint or
credentials at all (any attempt would reach the network guard, which fails the session).

Also examples/ops-team: the built collection installed into another directory and used by FQCN."""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from project import GENOMES, TOP, TREE, ReleaseServer, recap
from testcloud import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, LEADER_USER, TestCloud, free_port, wait_until

pytestmark = pytest.mark.cloud

HOST = "labhost"


@pytest.fixture(scope="module")
def host_cloud(tmp_path_factory):
    with TestCloud(tmp_path_factory.mktemp("hostrun-cloud"), appliance=False) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    server = ReleaseServer(tmp_path_factory.mktemp("release"))
    yield server
    server.stop()


def no_aws_env(cloud, **extra):
    """The controller's environment without any AWS endpoint, credentials or Toil setting."""
    env = {k: v for k, v in cloud.env(**extra).items() if not k.startswith(("AWS_", "TOIL_"))}
    assert not (cloud.workdir / "home" / ".aws").exists()
    return env


class HostProject:
    """A user's inventory directory with the test host, and the run's variables in group_vars."""

    def __init__(self, cloud: TestCloud, root, release, run_name, **variables):
        self.cloud, self.root, self.run_name = cloud, root, run_name
        self.inventory = root / "inventory"
        (self.inventory / "group_vars").mkdir(parents=True)
        shutil.copy(cloud.write_host_inventory(), self.inventory / "hosts.yml")
        write_genomes(root)
        self.output = root / "results" / "aligned.hal"
        self.run_dir = root / "runs" / run_name
        self.variables = {
            "cactus_target_hosts": HOST,
            "cactus_run_name": run_name,
            "cactus_seqfile": str(root / "seqfile.txt"),
            "cactus_output": str(self.output),
            "cactus_run_dir": str(self.run_dir),
            **stand_ins(cloud, release),
            "cactus_align_wait": True,
            "cactus_align_poll_interval": 1,
            "cactus_align_wait_timeout": 600,
            **variables,
        }
        self.write_variables()

    def write_variables(self):
        (self.inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump(self.variables))

    def play(self, *args, env=None, check=True, playbook="run_alignment.yml"):
        argv = ["ansible-playbook", "-i", str(self.inventory), playbook, *args]
        return self.cloud.run(argv, env=env or no_aws_env(self.cloud), check=check, timeout=900)

    def plan(self):
        return json.loads((self.run_dir / "plan.json").read_text())

    def record(self):
        return json.loads((self.run_dir / "run.json").read_text())


def write_genomes(root):
    (root / "genomes").mkdir()
    lines = [TREE]
    for name, text in GENOMES.items():
        (root / "genomes" / f"{name}.fa").write_text(text)
        lines.append(f"{name}\tgenomes/{name}.fa")
    (root / "seqfile.txt").write_text("\n".join(lines) + "\n")


def stand_ins(cloud, release):
    """The test bed's stand-ins for GitHub (the release server) and PyPI (the host wheelhouse)."""
    return {
        "cactus_provision_release_base_url": release.base_url,
        "cactus_provision_git_url": release.git_url,
        "cactus_provision_pip_extra_args": f"--no-index --find-links {cloud.host_wheelhouse()}",
    }


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def on_host(cloud, script):
    """A shell command on the test host as core, over the cloud's ssh."""
    ssh = ["ssh", "-p", str(cloud.ssh_port), f"{LEADER_USER}@127.0.0.1", script]
    return cloud.run(ssh, env=cloud.env(), check=False, timeout=120).stdout


@pytest.fixture(scope="module")
def reference(host_cloud, release, tmp_path_factory):
    """The first must-show: a full run on the host, from nothing to a fetched, verified HAL, while
    moto (the AWS endpoint of this environment) counts no request at all."""
    project = HostProject(host_cloud, tmp_path_factory.mktemp("host-ref"), release, "hostref")
    before = host_cloud.moto_request_count()
    result = project.play("-vvv", env=host_cloud.env())
    assert host_cloud.moto_request_count() == before, "a host run must make no AWS call"
    hal = project.output.read_bytes()
    assert hal.startswith(b"#cactus-standin-hal")
    return {"project": project, "hal": hal, "output": result.stdout + result.stderr}


def test_full_run_on_a_host_with_no_aws(host_cloud, reference):
    project, out = reference["project"], reference["output"]
    plan = project.plan()
    home = "/home/core"
    assert plan["mode"] == "host" and plan["target_host"] == HOST
    assert plan["jobstore"] == f"{home}/cactus/runs/hostref/jobstore"
    argv = project.record()["argv"]
    assert argv[0] == f"{home}/cactus/venv/bin/cactus"
    nproc = int(on_host(host_cloud, "nproc").strip())
    assert argv[argv.index("--batchSystem") + 1] == "single_machine"
    assert argv[argv.index("--maxCores") + 1] == str(nproc)
    assert argv[argv.index("--maxMemory") + 1].endswith("Mi")
    fetched = json.loads((project.run_dir / "fetched.json").read_text())
    assert fetched["sha256"] == sha256(project.output)
    assert project.record()["state"] == "finished"
    # The venv has its own Toil (no appliance here), at the pinned version.
    assert on_host(host_cloud, "~/cactus/venv/bin/toil --version").strip() == "9.4.1"
    assert "toil_launch : Launch the leader" not in out  # the role ends before it on a host
    # The controller's AWS secret reached neither the host nor any file of the run.
    found = subprocess.run(["grep", "-rlI", "-e", FAKE_SECRET_KEY, "-e", FAKE_ACCESS_KEY,
                            str(host_cloud.core_home), str(project.root)], capture_output=True, text=True)
    assert found.stdout == "", found.stdout


def test_second_run_changes_nothing_without_any_aws_endpoint(host_cloud, reference):
    project = reference["project"]
    again = project.play()
    counts = recap(again.stdout)
    assert counts[HOST]["changed"] == 0 and counts["localhost"]["changed"] == 0, counts
    assert all(c["failed"] == 0 for c in counts.values()), counts
    assert "The alignment finished: nothing to start" in again.stdout
    assert project.output.read_bytes() == reference["hal"]
    status = project.play("--tags", "status")
    assert "state: finished" in status.stdout
    assert "--tags status" in status.stdout and "-e cactus_target_hosts=labhost" in status.stdout
    assert "state: finished" in project.play(playbook="playbooks/status.yml").stdout


def test_check_mode_creates_nothing(host_cloud, release, reference, tmp_path):
    project = HostProject(host_cloud, tmp_path, release, "hostcheck")
    result = project.play("--check")
    assert "Starting the alignment" in result.stdout
    assert not project.run_dir.exists()
    assert not (host_cloud.core_home / "cactus" / "runs" / "hostcheck").exists()


def kill_alignment(cloud):
    """SIGKILL what the run started on the host: cactus, its wrapper, Toil's workers (in sessions of
    their own) and tmux, as a crash or an OOM killer would."""
    assert cloud.kill_host_processes("_toil_worker", "run-cactus.sh", "bin/cactus", "tmux") > 0


def test_killed_alignment_restarts_to_the_same_output(host_cloud, release, reference, tmp_path):
    # Paced (seconds per genome job) so that the run is still going during the checks below, even on a
    # busy machine.
    paced = {"cactus_align_environment": {"CACTUS_STANDIN_PACE": "20"}, "cactus_align_wait": False}
    project = HostProject(host_cloud, tmp_path, release, "hostkill", **paced)
    project.play()
    # Never twice: while it runs, the align step starts no second copy.
    again = project.play("--tags", "align")
    assert "The alignment is running: not starting another copy" in again.stdout
    log = project.plan()["log_file"]
    log = host_cloud.core_home / Path(log).relative_to("/home/core")  # the same file, seen from here
    wait_until(lambda: log.exists() and "stand-in: aligned genome" in log.read_text(), 120,
               "the first aligned genome", interval=0.5)
    kill_alignment(host_cloud)
    # For scripts: status fails unless the run finished.
    stopped = project.play("--tags", "status", "-e", "cactus_status_fail_unless_finished=true", check=False)
    assert stopped.returncode != 0 and "state: interrupted" in stopped.stdout, stopped.stdout[-3000:]
    assert "The alignment stopped before finishing." in stopped.stdout

    # A plain re-run does not start over on the existing job store: it points to restart.
    refused = project.play("--tags", "align", check=False)
    assert refused.returncode != 0 and "--tags restart" in refused.stdout

    # A restart that fails (the stand-in out of disk writing the HAL: in its last job, or when the kill
    # came after that job, in the leader's export) fails the play, with the cause and a restart as the
    # advice; the traceback is in the console log, shown with its path.
    project.variables.update(cactus_align_wait=True,
                             cactus_align_environment={"CACTUS_STANDIN_FAIL": "ENOSPC"})  # fmt: skip
    project.write_variables()
    failed = project.play("--tags", "restart", check=False)
    out = " ".join(failed.stdout.split()).replace("''", "'")  # YAML output: wrapped lines, doubled quotes
    assert failed.returncode != 0 and recap(failed.stdout)[HOST]["failed"] == 1, out[-3000:]
    assert "state: failed (exit code 1)" in out
    assert "cause: OSError: [Errno 28] No space left on device" in out
    assert "Out of disk: make room" in out and "then continue with --tags restart" in out
    assert "console log: /home/core/cactus/runs/hostkill/cactus.console.log" in out
    assert out.count("No space left on device") < 10, "each log's error shown once"
    # Plain status exits 0 on a failed run, and its summary names the cause and keeps the restart line.
    summary = " ".join(project.play("--tags", "status").stdout.split())
    assert "state: failed: OSError: [Errno 28] No space left on device" in summary
    assert "restart: ansible-playbook run_alignment.yml" in summary

    project.variables.update(cactus_align_environment={})
    project.write_variables()
    project.play("--tags", "restart,fetch")
    record = project.record()
    assert record["state"] == "finished" and record["attempt"] == 3 and "--restart" in record["argv"]
    assert project.output.read_bytes() == reference["hal"]
    assert json.loads((project.run_dir / "fetched.json").read_text())["sha256"] == sha256(project.output)
    project.play("--tags", "status", "-e", "cactus_status_fail_unless_finished=true")  # finished: exit 0
    # Nothing to destroy for a host run, and the host's files stay.
    down = project.play(playbook="teardown.yml")
    assert "nothing to destroy" in down.stdout


def build_collection(tmp_path):
    """The genomics.cactus collection as a user gets it: `ansible-galaxy collection build` of this
    repository, installed with --no-deps (nothing here reaches Galaxy) into an empty directory."""
    galaxy = str(Path(sys.executable).parent / "ansible-galaxy")
    subprocess.run([galaxy, "collection", "build", "--output-path", str(tmp_path)], cwd=TOP, check=True,
                   capture_output=True, timeout=120)
    (tarball,) = tmp_path.glob("genomics-cactus-*.tar.gz")
    return tarball


def test_ops_team_directory_uses_the_installed_collection(host_cloud, release, reference, tmp_path):
    """examples/ops-team as an ops team would use it: the built collection installed into its own
    directory, its own ansible.cfg, inventory and a site.yml that imports genomics.cactus.run_alignment;
    the collection's inventory plugin, connection, modules and playbooks by FQCN from there alone."""
    ops = tmp_path / "ops-team"
    shutil.copytree(TOP / "examples" / "ops-team", ops)
    tarball = build_collection(tmp_path)
    galaxy = str(Path(sys.executable).parent / "ansible-galaxy")
    install = [galaxy, "collection", "install", "--no-deps", "-p", str(ops / "collections"), str(tarball)]
    subprocess.run(install, cwd=ops, check=True, capture_output=True, timeout=120)
    installed = ops / "collections" / "ansible_collections" / "genomics" / "cactus"
    assert (installed / "MANIFEST.json").exists() and not (installed / "tests" / "unit").exists()
    config = ops / "ansible.cfg"
    env = no_aws_env(host_cloud, ANSIBLE_CONFIG=str(config))
    # The manuals and the playbook by FQCN, from the installed copy only (cwd: the ops directory).
    for kind, name in [("inventory", "toil_cluster"), ("connection", "toil_appliance"),
                       ("module", "cactus_plan"), ("module", "toil_preflight"), ("module", "cactus_stage")]:
        doc = host_cloud.run(["ansible-doc", "-t", kind, f"genomics.cactus.{name}"], cwd=ops, env=env)
        assert "EXAMPLES" in doc.stdout and str(ops / "collections") in doc.stdout, doc.stdout[:500]
    host_cloud.run(["ansible-playbook", "genomics.cactus.run_alignment", "--syntax-check"], cwd=ops, env=env)
    # The inventory plugin from the installed collection asks the (test) cloud: no such cluster yet.
    graph = host_cloud.run(["ansible-inventory", "-i", "aws/toil_cluster.yml", "--graph"], cwd=ops,
                           env=host_cloud.env(ANSIBLE_CONFIG=str(config)))
    assert "@toil_leader" not in graph.stdout or "ops-cactus-leader" not in graph.stdout

    shutil.copy(host_cloud.write_host_inventory(), ops / "inventory" / "hosts.yml")
    write_genomes(ops)
    group_vars = ops / "inventory" / "group_vars" / "all.yml"
    settings = yaml.safe_load(group_vars.read_text())
    settings.update(cactus_target_hosts=HOST, cactus_run_name="opsrun", **stand_ins(host_cloud, release))
    group_vars.write_text(yaml.safe_dump(settings))
    result = host_cloud.run(["ansible-playbook", "site.yml"], cwd=ops, env=env, timeout=900)
    assert (ops / "results" / "aligned.hal").read_bytes() == reference["hal"]
    fetched = json.loads((ops / "runs" / "opsrun" / "fetched.json").read_text())
    assert fetched["sha256"] == sha256(ops / "results" / "aligned.hal")
    assert "toil_launch : Launch the leader" not in result.stdout
    assert "genomics.cactus.cactus_align : Start cactus" in result.stdout


@pytest.mark.parametrize("variables,message", [
    ({"cactus_target_hosts": "nosuchhost"}, "cactus_target_hosts: 'nosuchhost' names 0 hosts"),
    ({"cactus_target_hosts": "labhost*"}, "'labhost*' names 2 hosts of the inventory (labhost, labhost2)"),
    # Ansible's own message names the host and why (here: ssh connection refused).
    ({"cactus_target_hosts": "deadhost"}, "fatal: [localhost -> deadhost]: UNREACHABLE!"),
    ({"cactus_batch_system": "lsf", "cactus_cons_cores": 8}, "cactus_batch_system: 'lsf' needs bsub"),
    ({"cactus_output": "s3://bucket/out.hal"}, "cactus_output: an s3:// output needs AWS"),
    ({"cactus_transfer_mode": "s3"}, "cactus_transfer_mode: 's3' needs AWS"),
])  # fmt: skip
def test_bad_host_settings_stop_before_anything_is_made(host_cloud, release, tmp_path, variables, message):
    project = HostProject(host_cloud, tmp_path, release, "hostbad", **variables)
    hosts = yaml.safe_load((project.inventory / "hosts.yml").read_text())
    lab = hosts["all"]["children"]["lab"]["hosts"]
    lab["labhost2"] = dict(lab[HOST])
    lab["deadhost"] = dict(lab[HOST], ansible_port=free_port())  # nothing listens there
    (project.inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    result = project.play("--tags", "prereqs,plan", check=False)
    assert result.returncode != 0 and message in " ".join(result.stdout.split()), result.stdout[-3000:]
    assert not project.run_dir.exists()
    assert not (host_cloud.core_home / "cactus" / "runs" / "hostbad").exists()


def test_local_connection_host_gets_the_genomes(host_cloud, release, tmp_path):
    """A host reached with ansible_connection=local (the controller itself): the genomes arrive by a
    plain local rsync, checksum-verified, and a second transfer changes nothing."""
    project = HostProject(host_cloud, tmp_path, release, "localrun", cactus_target_hosts="localbox",
                          cactus_leader_dir=str(tmp_path / "on-host"))  # fmt: skip
    (project.inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"localbox": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}))
    project.play("--tags", "prereqs,plan,transfer")
    genomes = tmp_path / "on-host" / "runs" / "localrun" / "genomes"
    for name, text in GENOMES.items():
        assert (genomes / name / f"{name}.fa").read_text() == text
    assert (genomes / ".verified.sha256").read_bytes() == (genomes / ".manifest.sha256").read_bytes()
    again = project.play("--tags", "transfer")
    assert recap(again.stdout)["localbox"]["changed"] == 0, recap(again.stdout)


# File names Toil would misread in the file:// URL Cactus makes of a local path ('?' a query, '#' a
# fragment, '%41' an escape of 'A'), beside the file '%41' would turn into.
ODD_GENOMES = {
    "pct": ("pct%41.fa", ">p1\n" + "ACGTACGA" * 50 + "\n>p2\n" + "GGCCTTAA" * 40 + "\n"),
    "pctA": ("pctA.fa", ">a1\n" + "TTTTCCCA" * 45 + "\n"),
    "qx": ("q?x.fa", ">q1\n" + "CAGTCAGG" * 30 + "\n"),
    "hx": ("h#x.fa", ">h1\n" + "GATCGATT" * 35 + "\n"),
}


def standin_summary(text, tmp_path):
    """What the stand-in's HAL says of a FASTA text (its own summary function)."""
    src = str(TOP / "tests" / "standin" / "cactus" / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    from cactus_standin.workflow import fasta_summary

    path = tmp_path / "summary.fa"
    path.write_text(text)
    return fasta_summary(str(path))


def hal_genomes(hal):
    return {line.split("\t")[1]: line for line in hal.splitlines() if line.startswith("genome\t")}


def test_odd_file_names_align_and_edited_inputs_never_pass_for_the_old_hal(host_cloud, release, tmp_path):
    """Names with '?', '#' and '%41' import the right files; then, after one genome is edited, a
    re-run of the finished run reports the change, leaves the host's copy and the old HAL alone, and
    a new run name aligns the current inputs."""
    project = HostProject(host_cloud, tmp_path, release, "hostodd")
    lines = ["((pct:0.1,pctA:0.2)anc1:0.05,(qx:0.1,hx:0.2)anc2:0.1);"]
    for name, (file_name, text) in ODD_GENOMES.items():
        (tmp_path / "genomes" / file_name).write_text(text)
        lines.append(f"{name}\tgenomes/{file_name}")
    (tmp_path / "seqfile.txt").write_text("\n".join(lines) + "\n")
    project.play()
    genomes = hal_genomes(project.output.read_text())
    for name, (_, text) in ODD_GENOMES.items():
        summary = standin_summary(text, tmp_path)
        assert f"sequences={summary['sequences']}\tbases={summary['bases']}\tsha256={summary['sha256']}" in \
            genomes[name], (name, genomes[name])
    staged = "~/cactus/runs/hostodd/genomes"
    assert on_host(host_cloud, f"cd {staged} && ls pct qx hx").split() == [
        "hx:", "h_x.fa", "pct:", "pct_41.fa", "qx:", "q_x.fa"]
    assert on_host(host_cloud, f"cat {staged}/pct/pct_41.fa") == ODD_GENOMES["pct"][1]
    old_hal = project.output.read_bytes()

    # One genome edited after the run finished: the re-run stops before sending anything.
    edited = ODD_GENOMES["pct"][1] + ">p3\nACGT\n"
    (tmp_path / "genomes" / "pct%41.fa").write_text(edited)
    rerun = project.play(check=False)
    said = " ".join(rerun.stdout.split())
    assert rerun.returncode != 0, rerun.stdout[-3000:]
    assert "The inputs changed since the alignment in job store /home/core/cactus/runs/hostodd/jobstore " \
           "finished: genome pct (sha256" in said, said[-3000:]
    assert f"Its HAL ({project.output}) is the alignment of the earlier inputs, not of the current" in said
    assert "-e cactus_run_name=hostodd-2" in said
    assert "nothing to start" not in said and "Fetch it with --tags fetch" not in said
    assert on_host(host_cloud, f"cat {staged}/pct/pct_41.fa") == ODD_GENOMES["pct"][1]  # not overwritten
    fetch = project.play("--tags", "fetch", check=False)
    assert fetch.returncode != 0
    assert "is the alignment of the earlier inputs" in " ".join(fetch.stdout.split()), fetch.stdout[-3000:]
    assert project.output.read_bytes() == old_hal
    status = " ".join(project.play("--tags", "status").stdout.split())
    assert "The inputs changed since the alignment" in status, status[-3000:]
    assert "state: finished (of earlier inputs: genome pct (sha256" in status

    # The way forward it named: a new run name, a new job store; the old one is left alone.
    project.play("-e", "cactus_run_name=hostodd-2")
    genomes = hal_genomes(project.output.read_text())
    assert "sequences=3" in genomes["pct"] and genomes["pctA"] == hal_genomes(old_hal.decode())["pctA"]
    assert on_host(host_cloud, f"cat {staged}/pct/pct_41.fa") == ODD_GENOMES["pct"][1]
