//! What the stack commands share: the stack file and AWS flags, the opened stack, and how a run's
//! changes are reported. The survey they work from is `stack::survey`.

use std::path::PathBuf;

use crate::aws::{Aws, AwsOptions};
use crate::stack::{ResourceChange, StackConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Output {
    Text,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StackArgs {
    /// The stack file (see config/ledgerly.example.yaml).
    #[arg(long, env = "LEDGERLY_STACK_CONFIG", default_value = "ledgerly.yaml")]
    pub(crate) config: PathBuf,
    /// The AWS region: the stack file's. Given here or in AWS_REGION, it must be the same.
    #[arg(long, env = "AWS_REGION")]
    region: Option<String>,
    /// The AWS profile (default: the standard credential chain).
    #[arg(long, env = "AWS_PROFILE")]
    profile: Option<String>,
    /// Send every AWS call here (an emulator, a VPC endpoint); S3 is then addressed by path.
    /// The SDK's AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> are read as well, the
    /// service's own first.
    #[arg(long)]
    endpoint_url: Option<String>,
    /// `text` for people, `json` for programs.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) output: Output,
    /// Say nothing but errors and the result.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

/// A checked stack file and the clients to reach its AWS account.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) config: StackConfig,
    /// The public key to import, when the stack file gives one.
    pub(crate) public_key: Option<String>,
    pub(crate) aws: Aws,
}

impl StackArgs {
    /// The checked stack file (and the public key it names), then — only then — the AWS clients.
    pub(crate) async fn open(&self) -> anyhow::Result<Opened> {
        let config = StackConfig::load(&self.config)?;
        let public_key = config.public_key(&self.config.display().to_string())?;
        let region = region(self.region.as_deref(), &config.region, &self.config)?;
        let aws = Aws::connect(&AwsOptions {
            region,
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        })
        .await?;
        Ok(Opened {
            config,
            public_key,
            aws,
        })
    }
}

/// The region to work in: the stack file's. One given by `--region` or `AWS_REGION` that is
/// another is an error, never quietly ignored or obeyed: the stack lives where its file says.
fn region(given: Option<&str>, file: &str, path: &std::path::Path) -> anyhow::Result<String> {
    match given {
        Some(given) if !given.is_empty() && given != file => anyhow::bail!(
            "the region {given} (from --region or AWS_REGION) is not the stack's, {file} ({}): \
             a stack lives in the region its file names; drop --region or set AWS_REGION to \
             {file}, or change `region:` in the stack file for a stack in {given}",
            path.display()
        ),
        _ => Ok(file.to_owned()),
    }
}

/// The JSON report of a run: the changes and the AWS calls it made.
pub(crate) fn json_report(changes: &[ResourceChange], aws: &Aws) -> serde_json::Value {
    serde_json::json!({
        "changes": changes,
        "calls": {
            "read": aws.log.reads(),
            "mutating": aws.log.writes(),
            "log": aws.log.calls(),
        },
    })
}

/// `3 to create, 1 to update` (or, once `done`, `done: 3 created, 1 updated`) or `no changes`,
/// then `; 2 waiting for the first deploy` when any wait.
pub(crate) fn summary(changes: &[ResourceChange], done: bool) -> String {
    use crate::stack::Change;
    let count = |f: fn(&Change) -> bool| changes.iter().filter(|c| f(&c.change)).count();
    let (create, update, waiting) = (
        count(|c| matches!(c, Change::Create)),
        count(|c| matches!(c, Change::Update { .. })),
        count(|c| matches!(c, Change::Waiting { .. })),
    );
    let mut text = match (create + update, done) {
        (0, _) => "no changes".to_owned(),
        (_, true) => format!("done: {create} created, {update} updated"),
        (_, false) => format!("{create} to create, {update} to update"),
    };
    if waiting > 0 {
        text.push_str(&format!("; {waiting} waiting for the first deploy"));
    }
    text
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::region;

    #[test]
    fn the_region_is_the_stack_file_s_and_another_one_given_is_an_error_naming_both() {
        let path = Path::new("deploy/ledgerly.yaml");
        assert_eq!(region(None, "eu-west-1", path).unwrap(), "eu-west-1");
        assert_eq!(
            region(Some("eu-west-1"), "eu-west-1", path).unwrap(),
            "eu-west-1"
        );
        assert_eq!(region(Some(""), "eu-west-1", path).unwrap(), "eu-west-1");
        let err = region(Some("us-east-1"), "eu-west-1", path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("us-east-1")
                && err.contains("eu-west-1")
                && err.contains(path.to_str().unwrap()),
            "{err}"
        );
    }
}
