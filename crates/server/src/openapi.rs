//! The OpenAPI 3.1 document: the info, tags and security here; the paths come from the routes
//! themselves (each resource module's `routes()`, registered with `utoipa-axum`), so the
//! document and the router cannot drift.

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

/// The whole document, built once from the routes.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(|| crate::api_routes().split_for_parts().1)
}
