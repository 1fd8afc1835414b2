#!/usr/bin/env bash
# ansible-test sanity of the genomics.cactus collection as it ships: the tarball `ansible-galaxy
# collection build` makes, installed (--no-deps) into a temporary ansible_collections tree, the layout
# ansible-test needs, next to the amazon.aws collection its modules import.
#   tests/isolated tests/sanity.sh              the sanity tests that run offline (the lint phase of ./test.sh)
#   tests/sanity.sh --prime-venvs               set-up, with network: the tests' own virtualenvs
# ansible-test installs each test's requirements into ~/.ansible/test/venv, bootstrapping pip with a
# get-pip download from a host out of reach here: a bootstrap of our own (ensurepip) takes its place.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$top/.venv/bin:$PATH"
python=$top/.venv/bin/python
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

bootstrap=~/.ansible/test/cache/get_pip_24_2.py
if [ ! -s "$bootstrap" ]; then
    mkdir -p "$(dirname "$bootstrap")"
    cat > "$bootstrap" <<'PY'
# Stand-in for ansible-test's get-pip bootstrap: pip from the interpreter's own ensurepip, then the
# requested packages (get-pip's own --no-setuptools/--no-wheel flags dropped).
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", *args])
PY
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"  # away from the repository's ansible.cfg, whose collections path already holds genomics.cactus
ansible-galaxy collection build --output-path "$tmp" "$top" >/dev/null
ansible-galaxy collection install --no-deps -p "$tmp" "$tmp"/genomics-cactus-*.tar.gz >/dev/null 2>&1
site=$("$python" -c 'import ansible_collections.amazon, os; print(os.path.dirname(list(ansible_collections.amazon.__path__)[0]))')
ln -s "$site/amazon" "$tmp/ansible_collections/amazon"
cd "$tmp/ansible_collections/genomics/cactus"
# shellcheck is not installed here; the shell scripts are checked by their own tests.
exec ansible-test sanity --python "$version" --skip-test shellcheck "$@"
