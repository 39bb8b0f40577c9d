/** A backup's name: when it was taken (UTC, to the millisecond) and from which engine. */
export const BACKUP_NAME = /^bulwark-(\d{8}T\d{9}Z)\.(sqlite|pg)\.age$/;

/** A backup where it is kept: its name and when it was taken (epoch ms, from the name). */
export interface StoredBackup {
  readonly name: string;
  readonly at: number;
}

/**
 * Where encrypted backups are kept (DATA-2): BACKUP_DIR, or an S3-compatible bucket (BACKUP_BUCKET). A
 * backup is always sealed into BACKUP_DIR first (encrypted; the plaintext never leaves the machine); a
 * bucket then takes the sealed file and the local copy is removed once the bucket holds all of it.
 */
export interface BackupTarget {
  /** Where, in words, for messages: the directory or `s3://bucket/prefix`. */
  readonly where: string;
  /** Takes the sealed file `file` (in BACKUP_DIR) as backup `name`; returns where it now is. */
  keep(file: string, name: string): Promise<string>;
  /** The backups kept, newest first. */
  list(): Promise<StoredBackup[]>;
  remove(name: string): Promise<void>;
  /** A local file of backup `name` for a restore (downloaded into `scratch` from a bucket). */
  fetch(name: string, scratch: string): Promise<string>;
}

/** When a backup named `name` was taken, or undefined for another file. */
export function takenAt(name: string): number | undefined {
  const m = BACKUP_NAME.exec(name);
  if (!m) return undefined;
  const s = m[1]!;
  return Date.UTC(
    +s.slice(0, 4),
    +s.slice(4, 6) - 1,
    +s.slice(6, 8),
    +s.slice(9, 11),
    +s.slice(11, 13),
    +s.slice(13, 15),
    +s.slice(15, 18),
  );
}
