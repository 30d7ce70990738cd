//! Reading a policy file, by its size: the cost must grow with the file, not its square (each
//! object's line number and each shared role name are looked up, not searched for).
//!
//! `cargo bench --features policy --bench policy`: files of 1,000 and 10,000 stores, roles
//! and users each (about 0.2 and 2 MB); the ratio of the two medians should be near 10.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion};
use shopguard::catalog::pos::Pos;
use shopguard::policy::Policy;

/// A file of `n` stores, `n` roles all called `Clerk` and `n` users, each user's grant naming
/// a store.
fn crowded_file(n: usize) -> String {
    let mut text = String::from("[account]\nid = 1\nname = \"Shop\"\n");
    for i in 0..n {
        text.push_str(&format!(
            "[[stores]]\nid = {}\nname = \"S{i}\"\n",
            10_000 + i
        ));
    }
    text.push_str("[[roles]]\nid = 1\nname = \"Admin\"\nlevel = 1\npermissions = \"all\"\n");
    for i in 0..n {
        text.push_str(&format!(
            "[[roles]]\nid = {}\nname = \"Clerk\"\nlevel = 3\npermissions = [\"SELL\"]\n",
            100_000 + i
        ));
    }
    for i in 0..n {
        text.push_str(&format!(
            "[[users]]\nid = {}\nusername = \"u{i}\"\nemail = \"u{i}@shop.example\"\nrole = \"Admin\"\nstores = [\"S{i}\"]\n",
            1_000_000 + i
        ));
    }
    text
}

fn read(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy_read");
    group.sample_size(10);
    for n in [1_000usize, 10_000] {
        let text = crowded_file(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| Policy::<Pos>::from_toml(black_box(text)).map(|p| p.users().len()))
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    read(&mut c);
    c.final_summary();
}
