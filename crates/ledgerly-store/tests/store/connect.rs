use ledgerly_store::{Dialect, Store, StoreError};

use crate::harness::*;

on_both_backends!(a_connected_store_answers_and_knows_its_dialect);

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
