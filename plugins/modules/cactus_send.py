#!/usr/bin/python
# Send the staged genomes with rsync, and say which files rsync wrote and verified.
DOCUMENTATION = r"""
---
module: cactus_send
short_description: Send staged genomes with rsync and name the files it verified
description:
  - Runs on the controller. Runs O(argv) (the transfer's rsync command line, with
    C(--itemize-changes)) and returns the files rsync wrote.
  - rsync checks every file it writes, a resumed one included, against a whole-file checksum that
    the sender computed while reading the controller's file, and redoes or fails a file that does not
    match. So a file it wrote holds the bytes it read here.
  - That they are the bytes whose SHA-256 is in the manifest is proved by the checksum cache of
    M(genomics.cactus.cactus_stage) (O(cache)). Each sent file must still have the size and
    modification time it had when its SHA-256 was taken. A file that changed while it was sent stops
    the run (a re-run hashes and sends it again).
  - M(genomics.cactus.cactus_verify) then accepts the files returned in RV(sent) without reading
    them on the target again, and hashes there only what rsync did not write in this run.
  - Then writes O(inputs) to O(inputs_file) (what was sent, which the run record keeps when the
    alignment starts).
  - In check mode nothing is sent.
options:
  argv:
    description: rsync's command line (C(cactus_transfer_rsync_argv)), with C(--itemize-changes).
    type: list
    elements: str
    required: true
  stage_dir:
    description: The staging directory sent (its links lead to the controller's files).
    type: path
    required: true
  cache:
    description: The checksum cache of M(genomics.cactus.cactus_stage).
    type: path
    required: true
  inputs:
    description: The inputs' fingerprints (C(inputs) of M(genomics.cactus.cactus_stage)).
    type: dict
  inputs_file:
    description: Where O(inputs) are written after the send.
    type: path
author: cactus-aws maintainers (@cactus-aws)
"""

EXAMPLES = r"""
- name: Send the local genomes
  cactus_send:
    argv: "{{ cactus_transfer_rsync_argv }}"
    stage_dir: "{{ cactus_stage_dir }}"
    cache: "{{ cactus_run_dir }}/checksums.json"
  delegate_to: localhost
"""

RETURN = r"""
sent:
  description: Files (relative to the staging directory) rsync wrote and verified in this run.
  type: list
  elements: str
  returned: always
stats:
  description: rsync's summary lines (files transferred, sizes, literal data).
  type: list
  elements: str
  returned: always
"""

import json
import os
import re

from ansible.module_utils.basic import AnsibleModule

STATS = re.compile(r"^(Number of regular files transferred|Total transferred file size|Literal data)")
# --itemize-changes: 11 characters of change flags, a space, the name; a written file starts with
# < (sent), > (received), c (created locally) or h (hard link), then f.
WRITTEN = re.compile(r"^[<>ch]f\S{9} (.*)$")
MANIFEST = ".manifest.sha256"
ESCAPE = re.compile(rb"\\#([0-7]{3})")


def unescape(name):
    """rsync prints unprintable bytes of a name as \\#ooo (octal)."""
    raw = ESCAPE.sub(lambda m: bytes([int(m.group(1), 8)]), name.encode("utf-8", "surrogateescape"))
    return raw.decode("utf-8", "surrogateescape")


def written(stdout):
    return [unescape(m.group(1)) for m in map(WRITTEN.match, stdout.splitlines()) if m]


def check_stamps(stage_dir, cache, names):
    """(names whose controller file kept the stamp its cached SHA-256 was taken at, names that changed).
    A name without a cache entry is in neither: the target hashes it."""
    kept, moved = [], []
    for name in names:
        path = os.path.realpath(os.path.join(stage_dir, name))
        entry = cache.get(path)
        try:
            st = os.stat(path)
        except OSError:
            moved.append(name)
            continue
        if entry is None:
            continue
        (kept if entry["stamp"] == [st.st_size, st.st_mtime_ns] else moved).append(name)
    return kept, moved


def main():
    module = AnsibleModule(
        argument_spec=dict(
            argv=dict(type="list", elements="str", required=True),
            stage_dir=dict(type="path", required=True),
            cache=dict(type="path", required=True),
            inputs=dict(type="dict"),
            inputs_file=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode:
        module.exit_json(changed=False, sent=[], stats=[], msg="check mode: nothing sent")
    rc, out, err = module.run_command(p["argv"])
    stats = [line for line in out.splitlines() if STATS.match(line)]
    if rc != 0:
        module.fail_json(msg=f"rsync exited {rc}: {err.strip()[-2000:]} (a re-run resumes the transfer)",
                         rc=rc, stdout=out, stderr=err, stats=stats)
    names = written(out)
    try:
        with open(p["cache"]) as f:
            cache = json.load(f)
    except (OSError, ValueError):
        cache = {}
    kept, moved = check_stamps(p["stage_dir"], cache, [n for n in names if n != MANIFEST])
    if moved:
        module.fail_json(
            msg=f"{', '.join(moved)} changed on the controller while it was sent (its SHA-256 was taken "
                "before): run --tags transfer again when the genomes stay unchanged.",
            stdout=out, stats=stats)  # fmt: skip
    if p["inputs_file"] and p["inputs"] is not None:
        text = json.dumps(p["inputs"], indent=4, sort_keys=True) + "\n"
        try:
            with open(p["inputs_file"]) as f:
                same = f.read() == text
        except OSError:
            same = False
        if not same:
            with open(p["inputs_file"] + ".tmp", "w") as f:
                f.write(text)
            os.replace(p["inputs_file"] + ".tmp", p["inputs_file"])
    module.exit_json(changed=bool(names), sent=kept, stats=stats, stdout=out)


if __name__ == "__main__":
    main()
