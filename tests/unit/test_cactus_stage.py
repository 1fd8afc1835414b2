"""Staging local genomes: links in place, a checksum manifest, a cache that spares re-reading."""

import hashlib
import json
import os
from pathlib import Path

import pytest
from ansible_collections.genomics.cactus.plugins.module_utils import (
    cactus_stage_run as cactus_stage,  # what the cactus_stage action runs
)

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


def test_background_hash_hands_over_where_it_stopped_and_reads_nothing_twice(tmp_path, monkeypatch):
    """The hash beside rsync: finish() goes on from the thread's offset in the calling
    thread; stop() keeps only complete hashes; an unreadable file is raised by finish()."""
    from ansible_collections.genomics.cactus.plugins.module_utils import cactus_stage as staging

    monkeypatch.setattr(staging, "CHUNK", 1000)
    files = []
    for n in range(3):
        path = tmp_path / f"g{n}.fa"
        path.write_bytes(os.urandom(10_000 + n))
        files.append(str(path))
    stamp_of = dict(staging.stamp(path) for path in files)
    read = []
    real_feed = staging.feed

    def feed(path, digest, offset=0, stop=None):
        if stop is not None and path == files[1] and offset == 0:
            # the thread: a first block of the second file, then it is told to stop
            digest.update(Path(path).read_bytes()[:1000])
            read.append((path, 0, 1000))
            stop.set()
            return 1000
        reached = real_feed(path, digest, offset, stop)
        read.append((path, offset, reached))
        return reached

    monkeypatch.setattr(staging, "feed", feed)
    cache = {}
    hasher = staging.BackgroundHash(cache, files, stamp_of)
    hasher._thread.join()
    assert hasher.partial[0] == files[1] and hasher.todo == [files[2]]
    hasher.finish()
    assert {path: entry["sha256"] for path, entry in cache.items()} == {
        path: hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in files}
    assert [(path, offset) for path, offset, _ in read] == [(files[0], 0), (files[1], 0), (files[1], 1000),
                                                            (files[2], 0)]  # fmt: skip
    assert cache[files[0]]["stamp"] == stamp_of[files[0]]

    kept = {}
    staging.BackgroundHash(kept, files, stamp_of).stop()  # wherever it got to: only whole files kept
    assert all(kept[path]["sha256"] == cache[path]["sha256"] for path in kept)

    missing = {str(tmp_path / "gone.fa"): [1, 1]}
    with pytest.raises(FileNotFoundError):
        staging.BackgroundHash({}, list(missing), missing).finish()
