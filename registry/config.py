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
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml

from ocispec.names import is_valid_name

from .auth.keys import ALGORITHMS
from .auth.rules import Rule
from .auth.scopes import PULL, REPOSITORY_ACTIONS

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
    dry_run: bool = False
    """Log the sessions that would be purged, delete none (distribution's ``dryrun``)."""


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
class TokenAuthConfig:
    """``auth.token``: distribution's keys (``jwks`` and ``signingalgorithms`` as in its 3.0)."""

    realm: str | None  # None: Dockyard's own endpoint, on the host the client reached
    service: str
    issuer: str
    root_cert_bundle: str | None = None
    jwks: str | None = None
    algorithms: tuple[str, ...] = tuple(ALGORITHMS)


@dataclass(frozen=True)
class HtpasswdConfig:
    """``auth.htpasswd``: HTTP Basic with the users of an htpasswd file."""

    realm: str
    path: str


@dataclass(frozen=True)
class IssuerConfig:
    """``dockyard.auth.issuer``: Dockyard's own token endpoint at ``/auth/token``."""

    key: str  # PEM private key, created at first start if missing
    algorithm: str = "ES256"  # of a key created here
    expiration: float = 300.0
    refresh_expiration: float = 30 * 24 * 3600.0


@dataclass(frozen=True)
class AuthConfig:
    """Who may do what; all None (the default) is distribution's default: no authentication."""

    token: TokenAuthConfig | None = None
    htpasswd: HtpasswdConfig | None = None
    issuer: IssuerConfig | None = None
    users: str | None = None  # htpasswd file of the users; auth.htpasswd.path in Basic mode
    robots: str | None = None  # htpasswd file of the robots' hashed secrets
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rules: tuple[Rule, ...] | None = None  # None: every user may do everything
    throttle_attempts: int = 10
    throttle_window: float = 60.0

    @property
    def enabled(self) -> bool:
        return self.token is not None or self.htpasswd is not None


DOCKER_HUB = "https://registry-1.docker.io"
"""The upstream of a ``proxy`` section that names none, as in distribution's documentation."""

DOCKER_HUB_HOSTS = ("registry-1.docker.io", "docker.io", "index.docker.io")


@dataclass(frozen=True)
class UpstreamConfig:
    """One registry mirrored under a namespace prefix (``""``: the whole registry)."""

    prefix: str
    remote_url: str = DOCKER_HUB
    username: str | None = None
    password: str | None = None
    ttl: float = 168 * 3600.0
    """Cached content unused this long is evicted (distribution's ``proxy.ttl``); 0 never."""
    library: bool = True
    """Single-component names are Docker Hub's official images, ``library/<name>`` upstream."""


@dataclass(frozen=True)
class ProxyConfig:
    """The pull-through cache: distribution's ``proxy`` plus ``dockyard.proxy``."""

    upstreams: tuple[UpstreamConfig, ...] = ()
    tag_ttl: float = 60.0
    """How long a tag's manifest is served from the cache before a HEAD asks upstream again."""
    eviction_interval: float = 3600.0

    @property
    def enabled(self) -> bool:
        return bool(self.upstreams)


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
    auth: AuthConfig = AuthConfig()
    proxy: ProxyConfig = ProxyConfig()


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
    dockyard_section = top.section("dockyard")
    auth = _parse_auth(top.section("auth"), dockyard_section.section("auth"))
    proxy = _parse_proxy(top, dockyard_section.section("proxy"))
    dockyard = _parse_dockyard(dockyard_section)
    top.ignore(IGNORED_TOP_LEVEL)
    top.done()
    return Config(log, http, storage, dockyard, tuple(top.warnings), auth, proxy)


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
    dry_run = purging.boolean("dryrun", defaults.dry_run)
    if enabled and interval <= 0:
        raise ConfigError(f"{purging.name('interval')}: must be longer than 0")
    purging.done()
    return UploadPurgingConfig(enabled, age, interval, dry_run)


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


DEFAULT_SERVICE = "dockyard-registry"
DEFAULT_ISSUER = "dockyard"
AUTH_MODES = ("token", "htpasswd")


def _parse_auth(auth: _Reader, extension: _Reader) -> AuthConfig:
    """``auth`` (one mode, as in distribution) and Dockyard's ``dockyard.auth`` beside it."""
    if auth.has("silly"):
        raise ConfigError(f"{auth.name('silly')}: not supported by Dockyard; use htpasswd or token")
    modes = list(auth.data)
    if len(modes) > 1:
        raise ConfigError(f"{auth.name()}: exactly one of {', '.join(AUTH_MODES)} may be "
                          f"configured, got {', '.join(modes)}")
    if modes and modes[0] not in AUTH_MODES:
        raise ConfigError(f"{auth.name(modes[0])}: unknown authentication mode "
                          f"(supported: {', '.join(AUTH_MODES)})")
    if extension.data and not modes:
        raise ConfigError(f"{extension.name()}: needs auth.token or auth.htpasswd; without them "
                          f"every client may push, pull and delete")
    issuer = _parse_issuer(extension.section("issuer")) if extension.has("issuer") else None
    token = _parse_token(auth.section("token"), issuer is not None) if auth.has("token") else None
    htpasswd = _parse_htpasswd(auth.section("htpasswd")) if auth.has("htpasswd") else None
    if issuer is not None and token is None:
        raise ConfigError(f"{extension.name('issuer')}: Dockyard's token endpoint needs "
                          f"auth.token")
    groups_section = extension.section("groups")
    groups = {name: groups_section.strings(name) for name in list(groups_section.data)}
    throttle = extension.section("throttle")
    config = AuthConfig(
        token, htpasswd, issuer, extension.string("users", None),
        extension.string("robots", None), groups, _parse_rules(extension, groups),
        throttle.integer("attempts", AuthConfig.throttle_attempts, 1),
        _positive(throttle, "window", AuthConfig.throttle_window))
    throttle.done()
    extension.done()
    _check_accounts(config, extension)
    return config


def _check_accounts(config: AuthConfig, extension: _Reader) -> None:
    """Accounts and rules only where Dockyard itself signs people in."""
    if config.htpasswd is not None and config.users is not None:
        raise ConfigError(f"{extension.name('users')}: in Basic mode auth.htpasswd.path "
                          f"names the users")
    own_accounts = config.htpasswd is not None or config.issuer is not None
    for key, value in (("users", config.users), ("robots", config.robots),
                       ("rules", config.rules), ("groups", config.groups)):
        if value and not own_accounts:
            raise ConfigError(f"{extension.name(key)}: only used by auth.htpasswd or Dockyard's "
                              f"own token endpoint (dockyard.auth.issuer); an external token "
                              f"issuer decides access itself")
    if config.robots is None and any(rule.robots for rule in config.rules or ()):
        raise ConfigError(f"{extension.name('rules')}: rules name robots, but "
                          f"{extension.name('robots')} (their secrets file) is not set")


def _positive(section: _Reader, key: str, default: float) -> float:
    value = section.duration(key, default)
    if value <= 0:
        raise ConfigError(f"{section.name(key)}: must be longer than 0")
    return value


def _parse_token(token: _Reader, own_issuer: bool) -> TokenAuthConfig:
    realm = token.string("realm", None)
    service = token.string("service", DEFAULT_SERVICE if own_issuer else None)
    issuer = token.string("issuer", DEFAULT_ISSUER if own_issuer else None)
    bundle = token.string("rootcertbundle", None)
    jwks = token.string("jwks", None)
    algorithms = tuple(name.upper() for name in token.strings("signingalgorithms")) \
        or tuple(ALGORITHMS)
    unknown = [name for name in algorithms if name not in ALGORITHMS]
    if unknown:
        raise ConfigError(f"{token.name('signingalgorithms')}: unsupported {', '.join(unknown)} "
                          f"(supported: {', '.join(ALGORITHMS)})")
    token.ignore({"autoredirect": "set realm, or leave it out with dockyard.auth.issuer",
                  "autoredirectpath": "set realm, or leave it out with dockyard.auth.issuer"})
    token.done()
    for key, value in (("realm", realm), ("service", service), ("issuer", issuer)):
        if not value and not own_issuer:
            raise ConfigError(f"{token.name(key)}: required (or set dockyard.auth.issuer to "
                              f"use Dockyard's own token endpoint)")
    if not (bundle or jwks or own_issuer):
        raise ConfigError(f"{token.name('rootcertbundle')}: required: the token issuer's "
                          f"certificates (or auth.token.jwks, or dockyard.auth.issuer)")
    return TokenAuthConfig(realm, service or DEFAULT_SERVICE, issuer or DEFAULT_ISSUER,
                           bundle, jwks, algorithms)


def _parse_htpasswd(htpasswd: _Reader) -> HtpasswdConfig:
    realm = htpasswd.string("realm", DEFAULT_SERVICE)
    path = htpasswd.string("path", None)
    htpasswd.done()
    if not path:
        raise ConfigError(f"{htpasswd.name('path')}: required: the htpasswd file of the users")
    return HtpasswdConfig(realm, path)


def _parse_issuer(issuer: _Reader) -> IssuerConfig:
    key = issuer.string("key", None)
    algorithm = issuer.string("algorithm", IssuerConfig.algorithm).upper()
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"{issuer.name('algorithm')}: expected one of {', '.join(ALGORITHMS)}, "
                          f"got {algorithm!r}")
    config = IssuerConfig(key or "", algorithm,
                          _positive(issuer, "expiration", IssuerConfig.expiration),
                          _positive(issuer, "refreshexpiration", IssuerConfig.refresh_expiration))
    issuer.done()
    if not key:
        raise ConfigError(f"{issuer.name('key')}: required: where the token signing key is "
                          f"(created at first start)")
    return config


def _parse_rules(extension: _Reader, groups: Mapping[str, tuple[str, ...]]
                 ) -> tuple[Rule, ...] | None:
    raw = extension.value("rules", None, _to_list, "a list of rules", env_yaml=True)
    if raw is None:
        return None
    return tuple(_parse_rule(_Reader(item, (*extension.path, "rules", str(index)),
                                     extension.sources, extension.warnings), groups)
                 for index, item in enumerate(raw))


def _parse_rule(rule: _Reader, groups: Mapping[str, tuple[str, ...]]) -> Rule:
    repositories = rule.strings("repositories")
    actions = rule.strings("actions")
    if "*" in actions:
        actions = REPOSITORY_ACTIONS
    parsed = Rule(repositories, frozenset(actions), frozenset(rule.strings("users")),
                  frozenset(rule.strings("groups")), frozenset(rule.strings("robots")),
                  rule.boolean("anonymous", False))
    rule.done()
    if not repositories:
        raise ConfigError(f"{rule.name('repositories')}: required: repository names or globs")
    unknown = sorted(set(actions) - set(REPOSITORY_ACTIONS))
    if not actions or unknown:
        raise ConfigError(f"{rule.name('actions')}: expected some of "
                          f"{', '.join(REPOSITORY_ACTIONS)} or *, got {', '.join(unknown) or 'none'}")
    if parsed.anonymous and parsed.actions != {PULL}:
        raise ConfigError(f"{rule.name('actions')}: an anonymous rule may only allow pull")
    if not (parsed.anonymous or parsed.users or parsed.groups or parsed.robots):
        raise ConfigError(f"{rule.name()}: names nobody: give users, groups, robots or "
                          f"anonymous: true")
    undefined = sorted(parsed.groups - set(groups))
    if undefined:
        raise ConfigError(f"{rule.name('groups')}: no such group: {', '.join(undefined)} "
                          f"(define it under dockyard.auth.groups)")
    return parsed


def _to_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(value)
    return value


def _parse_proxy(top: _Reader, extension: _Reader) -> ProxyConfig:
    """distribution's ``proxy`` (one upstream, the whole registry) and ``dockyard.proxy``
    (``upstreams``: namespace prefix -> upstream, beside repositories clients push to)."""
    upstreams = []
    if top.has("proxy"):
        upstreams.append(_parse_upstream(top.section("proxy"), ""))
    section = extension.section("upstreams")
    for prefix in list(section.data):
        name = prefix.strip("/")
        if not is_valid_name(name):
            raise ConfigError(f"{section.name(prefix)}: not a repository namespace "
                              f"(lower-case components separated by /)")
        upstreams.append(_parse_upstream(section.section(prefix), name))
    config = ProxyConfig(tuple(upstreams), extension.duration("tagttl", ProxyConfig.tag_ttl),
                         _positive(extension, "evictioninterval", ProxyConfig.eviction_interval))
    section.done()
    extension.done()
    return config


def _parse_upstream(section: _Reader, prefix: str) -> UpstreamConfig:
    url = section.string("remoteurl", DOCKER_HUB).rstrip("/")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.path:
        raise ConfigError(f"{section.name('remoteurl')}: expected a registry's base URL such as "
                          f"{DOCKER_HUB}, got {url!r}")
    username = section.string("username", None)
    password = section.string("password", None)
    if (username is None) != (password is None):
        missing = "password" if password is None else "username"
        raise ConfigError(f"{section.name(missing)}: required with "
                          f"{section.name('username' if missing == 'password' else 'password')}")
    ttl = section.duration("ttl", UpstreamConfig.ttl)
    library = section.boolean("library", parsed.hostname in DOCKER_HUB_HOSTS)
    section.done()
    return UpstreamConfig(prefix, url, username, password, ttl, library)
