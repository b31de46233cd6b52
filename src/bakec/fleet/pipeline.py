"""What every emitted pipeline shares: the YAML dump, shell text of a command, runner hints."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from bakec._version import __version__

__all__ = ["INSTALL", "dump", "hosted_runner", "plan_command", "shell"]

# how a runner gets bakec: the version that wrote the plan, so every shard reads it the same way
INSTALL = f'python3 -m pip install "bakec=={__version__}"'


class _Dumper(yaml.SafeDumper):
    """Block style, long lines kept, multi-line strings as ``|`` blocks, no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(*documents: Any) -> str:
    """YAML documents in key order as built (deterministic), separated by ``---``."""
    return yaml.dump_all(
        documents, Dumper=_Dumper, sort_keys=False, width=1 << 16, explicit_start=len(documents) > 1
    )


def shell(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def plan_command(document: Mapping[str, Any], fmt: str = "json") -> list[str]:
    """The ``bakec plan`` that recomputes ``document`` (its recorded inputs), writing ``fmt``."""
    inputs = document["inputs"]
    argv = ["bakec", "plan"]
    for f in inputs["files"]:
        argv += ["-f", f]
    for o in inputs["set"]:
        argv += ["--set", o]
    for k, v in inputs["var"].items():
        argv += ["--var", f"{k}={v}"]
    argv += ["--resolve", document["base_images"]["resolver"]]
    if document["costs"] != "static":
        argv += ["--costs", document["costs"]]
    argv += ["--shards", str(inputs["shards"]), "--cache-repo", document["cache_repo"]]
    argv += ["--plan-file", inputs["plan_file"], "--format", fmt, *inputs["targets"]]
    return argv


# GitHub-hosted runner labels per native platform; anything else runs emulated on amd64
_GITHUB_RUNNERS = {"linux/amd64": "ubuntu-24.04", "linux/arm64": "ubuntu-24.04-arm"}


def hosted_runner(platforms: Sequence[str]) -> str:
    """A runner whose CPU runs ``platforms`` natively, where one exists (a ``runs-on`` hint)."""
    native = sorted({p for p in platforms if p in _GITHUB_RUNNERS})
    return _GITHUB_RUNNERS[native[0] if len(native) == 1 else "linux/amd64"]
