import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";

/** A GitHub account as its REST API shows it: `GET /user` and `GET /user/emails`. */
export interface GitHubAccount {
  id: number;
  login: string;
  emails: { email: string; primary: boolean; verified: boolean }[];
}

/**
 * The other side of a GitHub sign-in, on 127.0.0.1, laid out as a GitHub Enterprise Server is (OAuth at
 * `/login/oauth/*`, the REST API under `/api/v3`), answering as GitHub documents: the authorization
 * page redirects back with a code and the state; the token endpoint takes the client secret in the body
 * and answers errors with a 200 and an `error` field, as GitHub does; the API wants the token in
 * `Authorization`. It checks what a real one checks (client, redirect URI, code used once, the PKCE
 * verifier against the S256 challenge), so a sign-in that passes here sent all of it. No GitHub library
 * exists to stand on the other side; this follows GitHub's documentation of the web application flow.
 */
export class GitHubServer {
  /** Who is signed in at GitHub in the person's browser (the authorization page approves as them). */
  account: GitHubAccount | undefined;
  /** Each authorization request's query, in order. */
  readonly authorizations: URLSearchParams[] = [];
  /** Each token request's form, in order (the client secret included). */
  readonly tokenRequests: URLSearchParams[] = [];
  /** Each REST API request's path and query, in order. */
  readonly apiRequests: string[] = [];
  /**
   * What this GitHub answers instead, for a path (a broken or hostile server); `chunked` sends the body
   * in pieces without a Content-Length.
   */
  override: ((path: string) => { status: number; body: string; chunked?: boolean } | undefined) | undefined;
  private readonly codes = new Map<string, { account: GitHubAccount; challenge: string; redirect: string }>();
  private readonly tokens = new Map<string, GitHubAccount>();
  private server: Server | undefined;
  base = "";

  constructor(
    readonly clientId: string,
    readonly clientSecret: string,
  ) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void this.answer(req).then(
        ({ status, headers, body, chunked }) => {
          if (!chunked) {
            res.writeHead(status, { ...headers, "content-length": String(Buffer.byteLength(body)) });
            return void res.end(body);
          }
          res.writeHead(status, headers);
          for (let at = 0; at < body.length; at += 16_384) res.write(body.slice(at, at + 16_384));
          res.end();
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        },
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this.base;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async answer(
    req: IncomingMessage,
  ): Promise<{ status: number; headers: Record<string, string>; body: string; chunked?: boolean }> {
    const url = new URL(req.url ?? "/", this.base);
    if (url.pathname.startsWith("/api/v3/")) this.apiRequests.push(url.pathname + url.search);
    const instead = this.override?.(url.pathname);
    if (instead) {
      // A token request's body is read first, as a server does before it answers.
      for await (const _ of req);
      return { ...instead, headers: { "content-type": "application/json" } };
    }
    const json = (body: unknown, status = 200) => ({
      status,
      headers: { "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify(body),
    });
    if (req.method === "GET" && url.pathname === "/login/oauth/authorize") {
      const q = url.searchParams;
      this.authorizations.push(q);
      if (q.get("client_id") !== this.clientId || !this.account) return json({ error: "refused" }, 400);
      const code = randomBytes(10).toString("hex");
      this.codes.set(code, {
        account: this.account,
        challenge: q.get("code_challenge_method") === "S256" ? (q.get("code_challenge") ?? "") : "",
        redirect: q.get("redirect_uri") ?? "",
      });
      const back = new URL(q.get("redirect_uri") ?? "");
      back.searchParams.set("code", code);
      back.searchParams.set("state", q.get("state") ?? "");
      return { status: 302, headers: { location: back.href }, body: "" };
    }
    if (req.method === "POST" && url.pathname === "/login/oauth/access_token") {
      let raw = "";
      for await (const chunk of req) raw += chunk;
      const form = new URLSearchParams(raw);
      this.tokenRequests.push(form);
      if (form.get("client_id") !== this.clientId || form.get("client_secret") !== this.clientSecret)
        return json({ error: "incorrect_client_credentials" });
      const code = this.codes.get(form.get("code") ?? "");
      this.codes.delete(form.get("code") ?? "");
      const verifier = form.get("code_verifier") ?? "";
      const s256 = createHash("sha256").update(verifier).digest("base64url");
      if (!code || code.redirect !== form.get("redirect_uri") || !code.challenge || s256 !== code.challenge)
        return json({ error: "bad_verification_code" });
      const token = `gho_${randomBytes(18).toString("hex")}`;
      this.tokens.set(token, code.account);
      return json({ access_token: token, token_type: "bearer", scope: "read:user,user:email" });
    }
    const account = this.tokens.get((req.headers.authorization ?? "").replace(/^(Bearer|token) /i, ""));
    if (req.method === "GET" && url.pathname === "/api/v3/user")
      return account
        ? json({ id: account.id, login: account.login })
        : json({ message: "Bad credentials" }, 401);
    if (req.method === "GET" && url.pathname === "/api/v3/user/emails")
      return account
        ? json(account.emails.map((e) => ({ ...e, visibility: e.primary ? "private" : null })))
        : json({ message: "Bad credentials" }, 401);
    return json({ message: "Not Found" }, 404);
  }
}
