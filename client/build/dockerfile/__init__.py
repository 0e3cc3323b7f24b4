"""The Dockerfile language: parsing into typed stages, and variable scoping.

``parse(text, path)`` gives a ``Dockerfile`` (global ARGs and stages of
instructions) or raises ``DockerfileError`` naming the file and line;
``scope.StageScope`` substitutes variables step by step as Docker does.
"""

from .errors import DockerfileError, SubstitutionError
from .instructions import Dockerfile, Stage
from .parser import parse

__all__ = ["Dockerfile", "DockerfileError", "Stage", "SubstitutionError", "parse"]
