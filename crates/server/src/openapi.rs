//! The OpenAPI 3.1 document, generated from the handlers' and types' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key with the scope the endpoint needs: ingest, agent or admin.",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Countersign", description = "Did we send this? A ledger of every notification the institution sent, and claim verification against it."),
    paths(
        crate::ingest::post_notifications,
        crate::ingest::post_status,
        crate::ingest::post_watermark,
        crate::query::get_sources,
        crate::query::post_verify,
        crate::query::get_timeline,
        crate::query::get_audit_log,
        crate::calls::post_call,
        crate::calls::get_call,
        crate::calls::post_claim,
        crate::calls::post_outcome,
        crate::calls::post_account_events,
        crate::adapters::twilio_voice,
        crate::adapters::connect,
        crate::adapters::genesys,
        crate::calls::get_policy,
        crate::calls::get_surge,
        crate::smish::post_report,
        crate::smish::list_campaigns,
        crate::smish::get_campaign,
        crate::smish::post_status,
        crate::smish::get_indicators,
        crate::alerts::get_alerts,
        crate::alerts::mark_alert,
        crate::alerts::get_outbox,
        crate::calls::reload_policy,
        crate::customers::put_customer,
        crate::customers::post_customers,
        crate::customers::get_customer,
        crate::sms::put_brand,
        crate::sms::list_brands,
        crate::sms::get_brand,
        crate::sms::delete_brand,
        crate::sms::post_evaluate,
        crate::sms::get_variants,
        crate::ops::healthz,
        crate::ops::readyz,
        crate::ops::metrics,
        crate::ops::openapi_json,
    ),
    modifiers(&Security),
    tags(
        (name = "ledger", description = "Feeding the notification ledger"),
        (name = "verification", description = "Did we send this?"),
        (name = "calls", description = "Inbound-call risk scoring"),
        (name = "adapters", description = "Contact-centre platforms in their own shapes"),
        (name = "customers", description = "Customer profiles: numbers and e-mails on file"),
        (name = "sender-ids", description = "Brand registry, SMS verdicts, lookalike audit"),
        (name = "campaigns", description = "Smishing reports clustered into campaigns"),
        (name = "alerts", description = "Customer education alerts: the app's feed and the webhook"),
        (name = "operations", description = "Health, metrics, audit"),
    )
)]
pub struct ApiDoc;
