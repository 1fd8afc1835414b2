"""Time the cactus_plan module on a 600-genome seqFile (target: well under 5 s).

Builds, in a temp dir, 600 local FASTA genomes under a balanced binary tree: sparse files whose
apparent sizes cover the four size classes (mammal, bird, nematode, small), plus some gzipped ones
and some directories of FASTA. Then times each step the module runs (parse, measure, plan, JSON)
in-process, and once the whole module through `ansible localhost -m cactus_plan`.

    tests/isolated .venv/bin/python benchmarks/plan_600_genomes.py [--genomes N] [--no-ansible]

Prints figures; asserts nothing about time.
"""

import argparse
import gzip
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.append(str(REPO / "collections"))  # the repository as genomics.cactus

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_measure import (  # noqa: E402
    measure_genomes,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_plan import (  # noqa: E402
    PlanSettings,
    build_plan,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_seqfile import (  # noqa: E402
    parse_seqfile,
)

# Apparent sizes by genome index modulo 4: mammal, bird, nematode, small.
SIZES = (3_100_000_000, 1_200_000_000, 150_000_000, 5_000_000)


def load_module():
    path = REPO / "plugins" / "modules" / "cactus_plan.py"
    spec = importlib.util.spec_from_file_location("cactus_plan_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def balanced_tree(names):
    """Newick for a balanced binary tree over names (depth log2 n), built without recursion."""
    level = [f"{name}:0.05" for name in names]
    while len(level) > 1:
        pairs = [f"({level[i]},{level[i + 1]}):0.02" for i in range(0, len(level) - 1, 2)]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    return level[0].rsplit(":", 1)[0] + ";"


def write_genome(directory, index):
    """One genome: every 10th gzipped, every 25th a directory of two files, the rest sparse FASTA."""
    name = f"genome{index:04d}"
    if index % 25 == 0:
        folder = directory / name
        folder.mkdir()
        for part in ("chr1.fa", "chr2.fa"):
            with open(folder / part, "wb") as handle:
                handle.write(f">{part}\nACGT\n".encode())
            os.truncate(folder / part, SIZES[index % 4] // 2)
        return name, name
    if index % 10 == 0:
        (directory / f"{name}.fa.gz").write_bytes(gzip.compress(f">{name}\n".encode() + b"ACGT" * 2000))
        return name, f"{name}.fa.gz"
    path = directory / f"{name}.fa"
    with open(path, "wb") as handle:
        handle.write(f">{name}\nACGT\n".encode())
    os.truncate(path, SIZES[index % 4])  # sparse: the size class without the disk use
    return name, path.name


def write_inputs(root, count):
    genomes = root / "genomes"
    genomes.mkdir()
    entries = [write_genome(genomes, i) for i in range(count)]
    lines = ["# benchmark seqFile", balanced_tree([name for name, _ in entries]), ""]
    lines += [f"{'*' if i % 50 == 0 else ''}{name}\tgenomes/{path}" for i, (name, path) in enumerate(entries)]
    seqfile = root / "seqfile.txt"
    seqfile.write_text("\n".join(lines) + "\n")
    return seqfile


def timed(label, figures, function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    figures.append((label, time.perf_counter() - start))
    return result


def run_in_process(seqfile, run_dir, module):
    figures = []
    parsed = timed("parse seqFile", figures, parse_seqfile, str(seqfile))
    measured = timed("measure genomes", figures, measure_genomes, parsed, offline=True)
    settings = PlanSettings(cluster_name="cactus-bench", zone="us-west-2a", key_pair_name="bench-key",
                            output="s3://bench-bucket/600.hal",
                            on_demand_prices={"r3.8xlarge": 2.66, "m5.large": 0.096})
    plan = timed("build plan (first call imports Toil)", figures, build_plan, parsed, measured, settings)
    timed("build plan again", figures, build_plan, parsed, measured, settings)
    text = timed("JSON", figures, lambda: json.dumps(plan, indent=2, sort_keys=True) + "\n")
    timed("write plan.json", figures, module.write_if_changed, str(run_dir / "plan.json"), text)
    return plan, figures


def run_through_ansible(seqfile, root):
    ansible_bin = Path(sys.executable).parent / "ansible"
    if not ansible_bin.exists():
        return None, "ansible not found next to this Python"
    (root / "hosts.ini").write_text("")
    (root / "home").mkdir(exist_ok=True)
    args = dict(seqfile=str(seqfile), output="s3://bench-bucket/600.hal", cluster_name="cactus-bench",
                zone="us-west-2a", key_pair_name="bench-key", offline=True, run_dir=str(root / "ansible-run"))
    env = dict(os.environ, HOME=str(root / "home"), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_INVENTORY_ENABLED="ini")
    command = [str(ansible_bin), "-i", str(root / "hosts.ini"), "localhost",
               "-m", "genomics.cactus.cactus_plan", "-a", json.dumps(args)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    try:
        result = json.loads(done.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (json.JSONDecodeError, KeyError, IndexError):
        return elapsed, f"no result (rc {done.returncode}): {done.stderr.strip()[-300:]}"
    if result.get("failed"):
        return elapsed, f"failed: {result.get('msg')}"
    return elapsed, f"changed={result['changed']}, {len(result['plan']['genomes'])} genomes"


def main():
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--genomes", type=int, default=600)
    options.add_argument("--no-ansible", action="store_true")
    args = options.parse_args()
    module = load_module()
    with tempfile.TemporaryDirectory(prefix="plan-bench-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        seqfile = write_inputs(root, args.genomes)
        setup = time.perf_counter() - start
        plan, figures = run_in_process(seqfile, root / "run", module)
        total = sum(seconds for _, seconds in figures)
        print(f"inputs: {args.genomes} genomes written in {setup:.2f} s (not timed below)")
        for label, seconds in figures:
            print(f"  {label:<40} {seconds * 1000:9.1f} ms")
        print(f"  {'in-process total':<40} {total * 1000:9.1f} ms  (target < 5000 ms)")
        print(f"genomes: {len(plan['genomes'])}; classes: {plan['size_classes']}; "
              f"outgroups: {len(plan['outgroups'])}")
        print(f"node types {plan['node_types']} max {plan['max_nodes']}; consCores {plan['cons_cores']}; "
              f"node storage {plan['node_storage']} GB; leader storage {plan['leader_storage']} GB")
        print(f"cost ceiling: {plan['cost_per_hour']['total']} USD/hour; "
              f"cactus argv {len(plan['cactus_argv'])} items; plan.json "
              f"{(root / 'run' / 'plan.json').stat().st_size // 1024} KiB")
        if not args.no_ansible:
            elapsed, outcome = run_through_ansible(seqfile, root)
            shown = f"{elapsed:.2f} s" if elapsed is not None else "skipped"
            print(f"through ansible (process start, Toil import, module run): {shown}; {outcome}")


if __name__ == "__main__":
    main()
