import { del, get, patch, post } from "../api";
import { esc, when } from "../format";
import { errorBox, loading, type Session } from "../ui";

interface Token {
  id: string;
  user: string;
  name: string;
  role: string;
  created_at: string;
  expires_at: string;
  revoked_at?: string | null;
  last_used_at?: string | null;
}

export async function renderSettings(main: HTMLElement, session: Session): Promise<void> {
  main.innerHTML = `<header class="page-head"><h1>Settings</h1></header><div id="settings-body">${loading}</div>`;
  const body = main.querySelector("#settings-body") as HTMLElement;
  let tokens: Token[];
  try {
    tokens = await get<Token[]>("/tokens");
  } catch (e) {
    body.innerHTML = errorBox(e);
    return;
  }
  const owner = session.me.role === "owner";
  body.innerHTML = `<section class="card panel">
      <h2>Organization</h2>
      <form id="org-form" class="controls" aria-label="Organization">
        <div><label for="org-name">Name</label><input id="org-name" name="name" value="${esc(session.me.organization)}"${
          owner ? "" : " disabled"
        } /></div>
        ${owner ? `<div class="actions"><button type="submit">Rename</button></div>` : ""}
      </form>
      <p class="muted">You are ${esc(session.me.user)}, ${esc(session.me.role)}; you see ${esc(session.me.cost_types.join(", "))} cost${
        session.me.accounts ? ` of accounts ${esc(session.me.accounts.join(", "))}` : ""
      }.</p>
    </section>
    <section class="card panel">
      <h2>Your API tokens</h2>
      <table class="compact" id="tokens-table"><thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Expires</th>
        <th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>${
          tokens
            .filter((t) => !t.revoked_at)
            .map(
              (t) => `<tr><td>${esc(t.name)}</td><td>${esc(t.role)}</td><td>${esc(when(t.expires_at))}</td><td>${esc(
                when(t.last_used_at),
              )}</td><td><button type="button" class="revoke secondary" data-id="${esc(t.id)}">Revoke</button></td></tr>`,
            )
            .join("") || `<tr><td colspan="5" class="muted">No tokens.</td></tr>`
        }</tbody></table>
      <form id="token-form" class="controls" aria-label="New API token">
        <div><label for="token-name">Token name</label><input id="token-name" name="name" required /></div>
        <div><label for="token-days">Days</label><input id="token-days" name="days" type="number" min="1" max="366" value="90" /></div>
        <div class="actions"><button type="submit">Create token</button></div>
      </form>
      <div id="token-secret" aria-live="polite"></div>
      <div class="form-error" role="alert" id="settings-error"></div>
    </section>`;
  const error = body.querySelector("#settings-error") as HTMLElement;
  (body.querySelector("#org-form") as HTMLFormElement).addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = String(new FormData(e.target as HTMLFormElement).get("name") ?? "");
    try {
      await patch("/organization", { name });
      session.me.organization = name;
      await renderSettings(main, session);
    } catch (err) {
      error.innerHTML = errorBox(err);
    }
  });
  (body.querySelector("#token-form") as HTMLFormElement).addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(e.target as HTMLFormElement);
    try {
      const created = await post<{ secret: string }>("/tokens", {
        name: String(data.get("name") ?? ""),
        days: Number(data.get("days") ?? 90),
      });
      await renderSettings(main, session);
      (main.querySelector("#token-secret") as HTMLElement).innerHTML = `<p>Copy the token now; it is not shown again:</p>
        <p><code class="secret">${esc(created.secret)}</code></p>`;
    } catch (err) {
      error.innerHTML = errorBox(err);
    }
  });
  body.querySelectorAll<HTMLButtonElement>(".revoke").forEach((b) =>
    b.addEventListener("click", async () => {
      try {
        await del(`/tokens/${encodeURIComponent(b.dataset.id ?? "")}`);
        await renderSettings(main, session);
      } catch (err) {
        error.innerHTML = errorBox(err);
      }
    }),
  );
}
