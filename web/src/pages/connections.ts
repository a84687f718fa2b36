import { get, post, type Check, type Connection, type ReconcileRow } from "../api";
import { esc, money, providerName, when } from "../format";
import { errorBox, loading, type Session } from "../ui";

function reconciliation(rows: ReconcileRow[]): string {
  if (!rows.length) return `<p class="muted">Nothing ingested yet.</p>`;
  const byPeriod = new Map<string, ReconcileRow[]>();
  for (const r of rows) byPeriod.set(r.billing_period, [...(byPeriod.get(r.billing_period) ?? []), r]);
  return `<table class="compact"><thead><tr><th scope="col">Period</th><th scope="col" class="num">Source billed</th>
    <th scope="col" class="num">Lake billed</th><th scope="col" class="num">Difference</th><th scope="col">Result</th></tr></thead><tbody>${[
      ...byPeriod.entries(),
    ]
      .sort((a, b) => b[0].localeCompare(a[0]))
      .map(([period, rs]) => {
        const sum = (f: (r: ReconcileRow) => string) => rs.reduce((n, r) => n + Number(f(r)), 0).toFixed(2);
        const worst = rs.some((r) => r.status === "mismatch") ? "mismatch" : rs.some((r) => r.status === "within_rounding") ? "within rounding" : "exact";
        return `<tr><td>${esc(period)}</td><td class="num">${money(sum((r) => r.source_billed))}</td><td class="num">${money(
          sum((r) => r.lake_billed),
        )}</td><td class="num">${money(sum((r) => r.billed_difference))}</td><td class="${worst === "mismatch" ? "status-bad" : "status-ok"}">${esc(
          worst,
        )}</td></tr>`;
      })
      .join("")}</tbody></table>`;
}

function checks(list: Check[]): string {
  return `<ul class="checks">${list
    .map(
      (k) => `<li class="${k.ok ? "status-ok" : "status-bad"}"><strong>${k.ok ? "✓" : "✗"} ${esc(k.name)}</strong>: ${esc(k.detail)}${
        k.fix ? `<div class="fix">Fix: ${esc(k.fix)}</div>` : ""
      }</li>`,
    )
    .join("")}</ul>`;
}

export async function renderConnections(main: HTMLElement, session: Session): Promise<void> {
  main.innerHTML = `<header class="page-head"><h1>Connections</h1></header><div id="connections-body">${loading}</div>`;
  const body = main.querySelector("#connections-body") as HTMLElement;
  let connections: Connection[];
  let rows: ReconcileRow[] = [];
  try {
    connections = await get<Connection[]>("/connections");
    rows = await get<ReconcileRow[]>("/reconciliation");
  } catch (e) {
    body.innerHTML = errorBox(e);
    return;
  }
  const canTest = ["owner", "admin"].includes(session.me.role);
  body.innerHTML = connections.length
    ? connections
        .map(
          (c) => `<section class="card panel connection" data-connection="${esc(c.id)}" aria-labelledby="c-${esc(c.id)}">
        <header class="row">
          <h2 id="c-${esc(c.id)}">${esc(c.name)} <span class="muted">· ${esc(providerName(c.provider))}</span></h2>
          ${canTest ? `<button type="button" class="refresh" data-name="${esc(c.name)}">Refresh status</button>` : ""}
        </header>
        <dl class="facts">
          <div><dt>Last sync</dt><dd>${esc(when(c.sync.last_success_at))}</dd></div>
          <div><dt>Last attempt</dt><dd>${esc(when(c.sync.last_attempt_at))}</dd></div>
          <div><dt>Last export version</dt><dd>${esc(c.sync.last_version ?? "–")}</dd></div>
          <div><dt>Secrets</dt><dd>${c.secrets.length ? c.secrets.map((s) => `${esc(s.name)} (${esc(s.fingerprint)})`).join(", ") : "none"}</dd></div>
        </dl>
        ${c.sync.last_error ? `<div class="error" role="alert"><strong>Last error</strong><p>${esc(c.sync.last_error)}</p></div>` : ""}
        <div class="checks-slot"></div>
        <h3>Reconciliation</h3>
        ${reconciliation(rows.filter((r) => r.connection_id === c.id))}
        <p><a href="#/history?connection=${encodeURIComponent(c.name)}">Ingestion history</a></p>
      </section>`,
        )
        .join("")
    : `<p class="muted">No connections. Create one with <code>POST /api/v1/connections</code> or ingest an export with <code>billow ingest</code>.</p>`;
  body.querySelectorAll<HTMLButtonElement>(".refresh").forEach((b) =>
    b.addEventListener("click", async () => {
      const slot = b.closest("section")?.querySelector(".checks-slot") as HTMLElement;
      b.disabled = true;
      slot.innerHTML = loading;
      try {
        const result = await post<{ ok: boolean; checks: Check[] }>(`/connections/${encodeURIComponent(b.dataset.name ?? "")}/test`);
        slot.innerHTML = checks(result.checks);
      } catch (e) {
        slot.innerHTML = errorBox(e);
      } finally {
        b.disabled = false;
      }
    }),
  );
}
