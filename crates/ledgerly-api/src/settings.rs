//! Settings: a TOML file, overridden by `LEDGERLY__SECTION__KEY` environment variables
//! (`LEDGERLY__DATABASE__URL=postgres://…`). An invalid setting stops start-up with a message
//! naming it.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

pub use ledgerly_store::objects::StorageBackend;
use ledgerly_store::objects::StorageLocation;
use serde::Deserialize;

/// Everything the server needs to start.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub limits: LimitSettings,
    pub storage: StorageSettings,
    pub ocr: OcrSettings,
}

#[derive(Debug, Clone, Deserialize)]
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
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/ledgerly.db` or `postgres://user:password@host/db`.
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// How long a login lasts.
    pub session_hours: u32,
    /// Mark the session cookie `Secure` (sent over HTTPS only). On whenever TLS is in front.
    pub cookie_secure: bool,
    /// Login attempts allowed from one client address per window.
    pub login_attempts_per_ip: u32,
    /// Failed logins allowed for one account per window.
    pub failed_logins_per_account: u32,
    /// The rate-limit window, in seconds.
    pub rate_limit_window_seconds: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// The largest JSON body accepted, in bytes.
    pub max_json_bytes: usize,
    /// The longest a request may take, in seconds.
    pub request_timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
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
    pub max_upload_bytes: usize,
}

/// How receipts reach OCR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
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

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OcrSettings {
    pub dispatch: OcrDispatch,
    /// Attempts per receipt before OCR gives up.
    pub max_attempts: u32,
    /// The shared secret the OCR results endpoint checks signatures with (HMAC-SHA256).
    /// Required with `s3-events`; never logged.
    pub callback_secret: String,
    /// How old a signed result may be, in seconds, before it is refused as stale.
    pub callback_max_age_seconds: u64,
}

impl fmt::Debug for OcrSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OcrSettings")
            .field("dispatch", &self.dispatch)
            .field("max_attempts", &self.max_attempts)
            .field(
                "callback_secret",
                &if self.callback_secret.is_empty() {
                    "<unset>"
                } else {
                    "<redacted>"
                },
            )
            .field("callback_max_age_seconds", &self.callback_max_age_seconds)
            .finish()
    }
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
            max_upload_bytes: 10 * 1000 * 1000,
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

impl Default for OcrSettings {
    fn default() -> Self {
        Self {
            dispatch: OcrDispatch::Queue,
            max_attempts: 5,
            callback_secret: String::new(),
            callback_max_age_seconds: 300,
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
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://ledgerly.db".into(),
            max_connections: 10,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            session_hours: 24 * 30,
            cookie_secure: false,
            login_attempts_per_ip: 20,
            failed_logins_per_account: 5,
            rate_limit_window_seconds: 15 * 60,
        }
    }
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_json_bytes: 1024 * 1024,
            request_timeout_seconds: 30,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("server", &self.server)
            .field("database", &self.database)
            .field("auth", &self.auth)
            .field("limits", &self.limits)
            .field("storage", &self.storage)
            .field("ocr", &self.ocr)
            .finish()
    }
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password.
        let shown = ledgerly_store::redact_url(&self.url);
        f.debug_struct("DatabaseSettings")
            .field("url", &shown)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// A setting that stops start-up.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

const ENV_PREFIX: &str = "LEDGERLY__";

impl Settings {
    /// Reads `path` (if given) and applies the `LEDGERLY__…` variables of `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let (mut table, origin) = match path {
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
            let section = table
                .entry(parts[0].clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let Some(section) = section.as_table_mut() else {
                return Err(SettingsError::Invalid {
                    origin: key,
                    message: format!("`{}` is not a section", parts[0]),
                });
            };
            section.insert(parts[1].clone(), env_value(&value));
        }
        let settings: Settings =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| SettingsError::Invalid {
                    origin: origin.clone(),
                    message: e.message().to_owned(),
                })?;
        settings
            .validate()
            .map_err(|message| SettingsError::Invalid { origin, message })?;
        Ok(settings)
    }

    /// Reads `path` and the process environment.
    pub fn from_env(path: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::load(path, std::env::vars())
    }

    fn validate(&self) -> Result<(), String> {
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(
                "database.url must start with sqlite:, postgres:// or postgresql://".into(),
            );
        }
        if self.database.max_connections == 0 {
            return Err("database.max_connections must be at least 1".into());
        }
        if self.auth.session_hours == 0 {
            return Err("auth.session_hours must be at least 1".into());
        }
        if self.auth.login_attempts_per_ip == 0 || self.auth.failed_logins_per_account == 0 {
            return Err("auth login limits must be at least 1".into());
        }
        if self.auth.rate_limit_window_seconds == 0 {
            return Err("auth.rate_limit_window_seconds must be at least 1".into());
        }
        if self.limits.max_json_bytes < 1024 {
            return Err("limits.max_json_bytes must be at least 1024".into());
        }
        if self.limits.request_timeout_seconds == 0 {
            return Err("limits.request_timeout_seconds must be at least 1".into());
        }
        if self.storage.backend == StorageBackend::S3 && self.storage.bucket.trim().is_empty() {
            return Err("storage.bucket is required when storage.backend = \"s3\"".into());
        }
        if !(1..=7 * 24 * 3600).contains(&self.storage.presign_seconds) {
            return Err("storage.presign_seconds must be between 1 and 604800 (7 days)".into());
        }
        if self.storage.max_upload_bytes == 0 {
            return Err("storage.max_upload_bytes must be at least 1".into());
        }
        if self.ocr.max_attempts == 0 {
            return Err("ocr.max_attempts must be at least 1".into());
        }
        if self.ocr.dispatch == OcrDispatch::S3Events {
            if self.storage.backend != StorageBackend::S3 {
                return Err("ocr.dispatch = \"s3-events\" needs storage.backend = \"s3\"".into());
            }
            if self.ocr.callback_secret.len() < 32 {
                return Err("ocr.callback_secret must be at least 32 characters with ocr.dispatch = \"s3-events\"; generate one with `openssl rand -hex 32`".into());
            }
        }
        if !self.ocr.callback_secret.is_empty() && self.ocr.callback_secret.len() < 32 {
            return Err("ocr.callback_secret must be at least 32 characters; generate one with `openssl rand -hex 32`".into());
        }
        if self.ocr.callback_max_age_seconds == 0 {
            return Err("ocr.callback_max_age_seconds must be at least 1".into());
        }
        Ok(())
    }
}

/// An environment value as TOML: numbers and booleans as such, anything else as a string.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(b) = raw.parse::<bool>() {
        toml::Value::Boolean(b)
    } else if let Ok(i) = raw.parse::<i64>() {
        toml::Value::Integer(i)
    } else {
        toml::Value::String(raw.to_owned())
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
        assert_eq!(settings.database.url, "postgres://app:pw@db/ledgerly");
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
            err.contains("port") || err.contains("invalid type"),
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
