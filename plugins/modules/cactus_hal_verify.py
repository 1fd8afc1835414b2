#!/usr/bin/python
# Check a downloaded HAL against what S3 knows of it (size and ETag, multipart included).
DOCUMENTATION = r"""
---
module: cactus_hal_verify
short_description: Verify a file downloaded from S3 against its size and ETag, and give its SHA-256
description:
  - Computes the S3 ETag of a local file (the MD5 of a single-part upload, or the MD5 of the parts'
    MD5s with the part count for a multipart upload, trying the usual part sizes) and compares it and
    the size with what S3 reported for the object.
  - Returns the file's SHA-256 for the run's records. Fails, naming the file and what to do, when
    the copy does not match.
  - Runs on the controller; reads the file only.
options:
  path:
    description: The downloaded file.
    type: path
    required: true
  etag:
    description: The object's ETag as S3 gave it (quotes allowed).
    type: str
    required: true
  size:
    description: The object's size in bytes as S3 gave it.
    type: int
    required: true
  source:
    description: The object's C(s3://) URL, for messages.
    type: str
    default: ""
author:
  - cactus-aws maintainers (@cactus-aws)
"""

EXAMPLES = r"""
- name: Verify the HAL fetched from the run's bucket
  genomics.cactus.cactus_hal_verify:
    path: /data/birds.hal
    etag: '"9b2cf535f27731c974343645a3985328-3"'
    size: 20971520
    source: s3://birds-jobstore--hal/birds.hal
  delegate_to: localhost
"""

RETURN = r"""
sha256:
  description: SHA-256 of the file.
  returned: always
  type: str
etag:
  description: The ETag computed from the file.
  returned: always
  type: str
size:
  description: The file's size in bytes.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.genomics.cactus.plugins.module_utils.s3_etag import verify


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            etag=dict(type="str", required=True),
            size=dict(type="int", required=True),
            source=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    params = module.params
    result = verify(params["path"], params["etag"], params["size"])
    if not result["matches"]:
        module.fail_json(
            msg=f"{params['path']} (size {result['size']}, ETag {result['etag']}) does not match "
            f"{params['source'] or 'the S3 object'} (size {params['size']}, ETag {params['etag']}): "
            "remove the local copy and run --tags fetch again",
            **result,
        )
    module.exit_json(changed=False, sha256=result["sha256"], etag=result["etag"], size=result["size"])


if __name__ == "__main__":
    main()
