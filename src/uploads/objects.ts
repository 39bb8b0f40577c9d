/** What an object store holds for a key: the size and media type it was written with. */
export interface StoredObject {
  readonly size: number;
  readonly contentType: string;
}

/**
 * Where uploaded bodies live (DATA-3). Bulwark only signs links and reads metadata: bodies go from the
 * browser to the store and back without passing through the API. Every key is under the organisation's
 * prefix (`orgs/<orgId>/`), and a PUT link is bound to one key, one media type and one exact length.
 */
export interface ObjectStore {
  readonly kind: "s3" | "local";
  /** A link that accepts a PUT of exactly `size` bytes of `contentType` to `key` until `expiresAt`. */
  putUrl(key: string, contentType: string, size: number, now: number, expiresAt: number): Promise<string>;
  /** A link that reads `key` until `expiresAt`, answered with `contentType`. */
  getUrl(key: string, contentType: string, now: number, expiresAt: number): Promise<string>;
  /** The object's size and type, or undefined when nothing was uploaded. */
  head(key: string): Promise<StoredObject | undefined>;
  /**
   * Moves the object at `key` to `kept`, a key no upload link was ever issued for, inside the store (the
   * body never passes through Bulwark): once attached, a file cannot be changed by its upload link.
   */
  keep(key: string, kept: string): Promise<void>;
  /** Deletes the object (nothing when there is none). */
  remove(key: string): Promise<void>;
  /** A round trip to the store, for `/health`. */
  ping(): Promise<void>;
}

/** The key of an upload: under its organisation's prefix, so a link can never reach another's files. */
export const objectKey = (orgId: string, uploadId: string) => `orgs/${orgId}/${uploadId}`;

/** Where an attached upload's file is kept: beside its upload key, never the target of an upload link. */
export const keptKey = (key: string) => `${key}.kept`;
