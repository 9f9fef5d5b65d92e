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
        (name = "exercises", description = "Exercise runs: removing what one wrote"),
        (name = "operations", description = "Health, metrics, audit"),
        (name = "console", description = "Sign-in links for the people who use the console"),
    )
)]
pub struct ApiDoc;

/// The whole document, built once from the routes.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut api = crate::api_routes().split_for_parts().1;
        document_common_problems(&mut api);
        api
    })
}

/// The problems every operation can answer by construction, documented on each one that does
/// not already say more: the `Auth` extractor (401, and 429 over the key's budget) and scopes
/// (403) on every secured operation, the store (503); the body extractors (408, 413, 415, 422)
/// where there is a body; the `Query`/`Path` extractors (422) where there are parameters; an
/// unknown resource (404) where the path names one. So a generated client knows every status it
/// can meet.
fn document_common_problems(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::Operation;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = |what: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in api.paths.paths.iter_mut() {
        let named = path.contains('{');
        let ops: [&mut Option<Operation>; 4] = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let mut add = |code: &str, what: &str| {
                op.responses
                    .responses
                    .entry(code.to_string())
                    .or_insert_with(|| problem(what));
            };
            if secured {
                add("401", "`unauthorized`: no API key, or not a valid one");
                add(
                    "403",
                    "`forbidden`: the key lacks the scope this operation needs",
                );
                add(
                    "429",
                    "`rate_limited`: the key is over its request budget; `Retry-After` says when",
                );
                add(
                    "503",
                    "`store_unavailable`: the store failed; nothing was acknowledged, retry",
                );
            }
            if op.request_body.is_some() {
                add("408", "`body_timeout`: the body did not arrive in time");
                add("413", "`body_too_large`, `too_many_records`");
                add("415", "`unsupported_media_type`");
                add(
                    "422",
                    "`malformed_json`, `invalid_request` or a field's own code",
                );
            }
            if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) || named {
                add(
                    "422",
                    "`invalid_query`, `invalid_path` or a parameter's own code",
                );
            }
            if named {
                add("404", "the resource the path names does not exist");
            }
        }
    }
}
