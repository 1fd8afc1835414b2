"""S3 staging's uploads against moto: parts in parallel, a cut upload resumed with only the missing
parts, an object with the file's SHA-256 left alone."""

import hashlib
import threading

import boto3
import pytest
from ansible_collections.genomics.cactus.plugins.module_utils import cactus_s3_upload as s3up
from moto import mock_aws

MIB = 1024 * 1024


@pytest.fixture
def s3(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-west-2")
        client.create_bucket(Bucket="inputs", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        yield client


def _genome(tmp_path, size):
    path = tmp_path / "g.fa"
    block = (b">chr1\n" + b"ACGTTGCA" * 8191 + b"\n")
    with open(path, "wb") as f:
        while f.tell() < size:
            f.write(block)
        f.truncate(size)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


class Cut(Exception):
    pass


def test_part_size_keeps_within_s3_limits():
    assert s3up.part_size(1) == 8 * MIB
    assert s3up.part_size(200 * 1024**3) == 21 * MIB  # 200 GiB in at most 10,000 parts
    assert -(-200 * 1024**3 // s3up.part_size(200 * 1024**3)) <= 10000


def test_cut_upload_resumes_with_the_missing_parts_only(s3, tmp_path, monkeypatch):
    path, sha = _genome(tmp_path, 5 * 8 * MIB + 123)  # six parts
    state_path = str(tmp_path / "state.json")
    state = {}
    real_upload_part = s3.upload_part
    sent, lock = [], threading.Lock()

    def cut_after_three(**kwargs):
        with lock:
            if len(sent) >= 3:
                raise Cut()
            sent.append(kwargs["PartNumber"])
        return real_upload_part(**kwargs)

    monkeypatch.setattr(s3, "upload_part", cut_after_three)
    with pytest.raises(Cut):
        s3up.upload(s3, str(path), "inputs", "run1/g.fa", sha, state, state_path, workers=1)
    assert s3up.load_state(state_path)["s3://inputs/run1/g.fa"]["sha256"] == sha
    assert s3up.stored_sha256(s3, "inputs", "run1/g.fa") is None

    # The next run: a fresh state read from disk, parts in parallel, the three that arrived kept.
    monkeypatch.setattr(s3, "upload_part", real_upload_part)
    done = s3up.upload(s3, str(path), "inputs", "run1/g.fa", sha, s3up.load_state(state_path), state_path,
                       workers=4)  # fmt: skip
    assert done == {"action": "uploaded", "parts": 6, "resumed_parts": 3,
                    "bytes_sent": path.stat().st_size - 3 * 8 * MIB}  # fmt: skip
    body = s3.get_object(Bucket="inputs", Key="run1/g.fa")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha
    assert s3up.load_state(state_path) == {}

    # Again: the object carries the SHA-256, nothing is sent.
    again = s3up.upload(s3, str(path), "inputs", "run1/g.fa", sha, {}, state_path)
    assert again["action"] == "unchanged"


def test_an_upload_of_an_older_file_is_dropped(s3, tmp_path):
    path, sha = _genome(tmp_path, 9 * MIB)
    state_path = str(tmp_path / "state.json")
    old = s3.create_multipart_upload(Bucket="inputs", Key="g.fa", Metadata={"sha256": "0" * 64})
    state = {"s3://inputs/g.fa": {"upload_id": old["UploadId"], "sha256": "0" * 64, "part_size": 8 * MIB}}
    done = s3up.upload(s3, str(path), "inputs", "g.fa", sha, state, state_path)
    assert done["resumed_parts"] == 0 and done["bytes_sent"] == 9 * MIB
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="inputs").get("Uploads", [])] == []
    assert s3up.stored_sha256(s3, "inputs", "g.fa") == sha
