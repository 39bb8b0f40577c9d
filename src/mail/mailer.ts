import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import nodemailer, { type Transporter } from "nodemailer";
import type { Config } from "../config/load.js";
import type { HealthCheck } from "../health/checks.js";
import { newId } from "../util/ids.js";

export interface Mail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** Sends mail. One implementation speaks SMTP (nodemailer); the default writes `.eml` files. */
export interface Mailer {
  send(mail: Mail): Promise<void>;
  /** A /health probe when the transport has a server to reach (OBS-4). */
  readonly health?: HealthCheck;
}

/**
 * SMTP when SMTP_URL is set, otherwise `.eml` files under `<data>/mail/` (mode 0600: they carry
 * single-use links) that any mail client opens: a newcomer sees every mail without a mail server.
 */
export function createMailer(config: Config): Mailer {
  const from = config.mail.from;
  if (config.mail.smtpUrl) {
    const transport: Transporter = nodemailer.createTransport(config.mail.smtpUrl);
    return {
      send: async (mail) => void (await transport.sendMail({ from, ...mail })),
      health: { name: "smtp", required: false, probe: async () => void (await transport.verify()) },
    };
  }
  const dir = join(config.dataDir, "mail");
  const stream: Transporter = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: "unix",
  });
  return {
    send: async (mail) => {
      const info = (await stream.sendMail({ from, ...mail })) as unknown as { message: Buffer };
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, `${newId("msg")}.eml`), info.message, { mode: 0o600 });
    },
  };
}
