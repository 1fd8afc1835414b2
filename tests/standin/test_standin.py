"""Tests of the Cactus TEST STAND-IN (tests/standin/cactus) and its release builder.

Every workflow here is a real Toil 9 run on a temporary file job store; nothing is mocked. Run through
tests/isolated (loopback only). HOME points at a temporary directory for every command, because Toil
writes ~/.toil/default.yaml and its run history there.
"""

import contextlib
import gzip
import importlib
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import psutil
import pytest

HERE = Path(__file__).resolve().parent
SRC = HERE / "cactus" / "src"
VENV_BIN = Path(sys.executable).parent  # holds _toil_worker, which single_machine runs by name
TIMEOUT = 90  # seconds for any one command


def _module(name: str, where: Path):
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))
    return importlib.import_module(name)


def _fasta(seed: int, records: int, length: int) -> str:
    rng = random.Random(seed)  # noqa: S311 (repeatable test data, not security)
    out = []
    for i in range(records):
        seq = "".join(rng.choice("ACGTacgtN") for _ in range(length))
        out.append(f">chr{i} test record\n" + "\n".join(seq[j : j + 60] for j in range(0, length, 60)))
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    return dict(
        os.environ,
        HOME=str(home),
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        # keep whatever is there (tests/isolated puts the network guard on PYTHONPATH)
        PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
        CACTUS_STANDIN_PACE="0",
    )


def write_inputs(where: Path, change_base: bool = False) -> Path:
    """Three genomes (one gzipped, one tab-separated line, one '*' outgroup) and a binary tree."""
    where.mkdir(parents=True, exist_ok=True)
    a = _fasta(1, 2, 150)
    if change_base:  # one base of the first record, nothing else
        head, _, rest = a.partition("\n")
        a = f"{head}\n{'T' if rest[0] != 'T' else 'G'}{rest[1:]}"
    (where / "a.fa").write_text(a)
    (where / "b.fa").write_text(_fasta(2, 1, 200))
    with gzip.open(where / "c.fa.gz", "wt") as gz:  # the name says .gz; content is what counts
        gz.write(_fasta(3, 3, 90))
    seq = where / "seqFile.txt"
    seq.write_text(
        "# stand-in test genomes\n\n"
        "(simA:0.1,(simB:0.2,simC:0.3)mr:0.05);\n"
        f"*simA {where / 'a.fa'}\n"
        f"simB\t{where / 'b.fa'}\n"
        f"simC   {where / 'c.fa.gz'}\n"
    )
    return seq


def cactus(args, env, timeout=TIMEOUT, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "cactus_standin", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def ok(result):
    assert result.returncode == 0, f"rc={result.returncode}\n{result.stdout}\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, env):
    """One uninterrupted run: the reference output the other runs must match byte for byte."""
    tmp = tmp_path_factory.mktemp("baseline")
    seq = write_inputs(tmp / "in")
    ok(cactus([f"file:{tmp / 'js'}", seq, tmp / "out.hal"], env))
    return seq, (tmp / "out.hal").read_bytes()


def test_fresh_run_output_is_derived_from_inputs(baseline, env, tmp_path):
    seq, hal = baseline
    text = hal.decode()
    assert text.startswith("#cactus-standin-hal 1: NOT a real HAL file")
    assert "tree\t(simA:0.1,(simB:0.2,simC:0.3)mr:0.05)Anc0;\n" in text
    assert "\tsimA\treference=1\tsequences=2\tbases=300\t" in text
    assert "\tsimC\treference=0\tsequences=3\tbases=270\t" in text  # gzip found by magic bytes
    assert str(seq.parent) not in text and "file:" not in text  # no paths, no job store

    changed = write_inputs(tmp_path / "in", change_base=True)
    ok(cactus([f"file:{tmp_path / 'js'}", changed, tmp_path / "out.hal"], env))
    new = (tmp_path / "out.hal").read_text().splitlines()
    changed_lines = [b for a, b in zip(text.splitlines(), new, strict=True) if a != b]
    assert len(changed_lines) == 2, changed_lines  # simA's digest and the overall digest, nothing else
    assert changed_lines[0].startswith("genome\tsimA\treference=1\tsequences=2\tbases=300\tsha256=")
    assert changed_lines[1].startswith("alignment\tsha256=")


def test_cluster_options_checked_then_run_on_single_machine(baseline, env, tmp_path):
    """The seed's cluster command, fixed (job store first, --consCores): accepted, run locally, same HAL."""
    seq, hal = baseline
    cluster = "--provisioner aws --batchSystem mesos --nodeTypes c4.8xlarge:0.6,r3.8xlarge --minNodes 0,0 "
    cluster += (
        "--maxNodes 20,2 --defaultPreemptable --nodeStorage 100 --consCores 4 --binariesMode singularity"
    )
    log = tmp_path / "cactus.log"
    args = [f"file:{tmp_path / 'js'}", seq, tmp_path / "out.hal", *cluster.split(), "--logFile", log]
    result = ok(cactus(args, env))
    assert (
        "running every job on single_machine instead of --batchSystem mesos --provisioner aws"
        in result.stderr
    )
    assert "--binariesMode singularity recorded only" in log.read_text()
    assert "stand-in: aligned genome simB" in log.read_text()
    assert (tmp_path / "out.hal").read_bytes() == hal  # new job store, other options: same bytes


def test_cons_cores_required_off_single_machine(baseline, env, tmp_path):
    seq, _ = baseline
    result = cactus([f"file:{tmp_path / 'js'}", seq, tmp_path / "o.hal", "--batchSystem", "mesos"], env)
    assert result.returncode != 0
    assert "--consCores required for non single_machine batch systems" in result.stderr
    assert not (tmp_path / "js").exists()  # rejected before Toil touched the job store


def test_unknown_instance_type_rejected(baseline, env, tmp_path):
    seq, _ = baseline
    args = [f"file:{tmp_path / 'js'}", seq, tmp_path / "o.hal", "--provisioner", "aws"]
    args += ["--batchSystem", "kubernetes", "--consCores", "2", "--nodeTypes", "c4.8xlarg:0.6"]
    result = cactus(args, env)
    assert result.returncode != 0
    assert "Invalid instance type (c4.8xlarg)" in result.stderr and "Did you mean" in result.stderr


def test_seed_metrics_misuse_fails_in_toils_parser(baseline, env, tmp_path):
    seq, _ = baseline
    result = cactus(["--metrics", "aws:us-west-2:x", seq, tmp_path / "o.hal"], env)
    assert result.returncode == 2
    assert "argument --metrics: invalid strtobool value: 'aws:us-west-2:x'" in result.stderr


def test_bad_binaries_mode_rejected(baseline, env, tmp_path):
    seq, _ = baseline
    result = cactus([f"file:{tmp_path / 'js'}", seq, tmp_path / "o.hal", "--binariesMode", "podman"], env)
    assert result.returncode == 2 and "invalid choice: 'podman'" in result.stderr


BAD_SEQFILES = {
    "duplicate": ("(simA,simB);\nsimA {a}\nsimB {a}\nsimA {a}\n", "Duplicate name found: simA"),
    "leaf-without-genome": ("(simA,(simB,simD));\nsimA {a}\nsimB {a}\n", "No sequence specified for simD"),
    "three-without-tree": ("simA {a}\nsimB {a}\nsimC {a}\n", "has more than two children"),
    "multifurcation": ("(simA,simB,simC);\nsimA {a}\nsimB {a}\nsimC {a}\n", "has more than two children"),
}


@pytest.mark.parametrize("case", sorted(BAD_SEQFILES))
def test_bad_seqfile_rejected(case, baseline, env, tmp_path):
    seq, _ = baseline
    body, message = BAD_SEQFILES[case]
    bad = tmp_path / "seqFile.txt"
    bad.write_text(body.format(a=seq.parent / "a.fa"))
    result = cactus([f"file:{tmp_path / 'js'}", bad, tmp_path / "o.hal"], env)
    assert result.returncode != 0 and message in result.stderr
    # As in Cactus, the seqFile is read after Toil made the job store, and a failure leaves it behind.
    assert (tmp_path / "js").is_dir() and not (tmp_path / "o.hal").exists()


def test_seqfile_parsing_like_cactus(tmp_path):
    seqfile = _module("cactus_standin.seqfile", SRC)
    path = tmp_path / "seq.txt"
    path.write_text(
        "  # comment\n\n((h:0.1,(m:0.08,r:0.09)mr:0.27):0.02,(c:0.19,d:0.16):0.03);\n"
        "c\thttps://example.invalid/c.fa\n*h s3://bucket/h.fa.gz\nm  /data/my mouse.fa\nr r.fa\nd d.fa\n"
    )
    parsed = seqfile.parse_seqfile(str(path))
    assert parsed.paths == {
        "c": "https://example.invalid/c.fa",
        "h": "s3://bucket/h.fa.gz",
        "m": "/data/my mouse.fa",  # path = the rest of the line
        "r": "r.fa",
        "d": "d.fa",
    }
    assert parsed.outgroups == ["h"]
    assert (
        seqfile.write_newick(parsed.tree)
        == "((h:0.1,(m:0.08,r:0.09)mr:0.27)Anc1:0.02,(c:0.19,d:0.16)Anc2:0.03)Anc0;"
    )
    two = tmp_path / "two.txt"
    two.write_text("a a.fa\nb b.fa\n")  # two genomes need no tree
    assert seqfile.write_newick(seqfile.parse_seqfile(str(two)).tree) == "(a:1.0,b:1.0)Anc0;"


def kill_tree(leader: subprocess.Popen) -> None:
    """SIGKILL a leader and all its descendants (Toil's workers run in their own sessions)."""
    parent = psutil.Process(leader.pid)
    with contextlib.suppress(psutil.NoSuchProcess):  # includes a leader that just exited (zombie)
        parent.suspend()  # no new workers while we collect the tree
    workers = parent.children(recursive=True)
    for proc in [parent, *workers]:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    leader.wait(timeout=30)  # reaped by Popen, not psutil, so Popen keeps the real exit status
    psutil.wait_procs(workers, timeout=30)


@pytest.mark.timeout(180)
def test_restart_after_kill_gives_identical_output(baseline, env, tmp_path):
    seq, hal = baseline
    job_store, out, log = f"file:{tmp_path / 'js'}", tmp_path / "out.hal", tmp_path / "first.log"
    paced = dict(env, CACTUS_STANDIN_PACE="3")
    with open(tmp_path / "first.err", "w") as err:
        leader = subprocess.Popen(
            [sys.executable, "-m", "cactus_standin", job_store, str(seq), str(out), "--logFile", str(log)],
            env=paced,
            stdout=err,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + TIMEOUT
        while "stand-in: aligned genome" not in (log.read_text() if log.exists() else ""):
            assert leader.poll() is None, (tmp_path / "first.err").read_text()
            assert time.monotonic() < deadline, "no genome finished in time"
            time.sleep(0.2)
    finally:
        kill_tree(leader)
    assert leader.returncode == -9
    assert not out.exists(), "the run finished before it could be interrupted"

    restart_log = tmp_path / "restart.log"
    ok(cactus([job_store, seq, out, "--restart", "--logFile", restart_log], env))
    assert out.read_bytes() == hal
    # Genomes finished before the kill are not redone.
    assert restart_log.read_text().count("stand-in: aligned genome") < 3


def test_existing_job_store_needs_restart(baseline, env, tmp_path):
    seq, hal = baseline
    job_store, out = f"file:{tmp_path / 'js'}", tmp_path / "out.hal"
    ok(cactus([job_store, seq, out, "--clean", "never"], env))
    out.unlink()

    again = cactus([job_store, seq, out], env)
    assert again.returncode != 0
    assert f"The job store '{job_store}' already exists. Use --restart to resume" in again.stderr

    # --restart on a finished workflow only re-runs the export, as Cactus relies on.
    ok(cactus([job_store, seq, out, "--restart"], env))
    assert out.read_bytes() == hal


# ----- installing a release the two ways Cactus is installed ---------------------------------------------


@pytest.fixture(scope="module")
def wheelhouse():
    """pip, setuptools and wheel wheels for offline installs."""
    given = os.environ.get("CACTUS_TEST_WHEELS")
    candidates = (
        [Path(given)] if given else sorted(Path.home().glob(".cache/cactus-aws-tests/appliance-*/wheels"))
    )
    for where in candidates:
        if all(list(where.glob(f"{name}-*.whl")) for name in ("pip", "setuptools", "wheel")):
            return where
    pytest.skip("no wheelhouse with pip/setuptools/wheel: set CACTUS_TEST_WHEELS or build the test appliance")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    make_release = _module("make_release", HERE)
    return make_release.build_release(tmp_path_factory.mktemp("release"))


def test_release_is_reproducible(release, tmp_path):
    make_release = _module("make_release", HERE)
    again = make_release.build_release(tmp_path / "again")
    assert again.tarball.read_bytes() == release.tarball.read_bytes()
    rev = ["git", "rev-parse", "v3.2.1^{commit}"]
    assert (
        subprocess.run(rev, cwd=again.git_dir, capture_output=True, text=True).stdout
        == subprocess.run(rev, cwd=release.git_dir, capture_output=True, text=True).stdout
    )
    with tarfile.open(release.tarball) as tar:
        names = tar.getnames()
    assert (
        "cactus-bin-v3.2.1/toil-requirement.txt" in names
        and "cactus-bin-v3.2.1/bin/cactus_consolidated" in names
    )
    assert not [n for n in names if "__pycache__" in n or ".egg-info" in n]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("how", ["tarball", "git"])
def test_install_offline_into_fresh_venv(how, release, wheelhouse, env, tmp_path, baseline):
    if how == "tarball":
        with tarfile.open(release.tarball) as tar:
            tar.extractall(tmp_path, filter="data")
        source = tmp_path / "cactus-bin-v3.2.1"
    else:
        source = tmp_path / "cactus"
        clone = ["git", "clone", "-q", "--branch", "v3.2.1", release.git_url, str(source)]
        subprocess.run(clone, env=env, check=True, timeout=TIMEOUT)
    # Like the leader: a venv over the system Python, Toil coming from outside the venv. Here Toil lives in
    # the project venv, so a .pth file stands in for the appliance's system site-packages.
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=TIMEOUT
    )
    site = next(venv.glob("lib/python3*/site-packages"))
    toil_site = Path(importlib.import_module("toil").__file__).parents[1]
    (site / "toil-leader.pth").write_text(f"{toil_site}\n")
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheelhouse)]
    # Not the stand-in's source tree on PYTHONPATH this time (the network guard stays).
    clean_env = env | {"PYTHONPATH": os.environ.get("PYTHONPATH", ""), "PIP_NO_CACHE_DIR": "1"}
    # The tarball follows Cactus's guide (upgrade pip/setuptools/wheel first); the clone uses the venv's
    # own pip as it comes, so both old and new pip are shown to build the package offline.
    steps = [["-U", "pip", "setuptools", "wheel"], ["."]] if how == "tarball" else [["."]]
    for args in steps:
        subprocess.run(pip + args, cwd=source, env=clean_env, check=True, timeout=TIMEOUT)
    assert not (site / "toil").exists()  # the stand-in pulled no Toil of its own

    cactus_bin = venv / "bin" / "cactus"
    helped = subprocess.run(
        [cactus_bin, "--help"], env=clean_env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert helped.returncode == 0 and "TEST STAND-IN" in helped.stdout and "--consCores" in helped.stdout
    version = subprocess.run(
        [cactus_bin, "--version"], env=clean_env, capture_output=True, text=True, timeout=60
    )
    assert version.stdout.startswith("cactus 3.2.1 (test stand-in)")

    if how == "tarball":  # one real run from the installed package: workers must find it too
        seq, hal = baseline
        run_env = clean_env | {"PATH": f"{venv / 'bin'}{os.pathsep}{clean_env['PATH']}"}
        args = [cactus_bin, f"file:{tmp_path / 'js'}", seq, tmp_path / "out.hal"]
        ok(subprocess.run(args, env=run_env, capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path))
        assert (tmp_path / "out.hal").read_bytes() == hal
    shutil.rmtree(venv)  # big; no need to keep it in pytest's tmp dirs


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--gpu", "--batchSystem", "kubernetes"], "--gpu N required to set number of GPUs"),
        (["--gpu", "4", "--latest"], "--latest cannot be used with --gpu"),
        (["--gpu", "x"], "Invalid value for blast gpu count, x"),
        (["--gpu", "4", "--lastzCores", "8"], None),
        (["--gpu", "--batchSystem", "single_machine"], None),
        (["--gpu", "4", "--fastga", "--latest"], None),  # FastGA turns the GPU off first
    ],
)
def test_gpu_rules_are_v321s(argv, error, tmp_path):
    """cactus --gpu as v3.2.1's parser and ConfigWrapper.initGPU take it."""
    cli = _module("cactus_standin.cli", SRC)
    options = cli.make_parser().parse_args([f"file:{tmp_path / 'js'}", "seq.txt", "out.hal", *argv])
    if error:
        with pytest.raises(RuntimeError, match=error):
            cli.check_gpu(options)
    else:
        cli.check_gpu(options)
