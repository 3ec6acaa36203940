"""The shop's after-sales policy file: loading, validation and per-market resolution.

The policy is data (policy.yml). This module turns it into typed, checked objects and refuses a
malformed or inconsistent file with the file, the key and the reason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot import config

PAYERS = ("shop", "customer")
DUTY_TERMS = ("DDP", "DDU")
RETURN_METHODS = ("post_office", "courier_pickup", "parcel_locker", "drop_off_point")
PRIORITIES = ("urgent", "high", "normal", "low")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")


class PolicyError(ValueError):
    def __init__(self, file: Path | str, key: str, reason: str):
        self.file, self.key, self.reason = str(file), key, reason
        super().__init__(f"{file}: {key}: {reason}")


@dataclass(frozen=True)
class MarketTerms:
    """The effective after-sales terms for one destination country."""

    country: str
    market: str  # which levels applied, most specific first, e.g. "DE < EU < defaults"
    no_reason_return_days: int
    statutory_withdrawal_days: int
    quality_claim_days: int
    return_shipping_paid_by: dict[str, str]
    return_methods: tuple[str, ...]
    keep_it_refund_max_value: Decimal
    intercept_reship_max_value: Decimal
    refund_deadline_days: int
    delivery_grace_days: int
    lost_parcel_no_scan_days: int
    lost_parcel_investigation_days: int
    duties: str
    import_tax_rate_percent: Decimal | None
    duty_free_threshold: Decimal | None

    @property
    def return_window_days(self) -> int:
        """No-reason returns: the longer of the shop's window and the statutory withdrawal period."""
        return max(self.no_reason_return_days, self.statutory_withdrawal_days)


# key -> (checker, description). A checker returns the converted value or raises ValueError.
def _days(v):
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError("must be a whole number of days, 0 or more")
    return v


def _money(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ValueError("must be an amount, 0 or more")
    return Decimal(str(v))


def _optional(check):
    return lambda v: None if v is None else check(v)


def _one_of(options):
    def check(v):
        if v not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return v
    return check


def _methods(v):
    if not isinstance(v, list) or not v:
        raise ValueError("must be a non-empty list")
    for m in v:
        _one_of(RETURN_METHODS)(m)
    return tuple(v)


def _payers(v):
    if not isinstance(v, dict):
        raise ValueError("must be a map of return reason to shop/customer")
    return {reason: _one_of(PAYERS)(payer) for reason, payer in v.items()}


_TERM_KEYS = {
    "no_reason_return_days": _days,
    "statutory_withdrawal_days": _days,
    "quality_claim_days": _days,
    "return_shipping_paid_by": _payers,
    "return_methods": _methods,
    "keep_it_refund_max_value": _money,
    "intercept_reship_max_value": _money,
    "refund_deadline_days": _days,
    "delivery_grace_days": _days,
    "lost_parcel_no_scan_days": _days,
    "lost_parcel_investigation_days": _days,
    "duties": _one_of(DUTY_TERMS),
    "import_tax_rate_percent": _optional(_money),
    "duty_free_threshold": _optional(_money),
}
_TOP_KEYS = {"version", "base_currency", "exchange_rates", "return_reasons", "regions", "defaults",
             "markets", "escalation"}


@dataclass(frozen=True)
class BusinessHours:
    timezone: ZoneInfo
    days: frozenset[int]  # 0 = Monday
    open: time
    close: time

    def add(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` of business time after `start` (an aware datetime)."""
        remaining = timedelta(hours=hours)
        t = start.astimezone(self.timezone)
        while True:
            day_open = datetime.combine(t.date(), self.open, self.timezone)
            day_close = datetime.combine(t.date(), self.close, self.timezone)
            if t.weekday() in self.days and t < day_close:
                t = max(t, day_open)
                if t + remaining <= day_close:
                    return (t + remaining).astimezone(start.tzinfo)
                remaining -= day_close - t
            t = datetime.combine(t.date() + timedelta(days=1), time(0), self.timezone)

    def is_open(self, moment: datetime) -> bool:
        t = moment.astimezone(self.timezone)
        return t.weekday() in self.days and self.open <= t.time() < self.close

    def next_open(self, moment: datetime) -> datetime:
        """When the team is next at work (moment itself if it is open now)."""
        return self.add(moment, 0)


@dataclass(frozen=True)
class Policy:
    version: str
    source: str
    base_currency: str
    exchange_rates: dict[str, Decimal]
    seller_fault_reasons: frozenset[str]
    return_reasons: tuple[str, ...]
    region_of: dict[str, str]
    defaults: dict[str, Any]
    markets: dict[str, dict[str, Any]]
    sla_business_hours: dict[str, float]
    business_hours: BusinessHours
    high_value_priority_from: Decimal  # base currency: escalations about orders worth this much are high priority

    def terms_for(self, country: str) -> MarketTerms:
        country = country.upper()
        levels = [("defaults", self.defaults)]
        region = self.region_of.get(country)
        if region and region in self.markets:
            levels.append((region, self.markets[region]))
        if country in self.markets:
            levels.append((country, self.markets[country]))
        merged: dict[str, Any] = {}
        for _, values in levels:
            for key, value in values.items():
                if key == "return_shipping_paid_by":
                    merged[key] = {**merged.get(key, {}), **value}
                else:
                    merged[key] = value
        market = " < ".join(name for name, _ in reversed(levels))
        return MarketTerms(country=country, market=market, **merged)

    def to_base(self, amount: Decimal, currency: str) -> Decimal:
        """An amount in the base currency, for comparison with the policy's limits."""
        try:
            rate = self.exchange_rates[currency]
        except KeyError:
            raise PolicyError(self.source, f"exchange_rates.{currency}", "no rate for this currency") from None
        return Decimal(amount) * rate  # exact: 15.0012 is above a limit of 15

    def sla_due(self, now: datetime, priority: str) -> datetime:
        return self.business_hours.add(now, self.sla_business_hours[priority])


def load_policy(path: Path | str | None = None) -> Policy:
    path = Path(path or config.policy_file())
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(path, "(file)", "not found") from None
    except yaml.YAMLError as exc:
        raise PolicyError(path, "(file)", f"not valid YAML: {exc}") from None
    return parse_policy(raw, source=str(path))


def parse_policy(raw: Any, source: str = "<policy>") -> Policy:
    def fail(key: str, reason: str):
        raise PolicyError(source, key, reason)

    if not isinstance(raw, dict):
        fail("(file)", "must be a YAML map")
    for key in raw:
        if key not in _TOP_KEYS:
            fail(key, "unknown key")
    for key in _TOP_KEYS - {"regions", "markets"}:
        if key not in raw:
            fail(key, "missing")
    version = raw["version"]
    if not isinstance(version, str) or not version.strip():
        fail("version", "must be a non-empty string (quote it)")

    base = raw["base_currency"]
    if not isinstance(base, str) or not _CURRENCY.fullmatch(base):
        fail("base_currency", "must be a three-letter currency code")
    rates_raw = raw["exchange_rates"]
    if not isinstance(rates_raw, dict):
        fail("exchange_rates", "must be a map of currency to rate")
    rates = {}
    for cur, rate in rates_raw.items():
        if not _CURRENCY.fullmatch(str(cur)):
            fail(f"exchange_rates.{cur}", "not a three-letter currency code")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0:
            fail(f"exchange_rates.{cur}", "must be a positive number")
        rates[cur] = Decimal(str(rate))
    if rates.get(base) != 1:
        fail(f"exchange_rates.{base}", "the base currency's rate must be 1")

    reasons_raw = raw["return_reasons"]
    if not isinstance(reasons_raw, dict) or not reasons_raw:
        fail("return_reasons", "must be a non-empty map")
    faults = set()
    for reason, spec in reasons_raw.items():
        if not isinstance(spec, dict) or set(spec) != {"seller_fault"} or not isinstance(spec["seller_fault"], bool):
            fail(f"return_reasons.{reason}", "must be {seller_fault: true|false}")
        if spec["seller_fault"]:
            faults.add(reason)
    reasons = tuple(reasons_raw)

    region_of: dict[str, str] = {}
    regions = raw.get("regions") or {}
    if not isinstance(regions, dict):
        fail("regions", "must be a map of region name to country codes")
    for region, countries in regions.items():
        if not isinstance(countries, list) or not countries:
            fail(f"regions.{region}", "must be a non-empty list of country codes")
        for c in countries:
            if isinstance(c, bool):
                fail(f"regions.{region}", "quote country codes: YAML reads NO (Norway) as false")
            if not isinstance(c, str) or not _COUNTRY.fullmatch(c):
                fail(f"regions.{region}", f"{c!r} is not a two-letter country code")
            if c in region_of:
                fail(f"regions.{region}", f"{c} is already in region {region_of[c]}")
            region_of[c] = region
    for region in regions:
        if region in region_of:
            fail(f"regions.{region}", "a region must not be named like a country it or another region lists")

    def terms(section: str, values: Any, complete: bool) -> dict[str, Any]:
        if not isinstance(values, dict):
            fail(section, "must be a map")
        out = {}
        for key, value in values.items():
            check = _TERM_KEYS.get(key)
            if check is None:
                fail(f"{section}.{key}", "unknown key")
            try:
                out[key] = check(value)
            except ValueError as exc:
                fail(f"{section}.{key}", str(exc))
        if complete:
            missing = sorted(set(_TERM_KEYS) - set(out))
            if missing:
                fail(section, f"missing {', '.join(missing)}")
        payers = out.get("return_shipping_paid_by", {})
        for reason in payers:
            if reason not in reasons_raw:
                fail(f"{section}.return_shipping_paid_by.{reason}", "not one of return_reasons")
        if complete:
            uncovered = [r for r in reasons if r not in payers]
            if uncovered:
                fail(f"{section}.return_shipping_paid_by", f"no payer for {', '.join(uncovered)}")
            for reason in faults:
                if payers[reason] != "shop":
                    fail(f"{section}.return_shipping_paid_by.{reason}",
                         "the seller pays return shipping for its own quality faults")
        return out

    defaults = terms("defaults", raw["defaults"], complete=True)
    markets = {}
    for name, values in (raw.get("markets") or {}).items():
        if isinstance(name, bool):
            fail(f"markets.{name}", "quote country codes: YAML reads NO (Norway) as false")
        if name not in regions and not _COUNTRY.fullmatch(str(name)):
            fail(f"markets.{name}", "must be a region from `regions` or a two-letter country code")
        markets[name] = terms(f"markets.{name}", values, complete=False)
        for reason, payer in markets[name].get("return_shipping_paid_by", {}).items():
            if reason in faults and payer != "shop":
                fail(f"markets.{name}.return_shipping_paid_by.{reason}",
                     "the seller pays return shipping for its own quality faults")

    esc = raw["escalation"]
    if not isinstance(esc, dict) or set(esc) != {"sla_business_hours", "business_hours", "high_value_priority_from"}:
        fail("escalation", "must have exactly sla_business_hours, business_hours and high_value_priority_from")
    high_value = esc["high_value_priority_from"]
    if isinstance(high_value, bool) or not isinstance(high_value, (int, float)) or high_value <= 0:
        fail("escalation.high_value_priority_from", "must be a positive amount in the base currency")
    sla = esc["sla_business_hours"]
    if not isinstance(sla, dict) or set(sla) != set(PRIORITIES):
        fail("escalation.sla_business_hours", f"must give hours for each of {', '.join(PRIORITIES)}")
    for prio, hours in sla.items():
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours <= 0:
            fail(f"escalation.sla_business_hours.{prio}", "must be a positive number of hours")
    ordered = [sla[p] for p in PRIORITIES]
    if ordered != sorted(ordered):
        fail("escalation.sla_business_hours", "a higher priority must not have a longer SLA")

    bh = esc["business_hours"]
    if not isinstance(bh, dict) or set(bh) != {"timezone", "days", "open", "close"}:
        fail("escalation.business_hours", "must have exactly timezone, days, open and close")
    try:
        tz = ZoneInfo(str(bh["timezone"]))
    except (ZoneInfoNotFoundError, ValueError):
        fail("escalation.business_hours.timezone", f"unknown time zone {bh['timezone']!r}")
    if not isinstance(bh["days"], list) or not bh["days"] or any(d not in WEEKDAYS for d in bh["days"]):
        fail("escalation.business_hours.days", f"must be a non-empty list of {', '.join(WEEKDAYS)}")
    hours = {}
    for key in ("open", "close"):
        try:
            hours[key] = time.fromisoformat(str(bh[key]))
        except ValueError:
            fail(f"escalation.business_hours.{key}", "must be a time like \"09:00\" (quoted)")
    if hours["open"] >= hours["close"]:
        fail("escalation.business_hours", "open must be before close")

    return Policy(
        version=version,
        source=source,
        base_currency=base,
        exchange_rates=rates,
        seller_fault_reasons=frozenset(faults),
        return_reasons=reasons,
        region_of=region_of,
        defaults=defaults,
        markets=markets,
        sla_business_hours={p: float(h) for p, h in sla.items()},
        business_hours=BusinessHours(tz, frozenset(WEEKDAYS.index(d) for d in bh["days"]),
                                     hours["open"], hours["close"]),
        high_value_priority_from=Decimal(str(high_value)),
    )


assert {f.name for f in fields(MarketTerms)} == set(_TERM_KEYS) | {"country", "market"}
