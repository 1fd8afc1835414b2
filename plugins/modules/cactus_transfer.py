#!/usr/bin/python
# The manual of the action plugin plugins/action/cactus_transfer.py (it runs on the controller).

DOCUMENTATION = r"""
module: cactus_transfer
short_description: Send local genomes to the target with rsync and check every file there, in one task
description:
  - Runs on the controller for the target (the Toil leader's appliance, or a host). Lays out the plan's
    local genomes as links under O(stage_dir) and takes each file's size and modification time.
  - "One look at the target (M(genomics.cactus.cactus_verify) with C(look), read-only) says what it
    holds and, unless O(run) and O(state) are given, the run's state (its run record, else the
    controller's copy O(record_copy), and its tmux session). When the target holds every file of the
    manifest as verified by an earlier check (a line of C(.verified.sha256)) with the size and
    modification time the controller's file has now (rsync's own quick check), and the seqFile as
    O(seqfile_text), nothing is sent: rsync is not even started."
  - Otherwise rsync (O(argv)) runs; meanwhile the files whose SHA-256 the checksum cache O(cache) lacks
    (by path, size and modification time) are hashed, so each file is read from disk once. rsync checks
    every file it writes against a whole-file checksum the sender computed while reading the
    controller's file; each file rsync wrote must still have the size and modification time its
    SHA-256 was taken at (a file changed during the send stops the run). Then
    M(genomics.cactus.cactus_verify) hashes on the target, in parallel, only the files rsync did not
    write and no earlier check covered, writes the manifest, C(.verified.sha256) and the seqFile.
    A file that does not match is sent again with rsync comparing contents, and checked again.
  - "Before anything is sent the inputs' fingerprints are compared with those of a started or finished
    run of O(jobstore): when they changed the task fails, naming them and the way forward
    (module_utils C(cactus_inputs)); for such a run the missing hashes are taken before the send."
  - Writes O(inputs_file), the inputs' fingerprints as sent (the run record keeps them when the
    alignment starts).
  - In check mode looks and compares, and sends and writes nothing.
version_added: "1.0.0"
author:
  - cactus-aws maintainers (@cactus-aws)
options:
  genomes:
    description: The plan's genomes (C(name), C(kind), C(resolved), C(leader_path)); URLs are left alone.
    type: list
    elements: dict
    required: true
  genomes_dir:
    description: The directory on the target that receives them (every local C(leader_path) is below it).
    type: str
    required: true
  stage_dir:
    description: The staging directory on the controller (its links lead to the genomes).
    type: path
    required: true
  cache:
    description: The controller's checksum cache (JSON, SHA-256 by real path, size and mtime).
    type: path
    required: true
  argv:
    description: rsync's command line from O(stage_dir) to O(genomes_dir) (C(cactus_transfer_rsync_argv)).
    type: list
    elements: str
    required: true
  seqfile_path:
    description: The seqFile Cactus reads on the target, written once every genome matches.
    type: str
    required: true
  seqfile_text:
    description: Its content.
    type: str
    default: ""
  inputs_file:
    description: Where the inputs' fingerprints are written after the send (on the controller).
    type: path
    required: true
  run:
    description: The run record as read earlier in this play; with O(state), the target's is not read.
    type: dict
  state:
    description: The run's state as read earlier in this play (none, running, interrupted, finished, failed).
    type: str
  record_path:
    description: The run record on the target.
    type: str
    default: ""
  record_copy:
    description: Its copy on the controller (read when the target has none).
    type: path
    default: ""
  session:
    description: The alignment's tmux session on the target.
    type: str
    default: ""
  jobstore:
    description: The plan's job store (only a record of it describes what is on the target).
    type: str
    default: ""
  name_variable:
    description: The variable that names a new job store, for the message when the inputs changed.
    type: str
    default: toil_jobstore_name
  name_value:
    description: Its current value.
    type: str
    default: ""
  output:
    description: The run's output, named in that message.
    type: str
    default: ""
  timeout:
    description: Upper bound for one rsync run (seconds); a cut transfer resumes on the next run.
    type: int
    default: 86400
  workers:
    description: Files hashed at the same time (on the controller and on the target); 0 for one per processor.
    type: int
    default: 0
"""

EXAMPLES = r"""
- name: Send the local genomes and check them on the leader
  genomics.cactus.cactus_transfer:
    genomes: "{{ cactus_plan_data.genomes }}"
    genomes_dir: "{{ cactus_plan_data.leader_run_dir }}/genomes"
    stage_dir: "{{ cactus_run_dir }}/stage"
    cache: "{{ cactus_run_dir }}/checksums.json"
    argv: "{{ cactus_transfer_rsync_argv }}"
    seqfile_path: "{{ cactus_plan_data.leader_seqfile }}"
    seqfile_text: "{{ cactus_plan_data.leader_seqfile_text }}"
    inputs_file: "{{ cactus_run_dir }}/inputs.json"
"""

RETURN = r"""
sent:
  description: Files (relative to O(genomes_dir)) rsync wrote and proved in this run.
  type: list
  elements: str
  returned: always
stats:
  description: rsync's summary lines (files transferred, sizes, literal data), or why nothing was sent.
  type: list
  elements: str
  returned: always
files:
  description: Local files of the plan (a genome directory counts each file).
  type: int
  returned: always
bytes:
  description: Their total size.
  type: int
  returned: always
hashed:
  description: Files read and hashed on the target in this run.
  type: int
  returned: always
run:
  description: The run record (O(run), or the one read in the look).
  type: dict
  returned: always
state:
  description: The run's state.
  type: str
  returned: always
inputs:
  description: The inputs' fingerprints (empty when they were not taken, in check mode).
  type: dict
  returned: always
compared:
  description: Whether they were compared with the run record's.
  type: bool
  returned: always
changed_inputs:
  description: What changed since the run of this job store started, one phrase per input.
  type: list
  elements: str
  returned: always
inputs_message:
  description: What that means and what to do, or an empty string.
  type: str
  returned: always
"""
