//! The bucket policy's one statement of ours: every request not made over TLS is denied. People's
//! own statements beside it are kept; the statement is recognised however it is spelt.

/// The statement ledgerctl puts in the bucket policy, by this id.
pub(super) const TLS_ONLY_SID: &str = "LedgerlyDenyInsecureTransport";

/// Denies every request to the bucket and its objects that does not come over TLS.
pub(super) fn tls_only_statement(name: &str) -> serde_json::Value {
    serde_json::json!({
        "Sid": TLS_ONLY_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

/// Whether `statement` denies everyone every S3 action on the bucket and its objects unless
/// over TLS, however it is spelt (a string or a one-element list, `*` or `{"AWS": "*"}`).
pub(super) fn denies_insecure_transport(statement: &serde_json::Value, name: &str) -> bool {
    use serde_json::Value;
    let values = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Bool(b) => vec![b.to_string()],
            Value::Array(items) => items
                .iter()
                .filter_map(|i| match i {
                    Value::String(s) => Some(s.clone()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let everyone = match &statement["Principal"] {
        Value::String(s) => s == "*",
        other => values(&other["AWS"]) == ["*"],
    };
    let resources = values(&statement["Resource"]);
    let condition = values(&statement["Condition"]["Bool"]["aws:SecureTransport"]);
    statement["Effect"] == "Deny"
        && everyone
        && values(&statement["Action"]).iter().any(|a| a == "s3:*")
        && resources.contains(&format!("arn:aws:s3:::{name}"))
        && resources.contains(&format!("arn:aws:s3:::{name}/*"))
        && condition == ["false"]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_statement_is_recognised_however_it_is_spelt_and_only_whole() {
        let ours = tls_only_statement("b");
        assert!(denies_insecure_transport(&ours, "b"));
        assert!(!denies_insecure_transport(&ours, "other"));
        let spelt = serde_json::json!({
            "Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": ["s3:*"],
            "Resource": ["arn:aws:s3:::b/*", "arn:aws:s3:::b"],
            "Condition": {"Bool": {"aws:SecureTransport": false}}
        });
        assert!(denies_insecure_transport(&spelt, "b"));
        for broken in [
            serde_json::json!({"Effect": "Allow"}),
            serde_json::json!({"Resource": "arn:aws:s3:::b"}),
            serde_json::json!({"Action": "s3:GetObject"}),
            serde_json::json!({"Condition": {"Bool": {"aws:SecureTransport": "true"}}}),
            serde_json::json!({"Principal": {"AWS": "arn:aws:iam::1:root"}}),
        ] {
            let mut statement = ours.clone();
            for (key, value) in broken.as_object().unwrap() {
                statement[key] = value.clone();
            }
            assert!(!denies_insecure_transport(&statement, "b"), "{statement}");
        }
    }
}
