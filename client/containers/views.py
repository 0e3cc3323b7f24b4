"""How containers are shown: ``ps`` rows (and their ``--format`` fields) and ``inspect`` documents."""

from __future__ import annotations

from datetime import datetime, timezone

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from .records import ContainerStore

PS_TITLES = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
             "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
             "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS",
             "Networks": "NETWORKS"}
PS_DEFAULT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
_COMMAND_WIDTH = 20


def inspect(record: dict, store: ContainerStore) -> dict:
    """`docker inspect`'s document: the record without dockyard's private section, with
    the network settings the container has now."""
    from .netsettings import network_settings

    document = {key: value for key, value in record.items() if key != "Dockyard"}
    document["NetworkSettings"] = network_settings(store, record)
    return document


def ps_row(record: dict, truncate: bool = True, now: datetime | None = None) -> dict[str, str]:
    """The fields ``docker ps --format`` offers, for one container."""
    from client.formatting import human_duration, parse_time

    now = now or datetime.now(timezone.utc)
    state = record["State"]
    command = " ".join([record["Path"], *record["Args"]])
    if truncate and len(command) > _COMMAND_WIDTH:
        command = command[:_COMMAND_WIDTH - 1] + "…"
    created = parse_time(record["Created"]) or now

    def ago(text: str) -> str:
        moment = parse_time(text) or now
        return human_duration(max(0.0, (now - moment).total_seconds()))

    if state["Running"]:
        status = f"Up {ago(state['StartedAt'])}"
    elif state["Status"] == "created":
        status = "Created"
    else:
        status = f"Exited ({state['ExitCode']}) {ago(state['FinishedAt'])} ago"
    return {
        "ID": record["Id"] if not truncate else record["Id"][:12],
        "Image": record["Config"].get("Image", ""),
        "Command": f'"{command}"',
        "CreatedAt": created.strftime("%Y-%m-%d %H:%M:%S +0000 UTC"),
        "RunningFor": f"{ago(record['Created'])} ago",
        "Ports": "",
        "State": "running" if state["Running"] else state["Status"],
        "Status": status,
        "Size": "",
        "Names": record["Name"].lstrip("/"),
        "Labels": ",".join(f"{k}={v}" for k, v in (record["Config"].get("Labels") or {}).items()),
        "Mounts": ",".join(m["Destination"] for m in record.get("Mounts") or []),
        "Networks": ",".join(record.get("NetworkSettings", {}).get("Networks") or {}),
    }
