"""``strconv.ParseBool`` in one place, and the callers that read exporter and lint booleans through it."""

from __future__ import annotations

import pytest

from bakec.dockerfile.lint import LintConfig
from bakec.errors import BakecError, BuildError
from bakec.export.image import ExportOptions
from bakec.export.local import platform_split
from bakec.remotecache.export import _bool as cache_bool
from bakec.util.golang import maybe_bool, parse_bool

# Go's strconv atob_test.go table: text, value, or None for ErrSyntax.
ATOB_TESTS = [
    ("", None),
    ("asdf", None),
    ("0", False),
    ("f", False),
    ("F", False),
    ("FALSE", False),
    ("false", False),
    ("False", False),
    ("1", True),
    ("t", True),
    ("T", True),
    ("TRUE", True),
    ("true", True),
    ("True", True),
]


@pytest.mark.parametrize(("text", "want"), ATOB_TESTS)
def test_parse_bool_matches_go(text: str, want: bool | None) -> None:
    assert maybe_bool(text) is want
    if want is None:
        with pytest.raises(ValueError) as err:
            parse_bool(text)
        assert str(err.value) == f'strconv.ParseBool: parsing "{text}": invalid syntax'
    else:
        assert parse_bool(text) is want


@pytest.mark.parametrize("text", ["tRuE", "yes", "on", " true", "2"])
def test_other_spellings_are_not_bools(text: str) -> None:
    assert maybe_bool(text) is None


def test_the_error_quotes_the_text_as_go() -> None:
    with pytest.raises(ValueError, match=r'parsing "a\\"b\\n": invalid syntax'):
        parse_bool('a"b\n')


# Behaviour that changed when the exporters moved onto parse_bool: BuildKit's exporters call
# strconv.ParseBool (``parseBoolOrTrue`` for image attributes: an empty value is true), so "T"
# and "F" are booleans and "tRuE" is not.


def test_image_exporter_attributes_read_as_buildkit() -> None:
    opts = ExportOptions.parse({"oci-mediatypes": "F", "force-compression": "T", "tar": ""})
    assert (opts.oci_mediatypes, opts.force_compression, opts.tar) == (False, True, True)
    with pytest.raises(BuildError) as err:
        ExportOptions.parse({"rewrite-timestamp": "tRuE"})
    assert str(err.value) == (
        'non-bool value specified for rewrite-timestamp: strconv.ParseBool: parsing "tRuE": invalid syntax'
    )


def test_cache_exporter_attributes_read_as_buildkit() -> None:
    assert cache_bool("ignore-error", "T") is True
    with pytest.raises(BuildError) as err:
        cache_bool("oci-mediatypes", "")  # strconv.ParseBool("") is a syntax error in BuildKit too
    assert str(err.value) == 'failed to parse oci-mediatypes: strconv.ParseBool: parsing "": invalid syntax'


def test_local_platform_split_message() -> None:
    assert platform_split({"platform-split": "F"}) is False
    with pytest.raises(BakecError) as err:
        platform_split({"platform-split": "no"})
    assert str(err.value).startswith(
        'non-bool value for platform-split: no: strconv.ParseBool: parsing "no": invalid syntax'
    )


def test_lint_error_option_reads_as_buildkit() -> None:
    assert LintConfig.parse("error=T").error is True
    assert LintConfig.parse("error=FALSE").error is False
    with pytest.raises(BakecError, match='strconv.ParseBool: parsing "tRuE": invalid syntax'):
        LintConfig.parse("error=tRuE")
