// Small helpers shared by the pages: the session, the hash route's parameters, and states.
import { ApiError, get, type Me } from "./api";
import { esc } from "./format";

export interface Session {
  me: Me;
}

let session: Session | null = null;

export function currentSession(): Session | null {
  return session;
}

export async function loadSession(): Promise<Session | null> {
  try {
    session = { me: await get<Me>("/me") };
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) session = null;
    else throw e;
  }
  return session;
}

export function clearSession(): void {
  session = null;
}

/** The route (`#/explorer?by=service`) as a path and its parameters. */
export function route(): { path: string; params: URLSearchParams } {
  const hash = location.hash.replace(/^#/, "") || "/overview";
  const [path, query = ""] = hash.split("?");
  return { path, params: new URLSearchParams(query) };
}

/** Replaces the route's parameters without adding a history entry (a shareable URL). */
export function setParams(path: string, params: URLSearchParams): void {
  const query = params.toString();
  history.replaceState(null, "", `#${path}${query ? "?" + query : ""}`);
}

export function errorBox(e: unknown): string {
  if (e instanceof ApiError) {
    return `<div class="error" role="alert"><strong>${esc(e.message)}</strong>${
      e.hint ? `<p>${esc(e.hint)}</p>` : ""
    }</div>`;
  }
  return `<div class="error" role="alert"><strong>${esc(e instanceof Error ? e.message : e)}</strong></div>`;
}

export const loading = `<p class="muted" role="status">Loading…</p>`;

/** The first cost type of the caller among those the dashboard prefers to show. */
export function defaultCostType(me: Me): string {
  for (const t of ["billed", "effective", "provider", "list"]) {
    if (me.cost_types.includes(t as Me["cost_types"][number])) return t;
  }
  return "billed";
}

export const COST_TYPE_LABELS: Record<string, string> = {
  provider: "Provider cost",
  billed: "Billed cost",
  effective: "Effective cost (amortized)",
  list: "List cost",
};

export function costTypeSelect(id: string, me: Me, selected: string): string {
  return `<label for="${id}">Cost type</label>
    <select id="${id}" name="cost_type">${me.cost_types
      .map((t) => `<option value="${t}"${t === selected ? " selected" : ""}>${esc(COST_TYPE_LABELS[t] ?? t)}</option>`)
      .join("")}</select>`;
}

/** The field of a cost group holding the cost type's sum. */
export function costOf(group: Record<string, unknown>, costType: string): string | undefined {
  return group[`${costType}_cost`] as string | undefined;
}
