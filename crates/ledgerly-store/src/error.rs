//! What can go wrong in the store, in terms callers can act on.

/// The store's result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row for this user (or at all). Callers answer 404.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("a category named `{0}` already exists")]
    CategoryNameTaken(String),
    #[error(
        "the category still has {count} expense(s); move them to another category or delete them first"
    )]
    CategoryInUse { count: u64 },
    #[error(
        "{count} recurring expense(s) use the category; move them to another category or change them first"
    )]
    CategoryInRecurring { count: u64 },
    #[error("a tag named `{0}` already exists; merge the two tags instead")]
    TagNameTaken(String),
    #[error("a token named `{0}` already exists; name this one differently")]
    TokenNameTaken(String),
    #[error("an account holds at most {0} API tokens; revoke one first")]
    TooManyTokens(u64),
    /// The invite is unknown, used already or expired.
    #[error("this invite is unknown, used already or expired")]
    InviteInvalid,
    /// The password reset link is unknown, used already or expired.
    #[error("this password reset link is unknown, used already or expired")]
    ResetInvalid,
    /// The change would leave the instance without an administrator who can sign in.
    #[error("the instance would be left without an administrator")]
    LastAdmin,
    /// The import was committed already; its expenses are recorded.
    #[error("this import was committed already")]
    ImportCommitted,
    #[error("{0}")]
    Invalid(String),
    /// The job's lease ran out and another worker took it over; this worker's result is dropped.
    #[error("the job is no longer held by this claim")]
    LeaseLost,
    /// A streamed read stopped before its last row without a database error: the task reading
    /// the rows panicked, or the runtime is shutting down.
    #[error("the read stopped before its last row")]
    Interrupted,
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// A stored value did not parse back into the domain — a bug or a hand-edited row.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }

    /// Whether the database could not be reached or is restarting — not a fault of the request
    /// or of the data, and likely to pass in a moment: no free connection in time, a connection
    /// refused or dropped, the server shutting down or starting up (SQLSTATE classes 08 and 57P),
    /// out of connections (53300), or SQLite's file busy.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(err) = self else {
            return false;
        };
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                code.starts_with("08")
                    || code.starts_with("57P")
                    // Too many connections.
                    || code == "53300"
                    // SQLite: SQLITE_BUSY and SQLITE_LOCKED, with their extended codes.
                    || code == "5"
                    || code == "6"
                    || code == "261"
                    || code == "517"
                    || code == "262"
            }),
            _ => false,
        }
    }
}

/// Whether `err` is a unique-key violation.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// Maps a foreign-key violation to [`StoreError::NotFound`]`(what)`: the row referred to is not
/// there, or not the user's (the composite keys make another user's row "not there").
pub(crate) fn missing(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |err| {
        if err
            .as_database_error()
            .is_some_and(|e| e.is_foreign_key_violation())
        {
            StoreError::NotFound(what)
        } else {
            err.into()
        }
    }
}

/// `Ok` when a statement touched a row, [`StoreError::NotFound`]`(what)` when it touched none.
pub(crate) fn found(rows_affected: u64, what: &'static str) -> Result<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound(what))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_out_of_reach_is_unavailable_and_bad_data_is_not() {
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_unavailable());
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(StoreError::Database(sqlx::Error::Io(refused)).is_unavailable());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!StoreError::NotFound("receipt").is_unavailable());
        assert!(!StoreError::corrupt("x").is_unavailable());
    }
}
