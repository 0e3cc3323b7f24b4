"""Docker's units and ages, platform matching, and the live progress display."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest

from client.errors import DockyardError
from client.formatting import Template, human_duration, human_size, since, table
from client.platforms import Platform, choose
from client.progress import LineDisplay, LiveDisplay, QuietDisplay, display_for
from ocispec.digest import Digest
from ocispec.manifest import Descriptor


@pytest.mark.parametrize("size,text", [(0, "0B"), (999, "999B"), (1000, "1kB"),
                                       (1_240_000, "1.24MB"), (77_830_000, "77.8MB"),
                                       (123_456_789, "123MB"), (5 * 10**9, "5GB")])
def test_human_size_is_dockers(size, text):
    assert human_size(size) == text


@pytest.mark.parametrize("seconds,text", [(0.5, "Less than a second"), (1, "1 second"),
                                          (59, "59 seconds"), (60, "About a minute"),
                                          (3600, "About an hour"), (5 * 3600, "5 hours"),
                                          (3 * 86400, "3 days"), (20 * 86400, "2 weeks"),
                                          (90 * 86400, "3 months"), (800 * 86400, "2 years")])
def test_human_duration_is_dockers(seconds, text):
    assert human_duration(seconds) == text


def test_since_reads_rfc3339_with_nanoseconds():
    now = datetime(2024, 1, 4, 3, 4, 5, tzinfo=timezone.utc)
    assert since("2024-01-02T03:04:05.123456789Z", now) == "2 days ago"
    assert since(None) == since("yesterday") == "N/A"


def test_table_pads_like_dockers_tabwriter():
    assert table(["A", "LONGER HEADER", "END"], [["x", "y", "z"]]).splitlines() == [
        "A         LONGER HEADER   END", "x         y               z"]


def test_template_fields_and_json():
    template = Template.parse("{{.Config.Cmd}} {{json .Config}} {{.Os}}")
    assert template.render({"Config": {"Cmd": ["sh", "-c"]}, "Os": "linux"}) == \
        '[sh -c] {"Cmd":["sh","-c"]} linux'
    with pytest.raises(DockyardError, match="can't evaluate field Nope"):
        Template.parse("{{.Nope}}").render({})


def entry(arch: str, variant: str | None = None, os: str = "linux") -> Descriptor:
    platform = {"os": os, "architecture": arch, **({"variant": variant} if variant else {})}
    return Descriptor("m", Digest.of(f"{os}{arch}{variant}".encode()), 1, platform=platform)


def test_platforms_are_normalised_and_matched_as_containerd_does():
    assert str(Platform.parse("linux/aarch64")) == "linux/arm64"
    assert Platform.parse("linux/arm64/v8") == Platform.parse("linux/arm64")
    assert str(Platform.parse("linux/arm")) == "linux/arm/v7"
    index = [entry("unknown", os="unknown"), entry("amd64"), entry("arm", "v6"),
             entry("arm64", "v8")]
    assert choose(index, Platform.parse("linux/amd64")) is index[1]
    assert choose(index, Platform.parse("linux/arm64")) is index[3]
    assert choose(index, Platform.parse("linux/arm/v7")) is index[2]  # v7 runs v6 code
    with pytest.raises(DockyardError, match="no matching manifest for linux/arm/v5"):
        choose(index, Platform.parse("linux/arm/v5"))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_displays_suit_their_output():
    assert isinstance(display_for(True, Terminal()), QuietDisplay)
    assert isinstance(display_for(False, io.StringIO()), LineDisplay)
    out = Terminal()
    display = display_for(False, out)
    assert isinstance(display, LiveDisplay)
    with display:
        display.message("latest: Pulling from library/busybox")
        display.status("0123456789ab", "Downloading", total=2_000_000, completed=0)
        display.advance("0123456789ab", 1_000_000)
        display.status("0123456789ab", "Pull complete")
    text = out.getvalue()
    assert "latest: Pulling from library/busybox" in text
    assert "0123456789ab: Downloading [>" in text and "0B/2MB" in text
    assert "0123456789ab: Pull complete" in text


def test_line_display_prints_each_status_once_without_byte_counts():
    out = io.StringIO()
    display = LineDisplay(out)
    for status in ("Pulling fs layer", "Downloading", "Downloading", "Download complete",
                   "Extracting", "Pull complete"):
        display.status("abc", status)
    assert out.getvalue().splitlines() == ["abc: Pulling fs layer", "abc: Download complete",
                                           "abc: Pull complete"]


def test_version_builds_no_command_parser_and_help_lists_every_command(capsys):
    from client.cli import build_parser, command_modules

    assert not build_parser(["--version"])._subparsers._group_actions[0].choices
    with pytest.raises(SystemExit):
        build_parser(["--version"]).parse_args(["--version"])
    assert capsys.readouterr().out == "dockyard 0.1.0\n"
    listed = build_parser(["--version", "--help"])._subparsers._group_actions[0].choices
    assert set(listed) >= {module.__name__.rpartition(".")[2] for module in command_modules()}
