"""A throwaway Redis Cluster on loopback: three masters, no replicas, free ports, nodes that can be killed.

Each node is a child `redis-server --cluster-enabled yes` (not daemonized, so a test can kill exactly
that process and the session can always stop it); `redis-cli --cluster create` assigns the slots.
A restarted node reads its nodes-<port>.conf back: same id, same slots, its data gone (no persistence).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for sock in socks:  # all bound at once, so the n ports are distinct
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def missing_tools() -> str | None:
    """Why a cluster cannot start here, or None."""
    for tool in ("redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install redis-server; Redis 7 or later)"
    return None


@dataclass
class LoopbackCluster:
    workdir: Path
    masters: int = 3
    full_coverage: bool = True  # cluster-require-full-coverage: with "no", live masters serve while one is down
    node_timeout_ms: int = 5000  # a master silent this long is flagged as failed (Redis's default: 15 s)
    ports: list[int] = field(default_factory=list)
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> LoopbackCluster:
        ports = _free_ports(2 * self.masters)
        self.ports = ports[: self.masters]
        self._bus = dict(zip(self.ports, ports[self.masters :], strict=True))  # --cluster-port of each
        try:
            for port in self.ports:
                self.start_node(port)
            created = subprocess.run(
                ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
                 "--cluster-replicas", "0", "--cluster-yes"],
                capture_output=True, text=True, timeout=60, check=False,
            )
            if created.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed:\n{created.stdout}\n{created.stderr}")
            self.wait_ok()
        except BaseException:
            self.stop()  # no node outlives a failed start
            raise
        return self

    def start_node(self, port: int) -> None:
        self.procs[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-port", str(self._bus[port]), "--cluster-config-file", f"nodes-{port}.conf",
             "--cluster-node-timeout", str(self.node_timeout_ms),
             "--cluster-require-full-coverage", "yes" if self.full_coverage else "no",
             "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self._answers(port):
            if self.procs[port].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {port} did not start (Redis 7+ is needed for --cluster-port)")
            time.sleep(0.02)

    def kill(self, port: int) -> None:
        proc = self.procs.pop(port)
        proc.kill()
        proc.wait(timeout=10)

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)

    def master_of(self, key: str) -> int:
        """The port of the master serving `key`'s slot (CLUSTER KEYSLOT, then CLUSTER SLOTS)."""
        with self.node(self.ports[0]) as client:
            slot = int(client.execute_command("CLUSTER KEYSLOT", key))
            for start, end, master, *_ in client.execute_command("CLUSTER SLOTS"):
                if start <= slot <= end:
                    return int(master[1])
        raise LookupError(f"slot {slot} is not served")

    def wait_ok(self, timeout: float = 20.0) -> None:
        """Every live node says cluster_state:ok and agrees every slot is served."""
        deadline = time.monotonic() + timeout
        while True:
            states = [self._info(port) for port in self.procs]
            if all(s.get("cluster_state") == "ok" and s.get("cluster_slots_ok") == "16384" for s in states):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster not ok after {timeout}s: {states}")
            time.sleep(0.05)

    def wait_failed(self, port: int, timeout: float = 15.0) -> float:
        """Waits until the live nodes flag the (killed) master on `port` as failed; returns the seconds."""
        started = time.monotonic()
        while True:
            with self.node(next(p for p in self.procs if p != port)) as client:
                nodes = client.execute_command("CLUSTER NODES")  # parsed: {"host:port": {"flags": ...}}
            flags = str(nodes.get(f"127.0.0.1:{port}", {}).get("flags", ""))
            if "fail" in flags.split(","):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"127.0.0.1:{port} not flagged as failed after {timeout}s: {flags}")
            time.sleep(0.05)

    def stop(self) -> None:
        for port in list(self.procs):
            self.kill(port)

    def _answers(self, port: int) -> bool:
        try:
            with self.node(port) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def _info(self, port: int) -> dict[str, str]:
        try:
            with self.node(port) as client:
                info = client.execute_command("CLUSTER INFO")  # parsed by redis-py into a dict
        except redis.RedisError:
            return {}
        return {str(k): str(v) for k, v in info.items()}
