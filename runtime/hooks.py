"""OCI hooks run by the runtime itself: prestart, createRuntime, poststart, poststop.

Each hook gets the container's state JSON on stdin, as the runtime spec
requires.  A failing prestart/createRuntime hook fails the create; the spec
says poststart and poststop failures are only warnings, so those are logged
to stderr and the operation goes on.  (createContainer and startContainer,
which must run inside the container's namespaces, are not supported yet.)
"""

from __future__ import annotations

import sys

from runtime import jsonio

_WARN_ONLY = ("poststart", "poststop")


class HookError(RuntimeError):
    pass


def run(config: dict, stage: str, state: dict) -> None:
    """Run config.hooks[stage] in order; costs nothing when there are none."""
    entries = (config.get("hooks") or {}).get(stage) or []
    if not entries:
        return
    import subprocess

    payload = jsonio.dumps(state).encode()
    for hook in entries:
        argv = hook.get("args") or [hook["path"]]
        env = dict(e.partition("=")[::2] for e in hook.get("env") or [])
        try:
            subprocess.run(argv, executable=hook["path"], input=payload, env=env, check=True,
                           timeout=hook.get("timeout"), stdout=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as e:
            if stage in _WARN_ONLY:
                print(f"warning: {stage} hook {hook['path']}: {e}", file=sys.stderr)
                continue
            raise HookError(f"{stage} hook {hook['path']}: {e}") from None
