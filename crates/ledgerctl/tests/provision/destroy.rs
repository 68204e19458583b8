//! Destroy removes the stack's own resources and nothing beside them.

use serde_json::Value;

use crate::assertions::*;
use crate::fixtures::*;

#[tokio::test]
async fn destroy_removes_only_the_stacks_own_resources() {
    let doomed = Stack::new("doomed");
    doomed.write("database:\n  deletion_protection: false\n");
    doomed.provision();
    doomed.push_image().await;
    doomed.provision();
    let kept = Stack::new("kept");
    kept.provision();
    kept.push_image().await;
    kept.provision();

    // Receipts in the bucket stop destroy before anything is deleted. The emulator speaks plain
    // HTTP, which the bucket policy refuses: the object goes in with the policy off for a moment.
    let policy = without_bucket_policy(&doomed.bucket()).await;
    s3().await
        .put_object()
        .bucket(doomed.bucket())
        .key("receipts/user/r1.jpg")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"\xff\xd8\xff",
        ))
        .send()
        .await
        .unwrap();
    s3().await
        .put_bucket_policy()
        .bucket(doomed.bucket())
        .policy(policy)
        .send()
        .await
        .unwrap();
    let refused = doomed.ledgerctl(&["destroy", "--yes"], None);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("holds 1 receipt files; copy them first"),
        "{refused:?}"
    );
    assert_eq!(doomed.plan().0, 0, "nothing was deleted");
    // Without --auto-approve, and not at a terminal: nothing happens either.
    let unconfirmed = doomed.ledgerctl(&["destroy", "--delete-receipts"], None);
    assert!(
        String::from_utf8_lossy(&unconfirmed.stderr).contains("pass --auto-approve"),
        "{unconfirmed:?}"
    );
    assert_eq!(doomed.plan().0, 0, "nothing was deleted");

    without_bucket_policy(&doomed.bucket()).await;
    let output = doomed.ledgerctl(
        &["destroy", "--yes", "--delete-receipts", "--output", "json"],
        None,
    );
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["deleted"].as_array().unwrap().len(), 19, "{report}");
    let snapshot = report["final_snapshot"].as_str().unwrap().to_owned();
    assert_nothing_left(&doomed).await;
    let snapshots = aws_sdk_rds::Client::new(&aws().await)
        .describe_db_snapshots()
        .db_snapshot_identifier(&snapshot)
        .send()
        .await
        .unwrap();
    assert_eq!(
        snapshots.db_snapshots().len(),
        1,
        "a final snapshot was kept"
    );

    // Again: nothing left to delete, and that is fine.
    let again = doomed.ledgerctl(&["destroy", "--yes"], None);
    assert!(again.status.success(), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to delete"));

    // The other stack is whole; its deletion protection stops its own destroy.
    assert_eq!(kept.plan().0, 0);
    assert_provisioned(&kept, true).await;
    let protected = kept.ledgerctl(&["destroy", "--yes"], None);
    assert!(!protected.status.success());
    assert!(
        String::from_utf8_lossy(&protected.stderr).contains("has deletion protection on"),
        "{protected:?}"
    );
    assert_eq!(kept.plan().0, 0, "nothing of it was deleted");
}
