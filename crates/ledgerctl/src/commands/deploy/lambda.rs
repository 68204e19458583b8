//! The OCR Lambda pointed at a release's image, and waited for.

use anyhow::bail;
use serde::Serialize;

use super::facts::Facts;
use crate::aws;
use crate::commands::stack::Opened;
use crate::stack::resource::Resource as _;
use crate::stack::survey::Survey;

/// What happened to the OCR function.
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FunctionChange {
    Updated,
    Unchanged,
    Created,
}

/// Points the OCR function at `image`, creating it (with its permission and the bucket's
/// notification) if this is the first image it can run.
pub(crate) async fn update_function(
    opened: &Opened,
    facts: &Facts,
    image: &str,
) -> anyhow::Result<FunctionChange> {
    let (config, aws) = (&opened.config, &opened.aws);
    if facts.function_exists {
        return Ok(
            if aws::lambda::update_image(aws, &facts.function, image).await? {
                FunctionChange::Updated
            } else {
                FunctionChange::Unchanged
            },
        );
    }
    // The function waited for its first image: provision's own path creates it, when nothing
    // else of the stack is pending (a deploy does not fix drift behind the operator's back).
    let survey = Survey::take(aws, config, opened.public_key.clone()).await?;
    let lambda_kinds = [
        aws::lambda::Function::KIND,
        aws::lambda::permission::Permission::KIND,
        aws::lambda::notification::Notification::KIND,
    ];
    let others: Vec<String> = survey
        .changes()
        .iter()
        .filter(|c| c.is_change() && !lambda_kinds.contains(&c.kind))
        .map(ToString::to_string)
        .collect();
    if !others.is_empty() {
        bail!(
            "the OCR function does not exist yet, and the stack has other pending changes:\n  {}\n\
             run ledgerctl provision (it creates the function from the image just pushed), then deploy again",
            others.join("\n  ")
        );
    }
    survey.apply(aws, &|_| {}).await?;
    // Created from the newest image in the repository: make sure it is this one.
    aws::lambda::update_image(aws, &facts.function, image).await?;
    Ok(FunctionChange::Created)
}
