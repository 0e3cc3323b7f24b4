"""The registry's configuration: distribution's ``config.yml`` keys, a ``dockyard:`` section, env overrides.

Operators move to Dockyard with the config they already have, so the file is
read with the CNCF distribution registry's key names and meanings (defaults
included, e.g. ``storage.delete.enabled`` is off unless turned on).  Keys
distribution knows but Dockyard does not implement yet are accepted with a
warning that names them and says what that means; keys nobody knows get a
warning too, because a typo must not silently fall back to a default.
Anything that cannot be honoured (bad YAML, a wrong type, a bad address, an
unsupported storage driver) is a ``ConfigError``: one line naming the key.

``REGISTRY_<PATH>`` environment variables override the file as in
distribution: the path is the key path upper-cased and joined by ``_``
(``REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY``).  Their values are strings
(YAML text where a mapping or list is expected), applied parents first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml

ENV_PREFIX = "REGISTRY_"
CONFIG_PATH_VARIABLE = "REGISTRY_CONFIGURATION_PATH"
"""Where distribution looks for the config file when none is named; not an override."""

DEFAULT_ADDR = "127.0.0.1:5000"
"""Loopback only: a registry without authentication must be opened to the network on purpose."""

SUPPORTED_VERSION = "0.1"

LOG_LEVELS = {
    # distribution (logrus) spellings -> Python logging levels
    "panic": "CRITICAL", "fatal": "CRITICAL", "error": "ERROR", "warn": "WARNING",
    "warning": "WARNING", "info": "INFO", "debug": "DEBUG", "trace": "DEBUG",
}
LOG_FORMATTERS = ("text", "json", "logstash")  # logstash lines are JSON lines
TLS_VERSIONS = ("tls1.0", "tls1.1", "tls1.2", "tls1.3")

STORAGE_DRIVERS = ("filesystem",)
DISTRIBUTION_ONLY_DRIVERS = ("inmemory", "s3", "azure", "gcs", "swift", "oss")
STORAGE_PARAMETERS = ("delete", "redirect", "cache", "maintenance", "tag")
"""Keys under ``storage`` that are settings rather than a driver's name."""

NOT_SUPPORTED = "not supported by Dockyard yet"
IGNORED_TOP_LEVEL = {
    "auth": "authentication is not supported yet: every client can push, pull and delete",
    "proxy": "the pull-through cache is not supported yet",
    "notifications": "event notifications are not supported",
    "health": "health checks are not supported; GET /v2/ answers while the server runs",
    "middleware": NOT_SUPPORTED,
    "reporting": NOT_SUPPORTED,
    "redis": "Dockyard does not use redis",
    "compatibility": "schema 1 manifests are refused",
    "validation": "manifest URLs are not restricted",
    "catalog": NOT_SUPPORTED,
}

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_T = TypeVar("_T")


class ConfigError(Exception):
    """A setting that is wrong or cannot be applied; the message is one line naming the key."""


@dataclass(frozen=True)
class LogConfig:
    level: str = "INFO"  # a Python logging level name
    formatter: str = "text"  # text | json
    fields: Mapping[str, str] = field(default_factory=dict)
    access_log: bool = True


@dataclass(frozen=True)
class TLSConfig:
    certificate: str
    key: str
    client_cas: tuple[str, ...] = ()
    minimum_version: str = "tls1.2"


@dataclass(frozen=True)
class HTTPConfig:
    host: str | None = "127.0.0.1"  # None: every interface
    port: int = 5000
    tls: TLSConfig | None = None
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    drain_timeout: float = 60.0
    """Seconds in-flight requests get to finish after SIGTERM before they are cut off."""


@dataclass(frozen=True)
class UploadPurgingConfig:
    enabled: bool = True
    age: float = 168 * 3600.0
    interval: float = 24 * 3600.0


@dataclass(frozen=True)
class FileSystemConfig:
    root_directory: str
    max_threads: int = 16


@dataclass(frozen=True)
class StorageConfig:
    filesystem: FileSystemConfig
    driver: str = "filesystem"
    delete_enabled: bool = False
    upload_purging: UploadPurgingConfig = UploadPurgingConfig()


@dataclass(frozen=True)
class DockyardConfig:
    workers: int = 1
    """Processes sharing the port; one keeps each upload's running hash in one place."""


@dataclass(frozen=True)
class Config:
    log: LogConfig
    http: HTTPConfig
    storage: StorageConfig
    dockyard: DockyardConfig
    warnings: tuple[str, ...] = ()
    """What was ignored or not understood, one line each, for the operator to read."""


def default_root_directory() -> str:
    """Where blobs go when the config does not say: the system's state dir for root, else the user's."""
    if os.geteuid() == 0:
        return "/var/lib/dockyard-registry"
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(data_home, "dockyard-registry")


def config_path_from_env(environ: Mapping[str, str]) -> str | None:
    return environ.get(CONFIG_PATH_VARIABLE) or None


def load(path: str | None, environ: Mapping[str, str]) -> Config:
    """The configuration from the file at ``path`` (embedded defaults if None) and ``environ``."""
    raw = _read_file(path) if path else {}
    sources = _apply_env(raw, environ)
    return _parse(_Reader(raw, (), sources, []))


def _read_file(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as stream:
            data = yaml.safe_load(stream)
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {_kind(data)}")
    return data


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Write ``REGISTRY_*`` values into ``raw``; returns which variable set which key path."""
    sources: dict[tuple[str, ...], str] = {}
    names = sorted(n for n in environ if n.startswith(ENV_PREFIX) and n != CONFIG_PATH_VARIABLE)
    for name in names:
        path = tuple(name[len(ENV_PREFIX):].lower().split("_"))
        node = raw
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[path[-1]] = environ[name]
        sources[path] = name
    return sources


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a mapping", type(None): "nothing"}.get(type(value), "a value")


class _Reader:
    """One mapping of the raw config being read; reports what nobody took.

    Every value is fetched through a typed accessor that raises ConfigError
    naming the key; ``done`` turns the keys left over into warnings.
    """

    def __init__(self, data: Any, path: tuple[str, ...], sources: dict[tuple[str, ...], str],
                 warnings: list[str]) -> None:
        self.path = path
        self.sources = sources
        self.warnings = warnings
        data = self._env_yaml(path, data)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{self.name()}: expected a mapping, got {_kind(data)}")
        self.data = {str(key): value for key, value in data.items()}

    def name(self, key: str | None = None) -> str:
        """``a.b.c`` for messages, with the variable that set it when it came from the environment."""
        path = (*self.path, key) if key else self.path
        text = ".".join(path) or "config"
        variables = [name for source, name in self.sources.items()
                     if path[:len(source)] == source or source[:len(path)] == path]
        return f"{text} (from {', '.join(variables)})" if path and variables else text

    def _env_yaml(self, path: tuple[str, ...], value: Any) -> Any:
        """A variable's text read as YAML, for keys that take a mapping or a list."""
        if path not in self.sources or not isinstance(value, str):
            return value
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"{'.'.join(path)} (from {self.sources[path]}): invalid YAML") from None

    def has(self, key: str) -> bool:
        return key in self.data

    def section(self, key: str) -> "_Reader":
        return _Reader(self.data.pop(key, None), (*self.path, key), self.sources, self.warnings)

    def value(self, key: str, default: _T, convert: Callable[[Any], _T], expected: str,
              *, env_yaml: bool = False) -> _T:
        """``convert(value)`` of ``key``, ``default`` when absent or empty; ConfigError on bad input."""
        raw = self.data.pop(key, None)
        if env_yaml:
            raw = self._env_yaml((*self.path, key), raw)
        if raw is None:
            return default
        try:
            return convert(raw)
        except (TypeError, ValueError):
            got = repr(raw) if isinstance(raw, (str, int, float)) else _kind(raw)
            raise ConfigError(f"{self.name(key)}: expected {expected}, got {got}") from None

    def string(self, key: str, default: _T) -> str | _T:
        return self.value(key, default, _to_str, "a string")

    def boolean(self, key: str, default: bool) -> bool:
        return self.value(key, default, _to_bool, "true or false")

    def integer(self, key: str, default: int, minimum: int) -> int:
        value = self.value(key, default, _to_int, "a whole number")
        if value < minimum:
            raise ConfigError(f"{self.name(key)}: must be at least {minimum}, got {value}")
        return value

    def duration(self, key: str, default: float) -> float:
        return self.value(key, default, _to_duration, "a duration such as 90s, 45m or 168h")

    def choice(self, key: str, default: str, choices: Mapping[str, Any] | tuple[str, ...]) -> str:
        value = self.string(key, default).lower()
        if value not in choices:
            raise ConfigError(f"{self.name(key)}: expected one of {', '.join(choices)}, "
                              f"got {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        return self.value(key, (), _to_strings, "a list of strings", env_yaml=True)

    def ignore(self, reasons: Mapping[str, str]) -> None:
        """Accept the keys distribution knows and Dockyard does not do, saying so."""
        for key, why in reasons.items():
            if key in self.data:
                del self.data[key]
                self.warnings.append(f"ignored: {self.name(key)}: {why}")

    def done(self) -> None:
        for key in self.data:
            self.warnings.append(f"unknown key: {self.name(key)}")
        self.data.clear()


def _to_str(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(value)
    return str(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _to_str(value).lower()
    if text in ("true", "1", "t", "yes", "on"):
        return True
    if text in ("false", "0", "f", "no", "off"):
        return False
    raise ValueError(value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(value)
    return int(_to_str(value))


def _to_strings(value: Any) -> tuple[str, ...]:
    """A list of strings; a lone string is a list of one (distribution's header values are lists)."""
    if isinstance(value, list):
        return tuple(_to_str(item) for item in value)
    return (_to_str(value),)


def _to_duration(value: Any) -> float:
    """Seconds from a Go duration (``1h30m``, ``500ms``); a bare 0 is allowed, other numbers need a unit."""
    text = _to_str(value).strip()
    if text == "0":
        return 0.0
    if not text or _DURATION.sub("", text):
        raise ValueError(value)
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in _DURATION.findall(text))


def parse_addr(addr: str) -> tuple[str | None, int]:
    """``host:port`` as distribution takes it: ``:5000`` is every interface, IPv6 in brackets."""
    host, sep, port_text = addr.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(addr)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(addr)  # an IPv6 address needs brackets
    return host or None, int(port_text)


def _parse(top: _Reader) -> Config:
    version = top.string("version", SUPPORTED_VERSION)
    if version != SUPPORTED_VERSION:
        raise ConfigError(f"version: Dockyard reads configuration version {SUPPORTED_VERSION}, "
                          f"got {version!r}")
    legacy_level = top.choice("loglevel", "info", LOG_LEVELS)
    log = _parse_log(top.section("log"), legacy_level)
    http = _parse_http(top.section("http"))
    storage = _parse_storage(top)
    dockyard = _parse_dockyard(top.section("dockyard"))
    top.ignore(IGNORED_TOP_LEVEL)
    top.done()
    return Config(log, http, storage, dockyard, tuple(top.warnings))


def _parse_log(log: _Reader, legacy_level: str) -> LogConfig:
    level = LOG_LEVELS[log.choice("level", legacy_level, LOG_LEVELS)]
    formatter = log.choice("formatter", "text", LOG_FORMATTERS)
    fields_section = log.section("fields")
    fields = {key: fields_section.string(key, "") for key in list(fields_section.data)}
    accesslog = log.section("accesslog")
    access_log = not accesslog.boolean("disabled", False)
    accesslog.done()
    log.ignore({"hooks": NOT_SUPPORTED, "reportcaller": NOT_SUPPORTED})
    log.done()
    return LogConfig(level, "text" if formatter == "text" else "json", fields, access_log)


def _parse_http(http: _Reader) -> HTTPConfig:
    http.choice("net", "tcp", ("tcp",))  # distribution's unix sockets are not supported
    addr = http.string("addr", DEFAULT_ADDR)
    try:
        host, port = parse_addr(addr)
    except ValueError:
        raise ConfigError(f"{http.name('addr')}: expected HOST:PORT such as 127.0.0.1:5000 "
                          f"or :5000, got {addr!r}") from None
    headers_section = http.section("headers")
    headers = {key: headers_section.strings(key) for key in list(headers_section.data)}
    config = HTTPConfig(host, port, _parse_tls(http.section("tls")), headers,
                        http.duration("draintimeout", HTTPConfig.drain_timeout))
    http.ignore({"prefix": NOT_SUPPORTED, "host": "Location headers are relative to the request",
                 "secret": "Dockyard keeps no client-side state to sign",
                 "relativeurls": "Location headers are always relative",
                 "debug": "there is no debug server", "http2": "Dockyard serves HTTP/1.1",
                 "h2c": "Dockyard serves HTTP/1.1"})
    http.done()
    return config


def _parse_tls(tls: _Reader) -> TLSConfig | None:
    """TLS settings, or None for plain HTTP: as in distribution, no certificate means no TLS."""
    certificate = tls.string("certificate", None)
    key = tls.string("key", None)
    if certificate is None and tls.has("letsencrypt"):
        raise ConfigError(f"{tls.name('letsencrypt')}: not supported by Dockyard; "
                          f"set certificate and key instead")
    client_cas = tls.strings("clientcas")
    minimum_version = tls.choice("minimumtls", "tls1.2", TLS_VERSIONS)
    tls.ignore({"letsencrypt": "certificate and key are used",
                "ciphersuites": "OpenSSL's default cipher suites are used",
                "clientauth": "client certificates are required whenever clientcas is set"})
    tls.done()
    if certificate is None and key is None:
        return None
    if certificate is None or key is None:
        missing, other = ("certificate", "key") if certificate is None else ("key", "certificate")
        raise ConfigError(f"{tls.name(missing)}: required with http.tls.{other}")
    return TLSConfig(certificate, key, client_cas, minimum_version)


def _parse_storage(top: _Reader) -> StorageConfig:
    raw = top.data.get("storage")
    if isinstance(raw, str):  # REGISTRY_STORAGE=filesystem names the driver alone
        top.data["storage"] = {raw: None}
    storage = top.section("storage")
    drivers = [key for key in storage.data if key not in STORAGE_PARAMETERS]
    if len(drivers) > 1:
        raise ConfigError(f"{storage.name()}: exactly one storage driver may be configured, "
                          f"got {', '.join(drivers)}")
    driver = drivers[0] if drivers else "filesystem"
    if driver in DISTRIBUTION_ONLY_DRIVERS:
        raise ConfigError(f"{storage.name(driver)}: storage driver not supported by Dockyard "
                          f"(supported: {', '.join(STORAGE_DRIVERS)})")
    if driver not in STORAGE_DRIVERS:
        raise ConfigError(f"{storage.name()}: unknown storage driver {driver!r} "
                          f"(supported: {', '.join(STORAGE_DRIVERS)})")
    filesystem = _parse_filesystem(storage.section("filesystem"))
    delete = storage.section("delete")
    delete_enabled = delete.boolean("enabled", False)
    delete.done()
    maintenance = storage.section("maintenance")
    purging = _parse_upload_purging(maintenance.section("uploadpurging"))
    maintenance.ignore({"readonly": "read-only mode is not supported: writes are accepted"})
    maintenance.done()
    storage.ignore({"cache": "Dockyard keeps its own in-memory cache of immutable content",
                    "redirect": "the filesystem driver serves content itself",
                    "tag": NOT_SUPPORTED})
    storage.done()
    return StorageConfig(filesystem, driver, delete_enabled, purging)


def _parse_filesystem(filesystem: _Reader) -> FileSystemConfig:
    root = filesystem.string("rootdirectory", None) or default_root_directory()
    config = FileSystemConfig(os.path.abspath(os.path.expanduser(root)),
                              filesystem.integer("maxthreads", FileSystemConfig.max_threads, 1))
    filesystem.done()
    return config


def _parse_upload_purging(purging: _Reader) -> UploadPurgingConfig:
    defaults = UploadPurgingConfig()
    enabled = purging.boolean("enabled", defaults.enabled)
    age = purging.duration("age", defaults.age)
    interval = purging.duration("interval", defaults.interval)
    if purging.boolean("dryrun", False) and enabled:
        purging.warnings.append(f"{purging.name('dryrun')}: Dockyard cannot list what it would "
                                f"purge, so upload purging is off")
        enabled = False
    if enabled and interval <= 0:
        raise ConfigError(f"{purging.name('interval')}: must be longer than 0")
    purging.done()
    return UploadPurgingConfig(enabled, age, interval)


def _parse_dockyard(dockyard: _Reader) -> DockyardConfig:
    workers = dockyard.value("workers", DockyardConfig.workers, _to_workers,
                             "a whole number of processes or auto")
    if workers < 1:
        raise ConfigError(f"{dockyard.name('workers')}: must be at least 1, got {workers}")
    dockyard.done()
    return DockyardConfig(workers)


def _to_workers(value: Any) -> int:
    """``auto`` is one worker per CPU."""
    if isinstance(value, str) and value.lower() == "auto":
        return os.cpu_count() or 1
    return _to_int(value)
