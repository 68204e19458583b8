//! The function's resource policy statement that lets the bucket invoke it.

use anyhow::Result;

use crate::aws::{Aws, found};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// The permission's statement id.
const STATEMENT: &str = "ledgerly-s3-invoke";

/// Lets S3 invoke the function for the stack's bucket (and no other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Permission {
    /// The function's name.
    pub(crate) function: String,
    pub(crate) bucket: String,
    pub(crate) account: String,
}

/// The bucket our statement lets invoke the function, from the function's resource policy.
fn permission_source(policy: &str) -> Option<String> {
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

impl Resource for Permission {
    /// The bucket our statement names (`(any)` when it names none).
    type Observed = String;
    const KIND: &'static str = "lambda permission";
    const AFTER: &'static [&'static str] = &["lambda function"];

    async fn desired(_: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<Self>> {
        Ok(vec![Permission {
            function: super::name(config),
            bucket: crate::aws::s3::name(config, &known.account),
            account: known.account.clone(),
        }])
    }

    fn name(&self) -> String {
        format!("{}/{STATEMENT}", self.function)
    }

    /// Our statement in the function's resource policy; `None` when the function, its policy
    /// or the statement is missing.
    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<String>> {
        let name = &self.function;
        let policy = found(
            aws.lambda.get_policy().function_name(name).send().await,
            |e| e.is_resource_not_found_exception(),
            || format!("reading {name}'s permissions"),
        )?;
        Ok(policy.and_then(|p| p.policy().and_then(permission_source)))
    }

    fn diff(&self, observed: Option<&String>, known: &Known) -> Change {
        match observed {
            None if known.function_waits => Change::Waiting {
                reason: format!("follows the function {}", self.function),
            },
            None => Change::Create,
            Some(source) => {
                let mut diff = Diff::default();
                diff.field("source", source, bucket_arn(&self.bucket));
                diff.into_change()
            }
        }
    }

    /// Replaces a statement that names another bucket.
    async fn apply(&self, aws: &Aws, observed: Option<&String>, _: &mut Known) -> Result<()> {
        let name = &self.function;
        if observed.is_some() {
            let removed = aws
                .lambda
                .remove_permission()
                .function_name(name)
                .statement_id(STATEMENT)
                .send()
                .await;
            found(
                removed,
                |e| e.is_resource_not_found_exception(),
                || format!("replacing {name}'s permission"),
            )?;
        }
        let added = aws
            .lambda
            .add_permission()
            .function_name(name)
            .statement_id(STATEMENT)
            .action("lambda:InvokeFunction")
            .principal("s3.amazonaws.com")
            .source_arn(bucket_arn(&self.bucket))
            .source_account(&self.account)
            .send()
            .await;
        // Added by a run that was interrupted before it could say so: fine.
        found(
            added,
            |e| e.is_resource_conflict_exception(),
            || format!("letting S3 invoke {name}"),
        )?;
        Ok(())
    }

    /// Nothing: the permission goes with the function.
    async fn delete(_: &Aws, _: &StackConfig, _: &Known) -> Result<Vec<String>> {
        Ok(vec![])
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
