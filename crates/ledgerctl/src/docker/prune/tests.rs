//! What a prune removes, decided from the engine's lists alone: which containers, which images
//! of which repositories, what stays; and the disk use counted from the lists.

use std::collections::HashMap;

use bollard::models::{ContainerSummary, ContainerSummaryStateEnum, ImageSummary};

use super::usage::counted;
use super::{Reason, human, plan};
use crate::docker::lock::LOCK_LABEL;
use crate::docker::reconcile::{SERVICE_LABEL, STACK_LABEL};

use ContainerSummaryStateEnum::{CREATED, EXITED, RUNNING};

fn container(
    id: &str,
    stack: &str,
    image: &str,
    state: ContainerSummaryStateEnum,
    extra: &[(&str, &str)],
) -> ContainerSummary {
    let mut labels = HashMap::from([
        (STACK_LABEL.to_owned(), stack.to_owned()),
        (SERVICE_LABEL.to_owned(), id.to_owned()),
    ]);
    labels.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    ContainerSummary {
        id: Some(id.into()),
        names: Some(vec![format!("/{stack}-{id}")]),
        image_id: Some(image.into()),
        state: Some(state),
        labels: Some(labels),
        size_rw: Some(100),
        ..ContainerSummary::default()
    }
}

/// An image `id` created at `created`, tagged `references` (`repo:tag`, or `repo@sha256:…`).
fn image(id: &str, created: i64, references: &[&str]) -> ImageSummary {
    let (digests, tags): (Vec<&str>, Vec<&str>) =
        references.iter().copied().partition(|r| r.contains('@'));
    ImageSummary {
        id: id.into(),
        created,
        size: 1_000,
        shared_size: 400,
        repo_tags: tags.into_iter().map(str::to_owned).collect(),
        repo_digests: digests.into_iter().map(str::to_owned).collect(),
        ..ImageSummary::default()
    }
}

fn ids(items: &[super::Item]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

#[test]
fn the_stack_s_stopped_containers_go_but_not_its_lock_nor_other_stacks() {
    let containers = [
        container("api", "demo", "i1", RUNNING, &[]),
        container("migrate", "demo", "i1", EXITED, &[]),
        container("worker", "demo", "i1", CREATED, &[]),
        container(
            "lock",
            "demo",
            "i1",
            CREATED,
            &[(LOCK_LABEL, "ops@laptop pid 1")],
        ),
        container("other", "elsewhere", "i1", EXITED, &[]),
    ];
    let plan = plan("demo", &containers, &[image("i1", 1, &["api:1"])], 3);
    assert_eq!(ids(&plan.containers), ["migrate", "worker"]);
    assert!(plan.containers.iter().all(|c| c.reason == Reason::Stopped));
    assert_eq!(plan.containers[0].name, "demo-migrate");
    assert!(plan.images.is_empty(), "the image is in use");
}

#[test]
fn per_repository_the_newest_are_kept_with_those_in_use_and_the_older_go() {
    let registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo-api";
    let at = |digest: &str| format!("{registry}@sha256:{digest}");
    let images = [
        image("a1", 1, &[at("01").as_str()]),
        image("a2", 2, &[at("02").as_str()]),
        image("a3", 3, &[at("03").as_str()]),
        image("a4", 4, &[at("04").as_str()]),
        image("a5", 5, &[at("05").as_str()]),
        image("t1", 1, &["traefik@sha256:aa"]),
        image("t2", 2, &["traefik@sha256:bb"]),
        image("t3", 3, &["traefik@sha256:cc"]),
    ];
    // The API runs an older release (a rollback); Traefik its newest.
    let containers = [
        container("api", "demo", "a2", RUNNING, &[]),
        container("traefik", "demo", "t3", RUNNING, &[]),
    ];
    let plan = plan("demo", &containers, &images, 2);
    let mut gone = ids(&plan.images);
    gone.sort_unstable();
    assert_eq!(gone, ["a1", "a3", "t1"], "a5 and a4 newest, a2 in use");
    assert!(plan.images.iter().all(|i| i.reason == Reason::Old));
    assert_eq!(plan.kept[registry], 3);
    assert_eq!(plan.kept["traefik"], 2);
    assert_eq!(plan.images[0].bytes, 600, "its own layers only");
    assert_eq!(plan.bytes(), 1_800);
}

#[test]
fn other_repositories_images_of_other_stacks_and_shared_ones_stay() {
    let images = [
        image("w1", 1, &["web:1"]),
        image("w2", 2, &["web:2"]),
        image("w3", 3, &["web:3"]),
        // Also in a repository the stack does not use.
        image("w0", 0, &["web:0", "mirror/web:0"]),
        // Another stack's, stopped: still in use.
        image("o1", 1, &["other:1"]),
        image("o2", 2, &["other:2"]),
        // Nothing of any stack.
        image("x1", 1, &["unrelated:1"]),
    ];
    let containers = [
        container("web", "demo", "w3", RUNNING, &[]),
        container("other", "elsewhere", "o1", EXITED, &[]),
    ];
    let plan = plan("demo", &containers, &images, 1);
    assert_eq!(ids(&plan.images), ["w1", "w2"]);
}

#[test]
fn images_built_for_the_stack_count_as_its_own_and_dangling_ones_go() {
    let mut built = image("b1", 1, &["demo-api:old"]);
    built
        .labels
        .insert(STACK_LABEL.to_owned(), "demo".to_owned());
    let mut newer = image("b2", 2, &["demo-api:new"]);
    newer
        .labels
        .insert(STACK_LABEL.to_owned(), "demo".to_owned());
    let images = [
        built,
        newer,
        image("d1", 1, &[]),
        image("d2", 1, &["<none>:<none>", "<none>@<none>"]),
        image("d3", 1, &[]),
    ];
    let containers = [container("stopped", "elsewhere", "d3", EXITED, &[])];
    let plan = plan("demo", &containers, &images, 1);
    // By name: `<none>` before `demo-api:old`.
    assert_eq!(ids(&plan.images), ["d1", "d2", "b1"]);
    let reasons: Vec<Reason> = plan.images.iter().map(|i| i.reason).collect();
    assert_eq!(reasons, [Reason::Dangling, Reason::Dangling, Reason::Old]);
}

#[test]
fn removing_the_stopped_containers_frees_their_images_in_the_same_plan() {
    let images = [image("m1", 1, &["web:1"]), image("m2", 2, &["web:2"])];
    let containers = [
        container("web", "demo", "m2", RUNNING, &[]),
        container("old-run", "demo", "m1", EXITED, &[]),
    ];
    let plan = plan("demo", &containers, &images, 1);
    assert_eq!(ids(&plan.containers), ["old-run"]);
    assert_eq!(ids(&plan.images), ["m1"]);
}

#[test]
fn disk_use_is_counted_from_the_lists_on_an_older_engine() {
    let images = [image("i1", 1, &["a:1"]), image("i2", 1, &["b:1"])];
    let containers = [
        container("up", "demo", "i1", RUNNING, &[]),
        container("down", "demo", "i1", EXITED, &[]),
    ];
    let usage = counted(&containers, &images);
    assert_eq!(
        (usage.images.count, usage.images.active, usage.images.bytes),
        (2, 1, 2_000)
    );
    assert_eq!(
        usage.images.reclaimable, 600,
        "the unused image's own layers"
    );
    assert_eq!(
        (
            usage.containers.count,
            usage.containers.active,
            usage.containers.bytes
        ),
        (2, 1, 200)
    );
    assert_eq!(usage.containers.reclaimable, 100);
    assert!(!usage.exact && usage.volumes.is_none());
    let shown = usage.to_string();
    assert!(
        shown.contains(
            "images 2 (1 in use): 2.0 kB, 600 B reclaimable (shared layers counted with each image)"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("volumes: not known from this engine"),
        "{shown}"
    );
}

#[test]
fn bytes_are_shown_in_powers_of_a_thousand() {
    assert_eq!(human(512), "512 B");
    assert_eq!(human(1_500), "1.5 kB");
    assert_eq!(human(3_400_000), "3.4 MB");
    assert_eq!(human(2_100_000_000), "2.1 GB");
}
