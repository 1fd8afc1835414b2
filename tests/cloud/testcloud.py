"""A local test cloud: emulated AWS (moto), a Toil leader host reached over real SSH, and its
`toil_leader` appliance container (podman standing in for docker). Loopback only.

Recipe: ../shared/reference/test-cloud.md. Layout of one cloud, all under `workdir`:

  moto server        127.0.0.1:<port>, instances get public IPs 127.0.1.x and private IPs 127.0.128.x
  leader host        sshd on port 22 of every loopback address (the namespace has only `lo`), user
                     `core`, in a private mount namespace where /usr/bin/docker runs podman as root,
                     /home/core is workdir/leader/home-core (fresh per cloud) and /run is
                     workdir/leader/run
  appliance          container `toil_leader` (image: tests/setup-host.sh), with /opt, /var/lib/toil,
                     /tmp, /var/tmp and /etc/kubernetes mounted from workdir/leader/, so it can be
                     re-created; AWS credentials come from moto's metadata endpoint (an IAM role)
  ssh client         `ssh` wrapper first on PATH (-F workdir/ssh_config), private ssh-agent, test key

TestCloud(workdir, appliance=False) is the bed for "host mode" (Cactus on a plain ssh host): the
same moto, agent and sshd as `core`, but no podman appliance, no docker/dockerd stand-ins, and sshd
on a free port (ssh_config and the inventory carry it) instead of 22, so it can run beside a session's
appliance cloud in the same network namespace. write_host_inventory() gives Ansible that host,
host_wheelhouse() the offline wheels for its venv, moto_request_count() proves no AWS call was made.

Everything is started by start() and stopped by stop(); nothing is left running.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import yaml

TOP = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("CACTUS_TEST_CACHE", Path.home() / ".cache" / "cactus-aws-tests"))

REGION = "us-west-2"
ZONE = "us-west-2a"
AMI = "ami-1e749f67"  # an image built into moto
KEY_PAIR = "cactus-test-key"
# A distinctive fake secret: tests grep logs, run records and the leader for it.
FAKE_ACCESS_KEY = "AKIATESTCLOUD0000001"
FAKE_SECRET_KEY = "fakeSecret+DoNotLeak/TestCloud0123456789abc"

CONTAINER = "toil_leader"
APPLIANCE_ID = "/run/toil_leader.id"  # on the leader host: the running appliance's container id
IMAGE = "localhost/cactus-test-appliance"
LEADER_USER = "core"
# The leader host's directories (under leader_root) the appliance mounts, and where, as Toil's systemd
# unit does; the first four are the machine's disks (empty on a relaunched leader).
LEADER_MOUNTS = {"opt": "/opt", "var-lib-toil": "/var/lib/toil", "tmp": "/tmp", "var-tmp": "/var/tmp",
                 "etc-kubernetes": "/etc/kubernetes"}
LEADER_DISKS = ("opt", "var-lib-toil", "tmp", "var-tmp")
# Where the host-mode wheelhouse appears on the leader host (its /run is workdir/leader/run).
HOST_WHEELHOUSE = "/run/host-wheels"
# One werkzeug access-log line per request moto answers: 127.0.0.1 - - [date] "POST / HTTP/1.1" 200 -
_MOTO_REQUEST_LINE = re.compile(r'\] "[A-Z]+ \S* ?HTTP/[0-9.]+" \d{3} ')


class CloudError(RuntimeError):
    pass


def assert_isolated() -> None:
    """Refuse to run outside a network namespace that has only `lo` (see tests/isolated)."""
    interfaces = sorted(name for _, name in socket.if_nameindex())
    if interfaces != ["lo"]:
        raise CloudError(
            f"the test cloud runs only in an isolated network namespace (found interfaces {interfaces}); "
            "run the tests through ./test.sh or tests/isolated"
        )


def find_image_dir() -> Path:
    images = sorted(glob.glob(str(CACHE / "appliance-*" / "rootfs.tar")), key=os.path.getmtime)
    if not images:
        raise CloudError(f"no test appliance image in {CACHE}: run tests/setup-host.sh first")
    return Path(images[-1]).parent


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    """Poll predicate() until it returns something truthy; bounded by timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise CloudError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def start_moto_server(port: int, log_path: Path, env=None) -> subprocess.Popen:
    """Start tests/cloud/moto_server.py on 127.0.0.1:port and wait until it answers (bounded).
    Stop it by closing its stdin or with SIGTERM."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("moto_server.py")), "--port", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )
    line = proc.stdout.readline()
    if not line.startswith("ready"):
        proc.kill()
        raise CloudError(f"moto server did not start: {line!r}; see {log_path}")
    wait_until(lambda: port_open("127.0.0.1", port), 20, "moto port")
    return proc


class TestCloud:
    __test__ = False  # not a pytest test class

    def __init__(self, workdir: Path, appliance: bool = True, ssh_port: int | None = None):
        """appliance=False: no `toil_leader` container (host mode). ssh_port: the leader host's sshd
        port; by default 22 (Toil hard-codes it) with the appliance, a free port without."""
        self.workdir = Path(workdir)
        self.with_appliance = appliance
        self.image_dir = find_image_dir()
        self.moto_port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.moto_port}"
        self.ssh_port = ssh_port if ssh_port is not None else 22 if appliance else free_port()
        while self.ssh_port == self.moto_port:
            self.ssh_port = free_port()
        self.bin = self.workdir / "bin"
        self.leader_root = self.workdir / "leader"
        # `core`'s home on the leader host, as seen from here (it is /home/core there).
        self.core_home = self.leader_root / "home-core"
        self.appliance_id_file = self.leader_root / "run" / Path(APPLIANCE_ID).name  # the leader's /run
        self.ssh_config = self.workdir / "ssh_config"
        self.agent_sock = self.workdir / "agent.sock"
        self.key_file = self.workdir / "id_rsa"
        self._procs: list[subprocess.Popen] = []
        self._moto: subprocess.Popen | None = None
        self._leader: subprocess.Popen | None = None
        self._agent_pid: int | None = None

    # ---- environment for every client (boto3, toil, ansible, ssh) ----
    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TOIL_"))}
        env.update(
            PATH=f"{self.bin}:{TOP / '.venv' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_ACCESS_KEY_ID=FAKE_ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=FAKE_SECRET_KEY,
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=str(self.workdir / "aws_config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.workdir / "aws_credentials"),
            TOIL_AWS_ZONE=ZONE,
            TOIL_AWS_AMI=AMI,
            SSH_AUTH_SOCK=str(self.agent_sock),
            HOME=str(self.workdir / "home"),
            ANSIBLE_CONFIG=str(TOP / "ansible.cfg"),
            ANSIBLE_LOCAL_TEMP=str(self.workdir / "home" / ".ansible" / "tmp"),
        )
        env.update(extra)
        return env

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=FAKE_ACCESS_KEY,
            aws_secret_access_key=FAKE_SECRET_KEY,
        )

    def run(self, argv, check=True, timeout=300, **kwargs) -> subprocess.CompletedProcess:
        """Run a command with the cloud's environment; output captured as text."""
        kwargs.setdefault("env", self.env())
        kwargs.setdefault("cwd", TOP)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
        if check and result.returncode != 0:
            raise CloudError(
                f"{argv} exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}"
                f"\n--- stderr\n{result.stderr[-4000:]}"
            )
        return result

    # ---- start / stop ----
    def start(self) -> TestCloud:
        assert_isolated()
        for d in (self.bin, self.workdir / "home" / ".ansible" / "tmp", self.workdir / "run"):
            d.mkdir(parents=True, exist_ok=True)
        (self.workdir / "aws_config").write_text("")
        (self.workdir / "aws_credentials").write_text("")
        try:
            self._start_moto()
            self._start_ssh_client_side()
            self._start_leader_host()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.with_appliance and self._leader and self._leader.poll() is None:
            self._in_leader_ns(["podman", "rm", "-f", "-t", "0", CONTAINER], check=False)
        for proc in [self._leader, self._moto, *self._procs]:
            if proc and proc.poll() is None:
                _kill_tree(proc.pid)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if self._agent_pid:
            _kill_tree(self._agent_pid)
            self._agent_pid = None
        self._leader = self._moto = None
        self._procs.clear()

    def __enter__(self) -> TestCloud:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start_moto(self) -> None:
        self._moto = start_moto_server(self.moto_port, self.workdir / "moto.log", env=self.env())

    def _start_ssh_client_side(self) -> None:
        """Test key, private agent holding it, EC2 key pair, and the ssh wrapper first on PATH."""
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "rsa", "-N", "", "-C", "cactus-test", "-f", str(self.key_file)],
            check=True,
        )
        out = subprocess.run(
            ["ssh-agent", "-s", "-a", str(self.agent_sock)], check=True, capture_output=True, text=True
        ).stdout
        self._agent_pid = int(out.split("SSH_AGENT_PID=")[1].split(";")[0])
        subprocess.run(["ssh-add", "-q", str(self.key_file)], check=True, env=self.env())
        public_key = self.key_file.with_suffix(".pub").read_text()
        self.client("ec2").import_key_pair(KeyName=KEY_PAIR, PublicKeyMaterial=public_key.encode())

        self.ssh_config.write_text(
            f"Host *\n"
            f"  IdentityAgent {self.agent_sock}\n"
            f"  IdentityFile none\n"
            f"  UserKnownHostsFile {self.workdir / 'known_hosts'}\n"
            f"  GlobalKnownHostsFile /dev/null\n"
            f"  UpdateHostKeys no\n"
            f"  ConnectTimeout 10\n"
            f"  Port {self.ssh_port}\n"
        )
        # OpenSSH reads ~/.ssh from the passwd entry, not $HOME: every client gets -F explicitly.
        _write_script(self.bin / "ssh", f'exec /usr/bin/ssh -F {self.ssh_config} "$@"\n')

    def _start_leader_host(self) -> None:
        _ensure_user(LEADER_USER)
        lr = self.leader_root
        for d in (*LEADER_MOUNTS, "run", "usr-bin", "sudoers.d", "podman"):
            (lr / d).mkdir(parents=True, exist_ok=True)
        os.chmod(lr / "tmp", 0o1777)
        os.chmod(lr / "var-tmp", 0o1777)
        # Toil's kubernetes launch reads this file from the appliance; the values are not checked.
        (lr / "etc-kubernetes" / "worker.ini").write_text(
            "[DEFAULT]\nJOIN_TOKEN=test.token\nJOIN_CERT_HASH=sha256:00\nJOIN_ENDPOINT=127.0.0.1:6443\n"
        )
        # sshd reads the keys as `core`, who cannot traverse the 0700 test directories: the file
        # lives in the directory that is the leader's /run (a bind mount checks only its own mode).
        os.chmod(lr / "run", 0o755)
        (lr / "run" / "authorized_keys").write_text(self.key_file.with_suffix(".pub").read_text())
        home = self._make_core_home()
        self.rotate_host_key(restart=False)
        (lr / "sshd_config").write_text(
            f"ListenAddress 0.0.0.0\nPort {self.ssh_port}\n"  # safe: only `lo` exists in this namespace
            f"HostKey {lr / 'ssh_host_ed25519_key'}\n"
            f"PidFile {lr / 'run' / 'sshd.pid'}\n"
            "AuthorizedKeysFile /run/authorized_keys\n"
            "UsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            f"AllowUsers {LEADER_USER}\nAllowTcpForwarding yes\nPermitUserEnvironment no\n"
            "Subsystem sftp internal-sftp\nLogLevel VERBOSE\nMaxStartups 100:30:200\nMaxSessions 50\n"
            # A plain host's tmux server socket (in /tmp/tmux-<uid> by default: shared by every cloud)
            # goes to this cloud's /run, so core's tmux of another cloud, with another home, is never used.
            # SLURM_CONF: where a Slurm bed of this cloud (tests/cloud/slurmbed.py) writes its config.
            + ("" if self.with_appliance else
               "SetEnv TMUX_TMPDIR=/run/tmux SLURM_CONF=/run/slurm/slurm.conf\n")
        )
        (lr / "run" / "tmux").mkdir(exist_ok=True)
        os.chmod(lr / "run" / "tmux", 0o1777)
        (lr / "sudoers.d" / "core").write_text(f"{LEADER_USER} ALL=(ALL) NOPASSWD: ALL\n")
        os.chmod(lr / "sudoers.d" / "core", 0o440)

        podman_env = self._podman_env()
        (lr / "podman" / "containers.conf").write_text(
            '[containers]\ndefault_ulimits = ["nofile=16384:16384", "nproc=32768:32768"]\n'
            '[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\nevents_logger = "file"\n'
        )
        # overlay (podman runs as root): a new appliance container in a fraction of a second, where vfs
        # copied the whole image for each one (several seconds per re-created leader).
        (lr / "podman" / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{lr / "podman" / "storage"}"\n'
            f'runroot = "{lr / "podman" / "runroot"}"\n'
        )
        env_args = " ".join(f"{k}={v}" for k, v in podman_env.items())
        # `docker` on the leader host: podman as root (the real leader's core user is in group docker).
        # `docker exec [-i] [-u root] toil_leader CMD...` on the running appliance, which every task on the
        # leader is (the toil_appliance connection adds -u root), goes to runc, podman's runtime, with the id
        # start_appliance keeps in APPLIANCE_ID: the same process in the same container without podman's
        # start-up, which costs about 0.2 CPU-s per exec (dockerd, a daemon, has no such cost). Anything
        # else (another user, other options), or a container not running, goes to podman.
        _write_script(lr / "usr-bin" / "docker", f"""runc="sudo -n runc --root /run/runc"
running() {{ $runc state "$1" 2>/dev/null | grep -q '"status": "running"'; }}
if [ "$1" = exec ] && [ -r {APPLIANCE_ID} ]; then
    set -- "${{@:2}}"
    interactive= user=
    if [ "$1" = -i ]; then interactive=1; set -- "${{@:2}}"; fi
    if [ "$1" = -u ]; then user=$2; set -- "${{@:3}}"; fi
    id=$(cat {APPLIANCE_ID})
    case $user in ""|root|0) as_root=1 ;; *) as_root= ;; esac
    if [ "$1" = {CONTAINER} ] && [ $# -gt 1 ] && [ -n "$as_root" ] && running "$id"; then
        # As docker and podman: status 127 for a missing command (runc's own is 255, which is ssh's).
        shim='command -v "$0" >/dev/null || {{ echo "Error: $0: executable file not found" >&2; exit 127; }}
exec "$0" "$@"'
        [ -n "$interactive" ] || exec </dev/null
        exec $runc exec ${{user:+--user 0:0}} "$id" /bin/sh -c "$shim" "${{@:2}}"
    fi
    set -- exec ${{interactive:+-i}} ${{user:+-u "$user"}} "$@"
fi
exec sudo -n /usr/bin/env {env_args} podman "$@"
""")
        docker = (
            f"mount -t overlay overlay -o lowerdir={lr / 'usr-bin'}:/usr/bin /usr/bin\n"
            "if [ -e /usr/local/bin/docker ]; then mount --bind /usr/bin/docker /usr/local/bin/docker; fi\n"
            # Toil waits for a process named dockerd on the leader.
            "(exec -a dockerd sleep infinity) &\n"
        )
        _write_script(
            lr / "init.sh",
            "set -eu\n"
            f"mount --bind {lr / 'run'} /run\nmkdir -p /run/sshd\n"
            f"mount --bind {self.core_home} {home}\n"
            f"{docker if self.with_appliance else ''}"
            f"mount --bind {lr / 'sudoers.d'} /etc/sudoers.d\n"
            f"exec /usr/sbin/sshd -D -e -f {lr / 'sshd_config'}\n",
        )
        if self.with_appliance:
            # The image is imported once per cloud (vfs storage under workdir).
            subprocess.run(
                ["podman", "import", "-q", str(self.image_dir / "rootfs.tar"), IMAGE],
                check=True,
                env={**os.environ, **podman_env},
                capture_output=True,
                timeout=300,
            )
        log = open(self.workdir / "sshd.log", "w")  # noqa: SIM115 - kept open for sshd's life
        self._leader = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "bash", str(lr / "init.sh")],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._sshd_up, 20, "sshd")
        if self._leader.poll() is not None:
            raise CloudError(f"leader host failed to start: {(self.workdir / 'sshd.log').read_text()}")
        if self.with_appliance:
            self.start_appliance()

    def _sshd_up(self) -> bool:
        """Our sshd is listening (its PidFile is written after it binds), or it has exited."""
        if self._leader.poll() is not None:
            return True
        return (self.leader_root / "run" / "sshd.pid").exists() and port_open("127.0.1.1", self.ssh_port)

    def _make_core_home(self) -> str:
        """A fresh home for `core` (from /etc/skel), bind-mounted over the real one on the leader
        host: nothing a run installs in ~ touches the machine's /home/core or another cloud's."""
        home = pwd.getpwnam(LEADER_USER).pw_dir
        if not os.path.isdir(home):
            raise CloudError(f"{LEADER_USER}'s home {home} is missing: the test home is mounted on it")
        shutil.copytree("/etc/skel", self.core_home, symlinks=True, dirs_exist_ok=True)
        subprocess.run(["chown", "-R", f"{LEADER_USER}:", str(self.core_home)], check=True)
        os.chmod(self.core_home, 0o755)
        return home

    def _podman_env(self) -> dict[str, str]:
        p = self.leader_root / "podman"
        (p / "tmp").mkdir(parents=True, exist_ok=True)
        return {
            "CONTAINERS_CONF": str(p / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(p / "storage.conf"),
            "XDG_RUNTIME_DIR": str(p / "xdg"),
            "TMPDIR": str(p / "tmp"),
        }

    def _in_leader_ns(self, argv, check=True, timeout=120, **kwargs) -> subprocess.CompletedProcess:
        """Run a command in the leader host's mount namespace (where runc keeps its state)."""
        if not self._leader or self._leader.poll() is not None:
            raise CloudError("the leader host is not running")
        # The namespace holder is sshd, the child that bash exec'ed into.
        argv = ["nsenter", f"--mount=/proc/{self._leader.pid}/ns/mnt", "--", *argv]
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **self._podman_env()},
            **kwargs,
        )
        if check and result.returncode != 0:
            raise CloudError(f"{argv} exited {result.returncode}: {result.stderr[-2000:]}")
        return result

    # ---- the appliance ----
    def start_appliance(self) -> None:
        """Start (or re-create) `toil_leader` the way Toil's systemd unit does: a fresh container
        from the image, with the host's /opt, /var/lib/toil, /tmp and /etc/kubernetes mounted."""
        if not self.with_appliance:
            raise CloudError("this test cloud was started without the appliance (appliance=False)")
        lr = self.leader_root
        guard_log = Path(os.environ.get("NETGUARD_LOG") or self.workdir / "netguard.log")
        guard_log.touch()
        # What a real leader gets from its IAM role through the instance metadata service: here
        # moto's metadata endpoint on loopback. No static key reaches the leader. The zone is set
        # because moto's metadata always says us-east-1a.
        leader_env = {
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"{self.endpoint}/",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "TOIL_AWS_ZONE": ZONE,
            "TMPDIR": "/var/tmp",
            "PYTHONPATH": "/srv/netguard",
            "NETGUARD_LOG": "/srv/netguard.log",
        }
        self.stop_appliance()
        started = self._in_leader_ns(
            [
                "podman", "run", "-d", "--name", CONTAINER, "--network", "host",
                *[arg for k, v in leader_env.items() for arg in ("-e", f"{k}={v}")],
                "-v", f"{TOP / 'tests' / 'netguard'}:/srv/netguard:ro",
                "-v", f"{guard_log}:/srv/netguard.log",
                *[arg for d, inside in LEADER_MOUNTS.items() for arg in ("-v", f"{lr / d}:{inside}")],
                "-v", f"{self.image_dir / 'apt-repo'}:/srv/test-apt:ro",
                "-v", f"{self.image_dir / 'wheels'}:/srv/test-wheels:ro",
                IMAGE, "sleep", "infinity",
            ]
        )  # fmt: skip
        self.appliance_id_file.write_text(started.stdout.strip())

    def recreate_appliance(self) -> None:
        """What a leader reboot or `systemctl restart toil-leader` does: everything outside the
        mounted paths (apt packages, /root) is lost."""
        self.start_appliance()

    def new_leader_machine(self) -> None:
        """What a relaunched leader is: a new machine, so empty mounted disks and a fresh appliance."""
        self.stop_appliance()
        for d in LEADER_DISKS:
            for child in (self.leader_root / d).iterdir():
                subprocess.run(["rm", "-rf", str(child)], check=True)
        self.start_appliance()

    def stop_appliance(self) -> None:
        self.appliance_id_file.unlink(missing_ok=True)
        self._in_leader_ns(["podman", "rm", "-f", "-t", "0", CONTAINER], check=False)

    def leader_path(self, path: str) -> Path:
        """Where a path on one of the appliance's mounted disks lies on this machine: a polling wait reads
        it here, where a look through `podman exec` costs a process tree each time."""
        for outside, inside in LEADER_MOUNTS.items():
            if path == inside or path.startswith(inside + "/"):
                return self.leader_root / outside / path[len(inside):].lstrip("/")
        raise CloudError(f"{path} is not on a disk the appliance mounts from the leader host")

    def appliance(self, *cmd: str, check=True, timeout=120) -> subprocess.CompletedProcess:
        """Run a command inside the appliance directly (not over SSH): for test set-up and asserts."""
        return self._in_leader_ns(["podman", "exec", "-i", CONTAINER, *cmd], check=check, timeout=timeout)

    # ---- the leader's SSH host key ----
    def rotate_host_key(self, restart: bool = True) -> None:
        """Give the leader a new host key, as a relaunched leader would have."""
        key = self.leader_root / "ssh_host_ed25519_key"
        for f in (key, key.with_suffix(".pub")):
            f.unlink(missing_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        if restart:
            pid = int((self.leader_root / "run" / "sshd.pid").read_text())
            os.kill(pid, signal.SIGHUP)  # sshd re-execs and reads its host keys again
            time.sleep(0.5)
            wait_until(lambda: port_open("127.0.1.1", self.ssh_port), 20, "sshd after host key change")

    def host_public_key(self) -> str:
        return (self.leader_root / "ssh_host_ed25519_key.pub").read_text().strip()

    # ---- host mode: the leader host as a plain ssh host ----
    def host_wheelhouse(self) -> str:
        """The host-mode wheelhouse (tests/setup-host.sh: Toil at the pinned version with its
        dependencies, pip, setuptools, wheel for /usr/bin/python3) as a path on the leader host that
        `core` can read. `core` cannot traverse root's cache or the 0700 test directories, so the
        wheels are hard-linked (copied across file systems) once per cloud into the leader's /run."""
        source = self.image_dir / "host-wheels"
        if not source.is_dir():
            raise CloudError(f"no host wheelhouse in {self.image_dir}: run tests/setup-host.sh")
        dest = self.leader_root / "run" / "host-wheels"
        if not dest.is_dir():
            partial = dest.with_name(".host-wheels.partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            for wheel in source.iterdir():
                try:
                    os.link(wheel, partial / wheel.name)
                except OSError:
                    shutil.copy2(wheel, partial / wheel.name)
                os.chmod(partial / wheel.name, 0o644)
            os.chmod(partial, 0o755)
            partial.rename(dest)
        return HOST_WHEELHOUSE

    def write_host_inventory(self, path: Path | None = None) -> Path:
        """An Ansible YAML inventory with the leader host as a plain ssh host: group `lab`, host
        `labhost` (127.0.0.1, user core, /usr/bin/python3). Its ssh, sftp and scp read this cloud's
        ssh_config (-F: agent with the test key, known_hosts, port), whether or not the `ssh` wrapper
        is on PATH, and check the host key strictly against the cloud's known_hosts, where the
        host's current key is recorded here (call again after rotate_host_key() to trust the new
        one). Nothing in the real user's ~/.ssh is read or written. Returns the file's path."""
        path = Path(path) if path else self.workdir / "host_inventory.yml"
        self._trust_host_key("127.0.0.1")
        host = {
            "ansible_host": "127.0.0.1",
            "ansible_port": self.ssh_port,
            "ansible_user": LEADER_USER,
            "ansible_connection": "ssh",
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_common_args": f"-F {self.ssh_config} -o StrictHostKeyChecking=yes",
        }
        path.write_text(yaml.safe_dump({"all": {"children": {"lab": {"hosts": {"labhost": host}}}}}))
        return path

    def _trust_host_key(self, address: str) -> None:
        """Record the leader host's current key for address in the cloud's known_hosts."""
        name = address if self.ssh_port == 22 else f"[{address}]:{self.ssh_port}"
        known_hosts = self.workdir / "known_hosts"
        lines = known_hosts.read_text().splitlines() if known_hosts.exists() else []
        lines = [line for line in lines if line.split(" ", 1)[0] != name]
        key_type, key = self.host_public_key().split()[:2]
        known_hosts.write_text("\n".join([*lines, f"{name} {key_type} {key}"]) + "\n")

    def kill_host_processes(self, *patterns: str) -> int:
        """SIGKILL core's processes on this cloud's leader host whose command line contains one of
        `patterns`. Only processes in this cloud's mount namespace: another cloud's run (same user,
        same paths) lives on. Returns how many were killed."""
        namespace = os.readlink(f"/proc/{self._leader.pid}/ns/mnt")
        uid = pwd.getpwnam(LEADER_USER).pw_uid
        killed = 0
        for entry in os.listdir("/proc"):
            try:
                if not entry.isdigit() or os.stat(f"/proc/{entry}").st_uid != uid:
                    continue
                if os.readlink(f"/proc/{entry}/ns/mnt") != namespace:
                    continue
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
                if any(p.encode() in cmdline for p in patterns):
                    os.kill(int(entry), signal.SIGKILL)
                    killed += 1
            except (FileNotFoundError, ProcessLookupError):
                continue  # it ended meanwhile
        return killed

    # ---- the emulated account ----
    def moto_request_count(self) -> int:
        """HTTP requests moto's server has answered so far, AWS API and /moto-api/ calls alike (one
        access-log line each in workdir/moto.log, logged before the response is sent). Count
        before and after a step: equal counts mean the step made no AWS call."""
        return len(_MOTO_REQUEST_LINE.findall((self.workdir / "moto.log").read_text(errors="replace")))

    def reset_account(self) -> None:
        """Empty the emulated AWS account (moto's reset API), then import the test key pair again."""
        import urllib.request

        reset = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=10)
        public_key = self.key_file.with_suffix(".pub").read_bytes()
        self.client("ec2").import_key_pair(KeyName=KEY_PAIR, PublicKeyMaterial=public_key)

    def leftovers(self) -> dict[str, list[str]]:
        """Resources a destroyed cluster must not leave behind (and pre-flight must not create)."""
        ec2, iam, s3 = self.client("ec2"), self.client("iam"), self.client("s3")
        instances = [
            i["InstanceId"]
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
            if i["State"]["Name"] not in ("terminated", "shutting-down")
        ]
        groups = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]
        groups = [g for g in groups if g != "default"]
        roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
        profiles = [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]]
        buckets = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
        return {
            "instances": instances,
            "security_groups": groups,
            "iam_roles": roles,
            "instance_profiles": profiles,
            "buckets": buckets,
        }


def _write_script(path: Path, body: str) -> None:
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)


def _ensure_user(name: str) -> None:
    """The leader's login user. Password field `*` (not a locked `!`): sshd refuses locked
    accounts when PAM is off. Its real home is only a mount point (see _make_core_home)."""
    try:
        subprocess.run(["id", name], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", name], check=True)
    subprocess.run(["usermod", "-p", "*", name], check=True)


def _children(pid: int) -> list[int]:
    kids = []
    for task in glob.glob(f"/proc/{pid}/task/*/children"):
        with contextlib.suppress(OSError):
            kids += [int(c) for c in Path(task).read_text().split()]
    return kids


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (found before killing, leaves first)."""
    order, stack = [], [pid]
    while stack:
        p = stack.pop()
        order.append(p)
        stack.extend(_children(p))
    for p in reversed(order):
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
