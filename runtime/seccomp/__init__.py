"""seccomp for containers: Docker's default profile, profile conversion, and loading.

    spec["linux"]["seccomp"] = default_oci(capabilities)   # writing the bundle
    load(spec["linux"].get("seccomp"))                     # in the child, last before exec

Loading goes through libseccomp (ctypes, see .libseccomp), imported only
when a filter is loaded.
"""

from __future__ import annotations

from .profile import SeccompError, default_oci, default_profile, native_arch, to_oci

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["SeccompError", "default_oci", "default_profile", "load", "native_arch", "to_oci"]


def load(spec: Mapping[str, Any] | None) -> None:
    """Compile and load an OCI linux.seccomp section into this process (see .libseccomp.load)."""
    from .libseccomp import load as load_filter

    load_filter(spec)
