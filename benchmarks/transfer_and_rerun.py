"""Benchmark: the transfer step against plain rsync on the same link, and an idempotent re-run.

    tests/isolated .venv/bin/python benchmarks/transfer_and_rerun.py [--gib 1]

Starts the local test cloud (loopback only), launches and provisions a leader, then times:
  1. `--tags transfer` sending a genome of --gib GiB (staging, checksums, rsync, leader check);
  2. plain `rsync` of the same file over the same ssh + docker exec link (what `toil rsync-cluster` does);
  3. `--tags transfer` again (nothing to send);
  4. the whole playbook, then the whole playbook again (the idempotent re-run).
Prints figures; asserts nothing about time.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TOP / "tests" / "cloud"), str(TOP / "tests" / "integration")]

from project import Project, ReleaseServer, recap  # noqa: E402
from testcloud import ZONE, TestCloud  # noqa: E402


def timed(label, action):
    started = time.monotonic()
    result = action()
    seconds = time.monotonic() - started
    print(f"{label:<58} {seconds:8.1f} s", flush=True)
    return result, seconds


def write_genome(path: Path, size: int) -> None:
    line = ("ACGTTGCAAGCTTGCATTGACCGT" * 3 + "\n").encode()
    block = line * (4 * 1024 * 1024 // len(line))
    with open(path, "wb") as f:
        f.write(b">chr1\n")
        while f.tell() < size:
            f.write(block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="size of the genome to send (GiB)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-transfer-"))
    with TestCloud(root / "cloud") as cloud:
        release = ReleaseServer(root / "release")
        project = Project(cloud, root / "project", "bench-xfer", release)
        genome = project.genomes_dir / "simHuman.fa"
        write_genome(genome, int(args.gib * 1024**3))
        size = genome.stat().st_size
        print(f"genome: {size / 1024**2:.0f} MiB; link: ssh to 127.0.1.x, then docker exec -i toil_leader")
        try:
            project.play("--tags", "prereqs,plan,launch,provision")
            result, seconds = timed("transfer step, first run (stage, rsync, sha256 check)",
                                    lambda: project.play("--tags", "transfer"))
            print(f"{'':<58} {size / 1024**2 / seconds:8.1f} MiB/s")

            leader = cloud.client("ec2").describe_instances()["Reservations"][0]["Instances"][0]
            rsh = "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
            plain = ["rsync", "--times", "--rsync-path", "docker exec -i toil_leader rsync", "-e", rsh,
                     str(genome), f"core@{leader['PublicIpAddress']}:/var/tmp/plain-rsync.fa"]
            _, plain_seconds = timed("plain rsync of the same file (as toil rsync-cluster)",
                                     lambda: cloud.run(plain, timeout=3600))
            print(f"{'':<58} {size / 1024**2 / plain_seconds:8.1f} MiB/s")
            again, _ = timed("transfer step again (nothing to send)",
                             lambda: project.play("--tags", "transfer"))
            print(f"{'':<58} changed={recap(again.stdout)['bench-xfer-leader']['changed']}")

            timed("whole playbook (align, wait, fetch)", lambda: project.play())
            rerun, _ = timed("whole playbook again (idempotent re-run)", lambda: project.play())
            print(f"{'':<58} recap: {recap(rerun.stdout)} (target: changed=0, at most 20 s)")
        finally:
            cloud.run(["toil", "destroy-cluster", "--zone", ZONE, "bench-xfer"], check=False, timeout=600)
            release.stop()


if __name__ == "__main__":
    main()
