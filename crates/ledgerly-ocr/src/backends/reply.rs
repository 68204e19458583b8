//! Reading a model's reply: the JSON object the prompt and schema ask for, wherever it is in the
//! text (bare, inside code fences, after a sentence), with fields as strings, numbers or null,
//! and confidences as 0–1 or 0–100.

use serde_json::Value;

use crate::extractor::FieldConfidence;
use crate::normalise::RawFields;

/// The instructions every hosted backend sends with the image.
pub(crate) const PROMPT: &str = "You read receipts. From this receipt image, report:\n\
- vendor: the business's name as printed at the top (not the address, not a slogan);\n\
- date: the purchase date exactly as printed;\n\
- total: the final amount paid exactly as printed, with its symbol if printed (the grand total \
  after tax and discounts; not the subtotal, not the tax, not the change);\n\
- currency: the ISO 4217 code of the total's currency if the receipt shows one, else null;\n\
- line_items: each purchased item's description and amount as printed;\n\
- confidence: for vendor, date and total, how sure you are, from 0 to 100.\n\
Use null for anything not on the receipt. Never guess or invent a value.";

/// How an API spells a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Gemini's `responseSchema`: OpenAPI-style upper-case types, `nullable: true`.
    Gemini,
    /// OpenAI's strict JSON schema: `["string", "null"]`, every property required, no others.
    OpenAi,
}

/// The fields' schema in `dialect`.
pub(crate) fn fields_schema(dialect: Dialect) -> Value {
    let ty = |name: &str| match dialect {
        Dialect::Gemini => Value::String(name.to_uppercase()),
        Dialect::OpenAi => Value::String(name.to_owned()),
    };
    let nullable_string = || match dialect {
        Dialect::Gemini => serde_json::json!({ "type": "STRING", "nullable": true }),
        Dialect::OpenAi => serde_json::json!({ "type": ["string", "null"] }),
    };
    let object = |properties: Value, required: &[&str]| {
        let mut schema = serde_json::json!({
            "type": ty("object"),
            "properties": properties,
            "required": required,
        });
        if dialect == Dialect::OpenAi {
            schema["additionalProperties"] = Value::Bool(false);
        }
        schema
    };
    object(
        serde_json::json!({
            "vendor": nullable_string(),
            "date": nullable_string(),
            "total": nullable_string(),
            "currency": nullable_string(),
            "line_items": {
                "type": ty("array"),
                "items": object(
                    serde_json::json!({
                        "description": { "type": ty("string") },
                        "amount": nullable_string(),
                    }),
                    &["description", "amount"],
                ),
            },
            "confidence": object(
                serde_json::json!({
                    "vendor": { "type": ty("integer") },
                    "date": { "type": ty("integer") },
                    "total": { "type": ty("integer") },
                }),
                &["vendor", "date", "total"],
            ),
        }),
        &[
            "vendor",
            "date",
            "total",
            "currency",
            "line_items",
            "confidence",
        ],
    )
}

/// The first JSON object in `text`.
fn json_object(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if let Ok(value @ Value::Object(_)) = serde_json::from_str(trimmed) {
        return Some(value);
    }
    // Inside ```json fences, or after a sentence: from each `{`, the longest span that parses.
    for (start, _) in trimmed.match_indices('{') {
        for (end, _) in trimmed
            .match_indices('}')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            if end < start {
                break;
            }
            if let Ok(value @ Value::Object(_)) = serde_json::from_str(&trimmed[start..=end]) {
                return Some(value);
            }
        }
    }
    None
}

/// A field as text: strings as they are, numbers written out, null and anything else `None`.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn percent(value: &Value) -> Option<u8> {
    let n = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().trim_end_matches('%').parse().ok()?,
        _ => return None,
    };
    let n = if n > 0.0 && n <= 1.0 { n * 100.0 } else { n };
    (0.0..=100.0).contains(&n).then(|| n.round() as u8)
}

/// Why a model's reply cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReplyError {
    /// The reply's first 200 characters.
    #[error("the model's reply has no JSON object: {0}")]
    NoJsonObject(String),
}

/// The fields in a model's reply text; an error when there is no JSON object in it.
pub(crate) fn parse(reply_text: &str, raw: String) -> Result<RawFields, ReplyError> {
    let object = json_object(reply_text)
        .ok_or_else(|| ReplyError::NoJsonObject(reply_text.chars().take(200).collect()))?;
    let line_items = object["line_items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| Some((text(&item["description"])?, text(&item["amount"]))))
                .collect()
        })
        .unwrap_or_default();
    let confidence = &object["confidence"];
    Ok(RawFields {
        vendor: text(&object["vendor"]),
        date: text(&object["date"]),
        total: text(&object["total"]),
        currency: text(&object["currency"]),
        line_items,
        confidence: FieldConfidence {
            vendor: percent(&confidence["vendor"]),
            date: percent(&confidence["date"]),
            total: percent(&confidence["total"]),
        },
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_is_found_bare_fenced_or_after_words() {
        let bare = parse(r#"{"vendor":"A","total":"1.00"}"#, String::new()).unwrap();
        assert_eq!(bare.vendor.as_deref(), Some("A"));
        let fenced = parse(
            "```json\n{\"vendor\": \"B\", \"total\": 12.5}\n```",
            String::new(),
        )
        .unwrap();
        assert_eq!(fenced.total.as_deref(), Some("12.5"));
        let chatty = parse(
            "Here is the receipt: {\"vendor\": {\"x\": 1}, \"date\": \"2026-11-20\"} Hope it helps!",
            String::new(),
        )
        .unwrap();
        assert_eq!(chatty.date.as_deref(), Some("2026-11-20"));
        assert_eq!(chatty.vendor, None, "an object is not a vendor");
        assert!(parse("I cannot read this image.", String::new()).is_err());
    }

    #[test]
    fn confidences_are_percentages_either_way() {
        let fields = parse(
            r#"{"confidence": {"vendor": 0.9, "date": 85, "total": "70%"}}"#,
            String::new(),
        )
        .unwrap();
        assert_eq!(fields.confidence.vendor, Some(90));
        assert_eq!(fields.confidence.date, Some(85));
        assert_eq!(fields.confidence.total, Some(70));
    }
}
