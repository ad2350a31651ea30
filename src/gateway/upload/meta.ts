/** Cleaning what a client says about its file, since both come back later as response headers. */

const MAX_NAME_CHARS = 255;
const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]{1,127}\/[A-Za-z0-9!#$&^_.+-]{1,127}(?:[ \t]*;[\x20-\x7e]*)?$/;
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/** The last path segment, without control characters, at most 255 characters; "" when none. */
export function cleanName(raw: string | undefined): string {
  if (raw === undefined) return "";
  const base = raw.split(/[/\\]/).pop() ?? "";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, "").trim();
  return clean === "." || clean === ".." ? "" : [...clean].slice(0, MAX_NAME_CHARS).join("");
}

/** A syntactically valid media type (parameters kept), or application/octet-stream. */
export function cleanContentType(raw: string | undefined): string {
  const value = raw?.trim();
  if (value === undefined || value.length > 255 || !MEDIA_TYPE.test(value)) return DEFAULT_CONTENT_TYPE;
  return value;
}
