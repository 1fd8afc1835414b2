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
# Everything, as three streams at once, each in a loopback-only namespace of its own (lint and
# tests both run isolated: ansible-lint's syntax checks load the inventory plugin):
#   cloud-1, cloud-2: the tests on the appliance cloud, split in two (one cloud per namespace: its
#                     sshd has port 22; see tests/conftest.py);
#   rest:             lint, then the other tests (unit tests, host and Slurm beds).
# Much of each stream is waiting (launches, polls, ssh round trips), which the others' work fills.
# The cloud streams' output follows the rest's.
echo "== lint, then the tests (isolated: loopback only; three streams)" >&2
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pids=()
for stream in cloud-1 cloud-2; do
    CACTUS_TEST_STREAM=$stream tests/isolated pytest -p no:cacheprovider >"$logs/$stream" 2>&1 &
    pids+=($!)
done
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
for i in 0 1; do
    stream=cloud-$((i + 1))
    code=0
    wait "${pids[$i]}" || code=$?
    echo "== tests on the appliance cloud, stream $stream (exit $code)" >&2
    cat "$logs/$stream"
    [ "$code" -eq 0 ] || status=$code
done
[ "$rest" -eq 0 ] && exit "$status"
exit "$rest"
