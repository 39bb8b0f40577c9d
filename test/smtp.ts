import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  readonly to: string[];
  readonly raw: string;
  /** The text, with quoted-printable soft breaks and escapes decoded. */
  readonly text: string;
  readonly subject: string;
}

function decodeQuotedPrintable(s: string): string {
  return s
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

/**
 * A real SMTP server on 127.0.0.1 (the `smtp-server` package) that Bulwark's nodemailer transport talks
 * to: tests read links out of mail exactly as a user would.
 */
export async function startSmtpReceiver(): Promise<{
  url: string;
  mails: ReceivedMail[];
  waitFor(to: string, subject: RegExp, body?: string, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const subject = /^Subject: (.*)$/m.exec(raw)?.[1]?.trim() ?? "";
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          text: decodeQuotedPrintable(raw),
          subject,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.server.address() as { port: number }).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    async waitFor(to, subject, body, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = mails.find(
          (m) => m.to.includes(to) && subject.test(m.subject) && (!body || m.text.includes(body)),
        );
        if (found) return found;
        if (Date.now() > deadline)
          throw new Error(
            `no mail to ${to} matching ${subject} (got: ${mails.map((m) => `${m.to} ${m.subject}`).join("; ")})`,
          );
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The `token` query parameter of the first link in a mail. */
export function tokenFrom(mail: ReceivedMail): string {
  const m = /[?&]token=([A-Za-z0-9_-]+)/.exec(mail.text);
  if (!m?.[1]) throw new Error(`no token link in mail "${mail.subject}"`);
  return m[1];
}
