/**
 * Access keys kept in the cluster (tables), known to every gateway: an access key id and secret (S3
 * SigV4 and /v1), and grants per bucket. The contract between src/access/ and its users (the /v1
 * auth hook, the S3 listener, the `dfs key` commands through the admin routes).
 */

/** What a key may do in one bucket ("*": every bucket, present and future). */
export interface BucketGrant {
  bucket: string;
  read: boolean;
  write: boolean;
  /** Create and delete the bucket, and grant within it. */
  owner: boolean;
}

export interface AccessKey {
  /** The access key id: "DK" + 18 upper-case letters and digits, as S3 clients expect its shape. */
  id: string;
  /** A label chosen at creation. */
  name: string;
  /** The secret access key (40 characters); stored sealed with the cluster key, opened here. */
  secret: string;
  grants: BucketGrant[];
  createdMs: number;
}

/** Who is asking, once a request's signature or bearer key checks out. */
export type Principal =
  /** A configured API key (gateway.apiKeys / apiKeysFile) or a gateway without keys: every bucket. */
  { kind: "configured"; name: string | undefined; admin: boolean } | { kind: "access-key"; key: AccessKey };

export type BucketAction = "read" | "write" | "owner";

export interface AccessKeyDirectory {
  /** The key with this id (secret opened), or undefined. Cached briefly; a miss is read at quorum. */
  lookup(id: string): Promise<AccessKey | undefined>;
  create(name: string): Promise<AccessKey>;
  list(): Promise<AccessKey[]>;
  /** Adds or replaces the key's grant for `grant.bucket`. */
  allow(id: string, grant: BucketGrant): Promise<AccessKey>;
  remove(id: string): Promise<boolean>;
}
