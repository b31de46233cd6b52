"""The Dockerfile frontend: Dockerfile text → :class:`BuildPlan` (plain data).

``compile(text, build_args=, target=, platform=, build_platform=, named_contexts=,
base_image_configs=, resolver=, labels=, entitlements=)`` applies BuildKit's
semantics (directives, word expansion, ARG scoping, stages and targets, ONBUILD,
every instruction, build checks) and returns a frozen plan:

* ``plan.stages``: the stages the target needs, in Dockerfile order; each has a
  ``base`` (scratch / image ref with digest / earlier stage / named context),
  ordered ``steps`` (:class:`RunStep`, :class:`CopyStep`, :class:`AddStep`,
  :class:`WorkdirStep`, :class:`MetaStep`), its image config and its layers.
  ``step.definition()`` holds the fields that define the operation (for keys);
  instruction text, line, history and vertex name are presentation only.
* ``plan.image`` / ``plan.exported_history()`` / ``plan.layer_count``: the config
  and history BuildKit exports, synthesized exporter entries included.
* ``plan.warnings`` (build checks), ``plan.outline()``, ``plan.context_paths``,
  ``plan.known_after_execution``.

Helpers: :func:`check` (``--call check``), :func:`targets` (``--call targets``),
``bakec.dockerfile.dockerignore`` (ignore files, matching, the sent file list)
and ``bakec.dockerfile.context`` (``check_context_sources`` raises, ``missing_context_sources``
lists the COPY/ADD sources missing from a context).
Errors are :class:`DockerfileError` (a ``SpecError``) with ``Dockerfile:LINE``.
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
