"""The HAL's check against S3: the ETag computed locally equals the one S3 (moto, in-process) gives for
single-part and multipart uploads, and a changed byte is caught."""

import hashlib

import pytest
from ansible_collections.genomics.cactus.plugins.module_utils.s3_etag import MIB, verify


@pytest.fixture
def s3(monkeypatch):
    import boto3
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-west-2",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-west-2")
        client.create_bucket(Bucket="hal", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        yield client


@pytest.mark.parametrize("size,part_mib", [(1000, 8), (12 * MIB + 7, 5), (17 * MIB, 8), (0, 8)])
def test_local_etag_matches_s3s(size, part_mib, s3, tmp_path):
    from boto3.s3.transfer import TransferConfig

    path = tmp_path / "out.hal"
    path.write_bytes(bytes(i % 251 for i in range(size)))
    config = TransferConfig(multipart_threshold=part_mib * MIB, multipart_chunksize=part_mib * MIB)
    s3.upload_file(str(path), "hal", "out.hal", Config=config)
    head = s3.head_object(Bucket="hal", Key="out.hal")
    result = verify(str(path), head["ETag"], head["ContentLength"])
    assert result["matches"], (result, head["ETag"])
    assert result["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    if size:
        path.write_bytes(b"X" + path.read_bytes()[1:])
        assert not verify(str(path), head["ETag"], head["ContentLength"])["matches"]
