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
    and the action M(genomics.cactus.cactus_transfer) checked that the controller's file kept the
    size and modification time it had when its SHA-256 was taken. Reading them again here would
    prove nothing more.
  - With O(manifest_text) the manifest comes from the controller (and is written to
    C(.manifest.sha256) when it differs) rather than being read there.
  - With O(look), checks and writes nothing, and reports what the target holds (the manifest lines
    C(.verified.sha256) holds, each listed file's size and mtime, whether the manifest and the seqFile
    are as given) and, with O(record_path), the run record and whether the tmux session O(session)
    is alive. So one call decides that nothing needs to be sent. Creates O(path) when it is missing
    (not in check mode).
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
  manifest_text:
    description: The controller's manifest (C(sha256sum) format); when unset, C(.manifest.sha256) in O(path).
    type: str
  look:
    description: Only report what the target holds (see the description); nothing is hashed or written.
    type: bool
    default: false
  record_path:
    description: With O(look), the run record to read (C(run.json)).
    type: path
  session:
    description: With O(look) and O(record_path), the tmux session of the alignment.
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
  returned: unless look
verified:
  description: The manifest lines C(.verified.sha256) holds.
  type: list
  elements: str
  returned: with look
stats:
  description: Each manifest file present, by path, as C([size, mtime in whole seconds]).
  type: dict
  returned: with look
manifest_same:
  description: Whether C(.manifest.sha256) holds the manifest.
  type: bool
  returned: with look
seqfile_same:
  description: Whether the seqFile holds O(seqfile_text).
  type: bool
  returned: with look
record:
  description: The run record (an empty dict when there is none).
  type: dict
  returned: with look and record_path
alive:
  description: Whether the tmux session O(session) is alive.
  type: bool
  returned: with look and record_path
"""

import hashlib
import json
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


def read_text(path):
    """The file's text, or None when it is missing or not text."""
    try:
        with open(path, encoding="utf-8", newline="\n") as f:
            return f.read()
    except (OSError, ValueError):
        return None


def verify(path, sent=(), workers=0, text=None):
    """(result, manifest text or None when some file does not match). text: the manifest, else the
    one in path."""
    if text is None:
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


def look(path, text, seqfile_path=None, seqfile_text=""):
    """What the target holds of the manifest `text`, read-only (see the module's description)."""
    lines = text.splitlines()
    known = set(read_lines(os.path.join(path, VERIFIED)))
    found = {}
    for line in lines:
        rel = line.split("  ", 1)[1]
        try:
            st = os.stat(os.path.join(path, rel))
        except OSError:
            continue
        found[rel] = [st.st_size, int(st.st_mtime)]
    return {"verified": [line for line in lines if line in known], "stats": found,
            "manifest_same": read_text(os.path.join(path, MANIFEST)) == text,
            "seqfile_same": not seqfile_path or read_text(seqfile_path) == seqfile_text}  # fmt: skip


def read_record(path):
    text = read_text(path)
    try:
        record = json.loads(text) if text else {}
    except ValueError:
        record = {}
    return record if isinstance(record, dict) else {}


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
            manifest_text=dict(type="str"),
            look=dict(type="bool", default=False),
            record_path=dict(type="path"),
            session=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["look"]:
        result = look(p["path"], p["manifest_text"] or "", p["seqfile_path"], p["seqfile_text"])
        if p["record_path"]:
            result["record"] = read_record(p["record_path"])
            tmux = module.get_bin_path("tmux")  # none before the provision step
            asked = bool(tmux and p["session"])
            result["alive"] = asked and module.run_command([tmux, "has-session", "-t", p["session"]])[0] == 0
        changed = not os.path.isdir(p["path"])
        if changed and not module.check_mode:
            os.makedirs(p["path"], mode=0o755)
        module.exit_json(changed=changed, **result)
    if module.check_mode:
        module.exit_json(changed=False, msg="check mode: nothing checked")
    try:
        result, text = verify(p["path"], p["sent"], p["workers"], p["manifest_text"])
    except OSError as e:
        module.fail_json(msg=f"cactus_verify: cannot read the manifest in {p['path']}: {e}")
    changed = seqfile_written = False
    if p["manifest_text"] is not None:
        changed = write_if_different(os.path.join(p["path"], MANIFEST), p["manifest_text"])
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
