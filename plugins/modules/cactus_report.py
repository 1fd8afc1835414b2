#!/usr/bin/python
# The manual of the action plugin plugins/action/cactus_report.py (it runs on the controller).

DOCUMENTATION = r"""
module: cactus_report
short_description: Write the run report, report.html, from a run directory's records
description:
  - Writes C(report.html) in O(run_dir), one self-contained page (plots inlined as SVG, no external
    resource; its Content-Security-Policy lets the browser load nothing else) made from the records there -
    C(plan.json), C(run.json), C(samples.jsonl) (the leader's sampler), C(spend.jsonl) and C(fetched.json).
  - Plots of the worker nodes by instance type, Toil's jobs and the spend over time (matplotlib), then the
    run's facts - plan, command, versions, timings, checksums of the inputs and the output.
  - Without matplotlib the page says so and still holds the facts.
  - Never reports a change - the page is a view of the run's records, rewritten only when they changed.
  - Writes nothing in check mode.
version_added: "1.0.0"
author:
  - cactus-aws maintainers (@cactus-aws)
options:
  run_dir:
    description: The run directory on the controller (C(runs/<run>)).
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Write the run report
  genomics.cactus.cactus_report:
    run_dir: runs/my-run
  delegate_to: localhost
"""

RETURN = r"""
path:
  description: The report's path.
  returned: always
  type: str
written:
  description: The page was rewritten (its records changed since the last one).
  returned: always
  type: bool
plots:
  description: The titles of the plots that have data.
  returned: always
  type: list
  elements: str
"""
