"""The image a stage is building: its config, layers and history, step by step.

Metadata instructions (ENV, CMD, LABEL, ...) change only the config; steps
that change files add a layer. The config is Docker's (``config`` with Env,
Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Labels,
StopSignal, Healthcheck, Shell, OnBuild) in OCI and Docker images alike:
the OCI spec allows the extra keys, and dropping HEALTHCHECK or SHELL from
OCI images (as buildah does by default) loses what the Dockerfile said.
History entries are Docker's, ``empty_layer`` marking the config-only steps,
so ``docker history`` lines up with ``rootfs.diff_ids``.
"""

from __future__ import annotations

import copy
import json
import posixpath
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ocispec import mediatypes
from ocispec.manifest import Descriptor

from .dockerfile import instructions as ins
from .layertar import LayerBlob, docker_media_type

DEFAULT_SHELL = ("/bin/sh", "-c")
HISTORY_COMMENT = "buildkit.dockerfile.v0"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def timestamp(epoch: int | None) -> str:
    """RFC 3339 in UTC: ``SOURCE_DATE_EPOCH`` when set, so rebuilds are byte-identical."""
    moment = datetime.fromtimestamp(epoch, timezone.utc) if epoch is not None else \
        datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if epoch is None else "%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ImageState:
    """A stage's image so far; ``copy()`` before changing one that others may share."""
    config: dict[str, Any]
    layers: list[Descriptor] = field(default_factory=list)
    cmd_set: bool = False  # CMD given in this stage (else ENTRYPOINT clears an inherited one)
    base_created: str | None = None   # the base image's creation time
    last_created: str | None = None   # the time of this build's latest file-system step
    pending: list[dict] = field(default_factory=list)  # history entries waiting for a time

    @classmethod
    def scratch(cls, platform: str) -> "ImageState":
        os_name, arch, variant = (platform.split("/") + ["", ""])[:3]
        config: dict[str, Any] = {"architecture": arch, "os": os_name,
                                  "config": {"Env": [f"PATH={DEFAULT_PATH}"]},
                                  "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
        if variant:
            config["variant"] = variant
        return cls(config)

    @classmethod
    def from_base(cls, config: dict[str, Any], layers: list[Descriptor]) -> "ImageState":
        config = copy.deepcopy(config)
        config.setdefault("config", {})
        config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
        config.setdefault("history", [])
        created = config.get("created")
        for key in ("container", "container_config", "docker_version", "created", "author"):
            config.pop(key, None)
        return cls(config, list(layers), base_created=created)

    def copy(self) -> "ImageState":
        return copy.deepcopy(self)  # one deep copy: pending entries stay those of history

    @property
    def run_config(self) -> dict[str, Any]:
        return self.config["config"]

    @property
    def diff_ids(self) -> list[str]:
        return self.config["rootfs"]["diff_ids"]

    @property
    def env(self) -> list[str]:
        return list(self.run_config.get("Env") or [])

    @property
    def shell(self) -> tuple[str, ...]:
        return tuple(self.run_config.get("Shell") or DEFAULT_SHELL)

    def history(self, created_by: str, created: str | None, empty_layer: bool) -> None:
        """A history entry; ``created`` is the time of a file-system step (when its layer
        was first made: a cached step keeps its time), None for a metadata step.

        As BuildKit does, a metadata step takes the time of the latest file-system
        step before it, or of the first one after it: so a fully cached rebuild
        gives the same config, and the same image ID.
        """
        entry: dict[str, Any] = {"created": created or self.last_created,
                                 "created_by": created_by, "comment": HISTORY_COMMENT}
        if empty_layer:
            entry["empty_layer"] = True
        self.config["history"].append(entry)
        if created is None and self.last_created is None:
            self.pending.append(entry)
        elif created is not None:
            self.last_created = created
            for waiting in self.pending:
                waiting["created"] = created
            self.pending.clear()

    def add_layer(self, layer: LayerBlob) -> None:
        self.layers.append(Descriptor(layer.media_type, layer.digest, layer.size))
        self.diff_ids.append(str(layer.diff_id))

    def apply(self, instruction: ins.Instruction) -> None:
        """Change the config as a metadata instruction (already expanded) says."""
        config = self.run_config
        match instruction:
            case ins.Env(pairs=pairs):
                env = dict(entry.partition("=")[::2] for entry in config.get("Env") or [])
                env.update(pairs)
                config["Env"] = [f"{key}={value}" for key, value in env.items()]
            case ins.Label(pairs=pairs):
                config["Labels"] = {**(config.get("Labels") or {}), **dict(pairs)}
            case ins.Cmd(command=command):
                config["Cmd"] = command.argv(self.shell)
                self.cmd_set = True
            case ins.Entrypoint(command=command):
                config["Entrypoint"] = command.argv(self.shell) or None
                if not self.cmd_set:
                    config["Cmd"] = None
            case ins.Workdir(path=path):
                config["WorkingDir"] = workdir(config.get("WorkingDir"), path)
            case ins.User(user=user):
                config["User"] = user
            case ins.Expose(ports=ports):
                exposed = config.get("ExposedPorts") or {}
                for port in ports:
                    exposed[port if "/" in port else f"{port}/tcp"] = {}
                config["ExposedPorts"] = exposed
            case ins.Volume(paths=paths):
                config["Volumes"] = {**(config.get("Volumes") or {}), **{p: {} for p in paths}}
            case ins.StopSignal(signal=signal):
                config["StopSignal"] = signal
            case ins.Shell(argv=argv):
                config["Shell"] = list(argv)
            case ins.Healthcheck():
                config["Healthcheck"] = healthcheck(instruction)
            case ins.Onbuild(expression=expression):
                config["OnBuild"] = [*(config.get("OnBuild") or []), expression]
            case ins.Maintainer(name=name):
                self.config["author"] = name

    def labels(self, extra: dict[str, str]) -> None:
        """``--label`` values, which win over the Dockerfile's (as in Docker)."""
        if extra:
            self.run_config["Labels"] = {**(self.run_config.get("Labels") or {}), **extra}

    def finish(self, fallback: str) -> None:
        """The image's time is its last step's; ``fallback`` serves a build whose steps
        all changed only metadata (after the base image's own time)."""
        for waiting in self.pending:
            waiting["created"] = self.base_created or fallback
        self.pending.clear()
        history = self.config["history"]
        self.config["created"] = (history[-1].get("created") if history else None) or \
            self.base_created or fallback
        self.config["config"] = {key: value for key, value in self.run_config.items()
                                 if value is not None}

    def config_bytes(self) -> bytes:
        return json.dumps(self.config, separators=(",", ":"), sort_keys=True).encode()

    def manifest_bytes(self, config: Descriptor, docker: bool) -> tuple[str, bytes]:
        """The manifest (media type, bytes) for this image with the config blob ``config``."""
        if docker:
            layers = [{"mediaType": docker_media_type(layer.media_type), "size": layer.size,
                       "digest": str(layer.digest)} for layer in self.layers]
            document = {"schemaVersion": 2, "mediaType": mediatypes.DOCKER_MANIFEST,
                        "config": {"mediaType": mediatypes.DOCKER_CONFIG, "size": config.size,
                                   "digest": str(config.digest)},
                        "layers": layers}
            media_type = mediatypes.DOCKER_MANIFEST
        else:
            document = {"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST,
                        "config": config.to_json(),
                        "layers": [layer.to_json() for layer in self.layers]}
            media_type = mediatypes.OCI_MANIFEST
        return media_type, json.dumps(document, separators=(",", ":")).encode()


def workdir(current: str | None, path: str) -> str:
    """WORKDIR is relative to the previous one; the result is always absolute."""
    joined = posixpath.join(current or "/", path)
    return posixpath.normpath(joined).replace("//", "/")


def healthcheck(instruction: ins.Healthcheck) -> dict[str, Any]:
    check: dict[str, Any] = {"Test": list(instruction.test)}
    for key, value in (("Interval", instruction.interval), ("Timeout", instruction.timeout),
                       ("StartPeriod", instruction.start_period),
                       ("StartInterval", instruction.start_interval),
                       ("Retries", instruction.retries)):
        if value:
            check[key] = value
    return check
