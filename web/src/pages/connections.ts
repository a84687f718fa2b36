import { get, post, upload, type Check, type Connection, type ReconcileRow, type RunningSync, type SyncRun, type UploadResult } from "../api";
import { esc, money, providerName, when } from "../format";
import { errorBox, loading, type Session } from "../ui";

function reconciliation(rows: ReconcileRow[]): string {
  if (!rows.length) return `<p class="muted">Nothing ingested yet.</p>`;
  const byPeriod = new Map<string, ReconcileRow[]>();
  for (const r of rows) byPeriod.set(r.billing_period, [...(byPeriod.get(r.billing_period) ?? []), r]);
  return `<div class="scroll-x"><table class="compact"><thead><tr><th scope="col">Period</th><th scope="col" class="num">Source billed</th>
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
      .join("")}</tbody></table></div>`;
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

/** What a running sync has read so far. */
function progress(r: RunningSync): string {
  const files = r.files ? `${r.files_done} of ${r.files} files` : "looking for files";
  return `Syncing since ${esc(when(r.started_at))} (${esc(r.started_by)}): ${files}, ${r.rows.toLocaleString("en-US")} rows read…`;
}

/** What became of each month read: published, or unchanged. */
function outcomes(periods: { billing_period: string; outcome: string; rows: number }[]): string {
  const published = periods.filter((p) => p.outcome === "published");
  const summary = published.length
    ? `published ${published.map((p) => `${esc(p.billing_period)} (${p.rows.toLocaleString("en-US")} rows)`).join(", ")}`
    : "no new export version";
  const unchanged = periods.length - published.length;
  return `${summary}${unchanged ? `; ${unchanged} month${unchanged === 1 ? "" : "s"} unchanged` : ""}`;
}

/** How the last sync ended: each month published or unchanged, or what went wrong. */
function lastRun(r: SyncRun): string {
  if (r.error) {
    return `<div class="error" role="alert"><strong>Sync at ${esc(when(r.finished_at))} failed</strong><p>${esc(r.error)}</p><p>Nothing was published; the data shown is the last good version.</p></div>`;
  }
  return `<p class="status-ok sync-result" role="status">Synced ${esc(when(r.finished_at))} by ${esc(r.started_by)}: ${outcomes(r.periods)}.</p>`;
}

function syncState(c: Connection): string {
  if (c.sync.running) return `<p class="muted sync-progress" role="status">${progress(c.sync.running)}</p>`;
  return c.sync.last_run ? lastRun(c.sync.last_run) : "";
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A message shown in one connection's status area after the page is drawn again. */
interface Flash {
  name: string;
  html: string;
}

export async function renderConnections(main: HTMLElement, session: Session, flash?: Flash): Promise<void> {
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
  const canSync = ["owner", "admin", "member"].includes(session.me.role);
  body.innerHTML = connections.length
    ? connections
        .map(
          (c) => `<section class="card panel connection" data-connection="${esc(c.id)}" aria-labelledby="c-${esc(c.id)}">
        <header class="row">
          <h2 id="c-${esc(c.id)}">${esc(c.name)} <span class="muted">· ${esc(providerName(c.provider))}</span></h2>
          <div class="actions">
          ${
            canSync && c.settings.source
              ? `<button type="button" class="sync" data-name="${esc(c.name)}" aria-describedby="c-${esc(c.id)}"${c.sync.running ? " disabled" : ""}>Refresh</button>`
              : ""
          }
          ${canTest ? `<button type="button" class="check quiet" data-name="${esc(c.name)}" aria-describedby="c-${esc(c.id)}">Check</button>` : ""}
          </div>
        </header>
        <dl class="facts">
          <div><dt>Source</dt><dd>${c.settings.source ? `<code>${esc(c.settings.source)}</code>` : "uploads and <code>billow ingest</code>"}</dd></div>
          <div><dt>Data through</dt><dd class="data-through">${esc(c.data_through ?? "no data")}</dd></div>
          <div><dt>Last sync</dt><dd>${esc(when(c.sync.last_success_at))}</dd></div>
          <div><dt>Last attempt</dt><dd>${esc(when(c.sync.last_attempt_at))}</dd></div>
          <div><dt>Last export version</dt><dd>${esc(c.sync.last_version ?? "–")}</dd></div>
          <div><dt>Secrets</dt><dd>${c.secrets.length ? c.secrets.map((s) => `${esc(s.name)} (${esc(s.fingerprint)})`).join(", ") : "none"}</dd></div>
        </dl>
        <div class="sync-slot" aria-live="polite">${syncState(c)}</div>
        ${
          canSync
            ? `<p class="upload"><label for="upload-${esc(c.id)}">Upload an export file</label>
          <input type="file" id="upload-${esc(c.id)}" class="upload-file" data-name="${esc(c.name)}"></p>`
            : ""
        }
        ${
          c.sync.last_error && c.sync.last_error !== c.sync.last_run?.error
            ? `<div class="error" role="alert"><strong>Last error</strong><p>${esc(c.sync.last_error)}</p></div>`
            : ""
        }
        <div class="checks-slot"></div>
        <h3>Reconciliation</h3>
        ${reconciliation(rows.filter((r) => r.connection_id === c.id))}
        <p><a href="#/history?connection=${encodeURIComponent(c.name)}">Ingestion history</a></p>
      </section>`,
        )
        .join("")
    : `<p class="muted">No connections. Create one with <code>POST /api/v1/connections</code> or ingest an export with <code>billow ingest</code>.</p>`;
  // Refresh reads the connection's source again; the page follows the sync until it ends,
  // then shows everything that changed (freshness, version, reconciliation) anew.
  const follow = async (name: string, slot: HTMLElement): Promise<void> => {
    for (;;) {
      const c = await get<Connection>(`/connections/${encodeURIComponent(name)}`);
      if (!c.sync.running) return;
      slot.innerHTML = syncState(c);
      await sleep(1000);
    }
  };
  body.querySelectorAll<HTMLButtonElement>(".sync").forEach((b) =>
    b.addEventListener("click", async () => {
      const name = b.dataset.name ?? "";
      const slot = b.closest("section")?.querySelector(".sync-slot") as HTMLElement;
      b.disabled = true;
      try {
        const started = await post<RunningSync>(`/connections/${encodeURIComponent(name)}/sync`);
        slot.innerHTML = `<p class="muted sync-progress" role="status">${progress(started)}</p>`;
        await follow(name, slot);
        await renderConnections(main, session);
        (main.querySelector(`button.sync[data-name="${CSS.escape(name)}"]`) as HTMLButtonElement | null)?.focus();
      } catch (e) {
        slot.innerHTML = errorBox(e);
        b.disabled = false;
      }
    }),
  );
  // An uploaded file is recognized and published like `billow ingest`; a file Billow cannot
  // use says which line or cell and what to do, and nothing changes.
  body.querySelectorAll<HTMLInputElement>(".upload-file").forEach((input) =>
    input.addEventListener("change", async () => {
      const file = input.files?.[0];
      const name = input.dataset.name ?? "";
      if (!file) return;
      const slot = input.closest("section")?.querySelector(".sync-slot") as HTMLElement;
      input.disabled = true;
      slot.innerHTML = `<p class="muted" role="status">Uploading ${esc(file.name)} (${file.size.toLocaleString("en-US")} bytes)…</p>`;
      try {
        const r = await upload<UploadResult>(
          `/connections/${encodeURIComponent(name)}/uploads?filename=${encodeURIComponent(file.name)}`,
          file,
        );
        const html = `<p class="status-ok upload-result" role="status">Uploaded ${esc(r.filename)} (${esc(r.format)}): ${outcomes(r.periods)}.</p>`;
        await renderConnections(main, session, { name, html });
      } catch (e) {
        slot.innerHTML = `<div class="upload-error">${errorBox(e)}</div>`;
        input.disabled = false;
        input.value = "";
      }
    }),
  );
  // A sync someone else started (another user, the scheduler) is followed too, while the
  // page is on screen.
  if (connections.some((c) => c.sync.running)) {
    setTimeout(() => {
      if (main.contains(body)) void renderConnections(main, session);
    }, 2000);
  }
  if (flash) {
    const section = body.querySelector(`.upload-file[data-name="${CSS.escape(flash.name)}"]`)?.closest("section");
    const slot = section?.querySelector(".sync-slot");
    if (slot) slot.innerHTML = flash.html;
  }
  body.querySelectorAll<HTMLButtonElement>(".check").forEach((b) =>
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
