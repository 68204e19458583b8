//! Short human-written texts — names, vendors, category names — cleaned the same way: trimmed,
//! inner runs of whitespace collapsed to one space, control characters refused, length bounded.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is longer than {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("{what} contains a control character")]
    ControlCharacter { what: &'static str },
    #[error("{what} cannot contain `{found}`")]
    Forbidden { what: &'static str, found: char },
}

pub(crate) fn clean(input: &str, what: &'static str, max: usize) -> Result<String, TextError> {
    if input.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(TextError::ControlCharacter { what });
    }
    let cleaned = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if cleaned.is_empty() {
        return Err(TextError::Empty { what });
    }
    if cleaned.chars().count() > max {
        return Err(TextError::TooLong { what, max });
    }
    Ok(cleaned)
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal) => {
        text_type!($(#[$doc])* $name, $what, $max, forbidding []);
    };
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal, forbidding [$($forbidden:literal),*]) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(input: &str) -> Result<Self, TextError> {
                let cleaned = clean(input, $what, $max)?;
                let forbidden: &[char] = &[$($forbidden),*];
                if let Some(found) = cleaned.chars().find(|c| forbidden.contains(c)) {
                    return Err(TextError::Forbidden { what: $what, found });
                }
                Ok(Self(cleaned))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Self::parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_type!(
    /// A person's display name.
    PersonName, "the name", 100
);
text_type!(
    /// Who was paid: "Blue Tokai Coffee Roasters".
    Vendor, "the vendor", 200
);
text_type!(
    /// A category's name: "food", "Rent", "Kids' school".
    CategoryName, "the category name", 40
);
text_type!(
    /// A free-text note on an expense.
    Note, "the note", 1000
);

text_type!(
    /// A tag on expenses: "trip-lisbon", "reimbursable". No commas: lists of tags are written
    /// with them (`?tags=trip,work`).
    TagName, "the tag", 40, forbidding [',']
);
text_type!(
    /// A personal API token's name: what the owner calls it ("backup script", "phone").
    TokenName, "the token's name", 60
);

impl TagName {
    /// The form tags are compared in: "Trip" and "trip" are one tag.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl CategoryName {
    /// The form names are compared in: "Food" and "food" are one category.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn texts_are_trimmed_and_inner_whitespace_collapsed() {
        assert_eq!(
            Vendor::parse("  Blue   Tokai\tCoffee ").unwrap().as_str(),
            "Blue Tokai Coffee"
        );
        assert_eq!(
            CategoryName::parse("Kids' School").unwrap().key(),
            "kids' school"
        );
    }

    #[test]
    fn empty_long_and_control_texts_are_refused() {
        assert_eq!(
            Vendor::parse("   ").unwrap_err().to_string(),
            "the vendor is empty"
        );
        assert!(matches!(
            CategoryName::parse(&"x".repeat(41)),
            Err(TextError::TooLong { max: 40, .. })
        ));
        assert!(matches!(
            PersonName::parse("Ann\u{0}"),
            Err(TextError::ControlCharacter { .. })
        ));
        // Length is counted in characters, not bytes.
        assert!(CategoryName::parse(&"€".repeat(40)).is_ok());
    }

    proptest! {
        #[test]
        fn cleaning_is_idempotent(input in "\\PC{0,60}") {
            if let Ok(vendor) = Vendor::parse(&input) {
                prop_assert_eq!(Vendor::parse(vendor.as_str()), Ok(vendor.clone()));
            }
        }
    }
}
