# Connection plugin: run Ansible inside the Toil leader's appliance container, over SSH, the way
# `toil ssh-cluster` gets in: ssh core@<leader> docker exec -i toil_leader <command>.

DOCUMENTATION = r"""
name: toil_appliance
short_description: Run tasks inside a Toil leader's appliance container (toil_leader), over SSH
description:
  - Runs every task inside the Toil leader's appliance container, the way C(toil ssh-cluster) gets in -
    C(ssh core@<leader> docker exec -i toil_leader <command>). The leader host (Flatcar) has no Python;
    the appliance has C(/usr/bin/python3), pip, git and the cluster's Toil.
  - Built on C(ansible.builtin.ssh), so ControlPersist, retries, C(ssh_args) and pipelining work the same
    way. Each remote command becomes C(docker exec -i [-u <container_user>] <container_name> /bin/sh -c
    <command>), shell-quoted once (ssh joins its arguments into one string for the remote shell).
  - Files are copied by streaming them through C(docker exec -i <container> /bin/sh -c 'cat > <path>')
    (and C(cat <path>) to fetch), because sftp and scp would land on the HOST, not in the container.
    Any size, binary safe; the exit status is checked.
  - "Host keys: trust on first use into a per-cluster known_hosts file (O(known_hosts_file), by default
    C(~/.ansible/toil_known_hosts/<cluster>)), never the user's own C(~/.ssh/known_hosts) and never
    C(/dev/null) - C(StrictHostKeyChecking=accept-new). The key is recorded under the leader's instance id
    (O(host_key_alias)), so a relaunched leader (a new instance) is simply trusted on its first use even
    when it reuses an address, and a key that CHANGES for the same instance is refused with an error that
    says how to forget the old key."
  - Inside the container, C(~) is the home of O(container_user) (Ansible's temporary files go to
    C(/root/.ansible/tmp) by default). Anything outside the paths Toil mounts from the host (C(/opt),
    C(/var/lib/toil), C(/tmp), C(/var/tmp)) is lost when Toil recreates the appliance.
  - With an empty O(container_name) the commands run on the host itself (only C(raw) works on Flatcar);
    the C(toil_cluster) inventory sets that for Kubernetes workers.
author:
  - cactus-aws maintainers (@cactus-aws)
version_added: "1.0.0"
notes:
  - The C(toil_cluster) inventory plugin sets everything this plugin needs (V(ansible_host),
    V(ansible_user=core), V(toil_instance_id), V(toil_cluster_name), V(toil_known_hosts_file)).
  - The key pair's private key must be in ssh-agent (as for C(toil ssh-cluster)), or given with
    O(private_key_file) / O(identity_files).
  - Setting O(host_key_checking=false) (C(ANSIBLE_HOST_KEY_CHECKING=False)) turns host key checking off,
    as for C(ansible.builtin.ssh); an explicit C(-o StrictHostKeyChecking) or C(-o UserKnownHostsFile) in
    O(ssh_args), O(ssh_common_args) or O(ssh_extra_args) also wins over this plugin's defaults.
  - Become is rarely needed - choose the user with O(container_user) instead.
options:
  container_name:
    description:
      - Name of the appliance container on the host. Toil names the leader's C(toil_leader) and a Mesos
        worker's C(toil_worker).
      - Empty runs commands on the host itself, as O(remote_user).
    type: str
    default: toil_leader
    ini:
      - section: toil_appliance_connection
        key: container_name
    env:
      - name: TOIL_APPLIANCE_CONTAINER
    vars:
      - name: toil_appliance_container
      - name: toil_container_name
      - name: ansible_toil_container_name
  container_user:
    description:
      - User the commands run as inside the container (C(docker exec -u)). Empty uses the image's user.
      - This is also the user Ansible expands C(~) for.
    type: str
    default: root
    ini:
      - section: toil_appliance_connection
        key: container_user
    env:
      - name: TOIL_APPLIANCE_USER
    vars:
      - name: toil_container_user
      - name: ansible_toil_container_user
  docker_command:
    description:
      - The docker client on the host, as words (for example C(sudo docker)). Toil's leader lets C(core)
        use C(docker) directly.
    type: str
    default: docker
    ini:
      - section: toil_appliance_connection
        key: docker_command
    env:
      - name: TOIL_APPLIANCE_DOCKER
    vars:
      - name: toil_docker_command
  known_hosts_file:
    description:
      - The known_hosts file for this host's key (C(UserKnownHostsFile)), used with
        C(StrictHostKeyChecking=accept-new).
      - Unset, C(<known_hosts_dir>/<cluster_name>). C(~) is expanded on the controller with C($HOME).
    type: path
    env:
      - name: TOIL_KNOWN_HOSTS_FILE
    vars:
      - name: toil_known_hosts_file
      - name: ansible_toil_known_hosts_file
  known_hosts_dir:
    description: Directory of the per-cluster known_hosts files, used when O(known_hosts_file) is unset.
    type: path
    default: ~/.ansible/toil_known_hosts
    ini:
      - section: toil_appliance_connection
        key: known_hosts_dir
    env:
      - name: TOIL_KNOWN_HOSTS_DIR
    vars:
      - name: toil_known_hosts_dir
  cluster_name:
    description: Toil cluster name, for the default known_hosts file name (C(default) when unset).
    type: str
    vars:
      - name: toil_cluster_name
  host_key_alias:
    description:
      - Name the host key is recorded under (C(HostKeyAlias)). Defaults to the instance id from the
        inventory (V(toil_instance_id)), so each leader instance has its own entry. Empty records the key
        under the address, as plain ssh does.
    type: str
    vars:
      - name: toil_instance_id
      - name: ansible_toil_host_key_alias
  proxy_jump:
    description:
      - Bastion(s) to jump through (C(ProxyJump), C([user@]host[:port][,...])), for a leader reached on its
        private address (the inventory's C(use_private_ip)). The jump host's own key is checked by your
        normal ssh configuration.
    type: str
    ini:
      - section: toil_appliance_connection
        key: proxy_jump
    env:
      - name: TOIL_SSH_PROXY_JUMP
    vars:
      - name: toil_ssh_proxy_jump
      - name: ansible_toil_proxy_jump
  identity_files:
    description:
      - Private key files to offer (C(IdentityFile), in order), in addition to the keys in ssh-agent and
        O(private_key_file).
    type: list
    elements: path
    default: []
    ini:
      - section: toil_appliance_connection
        key: identity_files
    env:
      - name: TOIL_SSH_IDENTITY_FILES
    vars:
      - name: toil_ssh_identity_files
  # The options below are ansible.builtin.ssh's, with the same sources, for the ssh command line.
  host:
    description: Address of the leader host to connect to (ssh's C(HostName)).
    type: string
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: ansible_ssh_host
      - name: delegated_vars['ansible_host']
      - name: delegated_vars['ansible_ssh_host']
  remote_user:
    description:
      - User ssh logs in as on the leader HOST. Toil's nodes use C(core).
      - The user inside the container is O(container_user).
    type: string
    default: core
    ini:
      - section: defaults
        key: remote_user
    env:
      - name: ANSIBLE_REMOTE_USER
    vars:
      - name: ansible_user
      - name: ansible_ssh_user
    cli:
      - name: user
    keyword:
      - name: remote_user
  port:
    description: SSH port on the leader host (Toil uses 22).
    type: int
    ini:
      - section: defaults
        key: remote_port
    env:
      - name: ANSIBLE_REMOTE_PORT
    vars:
      - name: ansible_port
      - name: ansible_ssh_port
    keyword:
      - name: port
  timeout:
    description: SSH connection timeout in seconds (C(ConnectTimeout)).
    type: integer
    default: 10
    ini:
      - section: defaults
        key: timeout
      - section: ssh_connection
        key: timeout
    env:
      - name: ANSIBLE_TIMEOUT
      - name: ANSIBLE_SSH_TIMEOUT
    vars:
      - name: ansible_ssh_timeout
      - name: toil_ssh_connect_timeout
    cli:
      - name: timeout
  ssh_executable:
    description: The ssh client to run.
    type: string
    default: ssh
    ini:
      - section: ssh_connection
        key: ssh_executable
    env:
      - name: ANSIBLE_SSH_EXECUTABLE
    vars:
      - name: ansible_ssh_executable
  ssh_args:
    description: Arguments for every ssh command line (this project sets ControlPersist in C(ansible.cfg)).
    type: string
    default: -C -o ControlMaster=auto -o ControlPersist=60s
    ini:
      - section: ssh_connection
        key: ssh_args
    env:
      - name: ANSIBLE_SSH_ARGS
    vars:
      - name: ansible_ssh_args
  ssh_common_args:
    description: More ssh arguments, usually set per host or group (for example C(-o ProxyCommand=...)).
    type: string
    default: ""
    ini:
      - section: ssh_connection
        key: ssh_common_args
    env:
      - name: ANSIBLE_SSH_COMMON_ARGS
    vars:
      - name: ansible_ssh_common_args
    cli:
      - name: ssh_common_args
  ssh_extra_args:
    description: Extra arguments for ssh only.
    type: string
    default: ""
    ini:
      - section: ssh_connection
        key: ssh_extra_args
    env:
      - name: ANSIBLE_SSH_EXTRA_ARGS
    vars:
      - name: ansible_ssh_extra_args
    cli:
      - name: ssh_extra_args
  host_key_checking:
    description: Check host keys. V(false) lets ssh accept any key (not recommended).
    type: boolean
    default: true
    ini:
      - section: defaults
        key: host_key_checking
      - section: ssh_connection
        key: host_key_checking
    env:
      - name: ANSIBLE_HOST_KEY_CHECKING
      - name: ANSIBLE_SSH_HOST_KEY_CHECKING
    vars:
      - name: ansible_host_key_checking
      - name: ansible_ssh_host_key_checking
  reconnection_retries:
    description: Retries after an ssh connection failure (exit status 255); never after a changed host key.
    type: integer
    default: 0
    ini:
      - section: connection
        key: retries
      - section: ssh_connection
        key: retries
    env:
      - name: ANSIBLE_SSH_RETRIES
    vars:
      - name: ansible_ssh_retries
  pipelining:
    description:
      - Send modules to the remote Python on stdin instead of copying them first (fewer round trips).
        This project turns it on in C(ansible.cfg).
    type: boolean
    default: false
    ini:
      - section: defaults
        key: pipelining
      - section: connection
        key: pipelining
      - section: ssh_connection
        key: pipelining
    env:
      - name: ANSIBLE_PIPELINING
      - name: ANSIBLE_SSH_PIPELINING
    vars:
      - name: ansible_pipelining
      - name: ansible_ssh_pipelining
  private_key_file:
    description: A private key file for ssh (C(IdentityFile)).
    type: string
    ini:
      - section: defaults
        key: private_key_file
    env:
      - name: ANSIBLE_PRIVATE_KEY_FILE
    vars:
      - name: ansible_private_key_file
      - name: ansible_ssh_private_key_file
    cli:
      - name: private_key_file
        option: "--private-key"
  private_key:
    description: A private key's contents, added to ssh-agent for the connection.
    type: string
    env:
      - name: ANSIBLE_PRIVATE_KEY
    vars:
      - name: ansible_private_key
      - name: ansible_ssh_private_key
  private_key_passphrase:
    description: Passphrase of O(private_key).
    type: string
    env:
      - name: ANSIBLE_PRIVATE_KEY_PASSPHRASE
    vars:
      - name: ansible_private_key_passphrase
      - name: ansible_ssh_private_key_passphrase
  password:
    description: SSH password (Toil's nodes take keys only).
    type: string
    vars:
      - name: ansible_password
      - name: ansible_ssh_pass
      - name: ansible_ssh_password
  password_mechanism:
    description: How a password is given to ssh.
    type: string
    default: ssh_askpass
    choices: [ssh_askpass, sshpass, disable]
    ini:
      - section: ssh_connection
        key: password_mechanism
    env:
      - name: ANSIBLE_SSH_PASSWORD_MECHANISM
    vars:
      - name: ansible_ssh_password_mechanism
  sshpass_prompt:
    description: Password prompt to wait for.
    type: string
    default: ""
    ini:
      - section: ssh_connection
        key: sshpass_prompt
    env:
      - name: ANSIBLE_SSHPASS_PROMPT
    vars:
      - name: ansible_sshpass_prompt
  pkcs11_provider:
    description: PKCS#11 library for keys on a smart card.
    type: string
    default: ""
    ini:
      - section: ssh_connection
        key: pkcs11_provider
    env:
      - name: ANSIBLE_PKCS11_PROVIDER
    vars:
      - name: ansible_ssh_pkcs11_provider
  control_path:
    description: ControlPath of the shared connection (default - a hash of host, port and user).
    type: string
    ini:
      - section: ssh_connection
        key: control_path
    env:
      - name: ANSIBLE_SSH_CONTROL_PATH
    vars:
      - name: ansible_control_path
  control_path_dir:
    description: Directory of the ControlPath sockets.
    type: string
    default: ~/.ansible/cp
    ini:
      - section: ssh_connection
        key: control_path_dir
    env:
      - name: ANSIBLE_SSH_CONTROL_PATH_DIR
    vars:
      - name: ansible_control_path_dir
  verbosity:
    description: ssh's own verbosity (C(-v) repeated).
    type: int
    default: 0
    ini:
      - section: ssh_connection
        key: verbosity
    env:
      - name: ANSIBLE_SSH_VERBOSITY
    vars:
      - name: ansible_ssh_verbosity
"""

EXAMPLES = r"""
# The toil_cluster inventory sets ansible_connection=genomics.cactus.toil_appliance on the leader:
# plays just target it.
- name: Work inside the leader's appliance
  hosts: toil_leader
  gather_facts: false
  tasks:
    - name: Which Python runs the modules
      ansible.builtin.command: /usr/bin/python3 --version
      changed_when: false

# Another container, user or bastion, per host or group (group_vars/toil_leader.yml):
#   toil_container_name: toil_leader
#   toil_container_user: root
#   toil_ssh_proxy_jump: ec2-user@bastion.example.org
#   toil_ssh_connect_timeout: 30
#   toil_known_hosts_file: ~/.ansible/toil_known_hosts/my-cactus-run

# A static inventory without the toil_cluster plugin:
#   [toil_leader]
#   leader ansible_host=203.0.113.10 ansible_connection=genomics.cactus.toil_appliance
#          toil_cluster_name=my-cactus-run

# After a leader was relaunched and ssh refuses its new key (the error names the file and the alias):
#   ssh-keygen -R i-0123456789abcdef0 -f ~/.ansible/toil_known_hosts/my-cactus-run
"""

import contextlib
import os
import re
import shlex
import subprocess
import tempfile
import time

from ansible.errors import (
    AnsibleAuthenticationFailure,
    AnsibleConnectionFailure,
    AnsibleError,
    AnsibleFileNotFound,
)
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.plugins.connection.ssh import Connection as SshConnection
from ansible.utils.display import Display
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import appliance_exec_argv

display = Display()

# What ssh prints when a known host shows another key (with StrictHostKeyChecking=accept-new it refuses).
_HOST_KEY_SIGNATURES = (b"REMOTE HOST IDENTIFICATION HAS CHANGED", b"Host key verification failed")
# What docker (exit status 1) and podman (125) print, as the first line, when the container is not there
# or not running. Anchored so that a task's own "... is not running" never looks like a lost container.
_NO_CONTAINER = re.compile(
    rb"\AError( response from daemon)?: .*"
    rb"(No such container|no container with name or ID|is not running|container state improper)"
)
_NO_CONTAINER_STATUS = (1, 125)


class HostKeyChangedError(AnsibleAuthenticationFailure):
    """The leader's host key is not the recorded one. An authentication failure: ssh retries skip it."""


class Connection(SshConnection):
    """ansible.builtin.ssh to the leader host, then docker exec into its appliance container."""

    transport = "toil_appliance"
    has_pipelining = True

    # True while ansible.builtin.ssh builds an ssh command line: remote_user is then the HOST login user.
    _building_ssh_command = False

    # ---- options ----

    def get_option(self, option, hostvars=None):
        """The action plugins ask for remote_user to expand `~` and make temporary directories: inside
        the container that is the container user, not the host's `core`. The ssh command line gets the
        host user."""
        if (
            option == "remote_user"
            and not self._building_ssh_command
            and super().get_option("container_name", hostvars)
        ):
            return super().get_option("container_user", hostvars)
        return super().get_option(option, hostvars)

    def _known_hosts_file(self) -> str:
        path = self.get_option("known_hosts_file")
        if not path:
            name = (self.get_option("cluster_name") or "default").replace(os.sep, "_")
            path = os.path.join(self.get_option("known_hosts_dir"), name)
        path = os.path.abspath(os.path.expanduser(path))
        if path != os.devnull:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        return path

    def _host_key_name(self) -> str:
        """The name ssh records the key under: the alias, else the address ([addr]:port off port 22)."""
        alias = self.get_option("host_key_alias")
        if alias:
            return alias
        port = self.get_option("port")
        return f"[{self.host}]:{port}" if port and int(port) != 22 else str(self.host)

    def _toil_ssh_options(self) -> list[str]:
        # ssh takes the FIRST value of an option: these come after ansible.cfg's ssh_args and the user's
        # common/extra args, so an explicit user choice wins.
        opts = [
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            f'UserKnownHostsFile="{self._known_hosts_file()}"',
            "-o",
            "CheckHostIP=no",
        ]
        alias = self.get_option("host_key_alias")
        if alias:
            opts += ["-o", f"HostKeyAlias={alias}"]
        jump = self.get_option("proxy_jump")
        if jump:
            opts += ["-o", f"ProxyJump={jump}"]
        for identity in self.get_option("identity_files") or []:
            opts += ["-o", f'IdentityFile="{os.path.expanduser(identity)}"']
        return opts

    def _build_command(self, binary, subsystem, *other_args):
        self._building_ssh_command = True
        try:
            b_command = super()._build_command(binary, subsystem, *other_args)
        finally:
            self._building_ssh_command = False
        extra = [to_bytes(a, errors="surrogate_or_strict") for a in self._toil_ssh_options()]
        at = len(b_command) - len(other_args)  # before the host and the remote command
        b_command[at:at] = extra
        return b_command

    # ---- the remote command ----

    def _remote_command(self, cmd: str) -> str:
        """`docker exec -i [-u user] <container> /bin/sh -c <cmd>`, quoted once for the host's shell."""
        container = self.get_option("container_name")
        if not container:
            return cmd
        argv = appliance_exec_argv(
            container, self.get_option("docker_command"), self.get_option("container_user")
        )
        argv += ["/bin/sh", "-c", cmd]
        return " ".join(shlex.quote(a) for a in argv)

    def _check_host_key(self, b_stderr: bytes) -> None:
        if any(s in b_stderr for s in _HOST_KEY_SIGNATURES):
            known_hosts = self._known_hosts_file()
            name = self._host_key_name()
            raise HostKeyChangedError(
                f"The SSH host key of {self.host} (recorded as {name!r}) differs from the one in "
                f"{known_hosts}, so ssh refused to connect. If this Toil leader was relaunched "
                "(destroy-cluster and launch-cluster, or a rebuilt host), forget the old key and connect "
                f"again: ssh-keygen -R {shlex.quote(name)} -f {shlex.quote(known_hosts)}  (or delete that "
                "file to forget every key of this cluster). Otherwise do not connect: the host may be an "
                "impostor."
            )

    def _check_container(self, rc: int, b_stderr: bytes) -> None:
        container = self.get_option("container_name")
        # ssh's own notes (a host key recorded on first use) come before docker's message.
        lines = [line for line in b_stderr.splitlines() if line.strip() and not line.startswith(b"Warning: ")]
        if container and rc in _NO_CONTAINER_STATUS and lines and _NO_CONTAINER.match(lines[0]):
            raise AnsibleConnectionFailure(
                f"The appliance container {container!r} is not running on the Toil leader {self.host}: "
                f"{to_native(b_stderr).strip()} (Toil's systemd unit on the leader starts it; after a reboot "
                "wait for it, or check the leader with toil ssh-cluster)"
            )

    def _bare_run(self, cmd, in_data, sudoable=True, checkrc=True):
        try:
            rc, b_stdout, b_stderr = super()._bare_run(cmd, in_data, sudoable=sudoable, checkrc=checkrc)
        except AnsibleConnectionFailure as e:
            self._check_host_key(to_bytes(str(e), errors="surrogate_or_strict"))
            raise
        if rc == 255:
            self._check_host_key(b_stderr)
        return rc, b_stdout, b_stderr

    # ---- Ansible's connection API ----

    def exec_command(self, cmd, in_data=None, sudoable=True):
        """Run cmd in the container. Never with a tty (-tt would merge stderr into stdout)."""
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        self.host = self.get_option("host") or self._play_context.remote_addr
        container = self.get_option("container_name") or "(host)"
        display.vvv(f"TOIL_APPLIANCE: EXEC in container {container} via {self.host}", host=self.host)
        remote = self._remote_command(cmd)
        ssh_cmd = self._build_command(self.get_option("ssh_executable"), "ssh", self.host, remote)
        rc, b_stdout, b_stderr = self._run(ssh_cmd, in_data, sudoable=sudoable)
        self._check_container(rc, b_stderr)
        return rc, b_stdout, b_stderr

    def put_file(self, in_path, out_path):
        """Stream a controller file into the container (`cat > PATH`), any size, binary safe."""
        ConnectionBase.put_file(self, in_path, out_path)
        self.host = self.get_option("host") or self._play_context.remote_addr
        display.vvv(f"TOIL_APPLIANCE: PUT {in_path} TO {out_path}", host=self.host)
        b_in_path = to_bytes(in_path, errors="surrogate_or_strict")
        if not os.path.exists(b_in_path):
            raise AnsibleFileNotFound(f"file or module does not exist: {to_native(in_path)}")
        remote = self._remote_command(f"cat > {shlex.quote(out_path)}")
        with open(b_in_path, "rb") as source:
            rc, b_stderr = self._stream(remote, stdin=source)
        if rc != 0:
            self._check_container(rc, b_stderr)
            raise AnsibleError(
                f"failed to copy {to_native(in_path)} to {out_path} in the container (exit status {rc}): "
                f"{to_native(b_stderr).strip()}"
            )

    def fetch_file(self, in_path, out_path):
        """Stream a container file to the controller (`cat PATH`); the target appears only when complete."""
        ConnectionBase.fetch_file(self, in_path, out_path)
        self.host = self.get_option("host") or self._play_context.remote_addr
        display.vvv(f"TOIL_APPLIANCE: FETCH {in_path} TO {out_path}", host=self.host)
        remote = self._remote_command(f"cat -- {shlex.quote(in_path)}")
        b_out_path = to_bytes(out_path, errors="surrogate_or_strict")
        directory = os.path.dirname(b_out_path) or b"."
        fd, b_tmp = tempfile.mkstemp(dir=directory, prefix=b".toil-fetch-")
        try:
            with os.fdopen(fd, "wb") as target:
                rc, b_stderr = self._stream(remote, stdout=target)
            if rc != 0:
                self._check_container(rc, b_stderr)
                raise AnsibleError(
                    f"failed to fetch {in_path} from the container (exit status {rc}): "
                    f"{to_native(b_stderr).strip()}"
                )
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(b_tmp, 0o666 & ~umask)
            os.replace(b_tmp, b_out_path)
        finally:
            if os.path.exists(b_tmp):
                os.unlink(b_tmp)

    def _stream(self, remote: str, stdin=None, stdout=None) -> tuple[int, bytes]:
        """Run one ssh command with a file as stdin or stdout (no copy in memory); retries connection
        failures (exit status 255) like ansible.builtin.ssh. Returns (exit status, stderr)."""
        cmd = self._build_command(self.get_option("ssh_executable"), "ssh", self.host, remote)
        display.vvv("SSH: EXEC " + " ".join(shlex.quote(to_text(c)) for c in cmd), host=self.host)
        tries = int(self.get_option("reconnection_retries")) + 1
        for attempt in range(tries):
            for f in (stdin, stdout):
                if f is not None:
                    f.seek(0)
            if stdout is not None:
                stdout.truncate()
            popen_kwargs = self._init_shm()
            try:
                p = subprocess.Popen(
                    cmd,
                    stdin=stdin if stdin is not None else subprocess.DEVNULL,
                    stdout=stdout if stdout is not None else subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    **popen_kwargs,
                )
                _, b_stderr = p.communicate()
            finally:
                self._release_shm()
            if p.returncode != 255:
                return p.returncode, b_stderr
            self._check_host_key(b_stderr)
            if attempt + 1 < tries:
                pause = min(2**attempt - 1, 30)
                display.vv(f"toil_appliance: ssh exit status 255, retrying in {pause}s", host=self.host)
                time.sleep(pause)
        raise AnsibleConnectionFailure(
            f"Failed to connect to the host via ssh: {to_native(b_stderr).strip()}"
        )

    def _release_shm(self) -> None:
        shm, self.shm = self.shm, None
        if shm is not None:
            shm.close()
            with contextlib.suppress(FileNotFoundError):
                shm.unlink()
