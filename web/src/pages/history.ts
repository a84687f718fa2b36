import { get, type Connection, type Version } from "../api";
import { esc, money, when } from "../format";
import { errorBox, loading, route, setParams, type Session } from "../ui";

export async function renderHistory(main: HTMLElement, _session: Session): Promise<void> {
  const { params } = route();
  main.innerHTML = `<header class="page-head"><h1>Ingestion history</h1></header><div id="history-body">${loading}</div>`;
  const body = main.querySelector("#history-body") as HTMLElement;
  let connections: Connection[];
  try {
    connections = await get<Connection[]>("/connections");
  } catch (e) {
    body.innerHTML = errorBox(e);
    return;
  }
  const connection = params.get("connection") ?? connections[0]?.name ?? "";
  const month = params.get("month") ?? new Date().toISOString().slice(0, 7);
  body.innerHTML = `<form class="card controls" aria-label="Which month">
      <div><label for="h-connection">Connection</label><select id="h-connection" name="connection">${connections
        .map((c) => `<option${c.name === connection ? " selected" : ""}>${esc(c.name)}</option>`)
        .join("")}</select></div>
      <div><label for="h-month">Billing period</label><input id="h-month" name="month" type="month" value="${esc(month)}" /></div>
      <div class="actions"><button type="submit">Show</button></div>
    </form><div id="versions">${loading}</div>`;
  const form = body.querySelector("form") as HTMLFormElement;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    setParams("/history", new URLSearchParams({ connection: String(data.get("connection")), month: String(data.get("month")) }));
    void renderHistory(main, _session);
  });
  const out = body.querySelector("#versions") as HTMLElement;
  if (!connection) {
    out.innerHTML = `<p class="muted">No connections yet.</p>`;
    return;
  }
  try {
    const versions = await get<Version[]>(`/ingestions?${new URLSearchParams({ connection, month })}`);
    out.innerHTML = versions.length
      ? versions
          .slice()
          .reverse()
          .map(
            (v) => `<section class="card panel version">
          <h2>${esc(v.export_version ?? v.ingestion_id)} ${v.current ? `<span class="badge">current</span>` : ""}</h2>
          <p class="muted">${esc(when(v.finished_at))} · ${v.rows.toLocaleString("en-US")} rows${v.published ? "" : " · not published"}</p>
          ${
            v.changes.length
              ? `<table class="compact"><caption>What changed from the previous version (billed cost)</caption><thead><tr><th scope="col">Billing account</th><th scope="col">Charge category</th>
                 <th scope="col" class="num">Before</th><th scope="col" class="num">After</th><th scope="col" class="num">Difference</th></tr></thead><tbody>${v.changes
                   .map(
                     (c) => `<tr><td>${esc(c.billing_account_id)}</td><td>${esc(c.charge_category)}</td><td class="num">${money(
                       c.before,
                     )}</td><td class="num">${money(c.after)}</td><td class="num">${money(c.difference)}</td></tr>`,
                   )
                   .join("")}</tbody></table>`
              : `<p class="muted">No change from the previous version, or the first version.</p>`
          }
          ${
            v.changes_by_service.length
              ? `<table class="compact by-service"><caption>By account and service, largest changes first</caption><thead><tr><th scope="col">Account</th><th scope="col">Service</th>
                 <th scope="col" class="num">Before</th><th scope="col" class="num">After</th><th scope="col" class="num">Difference</th></tr></thead><tbody>${v.changes_by_service
                   .slice(0, 15)
                   .map(
                     (c) => `<tr><td>${esc(c.account)}</td><td>${esc(c.service)}</td><td class="num">${money(c.before)}</td><td class="num">${money(
                       c.after,
                     )}</td><td class="num" data-exact="${esc(c.difference)}">${money(c.difference)}</td></tr>`,
                   )
                   .join("")}</tbody></table>${
                   v.changes_by_service.length > 15
                     ? `<p class="muted">and ${v.changes_by_service.length - 15} more account and service changes.</p>`
                     : ""
                 }`
              : ""
          }
        </section>`,
          )
          .join("")
      : `<p class="muted">No versions of ${esc(connection)} for ${esc(month)}.</p>`;
  } catch (e) {
    out.innerHTML = errorBox(e);
  }
}
