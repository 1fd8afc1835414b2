#!/usr/bin/python
# Upload local genomes to S3 in resumable, parallel parts, each object with its SHA-256.
DOCUMENTATION = r"""
---
module: cactus_s3_upload
short_description: Upload genomes to S3 in resumable parallel parts
description:
  - Runs on the controller. Uploads each file of O(uploads) to its bucket and key as a multipart
    upload, O(workers) parts at a time, unless the object is there with the file's SHA-256 (its
    C(sha256) metadata).
  - An upload cut part-way resumes. The upload's id is kept in O(state) with the SHA-256 of the file,
    and a later run sends only the parts S3 does not have. S3 checks each part against its MD5
    (Content-MD5); a part that arrived is not read again.
  - After each upload, the object's C(sha256) metadata is checked.
options:
  uploads:
    description:
      - Files to upload, each with C(src), C(bucket), C(key) and C(sha256) (from
        M(genomics.cactus.cactus_stage)).
    type: list
    elements: dict
    required: true
  state:
    description: JSON file on the controller that keeps the ids of unfinished uploads.
    type: path
    required: true
  workers:
    description: Parts uploaded at the same time.
    type: int
    default: 8
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author: cactus-aws maintainers (@cactus-aws)
"""

EXAMPLES = r"""
- name: Upload the genomes
  cactus_s3_upload:
    uploads: "{{ cactus_common_inputs.uploads }}"
    state: "{{ cactus_run_dir }}/s3-uploads.json"
  delegate_to: localhost
"""

RETURN = r"""
objects:
  description:
    - One per upload, C(url), C(action) (C(unchanged) or C(uploaded), or in check mode C(would
      upload)), C(parts), C(resumed_parts) (parts S3 had from a cut upload), C(bytes_sent).
  type: list
  elements: dict
  returned: always
"""

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # AnsibleAWSModule reports the missing library
    BotoCoreError = ClientError = None

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_s3_upload import (
    load_state, stored_sha256, upload)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            uploads=dict(type="list", elements="dict", required=True),
            state=dict(type="path", required=True),
            workers=dict(type="int", default=8),
        ),
        supports_check_mode=True,
    )
    p = module.params
    client = module.client("s3")
    state = load_state(p["state"])
    objects, url = [], ""
    try:
        for item in p["uploads"]:
            url = f"s3://{item['bucket']}/{item['key']}"
            if module.check_mode:
                same = stored_sha256(client, item["bucket"], item["key"]) == item["sha256"]
                objects.append({"url": url, "action": "unchanged" if same else "would upload"})
                continue
            done = upload(client, item["src"], item["bucket"], item["key"], item["sha256"], state, p["state"],
                          workers=p["workers"])  # fmt: skip
            objects.append({"url": url, **done})
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg=f"cannot upload {url} (a re-run resumes the upload)")
    except (OSError, RuntimeError) as e:
        module.fail_json(msg=str(e), objects=objects)
    module.exit_json(changed=any(o["action"] != "unchanged" for o in objects), objects=objects)


if __name__ == "__main__":
    main()
