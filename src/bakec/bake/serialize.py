"""cattrs converters between the model and plain dicts keyed by bake names.

``unstructure_target`` gives the JSON shape of a target (bake names, unset
fields left out); ``structure_target`` builds a Target from such a dict. The
field renames come from the model's metadata, so they cannot drift from it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from bakec.bake.model import Group, Target, target_fields


@lru_cache(maxsize=1)
def converter():
    import cattrs
    from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

    conv = cattrs.Converter(omit_if_default=True)
    renames = {f.name: override(rename=f.metadata["bake"]) for f in target_fields()}
    conv.register_unstructure_hook(
        Target, make_dict_unstructure_fn(Target, conv, _cattrs_omit_if_default=True, **renames)
    )
    conv.register_structure_hook(Target, make_dict_structure_fn(Target, conv, **renames))
    conv.register_structure_hook(Any, lambda value, _: value)
    return conv


def unstructure_target(target: Target) -> dict[str, Any]:
    """A target as a dict keyed by bake names (``cache-from``, ``no-cache``...), unset fields omitted."""
    return converter().unstructure(target)


def structure_target(data: dict[str, Any]) -> Target:
    """A Target from a dict keyed by bake names plus ``name``."""
    return converter().structure(data, Target)


def unstructure_group(group: Group) -> dict[str, Any]:
    return converter().unstructure(group)
