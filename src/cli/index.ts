#!/usr/bin/env node
import { runCli } from "./main.js";

// The `bulwark` command. An app that embeds Bulwark runs `runCli` from its own bin with its extensions,
// so every command knows the same migrations as its server.
runCli(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);
