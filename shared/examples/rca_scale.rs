//! Root-cause localisation at scale: 100,000 leaves over 10 dimensions (2 to 50 values each),
//! one cause (`d2=v1&d5=v3` at 40%). Prints the causes found and the time taken.
//!
//! `cargo run --release -p seismo-shared --example rca_scale`

use seismo_shared::rca::{Leaves, RcaOptions, localize, notation};

fn main() {
    const CARDINALITIES: [u64; 10] = [2, 3, 4, 5, 6, 8, 10, 12, 20, 50];
    let mut leaves = Leaves::new((0..10).map(|d| format!("d{d}")).collect());
    let mut k = 0u64;
    for i in 0..100_000u64 {
        // A linear congruential generator: the same leaves every run.
        k = k
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let values: Vec<String> = CARDINALITIES
            .iter()
            .enumerate()
            .map(|(d, n)| format!("v{}", (k >> (d * 5)) % n))
            .collect();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let expected = 50.0 + (i % 13) as f64;
        let actual = if values[2] == "v1" && values[5] == "v3" {
            expected * 0.4
        } else {
            expected
        };
        leaves.push(&values, actual, expected);
    }
    let started = std::time::Instant::now();
    let causes = localize(&leaves, &RcaOptions::default());
    println!(
        "{} leaves x {} dimensions: causes {} in {:.2} s",
        leaves.len(),
        leaves.dimensions.len(),
        notation(&causes, &leaves),
        started.elapsed().as_secs_f64()
    );
}
