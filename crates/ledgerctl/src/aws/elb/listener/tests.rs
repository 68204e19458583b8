//! The listeners' tests.

use super::routing::action_shown;
use super::*;

const CERTIFICATE: &str = "arn:aws:acm:us-east-1:123456789012:certificate/c";
const TARGET_GROUP: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tst-api/1";

fn known(certificate: bool) -> Known {
    let mut known = Known::default();
    known.ecs.load_balancer = Some(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/tst-api/1".into(),
    );
    known.ecs.target_group = Some(TARGET_GROUP.into());
    known.ecs.certificate = certificate.then(|| CERTIFICATE.to_owned());
    known
}

fn both() -> (Listener, Listener) {
    let mut listeners = listeners(&super::super::tests::config()).into_iter();
    (listeners.next().unwrap(), listeners.next().unwrap())
}

fn observed(listener: &Listener, settings: Settings) -> Observed {
    Observed {
        arn: format!("arn:listener/{}", listener.port),
        settings,
        tags: listener.tags.clone(),
    }
}

#[test]
fn two_listeners_named_by_the_load_balancer_and_port() {
    let (http, https) = both();
    assert_eq!(http.name(), "tst-api:80");
    assert_eq!(https.name(), "tst-api:443");
    assert_eq!(http.route, Route::RedirectToHttps);
    assert_eq!(https.route, Route::Forward);
}

#[test]
fn https_waits_for_the_certificate_and_http_does_not() {
    let (http, https) = both();
    assert_eq!(https.settings(&known(false)), None);
    assert_eq!(
        https.diff(None, &known(false)),
        Change::Waiting {
            reason: "the certificate for api.example.com is not issued yet (see the acm certificate above)".into()
        }
    );
    assert_eq!(http.diff(None, &known(false)), Change::Create);
    assert_eq!(https.diff(None, &known(true)), Change::Create);
    assert_eq!(
        https.settings(&known(true)),
        Some(Settings {
            protocol: "HTTPS".into(),
            certificate: Some(CERTIFICATE.into()),
            ssl_policy: Some(SSL_POLICY.into()),
            action: format!("forward to {TARGET_GROUP}"),
        })
    );
    let mut no_group = known(true);
    no_group.ecs.target_group = None;
    assert_eq!(
        https.settings(&no_group).map(|s| s.action),
        Some("forward to tst-api (new)".into())
    );
    assert!(https.action(&no_group).is_err());
}

#[test]
fn actions_are_compared_however_aws_spells_them() {
    let forward = sdk::Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(TARGET_GROUP)
        .forward_config(
            sdk::ForwardActionConfig::builder()
                .target_groups(
                    sdk::TargetGroupTuple::builder()
                        .target_group_arn(TARGET_GROUP)
                        .weight(1)
                        .build(),
                )
                .build(),
        )
        .build();
    assert_eq!(action_shown(&forward), format!("forward to {TARGET_GROUP}"));
    let weighted = sdk::Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(
            sdk::ForwardActionConfig::builder()
                .target_groups(
                    sdk::TargetGroupTuple::builder()
                        .target_group_arn("a")
                        .build(),
                )
                .target_groups(
                    sdk::TargetGroupTuple::builder()
                        .target_group_arn("b")
                        .build(),
                )
                .build(),
        )
        .build();
    assert_eq!(action_shown(&weighted), "forward to a, b");
    // What ELB fills in when they are left out: the same redirect.
    let bare = sdk::Action::builder()
        .r#type(ActionTypeEnum::Redirect)
        .redirect_config(
            RedirectActionConfig::builder()
                .protocol("HTTPS")
                .port("443")
                .status_code(RedirectActionStatusCodeEnum::Http301)
                .build(),
        )
        .build();
    assert_eq!(actions_shown(&[bare]), REDIRECT.shown());
    assert_eq!(
        REDIRECT.shown(),
        "redirect to HTTPS://#{host}:443/#{path}?#{query} (HTTP_301)"
    );
    let (http, _) = both();
    let ours = http.action(&known(false)).unwrap();
    assert_eq!(action_shown(&ours), REDIRECT.shown());
    let fixed = sdk::Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .build();
    assert_eq!(
        actions_shown(&[fixed]),
        r#"fixed response (none) (none) """#
    );
    assert_eq!(actions_shown(&[]), "(none)");
}

#[test]
fn drift_in_the_action_certificate_and_tags_is_shown() {
    let (http, https) = both();
    let known = known(true);
    let want = https.settings(&known).unwrap();
    assert_eq!(
        https.diff(Some(&observed(&https, want.clone())), &known),
        Change::Unchanged
    );
    let mut have = observed(
        &https,
        Settings {
            certificate: Some("arn:old".into()),
            action: "forward to arn:other".into(),
            ..want
        },
    );
    have.tags.clear();
    let Change::Update { fields } = https.diff(Some(&have), &known) else {
        panic!("an update");
    };
    let changed: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        changed,
        ["certificate", "default_action", "tags.ledgerly:stack"]
    );
    // Some endpoints describe an SSL policy on an HTTP listener: not drift.
    let mut plain = http.settings(&known).unwrap();
    let want = plain.clone();
    plain.ssl_policy = Some("ELBSecurityPolicy-2016-08".into());
    assert!(!plain.differs_from(&want));
    assert_eq!(
        http.diff(Some(&observed(&http, plain)), &known),
        Change::Unchanged
    );
    let mut moved = want.clone();
    moved.protocol = "HTTPS".into();
    assert!(moved.differs_from(&want));
}
