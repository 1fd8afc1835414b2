"""What the transfer proves: rsync's list of the files it wrote, the controller's files unchanged
since they were hashed, and the leader's check that hashes only what nothing else proved."""

import hashlib
import importlib.util
import json
import os
from pathlib import Path

import pytest
from ansible_collections.genomics.cactus.plugins.module_utils import (
    cactus_stage_run as cactus_stage,  # what the cactus_stage action runs
)
from ansible_collections.genomics.cactus.plugins.module_utils import cactus_transfer


def _module(name):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[2] / "plugins" / "modules"
                                                  / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cactus_verify = _module("cactus_verify")

LEADER = "/opt/cactus/runs/r/genomes"


def test_written_names_from_rsync_itemized_output():
    out = "\n".join([
        "cd+++++++++ a/",
        ">f+++++++++ a/a.fa",
        ">f.st...... b/odd name \\#342\\#202\\#254.fa",
        ".f          c/unchanged.fa",
        ">f+++++++++ .manifest.sha256",
        "",
        "Number of regular files transferred: 3",
    ])  # fmt: skip
    assert cactus_transfer.written(out) == ["a/a.fa", "b/odd name €.fa", ".manifest.sha256"]


def _staged(tmp_path, *names):
    inputs = tmp_path / "in"
    inputs.mkdir()
    genomes = []
    for name in names:
        (inputs / f"{name}.fa").write_text(f">{name}\nACGT\n")
        genomes.append({"name": name, "kind": "local", "resolved": str(inputs / f"{name}.fa"),
                        "leader_path": f"{LEADER}/{name}/{name}.fa"})  # fmt: skip
    stage, cache = tmp_path / "stage", tmp_path / "cache.json"
    cactus_stage.stage(genomes, LEADER, str(stage), str(cache))
    return inputs, stage, json.loads(cache.read_text())


def test_a_sent_file_is_trusted_only_with_the_stamp_it_was_hashed_at(tmp_path):
    inputs, stage, cache = _staged(tmp_path, "a", "b", "c")
    (inputs / "b.fa").write_text(">b\nACGTT\n")  # edited after it was hashed
    del cache[os.path.realpath(inputs / "c.fa")]  # never hashed: the leader hashes it
    kept, moved = cactus_transfer.check_stamps(str(stage), cache, ["a/a.fa", "b/b.fa", "c/c.fa"])
    assert kept == ["a/a.fa"] and moved == ["b/b.fa"]


def _leader(tmp_path, files, manifest_of=None):
    leader = tmp_path / "leader"
    lines = []
    for rel, text in files.items():
        (leader / rel).parent.mkdir(parents=True, exist_ok=True)
        (leader / rel).write_text(text)
        digest = hashlib.sha256((manifest_of or files)[rel].encode()).hexdigest()
        lines.append(f"{digest}  {rel}\n")
    (leader / ".manifest.sha256").write_text("".join(lines))
    return leader


def test_verify_hashes_only_what_rsync_did_not_write_and_remembers(tmp_path, monkeypatch):
    files = {"a/a.fa": ">a\nAC\n", "b/b.fa": ">b\nGT\n", "c/c d.fa": ">c\nTT\n"}
    leader = _leader(tmp_path, files)
    read = []
    real = cactus_verify.sha256_of
    monkeypatch.setattr(cactus_verify, "sha256_of", lambda path: read.append(path) or real(path))

    result, text = cactus_verify.verify(str(leader), sent=["a/a.fa"], workers=2)
    assert result == {"files": 3, "hashed": 2, "sent": 1, "mismatched": []}
    assert sorted(os.path.relpath(p, leader) for p in read) == ["b/b.fa", "c/c d.fa"]
    assert text == (leader / ".manifest.sha256").read_text()

    # Once verified, a re-run reads nothing.
    (leader / ".verified.sha256").write_text(text)
    read.clear()
    result, _ = cactus_verify.verify(str(leader))
    assert result["hashed"] == 0 and not read


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_verify_names_a_file_that_does_not_match(tmp_path, damage):
    files = {"a/a.fa": ">a\nAC\n", "b/b.fa": ">b\nGT\n"}
    leader = _leader(tmp_path, files)
    if damage == "corrupt":
        (leader / "b" / "b.fa").write_text(">b\nGA\n")
    else:
        (leader / "b" / "b.fa").unlink()
    result, text = cactus_verify.verify(str(leader))
    assert result["mismatched"] == ["b/b.fa"] and text is None


def test_seqfile_written_only_when_it_differs(tmp_path):
    path = tmp_path / "run" / "seqfile.txt"
    assert cactus_verify.write_if_different(str(path), "(a,b);\na /x/a.fa\n")
    assert path.read_text() == "(a,b);\na /x/a.fa\n" and oct(path.stat().st_mode & 0o777) == "0o644"
    assert not cactus_verify.write_if_different(str(path), "(a,b);\na /x/a.fa\n")
