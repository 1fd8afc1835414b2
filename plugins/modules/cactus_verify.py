#!/usr/bin/python
# Check the genomes that landed on the target against the controller's SHA-256 manifest.
DOCUMENTATION = r"""
---
module: cactus_verify
short_description: Check transferred genomes against the controller's SHA-256 manifest
description:
  - Runs on the target (the leader's appliance, or a host) in the directory that received the
    genomes, after the transfer. C(.manifest.sha256) there is the controller's manifest (C(sha256sum)
    format, written by M(genomics.cactus.cactus_stage) and sent with the genomes).
  - A manifest line is accepted when C(.verified.sha256) already holds it (checked by an earlier
    run), or when its file is in O(sent); every other file is read and hashed here, several at a
    time. When every line is accepted, the manifest is copied to C(.verified.sha256).
  - Then writes the leader's seqFile (O(seqfile_path)) when its content differs, in the same
    connection, as the transfer's last step.
  - O(sent) are the files rsync wrote in this run. rsync checks each file it writes against a
    whole-file checksum the sender computed while reading it (the controller's file at that time),
    and M(genomics.cactus.cactus_send) checked that the controller's file kept the size and
    modification time it had when its SHA-256 was taken. Reading them again here would prove
    nothing more.
options:
  path:
    description: The directory that received the genomes.
    type: path
    required: true
  sent:
    description: Files (relative to O(path)) that rsync wrote and verified in this run.
    type: list
    elements: str
    default: []
  workers:
    description: Files hashed at the same time; 0 for one per processor.
    type: int
    default: 0
  seqfile_path:
    description: The seqFile Cactus reads on the target, written once every genome matches.
    type: path
  seqfile_text:
    description: Its content.
    type: str
    default: ""
author: cactus-aws maintainers (@cactus-aws)
"""

EXAMPLES = r"""
- name: Check every checksum on the leader
  cactus_verify:
    path: "{{ cactus_leader_genomes_dir }}"
    sent: "{{ cactus_transfer_rsync.sent }}"
"""

RETURN = r"""
files:
  description: Files in the manifest.
  type: int
  returned: always
hashed:
  description: Files read and hashed on the target in this run.
  type: int
  returned: always
sent:
  description: Files accepted on rsync's whole-file checksum in this run.
  type: int
  returned: always
mismatched:
  description: Files whose SHA-256 here is not the manifest's (or that are missing).
  type: list
  elements: str
  returned: always
seqfile_written:
  description: Whether the seqFile was (re)written.
  type: bool
  returned: always
"""

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

MANIFEST = ".manifest.sha256"
VERIFIED = ".verified.sha256"
CHUNK = 4 * 1024 * 1024


def read_lines(path):
    try:
        with open(path, encoding="utf-8", newline="\n") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def sha256_of(path):
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(CHUNK), b""):
                digest.update(block)  # hashlib lets other threads run meanwhile
    except OSError:
        return None
    return digest.hexdigest()


def verify(path, sent=(), workers=0):
    """(result, manifest text or None when some file does not match)."""
    with open(os.path.join(path, MANIFEST), encoding="utf-8", newline="\n") as f:
        text = f.read()
    known = set(read_lines(os.path.join(path, VERIFIED)))
    sent = set(sent)
    entries = [(line, *line.split("  ", 1)) for line in text.splitlines()]
    todo = [(digest, rel) for line, digest, rel in entries if line not in known and rel not in sent]
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max(1, min(workers, len(todo)))) as pool:
        digests = list(pool.map(lambda item: sha256_of(os.path.join(path, item[1])), todo))
    mismatched = [rel for (digest, rel), found in zip(todo, digests, strict=True) if found != digest]
    accepted_sent = sum(1 for _, _, rel in entries if rel in sent)
    result = {"files": len(entries), "hashed": len(todo), "sent": accepted_sent, "mismatched": mismatched}
    return result, None if mismatched else text


def write_if_different(path, text):
    """Write text to path atomically (mode 0644) unless it holds it already; True when written."""
    try:
        with open(path, encoding="utf-8", newline="\n") as f:
            if f.read() == text:
                return False
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.chmod(path + ".tmp", 0o644)
    os.replace(path + ".tmp", path)
    return True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            sent=dict(type="list", elements="str", default=[]),
            workers=dict(type="int", default=0),
            seqfile_path=dict(type="path"),
            seqfile_text=dict(type="str", default=""),
        ),
        supports_check_mode=False,
    )
    p = module.params
    try:
        result, text = verify(p["path"], p["sent"], p["workers"])
    except OSError as e:
        module.fail_json(msg=f"cactus_verify: cannot read the manifest in {p['path']}: {e}")
    changed = seqfile_written = False
    if text is not None:
        verified = os.path.join(p["path"], VERIFIED)
        if read_lines(verified) != text.splitlines():
            with open(verified + ".tmp", "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            os.replace(verified + ".tmp", verified)
            changed = True
        if p["seqfile_path"]:
            seqfile_written = write_if_different(p["seqfile_path"], p["seqfile_text"])
    module.exit_json(changed=changed or seqfile_written, seqfile_written=seqfile_written, **result)


if __name__ == "__main__":
    main()
