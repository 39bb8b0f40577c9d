/**
 * The one table of configuration variables. Parsing, production checks, the start-up summary and the
 * README's configuration reference all read this table, so a variable cannot exist in one place only.
 */
export type VarKind = "string" | "int" | "bool" | "list" | "enum" | "url";

export interface VarSpec {
  readonly name: string;
  readonly kind: VarKind;
  readonly doc: string;
  /** Default in the development profile (also used in production unless `prod` overrides it). */
  readonly dev?: string;
  /** Default in the production profile, when it differs. */
  readonly prod?: string;
  readonly values?: readonly string[];
  /** Secrets may come from `<NAME>_FILE`, are redacted in every summary and log, and are strength-checked. */
  readonly secret?: boolean;
  /** What production demands of this variable, in words (the README prints it). */
  readonly prodRule?: string;
  readonly min?: number;
  readonly max?: number;
}

export const VARIABLES = [
  {
    name: "NODE_ENV",
    kind: "enum",
    values: ["development", "production", "test"],
    dev: "development",
    doc: "Profile. `production` turns on every fail-closed check.",
  },
  { name: "PORT", kind: "int", dev: "3000", min: 0, max: 65535, doc: "TCP port to listen on." },
  {
    name: "HOST",
    kind: "string",
    dev: "127.0.0.1",
    prod: "0.0.0.0",
    doc: "Interface to listen on. Development stays on loopback.",
  },
  {
    name: "PUBLIC_URL",
    kind: "url",
    dev: "http://localhost:<PORT>",
    doc: "The externally visible origin (links in mail, security.txt, redirects). Outside production it follows PORT.",
    prodRule: "required, https",
  },
  {
    name: "BULWARK_DATA_DIR",
    kind: "string",
    dev: "./data",
    doc: "Data directory: the SQLite file, mail files, the development secret.",
  },
  {
    name: "BULWARK_CONFIG",
    kind: "string",
    doc: "Optional JSON file of these same variables; the environment wins over the file.",
  },
  {
    name: "BULWARK_SECRET",
    kind: "string",
    secret: true,
    doc: "Root secret for signing (at least 32 characters). Development generates one under the data directory.",
    prodRule: "required, >= 32 chars, not a known default",
  },
  {
    name: "DATABASE_URL",
    kind: "url",
    doc: "PostgreSQL connection URL. Unset: embedded SQLite under the data directory.",
  },
  {
    name: "DATABASE_SCHEMA",
    kind: "string",
    dev: "public",
    doc: "PostgreSQL schema holding Bulwark's tables.",
  },
  {
    name: "DATABASE_APP_ROLE",
    kind: "string",
    dev: "bulwark_app",
    doc: "PostgreSQL role the server works as (no BYPASSRLS), switched to with SET ROLE.",
  },
  { name: "DATABASE_POOL_MAX", kind: "int", dev: "10", min: 1, max: 500, doc: "PostgreSQL pool size." },
  {
    name: "DATABASE_WAIT_SECONDS",
    kind: "int",
    dev: "60",
    min: 0,
    max: 3600,
    doc: "How long start-up waits for the database before giving up.",
  },
  {
    name: "REDIS_URL",
    kind: "url",
    doc: "Redis URL for shared state. Unset: in-process state (single node).",
  },
  {
    name: "LOG_LEVEL",
    kind: "enum",
    values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
    dev: "info",
    doc: "Log level (pino). Access lines are written at info.",
  },
  {
    name: "ACCESS_LOG",
    kind: "enum",
    values: ["all", "writes", "off"],
    dev: "all",
    prod: "writes",
    doc: "Access lines: `all` requests; `writes`: state-changing requests, every 4xx/5xx and every request slower than 1 s (successful reads are the bulk and carry little signal: logging them halves a small route's throughput); `off`.",
  },
  {
    name: "TRUSTED_PROXIES",
    kind: "list",
    dev: "",
    doc: "Addresses/CIDRs whose X-Forwarded-* headers are believed. Empty: none.",
  },
  {
    name: "HTTPS_POLICY",
    kind: "enum",
    values: ["reject", "redirect", "off"],
    dev: "redirect",
    prod: "reject",
    doc: "Plain HTTP: `reject` (400), `redirect` (308; loopback hosts exempt), or `off`.",
    prodRule: "must not be off",
  },
  { name: "HSTS", kind: "bool", dev: "false", prod: "true", doc: "Send Strict-Transport-Security." },
  { name: "HSTS_MAX_AGE", kind: "int", dev: "63072000", min: 0, doc: "HSTS max-age in seconds." },
  {
    name: "CROSS_ORIGIN_OPENER_POLICY",
    kind: "enum",
    values: ["same-origin", "same-origin-allow-popups", "unsafe-none", "off"],
    dev: "same-origin",
    doc: "COOP header value, or off.",
  },
  {
    name: "CROSS_ORIGIN_EMBEDDER_POLICY",
    kind: "enum",
    values: ["require-corp", "credentialless", "unsafe-none", "off"],
    dev: "off",
    doc: "COEP header value, or off.",
  },
  {
    name: "CROSS_ORIGIN_RESOURCE_POLICY",
    kind: "enum",
    values: ["same-origin", "same-site", "cross-origin", "off"],
    dev: "same-origin",
    doc: "CORP header value, or off.",
  },
  {
    name: "CORS_ORIGINS",
    kind: "list",
    dev: "http://localhost:<PORT>,http://127.0.0.1:<PORT>",
    prod: "",
    doc: "Origins allowed to call session (cookie) routes with credentials. Empty: no cross-origin access. Outside production the server's own loopback origin is always same-origin.",
    prodRule: "empty = fail closed, with a start-up warning",
  },
  { name: "BODY_LIMIT_BYTES", kind: "int", dev: "1048576", min: 1024, doc: "Largest accepted request body." },
  { name: "JSON_MAX_DEPTH", kind: "int", dev: "32", min: 2, max: 512, doc: "Deepest accepted JSON nesting." },
  {
    name: "TLS_CERT_FILE",
    kind: "string",
    doc: "PEM certificate for built-in TLS (TLS 1.2 minimum). Normally TLS ends at the proxy.",
  },
  { name: "TLS_KEY_FILE", kind: "string", doc: "PEM private key for built-in TLS." },
  {
    name: "METRICS_TOKEN",
    kind: "string",
    secret: true,
    doc: "Bearer token for /metrics, accepted over HTTPS only. Production without it: direct loopback callers only.",
  },
  {
    name: "SECURITY_CONTACT",
    kind: "list",
    dev: "mailto:security@example.com",
    doc: "security.txt Contact URIs (mailto: or https:).",
    prodRule: "must be set to your own address",
  },
  { name: "SECURITY_POLICY_URL", kind: "url", doc: "security.txt Policy URL." },
  { name: "SECURITY_LANGUAGES", kind: "list", dev: "en", doc: "security.txt Preferred-Languages." },
  {
    name: "SECURITY_TXT_EXPIRES_DAYS",
    kind: "int",
    dev: "180",
    min: 1,
    max: 365,
    doc: "security.txt Expires, in days from start-up (RFC 9116 advises under a year).",
  },
  {
    name: "SHUTDOWN_TIMEOUT_MS",
    kind: "int",
    dev: "10000",
    min: 0,
    doc: "Longest graceful drain before the process exits anyway.",
  },
  {
    name: "SIGNUP_MODE",
    kind: "enum",
    values: ["open", "domains", "invite"],
    dev: "open",
    doc: "Who may sign up: anyone, addresses in SIGNUP_ALLOWED_DOMAINS, or invited addresses only.",
  },
  {
    name: "SIGNUP_ALLOWED_DOMAINS",
    kind: "list",
    dev: "",
    doc: "Email domains allowed to sign up when SIGNUP_MODE=domains.",
  },
  {
    name: "PASSWORD_MIN_LENGTH",
    kind: "int",
    dev: "12",
    min: 8,
    max: 128,
    doc: "Shortest accepted password.",
  },
  {
    name: "PASSWORD_MAX_LENGTH",
    kind: "int",
    dev: "256",
    min: 64,
    max: 1024,
    doc: "Longest accepted password (bounds hashing work).",
  },
  {
    name: "PASSWORD_REQUIRE_MIXED",
    kind: "bool",
    dev: "false",
    doc: "Require a digit and an upper-case letter.",
  },
  {
    name: "PASSWORD_RANGE_URL",
    kind: "url",
    doc: "k-anonymity range endpoint (HaveIBeenPwned protocol), e.g. https://api.pwnedpasswords.com/range. Unset: offline list only.",
  },
  {
    name: "PASSWORD_RANGE_TIMEOUT_MS",
    kind: "int",
    dev: "1500",
    min: 100,
    max: 30000,
    doc: "Time bound of one range check; past it the check fails open.",
  },
  {
    name: "ARGON2_MEMORY_KIB",
    kind: "int",
    dev: "19456",
    min: 8192,
    doc: "argon2id memory cost (OWASP: 19456 KiB).",
  },
  {
    name: "ARGON2_ITERATIONS",
    kind: "int",
    dev: "2",
    min: 1,
    max: 20,
    doc: "argon2id time cost (OWASP: 2).",
  },
  {
    name: "ARGON2_PARALLELISM",
    kind: "int",
    dev: "1",
    min: 1,
    max: 16,
    doc: "argon2id parallelism (OWASP: 1).",
  },
  {
    name: "EMAIL_VERIFY_TTL_HOURS",
    kind: "int",
    dev: "24",
    min: 1,
    max: 168,
    doc: "Lifetime of an email verification link.",
  },
  {
    name: "PASSWORD_RESET_TTL_MINUTES",
    kind: "int",
    dev: "30",
    min: 5,
    max: 1440,
    doc: "Lifetime of a password reset link.",
  },
  {
    name: "SESSION_ABSOLUTE_HOURS",
    kind: "int",
    dev: "24",
    min: 1,
    max: 720,
    doc: "A session ends this long after sign-in, whatever its use.",
  },
  {
    name: "SESSION_IDLE_MINUTES",
    kind: "int",
    dev: "60",
    min: 5,
    max: 10080,
    doc: "A session ends after this long unused.",
  },
  {
    name: "REAUTH_MINUTES",
    kind: "int",
    dev: "10",
    min: 1,
    max: 1440,
    doc: "Sensitive operations need a password (or MFA) entry this recent.",
  },
  {
    name: "LOGIN_MAX_ATTEMPTS",
    kind: "int",
    dev: "5",
    min: 1,
    max: 1000,
    doc: "Failed sign-ins allowed per client address per LOGIN_WINDOW_MINUTES (no account-wide lockout).",
  },
  {
    name: "LOGIN_WINDOW_MINUTES",
    kind: "int",
    dev: "15",
    min: 1,
    max: 1440,
    doc: "Window (and lockout) of the sign-in limiter.",
  },
  {
    name: "SIGNUP_MAX_PER_HOUR",
    kind: "int",
    dev: "5",
    min: 1,
    max: 10000,
    doc: "Sign-ups per IP per hour.",
  },
  {
    name: "EMAIL_MAX_PER_HOUR",
    kind: "int",
    dev: "5",
    min: 1,
    max: 10000,
    doc: "Reset and verification mails per IP, and per address, per hour (each flow its own limiter).",
  },
  {
    name: "SMTP_URL",
    kind: "url",
    secret: true,
    doc: "SMTP server (smtp:// or smtps://, credentials in the URL). Unset: mail is written as .eml files under the data directory.",
  },
  {
    name: "MAIL_FROM",
    kind: "string",
    dev: "Bulwark <no-reply@localhost>",
    doc: "From address of every mail.",
  },
  {
    name: "CATALOG_EXAMPLE",
    kind: "bool",
    dev: "true",
    prod: "false",
    doc: "Serve the example catalog (products, orders) built on the extension API, so a newcomer sees tenant routes at work.",
  },
] as const satisfies readonly VarSpec[];

export type VarName = (typeof VARIABLES)[number]["name"];
