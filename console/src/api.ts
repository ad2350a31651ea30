/** Calls to the gateway with the session cookie; writes carry the session's CSRF token. */
let csrf = "";

export function setCsrf(token: string): void {
  csrf = token;
}

export const csrfToken = (): string => csrf;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function errorOf(res: Response): Promise<ApiError> {
  let detail = `${res.status} ${res.statusText}`;
  let code = "";
  try {
    const p = (await res.json()) as { detail?: string; title?: string; code?: string };
    detail = p.detail ?? p.title ?? detail;
    code = p.code ?? "";
  } catch {
    // not problem+json: keep the status line
  }
  return new ApiError(res.status, code, detail);
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (method !== "GET" && method !== "HEAD") headers["x-csrf-token"] = csrf;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

const seg = (s: string) => encodeURIComponent(s);
/** A key's path segments encoded one by one (the key keeps its slashes). */
export const keyPath = (key: string) => key.split("/").map(seg).join("/");
export const bucketUrl = (bucket: string) => `/v1/buckets/${seg(bucket)}`;
export const objectUrl = (bucket: string, key: string) => `${bucketUrl(bucket)}/objects/${keyPath(key)}`;

export interface ObjectEntry {
  key: string;
  size: number;
  etag: string;
  sha256: string;
  modified: string;
  contentType: string;
}

export interface ListPage {
  objects: ObjectEntry[];
  commonPrefixes: string[];
  truncated: boolean;
  next?: string;
}

export interface Grant {
  bucket: string;
  read: boolean;
  write: boolean;
  owner: boolean;
}

export interface SessionInfo {
  keyId: string;
  name: string;
  grants: Grant[];
  cluster: boolean;
  csrf: string;
  expires: string;
}
