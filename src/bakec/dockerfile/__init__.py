"""The Dockerfile frontend: Dockerfile text → :class:`BuildPlan` (plain data).

``compile`` applies BuildKit's semantics (directives, word expansion, ARG
scoping, stages and targets, ONBUILD, every instruction, build checks) and
computes the image config and history BuildKit would export. The graph layer
turns the plan's steps into content-addressed operations.
"""

from bakec.dockerfile.convert import NamedContext, TargetInfo, check, compile, targets
from bakec.dockerfile.errors import DockerfileError, LintError
from bakec.dockerfile.model import (
    AddStep,
    ArgInfo,
    Base,
    BuildPlan,
    CopyStep,
    HistoryEntry,
    ImageConfig,
    InlineFile,
    Layer,
    MetaStep,
    Mount,
    ResolvedImage,
    RunStep,
    Source,
    Stage,
    Step,
    WorkdirStep,
)

__all__ = [
    "AddStep",
    "ArgInfo",
    "Base",
    "BuildPlan",
    "CopyStep",
    "DockerfileError",
    "HistoryEntry",
    "ImageConfig",
    "InlineFile",
    "Layer",
    "LintError",
    "MetaStep",
    "Mount",
    "NamedContext",
    "ResolvedImage",
    "RunStep",
    "Source",
    "Stage",
    "Step",
    "TargetInfo",
    "WorkdirStep",
    "check",
    "compile",
    "targets",
]
