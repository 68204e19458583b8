use super::validation::{shown, timeout_error};
use super::*;

fn record() -> ValidationRecord {
    ValidationRecord::new("_abc.API.example.com", "_xyz.acm-validations.aws.")
}

fn certificate(zone: Option<&str>) -> Certificate {
    Certificate {
        domain: "api.example.com".into(),
        operator_arn: None,
        hosted_zone: zone.map(str::to_owned),
        timeout: Duration::from_secs(30 * 60),
        stack: "ledgerly-prod".into(),
        tags: BTreeMap::from([(STACK_TAG.to_owned(), "ledgerly-prod".to_owned())]),
    }
}

fn have(status: &str) -> Observed {
    Observed {
        arn: "arn:aws:acm:us-east-1:123456789012:certificate/abc".into(),
        status: status.into(),
        failure: None,
        records: vec![record()],
        in_use_by: vec![],
        tags: BTreeMap::from([(STACK_TAG.to_owned(), "ledgerly-prod".to_owned())]),
        zone: BTreeMap::new(),
    }
}

fn fields(change: Change) -> Vec<(String, String, String)> {
    match change {
        Change::Update { fields } => fields
            .into_iter()
            .map(|f| (f.field, f.from, f.to))
            .collect(),
        other => panic!("not an update: {other:?}"),
    }
}

#[test]
fn a_name_covers_itself_and_a_wildcard_one_label_below_its_parent() {
    assert!(covers("api.example.com", "api.example.com"));
    assert!(covers("API.example.com.", "api.example.com"));
    assert!(covers("*.example.com", "api.example.com"));
    assert!(!covers("*.example.com", "example.com"));
    assert!(!covers("*.example.com", "a.api.example.com"));
    assert!(!covers("*.other.com", "api.example.com"));
    assert!(!covers("www.example.com", "api.example.com"));
}

#[test]
fn the_operators_certificate_must_be_issued_and_cover_the_domain() {
    let arn = "arn:aws:acm:us-east-1:123456789012:certificate/abc";
    let names = vec!["example.com".to_owned(), "*.example.com".to_owned()];
    assert_eq!(
        operator_problem(arn, "api.example.com", ISSUED, &names),
        None
    );
    let pending = operator_problem(arn, "api.example.com", PENDING, &names).unwrap();
    assert!(
        pending.contains("is PENDING_VALIDATION, not ISSUED"),
        "{pending}"
    );
    let other = operator_problem(arn, "a.api.example.com", ISSUED, &names).unwrap();
    assert!(
        other.contains("is for example.com, *.example.com, which does not cover a.api.example.com"),
        "{other}"
    );
}

#[test]
fn the_idempotency_token_is_the_stacks_letters_and_the_moment_in_base_36() {
    assert_eq!(idempotency_token("ledgerly-prod", 0), "ledgerlyprod0");
    assert_eq!(
        idempotency_token("ledgerly-prod", 36 * 36 + 35),
        "ledgerlyprod10z"
    );
    let token = idempotency_token("a-very-long-stack-name-x1", 1_800_000_000_000);
    assert!(token.len() <= 32, "{token}");
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric()), "{token}");
    assert!(token.starts_with("averylongstacknamex1"), "{token}");
    assert_ne!(
        idempotency_token("s", 1_800_000_000_000),
        idempotency_token("s", 1_800_000_000_001)
    );
}

#[test]
fn records_are_shown_lowercase_with_their_dots() {
    assert_eq!(
        record().to_string(),
        "CNAME _abc.api.example.com. → _xyz.acm-validations.aws."
    );
    let two = [
        record(),
        ValidationRecord::new("_def.example.com.", "_uvw.acm-validations.aws"),
    ];
    assert_eq!(
        shown(&two),
        "CNAME _abc.api.example.com. → _xyz.acm-validations.aws.; CNAME _def.example.com. → _uvw.acm-validations.aws."
    );
}

#[test]
fn a_pending_certificate_without_a_zone_shows_the_records_to_create() {
    let change = certificate(None).diff(Some(&have(PENDING)), &Known::default());
    assert_eq!(
        fields(change),
        [(
            "validation".to_owned(),
            "pending".to_owned(),
            "issued, once you create in DNS: CNAME _abc.api.example.com. → _xyz.acm-validations.aws.".to_owned()
        )]
    );
}

#[test]
fn with_a_zone_a_missing_record_is_drift() {
    let cert = certificate(Some("Z0123456789ABC"));
    let mut seen = have(ISSUED);
    assert_eq!(
        fields(cert.diff(Some(&seen), &Known::default())),
        [(
            "dns._abc.api.example.com.".to_owned(),
            "(none)".to_owned(),
            "_xyz.acm-validations.aws.".to_owned()
        )]
    );
    seen.zone.insert(record().name, record().value);
    assert_eq!(cert.diff(Some(&seen), &Known::default()), Change::Unchanged);
    seen.status = PENDING.into();
    let pending = fields(cert.diff(Some(&seen), &Known::default()));
    assert!(
        pending[0]
            .2
            .starts_with("issued, through the records in the hosted zone Z0123456789ABC: CNAME"),
        "{pending:?}"
    );
}

#[test]
fn an_issued_certificate_compares_its_tags_and_a_spent_one_is_replaced() {
    let cert = certificate(None);
    assert_eq!(cert.diff(None, &Known::default()), Change::Create);
    assert_eq!(
        cert.diff(Some(&have(ISSUED)), &Known::default()),
        Change::Unchanged
    );
    let mut untagged = have(ISSUED);
    untagged.tags.clear();
    assert_eq!(
        fields(cert.diff(Some(&untagged), &Known::default()))[0].0,
        "tags.ledgerly:stack"
    );
    assert_eq!(
        fields(cert.diff(Some(&have("EXPIRED")), &Known::default())),
        [(
            "status".to_owned(),
            "EXPIRED".to_owned(),
            "ISSUED (a new certificate is requested)".to_owned()
        )]
    );
}

#[test]
fn only_an_issued_certificate_is_learned_and_healthy() {
    let cert = certificate(None);
    let mut known = Known::default();
    cert.learn(Some(&have(PENDING)), &mut known);
    assert_eq!(known.ecs.certificate, None);
    cert.learn(Some(&have(ISSUED)), &mut known);
    assert_eq!(
        known.ecs.certificate.as_deref(),
        Some(have(ISSUED).arn.as_str())
    );
    assert_eq!(Certificate::unhealthy(&have(ISSUED)), None);
    assert_eq!(
        Certificate::unhealthy(&have(PENDING)).as_deref(),
        Some("pending-validation")
    );
}

#[test]
fn the_operators_certificate_is_never_changed() {
    let mut cert = certificate(None);
    cert.operator_arn = Some("arn:aws:acm:us-east-1:123456789012:certificate/op".into());
    let mut untagged = have(ISSUED);
    untagged.tags.clear();
    assert_eq!(
        cert.diff(Some(&untagged), &Known::default()),
        Change::Unchanged
    );
    assert!(matches!(
        cert.diff(None, &Known::default()),
        Change::Waiting { .. }
    ));
}

#[test]
fn the_timeout_error_names_the_records_and_what_to_do() {
    let timeout = Duration::from_secs(30 * 60);
    let none = timeout_error("api.example.com", "arn:x", &[record()], None, timeout).to_string();
    assert!(none.contains("gave up after 30 minutes"), "{none}");
    assert!(none.contains("Create these DNS records where api.example.com's DNS is hosted: CNAME _abc.api.example.com. → _xyz.acm-validations.aws.; then run provision again"), "{none}");
    let zone =
        timeout_error("api.example.com", "arn:x", &[record()], Some("Z1"), timeout).to_string();
    assert!(
        zone.contains("in the hosted zone Z1: CNAME _abc.api.example.com."),
        "{zone}"
    );
    assert!(zone.contains("Check that"), "{zone}");
}

#[test]
fn the_issued_certificate_comes_first_then_the_newest() {
    let candidate = |status: &str, created| Candidate {
        arn: format!("{status}-{created}"),
        status: status.into(),
        created,
        tags: BTreeMap::new(),
    };
    let mut all = vec![
        candidate("FAILED", 9),
        candidate(PENDING, 5),
        candidate(ISSUED, 1),
        candidate(PENDING, 7),
    ];
    order(&mut all);
    let arns: Vec<&str> = all.iter().map(|c| c.arn.as_str()).collect();
    assert_eq!(
        arns,
        [
            "ISSUED-1",
            "PENDING_VALIDATION-7",
            "PENDING_VALIDATION-5",
            "FAILED-9"
        ]
    );
}
