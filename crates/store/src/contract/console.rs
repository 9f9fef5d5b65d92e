//! Contract cases of the console group: single-use sign-in links and browser sessions.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use super::*;
use crate::{LoginLink, SessionRow};

/// A link signs in once, never after it expired; a session is found by its hash, touched,
/// ended, and purged when idle or too old.
pub async fn console_sessions(s: &dyn Store) {
    let link = |hash: &str, expires_at| LoginLink {
        token_hash: hash.into(),
        person: "dana".into(),
        role: "agent".into(),
        expires_at,
    };
    s.add_login_link(link("h1", T0 + 15 * MIN)).await.unwrap();
    s.add_login_link(link("h2", T0 + 15 * MIN)).await.unwrap();
    assert_eq!(
        s.redeem_login_link("h1", T0).await.unwrap(),
        Some(("dana".into(), "agent".into()))
    );
    assert_eq!(
        s.redeem_login_link("h1", T0).await.unwrap(),
        None,
        "single use"
    );
    assert_eq!(
        s.redeem_login_link("h2", T0 + HOUR).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        s.redeem_login_link("h2", T0).await.unwrap(),
        None,
        "an expired link tried once is gone"
    );
    assert_eq!(s.redeem_login_link("nope", T0).await.unwrap(), None);

    let session = |hash: &str, at| SessionRow {
        id_hash: hash.into(),
        person: "dana".into(),
        role: "analyst".into(),
        csrf_token: format!("csrf-{hash}"),
        created_at: at,
        last_seen_at: at,
    };
    s.add_session(session("s1", T0)).await.unwrap();
    s.add_session(session("s2", T0 - 13 * HOUR)).await.unwrap();
    s.add_session(session("s3", T0 - HOUR)).await.unwrap();
    assert_eq!(s.session("s1").await.unwrap(), Some(session("s1", T0)));
    s.touch_session("s1", T0 + 10 * MIN).await.unwrap();
    s.touch_session("s1", T0 + 5 * MIN).await.unwrap();
    s.flush().await.unwrap();
    assert_eq!(
        s.session("s1").await.unwrap().unwrap().last_seen_at,
        T0 + 10 * MIN,
        "activity never moves back"
    );
    s.touch_session("s2", T0).await.unwrap();
    // Idle for 30 min or older than 12 h: s3 (idle) and s2 (too old) go, s1 stays.
    let removed = s
        .purge_sessions(T0 + 10 * MIN - 30 * MIN, T0 - 12 * HOUR)
        .await
        .unwrap();
    assert_eq!(removed, 2);
    assert!(s.session("s1").await.unwrap().is_some());
    assert!(s.end_session("s1").await.unwrap());
    assert!(!s.end_session("s1").await.unwrap());
    assert_eq!(s.session("s1").await.unwrap(), None);
}
