#!/usr/bin/env bash
# Create or update the project's virtualenv (.venv) from the pinned requirements.
#   scripts/setup.sh          controller packages (requirements.txt)
#   scripts/setup.sh --test   plus test and lint tools (requirements-test.txt)
# Re-running is cheap: it installs only when a requirements file changed since the last install.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
reqs=requirements.txt
[ "${1:-}" = "--test" ] && reqs=requirements-test.txt

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "setup: Python >= 3.11 is required (found: $("$python" --version 2>&1)). Set PYTHON=/path/to/python3.11+." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    if ! "$python" -m venv .venv; then
        echo "setup: '$python -m venv' failed; on Debian/Ubuntu: apt-get install python3-venv" >&2
        exit 1
    fi
fi
# One stamp per requirements file: the hash of what it installed. requirements-test.txt includes
# requirements.txt, so its current stamp also covers the controller's (./run.sh after ./test.sh
# installs nothing and needs no network).
stamp_of() { echo ".venv/.installed-$(basename "$1" .txt)"; }
hash_of() { cat requirements.txt "$1" | sha256sum | cut -d' ' -f1; }
installed() { [ "$(cat "$(stamp_of "$1")" 2>/dev/null)" = "$(hash_of "$1")" ]; }
if ! installed "$reqs" && ! { [ "$reqs" = requirements.txt ] && installed requirements-test.txt; }; then
    echo "setup: installing $reqs into .venv ..." >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet --no-compile -r "$reqs"
    # Bytecode, compiled here: the tests' processes do not write it for what they import (Toil, boto3),
    # so without it every toil command and AWS module compiled them again (a CI run took ~600 CPU-s
    # more). Not for the collections the `ansible` package bundles and nothing here uses (15,000 of its
    # files; Python compiles one if it is ever imported): that halves the compile. On all cores. As with
    # pip's own compile, a file that is not Python 3 (examples some packages ship) is skipped.
    .venv/bin/python -m compileall -q -j 0 -x 'ansible_collections/(?!amazon/|ansible/posix/)' \
        .venv/lib/python3*/site-packages >/dev/null || true
    hash_of "$reqs" > "$(stamp_of "$reqs")"
fi
