// The checkout's card step: the card goes to the card processor's tokenisation endpoint
// (data-tokenize-url, Stripe's form shape, with data-tokenize-key as Stripe.js sends its
// publishable key), and only the token it answers is posted to the
// shop. The card inputs have no name, so the browser never posts them. One submission per
// click: the button is disabled until the answer.
"use strict";
(function () {
  const form = document.getElementById("checkout");
  if (!form) return;
  const button = document.getElementById("place-order");
  const status = document.getElementById("card-status");
  const token = document.getElementById("payment_method");
  const field = (id) => document.getElementById(id);
  let busy = false;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    button.disabled = true;
    status.textContent = "Checking your card…";
    const body = new URLSearchParams({
      type: "card",
      "card[number]": field("card-number").value.replace(/\s+/g, ""),
      "card[exp_month]": field("card-exp-month").value.trim(),
      "card[exp_year]": field("card-exp-year").value.trim(),
      "card[cvc]": field("card-cvc").value.trim(),
    });
    // A processor on its own origin (Stripe) knows the shop by its publishable key.
    if (form.dataset.tokenizeKey) body.set("key", form.dataset.tokenizeKey);
    try {
      const response = await fetch(form.dataset.tokenizeUrl, { method: "POST", body, credentials: "omit" });
      const answer = await response.json();
      if (!response.ok || !answer.id) {
        const message = answer && answer.error && answer.error.message;
        status.textContent = message ? "Card: " + message : "Your card could not be checked. Please try again.";
        busy = false;
        button.disabled = false;
        field("card-number").focus();
        return;
      }
      token.value = answer.id;
      status.textContent = "Placing your order…";
      form.submit();
    } catch (e) {
      status.textContent = "The card processor could not be reached. Please try again.";
      busy = false;
      button.disabled = false;
    }
  });
})();
