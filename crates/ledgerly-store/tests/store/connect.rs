use ledgerly_store::{Dialect, Store, StoreError};

use crate::harness::*;

on_both_backends!(store: a_connected_store_answers_and_knows_its_dialect);

async fn a_connected_store_answers_and_knows_its_dialect(store: &Store) {
    store.ping().await.unwrap();
    assert_eq!(
        store.postgres_pool().is_some(),
        store.dialect() == Dialect::Postgres
    );
}

#[tokio::test]
async fn an_unsupported_url_is_refused_without_showing_its_password() {
    let err = Store::connect("mysql://app:hunter2@db/ledgerly")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("postgres://") && message.contains("sqlite:"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn migrations_apply_once_and_reconnecting_keeps_the_data() {
    let db = TestDb::sqlite().await;
    let priya = user(&db.store, "priya@example.com").await;
    let again = Store::connect(db.url()).await.unwrap();
    assert_eq!(again.get_user(priya.id).await.unwrap(), priya);
    again.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_postgres_is_an_error_not_a_hang() {
    let options = ledgerly_store::StoreOptions {
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(2),
        migrate: true,
    };
    let err = Store::connect_with("postgres://nobody@127.0.0.1:1/none", &options)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
}

/// `sslmode=verify-full` with the CA given in `sslrootcert`: the store connects over TLS to a
/// server whose certificate that CA signed for the name used, and refuses one it cannot verify
/// (another CA, or a name the certificate does not carry) — what a deployed API does with the
/// RDS certificate authorities. scripts/test serves the test PostgreSQL with TLS and a CA of its
/// own (`LEDGERLY_TEST_PG_CA`).
#[tokio::test]
async fn verify_full_connects_only_to_a_server_its_ca_vouches_for_by_name() {
    use sqlx::Connection as _;
    let ca = std::env::var("LEDGERLY_TEST_PG_CA").unwrap_or_else(|_| {
        panic!("LEDGERLY_TEST_PG_CA is not set: run the suite with scripts/test, which serves the test PostgreSQL over TLS")
    });
    let db = TestDb::postgres().await;
    let url = |host: &str, ca: &str| {
        let named = db.url().replacen("@127.0.0.1:", &format!("@{host}:"), 1);
        format!("{named}?sslmode=verify-full&sslrootcert={ca}")
    };
    let options = ledgerly_store::StoreOptions {
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(5),
        migrate: true,
    };
    let store = Store::connect_with(&url("localhost", &ca), &options)
        .await
        .unwrap_or_else(|e| panic!("verify-full with the right CA and name: {e:?}"));
    store.close().await;
    let mut connection = sqlx::PgConnection::connect(&url("localhost", &ca))
        .await
        .unwrap();
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut connection)
            .await
            .unwrap();
    assert!(encrypted, "the connection is TLS");
    connection.close().await.unwrap();
    // The certificate names `localhost`, not the address.
    let by_address = Store::connect_with(&url("127.0.0.1", &ca), &options).await;
    assert!(by_address.is_err(), "a name the certificate does not carry");
    // The system's public CAs did not sign this server's certificate.
    let public = Store::connect_with(
        &url("localhost", "/etc/ssl/certs/ca-certificates.crt"),
        &options,
    )
    .await;
    assert!(public.is_err(), "a CA that did not sign the certificate");
    db.cleanup().await;
}
