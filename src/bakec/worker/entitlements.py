"""Entitlements: the privileges a build must be granted with ``--allow``.

Two checks, with buildx's and BuildKit's wording:

- :meth:`Entitlements.check_exec` is BuildKit's ``ValidateEntitlements``: a RUN with
  ``--network=host`` or ``--security=insecure`` that was not allowed fails with
  "network.host is not allowed" / "security.insecure is not allowed". The executor runs
  it before anything is started, whatever the frontend checked.
- :func:`grant` is bake's up-front check of what the targets request against ``--allow``:
  without a terminal (CI) a missing entitlement fails at once with buildx's message and
  never prompts.

``fs.read``/``fs.write`` paths are parsed here and checked against the paths a run reads and
writes by :mod:`bakec.bake.entitlements_fs`; :func:`grant` prints and refuses what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from bakec.errors import BuildError, UsageError

NETWORK_HOST = "network.host"
SECURITY_INSECURE = "security.insecure"

Security = Literal["sandbox", "insecure"]

_DESCRIPTIONS = {
    NETWORK_HOST: " - Running build containers that can access host network",
    SECURITY_INSECURE: " - Running privileged containers that can make system changes",
}


@dataclass(frozen=True)
class Entitlements:
    """What ``--allow`` granted (or what targets request)."""

    network_host: bool = False
    security_insecure: bool = False
    fs_read: tuple[str, ...] = ()
    fs_write: tuple[str, ...] = ()

    @classmethod
    def parse(cls, values: Iterable[str]) -> Entitlements:
        """``--allow`` values (repeatable, or comma-separated) as buildx parses them."""
        host = insecure = False
        read: list[str] = []
        write: list[str] = []
        for value in values:
            for item in filter(None, (v.strip() for v in value.split(","))):
                if item == NETWORK_HOST:
                    host = True
                elif item == SECURITY_INSECURE:
                    insecure = True
                else:
                    key, _, path = item.partition("=")
                    if key == "fs.read":
                        read.append(path)
                    elif key == "fs.write":
                        write.append(path)
                    elif key == "fs":
                        read.append(path)
                        write.append(path)
                    elif key == "buildx.local.delete":
                        pass  # buildx's permission for local outputs with mode=delete; bakec has no such mode
                    else:
                        raise UsageError(f'unknown entitlement key "{key}"')
        return cls(host, insecure, tuple(read), tuple(write))

    @property
    def names(self) -> list[str]:
        """The granted privileged entitlements, as ``--allow`` spells them."""
        return [
            n
            for n, on in ((NETWORK_HOST, self.network_host), (SECURITY_INSECURE, self.security_insecure))
            if on
        ]

    def granting(self, names: Iterable[str]) -> Entitlements:
        """These entitlements plus the privileged ones ``names`` lists."""
        names = set(names)
        return replace(
            self,
            network_host=self.network_host or NETWORK_HOST in names,
            security_insecure=self.security_insecure or SECURITY_INSECURE in names,
        )

    def check_exec(self, network: str, security: str) -> None:
        """Refuse a RUN whose network or security mode needs an entitlement not granted."""
        if network == "host" and not self.network_host:
            raise BuildError(f"{NETWORK_HOST} is not allowed")
        if security == "insecure" and not self.security_insecure:
            raise BuildError(f"{SECURITY_INSECURE} is not allowed")


def grant(
    requested: Iterable[str],
    allowed: Entitlements,
    *,
    fs_read: Sequence[str] = (),
    fs_write: Sequence[str] = (),
    fs_checks: bool = True,
    fs_hint: bool = False,
    argv: Sequence[str] = (),
    interactive: bool = False,
    ask: Callable[[str], str] | None = None,
    out: Callable[[str], object] | None = None,
) -> None:
    """bake's check of the targets' ``entitlements`` and local paths against ``--allow``.

    ``fs_read`` / ``fs_write`` are the paths still missing, as they are shown (see
    :mod:`bakec.bake.entitlements_fs`). Prints buildx's explanation of what is missing (to
    ``out``), asks on a terminal, and raises :class:`BuildError` "additional privileges
    requested" when not granted; without a terminal it never asks. With ``fs_checks`` off
    (``BUILDX_BAKE_ENTITLEMENTS_FS=0``) missing paths are only listed; ``fs_hint`` adds
    buildx's line on how to turn the checks off.
    """
    missing = [
        name
        for name in (NETWORK_HOST, SECURITY_INSECURE)
        if name in set(requested) and name not in allowed.names
    ]
    read_only, write_only, both = _group(fs_read, fs_write)
    lines = [_DESCRIPTIONS[name] for name in missing]
    flags = [f"--allow={name}" for name in missing]
    fs_lines: list[str] = []
    for paths, text, key in (
        (both, "Read and write access", "fs"),
        (read_only, "Read access", "fs.read"),
        (write_only, "Write access", "fs.write"),
    ):
        for path in paths:
            fs_lines.append(f" - {text} to path {path}")
            flags.append(f"--allow={key}={path}")
    if not lines and not fs_lines:
        return
    text = "Your build is requesting privileges for following possibly insecure capabilities:\n\n"
    text += "".join(f"{line}\n" for line in lines + fs_lines)
    joined = _go_quote(" ".join(flags))
    if interactive:
        text += (
            f"\nIn order to not see this message in the future pass {joined} to grant requested privileges.\n"
        )
    else:
        text += f"\nPass {joined} to grant requested privileges.\n"
    args = list(argv)
    command = next((i for i, word in enumerate(args) if i and word in ("bake", "build")), None)
    if command is not None:
        text += "\nYour full command with requested privileges:\n\n"
        text += f"{' '.join(args[: command + 1])} {' '.join(flags)} {' '.join(args[command + 1 :])}\n\n"
    if not fs_checks and not lines:
        if out is not None:
            out(text)
        return
    if fs_checks and fs_hint and fs_lines:
        text += "To disable filesystem entitlements checks, you can set BUILDX_BAKE_ENTITLEMENTS_FS=0 .\n\n"
    if out is not None:
        out(text)
    if interactive and ask is not None:
        answer = ask("Do you want to grant requested privileges and continue? [y/N] ")
        if answer.strip().lower() == "y":
            return
    # Printed already when there is ``out``; otherwise the error carries the explanation.
    raise BuildError("additional privileges requested", "" if out is not None else text.strip())


def _group(read: Sequence[str], write: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """(read only, write only, both), each sorted: buildx's ``groupSamePaths``."""
    both = sorted(set(read) & set(write))
    return sorted(set(read) - set(both)), sorted(set(write) - set(both)), both


def _go_quote(text: str) -> str:
    """Go's ``%q`` for the printable text a flag list is."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ask_terminal(prompt: str) -> str:
    """buildx's question on the terminal: the prompt on stderr, one line of stdin as the answer."""
    import sys

    sys.stderr.write(prompt)
    sys.stderr.flush()
    return sys.stdin.readline()
