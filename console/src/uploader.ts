import { ApiError, bucketUrl, type ObjectEntry, objectUrl } from "./api.ts";
import { dropResume, findResume, matches, type ResumeRecord, saveResume } from "./resume.ts";
import { Cancelled, pause, retryable, retryDelayMs, send } from "./transfer.ts";

/** Files from this size go in parts, which resume; smaller ones in one request. */
export const MULTIPART_FROM = 16 * 1024 * 1024;
export const PART_BYTES = 8 * 1024 * 1024;
const PART_PARALLEL = 3;

export type TaskState = "queued" | "uploading" | "retrying" | "done" | "failed" | "cancelled";

/** One file going to one key: its progress, for the panel to draw. */
export class UploadTask {
  state: TaskState = "queued";
  /** Bytes the gateway acknowledged, plus what requests in flight have sent. */
  sent = 0;
  resumedBytes = 0;
  error = "";
  result: ObjectEntry | undefined;
  readonly xhrs = new Set<XMLHttpRequest>();
  #confirmed = 0;
  readonly #inFlight = new Map<number, number>();
  #cancelled = false;
  #uploadId: string | undefined;
  /** (time ms, bytes) samples of the last seconds, for the speed. */
  readonly samples: [number, number][] = [];

  constructor(
    readonly file: File,
    readonly bucket: string,
    readonly key: string,
    readonly onUpdate: () => void,
  ) {}

  get speed(): number {
    const s = this.samples;
    if (s.length < 2) return 0;
    const [t0, b0] = s[0]!;
    const [t1, b1] = s[s.length - 1]!;
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }

  #progress(): void {
    let flying = 0;
    for (const v of this.#inFlight.values()) flying += v;
    this.sent = Math.min(this.file.size, this.#confirmed + flying);
    const now = performance.now();
    this.samples.push([now, this.sent]);
    while (this.samples.length > 2 && now - this.samples[0]![0] > 3000) this.samples.shift();
    this.onUpdate();
  }

  cancel(): void {
    if (this.state === "done" || this.state === "cancelled") return;
    this.#cancelled = true;
    this.state = "cancelled";
    for (const x of this.xhrs) x.abort();
    if (this.#uploadId !== undefined) {
      const url = `${bucketUrl(this.bucket)}/uploads/${this.#uploadId}?key=${encodeURIComponent(this.key)}`;
      void send("DELETE", url, null, () => {}, new Set()).catch(() => {});
      dropResume(this.bucket, this.key);
    }
    this.onUpdate();
  }

  async run(): Promise<void> {
    this.state = "uploading";
    this.onUpdate();
    try {
      this.result = this.file.size >= MULTIPART_FROM ? await this.#multipart() : await this.#single();
      this.sent = this.file.size;
      this.state = "done";
    } catch (err) {
      if (!(err instanceof Cancelled) && !this.#cancelled) {
        this.state = "failed";
        this.error = (err as Error).message;
      }
    }
    this.onUpdate();
  }

  /** Runs `attempt` until it succeeds, retrying network drops and 5xx answers; other errors fail. */
  async #withRetries<T>(part: number, attempt: () => Promise<T>): Promise<T> {
    for (let tries = 0; ; tries++) {
      if (this.#cancelled) throw new Cancelled("cancelled");
      try {
        const value = await attempt();
        if (this.state === "retrying") this.state = "uploading";
        return value;
      } catch (err) {
        this.#inFlight.delete(part);
        if (this.#cancelled || !retryable(err)) throw err;
        this.state = "retrying";
        this.error = (err as Error).message;
        this.#progress();
        await pause(retryDelayMs(tries));
      }
    }
  }

  #sendPiece<T>(part: number, method: string, url: string, body: Blob): Promise<T> {
    return send<T>(
      method,
      url,
      body,
      (loaded) => {
        this.#inFlight.set(part, loaded);
        this.#progress();
      },
      this.xhrs,
      this.file.type || "application/octet-stream",
    );
  }

  async #single(): Promise<ObjectEntry> {
    const url = objectUrl(this.bucket, this.key);
    const info = await this.#withRetries(0, () => this.#sendPiece<ObjectEntry>(0, "PUT", url, this.file));
    this.#inFlight.delete(0);
    return info;
  }

  async #start(): Promise<{ record: ResumeRecord; done: Map<number, string> }> {
    const base = `${bucketUrl(this.bucket)}/uploads`;
    const known = findResume(this.bucket, this.key);
    if (known !== undefined && matches(known, this.file)) {
      try {
        const listed = await this.#withRetries(-1, () =>
          send<{ parts: { partNumber: number; size: number; etag: string }[] }>(
            "GET",
            `${base}/${known.uploadId}?key=${encodeURIComponent(this.key)}`,
            null,
            () => {},
            this.xhrs,
          ),
        );
        const done = new Map<number, string>();
        for (const p of listed.parts) {
          const expected = Math.min(known.partBytes, this.file.size - (p.partNumber - 1) * known.partBytes);
          if (p.size === expected) done.set(p.partNumber, p.etag);
        }
        return { record: known, done };
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      }
    }
    const created = await this.#withRetries(-1, () =>
      send<{ uploadId: string }>(
        "POST",
        base,
        JSON.stringify({ key: this.key, contentType: this.file.type || undefined }),
        () => {},
        this.xhrs,
        "application/json",
      ),
    );
    const record: ResumeRecord = {
      bucket: this.bucket,
      key: this.key,
      uploadId: created.uploadId,
      name: this.file.name,
      size: this.file.size,
      lastModified: this.file.lastModified,
      partBytes: PART_BYTES,
    };
    saveResume(record);
    return { record, done: new Map() };
  }

  async #multipart(): Promise<ObjectEntry> {
    const { record, done } = await this.#start();
    this.#uploadId = record.uploadId;
    const count = Math.ceil(this.file.size / record.partBytes);
    const sizeOf = (n: number) => Math.min(record.partBytes, this.file.size - (n - 1) * record.partBytes);
    for (const n of done.keys()) this.#confirmed += sizeOf(n);
    this.resumedBytes = this.#confirmed;
    this.#progress();
    const todo = Array.from({ length: count }, (_, i) => i + 1).filter((n) => !done.has(n));
    const query = `?key=${encodeURIComponent(this.key)}`;
    const base = `${bucketUrl(this.bucket)}/uploads/${record.uploadId}`;
    await Promise.all(
      Array.from({ length: PART_PARALLEL }, async () => {
        for (let n = todo.shift(); n !== undefined; n = todo.shift()) {
          const part = n;
          const start = (part - 1) * record.partBytes;
          const body = this.file.slice(start, start + sizeOf(part));
          const answer = await this.#withRetries(part, () =>
            this.#sendPiece<{ etag: string }>(part, "PUT", `${base}/parts/${part}${query}`, body),
          );
          this.#inFlight.delete(part);
          this.#confirmed += sizeOf(part);
          done.set(part, answer.etag);
          this.#progress();
        }
      }),
    );
    const parts = [...done].sort((a, b) => a[0] - b[0]).map(([partNumber, etag]) => ({ partNumber, etag }));
    const info = await this.#withRetries(-1, () =>
      send<ObjectEntry>(
        "POST",
        `${base}/complete${query}`,
        JSON.stringify({ parts }),
        () => {},
        this.xhrs,
        "application/json",
      ),
    );
    dropResume(this.bucket, this.key);
    return info;
  }
}
