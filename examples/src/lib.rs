//! Examples live in `examples/*.rs`; run `cargo run -p commerce-examples --example quickstart`.
