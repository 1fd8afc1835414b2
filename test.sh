#!/usr/bin/env bash
# The test command: sets itself up when missing (venv, OS packages, the test appliance image),
# lints (ruff, yamllint, ansible-lint, syntax checks, ansible-test sanity of the collection) and runs
# pytest inside network namespaces that have only loopback.
#   ./test.sh                  everything (lint and tests in two parallel streams, see below)
#   ./test.sh tests/unit -k seqfile     pytest arguments (lint is skipped when any are given)
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$top"
scripts/setup.sh --test
tests/setup-host.sh
export PATH="$top/.venv/bin:$PATH"
# ansible-test's own virtualenvs for the sanity tests (the one set-up step it needs the network for).
[ -d ~/.ansible/test/venv/sanity.pylint ] || tests/sanity.sh --prime-venvs

if [ $# -gt 0 ]; then
    echo "== tests (isolated: loopback only)" >&2
    exec tests/isolated pytest "$@"
fi
# Everything, as two streams at once, each in a loopback-only namespace of its own (lint and tests
# both run isolated: ansible-lint's syntax checks load the inventory plugin):
#   1. the tests on the appliance cloud (one per namespace: its sshd has port 22);
#   2. lint, then the other tests (unit tests, host and Slurm beds).
# Much of each stream is waiting (launches, polls, ssh round trips), which the other stream's work
# fills. The appliance stream's output follows the other's.
echo "== lint, then the tests (isolated: loopback only; two streams)" >&2
log=$(mktemp)
CACTUS_TEST_STREAM=appliance tests/isolated pytest -p no:cacheprovider >"$log" 2>&1 &
appliance=$!
rest=0
tests/isolated bash -c 'set -e
    ruff check .
    yamllint -s .
    ansible-lint --offline --profile production -q
    ansible-playbook --syntax-check run_alignment.yml teardown.yml playbooks/*.yml
    tests/sanity.sh
    echo "== tests (all but those on the appliance cloud)" >&2
    CACTUS_TEST_STREAM=rest pytest' || rest=$?
status=0
wait "$appliance" || status=$?
echo "== tests on the appliance cloud" >&2
cat "$log"
rm -f "$log"
[ "$rest" -eq 0 ] && exit "$status"
exit "$rest"
