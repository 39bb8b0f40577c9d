/**
 * A LIKE pattern matching values that contain `text`, lower-cased, with LIKE's own wildcards escaped (use
 * with `escape '\'`), so a search for "50%_off" finds that text and nothing else, on SQLite and PostgreSQL.
 */
export function containsPattern(text: string): string {
  return `%${text
    .normalize("NFC")
    .toLowerCase()
    .replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
