import { ApiError, post } from "../api";
import { esc } from "../format";
import { loadSession } from "../ui";

export function renderLogin(root: HTMLElement, next: () => void): void {
  root.innerHTML = `
  <main id="main" class="login">
    <form class="card login-form" novalidate>
      <h1>Billow</h1>
      <p class="muted">Sign in to see your organization's cloud costs.</p>
      <label for="email">Email</label>
      <input id="email" name="email" type="email" autocomplete="username" required />
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required />
      <label for="organization">Organization <span class="muted">(if you belong to several)</span></label>
      <input id="organization" name="organization" type="text" autocomplete="organization" />
      <button type="submit">Sign in</button>
      <div class="form-error" role="alert" aria-live="assertive"></div>
    </form>
  </main>`;
  const form = root.querySelector("form") as HTMLFormElement;
  const error = root.querySelector(".form-error") as HTMLElement;
  (root.querySelector("#email") as HTMLInputElement).focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const organization = String(data.get("organization") ?? "").trim();
    error.textContent = "";
    try {
      await post("/auth/login", {
        email: String(data.get("email") ?? ""),
        password: String(data.get("password") ?? ""),
        ...(organization ? { organization } : {}),
      });
      await loadSession();
      next();
    } catch (e) {
      error.innerHTML =
        e instanceof ApiError ? `${esc(e.message)}${e.hint ? `<br><span class="muted">${esc(e.hint)}</span>` : ""}` : esc(e);
    }
  });
}
