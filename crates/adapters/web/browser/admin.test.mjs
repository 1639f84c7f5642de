// The admin console in Debian's Chromium: an operator signs in, creates a product and sets
// its stock, and a shopper finds it; the operator fulfils the shopper's order and the
// shopper's status page shows it shipped. axe-core checks the console's pages.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN_TOKEN, axeViolations, browser, newTab, startShop } from "./harness.mjs";

let shop;
let chrome;

before(async () => {
  shop = await startShop();
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  shop?.stop();
});

const tab = () => newTab(chrome);

async function signIn(page) {
  await page.goto(`${shop.base}/admin/`);
  await page.waitForURL(/\/admin\/sign-in$/);
  await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/admin\/products$/);
}

test("an admin creates a product and sets its stock, and a shopper finds it", async () => {
  const admin = await tab();
  await signIn(admin);
  await admin.getByRole("link", { name: "New product" }).click();
  await admin.getByLabel("SKU").fill("LAMP-OWL-1");
  await admin.getByLabel("Name", { exact: true }).fill("Owl reading lamp");
  await admin.getByLabel("Description").fill("A brass lamp shaped like an owl.");
  await admin.getByLabel("Price", { exact: true }).fill("64.00");
  await admin.getByLabel("Attributes (one name=value per line)").fill("colour=brass");
  await admin.getByLabel("Status", { exact: true }).selectOption("active");
  await admin.getByRole("button", { name: "Create product" }).click();
  await admin.waitForURL(/\/admin\/products\/[0-9a-f-]{36}\?saved=1$/);
  await admin.getByLabel("Units in stock").fill("9");
  await admin.getByRole("button", { name: "Set stock" }).click();
  await assert.doesNotReject(admin.getByText("9 available, 0 reserved").waitFor());
  // The console's list finds it by part of its SKU.
  await admin.goto(`${shop.base}/admin/products`);
  await admin.getByRole("searchbox", { name: "Find by name or SKU" }).fill("owl-1");
  await admin.getByRole("button", { name: "Search" }).click();
  await assert.doesNotReject(admin.getByRole("link", { name: "Owl reading lamp" }).waitFor());

  const shopper = await tab();
  await shopper.goto(shop.base);
  await shopper.getByRole("searchbox", { name: "Search products" }).fill("owl lamp");
  await shopper.getByRole("searchbox", { name: "Search products" }).press("Enter");
  await shopper.getByRole("link", { name: "Owl reading lamp" }).click();
  await assert.doesNotReject(shopper.getByText("9 in stock").waitFor());
  assert.ok((await shopper.locator(".product .price").textContent()).includes("64.00 USD"));
});

test("the admin fulfils an order and the shopper's status page shows it", async () => {
  const shopper = await tab();
  await shopper.goto(`${shop.base}/products?q=mug&in_stock=true`);
  await shopper.locator(".card h3 a").first().click();
  await shopper.getByRole("button", { name: "Add to cart" }).click();
  await shopper.getByRole("link", { name: "Go to checkout" }).click();
  await shopper.getByLabel("E-mail").fill("grace@example.com");
  await shopper.getByLabel("Card number").fill("4242 4242 4242 4242");
  await shopper.getByLabel("Expiry month (MM)").fill("12");
  await shopper.getByLabel("Expiry year (YYYY)").fill("2030");
  await shopper.getByLabel("Security code").fill("123");
  await shopper.getByRole("button", { name: "Place order" }).click();
  await shopper.waitForURL(/\/orders\/[0-9a-f-]{36}\?token=/);
  const orderId = new URL(shopper.url()).pathname.split("/").pop();

  const admin = await tab();
  await signIn(admin);
  await admin.getByRole("link", { name: "Orders" }).click();
  await admin.getByLabel("Status").selectOption("paid");
  await admin.getByRole("button", { name: "Filter" }).click();
  await admin.getByRole("link", { name: orderId }).click();
  await admin.getByRole("button", { name: "Fulfil (ship everything)" }).click();
  await assert.doesNotReject(admin.locator(".order-status").filter({ hasText: "fulfilled" }).waitFor());

  await shopper.reload();
  await assert.doesNotReject(shopper.getByRole("heading", { name: "Order Shipped" }).waitFor());
});

test("the console's pages pass axe-core", async () => {
  const page = await tab();
  await signIn(page);
  const cookies = await page.context().cookies();
  const firstProduct = await page.locator("table a").first().getAttribute("href");
  await page.goto(`${shop.base}/admin/orders`);
  const firstOrder = await page.locator("table a").first().getAttribute("href");
  assert.deepEqual(await axeViolations(chrome, `${shop.base}/admin/sign-in`), []);
  const context = await chrome.newContext({ bypassCSP: true });
  await context.addCookies(cookies);
  const axe = new URL("./node_modules/axe-core/axe.min.js", import.meta.url).pathname;
  for (const path of ["/admin/products", "/admin/products/new", firstProduct, "/admin/collections", "/admin/orders", firstOrder]) {
    const view = await context.newPage();
    await view.goto(`${shop.base}${path}`);
    await view.addScriptTag({ path: axe });
    const result = await view.evaluate(() => globalThis.axe.run(document, { resultTypes: ["violations"] }));
    const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(serious.map((v) => `${v.id}: ${v.help} at ${v.nodes.map((n) => n.target).join(", ")}`), [], path);
  }
  await context.close();
});

test("no admin page is reachable without signing in", async () => {
  const page = await tab();
  for (const path of ["/admin/", "/admin/products", "/admin/products/new", "/admin/orders"]) {
    await page.goto(`${shop.base}${path}`);
    assert.match(page.url(), /\/admin\/sign-in$/, path);
  }
});
