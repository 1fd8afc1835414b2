"""The transfer in one task (the cactus_transfer action plugin), driven directly: a real local rsync into
a directory that stands for the target, and the real cactus_verify module run there as Ansible would
run it. What is read, what is sent, and what stops the run."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.genomics.cactus.plugins.action import cactus_transfer as action_module
from ansible_collections.genomics.cactus.plugins.filter.cactus_transfer import cactus_transfer_rsync_argv
from ansible_collections.genomics.cactus.plugins.module_utils import cactus_stage

VERIFY = Path(__file__).parents[2] / "plugins" / "modules" / "cactus_verify.py"


class Bed:
    """The controller's run directory and genomes, and a target directory; runs the action."""

    def __init__(self, tmp_path, monkeypatch):
        self.tmp, self.monkeypatch = tmp_path, monkeypatch
        self.inputs = tmp_path / "in"
        self.inputs.mkdir()
        self.target = tmp_path / "target" / "runs" / "r"
        self.genomes_dir = self.target / "genomes"
        self.run_dir = tmp_path / "run"
        self.run_dir.mkdir()
        self.genomes = []
        for name in ("a", "b"):
            path = self.inputs / f"{name}.fa"
            path.write_text(f">{name}\n" + "ACGT" * (1000 + len(self.genomes)) + "\n")
            self.genomes.append({"name": name, "kind": "local", "resolved": str(path),
                                 "leader_path": f"{self.genomes_dir}/{name}/{name}.fa"})  # fmt: skip
        self.genomes.append({"name": "u", "kind": "url", "resolved": "https://host/u.fa", "size_on_disk": 9})
        self.hashed, self.rsyncs, self.modules = [], [], []
        real_feed = cactus_stage.feed

        def feed(path, digest, offset=0, stop=None):
            if offset == 0:
                self.hashed.append(path)
            return real_feed(path, digest, offset, stop)

        monkeypatch.setattr(cactus_stage, "feed", feed)
        real_popen = subprocess.Popen

        def popen(argv, *args, **kwargs):
            if argv[0] == "rsync":
                self.rsyncs.append(argv)
            return real_popen(argv, *args, **kwargs)

        monkeypatch.setattr(action_module.subprocess, "Popen", popen)

    def args(self, **extra):
        stage = str(self.run_dir / "stage")
        return {
            "genomes": self.genomes, "genomes_dir": str(self.genomes_dir), "stage_dir": stage,
            "cache": str(self.run_dir / "checksums.json"),
            "argv": cactus_transfer_rsync_argv(stage, str(self.genomes_dir), connection="local"),
            "seqfile_path": str(self.target / "seqfile.txt"), "seqfile_text": "(a,b);\na /x/a.fa\n",
            "inputs_file": str(self.run_dir / "inputs.json"), "record_path": str(self.target / "run.json"),
            "record_copy": str(self.run_dir / "run.json"), "jobstore": "aws:us-west-2:r",
            "name_value": "r", "output": "/out/r.hal", **extra,
        }  # fmt: skip

    def run(self, check=False, **extra):
        task = SimpleNamespace(args=self.args(**extra), check_mode=check, async_val=0,
                               action="cactus_transfer")
        connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir=None))
        action = action_module.ActionModule(task, connection, None, None, None)
        action._execute_module = self._module
        self.hashed.clear(), self.rsyncs.clear(), self.modules.clear()
        return action.run(task_vars={})

    def _module(self, module_name, module_args, task_vars):
        """cactus_verify as Ansible runs it on the target: its own process, its arguments in a file."""
        self.modules.append(module_args)
        args = self.tmp / "module-args.json"
        args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {**module_args, "_ansible_check_mode": False}}))
        done = subprocess.run([sys.executable, str(VERIFY), str(args)], capture_output=True, text=True,
                              env={**os.environ, "PATH": "/usr/bin:/bin"})  # fmt: skip
        return json.loads(done.stdout)

    def on_target(self, name):
        return self.genomes_dir / name / f"{name}.fa"


@pytest.fixture
def bed(tmp_path, monkeypatch):
    return Bed(tmp_path, monkeypatch)


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_first_send_reads_each_file_once_and_the_target_hashes_nothing_rsync_proved(bed):
    done = bed.run()
    assert done["changed"] and sorted(done["sent"]) == ["a/a.fa", "b/b.fa"] and done["hashed"] == 0
    assert sorted(bed.hashed) == sorted(g["resolved"] for g in bed.genomes[:2])  # once each, during the send
    assert len(bed.rsyncs) == 1 and bed.modules[0]["look"] and not bed.modules[1].get("look")
    for genome in bed.genomes[:2]:
        assert bed.on_target(genome["name"]).read_bytes() == Path(genome["resolved"]).read_bytes()
    manifest = (bed.genomes_dir / ".manifest.sha256").read_text()
    assert (bed.genomes_dir / ".verified.sha256").read_text() == manifest
    assert f"{_sha(bed.genomes[0]['resolved'])}  a/a.fa" in manifest.splitlines()
    assert (bed.target / "seqfile.txt").read_text() == "(a,b);\na /x/a.fa\n"
    sent = json.loads((bed.run_dir / "inputs.json").read_text())
    assert sent == done["inputs"] and sent["genomes"]["a"] == {"sha256": _sha(bed.genomes[0]["resolved"])}
    assert done["compared"] and done["state"] == "none" and done["changed_inputs"] == []


def test_nothing_to_send_is_one_look_no_rsync_no_read(bed):
    bed.run()
    again = bed.run()
    assert not again["changed"] and again["sent"] == [] and not bed.rsyncs and not bed.hashed
    assert len(bed.modules) == 1 and bed.modules[0]["look"]
    assert "Number of regular files transferred: 0" in again["stats"]
    # The run's state known in this play: the look reads no record.
    known = bed.run(run={"jobstore": "aws:us-west-2:r", "state": "finished"}, state="finished")
    assert not known["changed"] and bed.modules[0]["record_path"] is None and known["state"] == "finished"


def test_a_file_touched_on_the_target_or_its_seqfile_changed_is_looked_at_again(bed):
    bed.run()
    os.utime(bed.on_target("a"), (1, 1))
    again = bed.run()
    assert len(bed.rsyncs) == 1 and again["sent"] == ["a/a.fa"] and again["changed"]
    (bed.target / "seqfile.txt").write_text("old\n")
    fixed = bed.run()
    assert fixed["changed"] and fixed["sent"] == [] and fixed["hashed"] == 0
    assert (bed.target / "seqfile.txt").read_text() == "(a,b);\na /x/a.fa\n"


def test_a_damaged_copy_rsync_did_not_see_is_found_and_sent_again(bed):
    bed.run()
    copy = bed.on_target("b")
    st = copy.stat()
    data = bytearray(copy.read_bytes())
    data[10] ^= 1
    copy.write_bytes(bytes(data))
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime: rsync's quick check passes
    (bed.genomes_dir / ".verified.sha256").write_text("")  # as after a cut run: nothing vouched for
    again = bed.run()
    assert len(bed.rsyncs) == 2 and "--ignore-times" in bed.rsyncs[1]
    assert copy.read_bytes() == Path(bed.genomes[1]["resolved"]).read_bytes() and again["changed"]


def test_a_started_run_whose_inputs_changed_stops_before_anything_is_sent(bed):
    bed.run()
    record = {"jobstore": "aws:us-west-2:r", "state": "finished",
              "inputs": json.loads((bed.run_dir / "inputs.json").read_text())}  # fmt: skip
    (bed.target / "run.json").write_text(json.dumps(record))
    Path(bed.genomes[0]["resolved"]).write_text(">a\nTTTT\n")
    with pytest.raises(AnsibleActionFail, match="The inputs changed since the alignment .* genome a"):
        bed.run()
    assert not bed.rsyncs and bed.hashed == [bed.genomes[0]["resolved"]]  # hashed first, to compare
    assert bed.on_target("a").read_text() != ">a\nTTTT\n"


def test_a_genome_edited_while_it_is_sent_stops_the_run(bed, monkeypatch):
    real = cactus_stage.feed

    def hash_then_edit(path, digest, offset=0, stop=None):
        reached = real(path, digest, offset, stop)
        if path == bed.genomes[0]["resolved"] and reached is None:
            with open(path, "a") as f:
                f.write("ACGT\n")
        return reached

    monkeypatch.setattr(cactus_stage, "feed", hash_then_edit)
    with pytest.raises(AnsibleActionFail, match="a.fa changed on the controller while it was sent"):
        bed.run()
    assert not (bed.genomes_dir / ".verified.sha256").exists()


def test_check_mode_sends_and_writes_nothing(bed):
    done = bed.run(check=True)
    assert done["changed"] and not bed.rsyncs and not (bed.run_dir / "inputs.json").exists()
    assert not (bed.run_dir / "stage").exists()
