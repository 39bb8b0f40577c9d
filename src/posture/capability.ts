import type { Capability } from "../capability.js";
import { postureMigrations } from "./store.js";

/**
 * The security posture's storage (POST-4): the postures the server ran with, by hash. The page, its
 * checks and its routes are installed by the posture plugin once every capability has registered.
 */
export const postureCapability: Capability = {
  name: "posture",
  migrations: postureMigrations,
  register() {},
};
