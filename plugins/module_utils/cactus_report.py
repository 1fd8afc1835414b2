"""The run report, runs/<run>/report.html: one self-contained page (plots inlined as SVG, no external
resource) made from the run directory's records: plan.json, run.json, samples.jsonl (the leader's
sampler), spend.jsonl (the controller's looks) and fetched.json. Plots of worker nodes by type, Toil's
jobs and the spend over time (matplotlib), then the run's facts: plan, command, versions, timings,
checksums. Used by the action plugin genomics.cactus.cactus_report (fetch writes it, status refreshes it)."""

from __future__ import annotations

import datetime
import hashlib
import html
import importlib.util
import io
import json
import logging
import os

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_sampler import read_samples

# The browser may load nothing but what the page holds (the plots are inline SVG, the style inline).
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.5em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; } td, th { padding: 0.2em 0.8em 0.2em 0; text-align: left;
vertical-align: top; } th { color: #555; font-weight: normal; white-space: nowrap; }
pre { background: #f4f4f4; padding: 0.6em; white-space: pre-wrap; word-break: break-all; }
.plot svg { width: 100%; height: auto; } .none { color: #777; font-style: italic; }
"""


def _read(run_dir: str, name: str):
    path = os.path.join(run_dir, name)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    if name.endswith(".jsonl"):
        return read_samples(text)
    try:
        return json.loads(text)
    except ValueError:
        return None


def load(run_dir: str) -> dict:
    """The records a report is made from ({} / [] for those not written yet)."""
    return {"plan": _read(run_dir, "plan.json") or {}, "run": _read(run_dir, "run.json") or {},
            "samples": _read(run_dir, "samples.jsonl") or [], "spend": _read(run_dir, "spend.jsonl") or [],
            "fetched": _read(run_dir, "fetched.json") or {}}  # fmt: skip


def _time(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def series(records: dict) -> dict:
    """The plots' data: {nodes: {type: [(time, count)]}, jobs: {name: [(time, n)]}, spend: [(time, total)]}.
    Nodes come from the leader's samples when it could see them, else from the controller's looks at EC2."""
    node_points = [(p["at"], p["nodes"]) for p in records["samples"] if p.get("nodes") is not None]
    node_points += [(p["at"], p.get("nodes") or {}) for p in records["spend"] if "nodes" in p]
    node_points.sort(key=lambda point: _time(point[0]))
    kinds = sorted({kind for _, nodes in node_points for kind in nodes})
    nodes = {kind: [(_time(at), counts.get(kind, 0)) for at, counts in node_points] for kind in kinds}
    jobs: dict[str, list] = {}
    for point in records["samples"]:
        for name in ("issued", "done", "running", "failed"):
            if name in (point.get("jobs") or {}):
                jobs.setdefault(name, []).append((_time(point["at"]), point["jobs"][name]))
    spend = sorted((_time(p["at"]), p["total"]) for p in records["spend"] if "total" in p)
    return {"nodes": nodes, "jobs": jobs, "spend": spend}


def _svg(draw) -> str:
    """One figure drawn by draw(axes) as inline SVG text (text as paths: no font to load)."""
    # "Matplotlib is building the font cache" (a first run) is no news for the person reading the run.
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    matplotlib.rcParams["svg.hashsalt"] = "cactus-report"  # the same data gives the same bytes
    figure = Figure(figsize=(8, 2.8))
    axes = figure.add_subplot()
    draw(axes)
    axes.grid(alpha=0.3)
    axes.set_xlabel("UTC")
    figure.autofmt_xdate()
    figure.tight_layout()
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg"):]


def plots(data: dict) -> dict:
    """{title: inline SVG, or None when there is nothing to plot yet}; ImportError without matplotlib."""

    def steps(axes, lines, ylabel):
        for name, points in lines.items():
            axes.step([t for t, _ in points], [v for _, v in points], where="post", label=name)
        axes.set_ylabel(ylabel)
        axes.yaxis.get_major_locator().set_params(integer=True)  # whole nodes and jobs
        axes.legend(loc="upper left", fontsize="small")

    out = {}
    nodes = data["nodes"]
    out["Worker nodes by type"] = _svg(lambda ax: steps(ax, nodes, "nodes")) if nodes else None
    out["Toil jobs"] = _svg(lambda ax: steps(ax, data["jobs"], "jobs")) if data["jobs"] else None

    def spend(axes):
        axes.plot([t for t, _ in data["spend"]], [v for _, v in data["spend"]], marker=".", color="tab:green")
        axes.set_ylabel("USD spent")

    out["Spend"] = _svg(spend) if data["spend"] else None
    return out


def facts(records: dict, versions: dict) -> list[tuple[str, str]]:
    """(name, value) rows of what the run was: plan, command, versions, timings, checksums."""
    plan, run, fetched = records["plan"], records["run"], records["fetched"]
    rows = [("run", run.get("run") or plan.get("cluster_name") or ""),
            ("state", run.get("state", "not started"))]
    if run.get("started_at"):
        rows.append(("started", run["started_at"]))
    if run.get("ended_at"):
        rows.append(("ended", run["ended_at"]))
        if run.get("started_at"):
            took = _time(run["ended_at"]) - _time(run["started_at"])
            rows.append(("took", str(took)))
    if run.get("attempt"):
        rows.append(("attempt", str(run["attempt"])))
    if run.get("jobstore") or plan.get("jobstore"):
        rows.append(("job store", run.get("jobstore") or plan.get("jobstore")))
    versions = {"Cactus": plan.get("cactus_version"), **versions}
    rows.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items() if v)))
    if fetched:
        rows.append(("output", f"{fetched.get('output', '')} ({fetched.get('size', '?')} bytes)"))
        rows.append(("output sha256", fetched.get("sha256", "")))
        if fetched.get("etag"):
            rows.append(("output ETag", f"{fetched['etag']} ({fetched.get('source', '')})"))
    for name, genome in sorted(((run.get("inputs") or {}).get("genomes") or {}).items()):
        rows.append((f"input {name} sha256", genome.get("sha256", "")))
    if records["spend"]:
        last = records["spend"][-1]
        rate = f"${last.get('rate', 0):.2f}/hour then"
        rows.append(("spent", f"${last.get('total', 0):.2f} at {last['at']} ({rate})"))
    if records["samples"]:
        last = records["samples"][-1]["at"]
        rows.append(("samples", f"{len(records['samples'])} from the leader's sampler, the last at {last}"))
    return rows


def render(records: dict, versions: dict, plotted: dict | None) -> str:
    """The page; plotted None: matplotlib is missing (said on the page, with the fix)."""
    e = html.escape
    plan, run = records["plan"], records["run"]
    name = run.get("run") or plan.get("cluster_name") or "run"
    parts = [f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
             f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
             f"<title>Cactus run {e(name)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>Cactus run {e(name)}</h1>"]  # fmt: skip
    if plotted is None:
        parts.append('<p class="none">No plots: matplotlib is not installed (run scripts/setup.sh).</p>')
    else:
        for title, svg in plotted.items():
            parts.append(f"<h2>{e(title)}</h2>")
            empty = '<p class="none">nothing recorded yet</p>'
            parts.append(f'<div class="plot">{svg}</div>' if svg else empty)
    parts.append("<h2>Facts</h2><table>")
    parts += [f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in facts(records, versions)]
    parts.append("</table>")
    if plan.get("summary"):
        parts.append(f"<h2>Plan</h2><pre>{e(plan['summary'])}</pre>")
    argv = run.get("argv") or plan.get("cactus_argv")
    if argv:
        parts.append(f"<h2>Command</h2><pre>{e(' '.join(str(a) for a in argv))}</pre>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _fingerprint(records: dict, versions: dict) -> str:
    """What the page is made from (it depends on nothing else): the same fingerprint, the same page."""
    made_from = [records, versions, importlib.util.find_spec("matplotlib") is not None]
    return hashlib.sha256(json.dumps(made_from, sort_keys=True, default=str).encode()).hexdigest()


def write(run_dir: str, versions: dict) -> dict:
    """Write run_dir/report.html when its content changed; {path, changed, plots}. The page carries the
    fingerprint of its records: when they are the ones of the page there, nothing is plotted again
    (plotting is most of a re-run's report time)."""
    records = load(run_dir)
    path = os.path.join(run_dir, "report.html")
    stamp = f'<meta name="cactus-report-inputs" content="{_fingerprint(records, versions)}">'
    try:
        with open(path, encoding="utf-8") as f:
            old = f.read()
    except OSError:
        old = None
    if old is not None and stamp in old:
        return {"path": path, "changed": False, "plots": _plots_in(old)}
    try:
        plotted = plots(series(records))
    except ImportError:
        plotted = None
    page = render(records, versions, plotted).replace("<head>", "<head>" + stamp, 1)
    same = old == page
    if not same:
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(path + ".tmp", path)
    return {"path": path, "changed": not same, "plots": sorted(k for k, v in (plotted or {}).items() if v)}


def _plots_in(page: str) -> list[str]:
    """The titles of the plots a page holds (what write() reports for a page it keeps)."""
    titles = []
    for part in page.split("<h2>")[1:]:
        title, _, rest = part.partition("</h2>")
        if rest.lstrip().startswith('<div class="plot">'):
            titles.append(html.unescape(title))
    return sorted(titles)
