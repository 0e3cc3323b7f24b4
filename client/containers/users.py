"""``--user`` / the image's User as Docker reads it: names from the image's own files.

``name|uid[:group|gid]``: a name must exist in the container's ``/etc/passwd``
(a group name in its ``/etc/group``); numbers need not.  Without a group the
user's primary group applies, plus the supplementary groups that list the
user as a member.  HOME comes from the passwd entry.  The files are read
from the container's root (the mounted overlay), with symlinks resolved
inside it, since an image's ``/etc/passwd`` could be a link aimed at the
host's.
"""

from __future__ import annotations

from client.errors import DockyardError

_MAX_ID = 2**31 - 1


class User:
    """A resolved identity: the OCI process.user fields plus the home directory."""

    __slots__ = ("uid", "gid", "additional_gids", "home")

    def __init__(self, uid: int, gid: int, additional_gids: list[int], home: str) -> None:
        self.uid, self.gid, self.additional_gids, self.home = uid, gid, additional_gids, home

    def oci(self) -> dict:
        user: dict = {"uid": self.uid, "gid": self.gid}
        if self.additional_gids:
            user["additionalGids"] = self.additional_gids
        return user


def resolve(rootfs: str, spec: str) -> User:
    """The identity ``spec`` names inside the container whose root is ``rootfs``.
    No user is uid 0, and as with runc its passwd entry still gives the home
    and the supplementary groups."""
    user_part, _, group_part = spec.partition(":")
    user_part = user_part or "0"
    passwd = _entries(rootfs, "/etc/passwd", 7)
    entry = next((e for e in passwd if e[0] == user_part), None)
    if entry is None and user_part.isdigit():
        entry = next((e for e in passwd if e[2] == user_part), None)
    if entry is None and not user_part.isdigit():
        raise DockyardError(f"unable to find user {user_part}: no matching entries in passwd file")
    uid = _number(entry[2] if entry else user_part, "uid")
    gid = _number(entry[3], "gid") if entry else 0
    home = entry[5] if entry else "/"
    groups = _entries(rootfs, "/etc/group", 4)
    additional: list[int] = []
    if group_part:
        group = next((g for g in groups if g[0] == group_part), None)
        if group is None and not group_part.isdigit():
            raise DockyardError(f"unable to find group {group_part}: no matching entries in group file")
        gid = _number(group[2] if group else group_part, "gid")
    elif entry is not None:
        additional = sorted({_number(g[2], "gid") for g in groups
                             if entry[0] in g[3].split(",") and g[2].isdigit()})
    return User(uid, gid, additional, home or "/")


def _number(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise DockyardError(f"invalid {what} {text!r}") from None
    if not 0 <= value <= _MAX_ID:
        raise DockyardError(f"{what} {value} is out of range (0-{_MAX_ID})")
    return value


def _entries(rootfs: str, path: str, fields: int) -> list[list[str]]:
    """The colon-separated lines of a file in the container, each padded to ``fields``; none if absent."""
    from runtime.mounts import secure_join

    try:
        with open(secure_join(rootfs, path), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:  # absent, a directory, a link loop: no entries, as if empty
        return []
    entries = []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(":")
        entries.append((parts + [""] * fields)[:fields])
    return entries
