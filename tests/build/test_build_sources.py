"""Where COPY and ADD read from: other stages' merged file systems, --parents, git.

Needs root and busybox-static like every build test; the git test needs git
and serves a bare repository over dumb HTTP on 127.0.0.1.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from .buildkit import BASE_LAYERS, NEEDS_ROOT_AND_BUSYBOX, write_context

pytestmark = NEEDS_ROOT_AND_BUSYBOX


def _members(dockyard, name: str) -> list[list[tarfile.TarInfo]]:
    manifest, _ = dockyard.image(name)
    layers = []
    for descriptor in manifest["layers"]:
        with tarfile.open(fileobj=io.BytesIO(dockyard.blob(descriptor["digest"]))) as tar:
            layers.append(tar.getmembers())
    return layers


def test_copy_from_reads_the_merged_view_of_the_stage(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox:test AS src
RUN mkdir -p /tree/sub && echo old > /tree/sub/old && echo keep > /tree/keep && echo x > /tree/gone
RUN rm /tree/gone && rm -rf /tree/sub && mkdir /tree/sub && echo new > /tree/sub/new
FROM scratch
COPY --from=src /tree /tree
COPY --from=src --chown=1234 /tree/keep /owned
COPY --from=src /bin/s[h] /bin/
"""})
    code, _, err = dockyard.build(context, "-t", "from:1")
    assert code == 0, err
    names = dockyard.layer_names("from:1")
    assert names[0] == ["tree", "tree/keep", "tree/sub", "tree/sub/new"]  # no gone, no old
    owned = _members(dockyard, "from:1")[1][0]
    assert (owned.uid, owned.gid) == (1234, 1234)        # a number alone is the group too
    link = _members(dockyard, "from:1")[2][-1]
    assert link.name == "bin/sh" and link.issym() and link.linkname == "busybox"


def test_chown_names_come_from_the_destination_image(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {"Dockerfile": """FROM busybox:test
COPY --from=busybox:test --chown=app /etc/group /by-name
"""})
    code, _, err = dockyard.build(context, "-t", "chown:1")
    assert code == 0, err
    member = _members(dockyard, "chown:1")[-1][0]
    assert (member.name, member.uid, member.gid) == ("by-name", 1000, 1000)
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY --from=busybox:test --chown=app /etc/group /by-name\n")
    code, _, err = dockyard.build(context)
    assert code == 1 and "unable to find user app: no matching entries in passwd file" in err


def test_copy_from_a_missing_path_says_where(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox:test AS src\nFROM scratch\nCOPY --from=src /nope /x\n"})
    code, _, err = dockyard.build(context)
    assert code == 1 and "/nope: no such file or directory in the --from stage" in err


def test_copy_parents_keeps_source_paths(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {
        "Dockerfile": "FROM scratch\nCOPY --parents a/x.txt b/c/y.txt /out/\n"
                      "COPY --parents ./src/./pkg/*.py /app/\nCOPY --parents dir /d/\n",
        "a/x.txt": "x", "b/c/y.txt": "y", "src/pkg/m.py": "m", "src/pkg/n.py": "n",
        "src/other.txt": "o", "dir/f": "f"})
    code, _, err = dockyard.build(context, "-t", "parents:1")
    assert code == 0, err
    assert dockyard.layer_names("parents:1") == [
        ["out", "out/a", "out/a/x.txt", "out/b", "out/b/c", "out/b/c/y.txt"],
        ["app", "app/pkg", "app/pkg/m.py", "app/pkg/n.py"],
        ["d", "d/dir", "d/dir/f"]]


@pytest.fixture
def git_repo(tmp_path, file_server):
    """A bare repository served over dumb HTTP: tag v1 has sub/a; main then adds sub/b."""
    if shutil.which("git") is None:
        pytest.skip("needs git (Debian package)")
    served, url = file_server
    work = tmp_path / "work"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(work)]
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    write_context(work, {"sub/a": "a\n", "top": "top\n"})
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    subprocess.run([*git, "tag", "v1"], check=True)
    bare = served / "repo.git"

    def publish() -> None:
        shutil.rmtree(bare, ignore_errors=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
        subprocess.run(["git", "-C", str(bare), "update-server-info"], check=True)

    def commit(name: str) -> None:
        write_context(work, {name: name + "\n"})
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-q", "-m", name], check=True)
        publish()

    publish()
    return f"{url}/repo.git", commit


def test_add_from_git_at_a_ref_and_subdir(dockyard, tmp_path, git_repo):
    url, commit = git_repo
    context = write_context(tmp_path / "ctx", {"Dockerfile": f"""\
FROM scratch
ADD {url}#v1:sub /at-tag/
ADD {url} /head/
"""})
    code, _, err = dockyard.build(context, "-t", "git:1")
    assert code == 0, err
    assert dockyard.layer_names("git:1") == [["at-tag", "at-tag/a"],
                                             ["head", "head/sub", "head/sub/a", "head/top"]]
    code, _, err = dockyard.build(context, "-t", "git:1")
    assert code == 0 and err.count("CACHED") == 2
    commit("sub/b")                                    # main moves; v1 does not
    code, _, err = dockyard.build(context, "-t", "git:2")
    assert code == 0 and err.count("CACHED") == 1, err
    assert "head/sub/b" in dockyard.layer_names("git:2")[1]
    (context / "Dockerfile").write_text(f"FROM scratch\nADD --keep-git-dir=true {url}#v1 /k/\n")
    code, _, err = dockyard.build(context, "-t", "git:3")
    assert code == 0, err
    assert {"k/top", "k/sub/a", "k/.git/HEAD"} <= set(dockyard.layer_names("git:3")[0])
    v1 = subprocess.run(["git", "ls-remote", url, "v1"], capture_output=True, text=True,
                        check=True).stdout.split()[0]
    (context / "Dockerfile").write_text(f"FROM scratch\nADD --checksum={v1[:12]} {url}#v1 /k/\n")
    assert dockyard.build(context)[0] == 0                  # the commit, as BuildKit checks
    (context / "Dockerfile").write_text(f"FROM scratch\nADD --checksum=0123abc {url}#v1 /k/\n")
    code, _, err = dockyard.build(context)
    assert code == 1 and "not 0123abc (--checksum)" in err
    (context / "Dockerfile").write_text(f"FROM scratch\nADD {url}#nosuchref /x/\n")
    code, _, err = dockyard.build(context)
    assert code == 1 and "no ref 'nosuchref'" in err


def test_output_types(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox:test AS build
RUN mkdir /out && echo artifact > /out/a && ln -s a /out/link
FROM scratch
COPY --from=build /out /
COPY a /a
""", "a": "replaced\n"})
    local, archive, oci = tmp_path / "local", tmp_path / "files.tar", tmp_path / "oci.tar"
    for spec in (f"type=local,dest={local}", f"type=tar,dest={archive}",
                 f"type=oci,dest={oci}"):
        code, _, err = dockyard.build(context, "-t", "out:1", "--output", spec)
        assert code == 0, err
    assert (local / "a").read_text() == "replaced\n"          # the top layer's file
    assert os.readlink(local / "link") == "a"
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["a", "link"]
        assert tar.extractfile("a").read() == b"replaced\n"
    with tarfile.open(oci) as tar:
        assert {"oci-layout", "index.json"} <= set(tar.getnames())
    piped = subprocess.run(
        [sys.executable, "-m", "client", "--root", str(dockyard.root), "build", "-q",
         "--network=none", "--output", "type=tar,dest=-", str(context)],
        capture_output=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2], stdin=subprocess.DEVNULL)
    assert piped.returncode == 0, piped.stderr
    with tarfile.open(fileobj=io.BytesIO(piped.stdout)) as tar:  # the tar alone on stdout
        assert sorted(tar.getnames()) == ["a", "link"]
    code, _, err = dockyard.build(context, "--output", "type=registry")
    assert code == 1 and "unsupported --output 'type=registry'" in err


def test_named_build_contexts(dockyard, tmp_path):
    shared = write_context(tmp_path / "shared", {"lib.txt": "shared lib\n", "skip.log": "x",
                                                 ".dockerignore": "*.log\n"})
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM base
COPY --from=shared lib.txt /lib.txt
RUN --mount=type=bind,from=shared,target=/s cat /s/lib.txt > /copy && test ! -e /s/skip.log
FROM scratch AS shared
"""})
    code, _, err = dockyard.build(context, "-t", "named:1", "--target", "0",
                                  "--build-context", f"shared={shared}",
                                  "--build-context", "base=docker-image://busybox:test")
    assert code == 0, err
    assert dockyard.read("named:1", "lib.txt") == dockyard.read("named:1", "copy") == \
        "shared lib\n"
    assert dockyard.image("named:1")[0]["layers"][:BASE_LAYERS] == \
        dockyard.image("busybox:test")[0]["layers"]           # FROM base was the image
    code, _, err = dockyard.build(context, "--target", "0", "--build-context",
                                  f"base={shared}")
    assert code == 1 and "build context 'base' is a directory" in err
