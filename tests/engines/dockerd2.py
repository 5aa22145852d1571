"""A second, real Docker engine on this machine for the engine-pool tests.

`SecondDockerd` starts `dockerd` with everything of its own under one temp folder: unix socket,
--data-root, --exec-root, --pidfile, its own containerd (started by that dockerd under its exec
root), and its own bridge (`ip link add <name> type bridge` with a subnet no other engine uses,
passed as --bridge). It touches no iptables (--iptables=false, --ip-masq=false,
--ip-forward=false): published ports reach containers through docker-proxy on 127.0.0.1, and the
workers under test need no outbound network, so the first engine's rules stay as they are.

`kill()` SIGKILLs the daemon mid-run (the fault test: the endpoint stops answering);
`stop()` tears everything down whatever state it is in: the daemon, the containerd and shims it
left (found by our temp folder in their command line, killed by pid), mounts under the folder,
the bridge, the folder.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import docker
from docker.errors import DockerException

from harness.engines import Engine

_INSTANCES = itertools.count()  # a bridge name per instance: a session may run two

# Candidate /24s for the bridge; the first one no interface of this machine uses is taken.
SUBNETS = [f"10.{a}.{b}.0/24" for a in (213, 214) for b in range(7, 250, 17)]
READY_TIMEOUT_S = 90.0


def why_not() -> str | None:
    """None when a second dockerd can be started here, else the reason to skip."""
    if os.geteuid() != 0:
        return "needs root (starts a second dockerd and a bridge)"
    for tool in ("dockerd", "ip", "containerd", "runc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def _used_subnets() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True
    ).stdout
    nets = []
    for line in out.splitlines():
        parts = line.split()
        if "inet" in parts:
            nets.append(ipaddress.ip_interface(parts[parts.index("inet") + 1]).network)
    return nets


def _free_subnet() -> ipaddress.IPv4Network:
    used = _used_subnets()
    start = os.getpid() % len(SUBNETS)  # two sessions at once start from different subnets
    for cidr in SUBNETS[start:] + SUBNETS[:start]:
        net = ipaddress.ip_network(cidr)
        if not any(net.overlaps(u) for u in used):
            return net
    raise RuntimeError("no free /24 for the second engine's bridge")


def _run(*cmd: str) -> None:
    subprocess.run(list(cmd), check=True, capture_output=True, text=True)


class SecondDockerd:
    """One extra dockerd; `start()` waits until it answers, `stop()` removes every trace."""

    def __init__(self, name: str = "second") -> None:
        self.name = name
        self.root = Path(tempfile.mkdtemp(prefix="hd2-", dir="/tmp"))
        self.socket = self.root / "docker.sock"
        self.bridge = f"hd2b{os.getpid() % 100000}{next(_INSTANCES)}"  # <= 15 characters
        self.subnet: ipaddress.IPv4Network | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.root / "dockerd.log"

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket}"

    @property
    def engine(self) -> Engine:
        return Engine(self.name, self.endpoint, {"role": "test"})

    def cli_env(self) -> dict[str, str]:
        return self.engine.cli_env()

    def client(self, timeout: float = 60) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.endpoint, timeout=timeout)

    def answers(self) -> bool:
        try:
            client = self.client(timeout=5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (DockerException, OSError):
            return False

    def start(self) -> SecondDockerd:
        """Make the bridge, start the daemon, wait until it answers."""
        self.subnet = _free_subnet()
        gateway = next(self.subnet.hosts())
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        self._daemon()
        return self

    def restart(self) -> SecondDockerd:
        """After `kill()`: the daemon again on the same data root (its images are kept)."""
        self.kill()
        self._daemon()
        return self

    def _daemon(self) -> None:
        # its own config file (not /etc/docker/daemon.json) and trust key, hence its own ID
        conf = self.root / "daemon.json"
        conf.write_text(json.dumps({"deprecated-key-path": str(self.root / "key.json")}))
        cmd = [
            "dockerd",
            "--config-file",
            str(conf),
            "--host",
            self.endpoint,
            "--data-root",
            str(self.root / "data"),
            "--exec-root",
            str(self.root / "exec"),
            "--pidfile",
            str(self.root / "docker.pid"),
            "--bridge",
            self.bridge,
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            "--storage-driver",
            "overlay2",
            "--log-level",
            "warn",
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"the second dockerd did not come up:\n{tail}")
            time.sleep(0.2)

    def load_from_local(self, *tags: str) -> None:
        """`docker save` each tag on the first engine | `docker load` here (skips present ones)."""
        client = self.client()
        try:
            missing = [t for t in tags if not _has(client, t)]
        finally:
            client.close()
        for tag in missing:
            save = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE)
            assert save.stdout is not None
            load = subprocess.run(
                ["docker", "load", "-q"],
                stdin=save.stdout,
                capture_output=True,
                text=True,
                env=self.cli_env(),
                timeout=900,
            )
            save.stdout.close()
            if save.wait() != 0 or load.returncode != 0:
                raise RuntimeError(f"moving {tag} to the second engine failed: {load.stderr}")

    def has_image(self, ref: str) -> bool:
        client = self.client()
        try:
            return _has(client, ref)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL the daemon (and its containerd), as a crashed engine: it stops answering."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._kill_leftovers()

    def _leftover_pids(self) -> list[int]:
        """containerd, shims and docker-proxy started for this engine (their command line names
        our temp folder or bridge subnet)."""
        marks = [str(self.root)]
        if self.subnet is not None:
            marks.append(f"-container-ip {str(self.subnet)[:-4]}")  # "10.213.7."
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                args = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
                if any(m in args for m in marks):
                    pids.append(int(entry.name))
        return pids

    def _kill_leftovers(self) -> None:
        for pid in self._leftover_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop the daemon (SIGTERM, then SIGKILL); remove leftovers, mounts, bridge, folder."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._kill_leftovers()
        time.sleep(0.5)
        self._unmount()
        with contextlib.suppress(subprocess.CalledProcessError):
            _run("ip", "link", "del", self.bridge)
        shutil.rmtree(self.root, ignore_errors=True)

    def _unmount(self) -> None:
        with open("/proc/self/mounts") as f:
            points = [line.split()[1] for line in f]
        ours = [p for p in points if p.startswith(str(self.root))]
        for point in sorted(ours, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)


def _has(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except DockerException:
        return False
    return True
