"""Errors a user can cause, with the place they come from.

    MockforgeError
     ├── ConfigError    a config file, env variable or flag is wrong
     ├── SpecError      an OpenAPI document cannot be read or resolved
     ├── ProtoError     a .proto file or descriptor set cannot be compiled or loaded
     ├── PluginError    a plugin manifest, module or export is wrong
     ├── FixtureError   a fixture file is corrupt or cannot be written
     ├── StubError      a stub definition is invalid
     └── ListenError    a port is in use or an address cannot be bound

Each carries ``file`` and ``where`` (a key path, JSON pointer or line) so that
``str(err)`` is one line a user can act on. Bugs of ours are not in this tree.
"""

from __future__ import annotations


class MockforgeError(Exception):
    """Base class of the errors a user causes; ``str()`` is one actionable line."""

    kind = "error"

    def __init__(self, message: str, *, file: str | None = None, where: str | None = None) -> None:
        self.message = message
        self.file = file
        self.where = where
        super().__init__(self.__str__())

    def __str__(self) -> str:
        place = ""
        if self.file and self.where:
            place = f"{self.file} at {self.where}: "
        elif self.file:
            place = f"{self.file}: "
        elif self.where:
            place = f"{self.where}: "
        return f"{place}{self.message}".replace("\n", " ")


class ConfigError(MockforgeError):
    kind = "config"


class SpecError(MockforgeError):
    kind = "spec"


class ProtoError(MockforgeError):
    kind = "proto"


class PluginError(MockforgeError):
    kind = "plugin"


class FixtureError(MockforgeError):
    kind = "fixture"


class StubError(MockforgeError):
    kind = "stub"


class ListenError(MockforgeError):
    """A listener could not bind (port in use, address not available)."""

    kind = "listen"
