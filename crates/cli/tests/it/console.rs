//! The console through HTTP as a browser drives it (pages parsed with a real HTML parser): a
//! single-use sign-in link, sessions, the call screen in the paired pattern — the agent enters
//! the cited text and the verdict turns to WE DID NOT SEND THIS with the call-back action —, the
//! CSRF and same-origin checks, escaping of what a caller said, the live event stream (its first
//! event is the current revision; a claim posted through the API arrives as the next), the
//! analyst's data-path map flagging a stale feed, and the audit log naming the person.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use scraper::{Html, Selector};
use serde_json::{json, Value};

use crate::common::*;

/// A browser: no redirects followed, the session cookie carried by hand.
pub struct Browser {
    agent: ureq::Agent,
    base: String,
    pub cookie: Option<String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub html: Html,
    pub text: String,
}

impl Browser {
    pub fn new(s: &Server) -> Browser {
        Browser {
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(30))
                .build(),
            base: s.base.clone(),
            cookie: None,
        }
    }

    fn answer(r: Result<ureq::Response, ureq::Error>) -> Page {
        let resp = match r {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let status = resp.status();
        let location = resp.header("location").map(str::to_string);
        let set_cookie = resp.header("set-cookie").map(str::to_string);
        let text = resp.into_string().unwrap();
        Page {
            status,
            location,
            set_cookie,
            html: Html::parse_document(&text),
            text,
        }
    }

    fn req(&self, method: &str, path: &str) -> ureq::Request {
        let mut r = self.agent.request(method, &format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            r = r.set("cookie", c);
        }
        r
    }

    pub fn get(&self, path: &str) -> Page {
        Self::answer(self.req("GET", path).call())
    }

    /// A form post from this site (as a browser sends it: `Sec-Fetch-Site: same-origin`).
    fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_from(path, form, "same-origin")
    }

    fn post_from(&self, path: &str, form: &[(&str, &str)], site: &str) -> Page {
        Self::answer(
            self.req("POST", path)
                .set("sec-fetch-site", site)
                .send_form(form),
        )
    }

    /// Sign in with a fresh link for `person` as `role`.
    pub fn sign_in(s: &Server, person: &str, role: &str) -> Browser {
        let link = s.ok(
            "POST",
            "/v1/console/links",
            ADMIN_KEY,
            &json!({"person": person, "role": role}),
        );
        let mut b = Browser::new(s);
        let path = link["path"].as_str().unwrap();
        let page = b.get(path);
        assert_eq!(page.status, 200);
        let token = attr(&page.html, "input[name=token]", "value");
        let signed = b.post("/console/login", &[("token", &token)]);
        assert_eq!(signed.status, 303, "{}", signed.text);
        let cookie = signed.set_cookie.expect("a session cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        b.cookie = Some(cookie.split(';').next().unwrap().to_string());
        // The link was used: it never works again.
        let again = Browser::new(s).post("/console/login", &[("token", &token)]);
        assert_eq!(again.status, 403);
        b
    }
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn text_of(html: &Html, css: &str) -> String {
    html.select(&sel(css))
        .next()
        .unwrap_or_else(|| panic!("no {css}"))
        .text()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn attr(html: &Html, css: &str, name: &str) -> String {
    html.select(&sel(css))
        .next()
        .unwrap_or_else(|| panic!("no {css}"))
        .value()
        .attr(name)
        .unwrap_or_default()
        .to_string()
}

/// The paired pattern: a caller on Maria's account from a number not on file, about to cite a
/// forged card alert.
fn paired_call(s: &Server, now: i64) {
    s.maria_card_alert(now);
    s.ok(
        "POST",
        "/v1/calls",
        AGENT_KEY,
        &json!({"call_id": "CA-PAIRED", "customer_id": "maria", "ani": "+12025550188",
                "dnis": "+18005550199", "intent": "change_phone"}),
    );
}

#[test]
fn the_agent_signs_in_and_the_paired_pattern_ends_in_a_call_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();
    paired_call(&s, now);
    // No session: sent to sign in, and told how.
    let anon = Browser::new(&s);
    let p = anon.get("/console/calls/CA-PAIRED");
    assert_eq!(p.status, 303);
    assert_eq!(
        p.location.as_deref(),
        Some("/console/signin?next=%2Fconsole%2Fcalls%2FCA-PAIRED")
    );
    assert!(anon.get("/console/signin").text.contains("console-login"));
    assert_eq!(anon.get("/").location.as_deref(), Some("/console"));

    let b = Browser::sign_in(&s, "dana", "agent");
    let home = b.get("/console");
    assert_eq!(home.status, 200);
    assert!(
        home.text.contains("CA-PAIRED"),
        "recent calls list the call"
    );
    let found = b.get("/console/find?q=maria");
    assert_eq!(found.location.as_deref(), Some("/console/calls/CA-PAIRED"));

    let page = b.get("/console/calls/CA-PAIRED");
    assert_eq!(page.status, 200);
    assert_eq!(text_of(&page.html, "h1#verdict"), "• NO MESSAGE CITED YET");
    assert!(page
        .html
        .select(&sel("#panel[aria-live=polite]"))
        .next()
        .is_some());
    assert!(
        text_of(&page.html, "table").contains("BESTBUY"),
        "Maria's real alert is listed"
    );
    let csrf = attr(&page.html, "input[name=csrf]", "value");

    // The caller cites the forged text; the agent types it in.
    let quoted =
        "Did you authorise $950 at Apple Store? Call 888-555-0142 <script>alert(1)</script>";
    let when = rfc3339(now - 3_600_000);
    let form = [
        ("csrf", csrf.as_str()),
        ("channel", "sms"),
        ("received_at", when.as_str()),
        ("amount", "$950"),
        ("merchant", "Apple Store"),
        ("callback_number", "888-555-0142"),
        ("text", quoted),
    ];
    // From another site, or without the token: refused, nothing recorded.
    assert_eq!(
        b.post_from("/console/calls/CA-PAIRED/claims", &form, "cross-site")
            .status,
        403
    );
    let mut no_token = form;
    no_token[0].1 = "wrong";
    assert_eq!(
        b.post("/console/calls/CA-PAIRED/claims", &no_token).status,
        403
    );
    let posted = b.post("/console/calls/CA-PAIRED/claims", &form);
    assert_eq!(posted.status, 303, "{}", posted.text);
    assert_eq!(
        posted.location.as_deref(),
        Some("/console/calls/CA-PAIRED#verdict")
    );
    let page = b.get("/console/calls/CA-PAIRED");
    assert_eq!(text_of(&page.html, "h1#verdict"), "✕ WE DID NOT SEND THIS");
    let action = text_of(&page.html, "#action-h");
    assert!(action.contains("number on file"), "{action}");
    let instruction = text_of(&page.html, ".instruction");
    assert!(
        instruction.contains("end this call and call you back"),
        "{instruction}"
    );
    // What the caller said is shown as text, never as markup.
    assert!(text_of(&page.html, ".cited").contains("<script>alert(1)</script>"));
    assert!(page.html.select(&sel("main script")).next().is_none());
    assert!(
        !page.text.contains("<script>alert(1)"),
        "the raw markup never reaches the page"
    );
    // The API agrees: one instruction.
    let call = s.ok("GET", "/v1/calls/CA-PAIRED", AGENT_KEY, &json!(null));
    let last = call["scores"].as_array().unwrap().last().unwrap().clone();
    assert!(
        ["callback", "block"].contains(&last["action"].as_str().unwrap()),
        "{last}"
    );
    assert_eq!(call["claims"][0]["verdict"], "not_sent");

    // The agent records fraud.
    let out = b.post(
        "/console/calls/CA-PAIRED/outcome",
        &[
            ("csrf", csrf.as_str()),
            ("outcome", "fraud"),
            ("note", "caller hung up"),
        ],
    );
    assert_eq!(out.status, 303);
    let call = s.ok("GET", "/v1/calls/CA-PAIRED", AGENT_KEY, &json!(null));
    assert_eq!(call["outcome"]["outcome"], "fraud");
    assert!(call["outcome"]["note"].as_str().unwrap().contains("dana"));
    // Every view of the customer's call is in the audit log under the person's name.
    let audit = s.ok("GET", "/v1/audit-log", ADMIN_KEY, &json!(null));
    assert!(audit.to_string().contains("console:dana"), "{audit}");
    // Agents do not see the analyst screens; signing out ends the session.
    assert_eq!(b.get("/console/sources").status, 403);
    assert_eq!(
        b.post("/console/signout", &[("csrf", csrf.as_str())])
            .status,
        303
    );
    assert_eq!(b.get("/console").status, 303);
}

#[test]
fn the_call_screen_updates_live_and_the_analyst_sees_a_stale_feed() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("d"), None);
    let now = now_ms();
    paired_call(&s, now);
    let b = Browser::sign_in(&s, "ravi", "analyst");
    let resp = b
        .req("GET", "/console/calls/CA-PAIRED/events")
        .call()
        .unwrap();
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    let mut lines = BufReader::new(resp.into_reader()).lines();
    let mut next_event = || {
        let mut ev = (String::new(), String::new(), String::new());
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line.is_empty() && !ev.0.is_empty() {
                return ev;
            }
            if let Some(v) = line.strip_prefix("event: ") {
                ev.0 = v.to_string();
            } else if let Some(v) = line.strip_prefix("id: ") {
                ev.1 = v.to_string();
            } else if let Some(v) = line.strip_prefix("data: ") {
                ev.2.push_str(v);
            }
        }
        panic!("the stream ended");
    };
    let first = next_event();
    let call = s.ok("GET", "/v1/calls/CA-PAIRED", AGENT_KEY, &json!(null));
    assert_eq!(first.0, "panel");
    assert_eq!(
        first.1,
        call["revision"].to_string(),
        "the current revision first"
    );
    assert!(first.2.contains("NO MESSAGE CITED YET"));
    // A claim arrives through the API (an adapter, another desk): the open screen hears of it.
    s.ok(
        "POST",
        "/v1/calls/CA-PAIRED/claims",
        AGENT_KEY,
        &json!({"channel": "sms", "received_at": rfc3339(now - 3_600_000),
                "mentions": {"amount": "$950", "merchant": "Apple Store",
                "callback_number": "888-555-0142"}}),
    );
    let update = next_event();
    assert!(update.1.parse::<u64>().unwrap() > first.1.parse::<u64>().unwrap());
    let fragment = Html::parse_fragment(&update.2);
    assert_eq!(text_of(&fragment, "h1#verdict"), "✕ WE DID NOT SEND THIS");

    // The data-path map: a feed whose watermark is an hour old is flagged first.
    s.ingest(&[sms(
        "statements",
        "s1",
        "maria",
        now - 7_200_000,
        "$1.00",
        "SHOP",
        "4417",
    )]);
    s.watermark("statements", now - 3_600_000, None);
    let map = b.get("/console/sources");
    assert_eq!(map.status, 200);
    let first_row = text_of(&map.html, "tbody tr");
    assert!(first_row.starts_with("statements Stale"), "{first_row}");
    assert!(text_of(&map.html, ".warning").contains("1 feed stale"));
    // Every answer carries the strict policy.
    let resp = b.req("GET", "/console/sources").call().unwrap();
    let csp = resp.header("content-security-policy").unwrap().to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'self'"),
        "{csp}"
    );
    let v: Value = s.ok("GET", "/v1/sources", AGENT_KEY, &json!(null));
    assert_eq!(v[0]["health"], "stale", "the API says the same: {v}");
}
