import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { type DataKeyRing, parseDataKeys } from "./data-keys.js";
import { dsnProblem } from "./dsn.js";
import { VarReader } from "./reader.js";
import { developmentSecret, weakSecretReason } from "./secrets.js";
import { parseSigninProviders, type SigninProvider } from "./signin-providers.js";
import { parseSubprocessors, type Subprocessor } from "./subprocessors.js";
import { parseUploads, type S3Config, type UploadConfig } from "./uploads.js";
import { VARIABLES, type VarName, type VarSpec } from "./variables.js";

/** Route tiers with a configured limit (RATE-3); `auth` has its own limiters, `none` none. */
export type LimitedTier = "general" | "sensitive" | "admin" | "export";
const LIMITED_TIERS: readonly LimitedTier[] = ["general", "sensitive", "admin", "export"];
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

export type Profile = "development" | "production" | "test";
export type HttpsPolicy = "reject" | "redirect" | "off";

/** The effective, validated configuration. Frozen: nothing changes it after start-up. */
export interface Config {
  readonly profile: Profile;
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly publicUrl: string;
  readonly dataDir: string;
  readonly secret: string;
  /** The field-encryption keys (DATA-1): never logged, serialised as their ids. */
  readonly dataKeys: DataKeyRing;
  readonly database: {
    readonly url: string | undefined;
    readonly schema: string;
    readonly appRole: string;
    readonly poolMax: number;
    readonly waitSeconds: number;
  };
  readonly redisUrl: string | undefined;
  readonly redisPrefix: string;
  readonly cluster: boolean;
  /** Run as root in production anyway (OPS-2). */
  readonly allowRoot: boolean;
  /** API limits (RATE-1…RATE-5); the authentication surfaces' own are under `auth`. */
  readonly rate: {
    readonly ipPerMinute: number;
    readonly keyPerMinute: number;
    readonly userPerMinute: number;
    readonly orgPerMinute: number;
    readonly tiers: Readonly<Record<LimitedTier, { readonly limit: number; readonly windowMs: number }>>;
    readonly onStoreError: "open" | "closed";
    readonly authOnStoreError: "open" | "closed";
    /** Monthly allowances per organisation and unit (RATE-6). */
    readonly quotas: Readonly<
      Record<string, { readonly allowance: number; readonly mode: "refuse" | "warn" }>
    >;
  };
  readonly logLevel: string;
  readonly accessLog: "all" | "writes" | "off";
  readonly http: {
    readonly trustedProxies: readonly string[];
    readonly httpsPolicy: HttpsPolicy;
    readonly hsts: { readonly enabled: boolean; readonly maxAge: number };
    readonly coop: string;
    readonly coep: string;
    readonly corp: string;
    readonly corsOrigins: readonly string[];
    readonly bodyLimit: number;
    readonly jsonMaxDepth: number;
    readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  };
  readonly metricsToken: string | undefined;
  readonly securityTxt: {
    readonly contact: readonly string[];
    readonly policyUrl: string | undefined;
    readonly languages: readonly string[];
    readonly expiresDays: number;
    /** POST-3: the live self-checks run at start-up, then every this many ms (0: start-up only). */
    readonly checkIntervalMs: number;
  };
  readonly shutdownTimeoutMs: number;
  readonly auth: {
    readonly signupMode: "open" | "domains" | "invite";
    readonly allowedDomains: readonly string[];
    readonly password: {
      readonly minLength: number;
      readonly maxLength: number;
      readonly requireMixed: boolean;
    };
    readonly rangeUrl: string | undefined;
    readonly rangeTimeoutMs: number;
    readonly argon2: {
      readonly memoryKiB: number;
      readonly iterations: number;
      readonly parallelism: number;
    };
    readonly verifyTtlMs: number;
    readonly resetTtlMs: number;
    readonly sessionAbsoluteMs: number;
    readonly sessionIdleMs: number;
    readonly reauthMs: number;
    readonly login: { readonly maxAttempts: number; readonly windowMs: number };
    readonly signupPerHour: number;
    readonly emailPerHour: number;
    /** External sign-in providers (AUTH-11); empty: none. */
    readonly providers: readonly SigninProvider[];
  };
  readonly mail: { readonly smtpUrl: string | undefined; readonly from: string };
  readonly catalogExample: boolean;
  /** Error tracking (OBS-3): where 5xx events go, if anywhere. */
  readonly sentryDsn: string | undefined;
  /** How long rows are kept once they served their purpose (GDPR-3), in days. */
  readonly retention: {
    readonly sessionsDays: number;
    readonly deliveriesDays: number;
    /** GDPR-2: days from an account's deletion request to its erasure. */
    readonly deletionDays: number;
  };
  /** The sub-processors the operator discloses (GDPR-4). */
  readonly subprocessors: readonly Subprocessor[];
  readonly audit: {
    readonly enabled: boolean;
    readonly retentionDays: number;
    readonly checkpointEntries: number;
    readonly checkpointSeconds: number;
    /** The checkpoint signing key's 32-byte seed, when set apart from BULWARK_SECRET. */
    readonly signingKey: string | undefined;
  };
  /** Encrypted backups (DATA-2). */
  readonly backup: {
    readonly recipients: readonly string[];
    readonly identity: string | undefined;
    readonly dir: string;
    /** An S3-compatible bucket backups are kept in (S3_* variables), and their key prefix. */
    readonly bucket: string | undefined;
    readonly prefix: string;
    readonly retentionDays: number;
    readonly everyMs: number;
    readonly maxAgeMs: number;
  };
  /** Pre-signed uploads (DATA-3). */
  readonly uploads: UploadConfig;
  /** The S3-compatible service uploads use. */
  readonly s3: S3Config;
  /** Access tokens and their signing keys (AUTH-9). */
  readonly tokens: {
    readonly accessTtlMs: number;
    readonly refreshTtlMs: number;
    readonly keyRotationMs: number;
  };
  /** How long an Idempotency-Key is kept (IDEM-1). */
  readonly idempotencyTtlMs: number;
  readonly webhooks: {
    /** Deliver from this process (`bulwark start`); `bulwark worker` always does. */
    readonly worker: boolean;
    /** Hosts, IPs and CIDRs reachable although not public (HOOK-7). */
    readonly allowlist: readonly string[];
    /** Waits before each retry, ms (HOOK-3). */
    readonly retryScheduleMs: readonly number[];
    readonly timeoutMs: number;
    readonly secretGraceMs: number;
    readonly breakerFailures: number;
    readonly breakerCooldownMs: number;
    readonly concurrency: number;
    readonly endpointConcurrency: number;
    /** Plain http allowed to any host (outside production). */
    readonly allowHttp: boolean;
  };
  /** Non-fatal findings, printed at start-up (e.g. production without a CORS allowlist). */
  readonly warnings: readonly string[];
}

/** Thrown when configuration is invalid; `problems` each name the variable at fault. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;
type Raw = Partial<Record<VarName, string>>;

const SPECS = new Map<string, VarSpec>(VARIABLES.map((v) => [v.name, v]));

function readRaw(env: Env, problems: string[]): Raw {
  const raw: Raw = {};
  const file = env.BULWARK_CONFIG;
  if (file) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        throw new Error("not a JSON object");
      for (const [k, v] of Object.entries(parsed)) {
        if (!SPECS.has(k)) problems.push(`BULWARK_CONFIG: unknown variable ${k} in ${file}`);
        else raw[k as VarName] = Array.isArray(v) ? v.join(",") : String(v);
      }
    } catch (err) {
      problems.push(`BULWARK_CONFIG: cannot read ${file}: ${(err as Error).message}`);
    }
  }
  for (const spec of VARIABLES) {
    const direct = env[spec.name];
    const fileVar = "secret" in spec && spec.secret ? env[`${spec.name}_FILE`] : undefined;
    // An empty list is a real value ("no origins"); an empty scalar means "not set".
    if (direct !== undefined && (direct !== "" || spec.kind === "list")) raw[spec.name] = direct;
    else if (fileVar) {
      try {
        raw[spec.name] = readFileSync(fileVar, "utf8").trim();
      } catch (err) {
        problems.push(`${spec.name}_FILE: cannot read ${fileVar}: ${(err as Error).message}`);
      }
    }
  }
  return raw;
}

/** Parses and checks a configuration from the environment. Throws ConfigError listing every problem at once. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const warnings: string[] = [];
  const raw = readRaw(env, problems);
  const profile = (raw.NODE_ENV ?? "development") as Profile;
  if (!["development", "production", "test"].includes(profile)) {
    throw new ConfigError([`NODE_ENV: must be development, production or test (got "${profile}")`]);
  }
  const production = profile === "production";

  const read = new VarReader(raw, production, problems);
  const str = (name: VarName) => read.str(name);
  const int = (name: VarName) => read.int(name);
  const bool = (name: VarName) => read.bool(name);
  const list = (name: VarName) => read.list(name);
  const oneOf = (name: VarName) => read.oneOf(name);
  const url = (name: VarName, protocols: readonly string[]) => read.url(name, protocols);

  const dataDir = resolve(str("BULWARK_DATA_DIR") ?? "./data");
  const publicUrl = url("PUBLIC_URL", ["http:", "https:"]);
  if (production) {
    if (!raw.PUBLIC_URL) problems.push("PUBLIC_URL: required in production");
    else if (!publicUrl?.startsWith("https://")) problems.push("PUBLIC_URL: must be https in production");
  }

  let secret = raw.BULWARK_SECRET;
  // Nodes of one cluster must share the secret (CSRF tokens, sealed second factors): a generated
  // development secret is per data directory, so each node would have its own.
  if (bool("BULWARK_CLUSTER") && !secret)
    problems.push(
      "BULWARK_CLUSTER: every node needs the same BULWARK_SECRET (or BULWARK_SECRET_FILE); set it",
    );
  if (production) {
    if (!secret) problems.push("BULWARK_SECRET: required in production (set it or BULWARK_SECRET_FILE)");
    else {
      const reason = weakSecretReason(secret);
      if (reason) problems.push(`BULWARK_SECRET: ${reason}`);
    }
  } else if (!secret) {
    secret = profile === "test" ? randomBytes(32).toString("base64url") : developmentSecret(dataDir);
  }
  const metricsToken = raw.METRICS_TOKEN;
  if (production && metricsToken) {
    const reason = weakSecretReason(metricsToken, 24);
    if (reason) problems.push(`METRICS_TOKEN: ${reason}`);
  }

  const httpsPolicy = oneOf("HTTPS_POLICY") as HttpsPolicy;
  if (production && httpsPolicy === "off") problems.push("HTTPS_POLICY: cannot be off in production");

  const trustedProxies = list("TRUSTED_PROXIES");
  for (const p of trustedProxies) {
    const [addr, bits] = p.split("/");
    if (
      !["loopback", "linklocal", "uniquelocal"].includes(p) &&
      (!addr || !isIP(addr) || (bits !== undefined && !/^\d{1,3}$/.test(bits)))
    ) {
      problems.push(`TRUSTED_PROXIES: "${p}" is not an IP address, CIDR, or loopback/linklocal/uniquelocal`);
    }
  }

  const corsOrigins = list("CORS_ORIGINS");
  for (const o of corsOrigins) {
    if (o === "*")
      problems.push("CORS_ORIGINS: a wildcard cannot be combined with credentials; list the origins");
    else {
      try {
        const u = new URL(o);
        if (u.origin !== o)
          problems.push(`CORS_ORIGINS: "${o}" must be an origin (scheme://host[:port], no path or slash)`);
        else if (production && u.protocol !== "https:")
          problems.push(`CORS_ORIGINS: "${o}" must be https in production`);
      } catch {
        problems.push(`CORS_ORIGINS: "${o}" is not a valid origin`);
      }
    }
  }
  if (production && corsOrigins.length === 0) {
    warnings.push("CORS_ORIGINS is empty: session (cookie) routes refuse every cross-origin request.");
  }

  const certFile = str("TLS_CERT_FILE");
  const keyFile = str("TLS_KEY_FILE");
  if (Boolean(certFile) !== Boolean(keyFile))
    problems.push("TLS_CERT_FILE and TLS_KEY_FILE: set both or neither");

  const contact = list("SECURITY_CONTACT");
  for (const c of contact)
    if (!/^(mailto:|https:\/\/|tel:)/.test(c))
      problems.push(`SECURITY_CONTACT: "${c}" must be a mailto:, https: or tel: URI`);
  if (production && (!raw.SECURITY_CONTACT || contact.some((c) => c.endsWith("@example.com")))) {
    problems.push("SECURITY_CONTACT: required in production (your own security contact)");
  }

  const tiers = {} as Record<LimitedTier, { limit: number; windowMs: number }>;
  for (const entry of list("RATE_LIMIT_TIERS")) {
    const m = /^(\w+)=(\d{1,9})\/(\d{1,6})([smh])$/.exec(entry);
    const tier = m?.[1] as LimitedTier | undefined;
    if (!m || !tier || !LIMITED_TIERS.includes(tier) || Number(m[2]) < 1 || Number(m[3]) < 1)
      problems.push(
        `RATE_LIMIT_TIERS: "${entry}" must be tier=count/window, e.g. sensitive=3/1h (tiers: ${LIMITED_TIERS.join(", ")})`,
      );
    else
      tiers[tier] = { limit: Number(m[2]), windowMs: Number(m[3]) * UNIT_MS[m[4] as keyof typeof UNIT_MS] };
  }
  for (const tier of LIMITED_TIERS)
    if (!tiers[tier]) problems.push(`RATE_LIMIT_TIERS: no limit for the ${tier} tier`);
  const quotas: Record<string, { allowance: number; mode: "refuse" | "warn" }> = {};
  for (const entry of list("QUOTAS")) {
    const m = /^([a-z][a-z0-9_]{0,30})=(\d{1,12})(?::(warn|refuse))?$/.exec(entry);
    if (!m)
      problems.push(
        `QUOTAS: "${entry}" must be unit=allowance or unit=allowance:warn (unit: lower case, digits, _)`,
      );
    else quotas[m[1]!] = { allowance: Number(m[2]), mode: (m[3] ?? "refuse") as "refuse" | "warn" };
  }
  if (production && oneOf("AUDIT_LOG") === "off") problems.push("AUDIT_LOG: cannot be off in production");
  const auditKey = raw.AUDIT_SIGNING_KEY;
  if (auditKey !== undefined && Buffer.from(auditKey, "base64").length !== 32)
    problems.push(
      "AUDIT_SIGNING_KEY: must be 32 bytes in base64 (an Ed25519 seed), e.g. `openssl rand -base64 32`",
    );
  const sentryDsn = str("SENTRY_DSN");
  if (sentryDsn !== undefined) {
    const reason = dsnProblem(sentryDsn, production);
    if (reason) problems.push(`SENTRY_DSN: ${reason}`);
  }
  const subprocessors = parseSubprocessors(str("SUBPROCESSORS"));
  problems.push(...subprocessors.problems);
  const backupRecipients = list("BACKUP_RECIPIENTS");
  for (const r of backupRecipients)
    if (!/^age1[02-9ac-hj-np-z]{58}$/.test(r))
      problems.push(
        `BACKUP_RECIPIENTS: "${r}" is not an age X25519 recipient (age1…, from \`bulwark backup keygen\`)`,
      );
  if (int("BACKUP_EVERY_HOURS") > 0 && backupRecipients.length === 0)
    problems.push("BACKUP_EVERY_HOURS: scheduled backups need BACKUP_RECIPIENTS");
  const redisUrl = url("REDIS_URL", ["redis:", "rediss:"]);
  if (bool("BULWARK_CLUSTER") && !redisUrl)
    problems.push("BULWARK_CLUSTER: several nodes need shared limits and revocations; set REDIS_URL");

  const config: Config = {
    profile,
    production,
    port: int("PORT"),
    host: str("HOST") ?? "127.0.0.1",
    publicUrl: (publicUrl ?? `http://localhost:${int("PORT")}`).replace(/\/$/, ""),
    dataDir,
    secret: secret ?? "",
    dataKeys: parseDataKeys(str("DATA_KEYS"), secret ?? "", production, problems),
    database: {
      url: url("DATABASE_URL", ["postgres:", "postgresql:"]),
      schema: str("DATABASE_SCHEMA") ?? "public",
      appRole: str("DATABASE_APP_ROLE") ?? "bulwark_app",
      poolMax: int("DATABASE_POOL_MAX"),
      waitSeconds: int("DATABASE_WAIT_SECONDS"),
    },
    redisUrl,
    redisPrefix: str("REDIS_PREFIX") ?? "bulwark:",
    cluster: bool("BULWARK_CLUSTER"),
    allowRoot: bool("BULWARK_ALLOW_ROOT"),
    rate: {
      ipPerMinute: int("RATE_LIMIT_IP_PER_MINUTE"),
      keyPerMinute: int("RATE_LIMIT_KEY_PER_MINUTE"),
      userPerMinute: int("RATE_LIMIT_USER_PER_MINUTE"),
      orgPerMinute: int("RATE_LIMIT_ORG_PER_MINUTE"),
      tiers,
      onStoreError: oneOf("RATE_LIMIT_ON_STORE_ERROR") as "open" | "closed",
      authOnStoreError: oneOf("AUTH_RATE_LIMIT_ON_STORE_ERROR") as "open" | "closed",
      quotas,
    },
    logLevel: oneOf("LOG_LEVEL"),
    accessLog: oneOf("ACCESS_LOG") as Config["accessLog"],
    http: {
      trustedProxies,
      httpsPolicy,
      hsts: { enabled: bool("HSTS"), maxAge: int("HSTS_MAX_AGE") },
      coop: oneOf("CROSS_ORIGIN_OPENER_POLICY"),
      coep: oneOf("CROSS_ORIGIN_EMBEDDER_POLICY"),
      corp: oneOf("CROSS_ORIGIN_RESOURCE_POLICY"),
      corsOrigins,
      bodyLimit: int("BODY_LIMIT_BYTES"),
      jsonMaxDepth: int("JSON_MAX_DEPTH"),
      tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    },
    metricsToken,
    securityTxt: {
      contact,
      policyUrl: url("SECURITY_POLICY_URL", ["https:", "http:"]),
      languages: list("SECURITY_LANGUAGES"),
      expiresDays: int("SECURITY_TXT_EXPIRES_DAYS"),
      checkIntervalMs: int("SECURITY_CHECK_INTERVAL_SECONDS") * 1000,
    },
    shutdownTimeoutMs: int("SHUTDOWN_TIMEOUT_MS"),
    auth: {
      signupMode: oneOf("SIGNUP_MODE") as Config["auth"]["signupMode"],
      allowedDomains: list("SIGNUP_ALLOWED_DOMAINS").map((d) => d.toLowerCase()),
      password: {
        minLength: int("PASSWORD_MIN_LENGTH"),
        maxLength: int("PASSWORD_MAX_LENGTH"),
        requireMixed: bool("PASSWORD_REQUIRE_MIXED"),
      },
      rangeUrl: url("PASSWORD_RANGE_URL", production ? ["https:"] : ["https:", "http:"]),
      rangeTimeoutMs: int("PASSWORD_RANGE_TIMEOUT_MS"),
      argon2: {
        memoryKiB: int("ARGON2_MEMORY_KIB"),
        iterations: int("ARGON2_ITERATIONS"),
        parallelism: int("ARGON2_PARALLELISM"),
      },
      verifyTtlMs: int("EMAIL_VERIFY_TTL_HOURS") * 3_600_000,
      resetTtlMs: int("PASSWORD_RESET_TTL_MINUTES") * 60_000,
      sessionAbsoluteMs: int("SESSION_ABSOLUTE_HOURS") * 3_600_000,
      sessionIdleMs: int("SESSION_IDLE_MINUTES") * 60_000,
      reauthMs: int("REAUTH_MINUTES") * 60_000,
      login: { maxAttempts: int("LOGIN_MAX_ATTEMPTS"), windowMs: int("LOGIN_WINDOW_MINUTES") * 60_000 },
      signupPerHour: int("SIGNUP_MAX_PER_HOUR"),
      emailPerHour: int("EMAIL_MAX_PER_HOUR"),
      providers: parseSigninProviders(str("SIGNIN_PROVIDERS"), production, problems),
    },
    catalogExample: bool("CATALOG_EXAMPLE"),
    sentryDsn,
    subprocessors: subprocessors.list,
    retention: {
      sessionsDays: int("RETENTION_SESSIONS_DAYS"),
      deliveriesDays: int("RETENTION_DELIVERIES_DAYS"),
      deletionDays: int("DELETION_COOLING_OFF_DAYS"),
    },
    audit: {
      enabled: oneOf("AUDIT_LOG") === "on",
      retentionDays: int("AUDIT_RETENTION_DAYS"),
      checkpointEntries: int("AUDIT_CHECKPOINT_ENTRIES"),
      checkpointSeconds: int("AUDIT_CHECKPOINT_SECONDS"),
      signingKey: auditKey,
    },
    backup: {
      recipients: backupRecipients,
      identity: str("BACKUP_IDENTITY"),
      dir: resolve(str("BACKUP_DIR") ?? join(dataDir, "backups")),
      bucket: str("BACKUP_BUCKET"),
      prefix: str("BACKUP_PREFIX") ?? "backups/",
      retentionDays: int("BACKUP_RETENTION_DAYS"),
      everyMs: int("BACKUP_EVERY_HOURS") * 3_600_000,
      maxAgeMs: int("BACKUP_MAX_AGE_HOURS") * 3_600_000,
    },
    ...parseUploads(read, dataDir, production),
    tokens: {
      accessTtlMs: int("ACCESS_TOKEN_TTL_MINUTES") * 60_000,
      refreshTtlMs: int("REFRESH_TOKEN_TTL_DAYS") * 86_400_000,
      keyRotationMs: int("TOKEN_KEY_ROTATION_DAYS") * 86_400_000,
    },
    idempotencyTtlMs: int("IDEMPOTENCY_TTL_HOURS") * 3_600_000,
    webhooks: {
      worker: oneOf("WEBHOOK_WORKER") === "on",
      allowlist: list("BULWARK_WEBHOOK_ALLOWLIST"),
      retryScheduleMs: durations("WEBHOOK_RETRY_SCHEDULE", list("WEBHOOK_RETRY_SCHEDULE"), problems),
      timeoutMs: int("WEBHOOK_TIMEOUT_SECONDS") * 1000,
      secretGraceMs: int("WEBHOOK_SECRET_GRACE_DAYS") * 86_400_000,
      breakerFailures: int("WEBHOOK_BREAKER_FAILURES"),
      breakerCooldownMs: int("WEBHOOK_BREAKER_COOLDOWN_SECONDS") * 1000,
      concurrency: int("WEBHOOK_CONCURRENCY"),
      endpointConcurrency: int("WEBHOOK_ENDPOINT_CONCURRENCY"),
      allowHttp: !production,
    },
    mail: {
      smtpUrl: url("SMTP_URL", ["smtp:", "smtps:"]),
      from: str("MAIL_FROM") ?? "Bulwark <no-reply@localhost>",
    },
    warnings,
  };
  for (const id of [config.database.schema, config.database.appRole]) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(id))
      problems.push(`DATABASE_SCHEMA/DATABASE_APP_ROLE: "${id}" must be a lower-case SQL identifier`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** `5s`, `5m`, `2h` each as milliseconds; a malformed entry is a problem named after `name`. */
function durations(name: string, entries: readonly string[], problems: string[]): number[] {
  const unit = { s: 1000, m: 60_000, h: 3_600_000 } as const;
  const out: number[] = [];
  for (const e of entries) {
    const m = /^(\d{1,6})(s|m|h)$/.exec(e.trim());
    if (!m) {
      problems.push(`${name}: "${e}" is not a duration such as 5s, 30m or 2h`);
      continue;
    }
    out.push(Number(m[1]) * unit[m[2] as keyof typeof unit]);
  }
  if (entries.length === 0 || entries.length > 20)
    problems.push(`${name}: give from 1 to 20 waits (e.g. 5s,5m,30m,2h,5h,10h,10h)`);
  return out;
}
