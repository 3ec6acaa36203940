"""Shipping addresses in the structure each destination country uses."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class AddressFormat:
    postcode: str | None  # regex for the whole (normalised) postcode; None: the country has none
    region_required: bool = False
    postcode_example: str = ""


# Postcode formats of the destinations the shop ships to. Unknown countries accept any postcode.
ADDRESS_FORMATS: dict[str, AddressFormat] = {
    "US": AddressFormat(r"\d{5}(-\d{4})?", region_required=True, postcode_example="94105"),
    "CA": AddressFormat(r"[A-Z]\d[A-Z] \d[A-Z]\d", region_required=True, postcode_example="M5V 2T6"),
    "GB": AddressFormat(r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}", postcode_example="SW1A 1AA"),
    "IE": AddressFormat(r"[A-Z]\d[\dW] [A-Z\d]{4}", postcode_example="D02 X285"),
    "DE": AddressFormat(r"\d{5}", postcode_example="10115"),
    "FR": AddressFormat(r"\d{5}", postcode_example="75002"),
    "ES": AddressFormat(r"\d{5}", region_required=True, postcode_example="28013"),
    "IT": AddressFormat(r"\d{5}", region_required=True, postcode_example="00184"),
    "PT": AddressFormat(r"\d{4}-\d{3}", postcode_example="1100-148"),
    "NL": AddressFormat(r"\d{4} [A-Z]{2}", postcode_example="1012 AB"),
    "BE": AddressFormat(r"\d{4}", postcode_example="1000"),
    "AT": AddressFormat(r"\d{4}", postcode_example="1010"),
    "CH": AddressFormat(r"\d{4}", postcode_example="8001"),
    "PL": AddressFormat(r"\d{2}-\d{3}", postcode_example="00-001"),
    "SE": AddressFormat(r"\d{3} \d{2}", postcode_example="111 22"),
    "RU": AddressFormat(r"\d{6}", region_required=True, postcode_example="101000"),
    "TR": AddressFormat(r"\d{5}", region_required=True, postcode_example="34000"),
    "BR": AddressFormat(r"\d{5}-\d{3}", region_required=True, postcode_example="01310-100"),
    "MX": AddressFormat(r"\d{5}", region_required=True, postcode_example="06600"),
    "JP": AddressFormat(r"\d{3}-\d{4}", region_required=True, postcode_example="150-0001"),
    "KR": AddressFormat(r"\d{5}", postcode_example="04524"),
    "CN": AddressFormat(r"\d{6}", region_required=True, postcode_example="200000"),
    "AU": AddressFormat(r"\d{4}", region_required=True, postcode_example="2000"),
    "SA": AddressFormat(r"\d{5}(-\d{4})?", postcode_example="12271"),
    "AE": AddressFormat(None),
    "EG": AddressFormat(r"\d{5}", postcode_example="11511"),
}


def normalise_postcode(country: str, postcode: str | None) -> str | None:
    """Upper-case, collapse spaces, and put the separator where the country writes it."""
    if postcode is None:
        return None
    code = re.sub(r"\s+", " ", postcode.strip().upper())
    compact = code.replace(" ", "").replace("-", "")
    if country in ("GB", "CA", "IE") and len(compact) > 3:
        return f"{compact[:-3]} {compact[-3:]}"
    if country == "NL" and len(compact) == 6:
        return f"{compact[:4]} {compact[4:]}"
    if country == "SE" and len(compact) == 5:
        return f"{compact[:3]} {compact[3:]}"
    if country == "PL" and len(compact) == 5 and compact.isdigit():
        return f"{compact[:2]}-{compact[2:]}"
    if country == "JP" and len(compact) == 7 and compact.isdigit():
        return f"{compact[:3]}-{compact[3:]}"
    if country == "PT" and len(compact) == 7 and compact.isdigit():
        return f"{compact[:4]}-{compact[4:]}"
    if country == "BR" and len(compact) == 8 and compact.isdigit():
        return f"{compact[:5]}-{compact[5:]}"
    return code


def postcode_is_valid(country: str, postcode: str | None) -> bool:
    fmt = ADDRESS_FORMATS.get(country)
    if fmt is None:
        return bool(postcode and postcode.strip()) or postcode is None
    if fmt.postcode is None:
        return not postcode
    normalised = normalise_postcode(country, postcode)
    return bool(normalised) and re.fullmatch(fmt.postcode, normalised) is not None


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    city: str
    country: str
    postcode: str | None = None
    region: str | None = None
    line2: str | None = None
    phone: str | None = None

    def problems(self) -> list[str]:
        """Field names that are missing or malformed for this country (empty: valid)."""
        fmt = ADDRESS_FORMATS.get(self.country)
        missing = [f for f in ("name", "line1", "city", "country") if not (getattr(self, f) or "").strip()]
        if fmt and fmt.region_required and not (self.region or "").strip():
            missing.append("region")
        if not postcode_is_valid(self.country, self.postcode):
            missing.append("postcode")
        return missing

    def normalised(self) -> "Address":
        return replace(self, country=self.country.upper(),
                       postcode=normalise_postcode(self.country.upper(), self.postcode))

    def as_dict(self) -> dict:
        return asdict(self)
