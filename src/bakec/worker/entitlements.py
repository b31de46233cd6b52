"""Entitlements: the privileges a build must be granted with ``--allow``.

Two checks, with buildx's and BuildKit's wording:

- :meth:`Entitlements.check_exec` is BuildKit's ``ValidateEntitlements``: a RUN with
  ``--network=host`` or ``--security=insecure`` that was not allowed fails with
  "network.host is not allowed" / "security.insecure is not allowed". The executor runs
  it before anything is started, whatever the frontend checked.
- :func:`grant` is bake's up-front check of what the targets request against ``--allow``:
  without a terminal (CI) a missing entitlement fails at once with buildx's message and
  never prompts.

``fs.read``/``fs.write`` paths are parsed and kept; checking them is bake's job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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
    argv: Sequence[str] = (),
    interactive: bool = False,
    ask: Callable[[str], str] | None = None,
    out: Callable[[str], None] | None = None,
) -> None:
    """bake's check of the targets' ``entitlements`` against ``--allow``.

    Prints buildx's explanation of what is missing (to ``out``), asks on a terminal, and
    raises :class:`BuildError` "additional privileges requested" when not granted. Without a
    terminal it never asks.
    """
    missing = [
        name
        for name in (NETWORK_HOST, SECURITY_INSECURE)
        if name in set(requested) and name not in allowed.names
    ]
    if not missing:
        return
    flags = [f"--allow={name}" for name in missing]
    lines = ["Your build is requesting privileges for following possibly insecure capabilities:", ""]
    lines += [_DESCRIPTIONS[name] for name in missing]
    lines.append("")
    if interactive:
        lines.append(
            f'In order to not see this message in the future pass "{" ".join(flags)}" to grant requested privileges.'
        )
    else:
        lines.append(f'Pass "{" ".join(flags)}" to grant requested privileges.')
    args = list(argv)
    if "bake" in args:
        i = args.index("bake")
        lines += ["", "Your full command with requested privileges:", ""]
        lines.append(f"{' '.join(args[: i + 1])} {' '.join(flags)} {' '.join(args[i + 1 :])}")
        lines.append("")
    text = "\n".join(lines) + "\n"
    if out is not None:
        out(text)
    if interactive and ask is not None:
        answer = ask("Do you want to grant requested privileges and continue? [y/N] ")
        if answer.strip().lower() == "y":
            return
    # Printed already when there is ``out``; otherwise the error carries the explanation.
    raise BuildError("additional privileges requested", "" if out is not None else text.strip())
