"""The run report (report.html): made from a run directory's records, self-contained, plots of nodes, jobs
and spend, the run's facts; and rendered in headless Chromium (Debian's chromium, set up by
scripts/setup.sh --test), with a screenshot that is not blank and no request leaving the page."""

import json
import re
import shutil
import socket
import subprocess
import threading

from ansible_collections.genomics.cactus.plugins.module_utils import cactus_report as r

PLAN = {"cluster_name": "demo", "cactus_version": "v3.2.1", "jobstore": "aws:us-west-2:demo-jobstore",
        "summary": "3 genomes (3 small)\ncluster demo (kubernetes) in us-west-2a",
        "cactus_argv": ["cactus-prepare-toil", "aws:us-west-2:demo-jobstore", "seqfile.txt"]}  # fmt: skip
RUN = {"run": "demo", "state": "finished", "started_at": "2026-12-06T10:00:00+00:00",
       "ended_at": "2026-12-06T11:30:00+00:00", "attempt": 1, "jobstore": "aws:us-west-2:demo-jobstore",
       "argv": ["/opt/cactus/venv/bin/cactus-prepare-toil", "aws:us-west-2:demo-jobstore", "seqfile.txt"],
       "inputs": {"genomes": {"simDog": {"sha256": "9b22"}, "simHuman": {"sha256": "6a59"}}}}  # fmt: skip
FETCHED = {"output": "/data/aligned.hal", "size": 1145, "sha256": "5690", "etag": "4dc4",
           "source": "s3://demo-jobstore--hal/aligned.hal"}  # fmt: skip


def _run_dir(tmp_path, samples=True):
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    (tmp_path / "run.json").write_text(json.dumps(RUN))
    (tmp_path / "fetched.json").write_text(json.dumps(FETCHED))
    spend, points = [], []
    for minute in range(0, 91, 10):
        at = f"2026-12-06T{10 + minute // 60:02d}:{minute % 60:02d}:00+00:00"
        workers = {"m5.12xlarge": min(3, minute // 20), "r5.24xlarge": 1 if 40 <= minute <= 70 else 0}
        spend.append({"at": at, "total": round(minute * 0.05, 2), "rate": 3.0, "nodes": workers})
        points.append({"at": at, "nodes": None, "addresses": None,
                       "jobs": {"issued": minute, "done": max(0, minute - 5), "running": 5, "waiting": 0,
                                "failed": 0, "retried": 0}})  # fmt: skip
    (tmp_path / "spend.jsonl").write_text("".join(json.dumps(p) + "\n" for p in spend))
    if samples:
        (tmp_path / "samples.jsonl").write_text("".join(json.dumps(p) + "\n" for p in points))
    return tmp_path


def test_report_holds_the_plots_and_the_facts_and_loads_nothing(tmp_path, monkeypatch):
    written = r.write(str(_run_dir(tmp_path)), {"Toil (controller)": "9.4.1"})
    assert written["changed"] and written["plots"] == ["Spend", "Toil jobs", "Worker nodes by type"]
    page = (tmp_path / "report.html").read_text()
    assert page.count("<svg") == 3
    for fact in ("v3.2.1", "9.4.1", "1:30:00", "5690", "4dc4", "input simDog sha256", "$4.50",
                 "10 from the leader", "cactus-prepare-toil aws:us-west-2:demo-jobstore seqfile.txt"):
        assert fact in page, fact
    # nothing to fetch: no src/href/url() pointing anywhere, and a policy that lets the browser load nothing
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)|url\((?!#)|<link|<script|<img""", page)
    assert "default-src 'none'" in page
    # the same records give the same page: not rewritten, nor plotted again
    def no_plots(_series):
        raise AssertionError("plotted again")

    monkeypatch.setattr(r, "plots", no_plots)
    kept = r.write(str(tmp_path), {"Toil (controller)": "9.4.1"})
    assert not kept["changed"] and kept["plots"] == written["plots"]
    assert (tmp_path / "report.html").read_text() == page
    # a record that changes makes a new page
    (tmp_path / "fetched.json").write_text(json.dumps({"sha256": "0" * 64}))
    monkeypatch.undo()
    assert r.write(str(tmp_path), {"Toil (controller)": "9.4.1"})["changed"]


def test_report_before_any_sample_and_without_matplotlib(tmp_path, monkeypatch):
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    page = r.render(r.load(str(tmp_path)), {}, r.plots(r.series(r.load(str(tmp_path)))))
    assert page.count("nothing recorded yet") == 3 and "state</th><td>not started" in page
    assert "matplotlib is not installed (run scripts/setup.sh)" in r.render(r.load(str(tmp_path)), {}, None)


def test_nodes_from_the_sampler_when_it_saw_them_else_from_ec2_looks():
    records = {"samples": [{"at": "2026-12-06T10:05:00+00:00", "nodes": {"c5.4xlarge": 2}, "jobs": {}}],
               "spend": [{"at": "2026-12-06T10:00:00+00:00", "total": 0,
                          "nodes": {"c5.4xlarge": 1}}]}  # fmt: skip
    data = r.series(records)
    assert [n for _, n in data["nodes"]["c5.4xlarge"]] == [1, 2] and data["jobs"] == {}


class _Listener:
    """A proxy that answers nothing and keeps each request's first line: Chromium sends every request here."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port, self.requests, self.stop = self.socket.getsockname()[1], [], False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stop:
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            connection.settimeout(2)
            try:
                self.requests.append(connection.recv(4096).split(b"\r\n")[0].decode(errors="replace"))
            except OSError:
                self.requests.append("?")
            connection.close()

    def close(self):
        self.stop = True
        self.thread.join()
        self.socket.close()


def test_report_renders_in_headless_chromium(tmp_path):
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: tests/setup-host.sh (run by ./test.sh) installs it"
    from PIL import Image

    (tmp_path / "run").mkdir()
    run_dir = _run_dir(tmp_path / "run")
    r.write(str(run_dir), {"Toil (controller)": "9.4.1"})
    shot, listener = tmp_path / "report.png", _Listener()
    print(f"screenshot: {shot}")
    try:
        done = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--user-data-dir={tmp_path / 'profile'}", "--no-first-run", "--no-default-browser-check",
             # nothing in the background may reach for the network: updates, sync, metrics, suggestions
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--disable-domain-reliability", "--disable-breakpad",
             "--metrics-recording-only", "--no-pings", "--safebrowsing-disable-auto-update",
             "--disable-features=MediaRouter,OptimizationHints,Translate,NetworkTimeServiceQuerying",
             f"--proxy-server=127.0.0.1:{listener.port}", "--proxy-bypass-list=<-loopback>",
             "--window-size=1100,1800", "--hide-scrollbars", f"--screenshot={shot}",
             (run_dir / "report.html").as_uri()],
            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    finally:
        listener.close()
    assert done.returncode == 0 and shot.exists(), done.stderr[-3000:]
    # The page asks for nothing. Chromium 156 itself still asks its component updater for an on-demand
    # component (and its time service) whatever the flags: those requests end here, never on the network.
    own = ("update.googleapis.com", "clients2.google.com")
    theirs = [line for line in listener.requests if not any(f" {h}" in line or f"//{h}" in line for h in own)]
    assert not theirs, listener.requests
    image = Image.open(shot).convert("L")
    histogram = image.histogram()
    dark = sum(histogram[:200]) / (image.width * image.height)
    assert image.size == (1100, 1800) and 0.01 < dark < 0.5, dark  # text and lines on a white page
    assert len([n for n in histogram if n]) > 20  # anti-aliased text and plots, not a flat colour
