"""One registry per kind of component (cells, poolings, optimizers, tokenizer backends).

An entry is registered once, by name, and everything else reads it from there: the
config schema's allowed values, the model builder, the parameter table, the gate
trace and the reports. Adding a component is adding one entry.
"""

from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar


class Named(Protocol):
    """Anything with a ``name``: what a registry holds."""

    name: str


Entry = TypeVar("Entry", bound=Named)


class Registry(Generic[Entry]):
    """Entries of one kind, by name, in the order they were registered."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, entry: Entry) -> Entry:
        """Add ``entry`` under ``entry.name``; a name is taken once. Returns the entry."""
        if entry.name in self._entries:
            raise ValueError(f"a {self.kind} named {entry.name!r} is already registered")
        self._entries[entry.name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove an entry (tests register components of their own and take them out again)."""
        del self._entries[name]

    def names(self) -> tuple[str, ...]:
        """The registered names, in the order they were registered."""
        return tuple(self._entries)

    def __getitem__(self, name: str) -> Entry:
        if name not in self._entries:
            raise KeyError(f"unknown {self.kind} {name!r}; expected one of {', '.join(self._entries)}")
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries.values()))
