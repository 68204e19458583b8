//! The European Central Bank's euro foreign exchange reference rates: reading its document
//! (`parse`), fetching it (`fetch`), and the background task that keeps the stored rates fresh
//! while any user converts with them (`keep_fresh`).
//!
//! The daily document (`eurofxref-daily.xml`) and the 90-day one (`eurofxref-hist-90d.xml`)
//! have the same shape: an outer `Cube` holding one `Cube time='YYYY-MM-DD'` per working day,
//! each holding one `Cube currency='USD' rate='1.0543'` per currency (how much of it one euro
//! buys).

use std::sync::Weak;
use std::time::Duration;

use chrono::NaiveDate;
use ledgerly_core::Currency;
use ledgerly_core::rates::{EcbRate, Rate, RateError};

use crate::readiness::Readiness;

/// How long one fetch may take: connecting, the answer and its body.
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);

/// The largest document accepted. The daily one is a few KB and the 90-day one under 100 KB.
const MAX_BYTES: usize = 2 * 1024 * 1024;

/// What went wrong reading or fetching the ECB's rates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EcbError {
    #[error("the ECB document is not XML: {0}")]
    NotXml(String),
    #[error("the ECB document has no dated rates")]
    NoDatedRates,
    #[error("date `{0}` in the ECB document is not a YYYY-MM-DD date")]
    BadDate(String),
    #[error("a rate on {day} in the ECB document names no currency")]
    NoCurrency { day: NaiveDate },
    #[error("{currency} on {day} in the ECB document has no rate")]
    NoRate { currency: Currency, day: NaiveDate },
    #[error("rate `{rate}` for {currency} on {day} {why}")]
    BadRate {
        rate: String,
        currency: Currency,
        day: NaiveDate,
        why: &'static str,
    },
    #[error("cannot fetch the ECB's rates from {url}: {message}")]
    Request { url: String, message: String },
    #[error("the ECB answered {status} for {url}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    // The limits are written out: `MAX_BYTES` and `FETCH_TIMEOUT`.
    #[error("the ECB's answer from {url} is larger than 2 MiB")]
    TooLarge { url: String },
    #[error("the ECB's answer from {url} is not UTF-8 text")]
    NotText { url: String },
    #[error("the ECB did not answer within 20 s ({url})")]
    TimedOut { url: String },
}

/// The rates in an ECB reference rates document, daily or 90-day, in the document's order.
/// Currencies Ledgerly does not know are passed over.
pub(crate) fn parse(xml: &str) -> Result<Vec<EcbRate>, EcbError> {
    let document = roxmltree::Document::parse(xml).map_err(|e| EcbError::NotXml(e.to_string()))?;
    let mut rates = Vec::new();
    let mut dated = 0_usize;
    for cube in document.descendants().filter(is_cube) {
        let Some(time) = cube.attribute("time") else {
            continue;
        };
        dated += 1;
        let day: NaiveDate = time
            .trim()
            .parse()
            .map_err(|_| EcbError::BadDate(time.to_owned()))?;
        for entry in cube.children().filter(is_cube) {
            let Some(code) = entry.attribute("currency") else {
                return Err(EcbError::NoCurrency { day });
            };
            let Ok(currency) = Currency::from_code(code) else {
                continue;
            };
            let Some(text) = entry.attribute("rate") else {
                return Err(EcbError::NoRate { currency, day });
            };
            let per_euro = Rate::parse(text).map_err(|e| EcbError::BadRate {
                rate: text.to_owned(),
                currency,
                day,
                why: why(&e),
            })?;
            rates.push(EcbRate {
                currency,
                day,
                per_euro,
            });
        }
    }
    if dated == 0 {
        return Err(EcbError::NoDatedRates);
    }
    Ok(rates)
}

/// An element named `Cube` in any namespace.
fn is_cube(node: &roxmltree::Node<'_, '_>) -> bool {
    node.is_element() && node.tag_name().name() == "Cube"
}

/// What is wrong with a rate, to follow "rate `x` for USD on 2026-12-04".
fn why(error: &RateError) -> &'static str {
    match error {
        RateError::NotANumber(_) => "is not a number",
        RateError::NotPositive(_) => "is not greater than zero",
        RateError::TooPrecise(_) => "has too many digits",
    }
}

/// Fetches and reads the document at `url` (within [`FETCH_TIMEOUT`], at most [`MAX_BYTES`]).
pub(crate) async fn fetch(client: &reqwest::Client, url: &str) -> Result<Vec<EcbRate>, EcbError> {
    let body = tokio::time::timeout(FETCH_TIMEOUT, download(client, url))
        .await
        .map_err(|_| EcbError::TimedOut {
            url: url.to_owned(),
        })??;
    parse(&body)
}

/// The body of a successful answer from `url`, as text.
async fn download(client: &reqwest::Client, url: &str) -> Result<String, EcbError> {
    let failed = |e: reqwest::Error| EcbError::Request {
        url: url.to_owned(),
        message: with_causes(&e.without_url()),
    };
    let mut response = client
        .get(url)
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(failed)?;
    let status = response.status();
    if !status.is_success() {
        return Err(EcbError::Status {
            url: url.to_owned(),
            status,
        });
    }
    let too_large = || EcbError::TooLarge {
        url: url.to_owned(),
    };
    if response
        .content_length()
        .is_some_and(|length| length > MAX_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| EcbError::NotText {
        url: url.to_owned(),
    })
}

/// An error with its causes, `outer: inner: innermost` (reqwest's own message leaves them out).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = std::error::Error::source(inner);
    }
    message
}

/// Fetches the ECB's rates from `url` and saves them, now and then every `every`, while the
/// server whose readiness `alive` is lives — but only while some user converts with them. A
/// failed fetch is tried again at the next tick. An empty `url` fetches nothing. With several
/// API instances each fetches and saves the same rates, which the store keeps once per currency
/// and day.
pub(crate) fn keep_fresh(
    store: ledgerly_store::Store,
    url: String,
    every: Duration,
    alive: Weak<Readiness>,
) {
    if url.is_empty() {
        tracing::info!("rates.ecb_url is empty: the ECB's reference rates are not fetched");
        return;
    }
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .user_agent(concat!("ledgerly/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(FETCH_TIMEOUT)
            .build()
        {
            Ok(client) => client,
            Err(err) => {
                tracing::warn!(
                    error = %with_causes(&err),
                    "cannot make an HTTP client: the ECB's reference rates are not fetched"
                );
                return;
            }
        };
        // `interval` panics on a zero period.
        let mut ticks = tokio::time::interval(every.max(Duration::from_secs(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if alive.upgrade().is_none() {
                return;
            }
            match store.ecb_rates_wanted().await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(err) => {
                    tracing::warn!(error = ?err, "cannot tell whether anyone uses the ECB's rates");
                    continue;
                }
            }
            let rates = match fetch(&client, &url).await {
                Ok(rates) => rates,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot fetch the ECB's reference rates");
                    continue;
                }
            };
            let Some(latest_day) = rates.iter().map(|rate| rate.day).max() else {
                tracing::warn!(
                    url = %url,
                    "the ECB's document has no rate in a currency Ledgerly knows"
                );
                continue;
            };
            match store.save_ecb_rates(&rates).await {
                Ok(0) => tracing::debug!(day = %latest_day, "ECB reference rates already saved"),
                Ok(saved) => tracing::info!(saved, day = %latest_day, "ECB reference rates saved"),
                Err(err) => tracing::warn!(error = ?err, "cannot save the ECB's reference rates"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The daily document as the ECB writes it, with a code no currency has (`ZZZ`).
    const DAILY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<gesmes:Sender>
		<gesmes:name>European Central Bank</gesmes:name>
	</gesmes:Sender>
	<Cube>
		<Cube time='2026-12-04'>
			<Cube currency='USD' rate='1.0543'/>
			<Cube currency='JPY' rate='158.12'/>
			<Cube currency='ZZZ' rate='12.5'/>
			<Cube currency='INR' rate='89.1235'/>
		</Cube>
	</Cube>
</gesmes:Envelope>"#;

    /// A document with `cubes` (from [`dated`]) in its outer cube.
    fn envelope(cubes: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<Cube>{cubes}</Cube>
</gesmes:Envelope>"#
        )
    }

    /// One day's cube with `rates` (currency, rate).
    fn dated(time: &str, rates: &[(&str, &str)]) -> String {
        let rates: String = rates
            .iter()
            .map(|(currency, rate)| format!("<Cube currency='{currency}' rate='{rate}'/>"))
            .collect();
        format!("<Cube time='{time}'>{rates}</Cube>")
    }

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn r(text: &str) -> Rate {
        Rate::parse(text).unwrap()
    }

    fn error(xml: &str) -> String {
        parse(xml).unwrap_err().to_string()
    }

    #[test]
    fn the_daily_document_reads_with_unknown_currencies_passed_over() {
        let day = d("2026-12-04");
        assert_eq!(
            parse(DAILY).unwrap(),
            vec![
                EcbRate {
                    currency: Currency::USD,
                    day,
                    per_euro: r("1.0543"),
                },
                EcbRate {
                    currency: Currency::JPY,
                    day,
                    per_euro: r("158.12"),
                },
                EcbRate {
                    currency: Currency::INR,
                    day,
                    per_euro: r("89.1235"),
                },
            ]
        );
        // An unknown currency is passed over whatever its rate.
        let xml = envelope(&dated("2026-12-04", &[("ZZZ", "x"), ("USD", "1.05")]));
        assert_eq!(parse(&xml).unwrap().len(), 1);
    }

    #[test]
    fn the_90_day_document_reads_every_day() {
        let xml = envelope(
            &[
                dated("2026-12-04", &[("USD", "1.0543"), ("INR", "89.1235")]),
                dated("2026-12-03", &[("USD", "1.0521"), ("INR", "88.9")]),
                dated("2026-12-02", &[("USD", "1.05"), ("INR", "88.75")]),
            ]
            .concat(),
        );
        let rates = parse(&xml).unwrap();
        assert_eq!(rates.len(), 6);
        let days: std::collections::BTreeSet<NaiveDate> =
            rates.iter().map(|rate| rate.day).collect();
        assert_eq!(
            days.into_iter().collect::<Vec<_>>(),
            vec![d("2026-12-02"), d("2026-12-03"), d("2026-12-04")]
        );
        assert!(rates.contains(&EcbRate {
            currency: Currency::INR,
            day: d("2026-12-03"),
            per_euro: r("88.9"),
        }));
        assert!(rates.contains(&EcbRate {
            currency: Currency::USD,
            day: d("2026-12-02"),
            per_euro: r("1.05"),
        }));
    }

    #[test]
    fn a_bad_document_says_what_is_wrong() {
        assert_eq!(
            error(&envelope(&dated("2026-12-04", &[("USD", "x")]))),
            "rate `x` for USD on 2026-12-04 is not a number"
        );
        assert_eq!(
            error(&envelope(&dated("2026-12-04", &[("INR", "-1")]))),
            "rate `-1` for INR on 2026-12-04 is not greater than zero"
        );
        assert_eq!(
            error(&envelope(&dated("2026-13-04", &[("USD", "1.05")]))),
            "date `2026-13-04` in the ECB document is not a YYYY-MM-DD date"
        );
        assert_eq!(
            error(&envelope(&dated("", &[("USD", "1.05")]))),
            "date `` in the ECB document is not a YYYY-MM-DD date"
        );
        assert_eq!(
            error(&envelope(
                "<Cube time='2026-12-04'><Cube currency='USD'/></Cube>"
            )),
            "USD on 2026-12-04 in the ECB document has no rate"
        );
        // No dated cube: an empty outer cube, or XML that is not the ECB's.
        assert_eq!(error(&envelope("")), "the ECB document has no dated rates");
        assert_eq!(
            error("<html><body>Service unavailable</body></html>"),
            "the ECB document has no dated rates"
        );
        // Not XML, or cut short: roxmltree's message.
        for text in ["Service unavailable", "", &DAILY[..DAILY.len() - 30]] {
            let roxml = roxmltree::Document::parse(text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!roxml.is_empty(), "{text:?} parsed");
            assert_eq!(error(text), format!("the ECB document is not XML: {roxml}"));
        }
    }

    /// Serves `router` on a free local port; its base URL.
    async fn serve(router: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.ok() });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn fetch_reads_a_200_and_names_any_other_status() {
        use axum::http::{StatusCode, header};
        use axum::routing::get;
        let router = axum::Router::new()
            .route(
                "/eurofxref-daily.xml",
                get(|| async { ([(header::CONTENT_TYPE, "text/xml")], DAILY) }),
            )
            .route(
                "/down",
                get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance") }),
            )
            .route("/large", get(|| async { " ".repeat(MAX_BYTES + 1) }))
            .route(
                "/streamed",
                get(|| async {
                    // No Content-Length: the limit is kept while reading.
                    let chunks =
                        std::iter::repeat_n(" ".repeat(64 * 1024), 40).map(Ok::<_, std::io::Error>);
                    axum::body::Body::from_stream(futures_util::stream::iter(chunks))
                }),
            );
        let base = serve(router).await;
        let client = reqwest::Client::new();

        let rates = fetch(&client, &format!("{base}/eurofxref-daily.xml"))
            .await
            .unwrap();
        assert_eq!(rates, parse(DAILY).unwrap());
        assert_eq!(rates.len(), 3);

        let down = fetch(&client, &format!("{base}/down")).await.unwrap_err();
        assert!(
            matches!(down, EcbError::Status { status, .. } if status.as_u16() == 503),
            "{down:?}"
        );
        assert!(down.to_string().contains("503"), "{down}");

        let missing = fetch(&client, &format!("{base}/nothing-here"))
            .await
            .unwrap_err();
        assert!(missing.to_string().contains("404"), "{missing}");

        for path in ["/large", "/streamed"] {
            let large = fetch(&client, &format!("{base}{path}")).await.unwrap_err();
            assert!(
                matches!(large, EcbError::TooLarge { .. }),
                "{path}: {large:?}"
            );
            assert!(large.to_string().contains("2 MiB"), "{large}");
        }
    }

    #[tokio::test]
    async fn fetch_from_nothing_listening_is_an_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let url = format!("http://{address}/eurofxref-daily.xml");
        let err = fetch(&reqwest::Client::new(), &url).await.unwrap_err();
        assert!(matches!(err, EcbError::Request { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with(&format!("cannot fetch the ECB's rates from {url}: ")),
            "{err}"
        );
    }
}
