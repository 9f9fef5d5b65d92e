//! The sender-ID audit on a fixed registry: every variant family must be caught at ≥ 99 %, and
//! legitimate IDs of unrelated organisations (`data/legit_sender_ids.txt`, near misses
//! included) must be reported as lookalikes at most 0.1 % of the time.

use countersign_core::extract::ExtractConfig;
use countersign_core::sender::{validate_brand, BrandIn, FilterPolicy, Registry, SmsAction};
use countersign_core::variants::audit;

pub fn fixed_registry() -> Registry {
    let x = ExtractConfig::default();
    let brands = [
        ("acme", &["ACMEBANK", "ACMEBK"][..], "ACME Bank"),
        ("woodgrove", &["WOODGROVE", "WGBANK"][..], "Woodgrove Bank"),
        (
            "contoso",
            &["CONTOSO", "CONTOSOBNK"][..],
            "Contoso Financial",
        ),
        ("fabrikam", &["FABRIKAM"][..], "Fabrikam"),
        (
            "northwind",
            &["NORTHWIND", "NWTELECOM"][..],
            "Northwind Telecom",
        ),
        ("tailspin", &["TAILSPIN"][..], "Tailspin Toys"),
        ("litware", &["LITWARE"][..], "Litware Insurance"),
        ("adventureworks", &["ADVWORKS"][..], "Adventure Works"),
        ("fourthcoffee", &["FOURTHCOFF"][..], "Fourth Coffee"),
        ("proseware", &["PROSEWARE"][..], "Proseware"),
    ];
    let compiled = brands
        .iter()
        .map(|(name, ids, display)| {
            validate_brand(
                name,
                BrandIn {
                    display_names: vec![display.to_string()],
                    sender_ids: ids.iter().map(|s| s.to_string()).collect(),
                    unregistered_policy: SmsAction::Block,
                    ..Default::default()
                },
                &x,
            )
            .unwrap()
        })
        .collect();
    Registry::new(compiled, FilterPolicy::default())
}

#[test]
fn audit_coverage_and_false_positives_on_a_fixed_registry() {
    let reg = fixed_registry();
    let x = ExtractConfig::default();
    let legit: Vec<String> = countersign_core::variants::LEGIT_SENDER_IDS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect();
    assert!(legit.len() >= 500);
    let mut failures = Vec::new();
    let mut names: Vec<&String> = reg.brands.keys().collect();
    names.sort();
    for name in names {
        let r = audit(&reg, name, Some(&legit), &x).unwrap();
        println!(
            "{}",
            r.render().lines().take(22).collect::<Vec<_>>().join("\n")
        );
        for f in &r.families {
            if f.coverage < 0.99 {
                failures.push(format!(
                    "{name}/{}: {:.1}% (misses {:?})",
                    f.family,
                    100.0 * f.coverage,
                    f.misses
                ));
            }
        }
        let fp = r.false_positives.unwrap();
        if fp.rate > 0.001 {
            failures.push(format!(
                "false positives {:.2}%: {:?}",
                100.0 * fp.rate,
                fp.flagged_ids
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
