//! A stack spec as a Compose file, for people and tools that speak Compose: the same services,
//! volumes, network, health checks, limits and labels, and each service's `files` as Compose
//! `configs` beside it. The tests check the production stack this way with `docker-compose
//! config` (built for the tests only); what the engine runs is the spec itself, through
//! ledgerctl's reconciler, not Compose.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::docker::spec::StackSpec;

fn seconds(n: u32) -> String {
    format!("{n}s")
}

/// The Compose document for `spec`, and the files its `configs` name (relative path, content).
pub(crate) fn compose(spec: &StackSpec) -> (Value, Vec<(String, String)>) {
    let mut services = serde_json::Map::new();
    let mut configs = serde_json::Map::new();
    let mut files = Vec::new();
    for (name, service) in &spec.services {
        let mut out = serde_json::Map::new();
        out.insert("image".into(), json!(service.image));
        out.insert(
            "container_name".into(),
            json!(format!("{}-{name}", spec.stack)),
        );
        if !service.entrypoint.is_empty() {
            out.insert("entrypoint".into(), json!(service.entrypoint));
        }
        if !service.command.is_empty() {
            out.insert("command".into(), json!(service.command));
        }
        if !service.env.is_empty() {
            out.insert("environment".into(), json!(service.env));
        }
        if !service.ports.is_empty() {
            out.insert("ports".into(), json!(service.ports));
        }
        if !service.volumes.is_empty() {
            out.insert("volumes".into(), json!(service.volumes));
        }
        let mut labels: BTreeMap<String, String> = service.labels.clone();
        labels.insert(
            crate::docker::reconcile::STACK_LABEL.into(),
            spec.stack.clone(),
        );
        labels.insert(crate::docker::reconcile::SERVICE_LABEL.into(), name.clone());
        out.insert("labels".into(), json!(labels));
        if let Some(user) = &service.user {
            out.insert("user".into(), json!(user));
        }
        if let Some(health) = &service.health {
            out.insert(
                "healthcheck".into(),
                json!({
                    "test": health.test,
                    "interval": seconds(health.interval_seconds),
                    "timeout": seconds(health.timeout_seconds),
                    "retries": health.retries,
                    "start_period": seconds(health.start_period_seconds),
                }),
            );
        }
        out.insert(
            "stop_grace_period".into(),
            json!(seconds(service.stop_grace_seconds)),
        );
        out.insert("restart".into(), json!("unless-stopped"));
        let mut limits = serde_json::Map::new();
        if let Some(memory) = service.memory_mb {
            limits.insert("memory".into(), json!(format!("{memory}M")));
        }
        if let Some(cpus) = service.cpus {
            limits.insert("cpus".into(), json!(format!("{cpus}")));
        }
        if !limits.is_empty() {
            out.insert(
                "deploy".into(),
                json!({ "resources": { "limits": limits } }),
            );
        }
        let mut mounted = Vec::new();
        for (i, (target, content)) in service.files.iter().enumerate() {
            let config = format!("{name}-{i}");
            let file = format!("files/{config}");
            configs.insert(config.clone(), json!({ "file": format!("./{file}") }));
            mounted.push(json!({ "source": config, "target": target }));
            files.push((file, content.clone()));
        }
        if !mounted.is_empty() {
            out.insert("configs".into(), Value::Array(mounted));
        }
        services.insert(name.clone(), Value::Object(out));
    }
    let volumes: serde_json::Map<String, Value> = spec
        .volumes
        .iter()
        .map(|v| (v.clone(), json!({ "name": spec.volume_name(v) })))
        .collect();
    let mut document = json!({
        "version": "3.8",
        "services": services,
        "networks": { "default": { "name": spec.network() } },
    });
    if !volumes.is_empty() {
        document["volumes"] = Value::Object(volumes);
    }
    if !configs.is_empty() {
        document["configs"] = Value::Object(configs);
    }
    (escaped(document), files)
}

/// Compose reads `$NAME` in values as a variable to substitute; a literal `$` is `$$`.
fn escaped(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(text.replace('$', "$$")),
        Value::Array(items) => Value::Array(items.into_iter().map(escaped).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, escaped(v))).collect())
        }
        other => other,
    }
}

/// Writes `docker-compose.yml` and its config files into `dir` (files 0600: they may hold
/// secrets).
pub(crate) fn write(spec: &StackSpec, dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let (document, files) = compose(spec);
    let write = |path: &Path, text: &str| -> anyhow::Result<()> {
        use std::io::Write as _;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .with_context(|| format!("writing {}", path.display()))
    };
    write(
        &dir.join("docker-compose.yml"),
        &yaml_serde::to_string(&document)?,
    )?;
    for (file, content) in files {
        write(&dir.join(file), &content)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::spec::StackSpec;
    use crate::docker::template::tests::values;
    use crate::docker::template::{BUILT_IN, OPS_INSTANCE, render};

    #[test]
    fn the_production_stack_is_a_valid_compose_file() {
        let spec = render(BUILT_IN, "templates/stack.yaml", &values()).unwrap();
        check_with_compose(&spec);
        // Every file a service gets is there for Compose too.
        let (document, files) = compose(&spec);
        assert_eq!(
            files.len(),
            spec.services.values().map(|s| s.files.len()).sum::<usize>()
        );
        assert_eq!(document["networks"]["default"]["name"], "demo");
        assert_eq!(
            document["services"]["api"]["deploy"]["resources"]["limits"]["memory"],
            "512M"
        );
    }

    #[test]
    fn the_ecs_stack_s_ops_instance_is_a_valid_compose_file() {
        let spec = render(OPS_INSTANCE, "templates/monitoring.yaml", &values()).unwrap();
        check_with_compose(&spec);
    }

    /// `docker-compose config` accepts `spec` as Compose and lists its services.
    fn check_with_compose(spec: &StackSpec) {
        let dir = tempfile::tempdir().unwrap();
        write(spec, dir.path()).unwrap();
        let output = std::process::Command::new("docker-compose")
            .args(["--project-directory"])
            .arg(dir.path())
            .arg("-f")
            .arg(dir.path().join("docker-compose.yml"))
            .args(["config", "--services"])
            .output()
            .unwrap_or_else(|e| {
                panic!("docker-compose cannot run ({e}): scripts/test installs it (apt-get install docker-compose)")
            });
        assert!(
            output.status.success(),
            "docker-compose config refused the rendered stack: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut listed: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        listed.sort();
        let expected: Vec<String> = spec.services.keys().cloned().collect();
        assert_eq!(listed, expected);
    }
}
