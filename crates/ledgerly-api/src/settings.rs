//! Settings: a TOML file, overridden by `LEDGERLY__SECTION__KEY` environment variables
//! (`LEDGERLY__DATABASE__URL=postgres://…`). Invalid settings stop start-up with a message
//! naming each of them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::Path;

pub use ledgerly_store::objects::StorageBackend;
use ledgerly_store::objects::StorageLocation;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// Everything the server needs to start.
/// `Serialize` is there to learn each setting's type (an environment override takes the type of
/// the setting it overrides); secrets serialize as empty strings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub limits: LimitSettings,
    pub storage: StorageSettings,
    pub ocr: OcrSettings,
    pub rates: RateSettings,
    pub smtp: SmtpSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// The address to listen on.
    pub bind: IpAddr,
    /// The port; 0 picks a free one.
    pub port: u16,
    /// Take the client's address from the last `X-Forwarded-For` hop, as set by the reverse
    /// proxy in front. Only turn on behind a proxy, or clients can claim any address.
    pub trust_forwarded_for: bool,
    /// On SIGTERM, answer `/readyz` with 503 and keep serving for this many seconds before
    /// closing the listener, so a proxy health-checking `/readyz` stops sending new requests
    /// first (a zero-downtime replacement). 0: close at once.
    pub drain_seconds: u32,
    /// How often the OCR job counts `/metrics` shows are refreshed, in seconds: counted in the
    /// background, never per scrape.
    pub metrics_refresh_seconds: NonZeroU32,
    /// The address people reach the server at (`https://ledgerly.example.com`): what links in
    /// emails start with. Required with `smtp.host`; never taken from a request's `Host`.
    pub public_url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/ledgerly.db` or `postgres://user:password@host/db`.
    #[serde(serialize_with = "redacted")]
    pub url: SecretString,
    pub max_connections: NonZeroU32,
    /// How long a request waits for a database connection (the database restarting, or every
    /// connection busy) before it is answered 503 with `Retry-After`, in seconds.
    pub acquire_timeout_seconds: NonZeroU32,
    /// Apply pending migrations at start. Turn off when the API connects as the application role
    /// (`ledgerly-api migrate --app-role`), which may not change the schema: it then checks the
    /// schema is current and refuses to start if not.
    pub migrate: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// How long a login lasts.
    pub session_hours: NonZeroU32,
    /// A login unused for this many hours ends before its lifetime is up; 0 turns this off.
    pub idle_hours: u32,
    /// Mark the session cookie `Secure` (sent over HTTPS only). On whenever TLS is in front.
    pub cookie_secure: bool,
    /// Login attempts allowed from one client address per window.
    pub login_attempts_per_ip: NonZeroU32,
    /// Failed logins allowed for one account per window.
    pub failed_logins_per_account: NonZeroU32,
    /// The rate-limit window, in seconds.
    pub rate_limit_window_seconds: NonZeroU32,
    /// Who may make an account.
    pub registration: Registration,
}

/// Who may make an account. Whatever the setting, the instance's first account is its
/// administrator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Registration {
    /// Anyone who reaches the server (`ledgerctl up` runs so).
    Open,
    /// Only with an invite an administrator (or the operator's `ledgerly-api invite`) made.
    #[default]
    Invite,
    /// Nobody: no account is made, and no invite either.
    Closed,
}

impl Registration {
    pub fn as_str(self) -> &'static str {
        match self {
            Registration::Open => "open",
            Registration::Invite => "invite",
            Registration::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// The largest JSON body accepted, in bytes.
    pub max_json_bytes: usize,
    /// The longest a request may take, in seconds.
    pub request_timeout_seconds: NonZeroU64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    pub backend: StorageBackend,
    /// The folder for `local`.
    pub path: std::path::PathBuf,
    /// The bucket for `s3`.
    pub bucket: String,
    /// The bucket's region; empty uses the AWS configuration's.
    pub region: String,
    /// An S3-compatible endpoint (the AWS emulator, MinIO); empty for AWS itself.
    pub endpoint: String,
    /// How long a presigned image URL works, in seconds.
    pub presign_seconds: u64,
    /// The largest receipt accepted, in bytes (10 MB).
    pub max_upload_bytes: NonZeroUsize,
}

/// How receipts reach OCR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OcrDispatch {
    /// Uploads queue a job in the database; a worker claims it (in-process in `ledgerctl up`,
    /// or `ledgerly-ocr worker`).
    #[default]
    Queue,
    /// The bucket's object-created event invokes the OCR Lambda, which posts the result to
    /// `POST /internal/ocr-results`.
    S3Events,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OcrSettings {
    pub dispatch: OcrDispatch,
    /// Attempts per receipt before OCR gives up.
    pub max_attempts: NonZeroU32,
    /// The shared secret the OCR results endpoint checks signatures with (HMAC-SHA256).
    /// Required with `s3-events`; never logged.
    #[serde(serialize_with = "redacted")]
    pub callback_secret: SecretString,
    /// How old a signed result may be, in seconds, before it is refused as stale.
    pub callback_max_age_seconds: NonZeroU64,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Local,
            path: "receipts".into(),
            bucket: String::new(),
            region: String::new(),
            endpoint: String::new(),
            presign_seconds: 300,
            max_upload_bytes: const { NonZeroUsize::new(10 * 1000 * 1000).unwrap() },
        }
    }
}

impl StorageSettings {
    /// Where the files are, for the storage itself.
    pub fn location(&self) -> StorageLocation {
        StorageLocation {
            backend: self.backend,
            path: self.path.clone(),
            bucket: self.bucket.clone(),
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateSettings {
    /// The European Central Bank's euro reference rates document: the daily one, or the 90-day
    /// one (`eurofxref-hist-90d.xml`) to fill a gap. Fetched only while some user converts with
    /// the ECB's rates; empty turns fetching off.
    pub ecb_url: String,
    /// How often the ECB's rates are fetched, in hours (the ECB publishes once a working day,
    /// around 16:00 CET); a failed fetch is tried again after as long.
    pub ecb_refresh_hours: NonZeroU32,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmtpSecurity {
    /// Plain first, then TLS required (`STARTTLS`; usually port 587).
    #[default]
    Starttls,
    /// TLS from the start (usually port 465).
    Tls,
    /// None at all: only for a relay on the same host or network (and the tests).
    None,
}

/// The SMTP server password reset emails go through. No `host`: no email is sent, and an
/// administrator resets passwords instead.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Empty: no authentication.
    pub username: String,
    #[serde(serialize_with = "redacted")]
    pub password: SecretString,
    /// Who the emails are from: `Ledgerly <ledgerly@example.com>` or a bare address.
    pub from: String,
    /// The longest a connection or a reply may take, in seconds.
    pub timeout_seconds: NonZeroU64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            security: SmtpSecurity::Starttls,
            username: String::new(),
            password: SecretString::default(),
            from: String::new(),
            timeout_seconds: const { NonZeroU64::new(10).unwrap() },
        }
    }
}

impl Default for RateSettings {
    fn default() -> Self {
        Self {
            ecb_url: "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml".to_owned(),
            ecb_refresh_hours: const { NonZeroU32::new(6).unwrap() },
        }
    }
}

impl Default for OcrSettings {
    fn default() -> Self {
        Self {
            dispatch: OcrDispatch::Queue,
            max_attempts: const { NonZeroU32::new(5).unwrap() },
            callback_secret: SecretString::default(),
            callback_max_age_seconds: const { NonZeroU64::new(300).unwrap() },
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            trust_forwarded_for: false,
            drain_seconds: 0,
            metrics_refresh_seconds: const { NonZeroU32::new(15).unwrap() },
            public_url: String::new(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://ledgerly.db".into(),
            max_connections: const { NonZeroU32::new(10).unwrap() },
            acquire_timeout_seconds: const { NonZeroU32::new(10).unwrap() },
            migrate: true,
        }
    }
}

impl AuthSettings {
    /// How long a session may go unused, if there is a limit.
    pub fn idle_limit(&self) -> Option<chrono::Duration> {
        (self.idle_hours > 0).then(|| chrono::Duration::hours(i64::from(self.idle_hours)))
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            session_hours: const { NonZeroU32::new(24 * 30).unwrap() },
            idle_hours: 24 * 7,
            cookie_secure: false,
            login_attempts_per_ip: const { NonZeroU32::new(20).unwrap() },
            failed_logins_per_account: const { NonZeroU32::new(5).unwrap() },
            rate_limit_window_seconds: const { NonZeroU32::new(15 * 60).unwrap() },
            registration: Registration::Invite,
        }
    }
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_json_bytes: 1024 * 1024,
            request_timeout_seconds: const { NonZeroU64::new(30).unwrap() },
        }
    }
}

/// Settings that stop start-up.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Invalid settings from `origin` (the file, a variable or "settings"); several problems
    /// are listed one per line.
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

const ENV_PREFIX: &str = "LEDGERLY__";

/// Sections of `LEDGERLY__…` variables that other parts read (the OCR engine and worker, which
/// `ledgerctl up` runs in the same process): the server leaves them alone.
const OTHER_PARTS: &[&str] = &["extractor", "worker"];

/// A secret written out: nothing. [`Settings`] serialize only to learn their types.
fn redacted<S: Serializer>(_: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str("")
}

impl Settings {
    /// Reads `path` (if given) and applies the `LEDGERLY__…` variables of `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        Self::load_over(toml::Table::new(), path, env)
    }

    /// [`Settings::load`] over `base`: settings (by section) that stand in for the defaults,
    /// which the file and the environment override — `ledgerctl up`'s data folder.
    pub fn load_over(
        base: toml::Table,
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let (file, origin) = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                let table: toml::Table =
                    toml::from_str(&text).map_err(|e| SettingsError::Invalid {
                        origin: path.display().to_string(),
                        message: e.message().to_owned(),
                    })?;
                (table, path.display().to_string())
            }
            None => (toml::Table::new(), "settings".to_owned()),
        };
        let mut table = base;
        for (name, section) in file {
            match (table.get_mut(&name), section) {
                (Some(toml::Value::Table(under)), toml::Value::Table(over)) => under.extend(over),
                (_, section) => {
                    table.insert(name, section);
                }
            }
        }
        let defaults = toml::Table::try_from(Settings::default()).unwrap_or_default();
        // The variable behind each setting it set (`database.url`), to name it if refused.
        let mut variables = HashMap::new();
        for (key, value) in env {
            let Some(rest) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let parts: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
            if parts.len() != 2 || parts.iter().any(String::is_empty) {
                return Err(SettingsError::Invalid {
                    origin: key.clone(),
                    message: "environment overrides are named LEDGERLY__<SECTION>__<KEY>, e.g. LEDGERLY__DATABASE__URL".into(),
                });
            }
            if OTHER_PARTS.contains(&parts[0].as_str()) {
                continue;
            }
            let like = defaults
                .get(&parts[0])
                .and_then(|section| section.get(&parts[1]));
            let value = env_value(&value, like).map_err(|message| SettingsError::Invalid {
                origin: key.clone(),
                message,
            })?;
            let section = table
                .entry(parts[0].clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let Some(section) = section.as_table_mut() else {
                return Err(SettingsError::Invalid {
                    origin: key,
                    message: format!("`{}` is not a section", parts[0]),
                });
            };
            section.insert(parts[1].clone(), value);
            variables.insert(parts.join("."), key);
        }
        let settings: Settings = toml::Value::Table(table)
            .try_into()
            .map_err(|e| refused(&e, &origin, &variables))?;
        let problems = settings.problems();
        if !problems.is_empty() {
            return Err(SettingsError::Invalid {
                origin,
                message: listed(&problems),
            });
        }
        Ok(settings)
    }

    /// Reads `path` and the process environment.
    pub fn from_env(path: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::load(path, std::env::vars())
    }

    /// [`Settings::load_over`] with the process environment.
    pub fn from_env_over(
        base: toml::Table,
        path: Option<&Path>,
    ) -> Result<Settings, SettingsError> {
        Self::load_over(base, path, std::env::vars())
    }

    /// Every problem with the values, each naming its setting and the fix. (A 0 where a setting
    /// must be at least 1 is refused by its type, while reading.)
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mailer = crate::mail::Mailer::new(&self.smtp)
            .err()
            .map(|err| format!("smtp: {err:#}"));
        let mut check = |ok: bool, problem: &str| {
            if !ok {
                problems.push(problem.to_owned());
            }
        };
        let url = self.database.url.expose_secret();
        check(
            url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"),
            "database.url must start with sqlite:, postgres:// or postgresql://",
        );
        check(
            self.limits.max_json_bytes >= 1024,
            "limits.max_json_bytes must be at least 1024",
        );
        check(
            self.storage.backend != StorageBackend::S3 || !self.storage.bucket.trim().is_empty(),
            "storage.bucket is required when storage.backend = \"s3\"",
        );
        check(
            (1..=7 * 24 * 3600).contains(&self.storage.presign_seconds),
            "storage.presign_seconds must be between 1 and 604800 (7 days)",
        );
        let secret = self.ocr.callback_secret.expose_secret();
        if self.ocr.dispatch == OcrDispatch::S3Events {
            check(
                self.storage.backend == StorageBackend::S3,
                "ocr.dispatch = \"s3-events\" needs storage.backend = \"s3\"",
            );
            check(
                secret.len() >= 32,
                "ocr.callback_secret must be at least 32 characters with ocr.dispatch = \"s3-events\"; generate one with `openssl rand -hex 32`",
            );
        } else {
            check(
                secret.is_empty() || secret.len() >= 32,
                "ocr.callback_secret must be at least 32 characters; generate one with `openssl rand -hex 32`",
            );
        }
        let public_url = self.server.public_url.trim();
        check(
            public_url.is_empty()
                || ((public_url.starts_with("https://") || public_url.starts_with("http://"))
                    && !public_url.contains(char::is_whitespace)),
            "server.public_url must start with https:// or http:// (e.g. https://ledgerly.example.com)",
        );
        if !self.smtp.host.trim().is_empty() {
            check(
                !public_url.is_empty(),
                "server.public_url is required with smtp.host: the links in emails start with it",
            );
            check(
                crate::mail::mailbox(&self.smtp.from).is_ok(),
                "smtp.from must be an address, or a name and an address (Ledgerly <ledgerly@example.com>)",
            );
            if let Some(problem) = &mailer {
                check(false, problem);
            }
            check(self.smtp.port != 0, "smtp.port must not be 0");
        }
        check(
            self.smtp.username.is_empty() == self.smtp.password.expose_secret().is_empty(),
            "smtp.username and smtp.password go together: give both or neither",
        );
        let ecb_url = &self.rates.ecb_url;
        check(
            ecb_url.is_empty() || ecb_url.starts_with("https://") || ecb_url.starts_with("http://"),
            "rates.ecb_url must start with https:// or http://, or be empty to fetch nothing",
        );
        problems
    }
}

/// Problems as one message: one as it is, several one per line, as the stack file lists its.
fn listed(problems: &[String]) -> String {
    match problems {
        [one] => one.clone(),
        _ => format!(
            "{} problems:\n{}",
            problems.len(),
            problems
                .iter()
                .map(|p| format!("  - {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// A value the settings' types refuse (a 0 where at least 1 is needed, text for a number),
/// naming the setting and, when a variable set it, the variable: toml's message leaves the
/// setting out, its display ends with it (`` in `server.port` ``).
fn refused(
    e: &toml::de::Error,
    origin: &str,
    variables: &HashMap<String, String>,
) -> SettingsError {
    let message = e.message().trim_end();
    let shown = e.to_string();
    let setting = shown
        .lines()
        .next_back()
        .and_then(|line| line.strip_prefix("in `")?.strip_suffix('`'));
    match setting {
        Some(setting) => SettingsError::Invalid {
            origin: variables
                .get(setting)
                .map_or(origin, String::as_str)
                .to_owned(),
            message: format!("{setting}: {message}"),
        },
        None => SettingsError::Invalid {
            origin: origin.to_owned(),
            message: message.to_owned(),
        },
    }
}

/// An environment value as TOML, of the type of the setting it overrides (`like`):
/// `LEDGERLY__STORAGE__BUCKET=2024` is the bucket named `2024`, not a number. A key the settings
/// do not have stays text; loading then names it as unknown.
fn env_value(raw: &str, like: Option<&toml::Value>) -> Result<toml::Value, String> {
    let trimmed = raw.trim();
    match like {
        Some(toml::Value::Integer(_)) => trimmed
            .parse()
            .map(toml::Value::Integer)
            .map_err(|_| format!("must be a whole number, not `{raw}`")),
        Some(toml::Value::Float(_)) => trimmed
            .parse()
            .map(toml::Value::Float)
            .map_err(|_| format!("must be a number, not `{raw}`")),
        Some(toml::Value::Boolean(_)) => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(toml::Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("must be true or false, not `{raw}`")),
        },
        _ => Ok(toml::Value::String(raw.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_variables_override_the_file() {
        let dir = std::env::temp_dir().join(format!("ledgerly-settings-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ledgerly.toml");
        std::fs::write(
            &file,
            "[server]\nport = 9000\n[database]\nurl = \"sqlite://a.db\"\n",
        )
        .unwrap();
        let settings = Settings::load(
            Some(&file),
            env(&[
                ("LEDGERLY__DATABASE__URL", "postgres://app:pw@db/ledgerly"),
                ("LEDGERLY__AUTH__COOKIE_SECURE", "true"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.server.port, 9000);
        assert_eq!(
            settings.database.url.expose_secret(),
            "postgres://app:pw@db/ledgerly"
        );
        assert!(settings.auth.cookie_secure);
        assert!(
            !format!("{settings:?}").contains(":pw@"),
            "Debug hides the password"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_bad_setting_names_itself() {
        let err = Settings::load(None, env(&[("LEDGERLY__DATABASE__URL", "mysql://x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.url"), "{err}");
        let err = Settings::load(None, env(&[("LEDGERLY__SERVER__PORT", "eighty")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("LEDGERLY__SERVER__PORT") && err.contains("whole number"),
            "{err}"
        );
        let err = Settings::load(None, env(&[("LEDGERLY__SERVER__PROT", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("prot"), "{err}");
        let err = Settings::load(None, env(&[("LEDGERLY__PORT", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("LEDGERLY__<SECTION>__<KEY>"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = Settings::load(
            None,
            env(&[
                ("LEDGERLY__DATABASE__URL", "mysql://x"),
                ("LEDGERLY__LIMITS__MAX_JSON_BYTES", "10"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("settings: 2 problems:\n"), "{err}");
        assert!(
            err.contains(
                "\n  - database.url must start with sqlite:, postgres:// or postgresql://"
            ),
            "{err}"
        );
        assert!(
            err.contains("\n  - limits.max_json_bytes must be at least 1024"),
            "{err}"
        );
    }

    #[test]
    fn a_zero_where_at_least_1_is_needed_is_refused_naming_the_setting() {
        let dir = std::env::temp_dir().join(format!("ledgerly-settings-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ledgerly.toml");
        std::fs::write(&file, "[database]\nmax_connections = 0\n").unwrap();
        let err = Settings::load(Some(&file), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("{}: database.max_connections: ", file.display()))
                && err.contains("nonzero"),
            "{err}"
        );
        // A variable can set it right.
        let settings = Settings::load(
            Some(&file),
            env(&[("LEDGERLY__DATABASE__MAX_CONNECTIONS", "5")]),
        )
        .unwrap();
        assert_eq!(settings.database.max_connections.get(), 5);
        std::fs::remove_dir_all(dir).ok();
        for (variable, setting) in [
            ("LEDGERLY__OCR__MAX_ATTEMPTS", "ocr.max_attempts"),
            (
                "LEDGERLY__LIMITS__REQUEST_TIMEOUT_SECONDS",
                "limits.request_timeout_seconds",
            ),
            (
                "LEDGERLY__STORAGE__MAX_UPLOAD_BYTES",
                "storage.max_upload_bytes",
            ),
        ] {
            let err = Settings::load(None, env(&[(variable, "0")]))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("{variable}: {setting}: ")) && err.contains("nonzero"),
                "{err}"
            );
        }
    }

    #[test]
    fn an_override_takes_the_type_of_the_setting_it_overrides() {
        let settings = Settings::load(
            None,
            env(&[
                ("LEDGERLY__STORAGE__BUCKET", "2024"),
                ("LEDGERLY__STORAGE__REGION", "true"),
                ("LEDGERLY__AUTH__COOKIE_SECURE", "1"),
                ("LEDGERLY__SERVER__PORT", " 9001 "),
                (
                    "LEDGERLY__OCR__CALLBACK_SECRET",
                    "12345678901234567890123456789012",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(settings.storage.bucket, "2024");
        assert_eq!(settings.storage.region, "true");
        assert!(settings.auth.cookie_secure);
        assert_eq!(settings.server.port, 9001);
        assert_eq!(
            settings.ocr.callback_secret.expose_secret(),
            "12345678901234567890123456789012"
        );
        let err = Settings::load(None, env(&[("LEDGERLY__AUTH__COOKIE_SECURE", "maybe")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("LEDGERLY__AUTH__COOKIE_SECURE") && err.contains("true or false"),
            "{err}"
        );
    }

    #[test]
    fn the_ocr_parts_variables_are_left_to_them() {
        let settings = Settings::load(
            None,
            env(&[
                ("LEDGERLY__EXTRACTOR__BACKEND", "tesseract"),
                ("LEDGERLY__WORKER__CONCURRENCY", "2"),
            ]),
        );
        assert!(settings.is_ok(), "{settings:?}");
    }

    #[test]
    fn email_needs_a_sender_an_address_for_its_links_and_whole_credentials() {
        let err = Settings::load(
            None,
            env(&[
                ("LEDGERLY__SMTP__HOST", "smtp.example.com"),
                ("LEDGERLY__SMTP__FROM", "not an address"),
                ("LEDGERLY__SMTP__USERNAME", "ledgerly"),
            ]),
        )
        .unwrap_err()
        .to_string();
        for problem in [
            "server.public_url is required with smtp.host",
            "smtp.from must be an address",
            "smtp.username and smtp.password go together",
        ] {
            assert!(err.contains(problem), "{problem}: {err}");
        }
        let err = Settings::load(
            None,
            env(&[("LEDGERLY__SERVER__PUBLIC_URL", "ledgerly.example.com")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("server.public_url must start with https://"),
            "{err}"
        );
        let settings = Settings::load(
            None,
            env(&[
                ("LEDGERLY__SMTP__HOST", "smtp.example.com"),
                ("LEDGERLY__SMTP__SECURITY", "tls"),
                ("LEDGERLY__SMTP__PORT", "465"),
                ("LEDGERLY__SMTP__FROM", "Ledgerly <ledgerly@example.com>"),
                ("LEDGERLY__SMTP__USERNAME", "ledgerly"),
                ("LEDGERLY__SMTP__PASSWORD", "smtp-secret"),
                (
                    "LEDGERLY__SERVER__PUBLIC_URL",
                    "https://ledgerly.example.com",
                ),
                ("LEDGERLY__AUTH__REGISTRATION", "closed"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.smtp.security, SmtpSecurity::Tls);
        assert_eq!(settings.auth.registration, Registration::Closed);
        assert!(crate::mail::Mailer::new(&settings.smtp).unwrap().is_some());
        assert!(!format!("{settings:?}").contains("smtp-secret"));
        assert!(!toml::to_string(&settings).unwrap().contains("smtp-secret"));
        assert_eq!(Settings::default().auth.registration, Registration::Invite);
    }

    #[test]
    fn secrets_serialize_as_nothing() {
        let mut settings = Settings::default();
        settings.database.url = "postgres://app:hunter2@db/ledgerly".into();
        settings.ocr.callback_secret = "s".repeat(40).into();
        let written = toml::to_string(&settings).unwrap();
        assert!(
            !written.contains("hunter2") && !written.contains("sss"),
            "{written}"
        );
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("sss"),
            "{shown}"
        );
    }

    #[test]
    fn the_documented_settings_file_is_valid_and_shows_the_defaults() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/ledgerly.toml");
        let documented = Settings::load(Some(&file), env(&[])).unwrap();
        let defaults = Settings::default();
        assert_eq!(format!("{documented:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn a_missing_file_is_an_error_that_names_it() {
        let err = Settings::load(Some(Path::new("/nonexistent/ledgerly.toml")), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/ledgerly.toml"), "{err}");
    }
}
