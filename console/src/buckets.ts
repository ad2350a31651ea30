import { api, bucketUrl, type SessionInfo } from "./api.ts";
import { announce, confirmDialog, fill, h } from "./dom.ts";
import { when } from "./format.ts";

interface Bucket {
  name: string;
  created: string;
}

export const browseHref = (bucket: string, prefix = "") =>
  `#/b/${encodeURIComponent(bucket)}/${encodeURIComponent(prefix)}`;

/** The bucket list: open one, create one, delete an empty one. */
export function renderBuckets(main: HTMLElement, session: SessionInfo): void {
  const list = h("tbody");
  const name = h("input", {
    id: "new-bucket",
    name: "bucket",
    required: true,
    pattern: "[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]",
    placeholder: "my-bucket",
    "aria-describedby": "new-bucket-help",
    spellcheck: "false",
  });
  const form = h(
    "form",
    { class: "row", "aria-label": "Create a bucket" },
    h("label", { for: "new-bucket" }, "New bucket"),
    name,
    h("button", { type: "submit" }, "Create bucket"),
    h("small", { id: "new-bucket-help" }, "3-63 of a-z, 0-9, dot and dash"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("PUT", bucketUrl(name.value));
      announce(`Bucket ${name.value} created`);
      name.value = "";
      await load();
    } catch (err) {
      announce(`Could not create the bucket: ${(err as Error).message}`, "error");
    }
  });
  const canCreate = session.grants.some((g) => g.owner);

  async function remove(bucket: string): Promise<void> {
    const ok = await confirmDialog(
      `Delete bucket ${bucket}?`,
      [h("p", {}, "Only an empty bucket can be deleted.")],
      "Delete bucket",
    );
    if (!ok) return;
    try {
      await api("DELETE", bucketUrl(bucket));
      announce(`Bucket ${bucket} deleted`);
      await load();
    } catch (err) {
      announce(`Could not delete ${bucket}: ${(err as Error).message}`, "error");
    }
  }

  async function load(): Promise<void> {
    const { buckets } = await api<{ buckets: Bucket[] }>("GET", "/v1/buckets");
    fill(
      list,
      ...buckets.map((b) =>
        h(
          "tr",
          {},
          h("td", {}, h("a", { href: browseHref(b.name) }, b.name)),
          h("td", {}, when(b.created)),
          h(
            "td",
            {},
            h(
              "button",
              {
                type: "button",
                class: "secondary small",
                "aria-label": `Delete bucket ${b.name}`,
                onclick: () => void remove(b.name),
              },
              "Delete",
            ),
          ),
        ),
      ),
      buckets.length === 0 ? h("tr", {}, h("td", { colspan: 3 }, "No bucket yet.")) : null,
    );
  }

  fill(
    main,
    h("h1", {}, "Buckets"),
    canCreate ? form : null,
    h(
      "div",
      { class: "scroll", tabindex: 0, role: "region", "aria-label": "Buckets" },
      h(
        "table",
        {},
        h("caption", { class: "sr-only" }, "Buckets"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Name"),
            h("th", { scope: "col" }, "Created"),
            h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")),
          ),
        ),
        list,
      ),
    ),
  );
  void load();
}
