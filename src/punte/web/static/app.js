// punte dashboard: progressive enhancement only. The pages work without it; with it,
// the invoice form shows its totals as the server computes them (no arithmetic here).
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');
  csrf = csrf ? csrf.getAttribute("content") : "";

  document.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });

  var form = document.getElementById("issue-form");
  if (!form) { return; }
  var body = document.getElementById("lines");
  var template = document.getElementById("line-template");
  var errorBox = document.getElementById("preview-error");
  var payValue = document.getElementById("pay-value");
  var payNow = document.getElementById("pay-now");
  var lastGross = "";
  var timer = null;
  var sequence = 0;

  function nextIndex() {
    var max = -1;
    body.querySelectorAll("tr.line").forEach(function (tr) {
      var n = parseInt(tr.getAttribute("data-row"), 10);
      if (n > max) { max = n; }
    });
    return max + 1;
  }

  function addLine() {
    var i = String(nextIndex());
    var html = template.innerHTML.split("__i__").join(i);
    var holder = document.createElement("tbody");
    holder.innerHTML = html.trim();
    var row = holder.firstElementChild;
    body.appendChild(row);
    var first = row.querySelector("input");
    if (first) { first.focus(); }
  }

  function set(id, text) {
    var el = document.getElementById(id);
    if (el) { el.textContent = text; }
  }

  function show(data) {
    body.querySelectorAll("output.line-net").forEach(function (o) { o.textContent = ""; });
    if (!data.ok) {
      errorBox.hidden = false;
      errorBox.textContent = data.error === "login" ? document.documentElement.lang === "en"
        ? "Your session has ended; log in again." : "Sesiunea a expirat; autentificați-vă din nou." : data.error;
      set("net-total", "–"); set("vat-total", "–"); set("gross-total", "–"); set("total-currency", "");
      document.getElementById("breakdown").innerHTML = "";
      return;
    }
    errorBox.hidden = true;
    errorBox.textContent = "";
    data.lines.forEach(function (ln) {
      var o = body.querySelector('output.line-net[data-line="' + ln.row + '"]');
      if (o) { o.textContent = ln.net; }
    });
    set("net-total", data.net_total);
    set("vat-total", data.vat_total);
    set("gross-total", data.gross_total);
    set("total-currency", data.currency);
    var list = document.getElementById("breakdown");
    list.innerHTML = "";
    data.breakdown.forEach(function (b) {
      var li = document.createElement("li");
      li.textContent = b.label + ": " + b.taxable + " → " + b.tax;
      list.appendChild(li);
    });
    if (payValue && payNow && payNow.checked && (payValue.value === "" || payValue.value === lastGross)) {
      payValue.value = data.gross_total;
    }
    lastGross = data.gross_total;
  }

  function refresh() {
    var mine = ++sequence;
    var params = new URLSearchParams(new FormData(form));
    fetch(form.getAttribute("data-preview"), {
      method: "POST",
      body: params,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" }
    }).then(function (r) {
      return r.json();
    }).then(function (data) {
      if (mine === sequence) { show(data); }
    }).catch(function () {
      if (mine === sequence) { show({ ok: false, error: "—" }); }
    });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 250);
  }

  document.getElementById("add-line").addEventListener("click", function () { addLine(); schedule(); });
  body.addEventListener("click", function (ev) {
    var btn = ev.target.closest(".remove-line");
    if (!btn) { return; }
    var row = btn.closest("tr");
    if (body.querySelectorAll("tr.line").length > 1) { row.remove(); } else {
      row.querySelectorAll("input[type=text], input:not([type])").forEach(function (i) { i.value = ""; });
    }
    schedule();
  });
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  form.addEventListener("submit", function () {
    form.querySelectorAll("button[type=submit]").forEach(function (b) {
      window.setTimeout(function () { b.disabled = true; }, 0);
    });
  });
  refresh();
})();
