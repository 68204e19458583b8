//! `ledgerctl logs` on an ECS stack (`topology: ecs`): what the API's and the migrations' Fargate
//! tasks wrote, read from the stack's CloudWatch Logs group ([`crate::aws::logs::name`]), each
//! line labelled with its task, in time order; `--follow` polls for new lines until Ctrl-C. The
//! instance's own containers (the monitoring) are read over SSH, as in the instance topology,
//! with `--instance`.

use std::collections::HashMap;
use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;

use super::Args;
use crate::aws::logs::{MIGRATION_STREAM_PREFIX, STREAM_PREFIX};
use crate::aws::{Aws, AwsOptions, found};
use crate::stack::StackConfig;

/// How often `--follow` asks for new lines.
const POLL: Duration = Duration::from_secs(2);
/// How far before the newest line each poll reads again (ms): the `awslogs` driver sends each
/// task's lines in batches every few seconds, so one task's line can arrive after a later line
/// of another.
pub(super) const LATE_MS: i64 = 15_000;
/// How many characters of a task id label its lines.
const SHORT_ID: usize = 8;
/// FilterLogEvents reads newest first only from a `startTime` on or after 2024-01-01.
const NEWEST_FIRST_FROM_MS: i64 = 1_704_067_200_000;
/// The most stream names one FilterLogEvents takes.
const MOST_STREAMS: usize = 100;

/// Which of the group's streams the service argument selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Selection {
    /// Every task's: no argument.
    All,
    /// The streams whose names start with this: `api/` (the API) or `migrate/` (the migrations).
    Prefix(String),
    /// The streams of the tasks whose id starts with this: a full id or its first characters.
    Task(String),
}

impl Selection {
    pub(super) fn parse(service: Option<&str>) -> Result<Selection> {
        match service {
            None => Ok(Selection::All),
            Some("api") => Ok(Selection::Prefix(format!("{STREAM_PREFIX}/"))),
            Some("migrate") => Ok(Selection::Prefix(format!("{MIGRATION_STREAM_PREFIX}/"))),
            Some(id) if is_task_id(id) => Ok(Selection::Task(id.to_ascii_lowercase())),
            Some(other) => bail!(
                "{other} is not one of the stack's ECS tasks: with topology: ecs, ledgerctl logs reads the API's tasks from CloudWatch Logs (api, migrate, a task id, or none for all of them); the other services (traefik, prometheus, grafana, …) run on the instance: ledgerctl logs {other} --instance"
            ),
        }
    }

    /// The prefixes of the streams a task id selects: the API's and the migration's.
    pub(super) fn task_stream_prefixes(id: &str) -> [String; 2] {
        [
            format!("{STREAM_PREFIX}/api/{id}"),
            format!("{MIGRATION_STREAM_PREFIX}/migrate/{id}"),
        ]
    }

    /// Whether `stream` is one of those selected. The service filters by stream already; the
    /// emulator does not.
    pub(super) fn selects(&self, stream: &str) -> bool {
        match self {
            Selection::All => true,
            Selection::Prefix(prefix) => stream.starts_with(prefix.as_str()),
            Selection::Task(id) => Self::task_stream_prefixes(id)
                .iter()
                .any(|prefix| stream.starts_with(prefix.as_str())),
        }
    }
}

/// Whether `text` reads as an ECS task id, or the start of one: hex digits (dashes in the
/// emulator's), at least four.
pub(super) fn is_task_id(text: &str) -> bool {
    (4..=36).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// The task a stream is of: its name's last part.
fn task_id(stream: &str) -> &str {
    stream.rsplit('/').next().unwrap_or(stream)
}

/// One line a task wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Event {
    pub(super) id: String,
    /// When it was written, in ms since the epoch.
    pub(super) timestamp: i64,
    pub(super) stream: String,
    pub(super) message: String,
}

impl Event {
    fn of(event: &FilteredLogEvent) -> Event {
        Event {
            id: event.event_id().unwrap_or_default().to_owned(),
            timestamp: event.timestamp().unwrap_or_default(),
            stream: event.log_stream_name().unwrap_or_default().to_owned(),
            message: event.message().unwrap_or_default().to_owned(),
        }
    }

    /// `<task id, short> | <message>`.
    pub(super) fn line(&self) -> String {
        let task = task_id(&self.stream);
        format!(
            "{} | {}",
            task.get(..SHORT_ID).unwrap_or(task),
            self.message.trim_end_matches(['\n', '\r'])
        )
    }
}

/// The lines `--follow` has read, so that a poll reading again from before the newest prints
/// only those it had not: every event id from where the next poll starts on.
#[derive(Debug)]
pub(super) struct Seen {
    /// Lines from before this time are not new: they are older than the first line shown.
    floor: i64,
    newest: Option<i64>,
    ids: HashMap<String, i64>,
}

impl Seen {
    pub(super) fn new(floor: i64) -> Seen {
        Seen {
            floor,
            newest: None,
            ids: HashMap::new(),
        }
    }

    /// Where the next poll starts: [`LATE_MS`] before the newest line, not before the floor.
    pub(super) fn start(&self) -> i64 {
        self.newest
            .map_or(self.floor, |newest| (newest - LATE_MS).max(self.floor))
    }

    /// The events of `batch` not seen before, in its order; all of them are remembered.
    pub(super) fn fresh(&mut self, batch: Vec<Event>) -> Vec<Event> {
        let mut fresh = Vec::new();
        for event in batch {
            if event.timestamp < self.floor || self.ids.contains_key(&event.id) {
                continue;
            }
            self.newest = Some(self.newest.unwrap_or(i64::MIN).max(event.timestamp));
            self.ids.insert(event.id.clone(), event.timestamp);
            fresh.push(event);
        }
        // The next poll cannot return those from before its start.
        let start = self.start();
        self.ids.retain(|_, timestamp| *timestamp >= start);
        fresh
    }
}

/// What to read: the log group and, for a task id, its streams by name.
#[derive(Debug)]
struct Query {
    group: String,
    selection: Selection,
    streams: Vec<String>,
}

fn no_group(group: &str) -> String {
    format!(
        "the log group {group} does not exist: run ledgerctl provision (it makes it with the ECS topology)"
    )
}

/// The streams of the tasks whose id starts with `id`.
async fn task_streams(aws: &Aws, group: &str, id: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for prefix in Selection::task_stream_prefixes(id) {
        let mut pages = aws
            .logs
            .describe_log_streams()
            .log_group_name(group)
            .log_stream_name_prefix(&prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = found(
                page,
                |e| e.is_resource_not_found_exception(),
                || format!("listing the log streams of {group}"),
            )?
            .with_context(|| no_group(group))?;
            names.extend(
                page.log_streams()
                    .iter()
                    .filter_map(|s| s.log_stream_name())
                    .map(str::to_owned),
            );
        }
    }
    if names.is_empty() {
        bail!("no task whose id starts with {id} has logged to {group}");
    }
    if names.len() > MOST_STREAMS {
        bail!(
            "{} tasks' ids start with {id}; give more of the id",
            names.len()
        );
    }
    Ok(names)
}

/// The selected lines from `start` (ms) on, oldest first; with `last`, pages are read newest first
/// until they hold that many lines, not the whole group.
async fn read(
    aws: &Aws,
    query: &Query,
    start: Option<i64>,
    last: Option<usize>,
) -> Result<Vec<Event>> {
    let group = &query.group;
    let mut request = aws
        .logs
        .filter_log_events()
        .log_group_name(group)
        .set_start_time(start);
    match &query.selection {
        Selection::All => {}
        Selection::Prefix(prefix) => request = request.log_stream_name_prefix(prefix),
        Selection::Task(_) => request = request.set_log_stream_names(Some(query.streams.clone())),
    }
    // Pages of the service's size (1 MB): the emulator ignores the direction, and with all its
    // events in one page still yields the last ones.
    if last.is_some() {
        request = request
            .start_from_head(false)
            .start_time(start.unwrap_or_default().max(NEWEST_FIRST_FROM_MS));
    }
    let mut pages = request.into_paginator().send();
    let mut events = Vec::new();
    while let Some(page) = pages.next().await {
        let page = found(
            page,
            |e| e.is_resource_not_found_exception(),
            || format!("reading the log group {group}"),
        )?
        .with_context(|| no_group(group))?;
        events.extend(
            page.events()
                .iter()
                .map(Event::of)
                .filter(|e| query.selection.selects(&e.stream)),
        );
        if last.is_some_and(|last| events.len() >= last) {
            break;
        }
    }
    if last.is_some() {
        events.reverse();
    }
    // In order already from the service, not from the emulator.
    events.sort_by_key(|e| e.timestamp);
    Ok(events)
}

fn print(events: &[Event]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for event in events {
        writeln!(out, "{}", event.line())?;
    }
    out.flush()?;
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Prints the last `tail` selected lines (all with `None`) from `since` (ms) on; what was read,
/// for `--follow` to go on from.
async fn show(aws: &Aws, query: &Query, since: Option<i64>, tail: Option<usize>) -> Result<Seen> {
    let events = match tail {
        Some(0) => Vec::new(),
        _ => read(aws, query, since, tail).await?,
    };
    let shown = &events[events.len().saturating_sub(tail.unwrap_or(usize::MAX))..];
    print(shown)?;
    let floor = shown
        .first()
        .map(|e| e.timestamp)
        .or(since)
        .unwrap_or_else(now_ms);
    let mut seen = Seen::new(floor);
    seen.fresh(events);
    Ok(seen)
}

/// [`show`], then every [`POLL`] the lines written since: until stopped.
async fn follow(aws: &Aws, query: &Query, since: Option<i64>, tail: Option<usize>) -> Result<()> {
    let mut seen = show(aws, query, since, tail).await?;
    loop {
        tokio::time::sleep(POLL).await;
        let batch = read(aws, query, Some(seen.start()), None).await?;
        print(&seen.fresh(batch))?;
    }
}

/// Prints what the tasks the service argument selects wrote: the last `tail` lines (all with
/// `None`) since `since` (Unix seconds), and with `--follow` the new ones until Ctrl-C.
pub(super) async fn run(
    args: &Args,
    config: &StackConfig,
    since: Option<u64>,
    tail: Option<usize>,
) -> Result<()> {
    let selection = Selection::parse(args.services.first().map(String::as_str))?;
    let mut config = config.clone();
    if let Some(stack) = &args.engine.stack {
        config.stack.clone_from(stack);
    }
    let aws = Aws::connect(&AwsOptions {
        region: config.region.clone(),
        profile: args.engine.profile.clone(),
        endpoint_url: args.engine.endpoint_url.clone(),
    })
    .await?;
    let group = crate::aws::logs::name(&config);
    let streams = match &selection {
        Selection::Task(id) => task_streams(&aws, &group, id).await?,
        _ => Vec::new(),
    };
    let query = Query {
        group,
        selection,
        streams,
    };
    let since = since.map(|s| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX));
    if !args.follow {
        return show(&aws, &query, since, tail).await.map(drop);
    }
    let stop = ledgerly_process::listen_for_shutdown();
    tokio::select! {
        result = follow(&aws, &query, since, tail) => result,
        () = stop => Ok(()),
    }
}
