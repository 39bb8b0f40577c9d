import { Type } from "@sinclair/typebox";

/**
 * Cursor pagination, one way for every list: `?limit=&after=<id>` in, `nextCursor` out (the last item's
 * id when the page came back full, else null). Ids are time-ordered (ULIDs), so a cursor is stable under
 * inserts and never skips or repeats an item. `idPattern` keeps a cursor of another kind out at validation.
 */
export function pageParams(idPattern: string, defaultLimit: number) {
  return {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: defaultLimit })),
    after: Type.Optional(Type.String({ pattern: idPattern })),
  };
}

/** The cursor of the page after `rows`, or null when `rows` is the last page. */
export function nextCursor<R>(rows: readonly R[], limit: number, id: (row: R) => string): string | null {
  const last = rows[rows.length - 1];
  return rows.length === limit && last !== undefined ? id(last) : null;
}
