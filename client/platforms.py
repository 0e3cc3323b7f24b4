"""Platforms (``os/arch[/variant]``): the host's, the user's ``--platform``, an index's entries.

Names are normalised as containerd does, so that ``linux/aarch64``,
``linux/arm64/v8`` and ``linux/arm64`` mean one thing and an ``arm`` without a
variant is ``arm/v7``; the host's architecture comes from ``uname -m`` mapped to
Go's names, which is what images are labelled with.
"""

from __future__ import annotations

import platform as _platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ocispec.manifest import Descriptor

from .errors import DockyardError

# uname -m (and other spellings people type) -> (GOARCH, variant)
_ARCHITECTURES = {
    "x86_64": ("amd64", None), "x86-64": ("amd64", None), "amd64": ("amd64", None),
    "aarch64": ("arm64", None), "arm64": ("arm64", None),
    "armv8l": ("arm", "v8"), "armv7l": ("arm", "v7"), "armv7": ("arm", "v7"),
    "armhf": ("arm", "v7"), "armv6l": ("arm", "v6"), "armel": ("arm", "v6"),
    "armv5tel": ("arm", "v5"),
    "i386": ("386", None), "i486": ("386", None), "i586": ("386", None), "i686": ("386", None),
    "ppc64le": ("ppc64le", None), "s390x": ("s390x", None), "riscv64": ("riscv64", None),
    "mips64": ("mips64", None), "mips64le": ("mips64le", None), "loongarch64": ("loong64", None),
}


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Platform":
        """``os/arch[/variant]`` as ``--platform`` takes it (``linux/arm64``, ``linux/arm/v7``)."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise DockyardError(f"invalid platform {text!r}: expected os/arch[/variant]")
        return cls.normalised(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def normalised(cls, os: str, architecture: str, variant: str | None = None) -> "Platform":
        arch, implied = _ARCHITECTURES.get(architecture.lower(), (architecture.lower(), None))
        variant = (variant or implied or "").lower() or None
        if variant and variant.isdigit():
            variant = f"v{variant}"
        if arch == "arm64" and variant in ("v8", "v8.0"):
            variant = None  # arm64 is v8 unless it says otherwise
        if arch == "arm" and variant is None:
            variant = "v7"
        return cls(os.lower(), arch, variant)

    @classmethod
    def of(cls, value: Mapping[str, Any] | None) -> "Platform | None":
        """The platform of an index entry or an image config (None when it names none)."""
        if not value or not value.get("os") or not value.get("architecture"):
            return None
        return cls.normalised(str(value["os"]), str(value["architecture"]), value.get("variant"))

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


def host_platform() -> Platform:
    """The platform this machine runs natively (Linux: ``uname -m`` in Go's names)."""
    return Platform.normalised(_platform.system() or "linux", _platform.machine())


def _arm_level(variant: str | None) -> int:
    try:
        return int((variant or "v0").lstrip("v").split(".")[0])
    except ValueError:
        return -1


def _rank(wanted: Platform, offered: Platform | None) -> int | None:
    """How well ``offered`` serves ``wanted``: lower is better, None means it cannot."""
    if offered is None or (offered.os, offered.architecture) != (wanted.os, wanted.architecture):
        return None
    if offered.variant == wanted.variant:
        return 0
    if wanted.architecture == "arm":  # an armv7 CPU runs v6 and v5 code, best first
        gap = _arm_level(wanted.variant) - _arm_level(offered.variant)
        return gap if gap > 0 else None
    return 100 if wanted.variant is None or offered.variant is None else None


def choose(entries: Sequence[Descriptor], wanted: Platform) -> Descriptor:
    """The index entry that best runs on ``wanted``, as ``docker pull`` picks it."""
    ranked = [(rank, i) for i, entry in enumerate(entries)
              if (rank := _rank(wanted, Platform.of(entry.platform))) is not None]
    if not ranked:
        raise DockyardError(f"no matching manifest for {wanted} in the manifest list entries")
    return entries[min(ranked)[1]]


def matches(wanted: Platform, offered: Platform | None) -> bool:
    return _rank(wanted, offered) is not None
