"""Fingerprints of a run's inputs and what a change means (module_utils cactus_inputs), as the
cactus_stage module computes them from its manifest."""

import hashlib

from ansible_collections.genomics.cactus.plugins.module_utils import (
    cactus_stage_run as cactus_stage,  # what the cactus_stage action runs
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_inputs import (
    changes,
    fingerprints,
    next_name,
    verdict,
)

LEADER = "/opt/cactus/runs/r/genomes"
SEQFILE = "(a,(b,c));\na\t/opt/a.fa\n"


def plan_genomes(tmp_path):
    a = tmp_path / "a.fa"
    a.write_text(">a\nACGT\n")
    d = tmp_path / "bdir"
    d.mkdir(exist_ok=True)
    (d / "1.fa").write_text(">b1\nAC\n")
    (d / "2.fa").write_text(">b2\nGT\n")
    return a, d, [
        {"name": "a", "kind": "local", "resolved": str(a), "leader_path": f"{LEADER}/a/a.fa"},
        {"name": "b", "kind": "local", "resolved": str(d), "leader_path": f"{LEADER}/b/bdir"},
        {"name": "c", "kind": "http", "resolved": "https://h/c.fa", "size_on_disk": 10, "etag": '"e1"',
         "last_modified": "Mon, 01 Jan 2024 00:00:00 GMT"},
    ]


def current(tmp_path, genomes, seqfile=SEQFILE):
    _, result = cactus_stage.stage(genomes, LEADER, str(tmp_path / "stage"), str(tmp_path / "c.json"))
    return fingerprints(genomes, result["manifest_text"], seqfile, LEADER)


def test_fingerprints_are_the_transfer_hashes_and_the_plan_measurements(tmp_path):
    a, _, genomes = plan_genomes(tmp_path)
    found = current(tmp_path, genomes)
    assert found["seqfile"] == hashlib.sha256(SEQFILE.encode()).hexdigest()
    assert found["genomes"]["a"] == {"sha256": hashlib.sha256(a.read_bytes()).hexdigest()}
    assert found["genomes"]["b"]["files"] == 2
    assert found["genomes"]["c"] == {"url": "https://h/c.fa", "size": 10, "etag": '"e1"',
                                     "last_modified": "Mon, 01 Jan 2024 00:00:00 GMT"}
    assert changes(found, current(tmp_path, genomes)) == []


def test_every_kind_of_change_is_named(tmp_path):
    a, d, genomes = plan_genomes(tmp_path)
    before = current(tmp_path, genomes)
    a.write_text(">a\nACGTT\n")
    (d / "2.fa").write_text(">b2\nGG\n")
    genomes[2]["etag"] = '"e2"'
    after = current(tmp_path, genomes, SEQFILE + "# edited\n")
    found = changes(before, after)
    assert found[0].startswith("genome a (sha256 ") and "is now" in found[0]
    assert found[1].startswith("genome b (sha256 ")
    assert found[2] == 'genome c (etag "e1" is now "e2")'
    assert found[3] == "the seqFile (its tree or genome lines)"
    dropped = dict(after, genomes={k: v for k, v in after["genomes"].items() if k != "c"})
    assert "genome c (no longer aligned)" in changes(after, dropped)
    assert "genome c (new)" in changes(dropped, after)


def test_unknown_url_details_and_old_records_are_not_changes(tmp_path):
    was = {"seqfile": "s", "genomes": {"c": {"url": "https://h/c.fa", "size": None, "etag": None}}}
    now = {"seqfile": "s", "genomes": {"c": {"url": "https://h/c.fa", "size": 10, "etag": '"e"'}}}
    assert changes(was, now) == []  # an offline plan measured nothing
    assert changes({}, now) == [] and changes(None, now) == []  # a record from before fingerprints


def test_verdict_tells_what_to_do_for_each_state():
    changed = ["genome a (sha256 1 is now 2)"]
    assert verdict("none", changed, "js", "toil_jobstore_name", "r-jobstore", "/o.hal") == (False, "")
    assert verdict("finished", [], "js", "toil_jobstore_name", "r-jobstore", "/o.hal") == (False, "")
    stop, message = verdict("finished", changed, "aws:us-west-2:r-jobstore", "toil_jobstore_name",
                            "r-jobstore", "/o.hal")
    assert stop and "changed since the alignment in job store aws:us-west-2:r-jobstore finished" in message
    assert "Its HAL (/o.hal) is the alignment of the earlier inputs, not of the current ones" in message
    assert "-e toil_jobstore_name=r-jobstore-2" in message and "toil clean" in message
    for state, go_on in (("failed", "--tags restart"), ("interrupted", "--tags restart"),
                         ("running", "--tags status")):
        stop, message = verdict(state, changed, "/h/runs/x/jobstore", "cactus_run_name", "x", "/o.hal")
        assert stop and "were left as they were" in message and go_on in message
        assert "-e cactus_run_name=x-2" in message


def test_next_name():
    assert next_name("birds-jobstore") == "birds-jobstore-2"
    assert next_name("birds-jobstore-2") == "birds-jobstore-3"
