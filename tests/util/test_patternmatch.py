"""util/patternmatch against moby/patternmatcher's own test table.

The cases below are transcribed as data from moby/patternmatcher's ``patternmatcher_test.go``
(github.com/moby/patternmatcher, commit 5a6d842; BuildKit vendors v0.6.1 with the same
``compile``): ``TestMatches`` (``tests``, ``multiPatternTests``), ``TestMatch``
(``matchTests``, Go's own ``filepath.Match`` table), ``TestCompile`` (``compileTests``,
slash separator) and the smaller named tests. Windows-only rows are left out.
"""

from __future__ import annotations

import posixpath

import pytest

from bakec.errors import PatternError
from bakec.util.patternmatch import PatternMatcher, clean_pattern, go_match, moby_regexp

# TestMatches: tests (pattern, text, pass), plus the non-Windows row {"a\\*b", "a*b", true}
MATCHES = [
    ("**", "file", True),
    ("**", "file/", True),
    ("**/", "file", True),
    ("**/", "file/", True),
    ("**", "/", True),
    ("**/", "/", True),
    ("**", "dir/file", True),
    ("**/", "dir/file", True),
    ("**", "dir/file/", True),
    ("**/", "dir/file/", True),
    ("**/**", "dir/file", True),
    ("**/**", "dir/file/", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True),
    ("dir/**", "dir/dir2/file/", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file/", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    (
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        True,
    ),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True),
]

# TestMatches: multiPatternTests (patterns, text, pass)
MULTI = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (
        ["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        False,
    ),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
]

# matchTests (pattern, s, match, err): run through the package-level Matches; err is ErrBadPattern
MATCH_TESTS = [
    ("abc", "abc", True, False),
    ("*", "abc", True, False),
    ("*c", "abc", True, False),
    ("a*", "a", True, False),
    ("a*", "abc", True, False),
    ("a*", "ab/c", True, False),
    ("a*/b", "abc/b", True, False),
    ("a*/b", "a/c/b", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False, False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True, False),
    ("a*b?c*x", "abxbbxdbxebxczzy", False, False),
    ("ab[c]", "abc", True, False),
    ("ab[b-d]", "abc", True, False),
    ("ab[e-g]", "abc", False, False),
    ("ab[^c]", "abc", False, False),
    ("ab[^b-d]", "abc", False, False),
    ("ab[^e-g]", "abc", True, False),
    ("a\\*b", "a*b", True, False),
    ("a\\*b", "ab", False, False),
    ("a?b", "a☺b", True, False),
    ("a[^a]b", "a☺b", True, False),
    ("a???b", "a☺b", False, False),
    ("a[^a][^a][^a]b", "a☺b", False, False),
    ("[a-ζ]*", "α", True, False),
    ("*[a-ζ]", "A", False, False),
    ("a?b", "a/b", False, False),
    ("a*b", "a/b", False, False),
    ("[\\]a]", "]", True, False),
    ("[\\-]", "-", True, False),
    ("[x\\-]", "x", True, False),
    ("[x\\-]", "-", True, False),
    ("[x\\-]", "z", False, False),
    ("[\\-x]", "x", True, False),
    ("[\\-x]", "-", True, False),
    ("[\\-x]", "a", False, False),
    ("[]a]", "]", False, True),
    ("[-]", "-", False, True),
    ("[x-]", "x", False, True),
    ("[x-]", "-", False, True),
    ("[x-]", "z", False, True),
    ("[-x]", "x", False, True),
    ("[-x]", "-", False, True),
    ("[-x]", "a", False, True),
    ("\\", "a", False, True),
    ("[a-b-c]", "a", False, True),
    ("[", "a", False, True),
    ("[^", "a", False, True),
    ("[^bc", "a", False, True),
    ("a[", "a", False, True),
    ("a[", "ab", False, True),
    ("*x", "xxx", True, False),
]

# compileTests (pattern, matchType, compiledRegexp) for the "/" separator
COMPILE = [
    ("*", "regexp", "^[^/]*$"),
    ("file*", "regexp", "^file[^/]*$"),
    ("*file", "regexp", "^[^/]*file$"),
    ("a*/b", "regexp", "^a[^/]*/b$"),
    ("**", "suffix", ""),
    ("**/**", "regexp", "^(.*/)?.*$"),
    ("dir/**", "prefix", ""),
    ("**/dir", "suffix", ""),
    ("**/dir2/*", "regexp", "^(.*/)?dir2/[^/]*$"),
    ("**/dir2/**", "regexp", "^(.*/)?dir2/.*$"),
    ("**file", "suffix", ""),
    ("**/file*txt", "regexp", "^(.*/)?file[^/]*txt$"),
    ("**/**/*.txt", "regexp", "^(.*/)?(.*/)?[^/]*\\.txt$"),
    ("a[b-d]e", "regexp", "^a[b-d]e$"),
    (".*", "regexp", "^\\.[^/]*$"),
    ("abc.def", "exact", ""),
    ("abc?def", "regexp", "^abc[^/]def$"),
    ("**/foo/bar", "suffix", ""),
    ("a(b)c/def", "exact", ""),
    ("a.|)$(}+{bc", "exact", ""),
    ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "exact", ""),
]


def _package_matches(file: str, patterns: list[str]) -> bool:
    """moby's package-level ``MatchesOrParentMatches``: clean the path, never match ``.``."""
    matcher = PatternMatcher(patterns)
    file = clean_pattern(file)
    return file != "." and matcher.matches(file)


def _walk_with_parent_results(matcher: PatternMatcher, text: str) -> bool:
    """The ``MatchesUsingParentResults`` subtest: parents first, each passing its results on."""
    parent = posixpath.dirname(text) or "."
    info: tuple[bool, ...] | None = None
    if parent != ".":
        dirs = parent.split("/")
        for i in range(len(dirs)):
            _, info = matcher.matches_with_parent("/".join(dirs[: i + 1]), info)
    return matcher.matches_with_parent(text, info)[0]


@pytest.mark.parametrize(("pattern", "text", "passes"), MATCHES)
def test_matches(pattern: str, text: str, passes: bool) -> None:
    matcher = PatternMatcher([pattern])
    assert matcher.matches(text) is passes
    assert _walk_with_parent_results(matcher, text) is passes
    assert matcher.matches_with_parent(text, None)[0] is passes  # "NoContext"


@pytest.mark.parametrize(("patterns", "text", "passes"), MULTI)
def test_multi_pattern_matches(patterns: list[str], text: str, passes: bool) -> None:
    matcher = PatternMatcher(patterns)
    assert matcher.matches(text) is passes
    assert _walk_with_parent_results(matcher, text) is passes
    assert matcher.matches_with_parent(text, None)[0] is passes


@pytest.mark.parametrize(("pattern", "text", "matched", "bad"), MATCH_TESTS)
def test_filepath_match_table(pattern: str, text: str, matched: bool, bad: bool) -> None:
    if bad:
        with pytest.raises(PatternError):
            _package_matches(text, [pattern])
        assert go_match(pattern, text) is False
    else:
        assert _package_matches(text, [pattern]) is matched


@pytest.mark.parametrize(("pattern", "kind", "regexp"), COMPILE)
def test_compile(pattern: str, kind: str, regexp: str) -> None:
    assert moby_regexp(posixpath.normpath(pattern)) == (kind, regexp)


@pytest.mark.parametrize(
    ("text", "patterns", "passes"),
    [
        ("fileutils.go", ["*"], True),  # TestWildcardMatches
        ("fileutils.go", ["*.go"], True),  # TestPatternMatches
        ("fileutils.go", ["!fileutils.go", "*.go"], True),  # TestExclusionPatternMatchesPatternBefore
        ("docs/README.md", ["docs", "!docs/README.md"], False),  # TestPatternMatchesFolderExclusions
        ("docs/README.md", ["docs/", "!docs/README.md"], False),  # ...WithSlashExclusions
        ("docs/README.md", ["docs/*", "!docs/README.md"], False),  # ...WildcardExclusions
        ("fileutils.go", ["*.go", "!fileutils.go"], False),  # TestExclusionPatternMatchesPatternAfter
        (".", ["*.go"], False),  # TestExclusionPatternMatchesWholeDirectory
        ("/any/path/there", [], False),  # TestMatchesWithNoPatterns
    ],
)
def test_named_cases(text: str, patterns: list[str], passes: bool) -> None:
    assert _package_matches(text, patterns) is passes


def test_bad_patterns_are_errors() -> None:
    with pytest.raises(PatternError):  # TestSingleExclamationError, TestCleanPatternsErrorSingleException
        PatternMatcher(["!"])
    with pytest.raises(PatternError):  # TestMatchesWithMalformedPatterns
        _package_matches("/any/path/there", ["["])


def test_clean_patterns() -> None:
    assert len(PatternMatcher(["docs", "config"]).patterns) == 2  # TestCleanPatterns
    assert len(PatternMatcher(["docs", "config", ""]).patterns) == 2  # ...StripEmptyPatterns
    for patterns in (
        ["docs", "!docs/README.md"],
        ["docs", "  !docs/README.md"],
        ["docs", "!docs/README.md  "],
    ):
        assert PatternMatcher(patterns).exclusions  # ...ExceptionFlag, ...Leading/TrailingSpaceTrimmed
    assert not PatternMatcher(["docs"]).exclusions


def test_regexp_error_is_reported_on_every_match_not_at_construction() -> None:
    # TestMatchesOrParentMatchesMalformedPatternDoesNotPanicOnRepeatedCall: filepath.Match accepts
    # "[Local-Only]", RE2 rejects the range l-O, and the error comes back on each call
    matcher = PatternMatcher(["[Local-Only]/"])
    for _ in range(2):
        with pytest.raises(PatternError):
            matcher.matches("x")


# Beyond moby's table: the RE2 reading of classes and escapes that the copy once got wrong.
@pytest.mark.parametrize(
    ("pattern", "text", "passes"),
    [
        ("[^a]", "b", True),
        ("[^a]", "a", False),
        ("[!a]", "!", True),
        ("[!a]", "b", False),
        ("x[^a]y", "x/y", True),  # an RE2 negated class also matches "/"
        ("[[:digit:]]x", "7x", True),
        ("[[:digit:]]x", "ax", False),
        ("a^b", "a^b", True),  # no regexp character: compared as text
        ("a^b*", "a^bc", False),  # in a regexp RE2 reads a bare ^ as an anchor
        ("a\\.b", "a.b", True),
        ("a\\.b", "axb", False),
        ("v[\\d]", "v7", True),
    ],
)
def test_re2_reading(pattern: str, text: str, passes: bool) -> None:
    assert PatternMatcher([pattern]).matches(text) is passes
