# Measure the genomes of a seqFile on the controller: local FASTA files and directories (plain or
# gzip), HTTP(S) URLs (a HEAD, or a one-byte ranged GET) and S3 objects (head_object). The sizes
# feed the plan (cactus_plan.build_plan); the ETag and Last-Modified feed the run record.

from __future__ import annotations

import gzip
import os
import struct
from urllib.error import HTTPError
from urllib.parse import urlparse

from ansible.module_utils.urls import open_url
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_paths import safe_name
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError

GZIP_MAGIC = b"\x1f\x8b"
# Uncompressed/compressed for DNA FASTA: UCSC hg38.fa.gz is ~0.94 GB for ~3.2 GB of sequence.
GZIP_DNA_RATIO = 3.4
GZIP_SUFFIXES = (".gz", ".bgz", ".gzip")
ISIZE_WRAP = 2**32  # gzip stores the uncompressed size modulo 2^32


class MeasureError(ValueError):
    """A genome that cannot be used: names the seqFile line, the genome, the problem and the fix."""

    def __init__(self, genome, problem, fix):
        super().__init__(f"line {genome.line}: genome '{genome.name}' ({genome.path}): {problem}. Fix: {fix}")


# ---- Local files ---------------------------------------------------------------------------------

def measure_local(genome):
    """{'size', 'size_on_disk', 'method'} for a local file or directory of FASTA."""
    path = genome.resolved
    if os.path.isdir(path):
        return _measure_directory(genome, path)
    if not os.path.exists(path):
        raise MeasureError(genome, f"{path} does not exist", "fix the path (relative paths are read "
                           "from the seqFile's directory)")
    if not os.path.isfile(path):
        raise MeasureError(genome, f"{path} is not a regular file",
                           "point to a FASTA file or a directory of them")
    return _measure_file(genome, path)


def _measure_file(genome, path):
    try:
        disk = os.path.getsize(path)
        with open(path, "rb") as handle:
            head = handle.read(18)
    except OSError as error:
        raise MeasureError(genome, f"cannot read {path} ({error.strerror})",
                           "check its permissions") from None
    if head.startswith(GZIP_MAGIC):
        _check_gzip_fasta(genome, path)
        size, method = gzip_uncompressed_size(path, head, disk)
        return {"size": size, "size_on_disk": disk, "method": method, "gzip": True}
    if not head.startswith(b">"):
        raise MeasureError(genome, f"{path} is neither FASTA (first byte '>') nor gzip",
                           "give a FASTA file, plain or gzipped")
    return {"size": disk, "size_on_disk": disk, "method": "file size", "gzip": False}


def _check_gzip_fasta(genome, path):
    try:
        with gzip.open(path, "rb") as handle:
            first = handle.read(1)
    except (OSError, EOFError) as error:
        raise MeasureError(genome, f"{path} is not a readable gzip file ({error})",
                           "re-compress it") from None
    if first != b">":
        raise MeasureError(genome, f"{path} is gzip but does not hold FASTA (first byte not '>')",
                           "give gzipped FASTA")


def gzip_uncompressed_size(path, head, disk):
    """Estimated uncompressed bytes of a gzip file, and how it was estimated.

    BGZF (bgzip) ends with an empty block whose ISIZE is 0, so it gets the ratio estimate; plain
    gzip gets the last member's ISIZE, plus the multiple of 4 GiB (ISIZE wraps there) that lands
    nearest to the ratio estimate.
    A plain file of several concatenated gzip members is underestimated (only the last counts).
    """
    if _is_bgzf(head):
        return int(disk * GZIP_DNA_RATIO), "gzip ratio estimate (BGZF)"
    with open(path, "rb") as handle:
        handle.seek(-4, os.SEEK_END)
        (isize,) = struct.unpack("<I", handle.read(4))
    if isize == 0:
        return int(disk * GZIP_DNA_RATIO), "gzip ratio estimate (ISIZE 0)"
    # Add back the 4 GiB wraps that bring ISIZE closest to what the compressed size suggests.
    wraps = max(0, round((disk * GZIP_DNA_RATIO - isize) / ISIZE_WRAP))
    return isize + wraps * ISIZE_WRAP, "gzip ISIZE"


def _is_bgzf(head):
    # FLG.FEXTRA set and the first extra subfield is 'BC' (SAM/BAM specification, BGZF).
    return len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC"


def _measure_directory(genome, path):
    """Cactus concatenates every entry of the directory (os.listdir), so every entry must be FASTA."""
    entries = sorted(os.listdir(path))
    if not entries:
        raise MeasureError(genome, f"directory {path} is empty", "put the genome's FASTA files in it")
    results = []
    for entry in entries:
        full = os.path.join(path, entry)
        if entry != safe_name(entry):
            # The directory's own name is made safe on the leader; its files keep theirs (rsync).
            raise MeasureError(genome, f"file name '{entry}' in directory {path} holds characters Cactus "
                               "misreads: it joins a directory's files with a shell command (cat), where "
                               "spaces, quotes, globs and '$' are read",
                               "rename the file using letters, digits, '.', '_' and '-', or join the files "
                               "into one FASTA")
        if not os.path.isfile(full):
            raise MeasureError(genome, f"{full} is not a regular file, and Cactus concatenates every "
                               "entry of the directory", "keep only FASTA files in it")
        results.append(_measure_file(genome, full))
    if len({r["gzip"] for r in results}) > 1:
        raise MeasureError(genome, f"directory {path} mixes gzipped and plain FASTA; Cactus "
                           "concatenates them into one file, which is then neither",
                           "compress all of them or none")
    return {"size": sum(r["size"] for r in results), "size_on_disk": sum(r["size_on_disk"] for r in results),
            "method": f"directory of {len(results)} files", "gzip": results[0]["gzip"]}


# ---- URLs ---------------------------------------------------------------------------------------

def _from_remote_length(url, length, how):
    if length is None:
        return {"size": None, "size_on_disk": None, "method": f"{how}: no length"}
    if urlparse(url).path.lower().endswith(GZIP_SUFFIXES):
        return {"size": int(length * GZIP_DNA_RATIO), "size_on_disk": length,
                "method": f"{how}, gzip ratio estimate"}
    return {"size": length, "size_on_disk": length, "method": how}


def measure_http(genome, timeout):
    """Content-Length by HEAD; servers refusing HEAD get a one-byte ranged GET."""
    try:
        length, headers = _http_length(genome.resolved, timeout)
    except Exception as error:  # any failure here means the leader may not get it either
        raise MeasureError(genome, f"cannot reach the URL ({error})",
                           "check the URL, or plan with offline=true (sizes unknown)") from None
    # ETag and Last-Modified join the size in the run record's fingerprint of this input.
    return dict(_from_remote_length(genome.resolved, length, "HTTP length"),
                etag=headers.get("ETag"), last_modified=headers.get("Last-Modified"))


def _http_length(url, timeout):
    """(length or None, headers of the answer)."""
    try:
        response = open_url(url, method="HEAD", timeout=timeout, follow_redirects="safe")
    except HTTPError as error:
        if error.code not in (405, 501):
            raise
        return _ranged_get_length(url, timeout)
    length = response.headers.get("Content-Length")
    if length is None:
        return _ranged_get_length(url, timeout)
    return int(length), response.headers


def _ranged_get_length(url, timeout):
    response = open_url(url, headers={"Range": "bytes=0-0"}, timeout=timeout, follow_redirects="safe")
    total = (response.headers.get("Content-Range") or "").rpartition("/")[2]
    return (int(total) if total.isdigit() else None), response.headers


def measure_s3(genome, region):
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise MeasureError(genome, "boto3 is not installed", "run with the project's .venv Python") from None
    parsed = urlparse(genome.resolved)
    try:
        head = boto3.client("s3", region_name=region).head_object(Bucket=parsed.netloc,
                                                                  Key=parsed.path.lstrip("/"))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise MeasureError(genome, f"S3 says {code or error}", "check the bucket and key, and that "
                           "your credentials may read it") from None
    except BotoCoreError as error:
        raise MeasureError(genome, f"cannot ask S3 ({error})", "configure AWS credentials, or plan "
                           "with offline=true") from None
    modified = head.get("LastModified")
    return dict(_from_remote_length(genome.resolved, head.get("ContentLength"), "S3 length"),
                etag=head.get("ETag"), last_modified=modified.isoformat() if modified else None)


# ---- All genomes ----------------------------------------------------------------------------------

HOST_S3_METHOD = "not measured on a host run (no AWS call)"


def measure_genomes(seqfile, *, offline=False, region=None, timeout=10, known_sizes=None, host_run=False):
    """Measure every genome Cactus imports (leaves, ancestors with a genome line):
    {name: {'size', 'size_on_disk', 'method'}}.

    A host run (`host_run`) makes no AWS call: its s3 genomes are not measured.
    """
    known_sizes = known_sizes or {}
    measured = {}
    for genome in seqfile.imported():
        if genome.kind == "local":
            # Local files are always checked (they must exist and be FASTA), even with a given size.
            measured[genome.name] = measure_local(genome)
            if genome.name in known_sizes:
                measured[genome.name].update(size=_given_size(genome, known_sizes), method="given")
        elif genome.name in known_sizes:
            size = _given_size(genome, known_sizes)
            measured[genome.name] = {"size": size, "size_on_disk": None, "method": "given"}
        elif offline or genome.kind == "ftp":
            reason = "offline" if offline else "ftp is not measured"
            measured[genome.name] = {"size": None, "size_on_disk": None, "method": reason}
        elif genome.kind == "http":
            measured[genome.name] = measure_http(genome, timeout)
        elif host_run:
            measured[genome.name] = {"size": None, "size_on_disk": None, "method": HOST_S3_METHOD}
        else:
            measured[genome.name] = measure_s3(genome, region)
    return measured


def _given_size(genome, known_sizes):
    value = known_sizes[genome.name]
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = -1
    if size < 0 or isinstance(value, bool):
        raise MeasureError(genome, f"genome_sizes gives {value!r}", "give the uncompressed size in bytes")
    return size


def check_local_output(path):
    """A local output is a file the fetch step can write: not a directory, below a writable directory
    (fetch creates the directories still missing)."""
    full = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(full):
        raise CactusError("cactus_output", f"'{path}' is a directory, and the HAL is one file",
                          f"give the file to write, e.g. {os.path.join(path, 'aligned.hal')}")
    if os.path.lexists(full) and not os.access(full, os.W_OK):
        raise CactusError("cactus_output", f"'{path}' exists and cannot be written",
                          "give a file you may write")
    parent = os.path.dirname(full)
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise CactusError("cactus_output", f"'{parent}' is not a directory, so '{path}' cannot be made",
                          "give a path below a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CactusError("cactus_output", f"directory '{parent}' cannot be written, so '{path}' cannot be "
                          "made", "give a path in a directory you may write")
