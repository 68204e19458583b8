//! The function's resource policy statement that lets the bucket invoke it.

use super::{Desired, Observed};
use crate::aws::{Aws, sdk_error};
use crate::stack::{Change, Diff, ResourceChange};

pub(crate) const KIND: &str = "lambda permission";

/// The permission's statement id.
const STATEMENT: &str = "ledgerly-s3-invoke";

/// The bucket our statement lets invoke the function, from the function's resource policy.
pub(super) fn permission_source(policy: &str) -> Option<String> {
    let policy: serde_json::Value = serde_json::from_str(policy).ok()?;
    policy["Statement"]
        .as_array()?
        .iter()
        .find(|s| s["Sid"] == STATEMENT)
        .map(|s| {
            s["Condition"]["ArnLike"]["AWS:SourceArn"]
                .as_str()
                .unwrap_or("(any)")
                .to_owned()
        })
}

fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

pub(crate) fn diff(desired: &Desired, observed: Option<&Observed>) -> ResourceChange {
    let want = bucket_arn(&desired.bucket);
    let change = match observed {
        None if desired.image.is_none() => Change::Waiting {
            reason: format!("follows the function {}", desired.name),
        },
        None => Change::Create,
        Some(have) => match &have.permission_source {
            None => Change::Create,
            Some(source) => {
                let mut diff = Diff::default();
                diff.field("source", source, &want);
                diff.into_change()
            }
        },
    };
    ResourceChange {
        kind: KIND,
        name: format!("{}/{STATEMENT}", desired.name),
        change,
    }
}

/// Lets S3 invoke the function for the stack's bucket (and no other).
pub(crate) async fn apply(
    aws: &Aws,
    desired: &Desired,
    observed: Option<&Observed>,
) -> anyhow::Result<()> {
    let name = &desired.name;
    if observed.is_some_and(|o| o.permission_source.is_some()) {
        match aws
            .lambda
            .remove_permission()
            .function_name(name)
            .statement_id(STATEMENT)
            .send()
            .await
        {
            Ok(_) => {}
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) => {}
            Err(err) => return Err(sdk_error(format!("replacing {name}'s permission"))(err)),
        }
    }
    match aws
        .lambda
        .add_permission()
        .function_name(name)
        .statement_id(STATEMENT)
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .source_arn(bucket_arn(&desired.bucket))
        .source_account(&desired.account)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_conflict_exception()) =>
        {
            Ok(())
        }
        Err(err) => Err(sdk_error(format!("letting S3 invoke {name}"))(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_statement_is_found_in_the_function_policy() {
        let policy = r#"{"Version":"2012-10-17","Id":"default","Statement":[
            {"Sid":"other","Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"x"},
            {"Sid":"ledgerly-s3-invoke","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"x",
             "Condition":{"StringEquals":{"AWS:SourceAccount":"123456789012"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::b"}}}]}"#;
        assert_eq!(permission_source(policy).as_deref(), Some("arn:aws:s3:::b"));
        assert_eq!(permission_source(r#"{"Statement":[]}"#), None);
        assert_eq!(permission_source("not json"), None);
    }
}
