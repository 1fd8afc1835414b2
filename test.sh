#!/usr/bin/env bash
# The test command: sets itself up when missing (venv, OS packages, the test appliance image),
# lints (ruff, yamllint, ansible-lint, syntax checks, ansible-test sanity of the collection), then runs
# pytest inside a network namespace that has only loopback.
#   ./test.sh                  everything
#   ./test.sh tests/unit -k seqfile     pytest arguments (lint is skipped when any are given)
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$top"
scripts/setup.sh --test
tests/setup-host.sh
export PATH="$top/.venv/bin:$PATH"
# ansible-test's own virtualenvs for the sanity tests (the one set-up step it needs the network for).
[ -d ~/.ansible/test/venv/sanity.pylint ] || tests/sanity.sh --prime-venvs

# Lint and tests both run isolated: ansible-lint's syntax checks load the inventory plugin.
if [ $# -eq 0 ]; then
    echo "== lint (isolated: loopback only)" >&2
    tests/isolated bash -c 'set -e
        ruff check .
        yamllint -s .
        ansible-lint --offline --profile production -q
        ansible-playbook --syntax-check run_alignment.yml teardown.yml playbooks/*.yml
        tests/sanity.sh'
fi
echo "== tests (isolated: loopback only)" >&2
exec tests/isolated pytest "$@"
