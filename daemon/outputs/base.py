"""The interface every output backend implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from handmap.mappings.actions import Stamped


@runtime_checkable
class Output(Protocol):
    """Turns stamped actions into input (or into the dry-run stream).

    A backend tracks every key and button it holds down, so that ``release_all`` can let
    them go whatever the mapping engine did: it is the last line of defence against a
    stuck key, called on pause, hand loss, profile switch, exit and crash.
    """

    name: str

    def emit(self, item: Stamped) -> None: ...

    def release_all(self, t: float = 0.0, frame: int = 0) -> None: ...

    def close(self) -> None: ...
