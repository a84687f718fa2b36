import { get, type Overview, type ProviderCard, type Ranked } from "../api";
import { ranking, stacked } from "../charts";
import { approx, esc, money, percent, providerName, when } from "../format";
import { COST_TYPE_LABELS, costTypeSelect, defaultCostType, errorBox, loading, route, setParams, type Session } from "../ui";

function card(c: ProviderCard): string {
  const name = providerName(c.provider);
  if (!c.has_data) {
    const failing = c.checks.filter((k) => !k.ok);
    return `<article class="card provider-card no-data" data-provider="${esc(c.provider)}" data-connections="${esc(c.connections.join(" "))}" aria-label="${esc(name)}: no billing data">
      <h3>${esc(name)}</h3>
      <p class="status-bad">No billing data</p>
      <p class="muted">${esc(c.connections.join(", "))}</p>
      <ul class="checks">${(failing.length ? failing : c.checks)
        .map(
          (k) => `<li><strong>${esc(k.name)}</strong>: ${esc(k.detail)}${k.fix ? `<div class="fix">Fix: ${esc(k.fix)}</div>` : ""}</li>`,
        )
        .join("")}</ul>
    </article>`;
  }
  const change = c.change_percent;
  const direction = change == null ? "" : Number(change) > 0 ? "up" : "down";
  return `<article class="card provider-card" data-provider="${esc(c.provider)}" data-connections="${esc(c.connections.join(" "))}" aria-label="${esc(name)} costs">
    <h3>${esc(name)}</h3>
    <p class="amount" data-exact="${esc(c.month_to_date)}">${money(c.month_to_date)}</p>
    <p class="muted">month to date</p>
    <dl>
      <div><dt>Last month</dt><dd data-exact="${esc(c.last_month)}">${money(c.last_month)}</dd></div>
      <div><dt>vs. same days last month</dt><dd class="change ${direction}">${percent(change)}</dd></div>
      <div><dt>Projected month end</dt><dd data-exact="${esc(c.projection ?? "")}">${money(c.projection)}</dd></div>
      <div><dt>Data through</dt><dd>${esc(c.last_charge_day ?? "–")}</dd></div>
      <div><dt>Last sync</dt><dd>${esc(when(c.last_sync_at))}</dd></div>
    </dl>
  </article>`;
}

function table(title: string, column: string, id: string, rows: Ranked[], exploreBy: string, month: string): string {
  return `<section class="card panel" aria-labelledby="${id}-title">
    <h3 id="${id}-title">${esc(title)}</h3>
    <div class="chart small" id="${id}-chart" role="img" aria-label="${esc(title)} chart"></div>
    <table class="compact" id="${id}">
      <thead><tr><th scope="col">${esc(column)}</th><th scope="col" class="num">Cost</th></tr></thead>
      <tbody>${
        rows.length
          ? rows
              .map(
                (r) => `<tr><td><a href="#/explorer?month=${month}&by=${encodeURIComponent(exploreBy)}&filter=${encodeURIComponent(
                  `${exploreBy}=${r.key}`,
                )}">${esc(r.key)}</a></td><td class="num" data-exact="${esc(r.cost)}">${money(r.cost)}</td></tr>`,
              )
              .join("")
          : `<tr><td colspan="2" class="muted">No costs this month</td></tr>`
      }</tbody>
    </table>
  </section>`;
}

export async function renderOverview(main: HTMLElement, session: Session): Promise<void> {
  const { params } = route();
  const costType = params.get("cost_type") ?? defaultCostType(session.me);
  const days = params.get("days") ?? "30";
  const tag = params.get("tag") ?? "team";
  main.innerHTML = `<header class="page-head">
      <h1>Overview</h1>
      <form class="controls" aria-label="Overview settings">
        <div>${costTypeSelect("overview-cost-type", session.me, costType)}</div>
        <div><label for="overview-days">Trend</label>
          <select id="overview-days" name="days">${["7", "30", "90"]
            .map((d) => `<option value="${d}"${d === days ? " selected" : ""}>Last ${d} days</option>`)
            .join("")}</select></div>
        <div><label for="overview-tag">Tag key</label>
          <input id="overview-tag" name="tag" value="${esc(tag)}" size="12" /></div>
      </form>
    </header>
    <div id="overview-body">${loading}</div>`;
  const form = main.querySelector("form") as HTMLFormElement;
  form.addEventListener("change", () => {
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const [k, v] of data) next.set(k, String(v));
    setParams("/overview", next);
    void renderOverview(main, session);
  });
  form.addEventListener("submit", (e) => e.preventDefault());
  const body = main.querySelector("#overview-body") as HTMLElement;
  let o: Overview;
  try {
    const query = new URLSearchParams({ cost_type: costType, days, tag, top: "10" });
    const asOf = params.get("as_of");
    if (asOf) query.set("as_of", asOf);
    o = await get<Overview>(`/overview?${query}`);
  } catch (e) {
    body.innerHTML = errorBox(e);
    return;
  }
  const label = COST_TYPE_LABELS[o.cost_type] ?? o.cost_type;
  body.innerHTML = `
    <p class="muted">${esc(label)} · billing period ${esc(o.month)} · as of ${esc(o.as_of)}</p>
    <section class="cards" aria-label="Cost by provider">${
      o.cards.length ? o.cards.map(card).join("") : `<p class="muted">No connections yet. Add one under Connections.</p>`
    }</section>
    <section class="card panel" aria-labelledby="trend-title">
      <h2 id="trend-title">Daily cost by provider, last ${esc(days)} days</h2>
      <div class="chart" id="trend-chart" role="img" aria-label="Daily cost by provider"></div>
    </section>
    <div class="grid-2">
      ${table("Top accounts", "Account", "top-accounts", o.accounts, "account", o.month)}
      ${table("Top services", "Service", "top-services", o.services, "service", o.month)}
      ${table("Top regions", "Region", "top-regions", o.regions, "region", o.month)}
      ${table(`Top ${o.tag_key ?? "tag"} values`, `Tag ${o.tag_key ?? tag}`, "top-tags", o.tags, `tag:${o.tag_key ?? tag}`, o.month)}
    </div>`;
  const trend = body.querySelector("#trend-chart") as HTMLElement;
  stacked(
    trend,
    o.trend.days.map((d) => d.slice(5)),
    o.trend.series.map((s) => ({ name: providerName(s.provider), values: s.values.map(approx) })),
    `Daily ${label} by provider`,
  );
  trend.dataset.points = String(o.trend.days.length);
  for (const [id, rows] of [
    ["top-accounts", o.accounts],
    ["top-services", o.services],
    ["top-regions", o.regions],
    ["top-tags", o.tags],
  ] as const) {
    const el = body.querySelector(`#${id}-chart`) as HTMLElement;
    ranking(el, rows.map((r) => r.key), rows.map((r) => approx(r.cost)), id.replace("-", " "));
  }
}
