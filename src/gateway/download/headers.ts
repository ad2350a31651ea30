/** Response headers of a file download that depend only on the manifest and the request. */

/** The strong ETag of a file: its SHA-256, which is also its id. */
export function etagOf(hash: string): string {
  return `"${hash}"`;
}

/** True when an If-None-Match header names this ETag (or `*`); weak comparison, as RFC 9110 asks. */
export function matchesIfNoneMatch(header: string | undefined, hash: string): boolean {
  if (header === undefined) return false;
  for (const raw of header.split(",")) {
    const tag = raw.trim();
    if (tag === "*") return true;
    const opaque = tag.startsWith("W/") ? tag.slice(2) : tag;
    if (opaque === etagOf(hash)) return true;
  }
  return false;
}

/** If-Range: a range is honoured only when the validator is our (strong) ETag. Dates are not ours to compare. */
export function ifRangeAllows(header: string | undefined, hash: string): boolean {
  return header === undefined || header.trim() === etagOf(hash);
}

// RFC 5987 attr-char: everything else is percent-encoded in filename*.
const ATTR_CHAR = /[A-Za-z0-9!#$&+\-.^_`|~]/;

function encodeExtValue(value: string): string {
  let out = "";
  for (const byte of Buffer.from(value, "utf8")) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && ATTR_CHAR.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * `attachment` with the upload's name, RFC 6266: a quoted ASCII fallback (anything outside printable
 * ASCII, quotes and backslashes become "_") plus `filename*` in UTF-8 when the name is not plain ASCII.
 */
export function contentDisposition(name: string): string {
  const clean = name.replace(/[\r\n\0]/g, "");
  if (clean === "") return "attachment";
  const fallback = clean.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  const plain = fallback === clean;
  return plain
    ? `attachment; filename="${fallback}"`
    : `attachment; filename="${fallback}"; filename*=UTF-8''${encodeExtValue(clean)}`;
}

/**
 * The file name a client gave in a Content-Disposition request header (`filename*` wins over
 * `filename`); undefined when there is none or it cannot be decoded.
 */
export function filenameFromDisposition(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const ext = /filename\*\s*=\s*(?:UTF-8|utf-8)'[^']*'([^;\s]+)/.exec(header);
  if (ext) {
    try {
      return decodeURIComponent(ext[1]!);
    } catch {
      // fall through to the plain parameter
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(header);
  if (quoted) return quoted[1]!.replace(/\\(.)/g, "$1");
  const token = /filename\s*=\s*([^;\s"]+)/.exec(header);
  return token ? token[1] : undefined;
}
