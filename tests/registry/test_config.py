"""The registry's config file: distribution's configs load, overrides apply, mistakes are named."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from registry import cli
from registry.config import ConfigError, load, parse_addr

DEBIAN_CONFIG = """\
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/docker-registry
  delete:
    enabled: true
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: basic-realm
    path: /etc/docker/registry
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
"""
"""Debian's /etc/docker/registry/config.yml (package docker-registry 2.8.2)."""

DISTRIBUTION_DEVELOPMENT_CONFIG = """\
version: 0.1
log:
  level: debug
storage:
    filesystem:
        rootdirectory: /var/lib/registry
http:
    addr: localhost:5000
    secret: asecretforlocaldevelopment
    debug:
        addr: localhost:5001
"""
"""The development example of distribution's configuration reference."""


def write(tmp_path, text: str):
    path = tmp_path / "config.yml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_debians_config_loads_with_warnings_for_what_dockyard_ignores(tmp_path):
    config = load(write(tmp_path, DEBIAN_CONFIG), {})
    assert (config.http.host, config.http.port) == (None, 5000)
    assert config.http.headers == {"X-Content-Type-Options": ("nosniff",)}
    assert config.storage.filesystem.root_directory == "/var/lib/docker-registry"
    assert config.storage.delete_enabled
    assert config.log.fields == {"service": "registry"}
    assert (config.auth.htpasswd.realm, config.auth.htpasswd.path) == ("basic-realm",
                                                                       "/etc/docker/registry")
    ignored = sorted(w.split(":")[1].strip() for w in config.warnings)
    assert ignored == ["health", "storage.cache"]
    assert all(w.startswith("ignored: ") for w in config.warnings)


def test_distributions_development_example_loads(tmp_path):
    config = load(write(tmp_path, DISTRIBUTION_DEVELOPMENT_CONFIG), {})
    assert (config.log.level, config.http.host, config.http.port) == ("DEBUG", "localhost", 5000)
    assert [w.split(":")[1].strip() for w in config.warnings] == ["http.secret", "http.debug"]


def test_the_example_config_in_deploy_loads_without_warnings():
    example = Path(__file__).resolve().parents[2] / "deploy" / "config.yml"
    config = load(str(example), {})
    assert config.warnings == ()
    assert config.storage.filesystem.root_directory == "/var/lib/dockyard-registry"


def test_no_config_means_loopback_filesystem_defaults():
    config = load(None, {})
    assert (config.http.host, config.http.port, config.http.tls) == ("127.0.0.1", 5000, None)
    assert config.storage.driver == "filesystem"
    assert config.storage.filesystem.root_directory.endswith("dockyard-registry")
    assert not config.storage.delete_enabled  # as in distribution
    purging = config.storage.upload_purging
    assert (purging.enabled, purging.age, purging.interval) == (True, 168 * 3600, 24 * 3600)
    assert (config.dockyard.workers, config.log.level, config.warnings) == (1, "INFO", ())


def test_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, """\
        version: 0.1
        log: {level: info}
        http: {addr: "127.0.0.1:5000"}
        storage:
          filesystem: {rootdirectory: /srv/a}
          delete: {enabled: false}
    """)
    config = load(path, {"REGISTRY_HTTP_ADDR": ":6000",
                         "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": "/srv/b",
                         "REGISTRY_LOG_LEVEL": "warn",
                         "REGISTRY_STORAGE_DELETE_ENABLED": "true",
                         "REGISTRY_DOCKYARD_WORKERS": "3",
                         "REGISTRY_HTTP_HEADERS": "{X-Frame-Options: [DENY]}",
                         "REGISTRY_CONFIGURATION_PATH": "/not/an/override.yml",
                         "HOME": "/unrelated"})
    assert (config.http.host, config.http.port) == (None, 6000)
    assert config.storage.filesystem.root_directory == "/srv/b"
    assert config.log.level == "WARNING"
    assert config.storage.delete_enabled
    assert config.dockyard.workers == 3
    assert config.http.headers == {"X-Frame-Options": ("DENY",)}
    assert config.warnings == ()


def test_log_levels_distribution_also_accepts(tmp_path):
    levels = {name: load(None, {"REGISTRY_LOG_LEVEL": name}).log.level
              for name in ("error", "warning", "trace", "panic", "DEBUG")}
    assert levels == {"error": "ERROR", "warning": "WARNING", "trace": "DEBUG",
                      "panic": "CRITICAL", "DEBUG": "DEBUG"}


def test_durations_and_dockyard_settings(tmp_path):
    config = load(write(tmp_path, """\
        http: {draintimeout: 1m30s}
        storage:
          maintenance: {uploadpurging: {enabled: true, age: 2h10m, interval: 500ms, dryrun: false}}
        dockyard: {workers: auto}
    """), {})
    assert config.http.drain_timeout == 90
    assert config.storage.upload_purging.age == 7800
    assert config.storage.upload_purging.interval == 0.5
    assert config.dockyard.workers >= 1


@pytest.mark.parametrize("settings, enabled, dry_run", [
    ("{dryrun: true}", True, True),
    ("{enabled: true, dryrun: true}", True, True),
    ("{enabled: false, dryrun: true}", False, True),
    ("{enabled: false}", False, False),
])
def test_upload_purging_dry_run_is_distributions(tmp_path, settings, enabled, dry_run):
    """``dryrun`` logs what would go and deletes nothing; ``enabled: false`` purges nothing."""
    config = load(write(tmp_path, f"""\
        storage:
          maintenance: {{uploadpurging: {settings}}}
    """), {})
    assert config.storage.upload_purging.enabled is enabled
    assert config.storage.upload_purging.dry_run is dry_run
    assert not config.warnings


def test_unknown_keys_are_named_in_warnings(tmp_path):
    path = write(tmp_path, """\
        version: 0.1
        htp: {addr: ":5000"}
        storage: {filesystem: {rootdirectory: /srv, rootdir: /x}}
    """)
    config = load(path, {"REGISTRY_DOCKYARD_WROKERS": "2"})
    assert config.warnings == ("unknown key: storage.filesystem.rootdir",
                               "unknown key: dockyard.wrokers (from REGISTRY_DOCKYARD_WROKERS)",
                               "unknown key: htp")


@pytest.mark.parametrize("text, environ, message", [
    ("http: {addr: [oops\n", {}, "invalid YAML"),
    ("http: {addr: localhost}", {}, "http.addr: expected HOST:PORT"),
    ("http: {addr: '::1:5000'}", {}, "http.addr: expected HOST:PORT"),
    ("", {"REGISTRY_HTTP_ADDR": "127.0.0.1:99999"}, "http.addr (from REGISTRY_HTTP_ADDR)"),
    ("storage: {delete: {enabled: maybe}}", {}, "storage.delete.enabled: expected true or false"),
    ("storage: {filesystem: {rootdirectory: [a, b]}}", {},
     "storage.filesystem.rootdirectory: expected a string, got a list"),
    ("storage: {floppy: {}}", {}, "storage: unknown storage driver 'floppy'"),
    ("storage: {s3: {bucket: b}}", {}, "storage.s3: storage driver not supported"),
    ("storage: {filesystem: {}, inmemory: }", {}, "exactly one storage driver"),
    ("storage: {maintenance: {uploadpurging: {age: 10}}}", {},
     "storage.maintenance.uploadpurging.age: expected a duration"),
    ("log: {level: loud}", {}, "log.level: expected one of"),
    ("log: {formatter: xml}", {}, "log.formatter: expected one of"),
    ("http: {net: unix, addr: /run/registry.sock}", {}, "http.net: expected one of tcp"),
    ("http: {tls: {certificate: /c.pem}}", {}, "http.tls.key: required"),
    ("http: {tls: {letsencrypt: {email: a@b}}}", {}, "http.tls.letsencrypt: not supported"),
    ("dockyard: {workers: 0}", {}, "dockyard.workers: must be at least 1"),
    ("dockyard: {workers: many}", {}, "dockyard.workers: expected a whole number"),
    ("version: 2", {}, "version: Dockyard reads configuration version 0.1"),
    ("- a list", {}, "expected a mapping of settings"),
    ("http: ':5000'", {}, "http: expected a mapping, got a string"),
])
def test_bad_config_fails_naming_the_key(tmp_path, text, environ, message):
    with pytest.raises(ConfigError) as raised:
        load(write(tmp_path, text), environ)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("addr, parsed", [
    (":5000", (None, 5000)), ("localhost:5000", ("localhost", 5000)),
    ("[::1]:5000", ("::1", 5000)), ("0.0.0.0:0", ("0.0.0.0", 0)),
])
def test_addresses_as_distribution_writes_them(addr, parsed):
    assert parse_addr(addr) == parsed


def test_the_command_reports_a_bad_config_in_one_line(tmp_path, capsys):
    path = write(tmp_path, "storage: {delete: {enabled: maybe}}")
    assert cli.main(["serve", path]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("dockyard-registry: error: storage.delete.enabled:")
    with pytest.raises(ConfigError):
        cli.main(["serve", "--debug", path])


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("dockyard-registry ")
