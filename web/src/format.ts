// Money arrives as exact decimal strings. The page rounds them for display without a binary
// float (so a card reads what `billow costs` prints, to the cent), and keeps the exact value
// in a data attribute.

/** Rounds a decimal string half away from zero to `places` and groups thousands. */
export function money(exact: string | null | undefined, places = 2): string {
  if (exact == null || exact === "") return "–";
  const negative = exact.startsWith("-");
  const digits = negative ? exact.slice(1) : exact;
  const [whole, fraction = ""] = digits.split(".");
  const padded = (fraction + "0".repeat(places + 1)).slice(0, places + 1);
  let kept = BigInt(whole + padded.slice(0, places));
  if (Number(padded[places]) >= 5) kept += 1n;
  const text = kept.toString().padStart(places + 1, "0");
  const intPart = text.slice(0, text.length - places) || "0";
  const fracPart = places > 0 ? "." + text.slice(text.length - places) : "";
  const grouped = intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const zero = kept === 0n;
  return `${negative && !zero ? "-" : ""}$${grouped}${fracPart}`;
}

/** A compact amount for chart axes ($1.2k, $3.4M). */
export function compact(value: number): string {
  const abs = Math.abs(value);
  const sign = value < 0 ? "-" : "";
  if (abs >= 1e9) return `${sign}$${(abs / 1e9).toFixed(1)}B`;
  if (abs >= 1e6) return `${sign}$${(abs / 1e6).toFixed(1)}M`;
  if (abs >= 1e3) return `${sign}$${(abs / 1e3).toFixed(1)}k`;
  return `${sign}$${abs.toFixed(0)}`;
}

/** A decimal string as a number, for charts only. */
export const approx = (exact: string | null | undefined): number => (exact ? Number(exact) : 0);

export function percent(text: string | null | undefined): string {
  if (text == null) return "–";
  const n = Number(text);
  return `${n > 0 ? "+" : ""}${n.toFixed(1)}%`;
}

const PROVIDER_NAMES: Record<string, string> = {
  aws: "AWS",
  azure: "Azure",
  gcp: "Google Cloud",
  oci: "Oracle Cloud",
  digitalocean: "DigitalOcean",
  datadog: "Datadog",
  snowflake: "Snowflake",
  openai: "OpenAI",
  mongodb: "MongoDB Atlas",
  focus: "FOCUS",
};

/** A provider's display name; a FOCUS connection's card (`focus:<name>`) is its name. */
export function providerName(p: string): string {
  const known = PROVIDER_NAMES[p];
  if (known) return known;
  const focus = /^focus:(.+)$/.exec(p);
  if (focus) return focus[1].charAt(0).toUpperCase() + focus[1].slice(1);
  return p;
}

/** Escapes text for HTML. */
export function esc(text: unknown): string {
  return String(text ?? "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

export function when(rfc3339: string | null | undefined): string {
  if (!rfc3339) return "never";
  const t = new Date(rfc3339);
  return t.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}
