"""RUN networking, as BuildKit's OCI worker does it with CNI.

- ``default``: a network namespace attached to a CNI bridge with outbound NAT, made by
  Debian's containernetworking-plugins (``loopback``, ``bridge`` + ``host-local``, and
  ``firewall`` when installed), called directly: each plugin is an executable reading its
  JSON config on stdin, with ``CNI_*`` variables.
- ``none``: runc makes a fresh namespace with only loopback.
- ``host``: the host's namespace (the executor checks the ``network.host`` entitlement).

Namespaces are pooled in the state dir, as BuildKit pools them: setting one up costs
about 250 ms of plugin time here (bridge and firewall ADD) and tearing it down 180 ms,
so a namespace is attached once and reused by later RUNs, across bakec processes. A
namespace is in use while its ``.lock`` is flocked, so a crashed process's namespaces go
back to the pool by themselves. RUNs with ``security=insecure`` (which could reconfigure
the namespace) never return theirs to the pool.

When CNI is unavailable (plugins missing, or setup fails) RUNs use the host's network,
after one warning, as BuildKit does.

Layout under ``<state>/net/``::

    cni.json       the network config; generated once (bridge name and a free /24 derived
                   from the state dir), then read, so it may be edited
    ipam/          host-local's address allocations
    ns/<id>        a bind-mounted network namespace; <id>.lock (flocked while in use),
                   <id>.json (the CNI result, present once the namespace is attached)
    ip_forward     the host's net.ipv4.ip_forward before the bridge plugin turned it on

:func:`teardown` (called by ``Daemon.stop()``) detaches and removes every namespace,
the bridge, the firewall plugin's chains when nothing else uses them, and restores
``ip_forward``.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import ipaddress
import json
import logging
import os
import shlex
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakec.worker.runtime_spec import Network

PLUGIN_DIRS = (Path("/usr/lib/cni"), Path("/opt/cni/bin"))
REQUIRED_PLUGINS = ("loopback", "bridge", "host-local")
POOL_SIZE = 16  # BuildKit's --oci-cni-pool-size default
CNI_VERSION = "1.0.0"
IFNAME = "eth0"
_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")

# What BuildKit writes for a RUN outside the host's network when the host's resolv.conf has
# only loopback resolvers (unreachable from another namespace).
DEFAULT_NAMESERVERS = ("8.8.8.8", "8.8.4.4")

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000
_MS_BIND = 0x1000
_MNT_DETACH = 0x2

log = logging.getLogger(__name__)
_warned: set[str] = set()
_warned_lock = threading.Lock()


class CniError(Exception):
    """A plugin failed, or the namespace could not be made."""


@dataclass(frozen=True)
class NetPaths:
    state_dir: Path

    @property
    def base(self) -> Path:
        return self.state_dir / "net"

    @property
    def config(self) -> Path:
        return self.base / "cni.json"

    @property
    def ipam(self) -> Path:
        return self.base / "ipam"

    @property
    def ns_dir(self) -> Path:
        return self.base / "ns"

    @property
    def lock(self) -> Path:
        return self.base / "lock"

    @property
    def forward(self) -> Path:
        return self.base / "ip_forward"


@dataclass
class Sandbox:
    """The network a RUN gets: ``mode`` as used (``default`` may have fallen back to ``host``)."""

    mode: Network
    netns: str | None = None
    """Path of the namespace to join (``default`` only)."""
    address: str | None = None
    """The RUN's address on the bridge, e.g. ``10.77.3.2/24`` (``default`` only)."""
    gateway: str | None = None
    _id: str = ""
    _fd: int | None = field(default=None, repr=False)


def plugin_dir() -> Path | None:
    """The first directory holding the plugins bakec needs, or None."""
    for d in PLUGIN_DIRS:
        if all(os.access(d / p, os.X_OK) for p in REQUIRED_PLUGINS):
            return d
    return None


def resolv_conf(text: str, mode: Network) -> str:
    """The RUN's resolv.conf from the host's, as BuildKit makes it.

    Outside the host's namespace, loopback nameservers (e.g. systemd-resolved's) cannot
    answer; they are dropped, and Google's public resolvers are used when none is left.
    """
    if mode == "host":
        return text
    lines = []
    servers = 0
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            try:
                if ipaddress.ip_address(words[1].split("%")[0]).is_loopback:
                    continue
            except ValueError:
                pass
            servers += 1
        lines.append(line)
    if servers == 0:
        lines += [f"nameserver {ns}" for ns in DEFAULT_NAMESERVERS]
    return "\n".join(lines) + "\n"


class NetworkProvider:
    """Network namespaces for the RUNs of one state dir."""

    def __init__(self, state_dir: Path, pool_size: int = POOL_SIZE) -> None:
        self.paths = NetPaths(Path(state_dir))
        self.pool_size = pool_size
        self._unavailable: str | None = None
        self._config: dict[str, Any] | None = None
        self._mutex = threading.Lock()

    def acquire(self, mode: Network) -> Sandbox:
        """The network for one RUN; ``default`` falls back to ``host`` (with a warning) without CNI."""
        if mode in ("none", "host"):
            return Sandbox(mode)
        if mode != "default":
            raise ValueError(f"unknown network mode {mode!r}")
        if self._unavailable is None:
            try:
                return self._take() or self._create()
            except (CniError, OSError) as failure:
                self._unavailable = " ".join(str(failure).split()) or type(failure).__name__
        _warn_once(
            f"{self.paths.state_dir}:{self._unavailable}",
            f"WARNING: CNI network unavailable ({self._unavailable}); RUN uses the host network",
        )
        return Sandbox("host")

    def release(self, sandbox: Sandbox, *, reuse: bool = True) -> None:
        """Give the namespace back to the pool (or tear it down when the pool is full)."""
        if sandbox._fd is None:
            return
        fd, sandbox._fd = sandbox._fd, None
        try:
            if not reuse or len(list(self.paths.ns_dir.glob("*.json"))) > self.pool_size:
                self._destroy(sandbox._id)
        finally:
            os.close(fd)

    @contextmanager
    def sandbox(self, mode: Network, *, reuse: bool = True) -> Iterator[Sandbox]:
        sandbox = self.acquire(mode)
        try:
            yield sandbox
        finally:
            self.release(sandbox, reuse=reuse)

    # -- pool -------------------------------------------------------------------------

    def _take(self) -> Sandbox | None:
        ns_dir = self.paths.ns_dir
        if not ns_dir.is_dir():
            return None
        for result_file in sorted(ns_dir.glob("*.json")):
            ns_id = result_file.stem
            fd = _try_lock(ns_dir / f"{ns_id}.lock")
            if fd is None:
                continue
            try:
                result = json.loads(result_file.read_text())
            except (OSError, ValueError):
                # Torn down meanwhile (we locked a fresh lock file), or broken: skip it.
                (ns_dir / f"{ns_id}.lock").unlink(missing_ok=True)
                os.close(fd)
                continue
            if not _pinned(ns_dir / ns_id):
                # The namespace died with its mount (a reboot): free its address, drop it.
                try:
                    self._destroy(ns_id)
                finally:
                    os.close(fd)
                continue
            return _sandbox(ns_id, ns_dir / ns_id, result, fd)
        return None

    def _create(self) -> Sandbox:
        config, plugins = self._load()
        ns_dir = self.paths.ns_dir
        ns_dir.mkdir(parents=True, exist_ok=True)
        ns_id = uuid.uuid4().hex[:16]
        fd = _try_lock(ns_dir / f"{ns_id}.lock")
        assert fd is not None  # a fresh name
        path = ns_dir / ns_id
        try:
            _new_netns(path)
            result = None
            for plugin in config["plugins"]:
                result = _invoke(plugins, "ADD", config, plugin, ns_id, path, result)
            if not isinstance(result, dict):
                raise CniError("the CNI chain returned no result")
            tmp = ns_dir / f"{ns_id}.tmp"
            tmp.write_text(json.dumps(result))
            tmp.rename(ns_dir / f"{ns_id}.json")
        except BaseException:
            try:
                self._destroy(ns_id)
            finally:
                os.close(fd)
            raise
        return _sandbox(ns_id, path, result, fd)

    def _destroy(self, ns_id: str) -> None:
        """Detach (CNI DEL, best effort) and remove one namespace; the caller holds its lock."""
        _destroy(self.paths, ns_id, self._config)

    def _load(self) -> tuple[dict[str, Any], Path]:
        plugins = plugin_dir()
        if plugins is None:
            raise CniError(
                "CNI plugins not found in "
                + " or ".join(map(str, PLUGIN_DIRS))
                + " (apt-get install containernetworking-plugins)"
            )
        with self._mutex:
            if self._config is None:
                self._config = _ensure_config(self.paths, plugins)
        return self._config, plugins


def _sandbox(ns_id: str, path: Path, result: dict[str, Any], fd: int) -> Sandbox:
    address = gateway = None
    interfaces = result.get("interfaces", [])
    for ip in result.get("ips", []):
        index = ip.get("interface")
        if index is not None and interfaces[index].get("sandbox") and interfaces[index].get("name") == IFNAME:
            address, gateway = ip.get("address"), ip.get("gateway")
            break
    return Sandbox("default", str(path), address, gateway, ns_id, fd)


def _warn_once(key: str, message: str) -> None:
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning(message)


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _pinned(path: Path) -> bool:
    """Whether a namespace is still bind-mounted on ``path`` (nsfs, not the plain file)."""
    try:
        return os.stat(path).st_dev != os.stat(path.parent).st_dev
    except OSError:
        return False


def _new_netns(path: Path) -> None:
    """Make a network namespace and pin it by bind-mounting it on ``path``.

    A network namespace belongs to a thread, so a short-lived thread unshares it and
    mounts its own /proc/thread-self/ns/net; the rest of the process is untouched.
    """
    path.touch()
    errors: list[str] = []

    def enter() -> None:
        if _libc.unshare(_CLONE_NEWNET) != 0:
            errors.append(f"unshare: {os.strerror(ctypes.get_errno())}")
        elif _libc.mount(b"/proc/thread-self/ns/net", os.fsencode(path), None, _MS_BIND, None) != 0:
            errors.append(f"mount netns: {os.strerror(ctypes.get_errno())}")

    thread = threading.Thread(target=enter, name="bakec-netns")
    thread.start()
    thread.join()
    if errors:
        path.unlink(missing_ok=True)
        raise CniError(errors[0])


def _invoke(
    plugins: Path,
    command: str,
    config: dict[str, Any],
    plugin: dict[str, Any],
    ns_id: str,
    netns: Path,
    prev: dict[str, Any] | None,
) -> dict[str, Any] | None:
    kind = str(plugin.get("type", ""))
    if not kind or "/" in kind or kind.startswith("."):
        raise CniError(f"bad CNI plugin type {kind!r}")
    conf = {**plugin, "cniVersion": config.get("cniVersion", CNI_VERSION), "name": config["name"]}
    if prev is not None:
        conf["prevResult"] = prev
    env = {
        **os.environ,
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": f"bakec-{ns_id}",
        "CNI_NETNS": str(netns),
        "CNI_IFNAME": IFNAME,
        "CNI_PATH": str(plugins),
    }
    try:
        proc = subprocess.run(
            [str(plugins / kind)],
            input=json.dumps(conf).encode(),
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as failure:
        raise CniError(f"CNI {kind} {command}: {failure}") from None
    if proc.returncode != 0:
        raise CniError(f"CNI {kind} {command}: {_plugin_error(proc.stdout, proc.stderr)}")
    if not proc.stdout.strip():
        return prev
    try:
        return json.loads(proc.stdout)  # type: ignore[no-any-return]
    except ValueError:
        raise CniError(f"CNI {kind} {command}: invalid result") from None


def _plugin_error(stdout: bytes, stderr: bytes) -> str:
    try:
        err = json.loads(stdout)
        text = str(err.get("msg", ""))
        if err.get("details"):
            text += f": {err['details']}"
        if text:
            return text
    except (ValueError, AttributeError):
        pass
    lines = (stderr or stdout).decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "failed"


def _suffix(state_dir: Path) -> str:
    return hashlib.sha256(os.fsencode(state_dir.absolute())).hexdigest()[:8]


def _ensure_config(paths: NetPaths, plugins: Path) -> dict[str, Any]:
    """Read ``cni.json``, writing it first if missing; record ``ip_forward`` once."""
    paths.base.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not paths.forward.exists():
            with suppress(OSError):
                paths.forward.write_text(_FORWARD.read_text())
        if not paths.config.exists():
            tmp = paths.config.with_suffix(".tmp")
            tmp.write_text(json.dumps(default_config(paths, plugins), indent=2) + "\n")
            tmp.rename(paths.config)
    try:
        config = json.loads(paths.config.read_text())
    except ValueError as failure:
        raise CniError(f"{paths.config}: {failure}") from None
    if not isinstance(config, dict) or not isinstance(config.get("plugins"), list) or "name" not in config:
        raise CniError(f"{paths.config}: not a CNI network list")
    return config


def default_config(paths: NetPaths, plugins: Path) -> dict[str, Any]:
    """BuildKit's default CNI network (loopback, bridge with NAT, firewall), named for this state dir."""
    suffix = _suffix(paths.state_dir)
    chain: list[dict[str, Any]] = [
        {"type": "loopback"},
        {
            "type": "bridge",
            "bridge": f"bk{suffix}",
            "isDefaultGateway": True,
            "ipMasq": True,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": _free_subnet(suffix)}]],
                "dataDir": str(paths.ipam),
            },
        },
    ]
    if os.access(plugins / "firewall", os.X_OK):
        # Lets the traffic through a FORWARD policy of DROP (Docker sets one). The iptables
        # backend is explicit: auto-detection would ask firewalld over D-Bus first.
        chain.append({"type": "firewall", "backend": "iptables"})
    return {"cniVersion": CNI_VERSION, "name": f"bakec-{suffix}", "plugins": chain}


def _free_subnet(suffix: str) -> str:
    """A 10.x.y.0/24 not overlapping any route of the host, chosen from the state dir's hash."""
    used = _routes()
    start = int(suffix, 16)
    for i in range(64 * 256):
        k = (start + i) % (64 * 256)
        net = ipaddress.ip_network(f"10.{64 + k // 256}.{k % 256}.0/24")
        if not any(net.overlaps(u) for u in used):
            return str(net)
    raise CniError("no free 10.64.0.0/10 subnet for the bridge")


def _routes() -> list[ipaddress.IPv4Network]:
    nets = []
    with suppress(OSError):
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            fields = line.split()
            dest, mask = int(fields[1], 16), int(fields[7], 16)
            if mask == 0:
                continue  # the default route
            # /proc/net/route prints little-endian hex.
            addr = ipaddress.IPv4Address(dest.to_bytes(4, "little"))
            netmask = ipaddress.IPv4Address(mask.to_bytes(4, "little"))
            nets.append(ipaddress.IPv4Network(f"{addr}/{netmask}", strict=False))
    return nets


def _destroy(paths: NetPaths, ns_id: str, config: dict[str, Any] | None) -> None:
    ns_dir = paths.ns_dir
    path = ns_dir / ns_id
    result_file = ns_dir / f"{ns_id}.json"
    try:
        result = json.loads(result_file.read_text())
    except (OSError, ValueError):
        result = None
    # Unpublish first, so no other process takes it from the pool.
    result_file.unlink(missing_ok=True)
    if config is None:
        with suppress(OSError, ValueError):
            config = json.loads(paths.config.read_text())
    if not _pinned(path):
        # No namespace behind the path (setup failed early, or a reboot): the bridge plugin
        # then only frees the address, and only if the path does not exist at all.
        path.unlink(missing_ok=True)
    plugins = plugin_dir()
    if config is not None and plugins is not None:
        for plugin in reversed(config.get("plugins", [])):
            try:
                _invoke(plugins, "DEL", config, plugin, ns_id, path, result)
            except CniError as failure:
                log.debug("%s", failure)
        # Without the namespace the bridge plugin cannot tell its address, so it leaves its
        # NAT rules; they carry the container id in a comment.
        _remove_nat_rules(f'name: "{config.get("name")}" id: "bakec-{ns_id}"')
    _libc.umount2(os.fsencode(path), _MNT_DETACH)  # fails harmlessly when never mounted
    for name in (ns_id, f"{ns_id}.tmp", f"{ns_id}.lock"):
        (ns_dir / name).unlink(missing_ok=True)


def _remove_nat_rules(comment: str) -> None:
    """Delete the nat POSTROUTING jumps commented ``comment`` and the chains they jump to."""
    rules = _iptables("-t", "nat", "-S", "POSTROUTING")
    if not rules:
        return
    for rule in rules:
        try:
            words = shlex.split(rule)
        except ValueError:
            continue
        if words[:2] != ["-A", "POSTROUTING"] or comment not in words or "-j" not in words:
            continue
        chain = words[words.index("-j") + 1]
        _iptables("-t", "nat", "-D", *words[1:])
        if chain.startswith("CNI-"):
            _iptables("-t", "nat", "-F", chain)
            _iptables("-t", "nat", "-X", chain)


def sweep(state_dir: Path) -> None:
    """Remove half-made namespaces of crashed processes and ones lost in a reboot (lock free)."""
    paths = NetPaths(Path(state_dir))
    if not paths.ns_dir.is_dir():
        return
    ids = {p.name.split(".")[0] for p in paths.ns_dir.iterdir()}
    for ns_id in ids:
        if (paths.ns_dir / f"{ns_id}.json").exists() and _pinned(paths.ns_dir / ns_id):
            continue
        fd = _try_lock(paths.ns_dir / f"{ns_id}.lock")
        if fd is None:
            continue  # being created right now
        try:
            _destroy(paths, ns_id, None)
        finally:
            os.close(fd)


def teardown(state_dir: Path) -> None:
    """Remove every namespace, the bridge, idle firewall chains; restore ``ip_forward``."""
    paths = NetPaths(Path(state_dir))
    if not paths.base.is_dir():
        return
    try:
        config: dict[str, Any] | None = json.loads(paths.config.read_text())
    except (OSError, ValueError):
        config = None
    if paths.ns_dir.is_dir():
        for ns_id in {p.name.split(".")[0] for p in paths.ns_dir.iterdir()}:
            _destroy(paths, ns_id, config)
    bridge = None
    if config is not None:
        for plugin in config.get("plugins", []):
            if plugin.get("type") == "bridge":
                bridge = plugin.get("bridge")
            if plugin.get("type") == "firewall":
                _remove_idle_firewall_chains()
    if bridge and Path("/sys/class/net", bridge).exists():
        with suppress(OSError):
            subprocess.run(["ip", "link", "delete", bridge], capture_output=True, check=False)
    _restore_forward(paths)
    shutil.rmtree(paths.ns_dir, ignore_errors=True)
    shutil.rmtree(paths.ipam, ignore_errors=True)


def _remove_idle_firewall_chains() -> None:
    """The firewall plugin never removes its chains; drop them when only its skeleton is left."""
    admin_jump = '-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN'
    forward = _iptables("-S", "CNI-FORWARD")
    admin = _iptables("-S", "CNI-ADMIN")
    if forward is None or admin is None:
        return
    if [r for r in forward if r != "-N CNI-FORWARD" and r != admin_jump] or admin != ["-N CNI-ADMIN"]:
        return  # someone else's rules
    _iptables("-D", "FORWARD", "-m", "comment", "--comment", "CNI firewall plugin rules", "-j", "CNI-FORWARD")
    _iptables("-F", "CNI-FORWARD")
    _iptables("-X", "CNI-FORWARD")
    _iptables("-X", "CNI-ADMIN")


def _iptables(*args: str) -> list[str] | None:
    try:
        proc = subprocess.run(["iptables", "-w", *args], capture_output=True, text=True, check=False)
    except OSError:
        return None  # no iptables: the plugins could not have added rules either
    return proc.stdout.splitlines() if proc.returncode == 0 else None


def _restore_forward(paths: NetPaths) -> None:
    try:
        before = paths.forward.read_text().strip()
    except OSError:
        return
    paths.forward.unlink(missing_ok=True)
    # Another bakec bridge still routing through the host keeps forwarding on.
    others = [d.name for d in Path("/sys/class/net").iterdir() if _is_bakec_bridge(d.name)]
    if before == "0" and not others:
        with suppress(OSError):
            _FORWARD.write_text("0\n")


def _is_bakec_bridge(name: str) -> bool:
    return len(name) == 10 and name.startswith("bk") and all(c in "0123456789abcdef" for c in name[2:])
