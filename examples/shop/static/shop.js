// The shop's own small JavaScript: every page's data goes through the JSON API, so the browser
// tag (rum.js) sees the same requests an API client makes. No framework, no build step.
(function () {
  "use strict";
  var SHOP = window.SHOP || { version: 1, skipQuote: false };
  var $ = function (sel) { return document.querySelector(sel); };
  var tid = function (id) { return document.querySelector('[data-testid="' + id + '"]'); };

  function track(name, props) {
    if (window.trodden && window.trodden.track) window.trodden.track(name, props || {});
  }

  // JSON API call; resolves to {status, body}. Names the browser session for the shop's spans.
  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (window.trodden && window.trodden.sessionId) headers["X-Trodden-Session"] = window.trodden.sessionId;
    return fetch(path, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      if (r.status === 204) return { status: 204, body: null };
      return r.json().then(function (b) { return { status: r.status, body: b }; },
                           function () { return { status: r.status, body: null }; });
    });
  }

  function errorText(body) {
    if (!body) return "Something went wrong";
    if (body.error && body.error.message) return body.error.message;
    return body.message || "Something went wrong";
  }

  function flash(text) {
    var el = tid("flash");
    el.textContent = text;
    el.hidden = false;
  }

  function money(n) { return Number(n).toFixed(2); }

  function setCartCount(cart) { var c = tid("cart-count"); if (c && cart) c.textContent = cart.units; }

  function productItem(p) {
    var li = document.createElement("li");
    li.className = "card";
    var a = document.createElement("a");
    a.href = p.url;
    a.textContent = p.name;
    a.setAttribute("data-testid", "product-link-" + p.sku);
    li.appendChild(a);
    li.appendChild(document.createTextNode(" " + money(p.price) + (p.in_stock ? "" : " (out of stock)")));
    return li;
  }

  var pages = {
    catalogue: function () {
      var params = new URLSearchParams(window.location.search);
      var query = new URLSearchParams();
      ["q", "category", "max_price", "sort"].forEach(function (k) { if (params.get(k)) query.set(k, params.get(k)); });
      api("GET", "/api/products" + (query.toString() ? "?" + query.toString() : "")).then(function (r) {
        var list = tid("results");
        if (r.status !== 200) { flash(errorText(r.body)); return; }
        tid("result-count").textContent = r.body.total + " products";
        r.body.items.forEach(function (p) { list.appendChild(productItem(p)); });
        if (params.get("q")) track("search", { q: params.get("q"), results: r.body.total });
      });
    },

    product: function () {
      var sku = $("article.product").getAttribute("data-sku");
      api("GET", "/api/products/" + encodeURIComponent(sku)).then(function (r) {
        if (r.status === 200) r.body.related.forEach(function (p) { tid("related").appendChild(productItem(p)); });
      });
      tid("add-to-cart").addEventListener("click", function () {
        var qty = parseInt(tid("quantity").value, 10);
        api("POST", "/api/cart/items", { sku: sku, quantity: qty }).then(function (r) {
          if (r.status === 201) { setCartCount(r.body.cart); flash("Added to cart"); track("add_to_cart", { sku: sku, quantity: qty }); }
          else { flash(errorText(r.body)); track("add_to_cart_failed", { sku: sku, status: r.status }); }
        });
      });
      var wish = document.querySelector(".wishlist");
      if (wish) wish.addEventListener("click", function (ev) {
        ev.preventDefault();
        api("POST", "/api/wishlist", { sku: sku }).then(function (r) {
          flash(r.status === 201 ? "Saved to your wishlist" : errorText(r.body));
          if (r.status === 201) track("wishlist_add", { sku: sku });
        });
      });
    },

    cart: function () {
      function render(cart) {
        var body = tid("cart-lines");
        body.innerHTML = "";
        cart.items.forEach(function (line) {
          var tr = document.createElement("tr");
          tr.innerHTML = "<td></td><td></td><td></td><td><button type='button'>Remove</button></td>";
          tr.children[0].textContent = line.name;
          tr.children[1].textContent = "× " + line.quantity;
          tr.children[2].textContent = money(line.line_total);
          var btn = tr.querySelector("button");
          btn.setAttribute("data-testid", "remove-" + line.sku);
          btn.addEventListener("click", function () {
            api("DELETE", "/api/cart/items/" + encodeURIComponent(line.sku)).then(function (r) {
              if (r.status === 200) render(r.body.cart); else flash(errorText(r.body));
            });
          });
          body.appendChild(tr);
        });
        tid("applied-codes").textContent = cart.codes.map(function (c) { return c.code; }).join(", ");
        tid("cart-subtotal").textContent = money(cart.subtotal);
        tid("cart-discount").textContent = money(cart.discount);
        tid("cart-shipping").textContent = money(cart.shipping);
        tid("cart-total").textContent = money(cart.total) + " " + cart.currency;
        tid("region-select").value = cart.region;
        setCartCount(cart);
      }
      api("GET", "/api/cart").then(function (r) { if (r.status === 200) render(r.body.cart); });
      tid("region-select").addEventListener("change", function (ev) {
        api("PUT", "/api/cart/region", { region: ev.target.value }).then(function (r) {
          if (r.status === 200) render(r.body.cart); else flash(errorText(r.body));
        });
      });
      $("#code-form").addEventListener("submit", function (ev) {
        ev.preventDefault();
        var code = tid("discount-code").value;
        api("POST", "/api/cart/codes", { code: code }).then(function (r) {
          if (r.status === 200) { render(r.body.cart); flash("Code applied"); track("discount_applied", { code: r.body.applied.code }); }
          else { flash(errorText(r.body)); track("discount_rejected", { status: r.status }); }
        });
      });
    },

    checkout: function () {
      api("GET", "/api/cart").then(function (r) {
        if (r.status === 200) tid("checkout-total").textContent = "Total " + money(r.body.cart.total) + " " + r.body.cart.currency;
      });
      $("#checkout-form").addEventListener("submit", function (ev) {
        ev.preventDefault();
        var f = ev.target.elements;
        var payments = [];
        if (f.gift_card.value.trim()) payments.push({ method: "gift_card", code: f.gift_card.value.trim() });
        payments.push({ method: "card", token: f.card.value });
        var order = {
          address: { name: f.name.value, line1: f.line1.value, city: f.city.value, postcode: f.postcode.value, country: f.country.value },
          billing_country: f.billing_country.value,
          payments: payments
        };
        if (f.email) order.email = f.email.value;
        var err = tid("checkout-error");
        err.hidden = true;
        // Version 1 asks for a quote first and places the order against it.
        var quoted = SHOP.skipQuote ? Promise.resolve(null) : api("POST", "/api/checkout/quote", {});
        quoted.then(function (q) {
          if (q && q.status !== 200) throw q;
          if (q) order.quote_id = q.body.quote.id;
          return api("POST", "/api/checkout", order);
        }).then(function (r) {
          if (r.status === 201) {
            track("order_placed", { total: r.body.order.total, status: r.body.order.status });
            window.location.assign("/orders/" + r.body.order.id);
            return;
          }
          if (r.status === 402) track("payment_declined", { code: r.body.error.decline_code });
          err.textContent = errorText(r.body);
          err.hidden = false;
        }, function (r) { err.textContent = errorText(r && r.body); err.hidden = false; });
      });
    },

    order: function () {
      var id = tid("order").getAttribute("data-order-id");
      api("GET", "/api/orders/" + encodeURIComponent(id)).then(function (r) {
        if (r.status !== 200) { flash(errorText(r.body)); return; }
        tid("order-status").textContent = r.body.order.status;
        tid("order-total").textContent = money(r.body.order.total) + " " + r.body.order.currency;
        tid("estimated-delivery").textContent = r.body.order.estimated_delivery || "unknown";
      });
    },

    account: function () {
      var err = tid("account-error");
      function submit(formId, path, fields) {
        var form = $(formId);
        if (!form) return;
        form.addEventListener("submit", function (ev) {
          ev.preventDefault();
          var body = {};
          fields.forEach(function (k) { body[k] = form.elements[k].value; });
          api("POST", path, body).then(function (r) {
            if (r.status === 200 || r.status === 201) { window.location.assign("/account"); return; }
            err.textContent = errorText(r.body);
            err.hidden = false;
            track(path.indexOf("login") >= 0 ? "login_failed" : "register_failed", { status: r.status });
          });
        });
      }
      submit("#login-form", "/api/auth/login", ["email", "password"]);
      submit("#register-form", "/api/auth/register", ["name", "email", "password", "region"]);
      var out = tid("logout");
      if (out) out.addEventListener("click", function () {
        api("POST", "/api/auth/logout").then(function () { window.location.assign("/"); });
      });
    },

    orders: function () {
      api("GET", "/api/orders").then(function (r) {
        if (r.status !== 200) { var e = tid("orders-error"); e.textContent = errorText(r.body); e.hidden = false; return; }
        r.body.orders.forEach(function (o) {
          var li = document.createElement("li");
          var a = document.createElement("a");
          a.href = "/orders/" + o.id;
          a.textContent = o.created_at.slice(0, 10) + " · " + money(o.total) + " " + o.currency + " · " + o.status;
          a.setAttribute("data-testid", "order-link");
          li.appendChild(a);
          tid("orders").appendChild(li);
        });
      });
    },

    wishlist: function () {
      api("GET", "/api/wishlist").then(function (r) {
        if (r.status === 200) r.body.items.forEach(function (p) { tid("wishlist-items").appendChild(productItem(p)); });
      });
    }
  };

  var init = pages[document.body.getAttribute("data-page")];
  if (init) init();
})();
