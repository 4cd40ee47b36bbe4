/**
 * How the user calls this CLI from their directory, for the commands reports print: through npx
 * when this package is the project there or one of its dependencies (a local install), by name
 * when it is installed globally, else by the path of its script. [HARNESS-SEED-2]
 */
import { relative, resolve, sep } from "node:path";
import { PACKAGE_ROOT } from "../contract/package-files.ts";
import { shellQuote } from "../runner/commands.ts";

function inside(dir: string, parent: string): boolean {
  const rel = relative(parent, dir);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep));
}

export function invocation(cwd: string, root = PACKAGE_ROOT, pathDirs = process.env.PATH ?? ""): string {
  // The project itself, or a dependency in node_modules of the project around cwd.
  if (inside(cwd, root)) return "npx iommu-conformance";
  const parts = root.split(sep);
  const nm = parts.lastIndexOf("node_modules");
  if (nm > 0 && inside(cwd, parts.slice(0, nm).join(sep) || sep)) return "npx iommu-conformance";
  // A global install puts its bin next to node's global prefix on PATH.
  if (nm > 0 && pathDirs.split(":").some((d) => d !== "" && inside(root, resolve(d, "..")))) {
    return "iommu-conformance";
  }
  return `node ${shellQuote(resolve(root, "bin/iommu-conformance.js"))}`;
}
