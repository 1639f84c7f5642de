// The web storefront as a person uses it, in Debian's Chromium: browse, search, sort and
// filter; a product's stock; buying two with a test card; a declined card; a sold-out
// product; the whole purchase with the keyboard alone; and axe-core on every page.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { axeViolations, browser, newTab, product, setStock, startShop } from "./harness.mjs";

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

const prices = async (page) =>
  (await page.locator(".card .price").allTextContents()).map((t) => Math.round(Number.parseFloat(t) * 100));

/** The available units a product page states ("12 in stock", "Only 3 left"). */
async function statedStock(page) {
  const text = await page.locator(".product .stock").textContent();
  const n = text.match(/\d+/);
  return n ? Number(n[0]) : 0;
}

/** Fills the checkout form and places the order with `card`. */
async function payWith(page, card) {
  await page.getByLabel("E-mail").fill("ada@example.com");
  await page.getByLabel("Full name").fill("Ada Lovelace");
  await page.getByLabel("Address", { exact: true }).fill("12 St James's Square");
  await page.getByLabel("City").fill("London");
  await page.getByLabel("Postal code").fill("SW1Y 4JH");
  await page.getByLabel("Country code (US, DE, ...)").fill("GB");
  await page.getByLabel("Card number").fill(card);
  await page.getByLabel("Expiry month (MM)").fill("12");
  await page.getByLabel("Expiry year (YYYY)").fill("2030");
  await page.getByLabel("Security code").fill("123");
  await page.getByRole("button", { name: "Place order" }).click();
}

/** Opens the cheapest in-stock product of a search and returns its id. */
async function openProduct(page, q) {
  await page.goto(`${shop.base}/products?q=${q}&in_stock=true&sort=price_asc`);
  await page.locator(".card h3 a").first().click();
  await page.waitForURL(/\/products\/[0-9a-f-]{36}$/);
  return page.url().split("/").pop();
}

test("browse, search, sort and filter, and see the list change", async () => {
  const page = await tab();
  await page.goto(shop.base);
  await assert.doesNotReject(page.getByRole("heading", { name: "Collections" }).waitFor());
  await page.getByRole("link", { name: "All products", exact: true }).click();
  const all = await page.locator(".card").count();
  assert.equal(all, 24, "a full first page");

  await page.getByRole("searchbox", { name: "Search products" }).fill("mug");
  await page.getByRole("searchbox", { name: "Search products" }).press("Enter");
  await page.waitForURL(/q=mug/);
  const names = await page.locator(".card h3").allTextContents();
  assert.ok(names.length > 0 && names.every((n) => /mug/i.test(n)), names.join(", "));

  await page.getByLabel("Sort by").selectOption("price_asc");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/sort=price_asc/);
  const ascending = await prices(page);
  assert.deepEqual(ascending, [...ascending].sort((a, b) => a - b), "cheapest first");

  const facet = page.locator(".facet a").first();
  const label = (await facet.textContent()).trim();
  await facet.click();
  await page.waitForURL(/attr\./);
  assert.ok((await page.locator(".card").count()) <= names.length, `filtered by ${label}`);

  await page.getByLabel("Price from").fill("10");
  await page.getByLabel("Price to").fill("20");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/price_from=10/);
  for (const cents of await prices(page)) assert.ok(cents >= 1000 && cents <= 2000, `${cents} in 10-20`);

  // Paging: next then previous lands on the same page.
  await page.goto(`${shop.base}/products?sort=name`);
  const first = await page.locator(".card h3").allTextContents();
  await page.getByRole("link", { name: "Next page" }).click();
  const second = await page.locator(".card h3").allTextContents();
  assert.notDeepEqual(first, second);
  await page.getByRole("link", { name: "Previous page" }).click();
  assert.deepEqual(await page.locator(".card h3").allTextContents(), first);
});

test("buy two with 4242 4242 4242 4242: the confirmation, and the stock goes down by two", async () => {
  const page = await tab();
  const id = await openProduct(page, "tee");
  const before = await statedStock(page);
  assert.equal(before, (await product(shop.base, id)).available_stock);
  await page.getByLabel("Quantity").fill("2");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.waitForURL(/\/cart$/);
  await page.getByRole("link", { name: "Go to checkout" }).click();
  await payWith(page, "4242 4242 4242 4242");
  await page.waitForURL(/\/orders\/[0-9a-f-]{36}\?token=/);
  await assert.doesNotReject(page.getByRole("heading", { name: "Order Confirmed" }).waitFor());

  await page.goto(`${shop.base}/products/${id}`);
  await page.waitForFunction(
    async ([url, expected]) => (await (await fetch(url)).json()).available_stock === expected,
    [`${shop.base}/store/v1/products/${id}`, before - 2],
  );
  await page.reload();
  assert.equal(await statedStock(page), before - 2);
});

test("a declined card shows the decline, keeps the cart and charges nothing", async () => {
  const page = await tab();
  const id = await openProduct(page, "mug");
  const before = (await product(shop.base, id)).available_stock;
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.getByRole("link", { name: "Go to checkout" }).click();
  await payWith(page, "4000 0000 0000 0002");
  await assert.doesNotReject(page.getByRole("alert").filter({ hasText: "Your card was declined." }).waitFor());
  assert.equal(await page.getByLabel("Full name").inputValue(), "Ada Lovelace", "the details stay");
  await page.goto(`${shop.base}/cart`);
  assert.equal(await page.locator("table.cart tbody tr").count(), 1, "the cart is kept");
  assert.equal((await product(shop.base, id)).available_stock, before, "nothing taken");
});

test("a sold-out product cannot be added", async () => {
  const page = await tab();
  const id = await openProduct(page, "sticker");
  await setStock(shop.base, id, 0);
  await page.waitForFunction(
    async (url) => (await (await fetch(url)).json()).available_stock === 0,
    `${shop.base}/store/v1/products/${id}`,
  );
  await page.reload();
  await assert.doesNotReject(page.getByText("Sold out").waitFor());
  assert.equal(await page.getByRole("button", { name: "Add to cart" }).count(), 0);
});

test("the whole purchase works with the keyboard alone", async () => {
  const page = await tab();
  await page.goto(`${shop.base}/products?q=hoodie&in_stock=true`);
  /** Tabs until the focused element matches `predicate` (at most 80 presses). */
  const tabTo = async (description, predicate) => {
    for (let i = 0; i < 80; i += 1) {
      await page.keyboard.press("Tab");
      if (await page.evaluate(predicate)) return;
    }
    assert.fail(`Tab never reached ${description}`);
  };
  await tabTo("the first product", () => document.activeElement?.closest(".card") != null);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/products\/[0-9a-f-]{36}$/);
  await tabTo("Add to cart", () => document.activeElement?.textContent === "Add to cart");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/cart$/);
  await tabTo("Go to checkout", () => document.activeElement?.textContent === "Go to checkout");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/checkout$/);
  const typeInto = async (id, text) => {
    await tabTo(id, new Function(`return document.activeElement?.id === ${JSON.stringify(id)}`));
    await page.keyboard.type(text);
  };
  await typeInto("email", "kay@example.com");
  await typeInto("name", "Kay Board");
  await typeInto("line1", "1 Key Street");
  await typeInto("city", "Typeville");
  await typeInto("postal_code", "12345");
  await typeInto("country", "US");
  await typeInto("card-number", "4242424242424242");
  await typeInto("card-exp-month", "12");
  await typeInto("card-exp-year", "2030");
  await typeInto("card-cvc", "123");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/orders\//);
  await assert.doesNotReject(page.getByRole("heading", { name: "Order Confirmed" }).waitFor());
});

test("every page passes axe-core with no serious or critical violation", async () => {
  const page = await tab();
  const id = await openProduct(page, "tee");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.waitForURL(/\/cart$/);
  const cookies = await page.context().cookies();
  const pages = ["/", "/products", "/products?q=tee&price_from=abc", `/products/${id}`, "/products/unknown"];
  for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
    for (const path of pages) {
      const violations = await axeViolations(chrome, `${shop.base}${path}`, viewport);
      assert.deepEqual(violations, [], `${path} at ${viewport.width}px`);
    }
  }
  // The cart and checkout need the cart's cookie.
  const context = await chrome.newContext({ bypassCSP: true });
  await context.addCookies(cookies);
  for (const path of ["/cart", "/checkout"]) {
    const withCart = await context.newPage();
    await withCart.goto(`${shop.base}${path}`);
    await withCart.addScriptTag({ path: new URL("./node_modules/axe-core/axe.min.js", import.meta.url).pathname });
    const result = await withCart.evaluate(() => globalThis.axe.run(document, { resultTypes: ["violations"] }));
    const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(serious.map((v) => `${v.id}: ${v.help}`), [], path);
  }
  await context.close();
});

test("GraphiQL loads from the shop alone, under its policy", async () => {
  const page = await tab();
  const violations = [];
  const external = [];
  page.on("console", (m) => m.type() === "error" && violations.push(m.text()));
  page.on("request", (r) => !r.url().startsWith(shop.base) && external.push(r.url()));
  page.on("response", (r) => r.status() >= 400 && violations.push(`${r.status()} ${r.url()}`));
  await page.goto(`${shop.base}/store/graphql`);
  await assert.doesNotReject(page.locator(".graphiql-container").waitFor());
  await page.locator(".graphiql-query-editor .CodeMirror").first().click();
  await page.keyboard.press("Control+A");
  await page.keyboard.type("{ collections { name } }");
  await page.getByRole("button", { name: /Execute query/ }).first().click();
  await assert.doesNotReject(page.locator(".graphiql-response").getByText('"collections"').waitFor());
  assert.deepEqual(external, [], "no request leaves the shop");
  assert.deepEqual(violations, [], "no console error (a blocked script or style would be one)");
});

test("a card that asks for 3-D Secure: the bank's page, then the order confirmed or not", async () => {
  for (const [answer, heading] of [["Confirm payment", "Order Confirmed"], ["Refuse payment", "Order Not completed"]]) {
    const page = await tab();
    await openProduct(page, "cap");
    await page.getByRole("button", { name: "Add to cart" }).click();
    await page.getByRole("link", { name: "Go to checkout" }).click();
    await payWith(page, "4000 0025 0000 3155");
    await page.waitForURL(/\/orders\/[0-9a-f-]{36}\?token=/);
    await assert.doesNotReject(page.getByRole("heading", { name: "Order Waiting for your bank" }).waitFor());
    await page.getByRole("link", { name: "Confirm the payment with your bank" }).click();
    await page.waitForURL(/\/simulator\/3ds\//);
    await assert.doesNotReject(page.getByRole("heading", { name: "Confirm your payment" }).waitFor());
    await page.getByRole("button", { name: answer }).click();
    await page.waitForURL(/\/orders\/[0-9a-f-]{36}\?token=/);
    await assert.doesNotReject(page.getByRole("heading", { name: heading }).waitFor(), answer);
  }
});
