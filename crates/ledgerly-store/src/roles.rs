//! The application role: the deployed API connects as a PostgreSQL role that can read and write
//! the rows and nothing more — no schema changes, no other database, no roles. The migration
//! step, run with the owner's (master) credentials, creates it and keeps its grants current.

use secrecy::{ExposeSecret as _, SecretString};

use crate::{Result, Store, StoreError};

/// Whether `name` is a role name this creates: lower-case letters, digits and `_`, starting
/// with a letter, at most 63 bytes (PostgreSQL's limit), and no `pg_` prefix (reserved).
fn valid_role_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
        && !name.starts_with("pg_")
}

impl Store {
    /// Creates the application role `name` (or updates it) with `password` and exactly the
    /// privileges the API needs: connecting to this database, and reading and writing the rows of
    /// its tables; it reads the migration history, to check the schema is current, but cannot
    /// change it. Run it after migrating, as the owner: tables added by a migration are granted
    /// then. PostgreSQL only.
    #[tracing::instrument(skip_all, err)]
    pub async fn grant_app_role(&self, name: &str, password: &SecretString) -> Result<()> {
        if !valid_role_name(name) {
            return Err(StoreError::Config(format!(
                "`{name}` is not a role name this creates: lower-case letters, digits and _, \
                 starting with a letter, at most 63 bytes, not starting with pg_"
            )));
        }
        if password.expose_secret().chars().count() < 16 {
            return Err(StoreError::Config(
                "the application role's password must be at least 16 characters".into(),
            ));
        }
        let crate::Db::Postgres(pool) = &self.db else {
            return Err(StoreError::Config(
                "an application role is for PostgreSQL; a SQLite file has no roles".into(),
            ));
        };
        let mut tx = pool.begin().await?;
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_roles WHERE rolname = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        // The server quotes the name (%I) and the password (%L): nothing given is spliced in raw.
        let statements = [
            exists.is_none().then_some("CREATE ROLE %I"),
            Some(
                "ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION \
                 NOBYPASSRLS PASSWORD %L",
            ),
        ];
        for statement in statements.into_iter().flatten() {
            let sql: String = sqlx::query_scalar("SELECT format($1, $2::text, $3::text)")
                .bind(statement)
                .bind(name)
                .bind(password.expose_secret())
                .fetch_one(&mut *tx)
                .await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        }
        let grants = [
            "GRANT CONNECT ON DATABASE %I TO %I",
            // Nobody but the owner creates objects in the schema.
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
            "GRANT USAGE ON SCHEMA public TO %2$I",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %2$I",
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %2$I",
            "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON _sqlx_migrations FROM %2$I",
        ];
        for grant in grants {
            let sql: String = sqlx::query_scalar("SELECT format($1, current_database(), $2::text)")
                .bind(grant)
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_plain_identifiers() {
        assert!(valid_role_name("ledgerly_app"));
        assert!(valid_role_name("app2"));
        for bad in [
            "",
            "App",
            "2app",
            "pg_app",
            "a-b",
            "a b",
            "a\"b",
            &"a".repeat(64),
        ] {
            assert!(!valid_role_name(bad), "{bad}");
        }
    }
}
