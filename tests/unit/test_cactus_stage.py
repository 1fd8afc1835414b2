"""Staging local genomes: links in place, a checksum manifest, a cache that spares re-reading."""

import hashlib
import importlib.util
import json
import os
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "cactus_stage", Path(__file__).parents[2] / "plugins" / "modules" / "cactus_stage.py"
)
cactus_stage = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cactus_stage)

LEADER = "/opt/cactus/runs/r/genomes"


def genome(name, path, folder):
    return {"name": name, "kind": "local", "resolved": str(path), "leader_path": f"{LEADER}/{folder}"}


def test_stage_links_manifest_and_idempotence(tmp_path):
    a = tmp_path / "in" / "a.fa"
    a.parent.mkdir()
    a.write_text(">a\nACGT\n")
    d = tmp_path / "in" / "bdir"
    d.mkdir()
    (d / "1.fa").write_text(">b1\nAC\n")
    (d / "2.fa").write_text(">b2\nGT\n")
    genomes = [
        genome("a", a, "a/a.fa"),
        genome("b", d, "b/bdir"),
        {"name": "c", "kind": "url", "resolved": "s3://x/c.fa", "leader_path": "s3://x/c.fa"},
    ]
    stage, cache = tmp_path / "stage", tmp_path / "cache.json"

    changed, result = cactus_stage.stage(genomes, LEADER, str(stage), str(cache))
    assert changed and result["files"] == 3
    assert os.readlink(stage / "a" / "a.fa") == str(a)
    manifest = (stage / ".manifest.sha256").read_text().splitlines()
    sha_a = hashlib.sha256(a.read_bytes()).hexdigest()
    assert f"{sha_a}  a/a.fa" in manifest
    assert any(line.endswith("  b/bdir/2.fa") for line in manifest)

    # Same inputs: nothing changes, and the cache answers (no re-read of unchanged files).
    cached = json.loads(cache.read_text())
    cached[str(a.resolve())]["sha256"] = "0" * 64  # a stale-looking entry with the same stamp is trusted
    cache.write_text(json.dumps(cached))
    changed, _ = cactus_stage.stage(genomes, LEADER, str(stage), str(cache))
    assert changed  # the manifest shows the cached digest: proof that the file was not read again
    assert "0" * 64 + "  a/a.fa" in (stage / ".manifest.sha256").read_text()

    # A changed file is hashed again; a genome dropped from the plan loses its link.
    a.write_text(">a\nACGTT\n")
    changed, result = cactus_stage.stage(genomes[:1], LEADER, str(stage), str(cache))
    assert changed and result["files"] == 1
    assert not (stage / "b").exists()
    assert hashlib.sha256(a.read_bytes()).hexdigest() in (stage / ".manifest.sha256").read_text()
    changed, _ = cactus_stage.stage(genomes[:1], LEADER, str(stage), str(cache))
    assert not changed


def test_stage_refuses_paths_outside_the_genomes_dir(tmp_path):
    a = tmp_path / "a.fa"
    a.write_text(">a\nA\n")
    bad = [{"name": "a", "kind": "local", "resolved": str(a), "leader_path": "/etc/a.fa"}]
    try:
        cactus_stage.stage(bad, LEADER, str(tmp_path / "s"), str(tmp_path / "c.json"))
    except ValueError as e:
        assert "not below" in str(e)
    else:
        raise AssertionError("expected a ValueError")


def test_s3_layout_rewrites_local_genomes_to_s3_urls(tmp_path):
    a = tmp_path / "a.fa"
    a.write_text(">a\nACGT\n")
    genomes = [
        {**genome("a", a, "a/a.fa"), "outgroup": True},
        {"name": "c", "kind": "url", "resolved": "https://host/c.fa.gz", "leader_path": "https://host/c.fa.gz"},
    ]
    stage = tmp_path / "stage"
    _, result = cactus_stage.stage(genomes, LEADER, str(stage), str(tmp_path / "cache.json"))
    uploads, text = cactus_stage.s3_layout(
        genomes, LEADER, "s3://inputs/run1/", "(a:1,c:2);", result["manifest_text"]
    )
    assert uploads == [{"src": str(a), "bucket": "inputs", "key": "run1/a/a.fa",
                        "sha256": hashlib.sha256(a.read_bytes()).hexdigest()}]
    assert text == "(a:1,c:2);\n*a\ts3://inputs/run1/a/a.fa\nc\thttps://host/c.fa.gz\n"


def test_dry_run_writes_nothing(tmp_path):
    a = tmp_path / "a.fa"
    a.write_text(">a\nACGT\n")
    stage = tmp_path / "stage"
    cache = tmp_path / "c.json"
    genomes = [genome("a", a, "a/a.fa")]
    changed, result = cactus_stage.stage(genomes, LEADER, str(stage), str(cache), dry_run=True)
    assert changed and result["files"] == 1
    assert not stage.exists() and not cache.exists()


def test_s3_prefix_toil_would_misread_is_refused(tmp_path):
    a = tmp_path / "a.fa"
    a.write_text(">a\nACGT\n")
    genomes = [genome("a", a, "a/a.fa")]
    _, result = cactus_stage.stage(genomes, LEADER, str(tmp_path / "s"), str(tmp_path / "c.json"))
    try:
        cactus_stage.s3_layout(genomes, LEADER, "s3://inputs/run#1", None, result["manifest_text"])
    except ValueError as e:
        assert str(e).startswith("cactus_transfer_s3_url: the prefix 'run#1' holds characters Toil")
    else:
        raise AssertionError("expected a ValueError")
