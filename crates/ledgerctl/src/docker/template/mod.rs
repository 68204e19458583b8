//! The stack template (`templates/stack.yaml`; on an ECS stack the ops instance's
//! `templates/monitoring.yaml`; or the stack file's `deploy.template`): a Jinja template rendered
//! with the stack's values into the stack spec the engine reconciles. Every
//! value a template names must exist (a typo is an error, never an empty string); strings go in
//! through the `yaml` filter, which quotes them so no value can change the document's structure.
//! The rendered text holds secrets: it is parsed in memory and never written or printed.
//!
//! Over 500 lines for its tests (the built-in template's promises: routes, proxies, metadata).

use std::collections::BTreeMap;

use anyhow::Context as _;
use minijinja::{Environment, UndefinedBehavior, Value};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;

use super::spec::StackSpec;

/// The built-in production template.
pub(crate) const BUILT_IN: &str = include_str!("../../../../../templates/stack.yaml");

/// The built-in template of an ECS stack's ops instance: the monitoring alone.
pub(crate) const OPS_INSTANCE: &str = include_str!("../../../../../templates/monitoring.yaml");

/// Templates a template can include, by name: the ops instance's Prometheus configuration, which
/// names the stack's API tasks.
const INCLUDED: &[(&str, &str)] = &[(
    "monitoring/prometheus/ecs.yml",
    include_str!("../../../../../monitoring/prometheus/ecs.yml"),
)];

/// The monitoring configuration a template places in containers (`monitoring[<path>]`), by its
/// path under monitoring/.
const MONITORING: &[(&str, &str)] = &[
    (
        "prometheus/prometheus.yml",
        include_str!("../../../../../monitoring/prometheus/prometheus.yml"),
    ),
    (
        "prometheus/alerts.yml",
        include_str!("../../../../../monitoring/prometheus/alerts.yml"),
    ),
    (
        "grafana/provisioning/datasources/prometheus.yml",
        include_str!("../../../../../monitoring/grafana/provisioning/datasources/prometheus.yml"),
    ),
    (
        "grafana/provisioning/dashboards/ledgerly.yml",
        include_str!("../../../../../monitoring/grafana/provisioning/dashboards/ledgerly.yml"),
    ),
    (
        "grafana/dashboards/api.json",
        include_str!("../../../../../monitoring/grafana/dashboards/api.json"),
    ),
    (
        "grafana/dashboards/ocr.json",
        include_str!("../../../../../monitoring/grafana/dashboards/ocr.json"),
    ),
    (
        "grafana/dashboards/host.json",
        include_str!("../../../../../monitoring/grafana/dashboards/host.json"),
    ),
    (
        "grafana/dashboards/containers.json",
        include_str!("../../../../../monitoring/grafana/dashboards/containers.json"),
    ),
    (
        "goaccess/alb-report.sh",
        include_str!("../../../../../monitoring/goaccess/alb-report.sh"),
    ),
];

/// monitoring/'s files, for [`Values::monitoring`].
pub(crate) fn monitoring() -> BTreeMap<String, String> {
    MONITORING
        .iter()
        .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
        .collect()
}

/// The stack network on the instance. Fixed rather than a setting: the host's instance-metadata
/// rule, set at boot from user-data, names the API's block of it.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct NetworkPlan {
    pub(crate) subnet: &'static str,
    /// What the engine hands out (every container but the API's).
    pub(crate) ip_range: &'static str,
    /// The API's containers' block: the only addresses that reach the instance metadata.
    pub(crate) metadata_range: &'static str,
    /// The instance metadata service.
    pub(crate) metadata_address: &'static str,
}

/// Clear of Docker's own pools (172.17/16 up) and of the default VPC (172.31/16).
pub(crate) const NETWORK: NetworkPlan = NetworkPlan {
    subnet: "172.30.0.0/24",
    ip_range: "172.30.0.128/25",
    metadata_range: "172.30.0.16/28",
    metadata_address: "169.254.169.254",
};

/// What a template can use (docs/deploy.md lists them).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Values {
    pub(crate) stack: String,
    pub(crate) domain: String,
    pub(crate) acme_email: String,
    pub(crate) region: String,
    /// The release: the API image's tag.
    pub(crate) version: String,
    /// `api`, `ocr`: references by digest.
    pub(crate) images: BTreeMap<String, String>,
    pub(crate) database: Database,
    pub(crate) bucket: String,
    /// Whether the proxy routes the API's documentation publicly (`deploy.public_api_docs`).
    pub(crate) public_api_docs: bool,
    /// `ocr_callback`, `grafana_admin`, `database_app`.
    #[serde(serialize_with = "expose_all")]
    pub(crate) secrets: BTreeMap<String, SecretString>,
    /// monitoring/'s files by path (`prometheus/prometheus.yml`, `grafana/dashboards/api.json`…).
    pub(crate) monitoring: BTreeMap<String, String>,
    /// The DNS name of the API's tasks on an ECS stack, one A record per healthy task:
    /// `<stack>-api.ledgerly.internal`.
    pub(crate) api_tasks: String,
    /// Where an ECS stack's load balancer writes its access logs:
    /// `s3://<log bucket>/<prefix>/AWSLogs/<account>/elasticloadbalancing/<region>/`.
    pub(crate) access_logs: String,
    /// The stack network's addresses ([`NETWORK`]).
    pub(crate) network: NetworkPlan,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Database {
    /// The API's: the application role, which reads and writes rows and cannot change the
    /// schema, over TLS verified against the RDS certificate authorities:
    /// `postgres://ledgerly_app:<password>@<host>:<port>/ledgerly?sslmode=verify-full&sslrootcert=<ca_file>`.
    #[serde(serialize_with = "expose")]
    pub(crate) url: SecretString,
    /// The same with the master user's credentials: for the migration step alone.
    #[serde(serialize_with = "expose")]
    pub(crate) master_url: SecretString,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) name: String,
    /// The application role.
    pub(crate) user: String,
    pub(crate) master_user: String,
    /// Where the URLs expect the certificate bundle inside a container.
    pub(crate) ca_file: String,
    /// The bundle (PEM), to be written there.
    pub(crate) ca_bundle: String,
}

/// A secret as the template sees it: the rendered text is the one place secrets are written out.
fn expose<S: serde::Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

fn expose_all<S: serde::Serializer>(
    secrets: &BTreeMap<String, SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(secrets.iter().map(|(k, v)| (k, v.expose_secret())))
}

/// A string as a double-quoted YAML scalar (JSON's quoting is YAML's).
fn yaml(value: Value) -> Result<String, minijinja::Error> {
    let text = match value.as_str() {
        Some(text) => text.to_owned(),
        None => value.to_string(),
    };
    serde_json::to_string(&text)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
}

/// Renders `template` (from `origin`, for messages) with `values` and checks the result.
pub(crate) fn render(template: &str, origin: &str, values: &Values) -> anyhow::Result<StackSpec> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_filter("yaml", yaml);
    for (name, text) in INCLUDED {
        env.add_template(name, text)
            .with_context(|| format!("the built-in template {name} is not a valid template"))?;
    }
    env.add_template("stack", template)
        .with_context(|| format!("the stack template {origin} is not a valid template"))?;
    let text = env
        .get_template("stack")
        .and_then(|t| t.render(values))
        .map_err(|e| anyhow::anyhow!("rendering the stack template {origin}: {e:#}"))?;
    StackSpec::parse(&text, &format!("the stack rendered from {origin}"))
}

#[cfg(test)]
mod ops_instance_tests;
#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn values() -> Values {
        Values {
            stack: "demo".into(),
            domain: "ledgerly.example.com".into(),
            acme_email: "ops@example.com".into(),
            region: "eu-west-1".into(),
            version: "abc123".into(),
            images: BTreeMap::from([
                ("api".into(), "registry.example/demo-api@sha256:aa".into()),
                ("ocr".into(), "registry.example/demo-ocr@sha256:bb".into()),
            ]),
            database: Database {
                url: "postgres://ledgerly_app:p\"w: x@db.example:5432/ledgerly?sslmode=verify-full&sslrootcert=/etc/ledgerly/rds-ca.pem".into(),
                master_url: "postgres://ledgerly:m\"w: y@db.example:5432/ledgerly?sslmode=verify-full&sslrootcert=/etc/ledgerly/rds-ca.pem".into(),
                host: "db.example".into(),
                port: 5432,
                name: "ledgerly".into(),
                user: "ledgerly_app".into(),
                master_user: "ledgerly".into(),
                ca_file: "/etc/ledgerly/rds-ca.pem".into(),
                ca_bundle: crate::aws::rds_ca::tests::sample(),
            },
            bucket: "demo-receipts".into(),
            public_api_docs: false,
            secrets: BTreeMap::from([
                ("ocr_callback".into(), "s".repeat(40).into()),
                ("grafana_admin".into(), "g".repeat(32).into()),
                ("database_app".into(), "a".repeat(48).into()),
            ]),
            monitoring: monitoring(),
            api_tasks: "demo-api.ledgerly.internal".into(),
            access_logs:
                "s3://demo-alb-logs-123456789012/api/AWSLogs/123456789012/elasticloadbalancing/eu-west-1/"
                    .into(),
            network: NETWORK,
        }
    }

    #[test]
    fn the_built_in_template_renders_a_valid_stack() {
        let spec = render(BUILT_IN, "templates/stack.yaml", &values()).unwrap();
        assert_eq!(spec.stack, "demo");
        let api = &spec.services["api"];
        assert_eq!(api.image, "registry.example/demo-api@sha256:aa");
        assert!(api.rolling, "the API is replaced with no downtime");
        assert_eq!(
            api.env["LEDGERLY__DATABASE__URL"],
            values().database.url.expose_secret(),
            "quoting keeps the value whole"
        );
        assert!(api.health.is_some());
        // The API connects as the application role and leaves the schema to the migration
        // step, which alone has the master credentials; both verify the server against the
        // bundle written into the container.
        assert_eq!(api.env["LEDGERLY__DATABASE__MIGRATE"], "false");
        // Links in emails go to the stack's domain; registration is left at its default, by
        // invitation (`ledgerctl invite` makes the first).
        assert_eq!(
            api.env["LEDGERLY__SERVER__PUBLIC_URL"],
            "https://ledgerly.example.com"
        );
        assert!(!api.env.contains_key("LEDGERLY__AUTH__REGISTRATION"));
        assert!(
            !api.env.values().any(|v| v.contains("m\"w: y")),
            "the master password is the migration step's alone"
        );
        assert!(!api.env.contains_key("LEDGERLY_APP_ROLE_PASSWORD"));
        assert_eq!(
            api.files["/etc/ledgerly/rds-ca.pem"],
            crate::aws::rds_ca::tests::sample()
        );
        let migrate = spec.migrate.as_ref().unwrap();
        assert_eq!(migrate.service, "api");
        assert_eq!(migrate.command, ["migrate", "--app-role", "ledgerly_app"]);
        assert_eq!(
            migrate.env["LEDGERLY__DATABASE__URL"],
            values().database.master_url.expose_secret()
        );
        assert_eq!(migrate.env["LEDGERLY_APP_ROLE_PASSWORD"], "a".repeat(48));
        // The API is reached through the proxy only.
        assert!(api.ports.is_empty());
        // The monitoring UIs on the instance's loopback only, where `ledgerctl tunnel` expects
        // them; the proxy alone on public ports.
        let published: BTreeMap<&str, Vec<&str>> = spec
            .services
            .iter()
            .map(|(name, s)| (name.as_str(), s.ports.iter().map(String::as_str).collect()))
            .filter(|(_, ports): &(&str, Vec<&str>)| !ports.is_empty())
            .collect();
        assert_eq!(
            published,
            BTreeMap::from([
                ("goaccess-web", vec!["127.0.0.1:7890:7890"]),
                ("grafana", vec!["127.0.0.1:3000:3000"]),
                ("prometheus", vec!["127.0.0.1:9090:9090"]),
                (
                    "traefik",
                    vec!["0.0.0.0:80:80", "0.0.0.0:443:443", "127.0.0.1:8081:8081"]
                ),
            ])
        );
        // Prometheus and Grafana get monitoring/'s files as they are.
        let prometheus = &spec.services["prometheus"];
        assert_eq!(
            prometheus.files["/etc/prometheus/alerts.yml"],
            monitoring()["prometheus/alerts.yml"]
        );
        let grafana = &spec.services["grafana"];
        assert_eq!(grafana.env["GF_SECURITY_ADMIN_PASSWORD"], "g".repeat(32));
        assert_eq!(
            grafana
                .files
                .keys()
                .filter(|p| p.starts_with("/etc/grafana/dashboards/"))
                .count(),
            4
        );
        for service in ["node-exporter", "cadvisor"] {
            assert!(spec.services.contains_key(service), "{service}");
        }
        // Every service has a memory limit.
        for (name, service) in &spec.services {
            assert!(service.memory_mb.is_some(), "{name} has no memory limit");
        }
    }

    /// Every path the app serves, with `{id}` filled in: the API's (from its OpenAPI document)
    /// and the dashboard's pages.
    fn app_paths() -> Vec<String> {
        let settings = ledgerly_api::settings::Settings::load(
            None,
            [("LEDGERLY__OCR__CALLBACK_SECRET".to_owned(), "c".repeat(40))],
        )
        .unwrap();
        let (_, document) = ledgerly_api::startup::api(&settings);
        // The pages as the app routes them: a page added there and not to the template fails here.
        let pages = ledgerly_api::web::page_paths();
        document
            .paths
            .paths
            .keys()
            .map(String::as_str)
            .chain(pages)
            .map(|p| p.replace("{id}", "7"))
            .collect()
    }

    #[test]
    fn the_proxy_routes_the_app_s_own_paths_and_nothing_operational() {
        use crate::docker::tests::traefik_rule::Rule;
        let private = [
            "/metrics",
            "/readyz",
            "/healthz",
            "/api/docs",
            "/api/docs/",
            "/api/docs/index.html",
            "/api/v1/openapi.json",
            "/panics",
            "/.env",
            "/server-status",
        ];
        for public_api_docs in [false, true] {
            let mut values = values();
            values.public_api_docs = public_api_docs;
            let spec = render(BUILT_IN, "templates/stack.yaml", &values).unwrap();
            let labels = &spec.services["api"].labels;
            // Every router and its entry points; only `websecure` (443) is public.
            let routers: BTreeMap<&str, &str> = labels
                .iter()
                .filter_map(|(k, v)| {
                    let router = k.strip_prefix("traefik.http.routers.")?;
                    Some((router.strip_suffix(".entryPoints")?, v.as_str()))
                })
                .collect();
            assert_eq!(
                routers,
                BTreeMap::from([("api", "websecure"), ("api-internal", "internal")])
            );
            assert_eq!(
                labels["traefik.http.routers.api-internal.rule"],
                "PathPrefix(`/`)"
            );
            let rule = Rule::parse(&labels["traefik.http.routers.api.rule"]).unwrap();
            let host = "ledgerly.example.com";
            let paths = app_paths();
            assert!(paths.len() > 30, "{paths:?}");
            for path in &paths {
                let operational = private.contains(&path.as_str());
                assert_eq!(
                    rule.matches(host, path),
                    !operational,
                    "{path} (public_api_docs: {public_api_docs})"
                );
                assert!(!rule.matches("other.example", path), "{path}");
            }
            for path in private {
                let docs = path.starts_with("/api/docs") || path == "/api/v1/openapi.json";
                assert_eq!(
                    rule.matches(host, path),
                    public_api_docs && docs,
                    "{path} (public_api_docs: {public_api_docs})"
                );
            }
        }
        // The proxy's own ping and metrics, on an entrypoint no port publishes.
        let spec = render(BUILT_IN, "templates/stack.yaml", &values()).unwrap();
        let traefik = &spec.services["traefik"];
        assert!(
            traefik
                .command
                .contains(&"--entryPoints.metrics.address=:8082".to_owned())
        );
        assert!(traefik.ports.iter().all(|p| !p.ends_with(":8082")));
        // The internal entry point, on the instance's loopback only.
        assert!(
            traefik
                .command
                .contains(&"--entryPoints.internal.address=:8081".to_owned())
        );
        assert_eq!(
            traefik
                .ports
                .iter()
                .filter(|p| p.ends_with(":8081"))
                .collect::<Vec<_>>(),
            ["127.0.0.1:8081:8081"]
        );
        assert!(
            !traefik.command.iter().any(|c| c.starts_with("--api")),
            "no dashboard"
        );
    }

    #[test]
    fn the_docker_api_is_reached_through_read_only_proxies_alone() {
        let spec = render(BUILT_IN, "templates/stack.yaml", &values()).unwrap();
        // Which reads each proxy allows (the image refuses what is not set to 1); POST=0
        // refuses every write.
        let proxies = [
            (
                "docker-api-traefik",
                "traefik",
                vec!["CONTAINERS", "EVENTS", "PING", "VERSION"],
            ),
            (
                "docker-api-cadvisor",
                "cadvisor",
                vec!["CONTAINERS", "INFO", "PING", "VERSION"],
            ),
        ];
        for (proxy, client, reads) in &proxies {
            let service = &spec.services[*proxy];
            assert!(
                service
                    .image
                    .starts_with("ghcr.io/tecnativa/docker-socket-proxy:")
            );
            assert_eq!(service.env["POST"], "0", "{proxy}");
            let allowed: Vec<&str> = service
                .env
                .iter()
                .filter(|(k, v)| *v == "1" && k.as_str() != "DISABLE_IPV6")
                .map(|(k, _)| k.as_str())
                .collect();
            assert_eq!(&allowed, reads, "{proxy}");
            assert_eq!(
                service.volumes,
                ["/var/run/docker.sock:/var/run/docker.sock:ro"]
            );
            // Its network has no way out and no one else on it.
            assert_eq!(service.networks, [*proxy]);
            assert!(spec.networks[*proxy].internal, "{proxy}");
            let on_it: Vec<&str> = spec
                .services
                .iter()
                .filter(|(_, s)| s.networks().iter().any(|n| n == proxy))
                .map(|(name, _)| name.as_str())
                .collect();
            let mut expected = vec![*client, *proxy];
            expected.sort_unstable();
            assert_eq!(on_it, expected);
            // The client reaches the engine through it, by name.
            let endpoint = format!("tcp://{proxy}:2375");
            assert!(
                spec.services[*client]
                    .command
                    .iter()
                    .any(|c| c.ends_with(&format!("={endpoint}"))),
                "{client} does not use {endpoint}"
            );
        }
        // No other service reaches the socket: no mount of it, of the folders it is in, or of
        // the host's root without its /run hidden.
        for (name, service) in &spec.services {
            if proxies.iter().any(|(proxy, ..)| proxy == name) {
                continue;
            }
            for mount in &service.volumes {
                let (source, rest) = mount.split_once(':').unwrap();
                let target = rest.split(':').next().unwrap();
                assert!(
                    ![
                        "/var/run/docker.sock",
                        "/run/docker.sock",
                        "/var/run",
                        "/run",
                        "/var"
                    ]
                    .contains(&source),
                    "{name} mounts {mount}"
                );
                if source == "/" {
                    assert!(
                        service.masked.contains(&format!("{target}/run")),
                        "{name} mounts the host's root without hiding its /run"
                    );
                }
            }
        }
    }

    #[test]
    fn the_instance_metadata_is_for_the_api_s_addresses_alone() {
        let spec = render(BUILT_IN, "templates/stack.yaml", &values()).unwrap();
        let addresses = spec.network.as_ref().unwrap();
        assert_eq!(addresses.subnet, NETWORK.subnet);
        assert_eq!(addresses.ip_range, NETWORK.ip_range);
        // The API alone takes its addresses from the block the host's rule lets through (the
        // same block user-data gives the rule: aws::instance's tests).
        let reserved: Vec<(&str, Option<&str>)> = spec
            .services
            .iter()
            .filter(|(_, s)| s.address_range.is_some())
            .map(|(name, s)| (name.as_str(), s.address_range.as_deref()))
            .collect();
        assert_eq!(reserved, [("api", Some(NETWORK.metadata_range))]);
        // Deploy checks from an ordinary address that the metadata is out of reach.
        let check = &spec.unreachable["instance-metadata"];
        assert!(
            check.probe.join(" ").contains(NETWORK.metadata_address),
            "{:?}",
            check.probe
        );
        assert!(spec.services[&check.from].image.starts_with("busybox:"));
        assert!(spec.services[&check.from].address_range.is_none());
        assert!(check.help.contains("ledgerly-metadata-guard"));
    }

    #[test]
    fn a_value_the_template_does_not_have_is_an_error() {
        let err = render(
            "stack: {{ stack }}\nservices:\n  web:\n    image: {{ images.web }}\n",
            "t.yaml",
            &values(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("t.yaml"), "{err:#}");
    }

    #[test]
    fn a_quoted_value_cannot_change_the_structure() {
        let mut hostile = values();
        hostile.domain = "x\nservices: {}".into();
        let spec = render(
            "stack: {{ stack }}\nservices:\n  web:\n    image: busybox\n    env: {DOMAIN: {{ domain | yaml }}}\n",
            "t.yaml",
            &hostile,
        )
        .unwrap();
        assert_eq!(spec.services["web"].env["DOMAIN"], "x\nservices: {}");
    }
}
