//! Email addresses: validated at the edge and normalised to lower case, so `A@x.io` and `a@x.io`
//! are one account.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid email address: {reason}")]
pub struct InvalidEmail {
    pub input: String,
    pub reason: &'static str,
}

const LOCAL_SPECIALS: &str = ".!#$%&'*+/=?^_`{|}~-";

impl Email {
    pub fn parse(input: &str) -> Result<Self, InvalidEmail> {
        let invalid = |reason| InvalidEmail {
            input: input.to_owned(),
            reason,
        };
        let email = input.trim().to_lowercase();
        if email.is_empty() {
            return Err(invalid("it is empty"));
        }
        if email.len() > 254 {
            return Err(invalid("it is longer than 254 characters"));
        }
        let (local, domain) = email
            .rsplit_once('@')
            .ok_or_else(|| invalid("it has no @"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(invalid("the part before @ must be 1 to 64 characters"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(invalid("the part before @ has a misplaced dot"));
        }
        if !local
            .chars()
            .all(|c| c.is_alphanumeric() || LOCAL_SPECIALS.contains(c))
        {
            return Err(invalid(
                "the part before @ has a character addresses cannot have",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(invalid("the domain needs a dot, as in example.com"));
        }
        for label in &labels {
            if label.is_empty() || label.chars().count() > 63 {
                return Err(invalid("the domain has an empty or overlong part"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(invalid("a domain part cannot start or end with a hyphen"));
            }
            if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
                return Err(invalid("the domain has a character domains cannot have"));
            }
        }
        let tld = labels[labels.len() - 1];
        if tld.chars().count() < 2 || tld.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid("the domain does not end in a top-level domain"));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Email::parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let email = Email::parse("  Priya.Sharma+Bills@Example.CO.in ").unwrap();
        assert_eq!(email.as_str(), "priya.sharma+bills@example.co.in");
        assert_eq!(
            Email::parse("A@x.io").unwrap(),
            Email::parse("a@X.IO").unwrap()
        );
        assert!(Email::parse("josé@exämple.de").is_ok());
    }

    #[test]
    fn malformed_addresses_are_refused_with_the_reason() {
        let cases = [
            ("", "empty"),
            ("plainaddress", "no @"),
            ("@example.com", "before @"),
            ("a@localhost", "needs a dot"),
            ("a..b@example.com", "misplaced dot"),
            ("a b@example.com", "character"),
            ("a@-example.com", "hyphen"),
            ("a@example..com", "empty"),
            ("a@example.c", "top-level"),
            ("a@10.0.0.1", "top-level"),
        ];
        for (input, reason) in cases {
            let err = Email::parse(input).unwrap_err();
            assert!(err.to_string().contains(reason), "{input}: {err}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    proptest! {
        #[test]
        fn a_parsed_address_parses_to_itself(local in "[a-zA-Z0-9._%+-]{1,20}", domain in "[a-zA-Z0-9]{1,10}\\.[a-zA-Z]{2,6}") {
            if let Ok(email) = Email::parse(&format!("{local}@{domain}")) {
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
                prop_assert_eq!(email.as_str(), email.as_str().to_lowercase());
            }
        }
    }
}
