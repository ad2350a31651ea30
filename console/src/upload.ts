import { api, bucketUrl } from "./api.ts";
import { announce, fill, h } from "./dom.ts";
import { bytes, rate } from "./format.ts";
import { allResumes, dropResume, matches, type ResumeRecord } from "./resume.ts";
import { UploadTask } from "./uploader.ts";

/** Files uploading at once; each large one also sends a few parts at once. */
const FILES_PARALLEL = 3;

const STATE_TEXT = {
  queued: "Waiting",
  uploading: "Uploading",
  retrying: "Connection lost, retrying",
  done: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
} as const;

class Uploads {
  /** Where dropped or picked files go: the folder on screen. */
  target: { bucket: string; prefix: string } | undefined;
  readonly panel = h("section", { id: "uploads", "aria-labelledby": "uploads-title", hidden: true });
  readonly #list = h("ul", { class: "uploads" });
  readonly #resumable = h("div", { id: "resumable" });
  readonly #total = h("progress", { id: "total-progress", max: 1, value: 0, "aria-label": "All uploads" });
  readonly #totalText = h("span", { id: "total-text" });
  readonly #tasks: UploadTask[] = [];
  readonly #rows = new Map<UploadTask, HTMLLIElement>();
  #onChange: (() => void) | undefined;
  #drawing = false;

  constructor() {
    fill(
      this.panel,
      h("h2", { id: "uploads-title" }, "Uploads"),
      h("div", { class: "row" }, this.#total, this.#totalText),
      this.#list,
      this.#resumable,
    );
    this.#drawResumable();
  }

  onChange(cb: (() => void) | undefined): void {
    this.#onChange = cb;
  }

  /** The drop zone and file picker of a folder. */
  dropZone(onChange: () => void): HTMLElement {
    this.#onChange = onChange;
    const input = h("input", { type: "file", id: "file-input", multiple: true, class: "sr-only" });
    input.addEventListener("change", () => {
      this.add([...(input.files ?? [])]);
      input.value = "";
    });
    const zone = h(
      "div",
      { class: "drop", id: "drop-zone" },
      h("span", {}, "Drop files here, or "),
      h("label", { for: "file-input", class: "button" }, "Choose files"),
      input,
    );
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      this.add([...(e.dataTransfer?.files ?? [])]);
    });
    return zone;
  }

  add(files: File[], to?: { bucket: string; key: string }): void {
    const target = this.target;
    if (target === undefined && to === undefined) return;
    for (const f of files) {
      const task = new UploadTask(f, to?.bucket ?? target!.bucket, to?.key ?? target!.prefix + f.name, () =>
        this.#draw(),
      );
      this.#tasks.push(task);
    }
    if (files.length > 0)
      announce(`${files.length} file${files.length === 1 ? "" : "s"} added to the uploads`);
    this.panel.hidden = false;
    this.#pump();
    this.#draw();
  }

  #pump(): void {
    const running = this.#tasks.filter((t) => t.state === "uploading" || t.state === "retrying").length;
    let free = FILES_PARALLEL - running;
    for (const t of this.#tasks) {
      if (free <= 0) break;
      if (t.state !== "queued") continue;
      free--;
      void t.run().then(() => {
        if (t.state === "done") announce(`${t.key} uploaded`);
        if (t.state === "failed") announce(`${t.key} failed: ${t.error}`, "error");
        this.#onChange?.();
        this.#drawResumable();
        this.#pump();
      });
    }
  }

  #row(t: UploadTask): HTMLLIElement {
    let row = this.#rows.get(t);
    if (row === undefined) {
      const cancel = h(
        "button",
        { type: "button", class: "secondary small", "aria-label": `Cancel ${t.key}` },
        "Cancel",
      );
      cancel.addEventListener("click", () => t.cancel());
      row = h(
        "li",
        { class: "upload", "data-key": t.key },
        h("span", { class: "name" }, t.key),
        h("progress", { max: Math.max(1, t.file.size), value: 0, "aria-label": `${t.key} progress` }),
        h("span", { class: "pct" }),
        h("span", { class: "state" }),
        h("span", { class: "speed" }),
        cancel,
        h("code", { class: "hash" }),
      );
      this.#rows.set(t, row);
      this.#list.append(row);
    }
    return row;
  }

  #draw(): void {
    if (this.#drawing) return;
    this.#drawing = true;
    requestAnimationFrame(() => {
      this.#drawing = false;
      let size = 0;
      let sent = 0;
      let speed = 0;
      for (const t of this.#tasks) {
        if (t.state === "cancelled") continue;
        size += t.file.size;
        sent += t.sent;
        if (t.state === "uploading" || t.state === "retrying") speed += t.speed;
        const row = this.#row(t);
        const pct = t.file.size === 0 ? 100 : Math.floor((t.sent / t.file.size) * 100);
        const bar = row.querySelector("progress")!;
        bar.value = t.sent;
        row.querySelector(".pct")!.textContent = `${pct}%`;
        row.querySelector(".state")!.textContent =
          t.state === "failed" ? `Failed: ${t.error}` : STATE_TEXT[t.state];
        row.querySelector(".speed")!.textContent =
          t.state === "uploading" || t.state === "retrying" ? rate(t.speed) : "";
        row.dataset.state = t.state;
        if (t.state === "done" && t.result) {
          row.querySelector(".hash")!.textContent = `sha256 ${t.result.sha256}`;
          row.querySelector("button")?.remove();
        }
      }
      for (const t of this.#tasks)
        if (t.state === "cancelled") this.#rows.get(t)?.setAttribute("data-state", "cancelled");
      this.#total.max = Math.max(1, size);
      this.#total.value = sent;
      this.#totalText.textContent = `${size === 0 ? 100 : Math.floor((sent / size) * 100)}% of ${bytes(size)}, ${rate(speed)}`;
    });
  }

  /** Uploads a reload interrupted: the file must be chosen again, and must be the same file. */
  #drawResumable(): void {
    const running = new Set(this.#tasks.filter((t) => t.state !== "done").map((t) => `${t.bucket}/${t.key}`));
    const left = allResumes().filter((r) => !running.has(`${r.bucket}/${r.key}`));
    if (left.length > 0) this.panel.hidden = false;
    fill(
      this.#resumable,
      left.length === 0 ? null : h("h3", {}, "Interrupted uploads"),
      left.length === 0
        ? null
        : h("p", {}, "A page cannot keep a file across a reload: choose the same file again to resume."),
      ...left.map((r) => this.#resumeRow(r)),
    );
  }

  #resumeRow(r: ResumeRecord): HTMLElement {
    const id = `resume-${r.uploadId}`;
    const input = h("input", { type: "file", id, class: "sr-only" });
    input.addEventListener("change", () => {
      const f = input.files?.[0];
      if (f === undefined) return;
      if (!matches(r, f)) {
        announce(`That is not ${r.name} (${bytes(r.size)}) as it was: choose the same file`, "error");
        return;
      }
      this.add([f], { bucket: r.bucket, key: r.key });
      this.#drawResumable();
    });
    const discard = h("button", { type: "button", class: "secondary small" }, "Discard");
    discard.addEventListener("click", async () => {
      dropResume(r.bucket, r.key);
      await api(
        "DELETE",
        `${bucketUrl(r.bucket)}/uploads/${r.uploadId}?key=${encodeURIComponent(r.key)}`,
      ).catch(() => {});
      this.#drawResumable();
    });
    return h(
      "div",
      { class: "row resume", "data-key": r.key },
      h("span", {}, `${r.bucket}/${r.key} (${r.name}, ${bytes(r.size)})`),
      h("label", { for: id, class: "button" }, `Choose ${r.name} to resume`),
      input,
      discard,
    );
  }
}

export const uploads = new Uploads();
