//! The SDK's own settings: `AWS_MAX_ATTEMPTS` and `AWS_RETRY_MODE` (or a profile's) win over
//! ledgerctl's default retries; bad values are an error, not a crash.

use aws_config::retry::{RetryConfig, RetryMode};

use crate::aws::{check_retry_env, retry_config};

#[test]
fn ledgerctl_s_retries_are_the_default_and_the_sdk_s_settings_win() {
    let ours = retry_config(RetryConfig::standard());
    assert_eq!(ours.max_attempts(), 8);
    assert_eq!(ours.mode(), RetryMode::Standard);
    let configured = RetryConfig::standard().with_max_attempts(2);
    assert_eq!(retry_config(configured.clone()), configured);
    let adaptive = RetryConfig::adaptive();
    assert_eq!(retry_config(adaptive.clone()), adaptive);
}

#[test]
fn a_bad_retry_setting_is_an_error_naming_it() {
    assert!(check_retry_env(None, None).is_ok());
    assert!(check_retry_env(Some("5"), Some("adaptive")).is_ok());
    assert!(check_retry_env(Some(""), Some("")).is_ok());
    let err = check_retry_env(Some("many"), None).unwrap_err().to_string();
    assert!(err.contains("AWS_MAX_ATTEMPTS=many"), "{err}");
    assert!(check_retry_env(Some("0"), None).is_err());
    let err = check_retry_env(None, Some("eager"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("AWS_RETRY_MODE=eager") && err.contains("standard or adaptive"));
}
