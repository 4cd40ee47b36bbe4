import { guestProperties } from "./index.ts";
import { propertySuite } from "./support/vitest-suite.ts";

propertySuite("guest-side", guestProperties);
