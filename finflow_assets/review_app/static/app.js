// FinFlow review workspace: keyboard shortcuts, select-all and the dashboard's refresh. No framework, no CDN.
"use strict";
(function () {
  const queueForm = document.getElementById("queue-form");
  if (queueForm) {
    const rows = Array.from(queueForm.querySelectorAll("tr.item"));
    let current = -1;
    const selectAll = document.getElementById("select-all");
    if (selectAll) {
      selectAll.addEventListener("change", () => {
        queueForm.querySelectorAll("input[name=item]").forEach((box) => { box.checked = selectAll.checked; });
      });
    }
    const move = (step) => {
      if (!rows.length) return;
      if (current >= 0) rows[current].classList.remove("current");
      current = Math.max(0, Math.min(rows.length - 1, current + step));
      rows[current].classList.add("current");
      rows[current].scrollIntoView({ block: "nearest" });
    };
    const decide = (decision) => {
      const anyChecked = queueForm.querySelector("input[name=item]:checked");
      if (!anyChecked && current >= 0) {
        const box = rows[current].querySelector("input[name=item]");
        if (box) box.checked = true;
      }
      const button = queueForm.querySelector(`button[name=decision][value=${decision}]`);
      if (button) button.click();
    };
    document.addEventListener("keydown", (event) => {
      const tag = (event.target.tagName || "").toLowerCase();
      if (["input", "select", "textarea"].includes(tag) || event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key === "j") move(1);
      else if (event.key === "k") move(-1);
      else if (event.key === "x" && current >= 0) {
        const box = rows[current].querySelector("input[name=item]");
        if (box) box.checked = !box.checked;
      } else if (["1", "2", "3"].includes(event.key) && current >= 0) {
        // the model's 1st, 2nd or 3rd category for the current row
        rows[current].querySelectorAll("button[name=pick]")[Number(event.key) - 1]?.click();
      } else if (event.key === "a") decide("approve");
      else if (event.key === "n") decide("not_anomalous");
      else if (event.key === "c") { event.preventDefault(); document.getElementById("bulk-category")?.focus(); }
      else if (event.key === "u") document.getElementById("undo")?.click();
      else if (event.key === "Enter" && current >= 0) rows[current].querySelector("a")?.click();
    });
  }

  const headlines = document.getElementById("headlines");
  if (headlines) {
    const fmt = (v) => (typeof v === "number" ? v.toLocaleString(undefined, { maximumFractionDigits: 2 }) : v ?? "");
    const cell = (tag, text) => { const el = document.createElement(tag); el.textContent = fmt(text); return el; };
    const table = (el, rows, columns, rowClass) => {
      el.replaceChildren();
      const head = document.createElement("tr");
      columns.forEach((c) => head.appendChild(cell("th", c)));
      el.appendChild(head);
      rows.forEach((row) => {
        const tr = document.createElement("tr");
        if (rowClass) tr.className = rowClass(row);
        columns.forEach((c) => tr.appendChild(cell("td", row[c])));
        el.appendChild(tr);
      });
    };
    const render = (data) => {
      document.getElementById("generated").textContent = "as of " + new Date(data.generated_at).toLocaleTimeString();
      headlines.replaceChildren();
      Object.entries(data.headlines).forEach(([report, figures]) => {
        if (!figures) return;
        Object.entries(figures).forEach(([label, value]) => {
          const card = document.createElement("div");
          card.className = "card";
          card.dataset.figure = label;
          card.appendChild(cell("div", label.replaceAll("_", " "))).className = "label";
          card.appendChild(cell("div", value)).className = "value";
          headlines.appendChild(card);
        });
      });
      table(document.getElementById("by-day"), data.by_day,
        ["booked_date", "transactions", "money_in", "money_out", "corrected_by_reviewers"]);
      table(document.getElementById("money-by-account"), data.money_by_account,
        ["booked_date", "source", "account", "currency", "transactions", "money_in", "money_out", "money_in_base",
          "money_out_base"]);
      table(document.getElementById("queue"), data.queue, ["item_type", "items", "oldest_days", "amount"]);
      table(document.getElementById("freshness"), data.freshness, ["source", "last_delivery", "age_hours"],
        (row) => (row.late ? "late" : ""));
      const accounts = data.by_account;
      table(document.getElementById("by-account"), accounts, accounts.length ? Object.keys(accounts[0]) : []);
      const byCategory = document.getElementById("by-category");
      byCategory.replaceChildren();
      const totals = {};
      data.by_category.forEach((r) => {
        const t = (totals[r.category] ||= { in: 0, out: 0 });
        t.in += r.money_in; t.out += r.money_out;
      });
      const max = Math.max(1, ...Object.values(totals).flatMap((t) => [t.in, t.out]));
      Object.entries(totals).sort((a, b) => (b[1].in + b[1].out) - (a[1].in + a[1].out)).forEach(([name, t]) => {
        const bar = document.createElement("div");
        bar.className = "bar";
        bar.appendChild(cell("span", name)).className = "name";
        const barIn = bar.appendChild(document.createElement("span")); barIn.className = "in";
        barIn.style.width = (300 * t.in / max) + "px";
        const barOut = bar.appendChild(document.createElement("span")); barOut.className = "out";
        barOut.style.width = (300 * t.out / max) + "px";
        bar.appendChild(cell("span", `in ${fmt(t.in)} · out ${fmt(t.out)}`)).className = "fig";
        byCategory.appendChild(bar);
      });
    };
    const refresh = () => fetch("/dashboard/data", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status))).then(render)
      .catch(() => { document.getElementById("generated").textContent = "could not refresh"; });
    refresh();
    setInterval(refresh, 30000);
  }
})();
