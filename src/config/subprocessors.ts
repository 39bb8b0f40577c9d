/** A third party the operator discloses (GDPR-4): who, for what, where. */
export interface Subprocessor {
  readonly name: string;
  readonly purpose: string;
  readonly location: string;
  readonly url?: string;
}

const FIELDS = ["name", "purpose", "location", "url"] as const;

/**
 * Reads SUBPROCESSORS: a JSON array of `{ "name", "purpose", "location", "url"? }`. Returns the list,
 * or the problems found (each names the entry and field), never a partial list: a page that discloses
 * sub-processors must not silently drop one.
 */
export function parseSubprocessors(text: string | undefined): {
  list: Subprocessor[];
  problems: string[];
} {
  if (text === undefined || text.trim() === "") return { list: [], problems: [] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { list: [], problems: ["SUBPROCESSORS: must be a JSON array (it does not parse)"] };
  }
  if (!Array.isArray(value) || value.length > 100)
    return { list: [], problems: ["SUBPROCESSORS: must be a JSON array of at most 100 entries"] };
  const problems: string[] = [];
  const list: Subprocessor[] = [];
  value.forEach((entry: unknown, i) => {
    const at = `SUBPROCESSORS[${i}]`;
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
      problems.push(`${at}: must be an object with name, purpose and location`);
      return;
    }
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e))
      if (!(FIELDS as readonly string[]).includes(key)) problems.push(`${at}.${key}: unknown field`);
    for (const key of FIELDS) {
      const v = e[key];
      if (v === undefined && key === "url") continue;
      // No control or format characters (a right-to-left override would garble the page's sentence).
      if (typeof v !== "string" || v.trim() === "" || v.length > 200 || /[\p{Cc}\p{Cf}]/u.test(v))
        problems.push(`${at}.${key}: must be text of 1 to 200 characters`);
    }
    if (typeof e.url === "string" && !isHttps(e.url)) problems.push(`${at}.url: must be an https URL`);
    list.push({
      name: String(e.name),
      purpose: String(e.purpose),
      location: String(e.location),
      ...(typeof e.url === "string" ? { url: e.url } : {}),
    });
  });
  return problems.length ? { list: [], problems } : { list, problems };
}

function isHttps(text: string): boolean {
  try {
    return new URL(text).protocol === "https:" && !/\s/.test(text);
  } catch {
    return false;
  }
}
