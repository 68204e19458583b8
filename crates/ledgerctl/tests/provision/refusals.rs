//! What stops a run before any change: a bad stack file, a missing key; and a hosted OCR key
//! passed by name only.

use std::process::Command;

use crate::assertions::*;
use crate::fixtures::*;

#[test]
fn a_bad_stack_file_is_refused_before_any_aws_call() {
    let stack = Stack::new("bad");
    std::fs::write(
        stack.path("ledgerly.yaml"),
        "stack: Bad_Name\nregion: us-east-1\ndomain: ledgerly.example.com\nacme_email: ops@example.com\nadmin_cidr: 0.0.0.0/0\ninstance:\n  key_pair:\n    name: ops\n",
    )
    .unwrap();
    // Any AWS call would go to a port nobody listens on, and fail differently.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args(["plan", "--config"])
        .arg(stack.path("ledgerly.yaml"))
        .arg("--endpoint-url")
        .arg(format!("http://{closed}"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("admin_cidr: 0.0.0.0/0 opens SSH to the world; give your own address, e.g. 203.0.113.7/32"), "{stderr}");
    assert!(stderr.contains("stack: `Bad_Name`"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("connect"), "{stderr}");
    let missing = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args(["plan", "--config", "/nonexistent/ledgerly.yaml"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("cannot read it"),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_region_other_than_the_stack_file_s_is_refused_naming_both() {
    let stack = Stack::new("region");
    stack.write("");
    for (flag, env) in [(Some("eu-west-1"), None), (None, Some("eu-west-1"))] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ledgerctl"));
        command
            .args(["plan", "--config"])
            .arg(stack.path("ledgerly.yaml"))
            .arg("--endpoint-url")
            .arg(crate::common::aws_endpoint());
        if let Some(region) = flag {
            command.args(["--region", region]);
        }
        command.env("AWS_REGION", env.unwrap_or("us-east-1"));
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(
                "the region eu-west-1 (from --region or AWS_REGION) is not the stack's, us-east-1"
            ),
            "{stderr}"
        );
    }
    assert_nothing_created(&stack).await;
}

#[tokio::test]
async fn a_missing_ocr_key_stops_provision_before_any_change() {
    let stack = Stack::new("nokey");
    stack.write("ocr:\n  backend: gemini\n  api_key_parameter: /nokey/gemini-key\n");
    let output = stack.ledgerctl(&["provision", "--auto-approve"], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ocr.api_key_parameter: the SSM parameter /nokey/gemini-key does not exist; store the key first"),
        "{stderr}"
    );
    assert_nothing_created(&stack).await;
}

#[tokio::test]
async fn a_missing_ssh_key_is_named_before_any_change() {
    let stack = Stack::new("nossh");
    // The public key file is missing: refused before any AWS call.
    let text = std::fs::read_to_string(stack.path("ledgerly.yaml")).unwrap();
    stack.write_raw(
        &text.replace(
            &stack
                .dir
                .path()
                .join("id_ed25519.pub")
                .display()
                .to_string(),
            "/nonexistent/id_ed25519.pub",
        ),
    );
    let output = stack.ledgerctl(&["plan"], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .contains("instance.key_pair.public_key_file: cannot read /nonexistent/id_ed25519.pub"),
        "{stderr}"
    );
    // A private key given by mistake is refused, and never sent anywhere.
    let private = stack.path("id_ed25519");
    std::fs::write(&private, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n").unwrap();
    stack.write_raw(
        &text.replace(
            &stack
                .dir
                .path()
                .join("id_ed25519.pub")
                .display()
                .to_string(),
            &private.display().to_string(),
        ),
    );
    let output = stack.ledgerctl(&["plan"], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not one OpenSSH public key"), "{stderr}");
    assert!(!stderr.contains("b3BlbnNzaC1rZXktdjEAAAAA"), "{stderr}");

    // A named key pair that does not exist stops provision before any change.
    stack.write_raw(&text.replace(
        &format!(
            "key_pair:\n    public_key_file: {}",
            stack.path("id_ed25519.pub").display()
        ),
        "key_pair:\n    name: nobody-has-this-key",
    ));
    let output = stack.ledgerctl(&["provision", "--auto-approve"], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "instance.key_pair.name: there is no key pair nobody-has-this-key in us-east-1"
        ),
        "{stderr}"
    );
    assert_nothing_created(&stack).await;
}

#[tokio::test]
async fn a_hosted_ocr_backend_gets_its_key_by_parameter_name_never_by_value() {
    let stack = Stack::new("gem");
    let parameter = format!("/{}/gemini-key", stack.name);
    aws_sdk_ssm::Client::new(&aws().await)
        .put_parameter()
        .name(&parameter)
        .value("AIza-operator-key")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    stack.write(&format!(
        "ocr:\n  backend: gemini\n  api_key_parameter: {parameter}\n"
    ));
    stack.provision();
    stack.push_image().await;
    let report = stack.provision();
    assert!(
        !report.to_string().contains("AIza-operator-key"),
        "{report}"
    );
    let function = aws_sdk_lambda::Client::new(&aws().await)
        .get_function()
        .function_name(format!("{}-ocr", stack.name))
        .send()
        .await
        .unwrap();
    let environment = function
        .configuration()
        .unwrap()
        .environment()
        .unwrap()
        .variables()
        .unwrap()
        .clone();
    assert_eq!(environment["LEDGERLY__EXTRACTOR__BACKEND"], "gemini");
    assert_eq!(
        environment["LEDGERLY__EXTRACTOR__API_KEY_PARAMETER"],
        parameter
    );
    assert!(
        !environment.values().any(|v| v.contains("AIza")),
        "{environment:?}"
    );
    // The function's role may read it.
    let policy = aws_sdk_iam::Client::new(&aws().await)
        .get_role_policy()
        .role_name(format!("{}-lambda", stack.name))
        .policy_name(format!("{}-lambda", stack.name))
        .send()
        .await
        .unwrap();
    let document = policy.policy_document();
    assert!(
        document.contains(&format!("parameter{parameter}"))
            || document.contains(&format!("parameter%2F{}%2Fgemini-key", stack.name)),
        "{document}"
    );
    assert_eq!(stack.provision()["calls"]["mutating"], 0);
}

#[tokio::test]
async fn the_sdk_s_endpoint_settings_hold_and_a_service_s_own_comes_first() {
    let stack = Stack::new("endpoints");
    stack.write("");
    let endpoint = crate::common::aws_endpoint();
    let plan = |env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ledgerctl"));
        command
            .args(["plan", "--output", "json", "--config"])
            .arg(stack.path("ledgerly.yaml"))
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_S3")
            .env("RUST_LOG", "error")
            .env("AWS_MAX_ATTEMPTS", "1");
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().unwrap()
    };
    // AWS_ENDPOINT_URL alone sends every call to the emulator, S3 by path.
    let output = plan(&[("AWS_ENDPOINT_URL", &endpoint)]);
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["changes"].to_string().contains("s3 bucket"),
        "{report}"
    );
    // S3's own setting wins for S3: a closed port fails the survey at S3.
    let output = plan(&[
        ("AWS_ENDPOINT_URL", &endpoint),
        ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9"),
    ]);
    assert!(!output.status.success(), "{output:?}");
    // Whichever of the bucket's reads fails first names the bucket and the closed port.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}-receipts-", stack.name)) && stderr.contains("127.0.0.1:9"),
        "{stderr}"
    );
    let output = plan(&[
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_ENDPOINT_URL_S3", &endpoint),
    ]);
    assert!(!output.status.success(), "{output:?}");
    // A bad retry setting is an error that names it, not a crash.
    let output = plan(&[
        ("AWS_ENDPOINT_URL", &endpoint),
        ("AWS_MAX_ATTEMPTS", "many"),
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("AWS_MAX_ATTEMPTS=many"),
        "{output:?}"
    );
    assert_nothing_created(&stack).await;
}
