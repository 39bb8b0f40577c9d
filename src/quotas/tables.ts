/** A platform admin's allowance for one organisation and unit, replacing the configured one (RATE-6). */
export interface OrgQuotaRow {
  org_id: string;
  unit: string;
  allowance: number;
  mode: "refuse" | "warn";
  updated_at: number;
}

/**
 * A quota notice sent: one row per organisation, unit, month and threshold, whose primary key makes the
 * 80 % and 100 % mails go out once per month whatever the number of nodes.
 */
export interface QuotaNoticeRow {
  org_id: string;
  unit: string;
  month: string;
  threshold: number;
  sent_at: number;
}

declare module "../db/tables.js" {
  interface Tables {
    org_quotas: OrgQuotaRow;
    quota_notices: QuotaNoticeRow;
  }
}
