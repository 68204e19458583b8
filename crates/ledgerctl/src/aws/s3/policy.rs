//! The bucket policies' statements of ours, each recognised however it is spelt (people's own
//! statements beside them are kept): every request not made over TLS is denied (both buckets),
//! and Elastic Load Balancing may write the load balancer's access logs (the access-log bucket).

use serde_json::{Value, json};

/// The statement ledgerctl puts in the bucket policy, by this id.
pub(super) const TLS_ONLY_SID: &str = "LedgerlyDenyInsecureTransport";

/// Denies every request to the bucket and its objects that does not come over TLS.
pub(super) fn tls_only_statement(name: &str) -> Value {
    json!({
        "Sid": TLS_ONLY_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

/// A policy element's values: a string or a list of them (booleans as their text).
fn values(v: &Value) -> Vec<String> {
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
}

/// Whether `statement` denies everyone every S3 action on the bucket and its objects unless
/// over TLS, however it is spelt (a string or a one-element list, `*` or `{"AWS": "*"}`).
pub(super) fn denies_insecure_transport(statement: &Value, name: &str) -> bool {
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

/// The access-log bucket's statement letting Elastic Load Balancing write, by this id.
pub(super) const LOG_DELIVERY_SID: &str = "LedgerlyElbLogDelivery";

/// Who writes the load balancer's logs in the regions opened since August 2022.
const LOG_DELIVERY_SERVICE: &str = "logdelivery.elasticloadbalancing.amazonaws.com";

/// The Elastic Load Balancing account of each region opened before August 2022, which writes
/// the access logs of the load balancers there: "Enable access logs for your Application Load
/// Balancer", step "Attach a policy to your S3 bucket",
/// <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html>.
/// The stack's ARNs are the `aws` partition's throughout, so the page's two GovCloud accounts are
/// left out.
const ELB_ACCOUNTS: &[(&str, &str)] = &[
    ("us-east-1", "127311923021"),
    ("us-east-2", "033677994240"),
    ("us-west-1", "027434742980"),
    ("us-west-2", "797873946194"),
    ("af-south-1", "098369216593"),
    ("ca-central-1", "985666609251"),
    ("eu-central-1", "054676820928"),
    ("eu-west-1", "156460612806"),
    ("eu-west-2", "652711504416"),
    ("eu-south-1", "635631232127"),
    ("eu-west-3", "009996457667"),
    ("eu-north-1", "897822967062"),
    ("ap-east-1", "754344448648"),
    ("ap-northeast-1", "582318560864"),
    ("ap-northeast-2", "600734575887"),
    ("ap-northeast-3", "383597477331"),
    ("ap-southeast-1", "114774131450"),
    ("ap-southeast-2", "783225319266"),
    ("ap-south-1", "718504428378"),
    ("me-south-1", "076674570225"),
    ("sa-east-1", "507241528517"),
];

/// Who Elastic Load Balancing writes a region's access logs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LogWriter {
    /// The region's Elastic Load Balancing account (the regions opened before August 2022).
    Account(&'static str),
    /// The log delivery service principal (the regions opened since).
    Service,
}

impl LogWriter {
    pub(super) fn of(region: &str) -> LogWriter {
        ELB_ACCOUNTS
            .iter()
            .find(|(r, _)| *r == region)
            .map_or(LogWriter::Service, |&(_, account)| {
                LogWriter::Account(account)
            })
    }

    fn principal(self) -> Value {
        match self {
            LogWriter::Account(id) => json!({"AWS": format!("arn:aws:iam::{id}:root")}),
            LogWriter::Service => json!({"Service": LOG_DELIVERY_SERVICE}),
        }
    }

    /// Whether the statement's `Principal` names this writer, however it is spelt.
    fn is_named_by(self, principal: &Value) -> bool {
        match self {
            LogWriter::Account(id) => {
                let names = values(&principal["AWS"]);
                names == [format!("arn:aws:iam::{id}:root")] || names == [id]
            }
            LogWriter::Service => values(&principal["Service"]) == [LOG_DELIVERY_SERVICE],
        }
    }
}

/// Where a load balancer in `account` writes under `prefix` of `bucket`, as a policy names it.
fn log_objects(bucket: &str, prefix: &str, account: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{prefix}/AWSLogs/{account}/*")
}

/// Lets Elastic Load Balancing in `region` put `account`'s load balancer logs under `prefix`.
pub(super) fn log_delivery_statement(
    bucket: &str,
    prefix: &str,
    account: &str,
    region: &str,
) -> Value {
    json!({
        "Sid": LOG_DELIVERY_SID,
        "Effect": "Allow",
        "Principal": LogWriter::of(region).principal(),
        "Action": "s3:PutObject",
        "Resource": log_objects(bucket, prefix, account),
    })
}

/// Whether `statement` lets the region's log writer put objects where the load balancer writes,
/// however it is spelt, and unconditionally (a condition might not hold for it).
pub(super) fn allows_log_delivery(
    statement: &Value,
    bucket: &str,
    prefix: &str,
    account: &str,
    region: &str,
) -> bool {
    statement["Effect"] == "Allow"
        && statement.get("Condition").is_none()
        && LogWriter::of(region).is_named_by(&statement["Principal"])
        && values(&statement["Action"])
            .iter()
            .any(|a| a == "s3:PutObject" || a == "s3:*")
        && values(&statement["Resource"]).contains(&log_objects(bucket, prefix, account))
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

    #[test]
    fn the_log_writer_is_the_regions_elb_account_before_august_2022_else_the_service() {
        assert_eq!(
            LogWriter::of("us-east-1"),
            LogWriter::Account("127311923021")
        );
        assert_eq!(
            LogWriter::of("eu-west-1"),
            LogWriter::Account("156460612806")
        );
        assert_eq!(
            LogWriter::of("ap-south-1"),
            LogWriter::Account("718504428378")
        );
        // Jakarta (December 2021) and the UAE (August 2022) are not on the page's list.
        assert_eq!(LogWriter::of("ap-southeast-3"), LogWriter::Service);
        assert_eq!(LogWriter::of("me-central-1"), LogWriter::Service);
        let regions: std::collections::BTreeSet<&str> =
            ELB_ACCOUNTS.iter().map(|(region, _)| *region).collect();
        assert_eq!(regions.len(), ELB_ACCOUNTS.len(), "each region once");
        assert!(
            ELB_ACCOUNTS
                .iter()
                .all(|(_, id)| id.len() == 12 && id.chars().all(|c| c.is_ascii_digit()))
        );
    }

    #[test]
    fn the_log_delivery_statement_is_recognised_however_it_is_spelt_and_only_whole() {
        let ours = log_delivery_statement("b", "api", "123456789012", "us-east-1");
        assert_eq!(
            ours["Principal"],
            json!({"AWS": "arn:aws:iam::127311923021:root"})
        );
        assert_eq!(ours["Action"], "s3:PutObject");
        assert_eq!(
            ours["Resource"],
            "arn:aws:s3:::b/api/AWSLogs/123456789012/*"
        );
        let newer = log_delivery_statement("b", "api", "123456789012", "me-central-1");
        assert_eq!(
            newer["Principal"],
            json!({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"})
        );
        let allows = |statement: &Value, region: &str| {
            allows_log_delivery(statement, "b", "api", "123456789012", region)
        };
        assert!(allows(&ours, "us-east-1"));
        assert!(allows(&newer, "me-central-1"));
        assert!(!allows(&ours, "eu-west-1"), "another region's account");
        assert!(
            !allows(&newer, "us-east-1"),
            "the account, in an older region"
        );
        let spelt = json!({
            "Effect": "Allow", "Principal": {"AWS": ["127311923021"]}, "Action": ["s3:PutObject"],
            "Resource": ["arn:aws:s3:::b/api/AWSLogs/123456789012/*"]
        });
        assert!(allows(&spelt, "us-east-1"));
        for broken in [
            json!({"Effect": "Deny"}),
            json!({"Action": "s3:GetObject"}),
            json!({"Resource": "arn:aws:s3:::b/other/AWSLogs/123456789012/*"}),
            json!({"Resource": "arn:aws:s3:::b/api/AWSLogs/210987654321/*"}),
            json!({"Principal": "*"}),
            json!({"Condition": {"Bool": {"aws:SecureTransport": "true"}}}),
        ] {
            let mut statement = ours.clone();
            for (key, value) in broken.as_object().unwrap() {
                statement[key] = value.clone();
            }
            assert!(!allows(&statement, "us-east-1"), "{statement}");
        }
    }
}
