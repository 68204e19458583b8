//! OpenAPI schemas for the domain types the API shows: ids are UUIDs, a currency is its ISO 4217
//! code, a month is `YYYY-MM`, a receipt kind is one of the formats the app reads. Built only with
//! the `openapi` feature, so the domain crate does not carry the dependency otherwise.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::{
    ApiTokenId, CategoryId, Currency, ExpenseId, ImportId, InviteId, Month, ReceiptId, ReceiptKind,
    RecurringId, TagId, UserId,
};

fn uuid(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        .description(Some(description))
        .into()
}

macro_rules! uuid_schema {
    ($($id:ty => $description:literal),* $(,)?) => {$(
        impl PartialSchema for $id {
            fn schema() -> RefOr<Schema> {
                uuid($description)
            }
        }
        impl ToSchema for $id {}
    )*};
}

uuid_schema! {
    UserId => "A user's id.",
    CategoryId => "A category's id.",
    ExpenseId => "An expense's id.",
    ReceiptId => "A receipt's id.",
    ImportId => "An import's id.",
    TagId => "A tag's id.",
    RecurringId => "A recurring expense's id.",
    ApiTokenId => "A personal API token's id.",
    InviteId => "An invite's id.",
}

impl PartialSchema for Currency {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[A-Z]{3}$"))
            .description(Some("An ISO 4217 currency code, e.g. `INR`, `EUR`, `USD`."))
            .examples(["INR"])
            .into()
    }
}
impl ToSchema for Currency {}

impl PartialSchema for Month {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[0-9]{4}-(0[1-9]|1[0-2])$"))
            .description(Some("A calendar month, `YYYY-MM`."))
            .examples(["2026-11"])
            .into()
    }
}
impl ToSchema for Month {}

impl PartialSchema for ReceiptKind {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["jpeg", "png", "webp", "heic", "pdf"]))
            .description(Some("The file's format, recognised from its content."))
            .into()
    }
}
impl ToSchema for ReceiptKind {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_receipt_kind_is_in_the_schema() {
        let schema = serde_json::to_value(ReceiptKind::schema()).unwrap();
        let listed = schema["enum"].as_array().unwrap();
        for kind in [
            ReceiptKind::Jpeg,
            ReceiptKind::Png,
            ReceiptKind::Webp,
            ReceiptKind::Heic,
            ReceiptKind::Pdf,
        ] {
            assert!(
                listed.contains(&serde_json::to_value(kind).unwrap()),
                "{kind:?}"
            );
        }
    }
}
