import { catalog } from "../examples/catalog/index.js";
import { securitySuite } from "./security-suite.js";

// Bulwark's own tenant routes and the catalog example's, with the credential kinds they accept.
securitySuite("core and catalog", { extensions: [catalog] });
