"""seccomp for containers: Docker's default profile, profile conversion, and loading.

    spec["linux"]["seccomp"] = default_oci(capabilities)         # writing the bundle
    compiled = prepare(spec["linux"].get("seccomp"), cache_dir)  # in the runtime, before fork
    compiled.load()                                              # in the child, last before exec

Compiling goes through libseccomp (ctypes, see .libseccomp), imported only
when a program is not in cache_dir yet (see .cache).
"""

from __future__ import annotations

from .profile import SeccompError, default_oci, default_profile, native_arch, to_oci

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from .cache import Filter

__all__ = ["SeccompError", "default_oci", "default_profile", "load", "native_arch", "prepare",
           "to_oci"]


def prepare(spec: Mapping[str, Any] | None, cache_dir: str | None = None) -> Filter | None:
    """Compile an OCI linux.seccomp section (None: no filter) for a child to load later;
    ``cache_dir`` keeps the compiled program for the next container with the same section."""
    from .cache import prepare as prepare_filter

    return prepare_filter(spec, cache_dir)


def load(spec: Mapping[str, Any] | None) -> None:
    """Compile and load a filter in one go."""
    compiled = prepare(spec)
    if compiled is not None:
        compiled.load()
