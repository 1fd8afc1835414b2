"""A user's project on the local test cloud: an inventory like inventory/ (the toil_cluster plugin's
file plus group_vars), a seqFile with small local genomes, and the Cactus stand-in's release served
over HTTP on loopback in place of GitHub."""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import yaml
from testcloud import KEY_PAIR, ZONE, TestCloud

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / "tests" / "standin"))

from make_release import build_release  # noqa: E402

# Three small genomes and a binary tree (Cactus needs one for more than two genomes).
GENOMES = {
    "simHuman": ">chr1\n" + "ACGTTGCA" * 400 + "\n>chr2\n" + "GATTACA" * 300 + "\n",
    "simMouse": ">chr1\n" + "ACGTTGCC" * 380 + "\n",
    "simDog": ">chr1\n" + "TTGCAACG" * 350 + "\n>chrX\n" + "CCCGGGAT" * 120 + "\n",
}
TREE = "((simHuman:0.1,simMouse:0.2)anc1:0.05,simDog:0.3);"


class ReleaseServer:
    """The stand-in's release tarball and git repository, served like GitHub: downloads as static
    files, the repository over git's smart HTTP protocol (git http-backend), so shallow clones work."""

    def __init__(self, root: Path):
        self.release = build_release(root / "download" / "v3.2.1")
        handler = functools.partial(_ReleaseHandler, directory=str(root))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.base_url = f"{self.url}/download"  # + /<version>/cactus-bin-<version>.tar.gz
        self.git_url = f"{self.url}/git/{self.release.git_dir.relative_to(root)}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _ReleaseHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/git/"):
            return self._git()
        return super().do_GET()

    def do_POST(self):
        return self._git()

    def _git(self):
        path, _, query = self.path[len("/git"):].partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {
            "GIT_PROJECT_ROOT": self.directory, "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path,
            "QUERY_STRING": query, "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""), "PATH": "/usr/bin:/bin",
        }  # fmt: skip
        cgi = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=120)
        head, _, payload = cgi.stdout.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode().split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class Project:
    """An inventory directory and run variables for one cluster, and ansible-playbook to drive it."""

    def __init__(self, cloud: TestCloud, root: Path, cluster: str, release: ReleaseServer, **variables):
        self.cloud, self.root, self.cluster = cloud, root, cluster
        self.inventory = root / "inventory"
        (self.inventory / "group_vars").mkdir(parents=True)
        self.genomes_dir = root / "genomes"
        self.genomes_dir.mkdir()
        lines = [TREE]
        for name, text in GENOMES.items():
            (self.genomes_dir / f"{name}.fa").write_text(text)
            lines.append(f"{name}\tgenomes/{name}.fa")
        self.seqfile = root / "seqfile.txt"
        self.seqfile.write_text("\n".join(lines) + "\n")
        self.output = root / "results" / "aligned.hal"
        self.run_dir = root / "runs" / cluster
        (self.inventory / "toil_cluster.yml").write_text(
            yaml.safe_dump({"plugin": "genomics.cactus.toil_cluster", "cluster_name": cluster, "zone": ZONE})
        )
        self.variables = {
            "toil_key_pair_name": KEY_PAIR,
            "toil_leader_node_type": "t2.medium",
            "cactus_seqfile": str(self.seqfile),
            "cactus_output": str(self.output),
            "cactus_run_dir": str(self.run_dir),
            # The test bed's stand-ins for GitHub and PyPI (see tests/setup-host.sh).
            "cactus_provision_release_base_url": release.base_url,
            "cactus_provision_git_url": release.git_url,
            "cactus_provision_pip_extra_args": "--no-index --find-links /srv/test-wheels",
            # The Price List API is not emulated.
            "cactus_plan_lookup_prices": False,
            "cactus_align_wait": True,
            "cactus_align_poll_interval": 1,
            "cactus_align_wait_timeout": 600,
            **variables,
        }
        self.write_variables()

    def write_variables(self) -> None:
        (self.inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump(self.variables))

    def play(self, *args: str, playbook="run_alignment.yml", check=True, env=None, timeout=900):
        """ansible-playbook from the repository root, as a user types it, with this inventory."""
        argv = ["ansible-playbook", "-i", str(self.inventory), playbook, *args]
        return self.cloud.run(argv, check=check, env=env or self.cloud.env(), timeout=timeout)

    def plan(self) -> dict:
        return json.loads((self.run_dir / "plan.json").read_text())

    def record(self) -> dict:
        return json.loads((self.run_dir / "run.json").read_text())


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP counts per host: {'localhost': {'ok': 5, 'changed': 0, ...}}."""
    counts = {}
    if "PLAY RECAP" not in output:
        return counts
    for line in output.split("PLAY RECAP", 1)[1].splitlines():
        if ":" not in line or "=" not in line:
            continue
        host, _, rest = line.partition(":")
        counts[host.strip()] = {k: int(v) for k, v in (item.split("=") for item in rest.split())}
    return counts
