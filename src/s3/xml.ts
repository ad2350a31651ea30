/** A small writer of S3 response documents: every text and attribute value is escaped. */

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

export function escapeXml(text: string): string {
  // Control characters other than tab, CR and LF cannot appear in XML 1.0, even escaped as entities.
  let out = "";
  for (const c of text) {
    const code = c.charCodeAt(0);
    if (code < 0x20 && c !== "\t" && c !== "\n" && c !== "\r") out += "\uFFFD";
    else out += ESCAPES[c] ?? c;
  }
  return out;
}

/** A child: an element with text, nested children, or nothing. Undefined children are left out. */
export type XmlNode = [name: string, content: string | number | boolean | XmlNode[]] | undefined;

function render(node: Exclude<XmlNode, undefined>): string {
  const [name, content] = node;
  if (Array.isArray(content))
    return `<${name}>${content.map((c) => (c === undefined ? "" : render(c))).join("")}</${name}>`;
  return `<${name}>${escapeXml(String(content))}</${name}>`;
}

export const S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/";

/** A whole document: declaration, root element in the S3 namespace (none when ns is null), its children. */
export function xmlDocument(root: string, children: XmlNode[], ns: string | null = S3_NS): string {
  const attrs = ns === null ? "" : ` xmlns="${ns}"`;
  const body = children.map((c) => (c === undefined ? "" : render(c))).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${attrs}>${body}</${root}>`;
}

/** An S3 timestamp (ISO 8601 with milliseconds, UTC). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
