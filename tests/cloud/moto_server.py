"""Run moto's server on loopback, patched so the emulated cloud is safe and usable by Toil.

    python tests/cloud/moto_server.py --port 5000 [--first-public-ip 127.0.1.1]
                                        [--first-private-ip 127.0.128.1]

Patches (see ../shared/reference/test-cloud.md):
- every public IP moto hands out is a loopback address (127.0.1.1, 127.0.1.2, ...), so Toil and
  Ansible only ever dial this machine; the test leader's sshd listens on all of 127.0.0.0/8;
- so is every private IP of an instance in a subnet, from a range of its own (127.0.128.1, ...),
  whatever the subnet's CIDR: a run over private addresses really dials the private one;
- PutBucketEncryption with only a BlockedEncryptionTypes rule (what Toil's AWS job store sends)
  is accepted instead of answered with MalformedXML, with AWS's default SSE-S3 algorithm.
Prints "ready <port>" once listening; stops on SIGTERM or when stdin closes.
"""

import argparse
import ipaddress
import itertools
import signal
import sys
import threading


def loopback_ip_allocator(first: str):
    """Return a function giving the next loopback address each call, never leaving 127.0.0.0/8."""
    start = int(ipaddress.ip_address(first))
    last = int(ipaddress.ip_address("127.255.255.254"))
    counter = itertools.count(start)
    lock = threading.Lock()

    def next_ip() -> str:
        with lock:
            value = next(counter)
        if value > last:
            raise RuntimeError("test cloud ran out of loopback addresses")
        return str(ipaddress.ip_address(value))

    return next_ip


def patch_moto(first_public_ip: str, first_private_ip: str) -> None:
    import moto.ec2.models.elastic_network_interfaces as eni
    import moto.ec2.utils as ec2_utils
    import xmltodict
    from moto.ec2.models.subnets import Subnet
    from moto.s3.responses import S3Response

    allocate = loopback_ip_allocator(first_public_ip)
    ec2_utils.random_public_ip = allocate
    eni.random_public_ip = allocate  # imported by name there

    allocate_private = loopback_ip_allocator(first_private_ip)

    def loopback_subnet_ip(self, instance):
        address = allocate_private()
        self._subnet_ips[address] = instance
        return address

    Subnet.get_available_subnet_ip = loopback_subnet_ip

    strict = S3Response._encryption_config_from_body

    def lenient_encryption_config(self):
        config = xmltodict.parse(self.body)["ServerSideEncryptionConfiguration"]
        rules = config.get("Rule")
        rules = rules if isinstance(rules, list) else [rules]
        if rules and all(r and "BlockedEncryptionTypes" in r for r in rules):
            # moto's put_object reads the default algorithm of every rule: give it AWS's default.
            for rule in rules:
                rule.setdefault("ApplyServerSideEncryptionByDefault", {"SSEAlgorithm": "AES256"})
            return config
        return strict(self)

    S3Response._encryption_config_from_body = lenient_encryption_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--first-public-ip", default="127.0.1.1")
    parser.add_argument("--first-private-ip", default="127.0.128.1")
    args = parser.parse_args()
    for option in ("first_public_ip", "first_private_ip"):
        if not ipaddress.ip_address(getattr(args, option)).is_loopback:
            parser.error(f"--{option.replace('_', '-')} must be a loopback address")

    patch_moto(args.first_public_ip, args.first_private_ip)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    print(f"ready {args.port}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
