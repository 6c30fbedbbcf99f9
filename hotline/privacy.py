"""Privacy: the keyed caller hash, the encrypted contact vault, and redaction of free text.

The vault's numbers are encrypted with Fernet keys from HOTLINE_VAULT_KEY (newest first:
the newest encrypts, every key decrypts, ``rotate_vault`` moves entries to the newest).
Every decryption goes through ``reveal_number``, which audits why and for whom.
Personal details typed or spoken into free text (phone numbers, e-mail addresses) are
replaced by ``redact_personal_details`` before the text is stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import phonenumbers
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlmodel import Session, col, select

from hotline.audit import record
from hotline.config import Secrets
from hotline.db import in_batches
from hotline.models import AuditEvent, Contact, utcnow


def caller_hash(number_e164: str, pepper: str) -> str:
    """A keyed hash of a phone number: recognises a repeat caller, reveals nothing."""
    return hmac.new(pepper.encode(), number_e164.encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=8)
def _vault(keys: tuple[str, ...]) -> MultiFernet:
    """The vault's keys as one MultiFernet: encrypts with the first, decrypts with any."""
    return MultiFernet([Fernet(key.encode()) for key in keys])


def store_contact(session: Session, secrets: Secrets, number_e164: str) -> Contact:
    """Put a number in the vault (or find it there) and return its vault entry."""
    hashed = caller_hash(number_e164, secrets.hash_pepper)
    contact = session.exec(select(Contact).where(Contact.caller_hash == hashed)).first()
    if contact is None:
        token = _vault(secrets.vault_keys).encrypt(number_e164.encode()).decode()
        contact = Contact(caller_hash=hashed, encrypted_number=token)
    contact.last_seen_at = utcnow()
    session.add(contact)
    session.flush()
    return contact


class VaultKeyMissing(Exception):
    """A vault entry that none of the configured keys decrypts (a key removed too early)."""


# Why the system may decrypt a number: each decryption is audited with one of these.
REVEAL_REASONS = (
    "sms_to_volunteer",  # an SMS job texts a volunteer
    "sms_check",  # an SMS job asks the provider whether an interrupted attempt sent a text
    "call_back",  # an operator's call-back rings the resident
    "operator_phone",  # a call-back first rings the operator's own phone
    "masked_call",  # the IVR puts a resident and a volunteer through to each other
    "read_back",  # the IVR reads a number the caller keyed in back to them
)
NUMBER_REVEALED = "number_revealed"
VAULT_ROTATED = "vault_rotated"


def reveal_number(
    session: Session,
    contact: Contact,
    secrets: Secrets,
    *,
    reason: str,
    line_id: int | None = None,
    help_request_id: int | None = None,
    assignment_id: int | None = None,
    volunteer_id: int | None = None,
    operator_id: int | None = None,
    job: str | None = None,
    call_sid: str | None = None,
) -> str:
    """Decrypt a vault entry for the system (to bridge a call or send an SMS), audited.

    ``reason`` is one of REVEAL_REASONS; the ids say for which line, request, assignment
    and volunteer, ``operator_id`` which member of staff caused it, ``job`` or
    ``call_sid`` which job or call. The audit event (never the number) is added to
    ``session`` for the caller's own commit. Raises VaultKeyMissing when no configured
    key decrypts the entry.
    """
    if reason not in REVEAL_REASONS:
        raise ValueError(f"reveal_number: unknown reason {reason!r}")
    try:
        number = _vault(secrets.vault_keys).decrypt(contact.encrypted_number.encode()).decode()
    except InvalidToken:
        raise VaultKeyMissing(
            f"vault entry {contact.id} cannot be decrypted with any key in HOTLINE_VAULT_KEY: "
            "was the key it was encrypted with removed before `hotline vault rotate` ran?"
        ) from None
    context = {
        "line": line_id,
        "request": help_request_id,
        "assignment": assignment_id,
        "volunteer": volunteer_id,
        "job": job,
        "call": call_sid,
    }
    # Ids in the detail rather than the event's columns: a request's and a volunteer's
    # history stay about what people did, the vault's log is read on its own page.
    record(
        session,
        NUMBER_REVEALED,
        operator_id=operator_id,
        reason=reason,
        contact=contact.id,
        **{key: value for key, value in context.items() if value is not None},
    )
    return number


def vault_log(
    session: Session,
    *,
    visible: Any = None,
    reason: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[AuditEvent], bool]:
    """The vault's audit (decryptions and rotations), newest first, and whether more follow.

    ``visible``: the access policy's ``number_use_filter`` (None: every line's
    decryptions, and the rotations).
    """
    query = select(AuditEvent).order_by(
        col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc()
    )
    if reason:
        query = query.where(
            AuditEvent.action == NUMBER_REVEALED,
            col(AuditEvent.detail)["reason"].as_string() == reason,
        )
    else:
        query = query.where(col(AuditEvent.action).in_((NUMBER_REVEALED, VAULT_ROTATED)))
    if visible is not None:
        query = query.where(visible)
    events = list(session.exec(query.offset(offset).limit(limit + 1)))
    return events[:limit], len(events) > limit


# --- rotating the vault key ----------------------------------------------------------------


@dataclass
class VaultCount:
    """How the vault's entries stand against the configured keys."""

    entries: int = 0
    # position of the key that decrypts an entry (0: the newest) -> how many entries
    by_key: dict[int, int] = field(default_factory=dict)
    unreadable: list[int] = field(default_factory=list)  # ids no configured key decrypts

    @property
    def on_old_keys(self) -> int:
        """Entries that need a key other than the newest."""
        return sum(count for position, count in self.by_key.items() if position > 0)


@dataclass
class RotationCount:
    """What ``rotate_vault`` did."""

    rotated: int = 0
    already_current: int = 0
    unreadable: list[int] = field(default_factory=list)


def check_vault(session: Session, secrets: Secrets, *, batch_size: int = 500) -> VaultCount:
    """Which key each vault entry needs; nothing is changed, nothing revealed or audited."""
    keys = [Fernet(key.encode()) for key in secrets.vault_keys]
    count = VaultCount()
    for batch in in_batches(session, select(Contact), Contact.id, batch_size):
        for contact in batch:
            count.entries += 1
            token = contact.encrypted_number.encode()
            for position, key in enumerate(keys):
                try:
                    key.decrypt(token)
                except InvalidToken:
                    continue
                count.by_key[position] = count.by_key.get(position, 0) + 1
                break
            else:
                count.unreadable.append(contact.id)
        session.expunge_all()
    return count


def rotate_vault(session: Session, secrets: Secrets, *, batch_size: int = 500) -> RotationCount:
    """Re-encrypt every vault entry with the newest key, committing batch by batch.

    Idempotent and resumable: entries already on the newest key are left alone, so a run
    that was stopped picks up where it was. An entry is only replaced if nobody changed it
    meanwhile. Afterwards the older keys can be removed from HOTLINE_VAULT_KEY. One
    "vault_rotated" audit event records the counts (no entry is revealed to anyone).
    """
    vault, newest = _vault(secrets.vault_keys), Fernet(secrets.vault_keys[0].encode())
    count = RotationCount()
    for batch in in_batches(session, select(Contact), Contact.id, batch_size):
        for contact in batch:
            old = contact.encrypted_number
            try:
                newest.decrypt(old.encode())
            except InvalidToken:
                pass
            else:
                count.already_current += 1
                continue
            try:
                new = vault.rotate(old.encode()).decode()
            except InvalidToken:
                count.unreadable.append(contact.id)
                continue
            count.rotated += session.execute(
                sa.update(Contact)
                .where(col(Contact.id) == contact.id, col(Contact.encrypted_number) == old)
                .values(encrypted_number=new)
            ).rowcount
        session.commit()
        session.expunge_all()
    record(
        session,
        VAULT_ROTATED,
        operator_id=None,
        rotated=count.rotated,
        already_current=count.already_current,
        unreadable=len(count.unreadable),
    )
    session.commit()
    return count


# --- phone numbers in text and in logs ----------------------------------------------------

DEFAULT_REGION = "BE"
REDACTED = "[number]"
# POSSIBLE, not VALID: VALID only takes numbers in ranges that are handed out and, for
# Belgium, written with their 0, so it lets through what people do write: 070 12 34 56
# (shared cost), 470 12 34 56, a Dutch 06 12345678 without +31, a number with a digit
# too many. What POSSIBLE would take that is not a number (an access log's "500 12345",
# a byte count, an IP address) is masked before matching; see _NOT_A_NUMBER.
LENIENCY = phonenumbers.Leniency.POSSIBLE
_LENIENCY_WITHIN_A_RUN = phonenumbers.Leniency.VALID  # see _numbers_among_groups

# No number is written with fewer than seven digits (+683 1234 is about the shortest):
# text with fewer is returned at once, which is most log records. (Possessive and anchored,
# so that it fails in one pass.)
_SEVEN_DIGITS = re.compile(r"(?:\D*+\d){7}")
# The separators the matcher allows between digits, at most four in a row (phonenumbers'
# _VALID_PUNCTUATION). Seven digits joined by them is what the matcher could take for a
# number; where there is no such run (29/Nov/2026:10:59:44) it is not called.
_SEPARATORS = (
    "-x\u2010-\u2015\u2212\u30fc\uff0d-\uff0f \u00a0\u00ad\u200b\u2060\u3000"
    "()\uff08\uff09\uff3b\uff3d.\\[\\]/~\u2053\u223c\uff5e"
)
_DIGIT_RUN = re.compile(rf"\d(?:[{_SEPARATORS}]{{0,4}}+\d){{6}}")
# A whole run of digit groups, from its plus sign; and its groups.
_PLUS_SIGNS = "+\uff0b"
_RUN = re.compile(rf"[{_PLUS_SIGNS}]?\d(?:[{_SEPARATORS}]{{0,4}}+\d)*+")
_DIGIT_GROUP = re.compile(r"\d+")
# A number has 7 digits or more, 9 or more as written in Belgium (0 and 8 digits), and
# at most 17 (15, the most E.164 allows, after 00).
_MIN_DIGITS, _NATIONAL_MIN_DIGITS, _MAX_DIGITS = 7, 9, 17
_NUMBER_STARTS = _PLUS_SIGNS + "0\uff10"  # how an international or a national number starts

# Form bodies and URLs carry numbers URL-encoded (To=%2B32470123456, q=0470+12+34+56).
# The matcher gets a copy decoded in place, every character kept where it was so that
# what it finds maps back onto the original: %2B becomes "  +", any other %XX three
# spaces, and a + between digits (a form-encoded space) a space.
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_PLUS_BETWEEN_DIGITS = re.compile(r"\+(?<=\d\+)(?=\d)")  # + first: found fast

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# Digits that are never a phone number, masked before matching: POSSIBLE would take some
# for one ("500 12345" is a possible Belgian number) or glue them to a number beside them.
# Each is fenced so that it cannot bite into a number written next to it (a time followed
# by +32…, 0470-12-34-56, 016.27.27.72 are left whole).
_NOT_A_NUMBER = re.compile(
    "|".join(
        (
            # Twilio SIDs (CA…, SM…, RE…, AC…: two letters and 32 hex digits) and UUIDs.
            r"\b[A-Z]{2}[0-9a-fA-F]{32}\b",
            r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b",
            # Dates: 2026-11-29, 29/11/2026, 29.11.2026; the access log's
            # [29/Nov/2026:10:59:44 +0000].
            r"(?<![\d-])(?:19|20)\d\d-[01]\d-[0-3]\d(?!-?\d)",
            r"(?<![\d/])[0-3]?\d/[01]?\d/(?:19|20)?\d\d(?![\d/])",
            r"(?<![\d.-])[0-3]?\d([.-])[01]?\d\1(?:19|20)\d\d(?![.-]?\d)",  # 29.11.2026
            r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]",
            # Times: 10:59, 10:59:44,123, T10:59:44.123Z, 10:59:44 +0100.
            r"(?<![\d:])\d{1,2}:\d\d(?::\d\d(?:[.,]\d{1,9})?)?(?:Z|\s?[+-]\d\d:?\d\d)?(?![\d:])",
            # IPv4 addresses, with a port: 127.0.0.1:5000.
            rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?::\d{{1,5}})?(?!\.?\d)",
            # The access log's status and size after the request line: "GET / HTTP/1.1" 200 1234.
            r'(?<=")\s[1-5]\d\d\s(?:\d+|-)(?!\S)',
            # Sizes and durations: 12345678 bytes, 1234.5 ms, 12MB, 250µs.
            r"(?<![\w.])\d+(?:[.,]\d+)?"
            r"(?:\s?(?:bytes?|[kKMGT]i?B|ms|µs|sec|seconds?)|B|s|us|ns)\b",
        )
    )
)


def _mask(match: re.Match[str]) -> str:
    return "_" * len(match.group())


def _in_a_word(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is glued to letters: part of an identifier, not a number."""
    return (start > 0 and text[start - 1].isalnum()) or (end < len(text) and text[end].isalnum())


def _matches(text: str, region: str, leniency: int, offset: int = 0) -> Iterator[tuple[int, int]]:
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=leniency):
        yield offset + match.start, offset + match.end


def _unclaimed_runs(text: str, claimed: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Runs of seven digits or more in ``text`` that no span in ``claimed`` touches."""
    for run in _RUN.finditer(text):
        if _in_a_word(text, run.start(), run.end()):
            continue
        gaps, position = [], run.start()
        for start, end in claimed:
            if start < run.end() and end > position:
                gaps.append((position, start))
                position = end
        gaps.append((position, run.end()))
        for gap_start, gap_end in gaps:
            for rest in _RUN.finditer(text, gap_start, gap_end):
                if _DIGIT_RUN.search(rest.group()):
                    yield rest.start(), rest.end()


def _number_from(
    text: str, start: int, groups: list[tuple[int, int]], first: int, region: str
) -> tuple[int, int, int] | None:
    """The longest VALID number made of groups[first:…]: its start, end and last group."""
    sub_start = groups[first][0]
    if sub_start > start and text[sub_start - 1] in _PLUS_SIGNS:
        sub_start -= 1
    for last in range(len(groups) - 1, first - 1, -1):
        digits = sum(group_end - group_start for group_start, group_end in groups[first : last + 1])
        if digits < _MIN_DIGITS:
            return None
        sub_end = groups[last][1]
        if digits <= _MAX_DIGITS and (sub_start, sub_end) in set(
            _matches(text[sub_start:sub_end], region, _LENIENCY_WITHIN_A_RUN, sub_start)
        ):
            return sub_start, sub_end, last
    return None


def _valid_without_trunk_zero(groups: list[tuple[int, int]], text: str, region: str) -> bool:
    """Whether digit groups are a valid national number written without its 0 (470/12/34/56).

    The matcher takes "12/34/56" for a date and gives such a run up; with the 0 in front
    it is a number like any other.
    """
    digits = "".join(text[group_start:group_end] for group_start, group_end in groups)
    try:
        number = phonenumbers.parse("0" + digits, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _numbers_among_groups(text: str, start: int, end: int, region: str) -> list[tuple[int, int]]:
    """Numbers in text[start:end], a run of digit groups the matcher found none in.

    The matcher gives up on a run with a group too many ("0470 12 34 56 4821": a code
    after the number) and then only tries the groups one by one. Here runs of whole
    groups are tried, longest first, as long as a number can be. Only VALID numbers are
    taken: cut out of a longer run, a merely possible one is as likely the wrong cut
    ("12 0470 12" of "12 0470 12 34 56") or a few counts in a row ("12 13 14 15").
    Groups left over that start like a number (+, 0) and are as long as one, but are
    none (a digit too many: 0470 12 34 567), are taken whole: better a typo redacted
    than a number shown; so are groups that are a valid number once the 0 is put back.
    """
    groups = [(match.start(), match.end()) for match in _DIGIT_GROUP.finditer(text, start, end)]
    found: list[tuple[int, int]] = []
    left_over: list[tuple[int, int]] = []

    def take_left_over() -> None:
        # From the first group that starts like a number and leaves a number's length.
        for index, (group_start, _) in enumerate(left_over):
            if group_start > start and text[group_start - 1] in _PLUS_SIGNS:
                group_start -= 1
            digits = sum(group_end - begin for begin, group_end in left_over[index:])
            if digits < _NATIONAL_MIN_DIGITS:
                break
            if digits <= _MAX_DIGITS and (
                text[group_start] in _NUMBER_STARTS
                or _valid_without_trunk_zero(left_over[index:], text, region)
            ):
                found.append((group_start, left_over[-1][1]))
                break
        left_over.clear()

    first = 0
    while first < len(groups):
        number = _number_from(text, start, groups, first, region)
        if number:
            take_left_over()
            found.append(number[:2])
            first = number[2]
        else:
            left_over.append(groups[first])
        first += 1
    take_left_over()
    return found


def _number_spans(text: str, region: str) -> list[tuple[int, int]]:
    """Where the phone numbers in ``text`` start and end, in order."""
    if "%" in text:
        text = _PERCENT_ESCAPE.sub(lambda m: "  +" if m.group() in ("%2B", "%2b") else "   ", text)
    if "+" in text:
        text = _PLUS_BETWEEN_DIGITS.sub(" ", text)
    if not _DIGIT_RUN.search(text):
        return []
    text = _NOT_A_NUMBER.sub(_mask, text)
    if not _DIGIT_RUN.search(text):
        return []
    spans = [span for span in _matches(text, region, LENIENCY) if not _in_a_word(text, *span)]
    for start, end in list(_unclaimed_runs(text, spans)):
        spans += _numbers_among_groups(text, start, end, region)
    spans.sort()
    # A number sent URL-encoded starts at its %2B.
    return [
        (start - 2 if text.startswith("  +", start - 2) else start, end) for start, end in spans
    ]


def redact_phone_numbers(text: str, region: str = DEFAULT_REGION) -> str:
    """Replace every phone number in ``text`` with ``[number]``, however it is written.

    ``region`` is the country whose national forms (0470 12 34 56) are understood;
    numbers with a country code (+31 6 12345678, 0044 20 7946 0958) are found anyway.
    """
    if not _SEVEN_DIGITS.match(text):
        return text
    parts, last = [], 0
    for start, end in _number_spans(text, region):
        parts += [text[last:start], REDACTED]
        last = end
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


# --- personal details in free text -------------------------------------------------------

REDACTED_EMAIL = "[e-mail]"
# The @ as people type it, as it is URL-encoded, and as it is spelt out to avoid spam
# filters ("jan (at) example.be"); the dots of the domain likewise ("example (dot) be").
_AT = r"(?:\s?(?:@|%40)\s?|\s?[(\[{]\s?(?:at|@|apenstaartje|arobase)\s?[)\]}]\s?)"
_DOT = r"(?:\.|\s?[(\[{]\s?(?:dot|punt|point)\s?[)\]}]\s?)"
# As said on the phone (and transcribed): "jan punt peeters apenstaartje telenet punt be".
# "at" and "dot" as plain words only together, and with a known top-level domain, so that
# "look at hotline.example.org" or "at home" stay as they are.
_SPOKEN_AT = r"\s(?:at|apenstaartje|arobase|at-teken)\s"
_SPOKEN_DOT = r"\s(?:dot|punt|point)\s"
_KNOWN_TLD = r"(?:be|com|net|org|nl|fr|eu|de|lu|uk|info|biz|io|me|email|online)"
# Bounded repetitions: every word of a long text may be tried as the start of an address,
# and each try must stay short (no quadratic time on a transcript of "... dot ... dot ...").
_LABEL = r"[^\W_](?:[\w-]{0,62}[^\W_])?"
_LOCAL = r"[\w+%-][\w.+%-]{0,63}(?:\s(?:dot|punt|point)\s[\w+%-]{1,64}){0,3}"
_EMAIL = re.compile(
    rf"(?<![\w.+%-])(?:"
    rf"{_LOCAL}{_AT}{_LABEL}(?:{_DOT}{_LABEL}){{0,6}}{_DOT}[^\W\d_]{{2,24}}"
    rf"|{_LOCAL}{_SPOKEN_AT}{_LABEL}(?:{_SPOKEN_DOT}{_LABEL}){{0,3}}{_SPOKEN_DOT}{_KNOWN_TLD}"
    rf")(?![\w-])",
    re.IGNORECASE,
)
# Text with none of these has no e-mail address: returned at once (most log records).
_MAY_HOLD_AN_EMAIL = re.compile(
    r"@|%40|[(\[{]\s?at\s?[)\]}]|apenstaartje|arobase|\sat\s", re.IGNORECASE
)


def redact_email_addresses(text: str) -> str:
    """Replace every e-mail address in ``text`` with ``[e-mail]``, typed or spelt out."""
    if not _MAY_HOLD_AN_EMAIL.search(text):
        return text
    return _EMAIL.sub(REDACTED_EMAIL, text)


def redact_personal_details(text: str, region: str = DEFAULT_REGION) -> str:
    """Free text as it may be stored or logged: phone numbers and e-mail addresses replaced.

    The one function for what operators type and residents say (notes, messages,
    transcripts, reasons, SMS bodies) and for log records. References, ids, dates and the
    app's own URLs are left as they are.
    """
    return redact_email_addresses(redact_phone_numbers(text, region))


# Arguments of these types are formatted as they are: a str is redacted on its own, and a
# number passed as an int or float is a count, a size or a duration (phone numbers are
# strings here, E.164). Anything else may hide a number in its str() (an exception, a dict).
_PLAIN_ARGUMENTS = (str, int, float, type(None))


class _RedactedMapping(Mapping[str, Any]):
    """The mapping a record was logged with (gunicorn's access-log atoms), redacted as read.

    Lazily, because gunicorn passes every request header and environ variable and its
    format reads a handful; the mapping's own lookup (gunicorn's "-" for a missing atom)
    is kept. A value that is neither text nor a number is read as its redacted str().
    """

    def __init__(self, mapping: Mapping[str, Any], region: str) -> None:
        self._mapping, self._region = mapping, region
        self._redacted: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key in self._redacted:
            return self._redacted[key]
        value = self._mapping[key]
        if isinstance(value, str):
            value = redact_personal_details(value, self._region)
        elif not isinstance(value, _PLAIN_ARGUMENTS):
            value = redact_personal_details(str(value), self._region)
        self._redacted[key] = value
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping)

    def __len__(self) -> int:
        return len(self._mapping)


_TRACEBACK_FORMATTER = logging.Formatter()


def redact_log_record(record: logging.LogRecord, region: str = DEFAULT_REGION) -> None:
    """Take phone numbers and e-mail addresses out of ``record``: message, arguments, traceback.

    The message and each argument are redacted on their own, so the record keeps its
    arguments: ``%d`` still formats, and the JSON formatter still finds an access log's
    fields. When an argument's text only shows once formatted (an exception, a dict), the
    formatted message is redacted instead and replaces message and arguments.
    """
    opaque = not isinstance(record.msg, str)
    if not opaque:
        record.msg = redact_personal_details(record.msg, region)
    if isinstance(record.args, tuple):
        record.args = tuple(
            redact_personal_details(arg, region) if isinstance(arg, str) else arg
            for arg in record.args
        )
        opaque = opaque or not all(isinstance(arg, _PLAIN_ARGUMENTS) for arg in record.args)
    elif isinstance(record.args, Mapping) and not isinstance(record.args, _RedactedMapping):
        record.args = _RedactedMapping(record.args, region)
    if opaque:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call: logging reports it when it is handled
            pass
        else:
            redacted = redact_personal_details(message, region)
            if redacted != message:
                record.msg, record.args = redacted, None
    # Formatted now, while it can be redacted: formatters use exc_text once it is set.
    if record.exc_info and not record.exc_text:
        record.exc_text = redact_personal_details(
            _TRACEBACK_FORMATTER.formatException(record.exc_info), region
        )
    if record.stack_info:
        record.stack_info = redact_personal_details(record.stack_info, region)
    record._phone_numbers_redacted = True  # formatters skip _names; the JSON one checks it


class RedactingFilter(logging.Filter):
    """A logging filter that keeps phone numbers and e-mail addresses out of every log line."""

    def __init__(self, region: str = DEFAULT_REGION) -> None:
        super().__init__()
        self.region = region

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; never drops it."""
        redact_log_record(record, self.region)
        return True


def install_log_redaction(region: str = DEFAULT_REGION) -> None:
    """Redact every log record of this process as it is created (idempotent).

    A record factory rather than a handler filter: it also covers loggers and
    handlers set up later (rq's worker, gunicorn's access log). The first call's
    ``region`` stays.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_phone_numbers", False):
        return

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_log_record(record, region)
        return record

    redacting_factory.redacts_phone_numbers = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)
