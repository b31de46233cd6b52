"""BuildKit's build checks (frontend/dockerfile/linter): rules, config and results.

Checks never change the image. ``# check=skip=<rules>|all;error=true`` (or the
``BUILDKIT_DOCKERFILE_CHECK`` build arg) selects them; with ``error=true`` any
reported warning fails the build with "lint violation found for rules: ...".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bakec.dockerfile.errors import DockerfileError, LintError
from bakec.util.golang import parse_bool

__all__ = ["RULES", "LintConfig", "LintWarning", "Linter"]

_DOCS = "https://docs.docker.com/go/dockerfile/rule/"

# name -> (description, experimental)
RULES: dict[str, tuple[str, bool]] = {
    "StageNameCasing": ("Stage names should be lowercase", False),
    "FromAsCasing": ("The 'as' keyword should match the case of the 'from' keyword", False),
    "NoEmptyContinuation": ("Empty continuation lines will become errors in a future release", False),
    "ConsistentInstructionCasing": (
        "All commands within the Dockerfile should use the same casing (either upper or lower)",
        False,
    ),
    "DuplicateStageName": ("Stage names should be unique", False),
    "ReservedStageName": ("Reserved words should not be used as stage names", False),
    "JSONArgsRecommended": (
        "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals",
        False,
    ),
    "MaintainerDeprecated": (
        "The MAINTAINER instruction is deprecated, use a label instead to define an image author",
        False,
    ),
    "UndefinedArgInFrom": ("FROM command must use declared ARGs", False),
    "WorkdirRelativePath": (
        "Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes",
        False,
    ),
    "UndefinedVar": ("Variables should be defined before their use", False),
    "MultipleInstructionsDisallowed": (
        "Multiple instructions of the same type should not be used in the same stage",
        False,
    ),
    "LegacyKeyValueFormat": ("Legacy key/value format with whitespace separator should not be used", False),
    "InvalidBaseImagePlatform": ("Base image platform does not match expected target platform", False),
    "RedundantTargetPlatform": (
        "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior",
        False,
    ),
    "SecretsUsedInArgOrEnv": ("Sensitive data should not be used in the ARG or ENV commands", False),
    "InvalidDefaultArgInFrom": (
        "Default value for global ARG results in an empty or invalid base image name",
        False,
    ),
    "FromPlatformFlagConstDisallowed": ("FROM --platform flag should not use a constant value", False),
    "CopyIgnoredFile": ("Attempting to Copy file that is excluded by .dockerignore", True),
    "InvalidDefinitionDescription": (
        "Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.",
        True,
    ),
    "ExposeProtoCasing": ("Protocol in EXPOSE instruction should be lowercase", False),
    "ExposeInvalidFormat": (
        "IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release",
        False,
    ),
}


def _kebab(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("-")
        out.append(ch.lower())
    return "".join(out)


@dataclass(frozen=True)
class LintWarning:
    rule: str
    description: str
    detail: str
    line: int
    url: str

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.rule}: {self.detail}{where}"


@dataclass(frozen=True)
class LintConfig:
    skip_all: bool = False
    skip: frozenset[str] = frozenset()
    error: bool = False
    experimental_all: bool = False
    experimental: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> LintConfig:
        """``ParseLintOptions``: ``skip=A,B|all;error=bool;experimental=A|all``."""
        if not text:
            return cls()
        skip_all = error = experimental_all = False
        skip: set[str] = set()
        experimental: set[str] = set()
        for part in text.split(";", 2):
            key, sep, value = part.partition("=")
            if not sep:
                raise DockerfileError(f'failed to parse check options: invalid check option "{part}"')
            key = key.strip()
            value = value.strip()
            if key == "skip":
                if value == "all":
                    skip_all = True
                else:
                    skip |= {v.strip() for v in value.split(",") if v.strip()}
            elif key == "error":
                try:
                    error = parse_bool(value)
                except ValueError as exc:
                    raise DockerfileError(f"failed to parse check options: {exc}") from None
            elif key == "experimental":
                if value == "all":
                    experimental_all = True
                else:
                    experimental |= {v.strip() for v in value.split(",") if v.strip()}
            else:
                raise DockerfileError(f'failed to parse check options: invalid check option "{key}"')
        return cls(skip_all, frozenset(skip), error, experimental_all, frozenset(experimental))


@dataclass
class Linter:
    config: LintConfig = field(default_factory=LintConfig)
    warnings: list[LintWarning] = field(default_factory=list)
    _seen: set[tuple[str, int, str]] = field(default_factory=set)

    def enabled(self, rule: str) -> bool:
        _, experimental = RULES[rule]
        if experimental:
            if not (self.config.experimental_all or rule in self.config.experimental):
                return False
            return rule not in self.config.skip
        if self.config.skip_all:
            return False
        return rule not in self.config.skip

    def run(self, rule: str, line: int, detail: str) -> None:
        if not self.enabled(rule):
            return
        key = (rule, line, detail)
        if key in self._seen:
            return
        self._seen.add(key)
        self.warnings.append(LintWarning(rule, RULES[rule][0], detail, line, _DOCS + _kebab(rule) + "/"))

    def error(self) -> LintError | None:
        if not self.config.error or not self.warnings:
            return None
        rules = sorted({w.rule for w in self.warnings})
        return LintError("lint violation found for rules: " + ", ".join(rules))
