// Screenshots of the main pages at desktop and phone width, into docs/screenshots/
// (shown in the README). Run by scripts/screenshots against a fresh `commerce --memory`.
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ADMIN_TOKEN, browser, startShop } from "./harness.mjs";

const out = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../docs/screenshots");
mkdirSync(out, { recursive: true });
const widths = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };

const shop = await startShop();
const chrome = await browser();
try {
  for (const [device, viewport] of Object.entries(widths)) {
    const context = await chrome.newContext({ viewport, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const shot = async (name) => {
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: `${out}/${name}-${device}.png` });
    };
    await page.goto(shop.base);
    await shot("home");
    await page.goto(`${shop.base}/products?q=tee&in_stock=true&sort=price_asc&attr.colour=red`);
    await shot("products");
    await page.locator(".card h3 a").first().click();
    await page.waitForURL(/\/products\/[0-9a-f-]{36}$/);
    await shot("product");
    await page.getByLabel("Quantity").fill("2");
    await page.getByRole("button", { name: "Add to cart" }).click();
    await page.waitForURL(/\/cart$/);
    await shot("cart");
    await page.getByRole("link", { name: "Go to checkout" }).click();
    await page.getByLabel("E-mail").fill("ada@example.com");
    await page.getByLabel("Full name").fill("Ada Lovelace");
    await page.getByLabel("Address", { exact: true }).fill("12 St James's Square");
    await page.getByLabel("City").fill("London");
    await page.getByLabel("Postal code").fill("SW1Y 4JH");
    await page.getByLabel("Country code (US, DE, ...)").fill("GB");
    await page.getByLabel("Card number").fill("4242 4242 4242 4242");
    await page.getByLabel("Expiry month (MM)").fill("12");
    await page.getByLabel("Expiry year (YYYY)").fill("2030");
    await page.getByLabel("Security code").fill("123");
    await shot("checkout");
    await page.getByRole("button", { name: "Place order" }).click();
    await page.waitForURL(/\/orders\//);
    await shot("order");
    // The console: sign in, then the products and the order just placed.
    const orderId = new URL(page.url()).pathname.split("/").pop();
    await page.goto(`${shop.base}/admin/sign-in`);
    await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/admin\/products$/);
    await shot("admin-products");
    await page.goto(`${shop.base}/admin/orders/${orderId}`);
    await shot("admin-order");
    await context.close();
  }
} finally {
  await chrome.close();
  shop.stop();
}
console.log(`screenshots written to ${out}`);
