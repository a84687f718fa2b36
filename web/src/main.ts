// Billow's dashboard: a page per hash route, drawn from the REST API with the session cookie.
import "./style.css";

import { post } from "./api";
import { sweep } from "./charts";
import { esc } from "./format";
import { renderConnections } from "./pages/connections";
import { renderExplorer } from "./pages/explorer";
import { renderHistory } from "./pages/history";
import { renderLogin } from "./pages/login";
import { renderOverview } from "./pages/overview";
import { renderSettings } from "./pages/settings";
import { renderUsers } from "./pages/users";
import { clearSession, currentSession, errorBox, loadSession, route, type Session } from "./ui";

type Page = (main: HTMLElement, session: Session) => Promise<void>;

const PAGES: { path: string; title: string; render: Page; roles?: string[] }[] = [
  { path: "/overview", title: "Overview", render: renderOverview },
  { path: "/explorer", title: "Cost explorer", render: renderExplorer },
  { path: "/connections", title: "Connections", render: renderConnections, roles: ["owner", "admin", "member", "viewer"] },
  { path: "/history", title: "Ingestion history", render: renderHistory, roles: ["owner", "admin", "member", "viewer"] },
  { path: "/users", title: "Users and roles", render: renderUsers, roles: ["owner", "admin"] },
  { path: "/settings", title: "Settings", render: renderSettings },
];

const root = document.getElementById("app") as HTMLElement;

function shell(session: Session, current: string): HTMLElement {
  root.innerHTML = `<div class="layout">
    <header class="topbar">
      <a class="brand" href="#/overview">Billow</a>
      <button type="button" class="menu-toggle" aria-expanded="false" aria-controls="nav">Menu</button>
      <span class="who"><span class="org">${esc(session.me.organization)}</span> · ${esc(session.me.user)} · ${esc(session.me.role)}</span>
      <button type="button" class="sign-out">Sign out</button>
    </header>
    <nav id="nav" aria-label="Main">
      <ul>${PAGES.filter((p) => !p.roles || p.roles.includes(session.me.role)).map(
        (p) => `<li><a href="#${p.path}"${p.path === current ? ' aria-current="page"' : ""}>${esc(p.title)}</a></li>`,
      ).join("")}</ul>
    </nav>
    <main id="main" tabindex="-1"></main>
  </div>`;
  const toggle = root.querySelector(".menu-toggle") as HTMLButtonElement;
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    root.querySelector("nav")?.classList.toggle("open", open);
  });
  (root.querySelector(".sign-out") as HTMLButtonElement).addEventListener("click", async () => {
    try {
      await post("/auth/logout");
    } finally {
      clearSession();
      location.hash = "#/login";
    }
  });
  return root.querySelector("main") as HTMLElement;
}

async function show(): Promise<void> {
  const { path } = route();
  let session = currentSession() ?? (await loadSession());
  if (!session || path === "/login") {
    if (session && path === "/login") {
      location.hash = "#/overview";
      return;
    }
    renderLogin(root, () => {
      location.hash = "#/overview";
      void show();
    });
    document.title = "Sign in · Billow";
    return;
  }
  const page = PAGES.find((p) => p.path === path) ?? PAGES[0];
  document.title = `${page.title} · Billow`;
  const main = shell(session, page.path);
  try {
    await page.render(main, session);
  } catch (e) {
    main.innerHTML = errorBox(e);
  }
  sweep();
  main.dataset.ready = "true";
}

// After a navigation the new page's content takes the focus (the shell is drawn anew, so the
// link that was focused is gone), and a screen reader starts reading there.
const focusMain = () => (document.getElementById("main") as HTMLElement | null)?.focus({ preventScroll: true });

let rendering: Promise<void> = Promise.resolve();
window.addEventListener("hashchange", () => {
  rendering = rendering.then(show, show).then(focusMain);
});
// The skip link moves the focus without touching the hash, which holds the route.
document.querySelector<HTMLAnchorElement>("a.skip")?.addEventListener("click", (e) => {
  e.preventDefault();
  focusMain();
});
rendering = show().catch((e) => {
  root.innerHTML = errorBox(e);
});
