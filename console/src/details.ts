import { api, errorOf, type ObjectEntry, objectUrl } from "./api.ts";
import { copyText, h } from "./dom.ts";
import { bytes, when } from "./format.ts";

/** How much of a text key the preview shows. */
const TEXT_PREVIEW_BYTES = 64 * 1024;

const EXPIRIES: [string, number][] = [
  ["1 hour", 3600],
  ["1 day", 86_400],
  ["7 days", 7 * 86_400],
];

const isText = (type: string) => /^text\/|[/+](json|xml|yaml|csv|javascript)\b/.test(type);

function preview(bucket: string, o: ObjectEntry): HTMLElement {
  const url = objectUrl(bucket, o.key);
  if (o.contentType.startsWith("image/"))
    return h("img", { src: url, alt: `Preview of ${o.key}`, class: "preview" });
  if (o.contentType === "application/pdf")
    return h("iframe", { src: url, title: `Preview of ${o.key}`, class: "preview" });
  if (!isText(o.contentType)) return h("p", {}, `No preview for ${o.contentType}.`);
  const pre = h("pre", { class: "preview", tabindex: "0", "aria-label": `Start of ${o.key}` }, "Loading…");
  void (async () => {
    const res = await fetch(url, {
      headers: { range: `bytes=0-${TEXT_PREVIEW_BYTES - 1}` },
      credentials: "same-origin",
    });
    if (!res.ok) {
      pre.textContent = (await errorOf(res)).message;
      return;
    }
    const text = new TextDecoder().decode(await res.arrayBuffer());
    pre.textContent =
      o.size > TEXT_PREVIEW_BYTES ? `${text}\n… (first ${bytes(TEXT_PREVIEW_BYTES)} shown)` : text;
  })();
  return pre;
}

/** A key's details in a dialog: preview, digest, download and a share link. */
export function openDetails(bucket: string, o: ObjectEntry): void {
  const name = o.key.split("/").pop() ?? o.key;
  const sumLine = `${o.sha256}  ${name}`;
  const expiry = h(
    "select",
    { id: "share-expiry" },
    ...EXPIRIES.map(([label, sec]) => h("option", { value: sec }, label)),
  );
  const link = h("input", { id: "share-url", readonly: true, "aria-label": "Share link", class: "wide" });
  const shareError = h("p", { class: "error", role: "alert" });
  const share = h("button", { type: "button", id: "share" }, "Copy share link");
  share.addEventListener("click", async () => {
    shareError.textContent = "";
    try {
      const { url } = await api<{ url: string }>("POST", "/ui/api/share", {
        bucket,
        key: o.key,
        expiresSec: Number(expiry.value),
      });
      link.value = url;
      await copyText(url, "share link");
    } catch (err) {
      shareError.textContent = (err as Error).message;
    }
  });
  const titleId = "details-title";
  const dialog = h(
    "dialog",
    { "aria-labelledby": titleId, class: "details" },
    h("h2", { id: titleId }, o.key),
    h(
      "dl",
      {},
      h("dt", {}, "Size"),
      h("dd", {}, `${bytes(o.size)} (${o.size} bytes)`),
      h("dt", {}, "Type"),
      h("dd", {}, o.contentType),
      h("dt", {}, "Modified"),
      h("dd", {}, when(o.modified)),
      h("dt", {}, "SHA-256"),
      h("dd", {}, h("code", { id: "sha256" }, o.sha256)),
    ),
    h(
      "div",
      { class: "row" },
      h("a", { href: objectUrl(bucket, o.key), download: name, class: "button" }, "Download"),
      h(
        "button",
        { type: "button", class: "secondary", onclick: () => void copyText(sumLine, "sha256sum line") },
        "Copy sha256sum line",
      ),
    ),
    h("h3", {}, "Preview"),
    preview(bucket, o),
    h("h3", {}, "Share"),
    h("div", { class: "row" }, h("label", { for: "share-expiry" }, "Link works for"), expiry, share),
    link,
    shareError,
    h(
      "form",
      { method: "dialog", class: "row" },
      h("button", { value: "close", class: "secondary" }, "Close"),
    ),
  );
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
