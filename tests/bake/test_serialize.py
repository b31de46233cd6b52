"""cattrs round trips of the model with bake names."""

from bakec.bake.model import Group, Target
from bakec.bake.serialize import structure_target, unstructure_group, unstructure_target


def test_target_unstructures_with_bake_names_and_omits_unset_fields():
    target = Target(name="app", no_cache=False, cache_from=[{"type": "registry", "ref": "a/b"}], tags=["a:1"])
    assert unstructure_target(target) == {
        "name": "app",
        "tags": ["a:1"],
        "cache-from": [{"type": "registry", "ref": "a/b"}],
        "no-cache": False,
    }


def test_target_round_trips():
    target = Target(name="app", args={"A": "1"}, extra_hosts={"h": "1.2.3.4"}, platforms=["linux/arm64"])
    assert structure_target(unstructure_target(target)) == target


def test_group_unstructures():
    assert unstructure_group(Group("g", ["a", "b"])) == {"name": "g", "targets": ["a", "b"]}
