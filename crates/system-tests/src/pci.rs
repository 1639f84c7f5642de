//! The PCI check: after checkouts with distinctive test cards (normal and malformed),
//! the card numbers and the CVC must appear nowhere the system keeps data: no database
//! table, Redis key, broker topic, log line or stored response.

use std::{path::Path, process::Command};

use serde_json::{Value, json};

/// A card that pays (Luhn-valid Visa test number), a card that is declined, and a number
/// failing the Luhn check. None is used by any other test, so any sighting comes from here.
pub const CARDS: [&str; 3] = ["4000 0566 5566 5556", "4000 0000 0000 0002", "4000 0566 5566 5557"];

/// The security code sent with every card of the check. Its leading zero keeps it apart
/// from numbers a dump holds anyway (a product at version 739 wrote `\t739\t`).
pub const CVC: &str = "073";

/// Checkout bodies carrying the cards: normal ones, and malformed ones that put card
/// data where it does not belong (a number as the CVC, the CVC as a JSON number, the
/// number in the e-mail field, a card with an unknown field).
pub fn checkouts(product: &str) -> Vec<Value> {
    let card = |number: &str, cvc: Value| json!({"number": number, "exp_month": 12, "exp_year": 2030, "cvc": cvc});
    let body = |card: Value, email: &str| json!({"email": email, "items": [{"product_id": product, "quantity": 1}], "card": card});
    let mut bodies: Vec<Value> = CARDS.iter().map(|n| body(card(n, json!(CVC)), "pci@example.com")).collect();
    bodies.push(body(card(CARDS[0], json!(CARDS[0])), "pci@example.com"));
    bodies.push(body(card(CARDS[0], json!(73)), "pci@example.com"));
    bodies.push(body(card(CARDS[0], json!(CVC)), &format!("{}@example.com", CARDS[0].replace(' ', ""))));
    let mut extra = card(CARDS[1], json!(CVC));
    extra["pan"] = json!(CARDS[1]);
    bodies.push(body(extra, "pci@example.com"));
    bodies
}

/// Every way `text` might hold the check's card data: each number with or without
/// spaces, and the CVC as a value (a JSON string, a column of a dump, or next to a `cvc`
/// key). Returns what was found.
pub fn card_data_in(text: &str) -> Vec<String> {
    let mut needles = vec![];
    for number in CARDS {
        needles.push(number.to_owned());
        needles.push(number.replace(' ', ""));
    }
    for wrap in ["\"{}\"", "\t{}\t", "\t{}\n", "'{}'"] {
        needles.push(wrap.replace("{}", CVC));
    }
    let mut found: Vec<String> = needles.into_iter().filter(|n| text.contains(n.as_str())).collect();
    let lower = text.to_lowercase();
    for (at, _) in lower.match_indices("cvc") {
        let after: String = lower[at + 3..].chars().take(12).collect();
        // The CVC as written, or as the JSON number a malformed body sent (73).
        if after.contains(CVC) || after.contains(CVC.trim_start_matches('0')) {
            found.push(format!("cvc{after}"));
        }
    }
    found
}

/// Every row of the database at `url`, as `pg_dump` writes them.
pub fn database(url: &str) -> String {
    let out = Command::new("pg_dump")
        .args(["--data-only", "--no-owner", url])
        .output()
        .unwrap_or_else(|e| panic!("pg_dump must be installed: {e}"));
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn redis_cli(url: &str, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-u")
        .arg(url)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("redis-cli must be installed: {e}"));
    assert!(out.status.success(), "redis-cli {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every key under `namespace` (the inventory service's `{namespace}:` prefix) with its
/// value, whatever its type.
pub fn redis(url: &str, namespace: &str) -> String {
    let pattern = format!("{{{namespace}}}:*");
    let mut dump = String::new();
    for key in redis_cli(url, &["--scan", "--pattern", &pattern]).lines().filter(|k| !k.is_empty()) {
        let value = match redis_cli(url, &["TYPE", key]).trim() {
            "hash" => redis_cli(url, &["HGETALL", key]),
            "stream" => redis_cli(url, &["XRANGE", key, "-", "+"]),
            "zset" => redis_cli(url, &["ZRANGE", key, "0", "-1"]),
            "list" => redis_cli(url, &["LRANGE", key, "0", "-1"]),
            "set" => redis_cli(url, &["SMEMBERS", key]),
            _ => redis_cli(url, &["GET", key]),
        };
        dump.push_str(key);
        dump.push('\n');
        dump.push_str(&value);
    }
    dump
}

/// Every file in `dir` (the processes' logs).
pub fn logs(dir: &Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        all.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_the_card_data_is_found() {
        assert_eq!(card_data_in("order 0192-4000 paid, last4 5556"), Vec::<String>::new());
        assert!(!card_data_in(r#"{"number":"4000056655665556"}"#).is_empty());
        assert!(!card_data_in("card 4000 0566 5566 5556 refused").is_empty());
        assert!(!card_data_in(r#"{"cvc":"073"}"#).is_empty());
        assert!(!card_data_in(r#"{"cvc":73}"#).is_empty(), "the malformed body's number");
        assert!(!card_data_in("cvc=073").is_empty());
        assert!(!card_data_in("cvc: 073").is_empty());
        assert!(!card_data_in("x\t073\tY").is_empty(), "a dumped column");
        assert_eq!(card_data_in("elapsed_ms=073 at 08:07:39"), Vec::<String>::new(), "not every 073");
        assert_eq!(card_data_in("x\t739\t1\t73\tY"), Vec::<String>::new(), "numbers a dump holds anyway");
    }
}
