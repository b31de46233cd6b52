"""The HCL standard library buildx bake exposes: importing this package registers
every function with :mod:`bakec.bake.hcl.functions`.

Modules group functions by area; helpers shared between them are private
(``_common``, ``_format``, ``_goregex``).
"""

from __future__ import annotations

from bakec.bake.hcl.functions.stdlib import (  # noqa: F401  (imported for their registrations)
    collections,
    control,
    crypto,
    datetime_fns,
    encoding,
    network,
    numbers,
    paths,
    sets,
    strings,
    versions,
)

#: Names bake resolves as functions but which the evaluator implements itself,
#: because they take unevaluated arguments (``try``, ``can``) or a type (``convert``).
SPECIAL_FORMS = frozenset({"try", "can", "convert"})
