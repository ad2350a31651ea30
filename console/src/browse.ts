import { api, type ListPage, type ObjectEntry, objectUrl } from "./api.ts";
import { browseHref } from "./buckets.ts";
import { openDetails } from "./details.ts";
import { announce, confirmDialog, fill, h } from "./dom.ts";
import { bytes, when } from "./format.ts";
import { uploads } from "./upload.ts";

/** Keys per page: a page stays light to draw however many keys the folder holds. */
const PAGE = 200;
/** Deletes in flight at once. */
const DELETE_PARALLEL = 4;

const baseName = (key: string, prefix: string) => key.slice(prefix.length);

/** A folder of a bucket: its sub-folders and keys a page at a time, search, upload, delete. */
export function renderBrowse(main: HTMLElement, bucket: string, prefix: string): () => void {
  let search = "";
  /** Cursors of the pages before this one (the first page's is undefined). */
  const cursors: (string | undefined)[] = [];
  let cursor: string | undefined;
  let page: ListPage | undefined;
  const selected = new Set<string>();

  const rows = h("tbody");
  const pager = h("div", { class: "row pager" });
  const deleteButton = h(
    "button",
    { type: "button", class: "danger", id: "delete-selected", disabled: true },
    "Delete selected",
  );
  const selectAll = h("input", {
    type: "checkbox",
    id: "select-all",
    "aria-label": "Select every key on this page",
  });
  const searchBox = h("input", {
    id: "search",
    type: "search",
    name: "prefix",
    placeholder: "name starts with…",
    spellcheck: "false",
  });
  const searchForm = h(
    "form",
    { class: "row", role: "search", "aria-label": "Search keys by prefix" },
    h("label", { for: "search" }, "Search"),
    searchBox,
    h("button", { type: "submit", class: "secondary" }, "Search"),
  );
  searchForm.addEventListener("submit", (e) => {
    e.preventDefault();
    search = searchBox.value;
    cursors.length = 0;
    cursor = undefined;
    void load();
  });

  const updateSelection = () => {
    deleteButton.disabled = selected.size === 0;
    deleteButton.textContent = selected.size === 0 ? "Delete selected" : `Delete ${selected.size} selected`;
    const keys = page?.objects ?? [];
    selectAll.checked = keys.length > 0 && keys.every((o) => selected.has(o.key));
  };
  selectAll.addEventListener("change", () => {
    for (const o of page?.objects ?? []) {
      if (selectAll.checked) selected.add(o.key);
      else selected.delete(o.key);
    }
    for (const box of rows.querySelectorAll<HTMLInputElement>("input[data-key]"))
      box.checked = selectAll.checked;
    updateSelection();
  });

  deleteButton.addEventListener("click", async () => {
    const keys = [...selected];
    const ok = await confirmDialog(
      `Delete ${keys.length} key${keys.length === 1 ? "" : "s"}?`,
      [
        h("p", {}, "This cannot be undone."),
        h(
          "ul",
          { class: "keys" },
          ...keys.slice(0, 10).map((k) => h("li", {}, k)),
          keys.length > 10 ? h("li", {}, `and ${keys.length - 10} more`) : null,
        ),
      ],
      "Delete",
    );
    if (!ok) return;
    let done = 0;
    const failed: string[] = [];
    const queue = [...keys];
    await Promise.all(
      Array.from({ length: DELETE_PARALLEL }, async () => {
        for (let k = queue.shift(); k !== undefined; k = queue.shift()) {
          try {
            await api("DELETE", objectUrl(bucket, k));
            selected.delete(k);
            done++;
          } catch {
            failed.push(k);
          }
        }
      }),
    );
    announce(
      failed.length === 0 ? `${done} deleted` : `${done} deleted, ${failed.length} could not be deleted`,
      failed.length ? "error" : "info",
    );
    await load();
  });

  function row(o: ObjectEntry): HTMLTableRowElement {
    const box = h("input", { type: "checkbox", "data-key": o.key, "aria-label": `Select ${o.key}` });
    box.checked = selected.has(o.key);
    box.addEventListener("change", () => {
      if (box.checked) selected.add(o.key);
      else selected.delete(o.key);
      updateSelection();
    });
    const name = baseName(o.key, prefix);
    return h(
      "tr",
      {},
      h("td", {}, box),
      h(
        "td",
        {},
        h("button", { type: "button", class: "link", onclick: () => openDetails(bucket, o) }, name),
      ),
      h("td", { class: "num" }, bytes(o.size)),
      h("td", {}, o.contentType),
      h("td", {}, when(o.modified)),
      h(
        "td",
        {},
        h(
          "a",
          {
            href: objectUrl(bucket, o.key),
            download: name.split("/").pop() ?? name,
            "aria-label": `Download ${name}`,
          },
          "Download",
        ),
      ),
    );
  }

  async function load(): Promise<void> {
    const q = new URLSearchParams({ prefix: prefix + search, delimiter: "/", limit: String(PAGE) });
    if (cursor !== undefined) q.set("cursor", cursor);
    page = await api<ListPage>("GET", `/v1/buckets/${encodeURIComponent(bucket)}/objects?${q}`);
    fill(
      rows,
      ...page.commonPrefixes.map((p) =>
        h(
          "tr",
          { class: "folder" },
          h("td", {}),
          h("td", { colspan: 5 }, h("a", { href: browseHref(bucket, p) }, `📁 ${baseName(p, prefix)}`)),
        ),
      ),
      ...page.objects.map(row),
      page.objects.length + page.commonPrefixes.length === 0
        ? h("tr", {}, h("td", { colspan: 6 }, search ? "No key starts with that." : "This folder is empty."))
        : null,
    );
    const prev = h(
      "button",
      { type: "button", class: "secondary", disabled: cursors.length === 0 },
      "Previous page",
    );
    prev.addEventListener("click", () => {
      cursor = cursors.pop();
      void load();
    });
    const next = h("button", { type: "button", class: "secondary", disabled: !page.truncated }, "Next page");
    next.addEventListener("click", () => {
      cursors.push(cursor);
      cursor = page?.next;
      void load();
    });
    fill(pager, prev, h("span", {}, `Page ${cursors.length + 1}`), next);
    updateSelection();
  }

  const crumbs = h(
    "nav",
    { "aria-label": "Folder", class: "crumbs" },
    h("a", { href: "#/buckets" }, "Buckets"),
    " / ",
    h("a", { href: browseHref(bucket) }, bucket),
  );
  let at = "";
  for (const part of prefix.split("/").filter((p) => p !== "")) {
    at += `${part}/`;
    crumbs.append(" / ", h("a", { href: browseHref(bucket, at) }, part));
  }

  fill(
    main,
    crumbs,
    h("h1", {}, prefix === "" ? bucket : `${bucket}/${prefix}`),
    uploads.dropZone(() => void load()),
    h("div", { class: "row" }, searchForm, deleteButton),
    h(
      "div",
      { class: "scroll", tabindex: 0, role: "region", "aria-label": "Keys and folders" },
      h(
        "table",
        { id: "keys" },
        h("caption", { class: "sr-only" }, "Keys and folders"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, selectAll),
            h("th", { scope: "col" }, "Name"),
            h("th", { scope: "col" }, "Size"),
            h("th", { scope: "col" }, "Type"),
            h("th", { scope: "col" }, "Modified"),
            h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Download")),
          ),
        ),
        rows,
      ),
    ),
    pager,
  );
  void load();
  return () => uploads.onChange(undefined);
}
