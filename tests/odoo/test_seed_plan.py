"""The seed plan: deterministic, valid EAN-13 barcodes, unique keys, sane quantities."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.odoo.client import OdooVersion
from harness.odoo.flows import storable_product_values
from harness.odoo.seed import INITIAL_QTY, ean13_check_digit, is_valid_ean13, plan_seed


@pytest.mark.parametrize(
    "known",
    # Published EAN-13 codes with their check digits.
    ["4006381333931", "5901234123457", "9780306406157", "0012345678905"],
)
def test_check_digit_matches_published_codes(known: str) -> None:
    assert ean13_check_digit(known[:12]) == int(known[12])
    assert is_valid_ean13(known)


@given(st.text(alphabet="0123456789", min_size=12, max_size=12), st.integers(1, 9))
def test_any_changed_check_digit_is_invalid(first12: str, shift: int) -> None:
    good = first12 + str(ean13_check_digit(first12))
    bad = first12 + str((int(good[12]) + shift) % 10)
    assert is_valid_ean13(good)
    assert not is_valid_ean13(bad)


@pytest.mark.parametrize("bad", ["12345", "abcdefghijkl", "1234567890123"])
def test_check_digit_needs_twelve_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="expected 12 digits"):
        ean13_check_digit(bad)


def test_same_seed_same_plan_other_seed_other_plan() -> None:
    first = plan_seed(products=300, seed=42, bins=10, customers=5, vendors=2)
    again = plan_seed(products=300, seed=42, bins=10, customers=5, vendors=2)
    other = plan_seed(products=300, seed=7, bins=10, customers=5, vendors=2)
    assert first == again
    assert [p.barcode for p in first.products] != [p.barcode for p in other.products]
    assert {p.default_code for p in first.products}.isdisjoint(
        p.default_code for p in other.products
    )
    assert {p.ref for p in first.customers}.isdisjoint(p.ref for p in other.customers)


def test_plan_of_2000_products_has_unique_valid_keys() -> None:
    plan = plan_seed(products=2000, seed=42, bins=48, customers=50, vendors=10)
    barcodes = [p.barcode for p in plan.products]
    assert len(set(barcodes)) == 2000
    assert all(is_valid_ean13(code) and code.startswith("2") for code in barcodes)
    assert len({p.default_code for p in plan.products}) == 2000
    assert len(set(plan.bin_names)) == 48
    assert plan.bin_names[:2] == ("A-01", "A-02")
    assert plan.bin_names[-1] == "D-12"
    low, high = INITIAL_QTY
    assert all(0 <= p.bin_index < 48 and low <= p.initial_qty <= high for p in plan.products)
    assert len({p.bin_index for p in plan.products}) == 48
    refs = [p.ref for p in plan.customers + plan.vendors]
    assert len(set(refs)) == 60


@pytest.mark.parametrize(
    ("major", "values"),
    [(17, {"type": "product"}), (18, {"type": "consu", "is_storable": True})],
)
def test_storable_product_values_follow_the_server_version(
    major: int, values: dict[str, object]
) -> None:
    version = OdooVersion(
        server_version=f"{major}.0", serie=f"{major}.0", major=major, protocol_version=1
    )
    assert storable_product_values(version) == values
