"""Finding personal data and replacing it with typed placeholders.

Each type is found by a permissive pattern and confirmed by a check that
rejects look-alikes: IBANs by their country format and mod-97 checksum
(python-stdnum), card numbers by length and the Luhn checksum, IP addresses by
parsing them (``ipaddress``), phone numbers by Google's libphonenumber rules
(the ``phonenumbers`` port). Types are replaced in a fixed order (emails,
IBANs, cards, IP addresses, phones) so that one type's digits are not taken
for another's.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn

PiiType = Literal["email", "phone", "iban", "card", "ip"]
# The order they are replaced in.
PII_TYPES: tuple[PiiType, ...] = ("email", "iban", "card", "ip", "phone")

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b"
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
# An address may end a sentence ("from 8.8.8.8."): a dot after it counts
# against it only when a digit follows ("1.2.3.4.5" is a version string).
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")


# Fewest characters of a candidate worth checking, by type.
_MIN_LENGTH = {"iban": 15, "card": 13}


def _prefix_ends(candidate: str, *, minimum: int) -> list[int]:
    """Where the candidate may end, longest first: its end, or just before a
    space or dash between groups (at least ``minimum`` characters). Never in
    the middle of a group: a digit run cut anywhere would pass Luhn one time
    in ten."""
    ends = [len(candidate)]
    ends += [i for i in range(len(candidate) - 1, 0, -1) if candidate[i] in " -"]
    return [end for end in ends if end >= minimum]


def _is_iban(candidate: str) -> bool:
    return bool(stdnum_iban.is_valid(candidate))


def _is_card(candidate: str) -> bool:
    digits = re.sub(r"[ -]", "", candidate)
    return 13 <= len(digits) <= 19 and bool(luhn.is_valid(digits))


def _is_ip(candidate: str) -> bool:
    # A bare "::" (slices in code: s[::-1]) is an address only on paper.
    if ":" in candidate and not any(c in "0123456789abcdefABCDEF" for c in candidate):
        return False
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Redactor:
    types: Sequence[str]
    placeholder: str = "[{TYPE}]"
    # Region for numbers written without a country code ("020 7946 0958"):
    # an ISO 3166 code such as "GB"; None finds only "+44 ..." numbers.
    phone_region: str | None = None

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        counts: dict[str, int] = {}
        for kind in PII_TYPES:
            if kind not in self.types:
                continue
            text, found = self._replace(kind, text)
            if found:
                counts[kind] = found
        return text, counts

    def labels(self) -> list[str]:
        return [self._label(kind) for kind in self.types]

    def _label(self, kind: str) -> str:
        return self.placeholder.replace("{TYPE}", kind.upper()).replace("{type}", kind)

    def _replace(self, kind: str, text: str) -> tuple[str, int]:
        if kind == "phone":
            return self._phones(text)
        pattern, check = _CHECKS[kind]
        found = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal found
            candidate = match.group(0)
            if check is None:
                found += 1
                return self._label(kind)
            # The pattern may run on into what follows ("… 32 BIC COBADEFF",
            # "… 1111 123"): the longest prefix that passes the check is it.
            for end in _prefix_ends(candidate, minimum=_MIN_LENGTH.get(kind, 0)):
                if check(candidate[:end]):
                    found += 1
                    return self._label(kind) + candidate[end:]
            return candidate

        if kind == "ip":
            text = _IPV4.sub(replace, text)
            return _IPV6.sub(replace, text), found
        return pattern.sub(replace, text), found

    def _phones(self, text: str) -> tuple[str, int]:
        matches = list(
            phonenumbers.PhoneNumberMatcher(
                text, self.phone_region, leniency=phonenumbers.Leniency.VALID
            )
        )
        for match in reversed(matches):
            text = text[: match.start] + self._label("phone") + text[match.end :]
        return text, len(matches)


_CHECKS: dict[str, tuple[re.Pattern[str], Callable[[str], bool] | None]] = {
    "email": (_EMAIL, None),
    "iban": (_IBAN, _is_iban),
    "card": (_CARD, _is_card),
    "ip": (_IPV4, _is_ip),
}
