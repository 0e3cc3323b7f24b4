"""The proxy's configuration: distribution's ``proxy`` keys and Dockyard's ``dockyard.proxy``."""

from __future__ import annotations

import pytest

from registry import config
from registry.config import DOCKER_HUB, ConfigError


def _load(tmp_path, text: str, env: dict[str, str] | None = None):
    path = tmp_path / "config.yml"
    path.write_text(text)
    return config.load(str(path), env or {})


def test_distribution_keys_mirror_the_whole_registry(tmp_path):
    loaded = _load(tmp_path, "proxy:\n  remoteurl: https://mirror.example/\n"
                             "  username: u\n  password: p\n  ttl: 48h\n")
    (upstream,) = loaded.proxy.upstreams
    assert (upstream.prefix, upstream.remote_url, upstream.username, upstream.password,
            upstream.ttl, upstream.library) == ("", "https://mirror.example", "u", "p",
                                                48 * 3600, False)
    assert not any("proxy" in warning for warning in loaded.warnings)


def test_several_upstreams_under_prefixes_default_to_docker_hub(tmp_path):
    loaded = _load(tmp_path, "dockyard:\n  proxy:\n    tagttl: 5m\n    upstreams:\n"
                             "      dockerhub: {}\n      ghcr: {remoteurl: https://ghcr.io}\n")
    hub, ghcr = loaded.proxy.upstreams
    assert (hub.prefix, hub.remote_url, hub.library) == ("dockerhub", DOCKER_HUB, True)
    assert (ghcr.prefix, ghcr.library) == ("ghcr", False)
    assert loaded.proxy.tag_ttl == 300


def test_environment_overrides_and_no_proxy_by_default(tmp_path):
    assert not _load(tmp_path, "").proxy.enabled
    loaded = _load(tmp_path, "", {"REGISTRY_PROXY_REMOTEURL": "http://127.0.0.1:5001"})
    assert loaded.proxy.upstreams[0].remote_url == "http://127.0.0.1:5001"


@pytest.mark.parametrize("text, key", [
    ("proxy:\n  remoteurl: ftp://x\n", "proxy.remoteurl"),
    ("proxy:\n  username: u\n", "proxy.password"),
    ("dockyard:\n  proxy:\n    upstreams:\n      Bad_Prefix: {}\n",
     "dockyard.proxy.upstreams.Bad_Prefix"),
    ("dockyard:\n  proxy:\n    evictioninterval: 0s\n", "dockyard.proxy.evictioninterval"),
])
def test_mistakes_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        _load(tmp_path, text)
