//! A smishing report validated, its indicators read, and clustered.
#![no_main]

use countersign_core::campaign::{indicators, Campaigns, ClusterConfig};
use countersign_core::report::{names_sender, validate_report, ReportIn};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = serde_json::from_slice::<ReportIn>(data) else {
        return;
    };
    let x = countersign_core::extract::ExtractConfig::default();
    let Ok(r) = validate_report(&raw, common::NOW, &x, 128) else {
        return;
    };
    let _ = names_sender(&r, &x);
    if let Some(body) = &r.body {
        let ind = indicators(body, &["ACME Bank".to_string()], &x);
        let mut c = Campaigns::new(ClusterConfig::default());
        let a = c.assign(&ind, r.customer_id.as_deref(), r.received_at);
        assert_eq!(c.assign(&ind, None, r.received_at).campaign_id, a.campaign_id);
    }
});
