"""Toil jobs of the Cactus TEST STAND-IN: summarise every genome, then write a stand-in "HAL".

The output is a deterministic text file, not HAL: it depends only on the tree, the genome names and
the sequences, never on time, paths or the job store, so a fresh run, a --restart after a kill and a
run on a new job store give byte-identical files.

Stand-in only: CACTUS_STANDIN_FAIL=<errno name> (e.g. ENOSPC) makes the job that writes the HAL raise
that OSError, so the real Toil leader reports a failed workflow with the worker's traceback, as a full
disk at the end of a real run would; when that job already ran (a restart of a run killed after it), the
leader's export of the HAL raises it instead. Unset, a --restart then finishes the run.
"""

import errno
import gzip
import hashlib
import os
import time

from cactus_standin import VERSION_STRING, __version__

HAL_HEADER = "#cactus-standin-hal 1: NOT a real HAL file; written by the Cactus test stand-in"
JOB_RESOURCES = {"cores": 1, "memory": "256M", "disk": "256M"}


def align_all(job, tree_newick, root_name, genomes):
    """Root job. genomes: list of (name, FileID, reference_quality) in seqFile order."""
    job.log(f"stand-in: {VERSION_STRING}: scheduling {len(genomes)} genomes")
    summaries = [
        job.addChildJobFn(summarise_genome, name, file_id, **_resources(file_id)).rv()
        for name, file_id, _ in genomes
    ]
    flags = {name: reference for name, _, reference in genomes}
    return job.addFollowOnJobFn(write_hal, tree_newick, root_name, flags, summaries, **JOB_RESOURCES).rv()


def _resources(file_id):
    # Room for the (possibly gzipped) input plus slack; sizes are tiny in tests.
    return dict(JOB_RESOURCES, disk=max(256 * 2**20, 3 * (file_id.size or 0)))


def summarise_genome(job, name, file_id):
    """Stand-in for the alignment work on one genome: count and digest its sequences."""
    local = job.fileStore.readGlobalFile(file_id)
    summary = fasta_summary(local)
    pace = float(os.environ.get("CACTUS_STANDIN_PACE", "0") or 0)
    if pace > 0:
        time.sleep(pace)  # lets tests kill a run part-way through
    job.log(f"stand-in: aligned genome {name} ({summary['sequences']} sequences, {summary['bases']} bases)")
    return dict(summary, name=name)


def fasta_summary(path):
    """Sequence count, base count and sha256 of '>id\\nSEQUENCE\\n' per record (line breaks removed).

    Gzip is detected by its magic bytes, as Cactus does, not by the file name. Case is kept: soft-masking
    is information Cactus uses.
    """
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    digest = hashlib.sha256()
    sequences = bases = 0
    with opener(path, "rb") as fasta:
        for raw in fasta:
            line = raw.strip()
            if not line:
                continue
            if line.startswith(b">"):
                if sequences:
                    digest.update(b"\n")
                sequences += 1
                ident = line[1:].split()[0] if line[1:].split() else b""
                digest.update(b">" + ident + b"\n")
            elif sequences == 0:
                raise RuntimeError(f"Input is not FASTA (sequence before the first '>' header): {path}")
            else:
                seq = b"".join(line.split())
                bases += len(seq)
                digest.update(seq)
    if sequences:
        digest.update(b"\n")
    return {"sequences": sequences, "bases": bases, "sha256": digest.hexdigest()}


def fail_on_purpose(path):
    """Stand-in only: raise the OSError named by CACTUS_STANDIN_FAIL, if set (see the module's doc)."""
    name = os.environ.get("CACTUS_STANDIN_FAIL")
    if name:
        code = getattr(errno, name)
        raise OSError(code, os.strerror(code), path)


def hal_text(tree_newick, root_name, flags, summaries):
    lines = [HAL_HEADER, f"version\t{__version__}", f"tree\t{tree_newick}", f"root\t{root_name}"]
    for s in sorted(summaries, key=lambda s: s["name"]):
        lines.append(
            f"genome\t{s['name']}\treference={int(flags[s['name']])}\tsequences={s['sequences']}"
            f"\tbases={s['bases']}\tsha256={s['sha256']}"
        )
    body = "\n".join(lines) + "\n"
    return body + f"alignment\tsha256={hashlib.sha256(body.encode()).hexdigest()}\n"


def write_hal(job, tree_newick, root_name, flags, summaries):
    path = os.path.join(job.fileStore.getLocalTempDir(), "standin.hal")
    fail_on_purpose(path)
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(hal_text(tree_newick, root_name, flags, summaries))
    job.log(f"stand-in: wrote HAL for {len(summaries)} genomes")
    return job.fileStore.writeGlobalFile(path)
