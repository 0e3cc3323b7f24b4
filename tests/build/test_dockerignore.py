""".dockerignore: Docker's pattern rules, file reading, and the filtered context walk."""

from __future__ import annotations

import pytest

from client.build.dockerignore import DockerIgnore, IgnoreFileError, read_patterns


def ignore(*lines: str) -> DockerIgnore:
    return DockerIgnore.from_text("\n".join(lines) + "\n")


def test_reading_cleans_patterns_and_skips_comments():
    text = "\ufeff# comment\n  \n /abs/path/ \n./rel//x/\n!  keep.md\n  # not a comment\n*\n"
    assert read_patterns(text) == ["abs/path", "rel/x", "!keep.md", "# not a comment", "*"]


@pytest.mark.parametrize("pattern, path, excluded", [
    ("*.md", "README.md", True),
    ("*.md", "docs/README.md", False),          # * never crosses /
    ("*/*.md", "docs/README.md", True),
    ("**/*.md", "README.md", True),             # ** is zero or more directories
    ("**/*.md", "a/b/c/README.md", True),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("a/**", "a/x", True),
    ("**", "anything/at/all", True),
    ("node_modules", "node_modules/pkg/index.js", True),   # a directory covers its contents
    ("build/", "build/out.o", True),
    ("/build", "build", True),
    ("temp?", "temp1", True),
    ("temp?", "temp/", False),
    ("temp?", "temp12", False),
    ("[a-c].txt", "b.txt", True),
    ("[^a-c].txt", "b.txt", False),
    ("[!a-c].txt", "d.txt", True),
    ("file\\*.txt", "file*.txt", True),
    ("file\\*.txt", "fileX.txt", False),
    ("a.b", "axb", False),                       # regex specials are literal
    ("f(1)+$", "f(1)+$", True),
    ("../outside", "outside", False),
])
def test_patterns(pattern, path, excluded):
    assert ignore(pattern).excluded(path) is excluded


def test_exceptions_and_order_last_match_wins():
    rules = ignore("*.md", "!README*.md", "README-secret.md")
    assert rules.excluded("CHANGES.md")
    assert not rules.excluded("README.md")
    assert rules.excluded("README-secret.md")
    assert not ignore("!README.md", "*.md").excluded("x.txt")
    assert ignore("!README.md", "*.md").excluded("README.md")


def test_exception_below_an_excluded_directory():
    rules = ignore("docs", "!docs/keep.txt")
    assert rules.excluded("docs")
    assert rules.excluded("docs/other.txt")
    assert not rules.excluded("docs/keep.txt")
    assert rules.has_exceptions


def test_everything_but():
    rules = ignore("*", "!src", "src/**/*.pyc")
    assert rules.excluded("Dockerfile")
    assert not rules.excluded("src/app.py")
    assert rules.excluded("src/pkg/mod.pyc")


def test_illegal_exclusion():
    with pytest.raises(IgnoreFileError, match="illegal exclusion pattern"):
        read_patterns("!\n")
    with pytest.raises(IgnoreFileError, match="unclosed character class"):
        ignore("[abc")


def test_walk_filters_the_context(tmp_path):
    for name in ["app.py", "README.md", "docs/a.md", "docs/keep.txt", ".git/HEAD",
                 "src/x.pyc", "src/y.py"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    (tmp_path / ".dockerignore").write_text(".git\n*.md\ndocs\n!docs/keep.txt\n**/*.pyc\n")
    rules = DockerIgnore.for_context(tmp_path)
    assert [path for path, _ in rules.walk(tmp_path)] == [
        ".dockerignore", "app.py", "docs/keep.txt", "src", "src/y.py"]


def test_dockerfile_specific_ignore_file_wins(tmp_path):
    (tmp_path / ".dockerignore").write_text("a\n")
    (tmp_path / "build.Dockerfile.dockerignore").write_text("b\n")
    rules = DockerIgnore.for_context(tmp_path, tmp_path / "build.Dockerfile")
    assert rules.excluded("b") and not rules.excluded("a")
    assert DockerIgnore.for_context(tmp_path / "missing").patterns == []
