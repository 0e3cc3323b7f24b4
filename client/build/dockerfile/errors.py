"""The one error a Dockerfile can raise: where it is wrong and what was expected."""

from __future__ import annotations

from ...errors import DockyardError


class DockerfileError(DockyardError):
    """A Dockerfile the builder cannot understand, located as ``file:line: message``.

    The location is what lets someone fix a 200-line Dockerfile without
    bisecting it, so every parse failure carries one.
    """

    def __init__(self, message: str, line: int | None = None, path: str = "Dockerfile") -> None:
        self.message = message
        self.line = line
        self.path = path
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"

    def located(self, line: int | None = None, path: str | None = None) -> "DockerfileError":
        """The same error with its location filled in where it was not yet known."""
        return DockerfileError(self.message, self.line if self.line is not None else line,
                               path if path is not None else self.path)


class SubstitutionError(DockerfileError):
    """A ``$VAR``/``${...}`` expression that is malformed or fails (``${X:?msg}``)."""
