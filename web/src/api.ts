// The REST API as the dashboard uses it. The session is the HttpOnly, SameSite=Strict cookie
// POST /api/v1/auth/login sets; nothing secret is kept in the page.

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public hint?: string,
  ) {
    super(message);
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin", headers: {} };
  if (body instanceof Blob) {
    init.body = body;
    (init.headers as Record<string, string>)["content-type"] = "application/octet-stream";
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] = "application/json";
  }
  const response = await fetch(`/api/v1${path}`, init);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const e = (parsed as { error?: { code: string; message: string; hint?: string } })?.error;
    throw new ApiError(
      response.status,
      e?.code ?? "error",
      e?.message ?? `${response.status} ${response.statusText}`,
      e?.hint,
    );
  }
  return parsed as T;
}

export const get = <T>(path: string) => request<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => request<T>("POST", path, body ?? {});
export const patch = <T>(path: string, body: unknown) => request<T>("PATCH", path, body);
export const del = <T>(path: string) => request<T>("DELETE", path);
/** Sends a file's bytes as they are (a billing export to a connection). */
export const upload = <T>(path: string, file: Blob) => request<T>("POST", path, file);

export type CostType = "provider" | "list" | "billed" | "effective";

export interface Me {
  organization_id: string;
  organization: string;
  user: string;
  role: string;
  cost_types: CostType[];
  accounts: string[] | null;
  authenticated_by: string;
}

export interface CostGroup {
  time?: string;
  key: string;
  provider_cost?: string;
  billed_cost?: string;
  effective_cost?: string;
  list_cost?: string;
  rows: number;
}

export interface CostsResponse {
  from?: string;
  to?: string;
  by: string;
  granularity: string;
  cost_types: CostType[];
  groups: CostGroup[];
  total_groups: number;
  rest?: CostGroup;
  total: CostGroup;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export interface ProviderCard {
  provider: string;
  connections: string[];
  month_to_date: string;
  last_month: string;
  last_month_to_date: string;
  change_percent?: string;
  projection?: string;
  last_charge_day?: string;
  last_sync_at?: string;
  has_data: boolean;
  checks: Check[];
}

export interface Ranked {
  key: string;
  cost: string;
}

export interface Overview {
  as_of: string;
  month: string;
  last_month: string;
  cost_type: CostType;
  cards: ProviderCard[];
  trend: { days: string[]; series: { provider: string; values: string[] }[] };
  accounts: Ranked[];
  services: Ranked[];
  regions: Ranked[];
  tag_key?: string;
  tags: Ranked[];
}

export interface Connection {
  id: string;
  name: string;
  provider: string;
  created_at: string;
  secrets: { name: string; fingerprint: string; updated_at: string }[];
  settings: { source?: string } & Record<string, unknown>;
  data_through?: string | null;
  sync: {
    last_attempt_at?: string;
    last_success_at?: string;
    last_version?: string;
    last_error?: string;
    running?: RunningSync | null;
    last_run?: SyncRun | null;
  };
}

export interface RunningSync {
  started_at: string;
  started_by: string;
  files: number;
  files_done: number;
  rows: number;
}

export interface UploadResult {
  filename: string;
  format: string;
  bytes: number;
  periods: { billing_period: string; outcome: string; ingestion_id: string; rows: number }[];
}

export interface SyncRun {
  started_at: string;
  finished_at: string;
  started_by: string;
  periods: { billing_period: string; outcome: string; rows: number }[];
  error?: string | null;
}

export interface ReconcileRow {
  connection_id: string;
  billing_period: string;
  billing_account_id: string;
  charge_category: string;
  source_billed: string;
  lake_billed: string;
  billed_difference: string;
  status: string;
  source_rows: number;
  lake_rows: number;
}

export interface Version {
  ingestion_id: string;
  export_version?: string;
  finished_at: string;
  rows: number;
  current: boolean;
  published: boolean;
  changes: {
    billing_account_id: string;
    charge_category: string;
    before: string;
    after: string;
    difference: string;
  }[];
  changes_by_service: {
    account: string;
    service: string;
    before: string;
    after: string;
    difference: string;
  }[];
}
