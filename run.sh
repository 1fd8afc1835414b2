#!/usr/bin/env bash
# The main job: set up .venv when missing, then run the whole alignment (or any tags you pass).
#   ./run.sh                       same as: ansible-playbook run_alignment.yml
#   ./run.sh --tags status         any ansible-playbook option
#   ./run.sh playbooks/teardown.yml -e ...    another playbook
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$top"
scripts/setup.sh
export PATH="$top/.venv/bin:$PATH"
playbook=run_alignment.yml
case "${1:-}" in *.yml|*.yaml) playbook=$1; shift ;; esac
exec .venv/bin/ansible-playbook "$playbook" "$@"
