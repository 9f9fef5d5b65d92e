//! `countersign bench`: benchmarks that drive the real server over loopback HTTP and the bare
//! storage engine, and print figures for BENCHMARKS.md.

#[derive(clap::Args)]
pub struct BenchArgs {}

pub fn run(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
