//! Criterion benchmarks for sender-ID protection: verdicts per second with 1,000 brands and
//! 5,000 protected IDs, untwist cost with 10 vs 10,000 protected IDs (the index must not scan),
//! and variant generation for the audit. Figures go to BENCHMARKS.md.

use countersign_core::extract::ExtractConfig;
use countersign_core::sender::{
    evaluate, validate_brand, BrandIn, FilterPolicy, Registry, SmsAction,
};
use countersign_core::variants::generate;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SYLLABLES: &[&str] = &[
    "AC", "ME", "NOR", "TH", "WIN", "DO", "CON", "TO", "SO", "FAB", "RI", "KAM", "LIT", "WA", "RE",
    "PRO", "SE", "VAL", "TEK", "ZU",
];

/// A synthetic registry: `brands` brands with `ids_per_brand` alphanumeric IDs each.
fn registry(brands: usize, ids_per_brand: usize) -> Registry {
    let mut rng = fastrand_like(42);
    let x = ExtractConfig::default();
    let mut out = Vec::new();
    let mut used = std::collections::HashSet::new();
    while out.len() < brands {
        let mut ids = Vec::new();
        while ids.len() < ids_per_brand {
            let n = 3 + (rng() % 3) as usize;
            let id: String = (0..n)
                .map(|_| SYLLABLES[(rng() % SYLLABLES.len() as u64) as usize])
                .collect::<String>();
            let id: String = id.chars().take(11).collect();
            if id.len() >= 6 && used.insert(id.clone()) {
                ids.push(id);
            }
        }
        let spec = BrandIn {
            display_names: vec![format!("{} Group", ids[0])],
            sender_ids: ids,
            domains: vec![format!("brand{}.com", out.len())],
            unregistered_policy: SmsAction::Block,
            ..Default::default()
        };
        out.push(
            validate_brand(&format!("b{}", out.len()), spec, &x).expect("valid synthetic brand"),
        );
    }
    Registry::new(out, FilterPolicy::default())
}

fn fastrand_like(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

fn messages(reg: &Registry) -> Vec<(String, String)> {
    let mut ids: Vec<String> = reg
        .brands
        .values()
        .flat_map(|b| b.senders.iter().map(|(_, id)| id.clone()))
        .collect();
    ids.sort();
    let mut out = Vec::new();
    for (i, id) in ids.iter().take(250).enumerate() {
        let look = id.replacen('O', "0", 1);
        out.push((
            id.clone(),
            format!(
                "{id}: your code is {:06}. Never share it.",
                i * 7919 % 1_000_000
            ),
        ));
        out.push((look, "Your account is on hold. Verify now".into()));
        out.push((
            format!("SHOP{}", i % 97),
            "Spring sale: 20% off everything this weekend".into(),
        ));
        out.push((
            "+14155550123".into(),
            format!("Hi, it's Sam. Running late, see you at {}", i % 12 + 1),
        ));
    }
    out
}

fn bench(c: &mut Criterion) {
    let x = ExtractConfig::default();
    let reg = registry(1000, 5);
    assert_eq!(reg.index.protected_count(), 5000);
    let msgs = messages(&reg);
    let mut g = c.benchmark_group("sms_evaluate");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.bench_function("1000_brands_5000_ids_mixed", |b| {
        b.iter(|| {
            for (s, body) in &msgs {
                black_box(evaluate(s, body, &reg, &x));
            }
        })
    });
    let senders: Vec<&String> = msgs.iter().map(|(s, _)| s).collect();
    g.bench_function("1000_brands_5000_ids_sender_only", |b| {
        b.iter(|| {
            for s in &senders {
                black_box(evaluate(s, "", &reg, &x));
            }
        })
    });
    g.finish();

    // The untwist index on the worst case, senders that imitate nothing (every probe misses),
    // with the same queries for 10 and 10,000 protected IDs.
    let mut g = c.benchmark_group("untwist");
    let mut rng = fastrand_like(7);
    let letters: Vec<char> = ('A'..='Z').collect();
    let queries: Vec<String> = (0..1000)
        .map(|_| {
            (0..(6 + rng() % 5))
                .map(|_| letters[(rng() % 26) as usize])
                .collect()
        })
        .collect();
    for n in [10usize, 10_000] {
        let reg = registry(n / 5, 5);
        g.throughput(Throughput::Elements(queries.len() as u64));
        g.bench_with_input(BenchmarkId::new("protected_ids", n), &reg, |b, reg| {
            b.iter(|| {
                for q in &queries {
                    black_box(reg.index.untwist(q));
                }
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("audit");
    let ids = ["ACMEBANK", "NORTHWIND", "CONTOSOBNK", "WGBANK"];
    let per: usize = ids
        .iter()
        .map(|i| generate(i).values().map(Vec::len).sum::<usize>())
        .sum();
    g.throughput(Throughput::Elements(per as u64));
    g.bench_function("generate_variants", |b| {
        b.iter(|| {
            for id in ids {
                black_box(generate(id));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
