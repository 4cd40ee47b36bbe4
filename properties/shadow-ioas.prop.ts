import { shadowIoasProperties } from "./index.ts";
import { propertySuite } from "./support/vitest-suite.ts";

propertySuite("VMM shadowing and host IOAS", shadowIoasProperties);
