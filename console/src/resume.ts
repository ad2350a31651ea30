/**
 * Multipart uploads in progress, kept in localStorage so a reload can resume them: the upload id
 * and the file's name, size and time (to match the file the user picks again: a page cannot keep
 * a file across reloads). Which parts arrived is asked of the gateway, which is authoritative.
 */
export interface ResumeRecord {
  bucket: string;
  key: string;
  uploadId: string;
  name: string;
  size: number;
  lastModified: number;
  partBytes: number;
}

const PREFIX = "dfs-upload:";
const slot = (bucket: string, key: string) => `${PREFIX}${bucket}/${key}`;

export function saveResume(r: ResumeRecord): void {
  try {
    localStorage.setItem(slot(r.bucket, r.key), JSON.stringify(r));
  } catch {
    // storage full or off: the upload still runs, it just cannot resume after a reload
  }
}

export function dropResume(bucket: string, key: string): void {
  localStorage.removeItem(slot(bucket, key));
}

export function findResume(bucket: string, key: string): ResumeRecord | undefined {
  const text = localStorage.getItem(slot(bucket, key));
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as ResumeRecord;
  } catch {
    return undefined;
  }
}

export function allResumes(): ResumeRecord[] {
  const out: ResumeRecord[] = [];
  for (let i = 0; i < localStorage.length; i++) {
    const name = localStorage.key(i);
    if (name?.startsWith(PREFIX)) {
      const [bucket, ...key] = name.slice(PREFIX.length).split("/");
      const r = findResume(bucket!, key.join("/"));
      if (r !== undefined) out.push(r);
    }
  }
  return out;
}

export const matches = (r: ResumeRecord, f: File): boolean =>
  r.name === f.name && r.size === f.size && r.lastModified === f.lastModified;
