import type { Config } from "../config/load.js";
import { expectThat } from "../posture/checks.js";
import type { PostureRegistry } from "../posture/registry.js";
import type { AuditService } from "./service.js";

/** The audit log's claims on the security page (AUDIT-1…AUDIT-6, AUTHZ-6), from the running configuration. */
export function auditControls(posture: PostureRegistry, config: Config, audit: AuditService): void {
  const on = config.audit.enabled;
  const { checkpointEntries, checkpointSeconds, retentionDays } = config.audit;
  posture.register({
    id: "AUDIT-1",
    title: "Every change is recorded",
    claim:
      "Every request that can change state (any method but GET, HEAD and OPTIONS) and reaches a route is recorded, successful or refused: actor type, id and email, organisation, impersonating admin, method, route, status, duration, IP address, user agent and request id. Records are written in batches within 100 ms of the response (a clean shutdown writes them all). Reads are not recorded.",
    settings: { flushMs: 100 },
    enabled: on,
  });
  posture.register({
    id: "AUDIT-2",
    title: "Domain events in the same transaction",
    claim:
      "Sign-ins (successful and failed), sign-outs, two-factor and password changes, sessions revoked, invitations, role changes, removals, organisation settings, API keys, impersonation and permission denials are recorded with what changed (secrets redacted), in the same database transaction as the change: a change that rolls back leaves no event, and a committed change always has one. Apps record their own events into the same log with an API key holding audit:write.",
    enabled: on,
  });
  posture.register({
    id: "AUDIT-3",
    title: "Append-only",
    claim:
      config.database.url !== undefined
        ? "No route updates or deletes an audit entry. The server's PostgreSQL role may only read and insert the log's tables, and triggers refuse UPDATE, DELETE and TRUNCATE from any role; only the retention job, as the schema owner, may blank an expired entry's content."
        : "No route updates or deletes an audit entry, and database triggers refuse UPDATE and DELETE on the log's tables; only the retention job may blank an expired entry's content.",
    enabled: on,
  });
  posture.register({
    id: "AUDIT-4",
    title: "Tamper evidence each organisation can verify offline",
    claim: `Each organisation's log is an RFC 9162 Merkle tree over its entries' canonical bytes. A checkpoint (C2SP tlog-checkpoint, Ed25519, key id ${audit.signer.keyId}) is signed after ${checkpointEntries} new entries or ${checkpointSeconds} s; the API gives inclusion and consistency proofs, and the signing key is published at /.well-known/audit-keys.json. \`bulwark audit verify\` names the first modified, deleted, inserted or reordered entry, and verifies an organisation's export bundle with no database.`,
    settings: {
      keyId: audit.signer.keyId,
      publicKey: audit.signer.vkey,
      checkpointEntries,
      checkpointSeconds,
    },
    enabled: on,
    probe: async () => {
      const problem = await audit.selfCheck();
      expectThat(problem === undefined, problem ?? "");
    },
  });
  posture.register({
    id: "AUDIT-5",
    title: "Query and export",
    claim:
      "Owners and admins (or keys with audit:read) query their organisation's log by actor, action, entity and time, newest first with cursor pagination, and export it as NDJSON, CSV or a verifiable bundle, streamed, under their own rate limit.",
    enabled: on,
  });
  posture.register({
    id: "AUDIT-6",
    title: "Retention",
    claim: `Entries are kept ${retentionDays} days; the retention job then drops their content and keeps their leaf hashes, so every log and checkpoint still verifies. Each run is recorded with its status, duration and row count.`,
    settings: { retentionDays },
    enabled: on,
  });
  posture.register({
    id: "AUTHZ-6",
    title: "Every denial is recorded",
    claim:
      "Every refused tenant action (not a member, role or scope lacking, two-factor required) and every refusal by an owner or impersonation rule is written to the audit log with the actor, the organisation, the action and the route.",
    enabled: on,
  });
}
