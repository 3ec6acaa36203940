"""The policy file: the shipped policy.yml loads, and a malformed or inconsistent file is refused with
PolicyError naming the file, the offending key and the reason."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from bot.policy import MarketTerms, Policy, PolicyError, load_policy, parse_policy

POLICY_FILE = Path(__file__).resolve().parent.parent / "policy.yml"
RAW = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))


@pytest.fixture
def raw():
    """A fresh, valid copy of the shipped policy to break."""
    return copy.deepcopy(RAW)


def rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


# ---- the shipped file ----------------------------------------------------------------------------

def test_shipped_policy_loads():
    policy = load_policy(POLICY_FILE)
    assert isinstance(policy, Policy)
    assert policy.version == RAW["version"]
    assert policy.source == str(POLICY_FILE)
    assert policy.base_currency == "USD"
    assert set(policy.markets) == set(RAW["markets"])
    assert policy.region_of["DE"] == "EU" and policy.region_of["SA"] == "GCC"
    for country in ["DE", "GB", "CH", "US", "CA", "BR", "MX", "TR", "RU", "JP", "KR", "CN", "SA", "AU", "EG"]:
        assert isinstance(policy.terms_for(country), MarketTerms)


def test_default_path_comes_from_policy_file_env(monkeypatch, tmp_path):
    copy_path = tmp_path / "shop-policy.yml"
    copy_path.write_text(POLICY_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("POLICY_FILE", str(copy_path))
    assert load_policy().source == str(copy_path)


def test_shipped_policy_round_trips_through_parse_policy(raw):
    assert parse_policy(raw) == parse_policy(copy.deepcopy(RAW))


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda r: r["markets"]["EU"].update(return_shipping_paid_by={"changed_mind": "shop"}),
                 id="market_makes_shop_pay_a_no_fault_reason"),
    pytest.param(lambda r: r["markets"].update(DE={"no_reason_return_days": 30}), id="country_market_in_region"),
    pytest.param(lambda r: r["markets"].update(NO={"duties": "DDP"}), id="country_market_not_in_any_region"),
    pytest.param(lambda r: r["escalation"]["sla_business_hours"].update(urgent=4, high=4), id="equal_slas"),
    pytest.param(lambda r: r["exchange_rates"].update(USD=1.0), id="base_rate_as_float_1"),
    pytest.param(lambda r: r.pop("markets"), id="no_markets"),
    pytest.param(lambda r: r["defaults"].update(import_tax_rate_percent=0, duty_free_threshold=12.5),
                 id="zero_and_fractional_money"),
    pytest.param(lambda r: r["defaults"].update(return_methods=list(
        ("post_office", "courier_pickup", "parcel_locker", "drop_off_point"))), id="all_return_methods"),
])
def test_valid_variations_are_accepted(raw, mutate):
    mutate(raw)
    parse_policy(raw)


# ---- rejected files ------------------------------------------------------------------------------

def _set(path: str, value):
    """A mutation that sets raw[a][b][c] = value for path 'a.b.c'."""
    *parents, last = path.split(".")

    def mutate(r):
        node = r
        for p in parents:
            node = node[p]
        node[last] = value
    return mutate


def _delete(path: str):
    *parents, last = path.split(".")

    def mutate(r):
        node = r
        for p in parents:
            node = node[p]
        del node[last]
    return mutate


BAD = [
    # unknown keys (typos)
    pytest.param(_set("refund_policy", {"days": 7}), "refund_policy", "unknown key", id="unknown_top_level_key"),
    pytest.param(lambda r: rename(r["defaults"], "no_reason_return_days", "no_reason_return_day"),
                 "defaults.no_reason_return_day", "unknown key", id="typo_in_defaults"),
    pytest.param(lambda r: rename(r["markets"]["US"], "no_reason_return_days", "no_reason_return_day"),
                 "markets.US.no_reason_return_day", "unknown key", id="typo_in_country_market"),
    pytest.param(_set("markets.EU.statutory_withdrawal_day", 14),
                 "markets.EU.statutory_withdrawal_day", "unknown key", id="typo_in_region_market"),
    # wrong types
    pytest.param(_set("defaults.no_reason_return_days", "7"), "defaults.no_reason_return_days",
                 "whole number of days", id="days_as_string"),
    pytest.param(_set("defaults.refund_deadline_days", -1), "defaults.refund_deadline_days",
                 "whole number of days", id="negative_days"),
    pytest.param(_set("defaults.quality_claim_days", True), "defaults.quality_claim_days",
                 "whole number of days", id="days_as_bool"),
    pytest.param(_set("defaults.delivery_grace_days", 2.5), "defaults.delivery_grace_days",
                 "whole number of days", id="fractional_days"),
    pytest.param(_set("defaults.lost_parcel_no_scan_days", None), "defaults.lost_parcel_no_scan_days",
                 "whole number of days", id="days_null"),
    pytest.param(_set("markets.EU.statutory_withdrawal_days", "14 days"), "markets.EU.statutory_withdrawal_days",
                 "whole number of days", id="market_days_as_string"),
    pytest.param(_set("markets.US.no_reason_return_days", -30), "markets.US.no_reason_return_days",
                 "whole number of days", id="market_negative_days"),
    pytest.param(_set("defaults.keep_it_refund_max_value", "15"), "defaults.keep_it_refund_max_value",
                 "amount", id="money_as_string"),
    pytest.param(_set("defaults.intercept_reship_max_value", -100), "defaults.intercept_reship_max_value",
                 "amount", id="negative_money"),
    pytest.param(_set("defaults.intercept_reship_max_value", False), "defaults.intercept_reship_max_value",
                 "amount", id="money_as_bool"),
    pytest.param(_set("markets.CH.import_tax_rate_percent", "8.1%"), "markets.CH.import_tax_rate_percent",
                 "amount", id="optional_money_as_string"),
    pytest.param(_set("version", 2026.1), "version", "non-empty string", id="version_not_a_string"),
    pytest.param(_set("version", " "), "version", "non-empty string", id="version_blank"),
    # missing keys
    pytest.param(_delete("defaults.refund_deadline_days"), "defaults", "missing refund_deadline_days",
                 id="missing_defaults_key"),
    pytest.param(_delete("defaults"), "defaults", "missing", id="missing_defaults_section"),
    pytest.param(_delete("escalation"), "escalation", "missing", id="missing_escalation_section"),
    # who pays return shipping
    pytest.param(_set("defaults.return_shipping_paid_by.bored", "customer"),
                 "defaults.return_shipping_paid_by.bored", "not one of return_reasons",
                 id="payer_for_unknown_reason_in_defaults"),
    pytest.param(_set("markets.EU.return_shipping_paid_by", {"bored": "shop"}),
                 "markets.EU.return_shipping_paid_by.bored", "not one of return_reasons",
                 id="payer_for_unknown_reason_in_market"),
    pytest.param(_delete("defaults.return_shipping_paid_by.arrived_late"), "defaults.return_shipping_paid_by",
                 "no payer for arrived_late", id="reason_without_payer"),
    pytest.param(_set("defaults.return_shipping_paid_by.damaged", "customer"),
                 "defaults.return_shipping_paid_by.damaged", "seller pays return shipping",
                 id="customer_pays_for_seller_fault_in_defaults"),
    pytest.param(_set("markets.GB.return_shipping_paid_by", {"defective": "customer"}),
                 "markets.GB.return_shipping_paid_by.defective", "seller pays return shipping",
                 id="customer_pays_for_seller_fault_in_country_market"),
    pytest.param(_set("markets.EU.return_shipping_paid_by", {"changed_mind": "shop", "wrong_item": "customer"}),
                 "markets.EU.return_shipping_paid_by.wrong_item", "seller pays return shipping",
                 id="customer_pays_for_seller_fault_in_region_market"),
    pytest.param(_set("defaults.return_shipping_paid_by.changed_mind", "seller"),
                 "defaults.return_shipping_paid_by", "must be one of shop, customer", id="unknown_payer"),
    pytest.param(_set("defaults.return_shipping_paid_by", ["shop"]), "defaults.return_shipping_paid_by",
                 "map of return reason", id="payers_not_a_map"),
    # return methods and duties
    pytest.param(_set("defaults.return_methods", ["post_office", "carrier_pigeon"]), "defaults.return_methods",
                 "must be one of post_office", id="unknown_return_method_in_defaults"),
    pytest.param(_set("markets.KR.return_methods", ["courier"]), "markets.KR.return_methods",
                 "must be one of", id="unknown_return_method_in_market"),
    pytest.param(_set("defaults.return_methods", []), "defaults.return_methods", "non-empty list",
                 id="no_return_methods"),
    pytest.param(_set("defaults.return_methods", "post_office"), "defaults.return_methods", "non-empty list",
                 id="return_methods_not_a_list"),
    pytest.param(_set("markets.CH.duties", "DAP"), "markets.CH.duties", "must be one of DDP, DDU",
                 id="invalid_duties_term"),
    pytest.param(_set("defaults.duties", "ddp"), "defaults.duties", "must be one of DDP, DDU",
                 id="lowercase_duties_term"),
    # markets and regions
    pytest.param(_set("markets.Europe", {"duties": "DDP"}), "markets.Europe",
                 "must be a region from `regions` or a two-letter country code", id="market_neither_region_nor_country"),
    pytest.param(_set("markets.usa", {"duties": "DDP"}), "markets.usa", "two-letter country code",
                 id="market_lowercase_three_letters"),
    pytest.param(_set("markets.NO", None), "markets.NO", "must be a map", id="market_not_a_map"),
    pytest.param(lambda r: r["regions"]["GCC"].append("DE"), "regions.GCC", "DE is already in region EU",
                 id="country_in_two_regions"),
    pytest.param(lambda r: r["regions"]["EU"].append("Germany"), "regions.EU", "not a two-letter country code",
                 id="region_member_not_a_country_code"),
    pytest.param(_set("regions.EU", []), "regions.EU", "non-empty list", id="empty_region"),
    pytest.param(lambda r: r["regions"].update(AE=["SA"]) or r["regions"]["GCC"].remove("SA"), "regions.AE",
                 "must not be named like a country", id="region_named_like_a_member_of_another_region"),
    # currencies
    pytest.param(_set("exchange_rates.USD", 1.01), "exchange_rates.USD", "base currency's rate must be 1",
                 id="base_currency_rate_not_1"),
    pytest.param(_delete("exchange_rates.USD"), "exchange_rates.USD", "base currency's rate must be 1",
                 id="base_currency_without_rate"),
    pytest.param(_set("base_currency", "EUR"), "exchange_rates.EUR", "base currency's rate must be 1",
                 id="base_currency_changed_without_rates"),
    pytest.param(_set("base_currency", "usd"), "base_currency", "three-letter currency code",
                 id="base_currency_lowercase"),
    pytest.param(_set("exchange_rates.EUR", 0), "exchange_rates.EUR", "positive number", id="rate_zero"),
    pytest.param(_set("exchange_rates.GBP", -1.27), "exchange_rates.GBP", "positive number", id="rate_negative"),
    pytest.param(_set("exchange_rates.CHF", "1.13"), "exchange_rates.CHF", "positive number", id="rate_string"),
    pytest.param(_set("exchange_rates.CHF", True), "exchange_rates.CHF", "positive number", id="rate_bool"),
    pytest.param(_set("exchange_rates.EURO", 1.08), "exchange_rates.EURO", "three-letter currency code",
                 id="rate_for_bad_currency_code"),
    # return reasons
    pytest.param(_set("return_reasons.damaged", {"seller_fault": "yes"}), "return_reasons.damaged",
                 "seller_fault: true|false", id="reason_fault_flag_not_bool"),
    pytest.param(_set("return_reasons", {}), "return_reasons", "non-empty map", id="no_return_reasons"),
    # escalation
    pytest.param(_delete("escalation.sla_business_hours.low"), "escalation.sla_business_hours",
                 "must give hours for each of urgent, high, normal, low", id="sla_missing_priority"),
    pytest.param(_set("escalation.sla_business_hours.critical", 0.5), "escalation.sla_business_hours",
                 "must give hours for each of", id="sla_unknown_priority"),
    pytest.param(_set("escalation.sla_business_hours.urgent", 5), "escalation.sla_business_hours",
                 "higher priority must not have a longer SLA", id="urgent_longer_than_high"),
    pytest.param(_set("escalation.sla_business_hours.normal", 48), "escalation.sla_business_hours",
                 "higher priority must not have a longer SLA", id="normal_longer_than_low"),
    pytest.param(_set("escalation.sla_business_hours.high", 0), "escalation.sla_business_hours.high",
                 "positive number of hours", id="sla_zero_hours"),
    pytest.param(_set("escalation.sla_business_hours.high", "4h"), "escalation.sla_business_hours.high",
                 "positive number of hours", id="sla_hours_as_string"),
    pytest.param(_set("escalation.business_hours.timezone", "Europe/Berlinn"), "escalation.business_hours.timezone",
                 "unknown time zone 'Europe/Berlinn'", id="bad_timezone"),
    pytest.param(_set("escalation.business_hours.timezone", "CET+1/../"), "escalation.business_hours.timezone",
                 "unknown time zone", id="malformed_timezone"),
    pytest.param(_set("escalation.business_hours.timezone", "Europe"), "escalation.business_hours.timezone",
                 "unknown time zone", id="timezone_is_a_directory"),
    pytest.param(lambda r: r["escalation"]["business_hours"].update(open="18:00", close="09:00"),
                 "escalation.business_hours", "open must be before close", id="open_after_close"),
    pytest.param(lambda r: r["escalation"]["business_hours"].update(open="09:00", close="09:00"),
                 "escalation.business_hours", "open must be before close", id="open_equals_close"),
    pytest.param(_set("escalation.business_hours.open", "9am"), "escalation.business_hours.open",
                 "must be a time", id="open_not_a_time"),
    pytest.param(_set("escalation.business_hours.days", ["monday"]), "escalation.business_hours.days",
                 "non-empty list of mon", id="bad_weekday"),
    pytest.param(_set("escalation.business_hours.days", []), "escalation.business_hours.days",
                 "non-empty list", id="no_weekdays"),
    pytest.param(_delete("escalation.business_hours.close"), "escalation.business_hours",
                 "exactly timezone, days, open and close", id="business_hours_missing_close"),
    pytest.param(_set("escalation.on_call", True), "escalation",
                 "exactly sla_business_hours, business_hours and high_value_priority_from",
                 id="escalation_unknown_key"),
    pytest.param(_set("escalation.high_value_priority_from", -5), "escalation.high_value_priority_from",
                 "positive amount", id="high_value_negative"),
    pytest.param(_delete("escalation.high_value_priority_from"), "escalation",
                 "high_value_priority_from", id="high_value_missing"),
]


@pytest.mark.parametrize("mutate, key, reason", BAD)
def test_bad_policy_is_rejected(raw, mutate, key, reason):
    mutate(raw)
    with pytest.raises(PolicyError) as err:
        parse_policy(raw, source="shop-policy.yml")
    assert err.value.key == key
    assert reason in err.value.reason
    assert err.value.file == "shop-policy.yml"
    assert str(err.value) == f"shop-policy.yml: {key}: {err.value.reason}"


ON_DISK = {"unknown_top_level_key", "typo_in_defaults", "typo_in_country_market", "days_as_string",
           "customer_pays_for_seller_fault_in_country_market", "country_in_two_regions", "rate_zero",
           "sla_missing_priority", "bad_timezone", "open_after_close"}


@pytest.mark.parametrize("mutate, key, reason", [p for p in BAD if p.id in ON_DISK])
def test_bad_policy_file_is_rejected_by_load_policy(tmp_path, raw, mutate, key, reason):
    mutate(raw)
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert (err.value.file, err.value.key) == (str(path), key)
    assert reason in err.value.reason


def test_policy_error_is_a_value_error():
    assert issubclass(PolicyError, ValueError)


@pytest.mark.parametrize("content", [
    pytest.param("version: [unclosed\n", id="unclosed_list"),
    pytest.param("defaults:\n  a: 1\n b: 2\n", id="bad_indentation"),
    pytest.param("version: '1'\nversion: \"2\n", id="unterminated_string"),
])
def test_invalid_yaml_is_rejected(tmp_path, content):
    path = tmp_path / "policy.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert err.value.file == str(path)
    assert err.value.key == "(file)"
    assert err.value.reason.startswith("not valid YAML")


@pytest.mark.parametrize("content", ["", "- just\n- a list\n", "42\n"], ids=["empty", "list", "scalar"])
def test_yaml_that_is_not_a_map_is_rejected(tmp_path, content):
    path = tmp_path / "policy.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert err.value.key == "(file)"
    assert "map" in err.value.reason


def test_missing_file_is_rejected(tmp_path):
    path = tmp_path / "nowhere" / "policy.yml"
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert (err.value.file, err.value.key, err.value.reason) == (str(path), "(file)", "not found")


def test_unquoted_time_is_rejected_with_a_hint(tmp_path):
    """YAML 1.1 reads an unquoted 18:00 as the number 1080 (sexagesimal): the error says to quote it."""
    text = POLICY_FILE.read_text(encoding="utf-8").replace('close: "18:00"', "close: 18:00")
    assert "close: 18:00" in text
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert err.value.key == "escalation.business_hours.close"
    assert "quoted" in err.value.reason


def test_typo_in_the_shipped_text_is_rejected(tmp_path):
    """The same typo made by hand in the real file (not a re-dumped copy) is caught with its key."""
    text = POLICY_FILE.read_text(encoding="utf-8")
    assert text.count("  no_reason_return_days: 7 ") == 1
    text = text.replace("  no_reason_return_days: 7 ", "  no_reason_return_day: 7 ")
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert err.value.key == "defaults.no_reason_return_day"
    assert err.value.reason == "unknown key"


def test_unquoted_norway_gets_a_helpful_message():
    """YAML 1.1 reads a bare NO as false; the loader says so instead of 'markets.False'."""
    raw = yaml.safe_load("""
markets:
  NO: {duties: DDU}
""")
    shipped = copy.deepcopy(RAW)
    shipped["markets"] = raw["markets"]
    with pytest.raises(PolicyError) as err:
        parse_policy(shipped)
    assert "quote country codes" in err.value.reason
