import { useId } from "preact/hooks";
import { api } from "../api.js";
import { day, Loading, Notice, Page, useLoad } from "../ui.js";
import type { Org } from "./orgs.js";

interface UnitUsage {
  unit: string;
  used: number;
  allowance: number;
  mode: "refuse" | "warn";
}
interface Usage {
  /** The UTC month counted, YYYY-MM. */
  month: string;
  /** When the counts start again from zero (the 1st, 00:00 UTC). */
  resetsAt: string;
  units: UnitUsage[];
}

/** What a unit Bulwark counts itself means; an app's own units are shown by their name alone. */
const ABOUT: Record<string, string> = {
  api_requests:
    "Every request your programs make with this organisation's API keys counts; using the console does not.",
};

/** Where a unit stands: under 80 %, from 80 % (the first mail to owners and admins), at or past 100 %. */
type Level = "ok" | "near" | "full";
function levelOf(u: UnitUsage): Level {
  if (u.used >= u.allowance) return "full";
  return u.used * 5 >= u.allowance * 4 ? "near" : "ok";
}

const count = (n: number): string => n.toLocaleString();

/**
 * The share used, rounded down so the words never claim a level the unit has not reached ("99 %" until
 * the allowance is used up); a sliver is "less than 1 %", not "0 %".
 */
function share(u: UnitUsage): string {
  if (u.allowance <= 0) return u.used > 0 ? "over the allowance" : "100\u00a0%";
  const pct = Math.floor((u.used * 100) / u.allowance);
  return pct === 0 && u.used > 0 ? "less than 1\u00a0%" : `${count(pct)}\u00a0%`;
}

/**
 * An organisation's usage this month (RATE-6), for every member: a meter per unit with the numbers in
 * words, what happens at 80 % and at 100 % (refused, or a warning only), and when the counts reset.
 */
export function OrgUsage(props: { org: Org }) {
  const { org } = props;
  const usage = useLoad(() => api<Usage>("GET", `/v1/orgs/${org.id}/usage`), [org.id]);
  const u = usage.data;
  return (
    <Page title={`${org.name}: usage`} lead="How much of each monthly allowance this organisation has used.">
      {usage.error ? (
        <Notice kind="error">{usage.error}</Notice>
      ) : !u ? (
        <Loading />
      ) : u.units.length === 0 ? (
        <p>No usage quotas apply to this organisation.</p>
      ) : (
        <>
          <p>
            {monthName(u.month)} so far. The counts start again from zero on{" "}
            <time dateTime={u.resetsAt}>{day(u.resetsAt)}</time>.
          </p>
          <ul class="rows" aria-label="Monthly allowances">
            {u.units.map((unit) => (
              <Quota key={unit.unit} u={unit} resetsAt={u.resetsAt} />
            ))}
          </ul>
          <p class="muted">
            Owners and admins are mailed when an allowance is 80 % used and when it is used up. Only a
            platform administrator can change an allowance.
          </p>
        </>
      )}
    </Page>
  );
}

/** "2026-05" as "May 2026", in the person's language (the month is a UTC month). */
function monthName(month: string): string {
  const [y, m] = month.split("-").map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, 1)).toLocaleDateString(undefined, {
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  });
}

function Quota(props: { u: UnitUsage; resetsAt: string }) {
  const { u } = props;
  const id = useId();
  const level = levelOf(u);
  const left = count(Math.max(0, u.allowance - u.used));
  const until = <time dateTime={props.resetsAt}>{day(props.resetsAt)}</time>;
  // A warn quota past its allowance is not refused: painted as a warning, never as a refusal.
  const tone = level === "full" && u.mode === "warn" ? "over" : level;
  return (
    <li class={`quota ${tone}`}>
      <div class="quota-head">
        <h2 id={`${id}-name`}>
          <code>{u.unit}</code>
        </h2>
        <p id={`${id}-numbers`}>
          {count(u.used)} of {count(u.allowance)} {u.unit} ({share(u)})
        </p>
      </div>
      {/* A gauge (not a task's progress): a meter. Its bar is painted per level by the stylesheet. */}
      <meter
        min={0}
        max={Math.max(u.allowance, 1)}
        value={u.allowance > 0 ? Math.min(u.used, u.allowance) : 1}
        aria-labelledby={`${id}-name`}
        aria-describedby={`${id}-numbers ${id}-state`}
      />
      <p class="quota-state" id={`${id}-state`}>
        {level === "ok" ? (
          `${left} left this month.`
        ) : level === "near" ? (
          <>
            <strong>Nearly used up:</strong> {left} left.{" "}
            {u.mode === "refuse" ? (
              <>Once it is used up, requests are refused until {until}.</>
            ) : (
              "Past the allowance, use continues (warning only)."
            )}
          </>
        ) : u.mode === "refuse" ? (
          <>
            <strong>Used up</strong> — requests are refused until {until}.
          </>
        ) : (
          <>
            <strong>{u.used > u.allowance ? "Over the allowance" : "Allowance reached"}</strong> (warning
            only): nothing is refused.
          </>
        )}
      </p>
      {ABOUT[u.unit] ? <p class="hint">{ABOUT[u.unit]}</p> : null}
    </li>
  );
}
