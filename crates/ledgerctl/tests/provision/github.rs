//! The GitHub section: the OIDC provider and the deploy role's least privilege.

use crate::fixtures::*;

#[tokio::test]
async fn a_github_section_adds_the_oidc_provider_and_a_least_privilege_deploy_role() {
    let stack = Stack::new("gh");
    stack.write("github:\n  repository: acme/ledgerly\n");
    stack.provision();
    let (_, plan) = stack.plan();
    assert!(
        actions(&plan).iter().all(|a| a.starts_with("waiting ")),
        "a second look finds nothing to do but the Lambda waiting for its image: {plan}"
    );

    let iam = aws_sdk_iam::Client::new(&aws().await);
    let provider = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
        )
        .send()
        .await
        .unwrap();
    assert!(
        provider
            .client_id_list()
            .iter()
            .any(|a| a == "sts.amazonaws.com")
    );
    let role_name = format!("{}-github-deploy", stack.name);
    let role = iam.get_role().role_name(&role_name).send().await.unwrap();
    let trust = iam_document(role.role().unwrap().assume_role_policy_document().unwrap());
    let statement = &trust["Statement"][0];
    assert_eq!(statement["Action"], "sts:AssumeRoleWithWebIdentity");
    assert!(
        statement["Principal"]["Federated"]
            .as_str()
            .unwrap()
            .ends_with(":oidc-provider/token.actions.githubusercontent.com")
    );
    let condition = &statement["Condition"]["StringEquals"];
    assert_eq!(
        condition["token.actions.githubusercontent.com:sub"],
        "repo:acme/ledgerly:environment:production",
        "only this repository's production deploy job: {trust}"
    );
    assert_eq!(
        condition["token.actions.githubusercontent.com:aud"],
        "sts.amazonaws.com"
    );
    assert_eq!(
        condition["token.actions.githubusercontent.com:job_workflow_ref"],
        "acme/ledgerly/.github/workflows/release.yml@refs/heads/main",
        "the release workflow as it is on main: {trust}"
    );
    assert_eq!(
        condition["token.actions.githubusercontent.com:ref"],
        "refs/heads/main"
    );
    let names = iam
        .list_role_policies()
        .role_name(&role_name)
        .send()
        .await
        .unwrap();
    let policy = iam
        .get_role_policy()
        .role_name(&role_name)
        .policy_name(&names.policy_names()[0])
        .send()
        .await
        .unwrap();
    let policy = iam_document(policy.policy_document());
    for statement in policy["Statement"].as_array().unwrap() {
        for action in statement["Action"].as_array().unwrap() {
            let action = action.as_str().unwrap();
            assert!(!action.contains('*'), "{action}");
            let verb = action.split(':').nth(1).unwrap();
            // Tagging the SSH rules `access open` adds (on rules alone) is the one exception.
            let rule_tags = action == "ec2:CreateTags"
                && statement["Resource"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r.as_str().unwrap().contains(":security-group-rule/"));
            assert!(
                rule_tags
                    || !["Create", "Delete", "Attach", "Pass", "Terminate", "Run"]
                        .iter()
                        .any(|v| verb.starts_with(v)),
                "the deploy role creates and deletes nothing: {action}"
            );
        }
        if statement["Resource"] == serde_json::json!(["*"]) {
            for action in statement["Action"].as_array().unwrap() {
                let action = action.as_str().unwrap();
                let verb = action.split(':').nth(1).unwrap();
                assert!(
                    verb.starts_with("Describe")
                        || verb.starts_with("List")
                        || action == "ecr:GetAuthorizationToken",
                    "only reads on every resource: {action}"
                );
            }
        }
    }
    // Without the section there is no deploy role (the other stacks' tests), and destroy removes
    // it with the rest, leaving the shared provider.
    stack.write("database:\n  deletion_protection: false\ngithub:\n  repository: acme/ledgerly\n");
    stack.provision();
    let destroyed = stack.ledgerctl(
        &[
            "destroy",
            "--yes",
            "--skip-final-snapshot",
            "--output",
            "json",
        ],
        None,
    );
    assert!(destroyed.status.success(), "{destroyed:?}");
    assert_absent(&role_name, iam.get_role().role_name(&role_name).send()).await;
    assert!(
        iam.get_open_id_connect_provider()
            .open_id_connect_provider_arn(
                "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
            )
            .send()
            .await
            .is_ok()
    );
}
