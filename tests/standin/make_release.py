#!/usr/bin/env python3
"""Build a release of the Cactus TEST STAND-IN (tests/standin/cactus) both ways Cactus is installed.

  (a) the release tarball   <out>/cactus-bin-vX.Y.Z.tar.gz   (top directory cactus-bin-vX.Y.Z/)
  (b) a git repository      <out>/cactus                     (source committed, annotated tag vX.Y.Z)
      cloneable with:        git clone --branch vX.Y.Z file://<out>/cactus

Output is deterministic: fixed file order, times and owners in the tarball, fixed author dates in git.

    python tests/standin/make_release.py OUT_DIR [--version v3.2.1]
"""

import argparse
import gzip
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "cactus"
SOURCE_VERSION = "3.2.1"  # the version written in the source tree
EPOCH = 1735689600  # 2025-01-01T00:00:00Z: fixed time stamp for tar entries and git commits
SKIP_NAMES = {"__pycache__", "build", "dist"}  # left behind by local builds, never released
SKIP_SUFFIXES = (".egg-info", ".pyc")


@dataclass
class Release:
    version: str  # "v3.2.1"
    tarball: Path
    git_dir: Path

    @property
    def git_url(self) -> str:
        return self.git_dir.as_uri()


def _skipped(name: str) -> bool:
    return name in SKIP_NAMES or name.endswith(SKIP_SUFFIXES)


def stage_source(dest: Path, version: str) -> Path:
    """Copy the stand-in source to dest with its version set to `version` (vX.Y.Z or X.Y.Z)."""
    bare = version.removeprefix("v")
    if not re.fullmatch(r"\d+\.\d+\.\d+", bare):
        raise ValueError(f"version must look like v3.2.1, not {version!r}")
    shutil.copytree(SOURCE, dest, ignore=lambda _dir, names: [n for n in names if _skipped(n)])
    stamps = {
        "pyproject.toml": ('version = "{}"', 1),
        "src/cactus_standin/__init__.py": ('__version__ = "{}"', 1),
        "README.md": ("# cactus {} (TEST STAND-IN)", 1),
    }
    for rel, (pattern, count) in stamps.items():
        path = dest / rel
        text = path.read_text()
        old, new = pattern.format(SOURCE_VERSION), pattern.format(bare)
        if text.count(old) != count:
            raise RuntimeError(f"{path}: expected {old!r} once")
        path.write_text(text.replace(old, new))
    return dest


def _tar_filter(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = 0o755 if info.isdir() or info.mode & 0o100 else 0o644
    return info


def build_tarball(staged: Path, out_dir: Path, version: str) -> Path:
    top = f"cactus-bin-{version}"
    tarball = out_dir / f"{top}.tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(staged, arcname=top, recursive=False, filter=_tar_filter)
        for path in sorted(staged.rglob("*")):  # sorted: same bytes on every build
            tar.add(path, arcname=f"{top}/{path.relative_to(staged)}", recursive=False, filter=_tar_filter)
    with open(tarball, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buffer.getvalue())
    return tarball


def _git_env() -> dict:
    stamp = f"{EPOCH} +0000"
    return dict(
        os.environ,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,  # no user hooks, signing or templates from the caller's config
        GIT_AUTHOR_NAME="Cactus test stand-in",
        GIT_AUTHOR_EMAIL="standin@example.invalid",
        GIT_COMMITTER_NAME="Cactus test stand-in",
        GIT_COMMITTER_EMAIL="standin@example.invalid",
        GIT_AUTHOR_DATE=stamp,
        GIT_COMMITTER_DATE=stamp,
    )


def build_git_repo(staged: Path, git_dir: Path, version: str) -> Path:
    shutil.copytree(staged, git_dir)
    env = _git_env()

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=git_dir, env=env, check=True, capture_output=True, timeout=60)

    git("init", "-q", "-b", "master")
    git("add", "-A")
    git("commit", "-q", "-m", f"cactus {version} (test stand-in)")
    git("tag", "-a", version, "-m", f"cactus {version} (test stand-in)")
    return git_dir


def build_release(out_dir, version: str = "v3.2.1") -> Release:
    """Build the tarball and the git repository into out_dir (created; must not hold them already)."""
    version = "v" + version.removeprefix("v")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        staged = stage_source(Path(tmp) / "src", version)
        tarball = build_tarball(staged, out_dir, version)
        git_dir = build_git_repo(staged, out_dir / "cactus", version)
    return Release(version, tarball, git_dir)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out_dir", help="directory to build into")
    parser.add_argument("--version", default="v3.2.1", help="release version (default: %(default)s)")
    args = parser.parse_args()
    release = build_release(args.out_dir, args.version)
    print(f"tarball: {release.tarball}")
    print(f"git:     git clone --branch {release.version} {release.git_url}")


if __name__ == "__main__":
    main()
