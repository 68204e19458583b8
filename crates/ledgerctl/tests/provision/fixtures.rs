//! The test's stack, its AWS clients and small readers of what the emulator holds.

use std::process::Output;

use serde_json::Value;

pub(crate) use crate::common::{assert_absent, aws, aws_endpoint as endpoint, stack_parameter};

/// The operator's SSH key, imported as `<stack>-deploy`.
pub(crate) const PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKv/CF3n/Zh4krGgK3oPryYuj+LfPTno1LSseU9H85hy ledgerly-test";

/// The emulator has no Ubuntu parameter; this one it has, so the lookup path is the one tested.
pub(crate) const AMI_PARAMETER: &str =
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

pub(crate) use crate::common::Stack;

impl Stack {
    /// A stack with the usual stack file.
    pub(crate) fn new(prefix: &str) -> Stack {
        let stack = Stack::named(prefix);
        stack.write("");
        stack
    }

    pub(crate) fn write(&self, extra: &str) {
        let key = self.path("id_ed25519.pub");
        std::fs::write(&key, format!("{PUBLIC_KEY}\n")).unwrap();
        self.write_raw(&format!(
            "stack: {}\nregion: us-east-1\ndomain: ledgerly.example.com\nacme_email: ops@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    public_key_file: {}\n  ami_parameter: {AMI_PARAMETER}\necr:\n  keep_images: 7\ntags:\n  project: expenses\n{extra}",
            self.name,
            key.display()
        ));
    }

    pub(crate) fn write_raw(&self, text: &str) {
        std::fs::write(self.path("ledgerly.yaml"), text).unwrap();
    }

    /// What `ledgerctl deploy` does first: an image in the OCR repository. Its digest.
    pub(crate) async fn push_image(&self) -> String {
        let hex = |_| uuid::Uuid::new_v4().simple().to_string();
        let digest = |n| format!("sha256:{}{}", hex(n), hex(n));
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1024, "digest": digest(0)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 4096, "digest": digest(1)}]
        });
        let pushed = aws_sdk_ecr::Client::new(&aws().await)
            .put_image()
            .repository_name(format!("{}-ocr", self.name))
            .image_manifest(manifest.to_string())
            .image_tag("0123abc")
            .send()
            .await
            .unwrap();
        pushed
            .image()
            .unwrap()
            .image_id()
            .unwrap()
            .image_digest()
            .unwrap()
            .to_owned()
    }

    pub(crate) fn ledgerctl(&self, args: &[&str], fail_at: Option<usize>) -> Output {
        let mut command = self.ledgerctl_command(args);
        command
            .env("RUST_LOG", "error")
            .env_remove("LEDGERCTL_FAIL_AT_MUTATING_CALL");
        if let Some(n) = fail_at {
            command.env("LEDGERCTL_FAIL_AT_MUTATING_CALL", n.to_string());
        }
        command.output().unwrap()
    }

    /// `provision --output json`, which must succeed.
    pub(crate) fn provision(&self) -> Value {
        let output = self.ledgerctl(&["provision", "--auto-approve", "--output", "json"], None);
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    }

    pub(crate) fn plan(&self) -> (i32, Value) {
        let output = self.ledgerctl(&["plan", "--output", "json", "--detailed-exitcode"], None);
        let code = output.status.code().unwrap();
        assert!(code == 0 || code == 2, "{output:?}");
        (code, serde_json::from_slice(&output.stdout).unwrap())
    }

    /// Whether a plan has nothing to make or change (the OCR function and what follows it may
    /// wait for the first deploy).
    pub(crate) fn settled(plan: &Value) -> bool {
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["action"] == "waiting")
    }

    pub(crate) fn bucket(&self) -> String {
        format!("{}-receipts-123456789012", self.name)
    }
}

pub(crate) async fn s3() -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws().await)
            .force_path_style(true)
            .build(),
    )
}

pub(crate) fn ec2_filter(name: &str, values: &[&str]) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
}

/// The stack's security group ids by name suffix (`web`, `ssh`, `db`).
pub(crate) async fn group_ids(stack: &Stack) -> std::collections::BTreeMap<String, String> {
    let ec2 = aws_sdk_ec2::Client::new(&aws().await);
    ec2.describe_security_groups()
        .filters(ec2_filter("tag:ledgerly:stack", &[&stack.name]))
        .send()
        .await
        .unwrap()
        .security_groups()
        .iter()
        .map(|g| {
            (
                g.group_name()
                    .unwrap()
                    .trim_start_matches(&format!("{}-", stack.name))
                    .to_owned(),
                g.group_id().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A plan's or provision's changes: `create ecr repository <name>`.
pub(crate) fn actions(report: &Value) -> Vec<String> {
    crate::common::report_lines(report, "changes", &["action", "kind", "name"])
}

/// Takes the bucket's policy off; what it was. The policy refuses requests not made over TLS,
/// and the emulator, which speaks plain HTTP, applies that refusal to every object request
/// whatever the condition says (its policy evaluation counts an unmet condition as a denial),
/// so objects are put or deleted through it with the policy off.
pub(crate) async fn without_bucket_policy(bucket: &str) -> String {
    let s3 = s3().await;
    let policy = s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .to_owned();
    // Proof of the refusal the comment above describes.
    let refused = s3
        .put_object()
        .bucket(bucket)
        .key("receipts/probe")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(
        refused
            .unwrap_err()
            .raw_response()
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    s3.delete_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    policy
}

/// An IAM policy document as IAM returns it (URL-encoded, or not in the emulator), parsed.
pub(crate) fn iam_document(text: &str) -> Value {
    let mut bytes = Vec::new();
    let raw = text.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            bytes.push(byte);
            i += 3;
            continue;
        }
        bytes.push(raw[i]);
        i += 1;
    }
    serde_json::from_slice(&bytes).unwrap()
}

/// A hosted zone of the test's own for `example.com`, which holds the stacks' domain: its id.
pub(crate) async fn hosted_zone() -> String {
    let created = aws_sdk_route53::Client::new(&aws().await)
        .create_hosted_zone()
        .name("example.com")
        .caller_reference(uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    let id = created.hosted_zone().unwrap().id();
    id.trim_start_matches("/hostedzone/").to_owned()
}

/// The stack's Elastic IP, as EC2 has it.
pub(crate) async fn elastic_ip(stack: &Stack) -> String {
    aws_sdk_ec2::Client::new(&aws().await)
        .describe_addresses()
        .filters(ec2_filter("tag:ledgerly:stack", &[&stack.name]))
        .send()
        .await
        .unwrap()
        .addresses()[0]
        .public_ip()
        .unwrap()
        .to_owned()
}
