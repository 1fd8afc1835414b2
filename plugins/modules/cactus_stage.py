#!/usr/bin/python
# Lay out the local genomes of a plan for one rsync to the leader, with a checksum manifest.
# The manual only: the action plugin plugins/action/cactus_stage.py runs it
# (module_utils/cactus_stage_run.py) on the controller.
DOCUMENTATION = r"""
---
module: cactus_stage
short_description: Stage a plan's local genomes for transfer, with a SHA-256 manifest
description:
  - Makes a tree of symbolic links, C(<stage_dir>/<path below leader_genomes_dir>) pointing at each
    local genome of the plan, so that one C(rsync --copy-links) sends every genome to its place on
    the leader, resumably and only what changed.
  - Writes C(<stage_dir>/.manifest.sha256), the SHA-256 of every file in C(sha256sum -c) format
    (paths relative to the genomes directory), which the leader checks after the transfer.
  - Checksums are cached by path, size and modification time in O(cache), so a re-run does not
    read unchanged genomes again.
  - Runs on the controller (an action plugin, in Ansible's own process), whatever host the task names.
    Remote genomes (URLs) are left alone.
  - Returns the inputs' fingerprints (the seqFile's SHA-256, each local genome's from the manifest,
    each URL with what the plan measured) and compares them with those of O(record), the run record
    of this job store; when a started or finished run's inputs changed it fails before anything is
    sent, naming the changed inputs and the way forward (module_utils C(cactus_inputs)).
options:
  genomes:
    description: The plan's genomes (C(name), C(kind), C(resolved), C(leader_path), C(outgroup)).
    type: list
    elements: dict
    required: true
  leader_genomes_dir:
    description:
      - The directory on the leader that receives the genomes; every C(leader_path) of a local
        genome is below it.
    type: str
    required: true
  stage_dir:
    description: The staging directory on the controller (emptied of stale links).
    type: path
    required: true
  cache:
    description: JSON file of cached checksums.
    type: path
    required: true
  s3_url:
    description:
      - When set (C(s3://bucket/prefix)), the genomes are staged for S3 instead of the leader. The
        module then returns C(uploads) below O(s3_url) and C(seqfile_text), the seqFile with C(s3://)
        URLs for local genomes (URLs kept). Genome directories cannot go to S3 (Cactus reads a
        directory of FASTA only from a local path).
    type: str
  tree:
    description: The seqFile's tree line (the plan's C(tree)), for C(seqfile_text).
    type: str
  seqfile_text:
    description:
      - The seqFile Cactus reads on the leader (the plan's C(leader_seqfile_text)); its SHA-256 is
        part of the inputs' fingerprint.
    type: str
    default: ""
  record:
    description:
      - The run record of the alignment (C(run.json)), or an empty dict. When it names O(jobstore)
        and keeps C(inputs), the current inputs are compared with those.
    type: dict
    default: {}
  state:
    description: State of that run (none, running, interrupted, finished, failed).
    type: str
    default: none
  jobstore:
    description: The plan's job store.
    type: str
    default: ""
  name_variable:
    description:
      - The variable that names a new job store (C(toil_jobstore_name), on a host C(cactus_run_name)).
    type: str
    default: toil_jobstore_name
  name_value:
    description: Its current value, for the suggested new one.
    type: str
    default: ""
  output:
    description: The run's output, named in messages.
    type: str
    default: ""
  stop_on_change:
    description:
      - Fail, before anything is sent, when the inputs of a started or finished run of this job store
        changed. False only reports (C(changed_inputs), C(inputs_message)).
    type: bool
    default: true
author: cactus-aws maintainers (@cactus-aws)
"""

EXAMPLES = r"""
- name: Stage the local genomes
  cactus_stage:
    genomes: "{{ cactus_plan_data.genomes }}"
    leader_genomes_dir: "{{ cactus_plan_data.leader_run_dir }}/genomes"
    stage_dir: "{{ cactus_run_dir }}/stage"
    cache: "{{ cactus_run_dir }}/checksums.json"
  delegate_to: localhost
"""

RETURN = r"""
files:
  description: Number of local files staged (a genome directory counts each file).
  type: int
  returned: always
bytes:
  description: Their total size.
  type: int
  returned: always
manifest:
  description: Path of the manifest.
  type: str
  returned: always
uploads:
  description: With O(s3_url), the files to upload, each with C(src), C(bucket), C(key), C(sha256).
  type: list
  elements: dict
  returned: when s3_url is set
seqfile_text:
  description: With O(s3_url), the seqFile for the leader, with C(s3://) URLs for local genomes.
  type: str
  returned: when s3_url is set
inputs:
  description:
    - Fingerprints of the current inputs, C(seqfile) (SHA-256 of O(seqfile_text)) and C(genomes) by
      name (C(sha256) of a local genome; C(url), C(size), C(etag), C(last_modified) of a URL).
  type: dict
  returned: always
changed_inputs:
  description: What changed since the run of O(record) started, one phrase per input.
  type: list
  elements: str
  returned: always
inputs_message:
  description: What that means and what to do, or an empty string.
  type: str
  returned: always
"""
