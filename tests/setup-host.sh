#!/usr/bin/env bash
# Prepare this machine for the test bed; safe to re-run (each step is skipped when already done).
#  1. Debian packages the local test cloud needs (sshd, rsync, podman, runc, debootstrap, ...), and
#     Slurm (slurm-wlm: slurmctld, slurmd, clients) with munge for the Slurm bed (tests/cloud/slurmbed.py),
#     installed without starting any service: the bed starts its own daemons; and chromium, which renders
#     report.html headless in tests/unit/test_cactus_report.py.
#  2. The test appliance image, cached in $CACTUS_TEST_CACHE (default ~/.cache/cactus-aws-tests):
#     a Debian rootfs standing in for Toil's appliance (Python 3, git, rsync, and the controller's
#     Toil in the system site-packages, as quay.io/ucsc_cgl/toil has), plus an offline apt repository
#     (tmux) and a wheelhouse (pip, setuptools, wheel) so provisioning runs with no network.
#  3. Beside the image, host-wheels/: wheels for a venv of this machine's /usr/bin/python3 (host mode,
#     where Cactus runs on a plain ssh host as `core`): Toil at the pinned version with all its
#     dependencies, plus pip, setuptools and wheel; built by that interpreter's own pip and checked by
#     an offline install into a throwaway venv.
# This is the only test step that downloads (Debian archive, PyPI); the tests themselves run isolated.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${CACTUS_TEST_CACHE:-$HOME/.cache/cactus-aws-tests}
packages=(openssh-server openssh-client rsync podman runc debootstrap iproute2 apt-utils sudo procps tmux
    python3-venv slurm-wlm munge util-linux chromium)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup-host: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # No service starts at install (munged, slurmd...): policy-rc.d says no while apt runs.
    made_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
    fi
    status=0
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
    if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
    [ "$status" -eq 0 ] || exit "$status"
fi

toil_req=$(grep -E '^toil\[aws\]==' "$top/requirements.txt" | cut -d' ' -f1)
key=$( (echo "$toil_req"; cat "$0") | sha256sum | cut -c1-16)
image_dir=$cache/appliance-$key
if [ -f "$image_dir/rootfs.tar" ] && [ -d "$image_dir/host-wheels" ]; then
    exit 0
fi

echo "setup-host: building the test appliance image (once; ~1-2 min) in $image_dir" >&2
work=$(mktemp -d "$cache.build.XXXXXX" 2>/dev/null || { mkdir -p "$cache"; mktemp -d "$cache/build.XXXXXX"; })
trap 'umount "$work/rootfs/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
rootfs=$work/rootfs
debootstrap --variant=minbase \
    --include=python3,python3-pip,python3-venv,virtualenv,git,rsync,openssh-client,procps,ca-certificates \
    bookworm "$rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; exit 1; }

# Toil: the same version as the controller, from wheels the host's pip downloads.
"$top/.venv/bin/python" -m pip download --quiet -d "$work/toil-wheels" "$toil_req"
cp -r "$work/toil-wheels" "$rootfs/tmp/toil-wheels"
chroot "$rootfs" python3 -m pip install --quiet --break-system-packages --no-index \
    --find-links /tmp/toil-wheels "$toil_req"
rm -rf "$rootfs/tmp/toil-wheels"

# Offline apt repository: what provisioning installs that the real appliance lacks (tmux), and
# python3-apt, which Ansible's apt module installs on first use.
rm -f "$rootfs"/var/cache/apt/archives/*.deb
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
mount --bind /proc "$rootfs/proc"
chroot "$rootfs" apt-get install -y -qq --download-only --no-install-recommends tmux python3-apt >/dev/null
umount "$rootfs/proc"
mkdir -p "$work/apt-repo"
mv "$rootfs"/var/cache/apt/archives/*.deb "$work/apt-repo/"
(cd "$work/apt-repo" && apt-ftparchive packages . > Packages)
echo "deb [trusted=yes] file:/srv/test-apt ./" > "$rootfs/etc/apt/sources.list"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs/etc/resolv.conf"

# Wheelhouse for offline virtualenv set-up on the leader (pip install -U pip setuptools wheel).
"$top/.venv/bin/python" -m pip download --quiet -d "$work/wheels" pip setuptools wheel

# Host-mode wheelhouse, made by the test host's own interpreter (its tags and markers, whatever the
# controller's Python is); `pip wheel` also builds any sdist into a wheel, so installs need no build
# backend. Checked the way a host-mode run uses it: a fresh venv, pip upgraded, Toil installed, all
# with --no-index.
host_python=/usr/bin/python3
"$host_python" -m venv "$work/host-venv"
"$work/host-venv/bin/python" -m pip wheel --quiet --disable-pip-version-check -w "$work/host-wheels" \
    "$toil_req" pip setuptools wheel
"$host_python" -m venv "$work/host-check"
"$work/host-check/bin/python" -m pip install --quiet --disable-pip-version-check --no-index \
    --find-links "$work/host-wheels" --upgrade pip setuptools wheel
"$work/host-check/bin/python" -m pip install --quiet --disable-pip-version-check --no-index \
    --find-links "$work/host-wheels" "$toil_req"
[ "$("$work/host-check/bin/toil" --version)" = "${toil_req#*==}" ] ||
    { echo "setup-host: the host wheelhouse does not give $toil_req" >&2; exit 1; }
chmod -R a+rX "$work/host-wheels"

tar -C "$rootfs" -cf "$work/rootfs.tar" .
rm -rf "$cache"/appliance-*  # older images: another Toil version or build recipe
mkdir -p "$image_dir"
# rootfs.tar last: the tests take an image directory holding it as complete.
mv "$work/apt-repo" "$work/wheels" "$work/host-wheels" "$work/rootfs.tar" "$image_dir/"
echo "setup-host: image ready ($(du -sh "$image_dir/rootfs.tar" | cut -f1);" \
    "host wheelhouse $(du -sh "$image_dir/host-wheels" | cut -f1))" >&2
