# Uploading a genome to S3 in parts that resume and go up in parallel (the transfer's s3 mode).
#
# A file goes up as one multipart upload with a part size fixed by its size, so an upload cut part-way
# resumes where it stopped: the upload's id is kept in a state file on the controller, with the SHA-256
# of the file it is for; a later run asks S3 which parts arrived (list_parts), keeps those of the right
# size and sends only the others. S3 checked each part against the MD5 sent with it (Content-MD5), and
# the file is the one hashed (same SHA-256, so same bytes), so a part that arrived needs no re-reading.
# The object carries its SHA-256 as metadata: an object that has it is not sent again.

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

MIB = 1024 * 1024
MIN_PART = 8 * MIB  # S3's minimum is 5 MiB (all parts but the last)
MAX_PARTS = 10000  # S3's maximum


def part_size(size: int) -> int:
    """A part size that keeps the part count within S3's limit, in whole MiB."""
    needed = -(-size // MAX_PARTS)
    return max(MIN_PART, -(-needed // MIB) * MIB)


def load_state(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save_state(path: str, state: dict) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def _error_code(exc) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def stored_sha256(client, bucket: str, key: str) -> str | None:
    """The SHA-256 metadata of the object, or None when there is no object."""
    try:
        return client.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get("sha256")
    except Exception as e:  # botocore's ClientError; botocore is not imported here
        if _error_code(e) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _arrived_parts(client, bucket, key, upload_id) -> dict[int, dict] | None:
    """{part number: {ETag, Size}} of an upload, or None when S3 no longer has it."""
    parts, marker = {}, 0
    while True:
        try:
            page = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker)
        except Exception as e:
            if _error_code(e) in ("NoSuchUpload", "404"):
                return None
            raise
        for part in page.get("Parts", []):
            parts[part["PartNumber"]] = part
        if not page.get("IsTruncated"):
            return parts
        marker = page["NextPartNumberMarker"]


def upload(client, src: str, bucket: str, key: str, sha256: str, state: dict, state_path: str,
           workers: int = 4, extra_args: dict | None = None) -> dict:
    """Put src at s3://bucket/key unless it is there with this SHA-256. Returns what was done:
    {'action': 'unchanged'|'uploaded', 'parts': n, 'resumed_parts': n, 'bytes_sent': n}."""
    if stored_sha256(client, bucket, key) == sha256:
        return {"action": "unchanged", "parts": 0, "resumed_parts": 0, "bytes_sent": 0}
    size = os.path.getsize(src)
    psize = part_size(size)
    count = max(1, -(-size // psize))
    name = f"s3://{bucket}/{key}"
    entry = state.get(name)
    arrived = None
    if entry and entry["sha256"] == sha256 and entry["part_size"] == psize:
        arrived = _arrived_parts(client, bucket, key, entry["upload_id"])
    elif entry:  # an upload of an older version of the file (gone already: nothing to clean)
        with contextlib.suppress(Exception):
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=entry["upload_id"])
    if arrived is None:
        created = client.create_multipart_upload(Bucket=bucket, Key=key, Metadata={"sha256": sha256},
                                                 **(extra_args or {}))
        entry = {"upload_id": created["UploadId"], "sha256": sha256, "part_size": psize}
        state[name] = entry
        save_state(state_path, state)
        arrived = {}

    def expected(number):
        return min(psize, size - (number - 1) * psize)

    def send(number):
        part = arrived.get(number)
        if part and part["Size"] == expected(number):
            return part["ETag"], 0
        with open(src, "rb") as f:
            f.seek((number - 1) * psize)
            data = f.read(expected(number))
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - S3's part check
        result = client.upload_part(Bucket=bucket, Key=key, UploadId=entry["upload_id"], PartNumber=number,
                                    Body=data, ContentMD5=md5)
        return result["ETag"], len(data)

    with ThreadPoolExecutor(max(1, min(workers, count))) as pool:
        sent = list(pool.map(send, range(1, count + 1)))
    client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=entry["upload_id"],
        MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": n} for n, (etag, _) in enumerate(sent, 1)]},
    )  # fmt: skip
    del state[name]
    save_state(state_path, state)
    if stored_sha256(client, bucket, key) != sha256:
        raise RuntimeError(f"{name} does not hold {src} (sha256 {sha256}) after the upload: run --tags "
                           "transfer again")
    resumed = sum(1 for _, n in sent if n == 0)
    return {"action": "uploaded", "parts": count, "resumed_parts": resumed,
            "bytes_sent": sum(n for _, n in sent)}  # fmt: skip
