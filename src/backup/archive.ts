import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable, Writable } from "node:stream";
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from "age-encryption";

/**
 * Backup files are age v1 (age-encryption.org/v1): the file key wrapped to each X25519 recipient, the
 * body in ChaCha20-Poly1305 chunks of 64 KiB with a final-chunk flag (the STREAM construction), so a
 * changed, reordered, dropped or truncated byte fails to decrypt, and any age tool (age, rage, typage)
 * opens a backup with the private key: no lock-in to Bulwark for a restore. Streamed both ways: memory
 * stays flat whatever the database's size.
 */

/** Encrypts `src` to `dest` for `recipients`; `dest` appears only complete (written aside, then renamed). */
export async function sealFile(src: string, dest: string, recipients: readonly string[]): Promise<number> {
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  const partial = `${dest}.partial`;
  try {
    const out = await e.encrypt(Readable.toWeb(createReadStream(src)) as ReadableStream<Uint8Array>);
    let bytes = 0;
    const counted = out.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          bytes += chunk.length;
          c.enqueue(chunk);
        },
      }),
    );
    await counted.pipeTo(Writable.toWeb(createWriteStream(partial, { mode: 0o600 })));
    await rename(partial, dest);
    return bytes;
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}

/**
 * Decrypts `src` to `dest` with `identity`. Throws (and leaves no `dest`) when the key does not open
 * it or any byte was changed: age authenticates each chunk and the end, so a plaintext is kept only
 * once the whole file has verified.
 */
export async function openFile(src: string, dest: string, identity: string): Promise<void> {
  const d = new Decrypter();
  d.addIdentity(identity);
  const partial = `${dest}.partial`;
  try {
    const out = await d.decrypt(Readable.toWeb(createReadStream(src)) as ReadableStream<Uint8Array>);
    await out.pipeTo(Writable.toWeb(createWriteStream(partial, { mode: 0o600 })));
    await rename(partial, dest);
  } catch (err) {
    await rm(partial, { force: true });
    // A file-system error (no space, a directory given) is itself; anything else is the key or the file.
    if ((err as NodeJS.ErrnoException).code) throw err;
    throw new Error(
      `the backup does not open with BACKUP_IDENTITY, or was altered: ${(err as Error).message}`,
    );
  }
}

/** A new key pair: the identity (private, for restores) and its recipient (public, for backups). */
export async function newBackupKey(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}
