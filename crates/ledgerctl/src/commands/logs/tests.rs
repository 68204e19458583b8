//! `--since`; several services' lines cut whole, prefixed and kept by `--grep`; which container
//! of a service is read; duration flags; and on an ECS stack, which streams the service argument
//! selects, how a task's line looks, and what `--follow` prints when its polls overlap.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};

use super::ecs::{Event, LATE_MS, Seen, Selection, is_task_id};
use super::{LineBuffer, Shown, duration, service_containers, since};

const TASK: &str = "0123456789abcdef0123456789abcdef";

fn event(id: &str, timestamp: i64, stream: &str, message: &str) -> Event {
    Event {
        id: id.to_owned(),
        timestamp,
        stream: stream.to_owned(),
        message: message.to_owned(),
    }
}

fn api(id: &str, timestamp: i64) -> Event {
    event(id, timestamp, &format!("api/api/{TASK}"), id)
}

fn ids(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.id.as_str()).collect()
}

#[test]
fn since_takes_durations_and_unix_seconds() {
    assert_eq!(since("30s", 1000).unwrap(), 970);
    assert_eq!(since("10m", 1000).unwrap(), 400);
    assert_eq!(since("2h", 10_000).unwrap(), 2800);
    assert_eq!(since("1700000000", 5).unwrap(), 1_700_000_000);
    assert!(since("10x", 1000).is_err());
    assert!(since("soon", 1000).is_err());
    assert_eq!(since("1h 30m", 10_000).unwrap(), 4600);
    assert_eq!(since("2023-11-14T22:13:20Z", 5).unwrap(), 1_700_000_000);
}

#[test]
fn api_and_migrate_select_their_stream_prefixes_and_nothing_selects_every_stream() {
    let api = Selection::parse(Some("api")).unwrap();
    assert_eq!(api, Selection::Prefix("api/".into()));
    let migrate = Selection::parse(Some("migrate")).unwrap();
    assert_eq!(migrate, Selection::Prefix("migrate/".into()));
    assert_eq!(Selection::parse(None).unwrap(), Selection::All);

    let (api_stream, migrate_stream) =
        (format!("api/api/{TASK}"), format!("migrate/migrate/{TASK}"));
    assert!(api.selects(&api_stream) && !api.selects(&migrate_stream));
    assert!(migrate.selects(&migrate_stream) && !migrate.selects(&api_stream));
    assert!(Selection::All.selects(&api_stream) && Selection::All.selects(&migrate_stream));
}

#[test]
fn a_task_id_whole_or_its_start_selects_that_tasks_streams() {
    assert_eq!(
        Selection::parse(Some(TASK)).unwrap(),
        Selection::Task(TASK.into())
    );
    let short = Selection::parse(Some("01234567")).unwrap();
    assert_eq!(
        Selection::task_stream_prefixes("01234567"),
        ["api/api/01234567", "migrate/migrate/01234567"]
    );
    assert!(short.selects(&format!("api/api/{TASK}")));
    assert!(short.selects(&format!("migrate/migrate/{TASK}")));
    assert!(!short.selects("api/api/fedcba9876543210fedcba9876543210"));
    assert_eq!(
        Selection::parse(Some("0123ABCD")).unwrap(),
        Selection::Task("0123abcd".into()),
        "ids are lower case"
    );
    assert!(is_task_id("0123") && !is_task_id("012") && !is_task_id("api"));
}

#[test]
fn the_instances_services_are_refused_with_how_to_read_them() {
    for service in ["traefik", "prometheus", "grafana", "cadvisor", "nosuch"] {
        let refused = Selection::parse(Some(service)).unwrap_err().to_string();
        assert!(
            refused.contains("run on the instance")
                && refused.contains(&format!("ledgerctl logs {service} --instance")),
            "{refused}"
        );
    }
}

#[test]
fn a_line_is_the_tasks_short_id_and_the_message() {
    let line = event(
        "1",
        0,
        &format!("api/api/{TASK}"),
        "listening on 0.0.0.0:8080\n",
    );
    assert_eq!(line.line(), "01234567 | listening on 0.0.0.0:8080");
    assert_eq!(
        event("2", 0, "migrate/migrate/abc", "done").line(),
        "abc | done",
        "an id shorter than the label is shown whole"
    );
}

#[test]
fn following_prints_each_line_once_when_polls_overlap() {
    let mut seen = Seen::new(1_000);
    // Shown first (older lines than 1 s were not).
    let shown = seen.fresh(vec![api("old", 999), api("a", 1_000), api("b", 2_000)]);
    assert_eq!(ids(&shown), ["a", "b"]);
    assert_eq!(seen.start(), 1_000, "not before the first line shown");
    // The next poll reads the boundary again: the lines at 2 s it printed, one more at 2 s, and
    // another task's line from before it that arrived late.
    let other = format!("api/api/{}", "f".repeat(32));
    let next = seen.fresh(vec![
        api("a", 1_000),
        event("late", 1_500, &other, "late"),
        api("b", 2_000),
        api("c", 2_000),
        api("d", 3_000),
    ]);
    assert_eq!(ids(&next), ["late", "c", "d"]);
    assert!(
        seen.fresh(vec![api("b", 2_000), api("d", 3_000)])
            .is_empty()
    );
}

#[test]
fn each_poll_starts_a_while_before_the_newest_line() {
    let mut seen = Seen::new(0);
    assert_eq!(seen.start(), 0, "nothing read yet: from the floor");
    seen.fresh(vec![api("a", 100_000), api("b", 200_000)]);
    assert_eq!(seen.start(), 200_000 - LATE_MS);
    // What the poll returns again from its start on is still known.
    assert!(seen.fresh(vec![api("b", 200_000)]).is_empty());
}

#[test]
fn chunks_are_cut_into_whole_lines_and_the_rest_given_a_newline_at_the_end() {
    let mut buffer = LineBuffer::default();
    assert!(buffer.push(b"hal").is_empty(), "no line yet");
    assert_eq!(
        buffer.push(b"f one\ntwo\nthr"),
        [b"half one\n".to_vec(), b"two\n".to_vec()]
    );
    assert_eq!(buffer.push(b"ee\n"), [b"three\n".to_vec()]);
    assert_eq!(buffer.finish(), None, "nothing left");
    buffer.push(b"cut short");
    assert_eq!(buffer.finish(), Some(b"cut short\n".to_vec()));
}

#[test]
fn with_several_services_each_line_is_prefixed_with_its_service_padded() {
    let shown = Shown {
        prefix: Some(7),
        grep: None,
        timestamps: false,
    };
    assert_eq!(
        shown.line("api", b"listening\n").unwrap(),
        b"api     | listening\n"
    );
    assert_eq!(
        shown.line("traefik", b"ready\n").unwrap(),
        b"traefik | ready\n"
    );
    let alone = Shown {
        prefix: None,
        grep: None,
        timestamps: false,
    };
    assert_eq!(alone.line("api", b"as it is\n").unwrap(), b"as it is\n");
}

#[test]
fn grep_keeps_the_lines_holding_its_text_and_looks_past_the_timestamp() {
    let shown = Shown {
        prefix: None,
        grep: Some("ERROR"),
        timestamps: false,
    };
    assert!(shown.line("api", b"an ERROR here\n").is_some());
    assert!(shown.line("api", b"all fine\n").is_none());
    assert!(shown.line("api", b"error\n").is_none(), "case matters");
    let timed = Shown {
        prefix: None,
        grep: Some("2026"),
        timestamps: true,
    };
    assert!(
        timed
            .line("api", b"2026-01-02T03:04:05.000000000Z started\n")
            .is_none(),
        "the engine's timestamp is not the line's text"
    );
    assert!(
        timed
            .line("api", b"2026-01-02T03:04:05.000000000Z year 2026\n")
            .is_some()
    );
}

fn container(
    id: &str,
    service: &str,
    state: ContainerSummaryStateEnum,
    created: i64,
) -> ContainerSummary {
    ContainerSummary {
        id: Some(id.into()),
        labels: Some(HashMap::from([(
            crate::docker::reconcile::SERVICE_LABEL.to_owned(),
            service.to_owned(),
        )])),
        state: Some(state),
        created: Some(created),
        ..ContainerSummary::default()
    }
}

#[test]
fn a_service_s_running_container_comes_first_then_the_newest() {
    use ContainerSummaryStateEnum::{EXITED, RUNNING};
    let containers = [
        container("old", "api", RUNNING, 1),
        container("new", "api", EXITED, 2),
        container("t", "traefik", RUNNING, 1),
    ];
    let ids = |service: &str| -> Vec<String> {
        service_containers(&containers, "demo", service)
            .unwrap()
            .iter()
            .map(|c| c.id.clone().unwrap())
            .collect()
    };
    assert_eq!(ids("api"), ["old", "new"]);
    assert_eq!(ids("traefik"), ["t"]);
    let unknown = service_containers(&containers, "demo", "nosuch")
        .unwrap_err()
        .to_string();
    assert_eq!(
        unknown,
        "the stack demo has no service nosuch on this engine; it has api, traefik"
    );
}

#[test]
fn durations_take_units_or_bare_seconds() {
    assert_eq!(duration("30s").unwrap(), Duration::from_secs(30));
    assert_eq!(duration("10m").unwrap(), Duration::from_secs(600));
    assert_eq!(duration("1h 30m").unwrap(), Duration::from_secs(5400));
    assert_eq!(duration("45").unwrap(), Duration::from_secs(45));
    let wrong = duration("soon").unwrap_err();
    assert!(wrong.contains("`soon` is not a duration"), "{wrong}");
}
