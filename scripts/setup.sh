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
stamp=.venv/.installed-$(basename "$reqs" .txt)
want=$(cat requirements.txt "$reqs" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing $reqs into .venv ..." >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r "$reqs"
    echo "$want" > "$stamp"
fi
