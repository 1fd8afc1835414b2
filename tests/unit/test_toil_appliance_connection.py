"""The toil_appliance connection plugin.

First the command it builds (no network): the remote command is quoted exactly once for the host's shell,
the host-key options come after the user's and before the host, remote_user means the container user to
Ansible's actions but `core` to ssh. Then real SSH into the test cloud's leader host and its `toil_leader`
container (podman behind `docker`): the plugin in-process, and Ansible's CLI with a static inventory.

sshd answers on every loopback address, so each test picks its own address: ControlPersist masters
(keyed by host, port and user) are then never shared between tests.
"""

import hashlib
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader

TOP = Path(__file__).resolve().parents[2]
connection_loader.add_directory(str(TOP / "plugins" / "connection"))

TRICKY = """printf '[%s]' 'a b' "c'd" '$HOME' "$HOME" ';' '*' "$(printf 'x\\ty')" && echo"""
TRICKY_OUT = "[a b][c'd][$HOME][/root][;][*][x\ty]\n"


def make_connection(tmp_path, cloud=None, address="127.0.1.210", **hostvars):
    """The plugin as Ansible loads it, with a host's variables."""
    conn = connection_loader.get("toil_appliance", PlayContext(), os.devnull)
    variables = {
        "ansible_host": address,
        "ansible_user": "core",
        "toil_cluster_name": "conn-test",
        "toil_instance_id": f"i-conn{address.replace('.', '')}",
        "toil_known_hosts_dir": str(tmp_path / "known_hosts"),
        "ansible_control_path_dir": str(tmp_path / "cp"),
        "ansible_ssh_args": "-o ControlMaster=auto -o ControlPersist=30s",
    }
    if cloud is not None:
        variables["ansible_ssh_executable"] = str(cloud.bin / "ssh")  # the test cloud's -F wrapper
    variables.update(hostvars)
    conn.set_options(var_options=variables)
    conn.host = conn.get_option("host")
    return conn


@pytest.fixture
def connections(tmp_path, cloud):
    """Connections to the test cloud; their ControlPersist masters are stopped afterwards."""
    made = []

    def factory(**hostvars):
        conn = make_connection(tmp_path, cloud, **hostvars)
        made.append(conn)
        return conn

    yield factory
    for conn in made:
        conn.reset()


# ---------------------------------------------------------------- the command line (no network)


def test_remote_command_is_quoted_exactly_once(tmp_path):
    """The host's shell must hand docker the command unchanged: simulate it with a fake docker."""
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text("#!/usr/bin/env python3\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    fake.chmod(0o755)
    conn = make_connection(tmp_path)
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"}
    for cmd in (TRICKY, "/bin/sh -c 'echo ~ && sleep 0'", "a\nb; c && d | e > f", "$(reboot) `reboot`"):
        remote = conn._remote_command(cmd)
        out = subprocess.run(
            ["bash", "-c", remote], env=env, capture_output=True, text=True, check=True
        ).stdout
        assert json.loads(out) == ["exec", "-i", "-u", "root", "toil_leader", "/bin/sh", "-c", cmd]


def test_container_user_name_and_docker_command(tmp_path):
    conn = make_connection(
        tmp_path,
        toil_container_name="toil_worker",
        toil_container_user="",
        toil_docker_command="sudo -n docker",
    )
    assert shlex.split(conn._remote_command("id")) == [
        "sudo",
        "-n",
        "docker",
        "exec",
        "-i",
        "toil_worker",
        "/bin/sh",
        "-c",
        "id",
    ]
    host_only = make_connection(tmp_path, toil_container_name="")
    assert host_only._remote_command("uname -a") == "uname -a"


def test_remote_user_is_the_container_user_for_actions_and_core_for_ssh(tmp_path):
    conn = make_connection(tmp_path, toil_container_user="builder")
    assert conn.get_option("remote_user") == "builder"  # what the actions expand `~` with
    argv = [a.decode() for a in conn._build_command("ssh", "ssh", conn.host, "true")]
    assert "-o" in argv and 'User="core"' in argv
    assert make_connection(tmp_path, toil_container_name="").get_option("remote_user") == "core"


def test_ssh_options_known_hosts_alias_jump_identity(tmp_path):
    conn = make_connection(
        tmp_path,
        toil_ssh_proxy_jump="ec2-user@bastion.example",
        toil_ssh_identity_files=["~/k1", "/k 2"],
        ansible_ssh_common_args="-o UserKnownHostsFile=/elsewhere",
    )
    argv = [a.decode() for a in conn._build_command("ssh", "ssh", conn.host, "REMOTE")]
    assert argv[-2:] == [conn.host, "REMOTE"]
    options = [argv[i + 1] for i, a in enumerate(argv) if a == "-o"]
    known = tmp_path / "known_hosts" / "conn-test"
    assert options.index("StrictHostKeyChecking=accept-new") > options.index("ControlPersist=30s")
    # The user's explicit choice comes first, so ssh (first value wins) keeps it.
    assert options.index("UserKnownHostsFile=/elsewhere") < options.index(f'UserKnownHostsFile="{known}"')
    assert f"HostKeyAlias={conn.get_option('host_key_alias')}" in options
    assert "ProxyJump=ec2-user@bastion.example" in options
    assert f'IdentityFile="{os.path.expanduser("~/k1")}"' in options and 'IdentityFile="/k 2"' in options
    assert known.parent.is_dir() and oct(known.parent.stat().st_mode & 0o777) == "0o700"
    assert conn.has_pipelining and conn.transport == "toil_appliance"


def test_default_known_hosts_file_is_per_cluster_not_global(tmp_path):
    conn = make_connection(tmp_path, toil_known_hosts_dir=str(tmp_path / "kh"), toil_cluster_name="c-one")
    assert conn._known_hosts_file() == str(tmp_path / "kh" / "c-one")
    explicit = make_connection(tmp_path, toil_known_hosts_file=str(tmp_path / "mine"))
    assert explicit._known_hosts_file() == str(tmp_path / "mine")
    for path in (conn._known_hosts_file(), explicit._known_hosts_file()):
        assert path != os.devnull and not path.endswith(".ssh/known_hosts")


def test_only_docker_errors_mean_a_missing_container(tmp_path):
    conn = make_connection(tmp_path)
    conn._check_container(3, b"nginx is not running\n")  # a task's own output: not a connection failure
    conn._check_container(1, b"Traceback ...\nError: worker is not running\n")
    for status, stderr in (
        (1, b"Error response from daemon: No such container: toil_leader\n"),
        (1, b"Error response from daemon: container 4f2a is not running\n"),
        (
            125,
            b"Warning: Permanently added 'i-1' (ED25519) to the list of known hosts.\r\n"
            b'Error: no container with name or ID "toil_leader" found: no such container\n',
        ),
    ):
        with pytest.raises(AnsibleConnectionFailure, match="'toil_leader' is not running on the Toil leader"):
            conn._check_container(status, stderr)


# ---------------------------------------------------------------- real SSH, in-process


def test_exec_runs_inside_the_container(connections):
    conn = connections(address="127.0.1.211")
    rc, out, err = conn.exec_command("test -d /srv/test-wheels && id -un && echo $HOME")
    assert (rc, out) == (0, b"root\n/root\n"), err
    rc, out, err = conn.exec_command(TRICKY)
    assert rc == 0 and out.decode() == TRICKY_OUT, err
    rc, out, err = conn.exec_command("echo out; echo err >&2; exit 7")
    assert (rc, out) == (7, b"out\n") and b"err" in err  # no tty: stderr apart, exit status kept


def test_exec_with_stdin_as_pipelining_does(connections):
    conn = connections(address="127.0.1.212")
    small = bytes(range(256)) * 8 + b"\x00end"
    rc, out, err = conn.exec_command("cat", in_data=small)
    assert rc == 0 and out == small, err
    # Like a pipelined module: Python reads all of stdin (here 3 MB), then answers.
    data = os.urandom(3 * 1024 * 1024)
    script = "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"
    rc, out, _ = conn.exec_command(f"/usr/bin/python3 -c {shlex.quote(script)}", in_data=data)
    assert (rc, out.strip().decode()) == (0, hashlib.sha256(data).hexdigest())


def test_container_user(connections):
    conn = connections(address="127.0.1.213", toil_container_user="nobody")
    rc, out, _ = conn.exec_command("id -un")
    assert (rc, out) == (0, b"nobody\n")


def test_host_mode_without_container(connections):
    conn = connections(address="127.0.1.214", toil_container_name="")
    rc, out, _ = conn.exec_command("test -d /srv/test-wheels && echo container || id -un")
    assert (rc, out) == (0, b"core\n")


def test_put_and_fetch_binary_files(connections, tmp_path):
    conn = connections(address="127.0.1.215")
    remote_dir = f"/tmp/conn-test-{os.getpid()}"
    conn.exec_command(f"mkdir -p {remote_dir}")
    try:
        cases = {
            "big.bin": os.urandom(5 * 1024 * 1024) + b"\x00\xff",
            "empty": b"",
            "we 'ird\" name": b"a\r\nb\x00",
        }
        for name, data in cases.items():
            src = tmp_path / f"src-{hashlib.md5(name.encode()).hexdigest()}"  # noqa: S324 - a file name
            src.write_bytes(data)
            remote = f"{remote_dir}/{name}"
            conn.put_file(str(src), remote)
            rc, out, _ = conn.exec_command(f"sha256sum < {shlex.quote(remote)}")
            assert out.split()[0].decode() == hashlib.sha256(data).hexdigest(), name
            back = tmp_path / "back" / src.name
            back.parent.mkdir(exist_ok=True)
            conn.fetch_file(remote, str(back))
            assert back.read_bytes() == data, name

        missing = tmp_path / "back" / "missing"
        with pytest.raises(AnsibleError, match="failed to fetch /tmp/does-not-exist.*No such file"):
            conn.fetch_file("/tmp/does-not-exist", str(missing))
        assert not missing.exists() and not list(missing.parent.glob(".toil-fetch-*"))
        with pytest.raises(AnsibleError, match="failed to copy .* to /no/such/dir/x in the container"):
            conn.put_file(str(src), "/no/such/dir/x")
    finally:
        conn.exec_command(f"rm -rf {remote_dir}")


def test_missing_container_is_a_clear_connection_failure(connections):
    conn = connections(address="127.0.1.216", toil_container_name="no_such_container")
    with pytest.raises(
        AnsibleConnectionFailure, match="'no_such_container' is not running on the Toil leader"
    ):
        conn.exec_command("true")


def test_host_key_trust_on_first_use_then_changed_key_refused(tmp_path, cloud):
    address = "127.0.1.217"
    conn = make_connection(tmp_path, cloud, address=address, ansible_ssh_args="-o ControlMaster=no")
    known = Path(conn._known_hosts_file())
    alias = conn.get_option("host_key_alias")
    assert conn.exec_command("true")[0] == 0
    recorded = known.read_text()
    assert recorded.startswith(f"{alias} ") and cloud.host_public_key().split()[1] in recorded

    # Another key recorded for this instance: what a relaunched (or impostor) host looks like.
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    key_type, key = other.with_suffix(".pub").read_text().split()[:2]
    known.write_text(f"{alias} {key_type} {key}\n")
    with pytest.raises(AnsibleConnectionFailure) as refused:
        conn.exec_command("true")
    message = str(refused.value)
    assert "ssh-keygen -R" in message and str(known) in message and alias in message
    # The advice works as written.
    command = re.search(r"(ssh-keygen -R \S+ -f \S+)", message).group(1)
    subprocess.run(shlex.split(command), check=True, capture_output=True)
    assert conn.exec_command("true")[0] == 0
    # Files too: put_file takes the same path through ssh.
    known.write_text(f"{alias} {key_type} {key}\n")
    with pytest.raises(AnsibleConnectionFailure, match="ssh-keygen -R"):
        conn.put_file(str(other.with_suffix(".pub")), "/tmp/x")


def test_without_alias_the_key_is_recorded_under_the_address(tmp_path, cloud):
    conn = make_connection(
        tmp_path, cloud, address="127.0.1.218", toil_instance_id="", ansible_ssh_args="-o ControlMaster=no"
    )
    assert conn.exec_command("true")[0] == 0
    assert Path(conn._known_hosts_file()).read_text().startswith("127.0.1.218 ")


# ---------------------------------------------------------------- Ansible's CLI with standard modules

PLAYBOOK = """
- name: Standard modules through toil_appliance
  hosts: leader
  gather_facts: true
  vars:
    work: /tmp/conn-cli-{pid}
  tasks:
    - name: Ping
      ansible.builtin.ping:
    - name: The facts are the container's
      ansible.builtin.assert:
        that:
          - ansible_facts.user_id == 'root'
          - ansible_facts.env.HOME == '/root'
          - ansible_facts.python.executable.startswith('/usr/bin/python3')
          - ansible_facts.distribution == 'Debian'
    - name: Command
      ansible.builtin.command: test -d /srv/test-wheels
      changed_when: false
    - name: Work directory
      ansible.builtin.file:
        path: "{{{{ work }}}}"
        state: directory
        mode: "0755"
    - name: Copy a binary file
      ansible.builtin.copy:
        src: "{src}"
        dest: "{{{{ work }}}}/blob.bin"
        mode: "0644"
    - name: Stat it
      ansible.builtin.stat:
        path: "{{{{ work }}}}/blob.bin"
        checksum_algorithm: sha256
      register: blob
    - name: Same bytes
      ansible.builtin.assert:
        that: blob.stat.checksum == '{sha256}'
    - name: Template
      ansible.builtin.template:
        src: "{template}"
        dest: "{{{{ work }}}}/rendered.txt"
        mode: "0644"
    - name: Fetch both back
      ansible.builtin.fetch:
        src: "{{{{ work }}}}/{{{{ item }}}}"
        dest: "{fetched}/"
        flat: true
      loop: [blob.bin, rendered.txt]
    - name: Pip into a virtualenv, from the appliance's wheelhouse
      ansible.builtin.pip:
        name: packaging
        virtualenv: "{{{{ work }}}}/venv"
        virtualenv_command: /usr/bin/python3 -m venv
        extra_args: --no-index --find-links /srv/test-wheels
    - name: A git repository to clone
      ansible.builtin.shell: >-
        git init -q {{{{ work }}}}/origin && cd {{{{ work }}}}/origin && echo hi > f &&
        git add f && git -c user.email=t@example.org -c user.name=t commit -qm one
      args:
        creates: "{{{{ work }}}}/origin/.git"
    - name: Git clone
      ansible.builtin.git:
        repo: "{{{{ work }}}}/origin"
        dest: "{{{{ work }}}}/clone"
        version: HEAD
    - name: Clean up
      ansible.builtin.file:
        path: "{{{{ work }}}}"
        state: absent
"""


def test_standard_modules_through_the_cli(cloud, tmp_path):
    blob = os.urandom(3 * 1024 * 1024)
    (tmp_path / "blob.bin").write_bytes(blob)
    (tmp_path / "t.j2").write_text("cluster={{ toil_cluster_name }} user={{ ansible_facts.user_id }}\n")
    (tmp_path / "fetched").mkdir()
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {
                        "leader": {
                            "ansible_host": "127.0.1.219",
                            "ansible_connection": "genomics.cactus.toil_appliance",
                            "ansible_user": "core",
                            "toil_cluster_name": "conn-cli",
                            "toil_instance_id": "i-conncli",
                        }
                    }
                }
            }
        )
    )
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        PLAYBOOK.format(
            pid=os.getpid(),
            src=tmp_path / "blob.bin",
            template=tmp_path / "t.j2",
            fetched=tmp_path / "fetched",
            sha256=hashlib.sha256(blob).hexdigest(),
        )
    )
    try:
        result = cloud.run(
            ["ansible-playbook", "-i", str(inventory), str(playbook)], check=False, timeout=600
        )
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
        assert re.search(r"leader\s*: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0", result.stdout)
        assert (tmp_path / "fetched" / "blob.bin").read_bytes() == blob
        assert (tmp_path / "fetched" / "rendered.txt").read_text() == "cluster=conn-cli user=root\n"
        known = Path(cloud.env()["HOME"]) / ".ansible" / "toil_known_hosts" / "conn-cli"
        assert known.read_text().startswith("i-conncli ssh-ed25519 ")
    finally:
        cloud.run(
            ["ansible", "leader", "-i", str(inventory), "-m", "meta", "-a", "reset_connection"], check=False
        )


def test_ansible_doc_is_a_manual(cloud):
    out = cloud.run(["ansible-doc", "-t", "connection", "genomics.cactus.toil_appliance"]).stdout
    for word in (
        "container_name",
        "container_user",
        "known_hosts_file",
        "proxy_jump",
        "identity_files",
        "host_key_alias",
        "ssh_args",
        "timeout",
        "pipelining",
        "EXAMPLES",
        "toil_leader",
    ):
        assert word in out, word
