import { ApiError, csrfToken } from "./api.ts";

/** A request that never reached an answer (the network dropped, the tab went offline). */
export class NetworkError extends Error {}
export class Cancelled extends Error {}

/** Backoff between tries of a request that failed on the network or with a 5xx/408/429, capped. */
export const retryDelayMs = (attempt: number): number => Math.min(10_000, 500 * 2 ** Math.min(attempt, 5));

export const retryable = (err: unknown): boolean =>
  err instanceof NetworkError ||
  (err instanceof ApiError && (err.status >= 500 || err.status === 408 || err.status === 429));

/**
 * One request with upload progress (fetch has none): XMLHttpRequest, the body a Blob (a slice of
 * the file, never read into memory here). `onProgress` gets the bytes sent so far.
 */
export function send<T>(
  method: string,
  url: string,
  body: Blob | string | null,
  onProgress: (loaded: number) => void,
  track: Set<XMLHttpRequest>,
  contentType?: string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    track.add(xhr);
    xhr.open(method, url);
    xhr.setRequestHeader("x-csrf-token", csrfToken());
    if (contentType !== undefined) xhr.setRequestHeader("content-type", contentType);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      track.delete(xhr);
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve((xhr.responseText === "" ? undefined : JSON.parse(xhr.responseText)) as T);
        return;
      }
      let detail = `${xhr.status} ${xhr.statusText}`;
      let code = "";
      try {
        const p = JSON.parse(xhr.responseText) as { detail?: string; code?: string };
        detail = p.detail ?? detail;
        code = p.code ?? "";
      } catch {
        // not problem+json
      }
      reject(new ApiError(xhr.status, code, detail));
    };
    xhr.onerror = () => {
      track.delete(xhr);
      reject(new NetworkError("the connection dropped"));
    };
    xhr.onabort = () => {
      track.delete(xhr);
      reject(new Cancelled("cancelled"));
    };
    xhr.send(body);
  });
}

/** Resolves after `ms`, or when the browser says it is back online, whichever comes first. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener("online", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (!navigator.onLine) window.addEventListener("online", done);
  });
}
