import { del, get, patch, post } from "../api";
import { esc } from "../format";
import { COST_TYPE_LABELS, errorBox, loading, type Session } from "../ui";

interface Member {
  email: string;
  name: string;
  role: string;
  cost_types: string[];
  accounts: string[] | null;
  disabled: boolean;
  has_password: boolean;
}

const ROLES = ["owner", "admin", "member", "viewer", "customer"];
const COST_TYPES = ["provider", "list", "billed", "effective"];

function roleSelect(id: string, selected: string, mayOwn: boolean): string {
  return `<select id="${id}" name="role">${ROLES.filter((r) => mayOwn || r !== "owner")
    .map((r) => `<option value="${r}"${r === selected ? " selected" : ""}>${r}</option>`)
    .join("")}</select>`;
}

function costTypeBoxes(prefix: string, checked: string[], allowed: string[]): string {
  return `<fieldset class="inline"><legend>Cost types</legend>${COST_TYPES.filter((t) => allowed.includes(t))
    .map(
      (t) => `<label><input type="checkbox" name="cost_types" value="${t}" id="${prefix}-${t}"${
        checked.includes(t) ? " checked" : ""
      } /> ${esc(COST_TYPE_LABELS[t] ?? t)}</label>`,
    )
    .join("")}</fieldset>`;
}

function values(form: HTMLFormElement) {
  const data = new FormData(form);
  const accounts = String(data.get("accounts") ?? "")
    .split(/[\s,]+/)
    .filter(Boolean);
  return {
    role: String(data.get("role")),
    cost_types: data.getAll("cost_types").map(String),
    accounts,
    email: String(data.get("email") ?? "").trim(),
    name: String(data.get("name") ?? "").trim(),
    password: String(data.get("password") ?? ""),
  };
}

export async function renderUsers(main: HTMLElement, session: Session): Promise<void> {
  main.innerHTML = `<header class="page-head"><h1>Users and roles</h1></header><div id="users-body">${loading}</div>`;
  const body = main.querySelector("#users-body") as HTMLElement;
  if (!["owner", "admin"].includes(session.me.role)) {
    body.innerHTML = `<p class="muted">Only Owners and Admins manage users. You are ${esc(session.me.role)}.</p>`;
    return;
  }
  let members: Member[];
  try {
    members = await get<Member[]>("/users");
  } catch (e) {
    body.innerHTML = errorBox(e);
    return;
  }
  const mayOwn = session.me.role === "owner";
  const mine = session.me.cost_types;
  body.innerHTML = `<section class="card panel">
      <table id="users-table"><thead><tr><th scope="col">User</th><th scope="col">Role, cost types and accounts</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${members
        .map(
          (m, i) => `<tr data-email="${esc(m.email)}"><td><strong>${esc(m.name)}</strong><br /><span class="muted">${esc(m.email)}${
            m.has_password ? "" : " · tokens only"
          }</span></td>
          <td><form class="member-form controls" data-email="${esc(m.email)}" aria-label="Access of ${esc(m.email)}">
            <div><label for="role-${i}">Role</label>${roleSelect(`role-${i}`, m.role, mayOwn || m.role === "owner")}</div>
            ${costTypeBoxes(`ct-${i}`, m.cost_types, mine)}
            <div><label for="acc-${i}">Accounts (customers)</label><input id="acc-${i}" name="accounts" value="${esc(
              (m.accounts ?? []).join(", "),
            )}" size="20" /></div>
            <div class="actions"><button type="submit">Save</button></div>
          </form></td>
          <td><button type="button" class="remove-user secondary" data-email="${esc(m.email)}">Remove</button></td></tr>`,
        )
        .join("")}</tbody></table>
      <div class="form-error" role="alert" aria-live="assertive" id="users-error"></div>
    </section>
    <section class="card panel">
      <h2>Add a user</h2>
      <form id="add-user" class="controls" aria-label="Add a user">
        <div><label for="new-email">Email</label><input id="new-email" name="email" type="email" required /></div>
        <div><label for="new-name">Name</label><input id="new-name" name="name" /></div>
        <div><label for="new-role">Role</label>${roleSelect("new-role", "viewer", mayOwn)}</div>
        ${costTypeBoxes("new-ct", mine.filter((t) => t !== "provider"), mine)}
        <div><label for="new-accounts">Accounts (customers)</label><input id="new-accounts" name="accounts" size="20" /></div>
        <div><label for="new-password">Password <span class="muted">(12+ characters, optional)</span></label>
          <input id="new-password" name="password" type="password" autocomplete="new-password" /></div>
        <div class="actions"><button type="submit">Add user</button></div>
      </form>
    </section>`;
  const error = body.querySelector("#users-error") as HTMLElement;
  const fail = (e: unknown) => {
    error.innerHTML = errorBox(e);
  };
  body.querySelectorAll<HTMLFormElement>(".member-form").forEach((form) =>
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const v = values(form);
      try {
        await patch(`/users/${encodeURIComponent(form.dataset.email ?? "")}`, {
          role: v.role,
          cost_types: v.cost_types,
          accounts: v.accounts,
        });
        await renderUsers(main, session);
      } catch (err) {
        fail(err);
      }
    }),
  );
  body.querySelectorAll<HTMLButtonElement>(".remove-user").forEach((b) =>
    b.addEventListener("click", async () => {
      if (!confirm(`Remove ${b.dataset.email} from the organization? Their tokens and sessions end.`)) return;
      try {
        await del(`/users/${encodeURIComponent(b.dataset.email ?? "")}`);
        await renderUsers(main, session);
      } catch (err) {
        fail(err);
      }
    }),
  );
  (body.querySelector("#add-user") as HTMLFormElement).addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = values(e.target as HTMLFormElement);
    try {
      await post("/users", {
        email: v.email,
        name: v.name,
        role: v.role,
        cost_types: v.cost_types,
        accounts: v.accounts,
        ...(v.password ? { password: v.password } : {}),
      });
      await renderUsers(main, session);
    } catch (err) {
      fail(err);
    }
  });
}
