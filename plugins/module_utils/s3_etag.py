# S3's ETag of a local file, to check a download against what S3 knows without trusting the transfer:
# a single-part upload's ETag is the MD5 of the bytes; a multipart upload's is the MD5 of the parts'
# MD5 digests followed by "-<part count>". The part size is not stored, so the usual ones are tried
# (boto3's and the AWS CLI's 8 MiB, then sizes a client derives from the part count).

from __future__ import annotations

import hashlib
import math

MIB = 2**20
COMMON_PART_SIZES_MIB = (8, 5, 16, 15, 32, 64, 100, 128, 256, 512)


def file_digests(path, part_size, chunk=MIB):
    """(hex MD5 of the whole file, [MD5 digest of each part of part_size bytes], hex SHA-256)."""
    whole, sha, parts = hashlib.md5(usedforsecurity=False), hashlib.sha256(), []
    part, in_part = hashlib.md5(usedforsecurity=False), 0
    with open(path, "rb") as handle:
        while True:
            block = handle.read(min(chunk, part_size - in_part))
            if not block:
                break
            whole.update(block)
            sha.update(block)
            part.update(block)
            in_part += len(block)
            if in_part == part_size:
                parts.append(part.digest())
                part, in_part = hashlib.md5(usedforsecurity=False), 0
    if in_part:
        parts.append(part.digest())
    return whole.hexdigest(), parts, sha.hexdigest()


def multipart_etag(part_digests):
    return f"{hashlib.md5(b''.join(part_digests), usedforsecurity=False).hexdigest()}-{len(part_digests)}"


def candidate_part_sizes(size, parts):
    """Part sizes that give `parts` parts for `size` bytes: the common ones first, then the
    whole-MiB size a client picks when it divides the file evenly."""
    sizes = [mib * MIB for mib in COMMON_PART_SIZES_MIB]
    sizes.append(math.ceil(size / parts / MIB) * MIB)
    return [s for s in dict.fromkeys(sizes) if s > 0 and math.ceil(size / s) == parts]


def verify(path, etag, size):
    """{"sha256", "etag" (computed), "size", "matches"} of the file at `path` against S3's ETag and size."""
    import os

    etag = (etag or "").strip('"')
    actual = os.path.getsize(path)
    result = {"size": actual, "etag": None, "sha256": None, "matches": False}
    if "-" in etag:
        count = int(etag.rsplit("-", 1)[1])
        for part_size in candidate_part_sizes(actual, count) or [8 * MIB]:
            _whole, parts, result["sha256"] = file_digests(path, part_size)
            result["etag"] = multipart_etag(parts)
            if result["etag"] == etag:
                break
    else:
        result["etag"], _parts, result["sha256"] = file_digests(path, max(actual, 1))
    result["matches"] = actual == int(size) and result["etag"] == etag
    return result
