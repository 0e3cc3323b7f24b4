"""``dockyard build`` end to end: real RUN containers over the tests' busybox image.

Needs root (containers, overlay mounts, file ownership) and Debian's
busybox-static; the base image is made locally (``buildkit.with_busybox``),
so no registry or download is involved.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest

from .buildkit import BASE_LAYERS, NEEDS_ROOT_AND_BUSYBOX, write_context

pytestmark = NEEDS_ROOT_AND_BUSYBOX


def test_every_instruction_and_the_config(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox:test
ARG VERSION=1.0
ENV APP_HOME=/srv/app PATH=/srv/app/bin:$PATH
LABEL org.example.version=$VERSION
WORKDIR $APP_HOME
COPY --chown=app:app hello.txt ./
ADD data.tar.gz /data/
RUN echo "built $VERSION" > built.txt && id -u > /uid
USER app
EXPOSE 8080 53/udp
VOLUME /var/lib/app
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --retries=2 CMD ["true"]
SHELL ["/bin/sh", "-e", "-c"]
ONBUILD RUN echo child
ENTRYPOINT ["/bin/sh", "-c"]
CMD echo $APP_HOME
""", "hello.txt": "hello\n"})
    with tarfile.open(context / "data.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("inner/file.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"data\n"))
    code, out, err = dockyard.build(context, "-t", "app:1", "--label", "extra=yes")
    assert code == 0, err
    manifest, config = dockyard.image("app:1")
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    run = config["config"]
    assert run["Env"] == ["PATH=/srv/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                          "/sbin:/bin", "APP_HOME=/srv/app"]
    assert run["Labels"] == {"org.example.version": "1.0", "extra": "yes"}
    assert run["WorkingDir"] == "/srv/app"
    assert run["User"] == "app"
    assert run["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert run["Volumes"] == {"/var/lib/app": {}}
    assert run["StopSignal"] == "SIGTERM"
    assert run["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 30 * 10**9, "Retries": 2}
    assert run["Shell"] == ["/bin/sh", "-e", "-c"]
    assert run["OnBuild"] == ["RUN echo child"]
    assert run["Entrypoint"] == ["/bin/sh", "-c"]
    assert run["Cmd"] == ["/bin/sh", "-e", "-c", "echo $APP_HOME"]
    assert len(config["rootfs"]["diff_ids"]) == len(manifest["layers"]) == BASE_LAYERS + 4
    layered = [h for h in config["history"] if not h.get("empty_layer")]
    assert len(layered) == BASE_LAYERS + 4
    assert config["history"][-1]["created_by"] == "CMD echo $APP_HOME"
    assert config["created"] == config["history"][-1]["created"]
    assert all(entry.get("created") for entry in config["history"][BASE_LAYERS:])
    assert any(h["created_by"].startswith("RUN |1 VERSION=1.0 /bin/sh -c echo")
               for h in config["history"])
    names = dockyard.layer_names("app:1")[BASE_LAYERS:]
    assert names[0] == ["srv", "srv/app"]                       # WORKDIR made the directory
    assert names[1] == ["srv", "srv/app", "srv/app/hello.txt"]
    assert "data/inner/file.txt" in names[2]                   # ADD unpacked the archive
    assert sorted(names[3]) == ["srv", "srv/app", "srv/app/built.txt", "uid"]


def test_multistage_copy_from_and_target(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox:test AS build
RUN mkdir /out && echo artifact > /out/app.bin
FROM busybox:test AS unused
RUN false
FROM scratch AS final
COPY --from=build /out/app.bin /app.bin
FROM final AS debug
COPY --from=0 /bin/busybox /bin/busybox
"""})
    code, _, err = dockyard.build(context, "-t", "multi:1", "--target", "final")
    assert code == 0, err
    assert "RUN false" not in err                      # the stage final does not need
    assert dockyard.layer_names("multi:1") == [["app.bin"]]
    code, _, err = dockyard.build(context, "-t", "multi:debug")
    assert code == 0, err
    assert dockyard.layer_names("multi:debug") == [["app.bin"], ["bin", "bin/busybox"]]


def test_dockerignore_applies_to_copy(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {
        "Dockerfile": "FROM scratch\nCOPY . /ctx/\n", ".dockerignore": "*.log\nsecret/\n!keep.log\n",
        "a.txt": "a", "debug.log": "x", "keep.log": "k", "secret/key": "s"})
    code, _, err = dockyard.build(context, "-t", "ignored:1")
    assert code == 0, err
    assert dockyard.layer_names("ignored:1") == [
        ["ctx", "ctx/.dockerignore", "ctx/Dockerfile", "ctx/a.txt", "ctx/keep.log"]]
    (context / "Dockerfile").write_text(
        "FROM busybox:test\nRUN --mount=type=bind,target=/c test -e /c/a.txt "
        "&& test -e /c/keep.log && test ! -e /c/debug.log && test ! -e /c/secret\n")
    code, _, err = dockyard.build(context)                 # bind mounts see what COPY sees
    assert code == 0, err
    (context / "Dockerfile").write_text(
        "FROM busybox:test\nRUN --mount=type=bind,source=secret,target=/c true\n")
    code, _, err = dockyard.build(context)
    assert code == 1 and "secret not found in the build context or excluded" in err


def test_cache_hits_and_invalidation(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox:test
RUN echo one > /one
COPY src.txt /src.txt
RUN cat /src.txt > /copy
""", "src.txt": "v1"})
    code, out, _ = dockyard.build(context, "-t", "cache:1", "--iidfile", str(tmp_path / "iid"))
    assert code == 0
    first_id = out.strip()
    assert (tmp_path / "iid").read_text() == first_id
    code, out, err = dockyard.build(context, "-t", "cache:1", "--rm", "--force-rm")
    assert code == 0 and err.count("CACHED") == 3           # legacy flags are accepted
    assert out.strip() == first_id                     # a fully cached build: the same image
    hashes = dockyard.root / "build-cache" / "file-hashes.json"
    assert str(context / "src.txt") in json.loads(hashes.read_text())  # not read again
    (context / "src.txt").write_text("v2")             # same size, same second: still seen
    code, out, err = dockyard.build(context, "-t", "cache:2")
    assert code == 0
    assert err.count("CACHED") == 1                    # RUN echo one only
    assert out.strip() != first_id
    code, _, err = dockyard.build(context, "--no-cache", "-t", "cache:3")
    assert code == 0 and "CACHED" not in err
    code, out, _ = dockyard("builder", "prune", "-f")
    assert code == 0 and out.startswith("Total:") and not hashes.exists()
    assert "CACHED" not in dockyard.build(context, "-t", "cache:4")[2]


def test_deletion_in_a_later_step_hides_the_file(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox:test
RUN mkdir -p /d/sub && echo x > /d/sub/f && echo y > /gone
RUN rm /gone && rm -rf /d/sub && mkdir /d/sub && echo new > /d/sub/g
"""})
    assert dockyard.build(context, "-t", "del:1")[0] == 0
    assert sorted(dockyard.layer_names("del:1")[-1]) == [".wh.gone", "d", "d/sub",
                                                         "d/sub/.wh..wh..opq", "d/sub/g"]
    check = write_context(tmp_path / "check", {"Dockerfile": """\
FROM del:1
RUN test ! -e /gone && test ! -e /d/sub/f && test -e /d/sub/g
"""})
    code, _, err = dockyard.build(check)
    assert code == 0, err
    overlay_private = set()  # RUN layers are moved in from upper directories: scrubbed
    for directory, names, files in os.walk(dockyard.root / "layers"):
        for path in [directory, *(os.path.join(directory, n) for n in names + files)]:
            overlay_private |= {x for x in os.listxattr(path, follow_symlinks=False)
                                if x.startswith("trusted.overlay.") and not x.endswith("opaque")}
    assert overlay_private == set()


def test_failing_run_stops_with_its_exit_code_and_tags_nothing(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox:test
RUN echo before-failure && exit 3
RUN echo never
"""})
    code, _, err = dockyard.build(context, "-t", "broken:1")
    assert code == 3
    assert "before-failure" in err and "exit code: 3" in err and "never" not in err
    with pytest.raises(KeyError):
        dockyard.image("broken:1")


def test_reproducible_with_source_date_epoch(dockyard, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    context = write_context(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox:test\nCOPY f /f\nRUN echo x > /x\n", "f": "content"})
    digests = []
    for _ in range(2):
        code, out, _ = dockyard.build(context, "--no-cache", "-t", "repro:1")
        assert code == 0
        digests.append(out.strip())
    assert digests[0] == digests[1]
    _, config = dockyard.image("repro:1")
    assert config["created"] == "2023-11-14T22:13:20Z"


def test_heredocs_docker_format_and_zstd(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox:test
ARG NAME=heredoc
COPY <<EOF /etc/greeting
hello $NAME
EOF
RUN <<EOF
set -e
test "$(cat /etc/greeting)" = "hello heredoc"
echo ok > /ok
EOF
"""})
    code, _, err = dockyard.build(context, "-t", "docs:1", "--format", "docker")
    assert code == 0, err
    manifest, _ = dockyard.image("docs:1")
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert {layer["mediaType"] for layer in manifest["layers"][BASE_LAYERS:]} == {
        "application/vnd.docker.image.rootfs.diff.tar.gzip"}
    code, _, err = dockyard.build(context, "-t", "docs:zstd", "--compress", "zstd",
                                  "--no-cache")
    assert code == 0, err
    manifest, _ = dockyard.image("docs:zstd")
    assert manifest["layers"][-1]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"


def test_add_url_with_checksum(dockyard, tmp_path, file_server):
    served, url = file_server
    payload = gzip.compress(b"remote")
    (served / "file.gz").write_bytes(payload)
    good = "sha256:" + hashlib.sha256(payload).hexdigest()
    context = write_context(tmp_path / "ctx", {
        "Dockerfile": f"FROM scratch\nADD --checksum={good} {url}/file.gz /dl/\n"})
    code, _, err = dockyard.build(context, "-t", "url:1")
    assert code == 0, err
    assert dockyard.layer_names("url:1") == [["dl", "dl/file.gz"]]  # remote files stay packed
    (context / "Dockerfile").write_text(f"FROM scratch\nADD --checksum=sha256:{'0' * 64} "
                                        f"{url}/file.gz /dl/\n")
    code, _, err = dockyard.build(context, "-t", "url:2")
    assert code == 1 and "digest mismatch" in err


def test_onbuild_triggers_run_in_the_child_build_and_copy_exclude(dockyard, tmp_path):
    parent = write_context(tmp_path / "parent", {
        "Dockerfile": "FROM busybox:test\nONBUILD RUN echo triggered > /triggered\n"})
    assert dockyard.build(parent, "-t", "parent:1")[0] == 0
    child = write_context(tmp_path / "child", {
        "Dockerfile": "FROM parent:1\nCOPY --exclude=*.md --exclude=tmp src/ /src/\n",
        "src/a.py": "a", "src/README.md": "r", "src/tmp/x": "x", "src/pkg/b.py": "b"})
    code, _, err = dockyard.build(child, "-t", "child:1")
    assert code == 0, err
    names = dockyard.layer_names("child:1")
    assert names[-2] == ["triggered"]
    assert names[-1] == ["src", "src/a.py", "src/pkg", "src/pkg/b.py"]
    _, config = dockyard.image("child:1")
    assert "OnBuild" not in config["config"]          # triggers are not inherited further


def test_tty_progress_shows_steps_live_and_failures_in_full(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox:test
RUN echo first-line && sleep 0.3 && echo second-line
RUN echo about-to-fail && exit 2
"""})
    code, _, err = dockyard.build(context, "--progress=tty")
    assert code == 2
    assert err.startswith("\x1b[J[+] Building ")
    assert " => => # first-line" in err                      # the live tail of a running step
    frames = err.split("\x1b[J")
    final = frames[-1]
    assert "FINISHED" not in final and "(3/3)" in final
    assert " => [stage-0 2/3] RUN echo first-line" in final and "first-line\n" not in final
    assert final.splitlines()[3].endswith(" ERROR")
    assert "------\n > [stage-0 3/3] RUN echo about-to-fail && exit 2:\n#3 about-to-fail\n" \
        in final
    (context / "Dockerfile").write_text("FROM busybox:test\nRUN echo ok\n")
    code, _, err = dockyard.build(context, "--progress=tty")
    assert code == 0 and "(2/2) FINISHED" in err.split("\x1b[J")[-1]


def test_copy_and_workdir_follow_the_image_s_symlinks(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox:test
RUN mkdir -p /usr/real && ln -s /usr/real /link && ln -s usr/real /rel
COPY f /link/
COPY f /rel/sub/g
COPY f /.hidden/f
WORKDIR /link/w
RUN test -L /link && test -L /rel && test -f /usr/real/f && test -f /usr/real/sub/g \\
    && test "$(pwd -P)" = /usr/real/w
""", "f": "f\n"})
    code, _, err = dockyard.build(context, "-t", "links:1")
    assert code == 0, err
    names = dockyard.layer_names("links:1")[BASE_LAYERS + 1:]  # the last RUN: no layer
    assert names == [["usr", "usr/real", "usr/real/f"],
                     ["usr", "usr/real", "usr/real/sub", "usr/real/sub/g"],
                     [".hidden", ".hidden/f"],
                     ["usr", "usr/real", "usr/real/w"]]


def test_links_among_copied_files_never_lead_out_of_the_image(dockyard, tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    context = write_context(tmp_path / "ctx", {
        "Dockerfile": "FROM scratch\nCOPY a/ b/ /dest/\n", "b/lib/x": "x"})
    (context / "a").mkdir()
    (context / "a" / "lib").symlink_to(host)             # absolute: the image's own path
    code, _, err = dockyard.build(context, "-t", "escape:1")
    assert code == 0, err
    assert list(host.iterdir()) == []                    # nothing written on the host
    inside = str(host).lstrip("/")
    assert f"{inside}/x" in dockyard.layer_names("escape:1")[0]


def _tar(path, members: list[tuple[str, str]]) -> None:
    """A gzip tar of (name, 'file:CONTENT' | 'link:TARGET') members."""
    with tarfile.open(path, "w:gz") as tar:
        for name, spec in members:
            kind, _, value = spec.partition(":")
            info = tarfile.TarInfo(name)
            if kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, value
                tar.addfile(info)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value.encode()))


def test_add_a_root_file_system_archive_with_absolute_links(dockyard, tmp_path):
    context = write_context(tmp_path / "ctx", {"Dockerfile": "FROM scratch\nADD rootfs.tgz /\n"})
    _tar(context / "rootfs.tgz", [("bin/busybox", "file:bb"), ("bin/sh", "link:/bin/busybox")])
    code, _, err = dockyard.build(context, "-t", "rootfs:1")
    assert code == 0, err                                  # as alpine's minirootfs needs
    assert dockyard.layer_names("rootfs:1") == [["bin", "bin/busybox", "bin/sh"]]
    host = tmp_path / "host"
    host.mkdir()
    _tar(context / "rootfs.tgz", [("lib", f"link:{host}"), ("lib/x", "file:x")])
    code, _, err = dockyard.build(context, "-t", "rootfs:2")
    assert code == 1 and list(host.iterdir()) == []        # never written through a link
