// The browser tests' harness: the built `commerce` binary on a free port (memory mode, the
// demo catalog), Debian's Chromium through playwright-core, and axe-core.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const ADMIN_TOKEN = "browser-tests-admin-token-0123456789";
const AXE = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), "node_modules/axe-core/axe.min.js"), "utf8");

/** Starts `commerce --memory` on a free port; resolves once it listens. */
export async function startShop() {
  const bin = process.env.COMMERCE_BIN ?? resolve(root, process.env.CARGO_TARGET_DIR ?? "target", "debug/commerce");
  const child = spawn(bin, ["--memory", "--listen", "127.0.0.1:0"], {
    env: { ...process.env, COMMERCE_ADMIN_TOKEN: ADMIN_TOKEN, COMMERCE_LOG_JSON: "true", RUST_LOG: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${bin} did not start within 60 s`)), 60_000);
    let seen = "";
    const read = (chunk) => {
      seen += chunk;
      for (const line of seen.split("\n")) {
        if (!line.includes("commerce listening")) continue;
        const addr = JSON.parse(line).fields.addr;
        clearTimeout(timer);
        ok(`http://${addr}`);
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.on("exit", (code) => fail(new Error(`${bin} exited with ${code} before listening:\n${seen}`)));
    child.on("error", (e) => fail(new Error(`${bin}: ${e.message} (build it: cargo build -p commerce)`)));
  });
  return { base, stop: () => child.kill("SIGTERM") };
}

/** Debian's Chromium, headless. */
export async function browser() {
  const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
  return chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
}

/** A fresh tab with cookies of its own (its own cart, its own session). */
export async function newTab(chrome, viewport = { width: 1280, height: 800 }) {
  const context = await chrome.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return page;
}

/** A product's state through the JSON API. */
export async function product(base, id) {
  const response = await fetch(`${base}/store/v1/products/${id}`);
  if (!response.ok) throw new Error(`GET product ${id}: ${response.status}`);
  return response.json();
}

/** Sets a product's stock through the admin API. */
export async function setStock(base, id, onHand) {
  const response = await fetch(`${base}/admin/v1/products/${id}/stock`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ on_hand: onHand }),
  });
  if (!response.ok) throw new Error(`PUT stock: ${response.status} ${await response.text()}`);
}

/**
 * The axe-core violations of the page at `url` that are serious or critical. axe runs in
 * a context of its own that may inject scripts past the pages' CSP (the shop's pages
 * themselves run no injected script).
 */
export async function axeViolations(chrome, url, viewport = { width: 1280, height: 800 }) {
  const context = await chrome.newContext({ bypassCSP: true, viewport });
  try {
    const page = await context.newPage();
    await page.goto(url);
    await page.addScriptTag({ content: AXE });
    const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ["violations"] }));
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  } finally {
    await context.close();
  }
}
