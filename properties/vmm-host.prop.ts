import { vmmHostProperties } from "./index.ts";
import { propertySuite } from "./support/vitest-suite.ts";

propertySuite("VMM- and host-side", vmmHostProperties);
