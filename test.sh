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
# Each stream's wall and CPU time (its own processes; not those inside the appliance containers, which
# podman runs outside the stream's process tree) are printed at the end: the suite is CPU-bound on 2
# cores, so the CPU figures say where time can be won.
export TIMEFORMAT="%R s wall, %U s user + %S s system CPU"
# One reference run for both cloud streams: the one that makes it leaves its HAL here for the other's
# scenarios to compare with (tests/integration/test_run_alignment.py).
export CACTUS_TEST_SHARED="$logs/shared"
# The unit tests are shared work, taken by whichever stream is free (tests/conftest.py): the pool's claims.
export CACTUS_TEST_POOL="$logs/pool"
mkdir "$CACTUS_TEST_SHARED" "$CACTUS_TEST_POOL"
for stream in cloud-1 cloud-2; do
    { time CACTUS_TEST_STREAM=$stream tests/isolated pytest -p no:cacheprovider >"$logs/$stream" 2>&1; } \
        2>"$logs/$stream.time" &
    pids+=($!)
done
# ansible-test's own virtualenvs for the sanity tests (a set-up step that needs the network, so not in
# the rest stream's namespace), made while the cloud streams start; lint waits for them.
rest=0
[ -d ~/.ansible/test/venv/sanity.pylint ] || tests/sanity.sh --prime-venvs || rest=$?
[ "$rest" -eq 0 ] || echo "== ansible-test's virtualenvs could not be made (exit $rest): no lint, no rest stream" >&2
# (fd 3: the commands' own stderr, kept apart from the `time` reports)
[ "$rest" -ne 0 ] || { time tests/isolated bash -c 'set -e
    { time {
        ruff check .
        yamllint -s .
        ansible-lint --offline --profile production -q
        ansible-playbook --syntax-check run_alignment.yml teardown.yml playbooks/*.yml
        tests/sanity.sh
    } 2>&3; } 2>"$0"
    echo "== tests (all but those on the appliance cloud)" >&2
    CACTUS_TEST_STREAM=rest pytest' "$logs/lint.time" 2>&3 || rest=$?; } 3>&2 2>"$logs/rest.time"
status=0
for i in 0 1; do
    stream=cloud-$((i + 1))
    code=0
    wait "${pids[$i]}" || code=$?
    echo "== tests on the appliance cloud, stream $stream (exit $code)" >&2
    cat "$logs/$stream"
    [ "$code" -eq 0 ] || status=$code
done
echo "== times: lint $(cat "$logs/lint.time" 2>/dev/null); rest stream (lint and tests)" \
    "$(cat "$logs/rest.time"); cloud-1 $(cat "$logs/cloud-1.time"); cloud-2 $(cat "$logs/cloud-2.time")" >&2
[ "$rest" -eq 0 ] && exit "$status"
exit "$rest"
