//! The operator's backup and restore of a whole instance: `ledgerly-api backup DIR` writes every
//! account as the zip `GET /export.zip` makes (`accounts/<n>.zip`) and `instance.json`, which
//! lists them with what signing in needs — the email, the name, the password's hash — and which
//! is therefore as secret as the database. `ledgerly-api restore DIR` recreates each account
//! that does not exist (same email, same password) and restores its zip into it; an account that
//! exists gets its backup merged, skipping what it has already.

use std::path::Path;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use ledgerly_core::{Currency, Email, PersonName, UserTimeZone};
use ledgerly_store::NewUser;
use serde::{Deserialize, Serialize};

use crate::routes::backup::{self, Sink, Written};
use crate::{AppState, Settings};

/// What `instance.json` says it is.
pub const FORMAT: &str = "ledgerly-instance-backup";
pub const VERSION: u32 = 1;
/// The file listing the accounts.
pub const MANIFEST: &str = "instance.json";

#[derive(Debug, Serialize, Deserialize)]
pub struct InstanceManifest {
    pub format: String,
    pub version: u32,
    pub app_version: String,
    pub exported_at: DateTime<Utc>,
    pub accounts: Vec<AccountFile>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AccountFile {
    pub email: String,
    pub name: String,
    pub currency: String,
    pub time_zone: String,
    /// The password's argon2id hash, as the database keeps it.
    pub password_hash: String,
    /// Its backup, relative to the directory.
    pub file: String,
}

/// What one run did, for the operator.
#[derive(Debug, Default)]
pub struct Summary {
    pub accounts: u64,
    pub accounts_created: u64,
    pub expenses: u64,
    pub receipts: u64,
}

async fn state(settings: Settings) -> anyhow::Result<AppState> {
    let store = store(&settings).await?;
    let storage = ledgerly_store::objects::Storage::open(&settings.storage.location())
        .await
        .context("failed to open receipt storage (storage.*)")?;
    Ok(AppState::new(store, storage, settings))
}

async fn store(settings: &Settings) -> anyhow::Result<ledgerly_store::Store> {
    ledgerly_store::Store::connect_with(
        secrecy::ExposeSecret::expose_secret(&settings.database.url),
        &ledgerly_store::StoreOptions {
            max_connections: 2,
            migrate: settings.database.migrate,
            ..ledgerly_store::StoreOptions::default()
        },
    )
    .await
    .context("failed to open the database (database.url)")
}

fn api_error(err: crate::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{err}")
}

/// An invite the operator made: the link's path (`/?invite=…`; `None` when the secret was made
/// elsewhere and only its hash given) and when it expires.
#[derive(Debug)]
pub struct IssuedInvite {
    pub path: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// Makes an invite from the command line (for bootstrapping: the first account to register with
/// it on an empty instance is its administrator), or — with `secret_sha256` — records one whose
/// secret was made elsewhere (`ledgerctl invite`, so the secret never reaches the server's
/// command line or logs). Refused while registration is closed.
pub async fn invite(
    settings: Settings,
    days: Option<u32>,
    note: Option<String>,
    secret_sha256: Option<Vec<u8>>,
) -> anyhow::Result<IssuedInvite> {
    let registration = settings.auth.registration;
    let store = store(&settings).await?;
    let request = crate::routes::admin::CreateInviteRequest {
        note,
        expires_in_days: days,
    };
    match secret_sha256 {
        Some(hash) => {
            let invite =
                crate::routes::admin::record_invite(&store, registration, None, request, &hash)
                    .await
                    .map_err(api_error)?;
            Ok(IssuedInvite {
                path: None,
                expires_at: invite.expires_at,
            })
        }
        None => {
            let made = crate::routes::admin::make_invite(&store, registration, None, request)
                .await
                .map_err(api_error)?;
            Ok(IssuedInvite {
                path: Some(made.path),
                expires_at: made.invite.expires_at,
            })
        }
    }
}

/// Writes every account's backup and `instance.json` into `dir`, which must be empty or new.
pub async fn backup(settings: Settings, dir: &Path) -> anyhow::Result<Summary> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty: give a new or empty directory, so no earlier backup is mixed in",
            dir.display()
        );
    }
    let accounts_dir = dir.join("accounts");
    std::fs::create_dir_all(&accounts_dir)
        .with_context(|| format!("cannot create {}", accounts_dir.display()))?;
    let state = state(settings).await?;
    let exported_at = Utc::now();
    let mut summary = Summary::default();
    let mut accounts = Vec::new();
    for (n, user) in state.store.list_users().await?.into_iter().enumerate() {
        let file = format!("accounts/{:05}.zip", n + 1);
        let path = dir.join(&file);
        let mut out = Sink::File(tokio::fs::File::from_std(private_file(&path)?));
        let Written {
            counts, missing, ..
        } = async {
            let contents = backup::read_contents(&state, &user, exported_at).await?;
            backup::write_backup(&state, &user, contents, &mut out).await
        }
        .await
        .map_err(api_error)
        .with_context(|| format!("cannot back up {}", user.email))?;
        if missing > 0 {
            tracing::warn!(email = %user.email, missing, "receipt files missing from storage");
        }
        accounts.push(AccountFile {
            email: user.email.to_string(),
            name: user.name.to_string(),
            currency: user.currency.code().to_owned(),
            time_zone: user.time_zone.name().to_owned(),
            password_hash: state.store.password_hash(user.id).await?,
            file,
        });
        summary.accounts += 1;
        summary.expenses += counts.expenses;
        summary.receipts += counts.receipt_files;
    }
    let manifest = InstanceManifest {
        format: FORMAT.to_owned(),
        version: VERSION,
        app_version: env!("CARGO_PKG_VERSION").to_owned(),
        exported_at,
        accounts,
    };
    let out = private_file(&dir.join(MANIFEST))?;
    serde_json::to_writer_pretty(out, &manifest)?;
    state.store.close().await;
    Ok(summary)
}

/// A new file (never one that exists), readable and writable by this user alone: what backups
/// and uploaded backups are written to.
pub(crate) fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// [`create_private`], saying which file could not be made.
fn private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    create_private(path).with_context(|| format!("cannot create {}", path.display()))
}

/// Restores the instance backup in `dir`.
pub async fn restore(settings: Settings, dir: &Path) -> anyhow::Result<Summary> {
    let manifest_path = dir.join(MANIFEST);
    let text = std::fs::read(&manifest_path).with_context(|| {
        format!(
            "cannot read {}: give the directory `ledgerly-api backup` wrote",
            manifest_path.display()
        )
    })?;
    let manifest: InstanceManifest = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not an instance backup", manifest_path.display()))?;
    if manifest.format != FORMAT {
        bail!(
            "{} is a `{}`, not an instance backup",
            manifest_path.display(),
            manifest.format
        );
    }
    if manifest.version > VERSION {
        bail!(
            "the backup is format version {}, made by a newer Ledgerly (this one reads up to \
             {VERSION}): upgrade first",
            manifest.version
        );
    }
    let state = state(settings).await?;
    let mut summary = Summary::default();
    for account in &manifest.accounts {
        let email = Email::parse(&account.email)
            .map_err(|e| anyhow::anyhow!("account `{}`: {e}", account.email))?;
        let user = match state.store.credentials(&email).await? {
            Some(existing) => existing.user,
            None => {
                let user = state
                    .store
                    .create_user(NewUser {
                        email,
                        name: PersonName::parse(&account.name)
                            .map_err(|e| anyhow::anyhow!("account `{}`: {e}", account.email))?,
                        password_hash: account.password_hash.clone().into(),
                        currency: Currency::from_code(&account.currency)
                            .map_err(|e| anyhow::anyhow!("account `{}`: {e}", account.email))?,
                        time_zone: UserTimeZone::parse(&account.time_zone)
                            .map_err(|e| anyhow::anyhow!("account `{}`: {e}", account.email))?,
                    })
                    .await?;
                summary.accounts_created += 1;
                user
            }
        };
        // The restore reads from a copy it may delete, never from the backup itself.
        let source = dir.join(&account.file);
        let (upload, mut copy) = crate::routes::restore::UploadedZip::create()?;
        let mut original = std::fs::File::open(&source)
            .with_context(|| format!("cannot read {}", source.display()))?;
        std::io::copy(&mut original, &mut copy)?;
        drop(copy);
        let done = crate::routes::restore::restore(&state, &user, upload)
            .await
            .map_err(api_error)
            .with_context(|| format!("cannot restore {}", account.email))?;
        tracing::info!(
            email = %account.email,
            expenses = done.expenses_created,
            duplicates = done.duplicates_skipped,
            receipts = done.receipts_created,
            "account restored"
        );
        summary.accounts += 1;
        summary.expenses += done.expenses_created;
        summary.receipts += done.receipts_created;
    }
    state.store.close().await;
    Ok(summary)
}
