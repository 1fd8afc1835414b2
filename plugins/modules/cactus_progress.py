#!/usr/bin/python
# The manual of the action plugin plugins/action/cactus_progress.py (it runs on the controller).

DOCUMENTATION = r"""
module: cactus_progress
short_description: One progress line per look at a Cactus run, optionally until it ends
description:
  - Looks at the run on the target - its tmux session, its run record, and Toil's lines in cactus's
    C(--logFile) - and prints one line - state, elapsed time, jobs (issued, done, running, waiting,
    failed, from Toil's log), worker nodes up by instance type (from EC2, on a Toil cluster).
  - With O(wait), prints the line of each look while the run is running and looks again, until it no longer
    runs (the last look is returned, not printed; the caller reports the end), at most O(timeout) seconds,
    backing off from O(first_delay) seconds to O(interval) seconds (a short alignment ends fast, a long
    one is polled rarely). Never prints Ansible's retry lines.
  - Never fails on the run's state; the caller decides (the C(cactus_status) role).
version_added: "1.0.0"
author:
  - cactus-aws maintainers (@cactus-aws)
options:
  session:
    description: Name of the tmux session cactus runs in.
    type: str
    required: true
  record:
    description: Path of the run record (C(run.json)) on the target.
    type: str
    required: true
  wait:
    description: Look until the run is no longer running (else look once).
    type: bool
    default: false
  timeout:
    description: Upper bound of the wait, in seconds.
    type: int
    default: 86400
  interval:
    description: Longest time between two looks, in seconds.
    type: int
    default: 60
  first_delay:
    description: Time before the second look, in seconds; doubled after each look up to O(interval).
    type: int
    default: 5
  cluster:
    description: Toil cluster name, to count its worker nodes in EC2; empty on a host run (no AWS call).
    type: str
    default: ""
  region:
    description: The cluster's region.
    type: str
    default: ""
  zone:
    description: The cluster's zone (spot price history is per zone).
    type: str
    default: ""
  on_demand_prices:
    description: On-demand prices you give, USD/hour by instance type; they win over looked-up ones.
    type: dict
    default: {}
  spot_prices:
    description: Spot prices you give, USD/hour by instance type; else EC2's spot price history in O(zone).
    type: dict
    default: {}
  lookup_prices:
    description: Look up the on-demand prices not given in the AWS Price List API.
    type: bool
    default: true
  volume_price_gb_month:
    description: EBS price, USD per GB-month; 0 means unknown (volumes not counted, and the line says so).
    type: float
    default: 0.0
  ceiling:
    description: The plan's hourly cost ceiling (USD/hour); a warning, once, when the cluster costs more now.
    type: float
  run_dir:
    description:
      - The run directory on the controller. Each look writes C(spend.json) (every instance seen, with the
        last time it was seen running - EC2 has no end time and forgets terminated instances) and appends one
        point (time, total, rate, workers by type) to C(spend.jsonl), the run's time series.
    type: str
    default: ""
  spot_types:
    description:
      - Instance types the plan runs on spot; a worker only the leader's sampler saw (C(samples.jsonl) in
        O(run_dir)) is priced as spot when its type is one of these.
    type: list
    elements: str
    default: []
notes:
  - "Spend: each instance of the cluster (its security group, as Toil finds it), from its EC2 launch time to
    now, or to the last time a look or the leader's sampler (C(samples.jsonl), brought home by status and
    fetch) saw it; priced by type and lifecycle (spot or on demand); types
    without a price are named in the line and left out of the total, never guessed."
"""

EXAMPLES = r"""
- name: Wait for the alignment, one line per look
  genomics.cactus.cactus_progress:
    session: cactus-my-run
    record: /opt/cactus/runs/my-run-jobstore/run.json
    wait: true
    interval: 60
    cluster: my-run
    region: us-west-2
"""

RETURN = r"""
state:
  description: The run's state at the last look (none, running, interrupted, finished, failed).
  returned: always
  type: str
record:
  description: The run record at the last look.
  returned: always
  type: dict
jobs:
  description: Job counts from Toil's log (issued, failed, retried; done, running, waiting once known).
  returned: always
  type: dict
nodes:
  description: Worker instances up, by instance type (empty on a host run or when EC2 did not answer).
  returned: always
  type: dict
spend:
  description: The spend at the last look (total, rate, rows per instance, unknown prices); empty on a host.
  returned: always
  type: dict
timed_out:
  description: The wait ended on O(timeout) with the run still running.
  returned: always
  type: bool
line:
  description: The last progress line.
  returned: always
  type: str
looks:
  description: How many looks were taken.
  returned: always
  type: int
"""
