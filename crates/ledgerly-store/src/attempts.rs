//! Counted attempts in fixed windows, for the login rate limiter: in the database, so every API
//! instance behind a load balancer sees the same counts. Each count is checked and taken in one
//! statement, so attempts sent in parallel (to one instance or several) all count.

use chrono::{DateTime, Duration, Utc};

use crate::{Result, Store, micros, with_db};

/// A key and how many attempts its window allows.
#[derive(Debug, Clone, Copy)]
pub struct Limit<'a> {
    pub key: &'a str,
    pub limit: u32,
}

/// Seconds from `at` until a window that started at `started` ends; at least 1.
fn seconds_left(started: DateTime<Utc>, at: DateTime<Utc>, window: Duration) -> u64 {
    u64::try_from((started + window - at).num_seconds())
        .unwrap_or(0)
        .max(1)
}

impl Store {
    /// Whether any of `limits` is used up in its window at `at`: the seconds until the first of
    /// them opens again. Counts nothing.
    #[tracing::instrument(skip_all, err)]
    pub async fn attempts_blocked(
        &self,
        limits: &[Limit<'_>],
        at: DateTime<Utc>,
        window: Duration,
    ) -> Result<Option<u64>> {
        let at = micros(at);
        let mut wait = None;
        for limit in limits {
            let row: Option<(DateTime<Utc>, i64)> = with_db!(self, |pool, d| {
                sqlx::query_as(
                    "SELECT window_started_at, CAST(count AS BIGINT) FROM login_attempts \
                     WHERE key = $1 AND window_started_at > $2",
                )
                .bind(limit.key)
                .bind(at - window)
                .fetch_optional(pool)
                .await?
            });
            if let Some((started, count)) = row
                && count >= i64::from(limit.limit)
            {
                let left = seconds_left(started, at, window);
                wait = Some(wait.map_or(left, |w: u64| w.max(left)));
            }
        }
        Ok(wait)
    }

    /// Counts one attempt against `limit.key` at `at`, unless its window's attempts are used up:
    /// then nothing is counted and the answer is `Err(seconds)` until the window ends. A window
    /// older than `window` starts over.
    #[tracing::instrument(skip_all, err)]
    pub async fn take_attempt(
        &self,
        limit: Limit<'_>,
        at: DateTime<Utc>,
        window: Duration,
    ) -> Result<std::result::Result<(), u64>> {
        let at = micros(at);
        let expired = at - window;
        let cap = i64::from(limit.limit);
        let taken: Option<i64> = with_db!(self, |pool, d| {
            sqlx::query_scalar(
                "INSERT INTO login_attempts (key, window_started_at, count) VALUES ($1, $2, 1) \
                 ON CONFLICT (key) DO UPDATE SET \
                 count = CASE WHEN login_attempts.window_started_at <= $3 THEN 1 \
                         ELSE login_attempts.count + 1 END, \
                 window_started_at = CASE WHEN login_attempts.window_started_at <= $3 THEN $2 \
                         ELSE login_attempts.window_started_at END \
                 WHERE login_attempts.window_started_at <= $3 OR login_attempts.count < $4 \
                 RETURNING CAST(count AS BIGINT)",
            )
            .bind(limit.key)
            .bind(at)
            .bind(expired)
            .bind(cap)
            .fetch_optional(pool)
            .await?
        });
        if taken.is_some() {
            return Ok(Ok(()));
        }
        let started: Option<DateTime<Utc>> = with_db!(self, |pool, d| {
            sqlx::query_scalar("SELECT window_started_at FROM login_attempts WHERE key = $1")
                .bind(limit.key)
                .fetch_optional(pool)
                .await?
        });
        Ok(Err(
            started.map_or(1, |started| seconds_left(started, at, window))
        ))
    }

    /// Forgets the attempts counted against `keys` (a right password).
    #[tracing::instrument(skip_all, err)]
    pub async fn clear_attempts(&self, keys: &[&str]) -> Result<()> {
        for key in keys {
            with_db!(self, |pool, d| {
                sqlx::query("DELETE FROM login_attempts WHERE key = $1")
                    .bind(*key)
                    .execute(pool)
                    .await?;
            });
        }
        Ok(())
    }

    /// Deletes the counts whose window started at or before `before`: they count for nothing.
    /// Returns how many.
    #[tracing::instrument(skip_all, err)]
    pub async fn delete_stale_attempts(&self, before: DateTime<Utc>) -> Result<u64> {
        Ok(with_db!(self, |pool, d| {
            sqlx::query("DELETE FROM login_attempts WHERE window_started_at <= $1")
                .bind(micros(before))
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_what_is_left_of_the_window_and_at_least_a_second() {
        let t0 = Utc::now();
        let window = Duration::seconds(60);
        assert_eq!(seconds_left(t0, t0 + Duration::seconds(20), window), 40);
        assert_eq!(seconds_left(t0, t0 + Duration::seconds(60), window), 1);
        assert_eq!(seconds_left(t0, t0 + Duration::seconds(600), window), 1);
    }
}
