//! The domain's rules as JSON Schema, for the fields and parameters of the document:
//! character sets, lengths, ranges, currencies and the card checks. Each is stated by the
//! core ([`TextRule`] and friends); this module only spells them in OpenAPI, so that a
//! value the document calls valid is one the API accepts (schemathesis checks that in CI).
//!
//! Used through `#[schema(schema_with = ...)]` on the DTOs and parameters.

use commerce_core::{
    Currency,
    catalog::{
        AttributeName, AttributeValue, Attributes, CollectionName, Description, ProductName, ProductSearch, Sku, Slug,
    },
    inventory::{OnHand, Quantity},
    order::OrderStatus,
    payment::{CardExpiry, PaymentToken},
    query::{PageSize, SearchTerm},
    validation::TextRule,
};
use utoipa::openapi::{
    KnownFormat, Object, ObjectBuilder, RefOr, Schema, SchemaFormat, Type,
    schema::{AdditionalProperties, SchemaType},
};

/// The custom `format` of a card number: digits that pass the Luhn check.
pub const CARD_NUMBER_FORMAT: &str = "card-number";

fn string(rule: TextRule, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(Some(rule.pattern))
        .min_length((rule.min_chars > 0).then_some(rule.min_chars))
        .max_length(Some(rule.max_chars))
}

/// `rule`'s schema, also allowing `null` (a patch field: null leaves the value as it is).
fn nullable(builder: ObjectBuilder) -> ObjectBuilder {
    builder.schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

fn integer(min: i64, max: Option<i64>, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .description(Some(description))
        .minimum(Some(min))
        .maximum(max)
}

/// A SKU.
pub fn sku() -> Object {
    string(Sku::RULE, "Unique SKU: 1-64 of `A-Z a-z 0-9 - _ .`.").examples([serde_json::json!("TEE-RED-M")]).build()
}

/// A SKU in a patch.
pub fn sku_patch() -> Object {
    nullable(string(Sku::RULE, "SKU; null or absent leaves it unchanged.")).build()
}

/// A product name.
pub fn product_name() -> Object {
    string(ProductName::RULE, "Display name: 1-200 characters, no control characters, trimmed.")
        .examples([serde_json::json!("Red tee")])
        .build()
}

/// A product name in a patch.
pub fn product_name_patch() -> Object {
    nullable(string(ProductName::RULE, "Display name; null or absent leaves it unchanged.")).build()
}

/// A description.
pub fn description() -> Object {
    string(Description::RULE, "Up to 10,000 characters; new lines and tabs allowed, other control characters not.")
        .build()
}

/// A description in a patch.
pub fn description_patch() -> Object {
    nullable(string(Description::RULE, "Description; null or absent leaves it unchanged.")).build()
}

/// A collection name.
pub fn collection_name() -> Object {
    string(CollectionName::RULE, "Name: 1-120 characters, no control characters, trimmed.")
        .examples([serde_json::json!("T-shirts")])
        .build()
}

/// A collection name in a patch.
pub fn collection_name_patch() -> Object {
    nullable(string(CollectionName::RULE, "Name; null or absent leaves it unchanged.")).build()
}

/// A slug.
pub fn slug() -> Object {
    string(Slug::RULE, "Unique handle: `a-z 0-9 -`, no leading, trailing or doubled hyphen.")
        .examples([serde_json::json!("t-shirts")])
        .build()
}

/// A slug in a patch.
pub fn slug_patch() -> Object {
    nullable(string(Slug::RULE, "Handle; null or absent leaves it unchanged.")).build()
}

fn attributes_builder(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .property_names(Some(string(AttributeName::RULE, "Attribute name: 1-40 of `a-z 0-9 _`.")))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::Object(
            string(AttributeValue::RULE, "Attribute value: 1-100 characters, no control characters.").build(),
        )))))
        .max_properties(Some(Attributes::MAX))
}

/// A product's attributes.
pub fn attributes() -> Object {
    attributes_builder("Attributes such as `{\"colour\": \"red\", \"size\": \"M\"}`, at most 32.").build()
}

/// A product's attributes in a patch.
pub fn attributes_patch() -> Object {
    attributes_builder("Attributes (replace the whole set); null or absent leaves them unchanged.")
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .build()
}

/// The `attr.<name>` filters of a listing, as one exploded object parameter: each
/// property (`attr.colour`) is a query parameter of its own (`attr.colour=red`).
pub fn attribute_filters() -> Object {
    let name = TextRule { pattern: r"^attr\.[a-z0-9_]+$", min_chars: 6, max_chars: 5 + AttributeName::RULE.max_chars };
    attributes_builder("Attribute filters `attr.<name>=<value>` (`attr.colour=red`), at most 32; all must match.")
        .property_names(Some(string(name, "`attr.` and an attribute name.")))
        .build()
}

/// An amount of money in minor units.
pub fn amount() -> Object {
    integer(0, None, "Minor units (cents for USD, yen for JPY, fils for KWD); not negative.")
        .examples([serde_json::json!(1999)])
        .build()
}

/// A price in minor units: not negative, at most the catalog's highest price.
pub fn price_amount() -> Object {
    integer(
        0,
        Some(commerce_core::catalog::MoneyInput::MAX_PRICE),
        "Minor units (cents for USD, yen for JPY, fils for KWD); 0 to 1,000,000,000,000.",
    )
    .examples([serde_json::json!(1999)])
    .build()
}

/// An ISO 4217 currency the toolkit knows.
pub fn currency() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("ISO 4217 code (upper case), one of the supported currencies."))
        .enum_values(Some(Currency::all().map(|c| c.code().to_owned())))
        .examples([serde_json::json!("USD")])
        .build()
}

/// An ISO 3166-1 alpha-2 country code.
pub fn country() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("ISO 3166-1 alpha-2 country code (upper case)."))
        .enum_values(Some(commerce_core::address::CountryCode::all().map(|c| c.to_string())))
        .examples([serde_json::json!("DE")])
        .build()
}

/// A country code as a required parameter (`#[param(value_type = CountryCodeParam, inline)]`):
/// a parameter stated with `schema_with` is documented as optional.
pub struct CountryCodeParam;

impl utoipa::PartialSchema for CountryCodeParam {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        country().into()
    }
}

impl utoipa::ToSchema for CountryCodeParam {}

/// A non-empty list of country codes.
pub fn countries() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(country())
        .min_items(Some(1))
        .max_items(Some(commerce_core::address::CountryCode::all().count()))
        .description(Some("ISO 3166-1 alpha-2 codes of the countries served."))
        .build()
}

/// The recipient of a shipping address.
pub fn recipient() -> Object {
    string(commerce_core::address::rules::NAME, "The recipient: 1-100 characters, one line.").build()
}

/// The first line of a shipping address.
pub fn address_line() -> Object {
    string(commerce_core::address::rules::LINE, "Street and number: 1-200 characters, one line.").build()
}

/// The optional second line of a shipping address.
pub fn address_line_optional() -> Object {
    nullable(string(commerce_core::address::rules::LINE, "Optional: up to 200 characters, one line.")).build()
}

/// The city of a shipping address.
pub fn city() -> Object {
    string(commerce_core::address::rules::CITY, "City: 1-100 characters, one line.").build()
}

/// The optional region of a shipping address.
pub fn region() -> Object {
    nullable(string(commerce_core::address::rules::CITY, "State, province or county (optional).")).build()
}

/// The optional postal code of a shipping address.
pub fn postal_code() -> Object {
    nullable(string(
        commerce_core::address::rules::POSTAL_CODE,
        "Postal code (optional): letters, digits, spaces, '-'.",
    ))
    .examples([serde_json::json!("10115")])
    .build()
}

/// The optional phone of a shipping address.
pub fn phone() -> Object {
    nullable(string(commerce_core::address::rules::PHONE, "Phone (optional): digits, spaces, '+', '-', '(', ')'."))
        .build()
}

/// A shipment's carrier.
pub fn carrier() -> Object {
    string(commerce_core::order::shipment_rules::CARRIER, "The carrier: 1-100 characters, one line.")
        .examples([serde_json::json!("DHL")])
        .build()
}

/// A shipment's tracking number.
pub fn tracking_number() -> Object {
    string(commerce_core::order::shipment_rules::TRACKING_NUMBER, "Tracking number: 1-100 visible ASCII characters.")
        .build()
}

/// A shipment's tracking URL.
pub fn tracking_url() -> Object {
    nullable(string(
        commerce_core::order::shipment_rules::TRACKING_URL,
        "Where the customer follows the parcel: an https URL, or null.",
    ))
    .build()
}

/// A shipping method's name.
pub fn shipping_method_name() -> Object {
    string(commerce_core::pricing::ShippingMethodName::RULE, "Shown to customers: 1-100 characters, one line.")
        .examples([serde_json::json!("DHL Paket")])
        .build()
}

/// A shipping method's name in a patch.
pub fn shipping_method_name_patch() -> Object {
    nullable(string(commerce_core::pricing::ShippingMethodName::RULE, "Name; null or absent leaves it unchanged."))
        .build()
}

/// A tax rate in basis points.
pub fn rate_bps() -> Object {
    integer(0, Some(10_000), "Basis points, 0-10,000 (1,900 is 19 %).").examples([serde_json::json!(1900)]).build()
}

/// Units physically in stock.
pub fn on_hand() -> Object {
    integer(0, Some(OnHand::MAX.cast_signed()), "Units physically in stock, 0-1,000,000,000.")
        .examples([serde_json::json!(25)])
        .build()
}

/// Units of one checkout item.
pub fn quantity() -> Object {
    integer(1, Some(i64::from(Quantity::MAX)), "Units, 1-10,000 (also in total per product).")
        .examples([serde_json::json!(1)])
        .build()
}

/// A product or collection id.
pub fn id(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        .description(Some(description))
}

/// A product id.
pub fn product_id() -> Object {
    id("Product id (an active product).").build()
}

/// A collection id, or null.
pub fn collection_ref() -> Object {
    id("Id of an existing collection, or null.").schema_type(SchemaType::from_iter([Type::String, Type::Null])).build()
}

/// A product's status.
pub fn product_status() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some("`draft` (the default on create) or `active`; `DELETE` archives."))
        .enum_values(Some([Some("draft"), Some("active"), None]))
        .build()
}

/// A customer e-mail.
pub fn email() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .description(Some("Customer e-mail: printable, no white space, at most 254 characters."))
        .max_length(Some(254))
        .examples([serde_json::json!("ada@example.com")])
        .build()
}

/// A card number.
pub fn card_number() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom(CARD_NUMBER_FORMAT.to_owned())))
        .description(Some("12-19 digits passing the Luhn check (format `card-number`); spaces and dashes allowed."))
        .pattern(Some(r"^[ -]*([0-9][ -]*){12,19}$"))
        .examples([serde_json::json!("4242 4242 4242 4242")])
        .build()
}

/// A payment processor's token for a card.
pub fn payment_method() -> Object {
    string(PaymentToken::RULE, "The processor's payment method token, e.g. `pm_card_visa` in test mode.")
        .examples([serde_json::json!("pm_card_visa")])
        .build()
}

/// A checkout pays by exactly one of card details and a processor token.
pub fn one_way_to_pay() -> [(&'static str, serde_json::Value); 1] {
    [("oneOf", serde_json::json!([{ "required": ["card"] }, { "required": ["payment_method"] }]))]
}

/// A refund gives lines (maybe restocked) or a positive amount, not both (an absent field
/// and `null` are alike).
pub fn one_way_to_refund() -> [(&'static str, serde_json::Value); 1] {
    [(
        "oneOf",
        serde_json::json!([
            {
                "required": ["lines"],
                "properties": { "lines": { "type": "array" }, "amount": { "type": "null" } }
            },
            {
                "required": ["amount"],
                "properties": {
                    "lines": { "type": "null" },
                    "amount": { "type": "object", "properties": { "amount": { "minimum": 1 } } },
                    "restock": { "enum": [false, null] }
                }
            }
        ]),
    )]
}

/// A card's expiry month.
pub fn exp_month() -> Object {
    integer(1, Some(12), "Month, 1-12; with `exp_year` not in the past.").examples([serde_json::json!(12)]).build()
}

/// A card's expiry year, from this year to the furthest a card may run ([`CardExpiry`]).
/// Two-digit years (`30` for 2030) are accepted too; the document states the four-digit form.
pub fn exp_year() -> Object {
    let this_year = i64::from(time::OffsetDateTime::now_utc().year());
    integer(
        this_year,
        Some(this_year + i64::from(CardExpiry::MAX_YEARS_AHEAD)),
        "Four-digit year (two digits accepted).",
    )
    .examples([serde_json::json!(this_year + 4)])
    .build()
}

/// A card security code: 4 digits for American Express, 3 otherwise (see [`card_brand_rule`]).
pub fn cvc() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("3 digits; 4 for American Express (numbers starting 34 or 37)."))
        .pattern(Some(r"^[0-9]{3,4}$"))
        .examples([serde_json::json!("123")])
        .build()
}

/// The `if`/`then`/`else` keywords tying a card's CVC length to its brand.
pub fn card_brand_rule() -> [(&'static str, serde_json::Value); 3] {
    let cvc =
        |digits: u8| serde_json::json!({ "properties": { "cvc": { "pattern": format!("^[0-9]{{{digits}}}$") } } });
    [
        (
            "if",
            serde_json::json!({ "properties": { "number": { "pattern": r"^[ -]*3[ -]*[47]" } }, "required": ["number"] }),
        ),
        ("then", cvc(4)),
        ("else", cvc(3)),
    ]
}

/// A full-text search term.
pub fn search_term() -> Object {
    string(
        SearchTerm::RULE,
        "Full-text search: 1-10 words; every word must start a word of the name, SKU, description or attributes.",
    )
    .build()
}

/// The console's product search.
pub fn product_search() -> Object {
    string(ProductSearch::RULE, "Only products whose name or SKU contains this text, in any case (1-100 characters).")
        .examples([serde_json::json!("mug")])
        .build()
}

/// A page size.
pub fn page_size(default: u8) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .description(Some(format!("Page size 1-100, default {default}.")))
        .minimum(Some(1))
        .maximum(Some(PageSize::MAX))
        .build()
}

/// A dead letter's number (the previous page's `next`).
pub fn dead_letter_after() -> Object {
    integer(1, None, "List letters numbered above this one: the previous page's `next`.").build()
}

/// An order status filter.
pub fn order_status() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("Only orders in this status."))
        .enum_values(Some(OrderStatus::ALL.map(OrderStatus::as_str)))
        .build()
}

/// The cursor of an admin listing: the id of the last item of the previous page.
pub fn id_cursor() -> Object {
    id("`next_cursor` of the previous page (the id of its last item).").build()
}
