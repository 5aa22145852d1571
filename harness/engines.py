"""The pool of Docker engines the harness builds, runs and times on (`[[engines]]` in harness.toml).

An engine is a Docker endpoint: `unix:///path`, `ssh://user@host`, `tcp://host:2376` (with TLS
files), or a Docker context name ("default" is the local engine, as `docker` itself picks it:
DOCKER_HOST / DOCKER_CONTEXT of the environment, else the local socket). With no [[engines]] the
pool is [LOCAL] and everything behaves as before engines existed.

Functions that take `engine=` (keyword; default LOCAL, today's behaviour):
  images.build_image / layers / compressed_size; bases.resolve / classify / survey /
  probe_registry / make_standin; container.start_worker (RunningWorker.engine, .address);
  customcheck.run_check_cmd; coldstart.measure_cold; measure.measure_commit / measure_pair /
  build_into / new_result / default_store; abtest.run_abtest; soakrun.soak_commit;
  judge.Judge(..., engine=) (one Judge = one engine); dockercli.engine(target).
Also: judgement.Options.engines (the engines a bisect may probe on: --engine, else the config's),
container.remove_session_containers(engines) (default: every engine used by this process),
imagemove.copy_image / ensure_image (docker save | docker load), enginefacts.engine_facts.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from harness.config import Config
from harness.endpoints import endpoint_kind
from harness.errors import HarnessError

if TYPE_CHECKING:
    import docker

DOCKER_HINT = "start the engine (sudo bash scripts/setup-docker.sh) and check `docker info`"
DEFAULT_CONTEXT = "default"  # the Docker context name of "whatever `docker` talks to here"
CERT_NAMES = {"ca": "ca.pem", "cert": "cert.pem", "key": "key.pem"}  # what the CLI expects
CERT_LINKS = Path.home() / ".cache" / "f5tts-harness" / "engine-certs"


@dataclass(frozen=True)
class TLSFiles:
    """Client TLS for a tcp:// engine: the CA that signed the daemon, our cert and its key."""

    ca: str
    cert: str
    key: str
    verify: bool = True

    def cert_path(self, name: str) -> str:
        """A folder with ca.pem, cert.pem and key.pem (the names the docker CLI reads): the
        files' own folder when they already carry those names, else a folder of symlinks."""
        files = {"ca": self.ca, "cert": self.cert, "key": self.key}
        folders = {str(Path(p).parent) for p in files.values()}
        if len(folders) == 1 and all(Path(files[k]).name == v for k, v in CERT_NAMES.items()):
            return folders.pop()
        links = CERT_LINKS / name
        links.mkdir(parents=True, exist_ok=True)
        for kind, filename in CERT_NAMES.items():
            link = links / filename
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            link.symlink_to(Path(files[kind]).resolve())
        return str(links)


@dataclass(frozen=True)
class Engine:
    """One Docker endpoint. Equal (and hashed) by name and endpoint; labels and TLS ride along."""

    name: str
    endpoint: str
    # read-only by convention (a plain dict, so an Engine pickles and deep-copies)
    labels: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    tls: TLSFiles | None = field(default=None, compare=False, hash=False)
    # the engine images for this one are built on, then moved here (docker save | docker load)
    builder: Engine | None = field(default=None, compare=False, hash=False)

    @property
    def kind(self) -> str:
        """ "unix" | "tcp" | "ssh" | "context"."""
        return endpoint_kind(self.endpoint)

    @property
    def is_default(self) -> bool:
        """Whether this is the engine the environment's `docker` talks to (today's behaviour)."""
        return self.endpoint == DEFAULT_CONTEXT

    def _unreachable(self, why: str) -> HarnessError:
        if self.is_default and self.name == "local":  # the message before engines existed
            return HarnessError(f"Docker engine not reachable ({why})", "docker", DOCKER_HINT)
        return HarnessError(
            f"Docker engine {self.name!r} ({self.endpoint}) not reachable ({why})",
            "docker",
            f"check that `docker -H {self.endpoint} info` answers, or fix [[engines]] "
            f"{self.name!r} in harness.toml"
            if "://" in self.endpoint
            else f"check `docker --context {self.endpoint} info` (for the local engine: sudo "
            "bash scripts/setup-docker.sh), or fix [[engines]] in harness.toml",
        )

    def client(self, timeout: float = 600) -> docker.DockerClient:
        """A docker-py client for this engine, pinged; HarnessError(docker) naming the engine."""
        import docker
        from docker.errors import DockerException

        try:
            if self.is_default:
                client = docker.from_env(timeout=timeout)
            elif self.kind == "context":
                from docker.context import ContextAPI

                ctx = ContextAPI.get_context(self.endpoint)
                if ctx is None or not ctx.Host:
                    raise self._unreachable("no such Docker context")
                client = docker.DockerClient(
                    base_url=ctx.Host, tls=ctx.TLSConfig or False, timeout=timeout
                )
            else:
                client = docker.DockerClient(
                    base_url=self.endpoint,
                    tls=self._tls_config(),
                    timeout=timeout,
                    use_ssh_client=self.kind == "ssh",  # the ssh CLI: ~/.ssh/config, agent, keys
                )
            client.ping()
        except DockerException as exc:
            raise self._unreachable(exc.__class__.__name__) from None
        except OSError as exc:  # e.g. the ssh binary missing
            raise self._unreachable(str(exc)) from None
        return client

    def _tls_config(self) -> Any:
        if self.tls is None:
            return False
        from docker.tls import TLSConfig

        return TLSConfig(
            client_cert=(self.tls.cert, self.tls.key), ca_cert=self.tls.ca, verify=self.tls.verify
        )

    def cli_env(self) -> dict[str, str]:
        """os.environ with DOCKER_HOST / DOCKER_CONTEXT / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH set
        for this engine (the default engine: os.environ as it is)."""
        env = dict(os.environ)
        if self.is_default:
            return env
        for var in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            env.pop(var, None)
        if self.kind == "context":
            env["DOCKER_CONTEXT"] = self.endpoint
            return env
        env["DOCKER_HOST"] = self.endpoint
        if self.tls is not None:
            env["DOCKER_CERT_PATH"] = self.tls.cert_path(self.name)
            if self.tls.verify:
                env["DOCKER_TLS_VERIFY"] = "1"
        return env

    def daemon_url(self) -> str:
        """The URL the daemon is reached at: the endpoint, a context's host, or for the default
        engine DOCKER_HOST (else the local socket)."""
        if self.is_default:
            return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        if self.kind == "context":
            from docker.context import ContextAPI

            ctx = ContextAPI.get_context(self.endpoint)
            return str(ctx.Host) if ctx is not None and ctx.Host else self.endpoint
        return self.endpoint

    @contextlib.contextmanager
    def reach(self, host_port: int) -> Iterator[tuple[str, int]]:
        """(host, port) on this machine that reaches a container port the engine published on
        its host's 127.0.0.1: the same for a unix socket; an `ssh -L` tunnel for ssh:// (closed
        on the way out); tcp:// is refused (no tunnel to use). A context or the default engine
        is judged by the URL it points at."""
        url = self.daemon_url()
        kind = endpoint_kind(url)
        if kind in ("unix", "context"):
            yield "127.0.0.1", host_port
            return
        if kind == "tcp":
            raise HarnessError(
                f"engine {self.name!r}: a tcp:// engine publishes worker ports on its own "
                "127.0.0.1, which this machine cannot reach",
                "docker",
                "attach the host with ssh://user@host (the harness tunnels the port), or run "
                "the harness on that host",
            )
        with _ssh_tunnel(self, url, host_port) as local:
            yield "127.0.0.1", local


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _ssh_tunnel(
    engine: Engine, endpoint: str, remote_port: int, timeout_s: float = 20.0
) -> Iterator[int]:
    """`ssh -N -L <free local port>:127.0.0.1:<remote_port> user@host`, up until it accepts."""
    url = urlsplit(endpoint)
    target = f"{url.username}@{url.hostname}" if url.username else str(url.hostname)
    local = _free_port()
    cmd = ["ssh", "-N", "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes"]
    if url.port:
        cmd += ["-p", str(url.port)]
    cmd += ["-L", f"127.0.0.1:{local}:127.0.0.1:{remote_port}", target]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                why = (proc.stderr.read() if proc.stderr else "").strip()[:200]
                raise engine._unreachable(f"ssh tunnel exited: {why}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", local), 1):
                break
            if time.monotonic() > deadline:
                raise engine._unreachable(f"ssh tunnel not up within {timeout_s:g} s")
            time.sleep(0.1)
        yield local
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


LOCAL = Engine("local", DEFAULT_CONTEXT)


def engines_from_config(config: Config) -> list[Engine]:
    """The configured pool, in file order; no [[engines]]: [LOCAL]."""
    if not config.engines:
        return [LOCAL]
    out: list[Engine] = []
    for e in config.engines:
        tls = None
        if e.tls is not None:
            tls = TLSFiles(
                str(config.path(e.tls.ca)),
                str(config.path(e.tls.cert)),
                str(config.path(e.tls.key)),
                e.tls.verify,
            )
        out.append(Engine(e.name, e.endpoint, dict(e.labels), tls))
    named = {e.name: e for e in out}
    for i, e in enumerate(config.engines):  # build_on names another engine (checked by Config)
        if e.build_on is not None:
            out[i] = replace(out[i], builder=named[e.build_on])
    return out


def select(engines: list[Engine], name: str | None) -> list[Engine]:
    """`--engine NAME`: the one engine of that name; None: all of them, in order."""
    if name is None:
        return list(engines)
    found = [e for e in engines if e.name == name]
    if not found:
        names = ", ".join(e.name for e in engines)
        raise HarnessError(
            f"no engine named {name!r} (configured: {names})",
            "config",
            "pass --engine with one of those names, or add it to [[engines]] in harness.toml",
        )
    return found


def by_name(engines: list[Engine], name: str) -> Engine:
    """The engine called `name` (HarnessError(config) listing the names when there is none)."""
    return select(engines, name)[0]
