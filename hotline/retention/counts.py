"""What a purge removed (or would remove) on one line, in counts only."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass
class Removed:
    """What a purge removed (or would remove) on one line, in counts only."""

    requests: int = 0  # closed requests made anonymous
    recordings: int = 0  # recordings deleted at the provider
    recordings_kept: int = 0  # the provider could not delete them now: the next run retries
    sms: int = 0  # SMS texts emptied
    call_sessions: int = 0  # calls' IVR state and answers emptied
    volunteers: int = 0  # volunteers who left: name and number removed
    leads: int = 0  # volunteer leads: recording, transcript and number removed
    contacts: int = 0  # phone numbers deleted from the vault

    def add(self, other: Removed | dict) -> None:
        """Add ``other``'s counts to these (other keys of a dict are ignored)."""
        values = other if isinstance(other, dict) else asdict(other)
        for each in fields(self):
            setattr(self, each.name, getattr(self, each.name) + int(values.get(each.name, 0)))

    def for_log(self) -> str:
        """The counts that are not zero, e.g. "requests 2, recordings 2"."""
        return ", ".join(f"{name} {count}" for name, count in asdict(self).items() if count)

    def __bool__(self) -> bool:
        return any(getattr(self, each.name) for each in fields(self))
