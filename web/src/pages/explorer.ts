import { get, type CostGroup, type CostsResponse } from "../api";
import { ranking, stacked } from "../charts";
import { approx, esc, money } from "../format";
import { costOf, costTypeSelect, defaultCostType, errorBox, loading, route, setParams, type Session } from "../ui";

const DIMENSIONS: [string, string][] = [
  ["service", "Service"],
  ["account", "Account"],
  ["billing-account", "Billing account"],
  ["region", "Region"],
  ["category", "Charge category"],
  ["connection", "Connection"],
  ["day", "Day"],
];

function thisMonth(): string {
  return new Date().toISOString().slice(0, 7);
}

function dimensionLabel(d: string): string {
  if (d.startsWith("tag:")) return `Tag ${d.slice(4)}`;
  return DIMENSIONS.find(([k]) => k === d)?.[1] ?? d;
}

function csv(rows: string[][]): string {
  return rows.map((r) => r.map((c) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(",")).join("\n") + "\n";
}

export async function renderExplorer(main: HTMLElement, session: Session): Promise<void> {
  const { params } = route();
  const month = params.get("month");
  const from = params.get("from") ?? month ?? thisMonth();
  const to = params.get("to") ?? month ?? from;
  const by = params.get("by") ?? "service";
  const granularity = params.get("granularity") ?? "total";
  const costType = params.get("cost_type") ?? defaultCostType(session.me);
  const filters = params.getAll("filter");
  const isTag = by.startsWith("tag:");
  main.innerHTML = `<header class="page-head"><h1>Cost explorer</h1></header>
    <form class="card controls explorer-controls" aria-label="Query">
      <div><label for="ex-from">From</label><input id="ex-from" name="from" type="month" value="${esc(from)}" required /></div>
      <div><label for="ex-to">To</label><input id="ex-to" name="to" type="month" value="${esc(to)}" required /></div>
      <div><label for="ex-by">Group by</label>
        <select id="ex-by" name="by_kind">${DIMENSIONS.map(
          ([k, l]) => `<option value="${k}"${!isTag && k === by ? " selected" : ""}>${l}</option>`,
        ).join("")}<option value="tag"${isTag ? " selected" : ""}>Tag…</option></select></div>
      <div class="tag-key"${isTag ? "" : " hidden"}><label for="ex-tag">Tag key</label>
        <input id="ex-tag" name="tag_key" value="${esc(isTag ? by.slice(4) : "team")}" size="12" /></div>
      <div><label for="ex-granularity">Granularity</label>
        <select id="ex-granularity" name="granularity">${["total", "day", "month"]
          .map((g) => `<option value="${g}"${g === granularity ? " selected" : ""}>${g[0].toUpperCase() + g.slice(1)}</option>`)
          .join("")}</select></div>
      <div>${costTypeSelect("ex-cost-type", session.me, costType)}</div>
      <fieldset class="filters"><legend>Filters</legend>
        <ul class="chips">${filters
          .map(
            (f, i) =>
              `<li class="chip"><span>${esc(dimensionLabel(f.split("=")[0]))} = ${esc(f.split("=").slice(1).join("="))}</span>
               <button type="button" class="remove-filter" data-index="${i}" aria-label="Remove filter ${esc(f)}">×</button></li>`,
          )
          .join("")}</ul>
        <div class="add-filter">
          <label for="ex-filter-dim" class="visually-hidden">Filter dimension</label>
          <select id="ex-filter-dim">${DIMENSIONS.filter(([k]) => k !== "day")
            .map(([k, l]) => `<option value="${k}">${l}</option>`)
            .join("")}<option value="tag">Tag…</option></select>
          <label for="ex-filter-value" class="visually-hidden">Filter value (for a tag: key=value)</label>
          <input id="ex-filter-value" placeholder="value (tag: key=value)" size="18" />
          <button type="button" id="ex-add-filter">Add filter</button>
        </div>
      </fieldset>
      <div class="actions"><button type="submit">Apply</button></div>
    </form>
    <div id="explorer-body">${loading}</div>`;

  const form = main.querySelector("form") as HTMLFormElement;
  const tagKey = form.querySelector(".tag-key") as HTMLElement;
  (form.querySelector("#ex-by") as HTMLSelectElement).addEventListener("change", (e) => {
    tagKey.hidden = (e.target as HTMLSelectElement).value !== "tag";
  });
  const apply = (nextFilters: string[]) => {
    const data = new FormData(form);
    const next = new URLSearchParams();
    const f = String(data.get("from")),
      t = String(data.get("to"));
    if (f === t) next.set("month", f);
    else {
      next.set("from", f);
      next.set("to", t);
    }
    const kind = String(data.get("by_kind"));
    next.set("by", kind === "tag" ? `tag:${String(data.get("tag_key") ?? "").trim()}` : kind);
    next.set("granularity", String(data.get("granularity")));
    next.set("cost_type", String(data.get("cost_type")));
    for (const x of nextFilters) next.append("filter", x);
    setParams("/explorer", next);
    void renderExplorer(main, session);
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply(filters);
  });
  form.querySelectorAll<HTMLButtonElement>(".remove-filter").forEach((b) =>
    b.addEventListener("click", () => apply(filters.filter((_, i) => i !== Number(b.dataset.index)))),
  );
  (form.querySelector("#ex-add-filter") as HTMLButtonElement).addEventListener("click", () => {
    const dim = (form.querySelector("#ex-filter-dim") as HTMLSelectElement).value;
    const value = (form.querySelector("#ex-filter-value") as HTMLInputElement).value.trim();
    if (!value) return;
    apply([...filters, dim === "tag" ? `tag:${value}` : `${dim}=${value}`]);
  });

  const body = main.querySelector("#explorer-body") as HTMLElement;
  const query = new URLSearchParams();
  if (from === to) query.set("month", from);
  else {
    query.set("from", from);
    query.set("to", to);
  }
  query.set("by", by);
  query.set("granularity", granularity);
  query.set("cost_type", costType);
  for (const f of filters) query.append("filter", f);
  let r: CostsResponse;
  try {
    r = await get<CostsResponse>(`/costs?${query}`);
  } catch (e) {
    body.innerHTML = errorBox(e);
    return;
  }
  const timed = granularity !== "total";
  const cost = (g: CostGroup) => costOf(g as unknown as Record<string, unknown>, costType);
  const shown = r.groups.slice(0, 1000);
  const focusQuery = new URLSearchParams(query);
  focusQuery.delete("by");
  focusQuery.delete("granularity");
  focusQuery.delete("cost_type");
  body.innerHTML = `<section class="card panel">
      <div class="summary">
        <p><span class="muted">Total</span> <strong class="amount" id="explorer-total" data-exact="${esc(cost(r.total) ?? "")}">${money(
          cost(r.total),
        )}</strong> <span class="muted">· ${r.total_groups} groups · ${r.total.rows.toLocaleString("en-US")} rows</span></p>
        <div class="actions">
          <button type="button" id="download-csv">Download CSV</button>
          <a class="button" id="download-focus" href="/api/v1/export/focus?${focusQuery}&format=csv">FOCUS export</a>
        </div>
      </div>
      <div class="chart" id="explorer-chart" role="img" aria-label="Costs by ${esc(dimensionLabel(by))}"></div>
    </section>
    <section class="card panel">
      <table id="explorer-table">
        <thead><tr>${timed ? `<th scope="col">${granularity === "day" ? "Day" : "Month"}</th>` : ""}<th scope="col">${esc(
          dimensionLabel(by),
        )}</th><th scope="col" class="num">Cost</th><th scope="col" class="num">Rows</th></tr></thead>
        <tbody>${shown
          .map(
            (g) =>
              `<tr>${timed ? `<td>${esc(g.time)}</td>` : ""}<td>${esc(g.key)}</td><td class="num" data-exact="${esc(cost(g) ?? "")}">${money(
                cost(g),
              )}</td><td class="num">${g.rows.toLocaleString("en-US")}</td></tr>`,
          )
          .join("")}</tbody>
        <tfoot><tr>${timed ? "<td></td>" : ""}<th scope="row">Total</th><td class="num">${money(cost(r.total))}</td><td class="num">${r.total.rows.toLocaleString(
          "en-US",
        )}</td></tr></tfoot>
      </table>
      ${r.groups.length > shown.length ? `<p class="muted">Showing ${shown.length} of ${r.groups.length} groups; the CSV has all.</p>` : ""}
    </section>`;

  const chart = body.querySelector("#explorer-chart") as HTMLElement;
  if (timed) {
    const times = [...new Set(r.groups.map((g) => g.time ?? ""))].sort();
    const totals = new Map<string, number>();
    for (const g of r.groups) totals.set(g.key, (totals.get(g.key) ?? 0) + approx(cost(g)));
    const top = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k]) => k);
    const series = top.map((k) => ({
      name: k,
      values: times.map((t) => approx(cost(r.groups.find((g) => g.key === k && g.time === t) ?? ({} as CostGroup)))),
    }));
    const other = times.map((t) =>
      r.groups.filter((g) => g.time === t && !top.includes(g.key)).reduce((n, g) => n + approx(cost(g)), 0),
    );
    if (other.some((v) => v !== 0)) series.push({ name: "Other", values: other });
    stacked(chart, times, series, `Costs by ${dimensionLabel(by)} per ${granularity}`);
  } else {
    const top = r.groups.slice(0, 15);
    ranking(chart, top.map((g) => g.key), top.map((g) => approx(cost(g))), `Costs by ${dimensionLabel(by)}`);
  }
  (body.querySelector("#download-csv") as HTMLButtonElement).addEventListener("click", () => {
    const header = [...(timed ? ["time"] : []), by, `${costType}_cost`, "rows"];
    const lines = r.groups.map((g) => [...(timed ? [g.time ?? ""] : []), g.key, cost(g) ?? "", String(g.rows)]);
    const blob = new Blob([csv([header, ...lines])], { type: "text/csv" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `billow-costs-${from}${to !== from ? "-" + to : ""}-by-${by.replace(":", "-")}.csv`;
    a.click();
    URL.revokeObjectURL(a.href);
  });
}
