"""Schemathesis hooks of the adversarial campaign (scripts/fuzz-api).

The OpenAPI document states every rule a JSON Schema can state (character sets, lengths,
ranges, currencies, the CVC length per card brand). The positive-data check then holds the
API to it: a schema-valid request must not be refused as invalid. What no static schema
can know are facts of the running shop and of the clock. For schema-valid cases only, these
hooks supply them, so that the check judges the rules rather than the fixture:

- a checkout names products that exist and are for sale, in one currency, and where the
  shop ships, an address in a country its method serves (one in the cart's currency);
- a product or a tax rate names a collection that exists;
- a shipping method's free-above threshold is in its price's currency;
- an Idempotency-Key names one checkout (a generated key may repeat with another body);
- a card has not expired (the document states the year range, not the current month);
- a payment method token is one the processor issued (the simulators know Stripe's test
  PaymentMethods, such as `pm_card_visa`);
- a listing cursor is one this API issued, for the listing's sort;
- `min_price` is at most `max_price`.

The facts are read when the request is sent, so values a stateful link carried over from an
earlier response are checked too. Negative cases are left as generated. The `card-number` format (the Luhn check) is
registered here because a custom format needs a generator.

Needs FUZZ_ADMIN_URL and FUZZ_ADMIN_TOKEN: the admin API of the shop under test (the API
itself, or its catalog service); and FUZZ_STORE_URL, its store API (for listing cursors). It answers from the write model, so a product the
campaign has just archived is never offered (the store's read model may lag it).
"""

import datetime
import json
import os
import urllib.request
import uuid

import schemathesis
from hypothesis import strategies as st

ADMIN_URL = os.environ["FUZZ_ADMIN_URL"]
STORE_URL = os.environ["FUZZ_STORE_URL"]
ADMIN_TOKEN = os.environ["FUZZ_ADMIN_TOKEN"]


def luhn_complete(payload: str) -> str:
    """`payload` and the check digit that makes it pass the Luhn check."""
    total = 0
    for i, digit in enumerate(reversed(payload)):
        d = int(digit)
        if i % 2 == 0:  # doubled: the check digit will sit to the right
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return payload + str((10 - total % 10) % 10)


schemathesis.openapi.format(
    "card-number",
    st.integers(min_value=12, max_value=19).flatmap(
        lambda n: st.text(alphabet="0123456789", min_size=n - 1, max_size=n - 1).map(luhn_complete)
    ),
)


def get(path: str, base: str | None = None) -> dict:
    """`path` of the admin API, or of `base` (without credentials)."""
    if base is None:
        request = urllib.request.Request(ADMIN_URL + path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    else:
        request = urllib.request.Request(base + path)
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
        return json.loads(raw) if raw else {}


def products_by_currency() -> dict[str, list[str]]:
    """Ids of active products by currency, as of now (out of stock ones included: a 409
    is an answer too)."""
    items = [p for p in get("/admin/v1/products?limit=100")["items"] if p["status"] == "active"]
    by_currency: dict[str, list[str]] = {}
    for item in items:
        by_currency.setdefault(item["price"]["currency"], []).append(item["id"])
    if not by_currency:
        # The admin campaigns before this one may have drafted or archived every product
        # on the first page: make one, so checkout cases still reach a product.
        product = admin_send("POST", "/admin/v1/products", {
            "sku": f"FUZZ-{uuid.uuid4().hex[:12]}",
            "name": "Fuzz checkout product",
            "price": {"amount": 500, "currency": "USD"},
            "status": "active",
        })
        admin_send("PUT", f"/admin/v1/products/{product['id']}/stock", {"on_hand": 1000000})
        by_currency = {"USD": [product["id"]]}
    return by_currency


def admin_send(method: str, path: str, body: dict) -> dict:
    """`method` on `path` of the admin API with a JSON body; the answer's JSON."""
    request = urllib.request.Request(
        ADMIN_URL + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
        return json.loads(raw) if raw else {}


def shipping_for(currency: str) -> dict | None:
    """An active shipping method priced in `currency`, made if the shop ships but has none
    in it (a shop that ships cannot sell without an address and a method)."""
    methods = [m for m in get("/admin/v1/shipping-methods")["items"] if m["active"]]
    if not methods:
        return None
    for method in methods:
        if method["price"]["currency"] == currency:
            return method
    body = {"name": f"Fuzz {currency}", "countries": ["DE"], "price": {"amount": 0, "currency": currency}}
    request = urllib.request.Request(
        ADMIN_URL + "/admin/v1/shipping-methods",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
        return json.loads(raw) if raw else {}


def collections() -> list[str]:
    return [c["id"] for c in get("/admin/v1/collections")["items"]]


def fix_checkout(case) -> None:
    if case.headers is not None:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
    body = case.body
    if not isinstance(body, dict):
        return
    items = body.get("items")
    if isinstance(items, list):
        currency, products = max(products_by_currency().items(), key=lambda kv: len(kv[1]))
        # One line per product: lines naming one product are merged, and their total
        # quantity has a ceiling the per-line schema cannot state.
        del items[len(products):]
        for item, product in zip(items, products):
            if isinstance(item, dict):
                item["product_id"] = product
        fix_shipping(body, shipping_for(currency))
    card = body.get("card")
    if isinstance(card, dict) and isinstance(card.get("exp_year"), (int, float)) and isinstance(card.get("exp_month"), (int, float)):
        today = datetime.date.today()
        year = card["exp_year"] + 2000 if card["exp_year"] < 100 else card["exp_year"]
        if (year, card["exp_month"]) < (today.year, today.month):
            card["exp_year"] = today.year + 1
    if isinstance(body.get("payment_method"), str):
        body["payment_method"] = "pm_card_visa"


def fix_shipping(body: dict, method: dict | None) -> None:
    """Where the shop ships, an address in a country the method serves and that method;
    where it does not, no method (an address alone is fine)."""
    if method is None:
        body.pop("shipping_method_id", None)
        return
    address = body.get("shipping_address")
    if not isinstance(address, dict):
        address = {"name": "Fuzz", "line1": "1 Main Street", "city": "Berlin"}
        body["shipping_address"] = address
    address["country"] = method["countries"][0]
    body["shipping_method_id"] = method["id"]


def fix_product(case) -> None:
    body = case.body
    if isinstance(body, dict) and body.get("collection_id") is not None:
        known = collections()
        body["collection_id"] = known[len(str(body["collection_id"])) % len(known)] if known else None


def fix_shipping_method(case) -> None:
    """A free-above threshold is in the price's currency (a rule across two fields, and in a
    patch across the body and the stored method)."""
    body = case.body
    if not isinstance(body, dict):
        return
    price = body.get("price")
    currency = price.get("currency") if isinstance(price, dict) else None
    if "free_above" not in body and currency is not None and case.method.upper() == "PATCH":
        body["free_above"] = None  # a new price's currency would contradict the stored threshold
    free = body.get("free_above")
    if isinstance(free, dict):
        currency = currency or stored_price_currency(case)
        if currency is not None:
            free["currency"] = currency


def stored_price_currency(case) -> str | None:
    try:
        return get(f"/admin/v1/shipping-methods/{case.path_parameters['id']}")["price"]["currency"]
    except Exception:  # noqa: BLE001 - no such method (a 404 is an answer too) or no id
        return None


def as_int(value) -> int | None:
    """A parameter's integer value; the coverage phase may hold it as a string already."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def fix_listing(case) -> None:
    query = case.query
    if query is None:
        return
    low, high = as_int(query.get("min_price")), as_int(query.get("max_price"))
    if low is not None and high is not None and low > high:
        query["min_price"], query["max_price"] = query["max_price"], query["min_price"]
    if query.get("cursor"):
        sort = query.get("sort") or "newest"
        query["cursor"] = get(f"/store/v1/products?sort={sort}&limit=1", STORE_URL).get("next_cursor") or ""


def fix(case) -> None:
    """Supplies the live facts to a schema-valid case (see the module's documentation)."""
    route = (case.method.upper(), case.path)
    if route == ("POST", "/store/v1/checkout"):
        fix_checkout(case)
    elif route in (("POST", "/admin/v1/products"), ("PATCH", "/admin/v1/products/{id}"), ("POST", "/admin/v1/tax-rates")):
        fix_product(case)
    elif route in (("POST", "/admin/v1/shipping-methods"), ("PATCH", "/admin/v1/shipping-methods/{id}")):
        fix_shipping_method(case)
    elif route == ("GET", "/store/v1/products"):
        fix_listing(case)


@schemathesis.hook
def before_call(ctx, case, kwargs):
    # At send time rather than at generation: in the stateful phase a link merges values from
    # earlier responses after generation, and a later step may have deleted what they name
    # (a collection, a product). Schema-valid cases only; the examples phase's are all valid.
    if case.meta is None or case.meta.generation.mode.is_positive:
        fix(case)
