/**
 * --property and --mutant selections: comma-separated picomatch globs matched against whole
 * ids; a glob starting with "!" excludes what it matches. Only exclusions: everything but
 * those. [HARNESS-SELECT-1]
 */
import picomatch from "picomatch";

/** Split at commas outside braces, so "{a,b}*" stays one glob. */
function splitGlobs(globs: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < globs.length; i++) {
    const c = globs[i];
    if (c === "{") depth++;
    else if (c === "}" && depth > 0) depth--;
    else if (c === "," && depth === 0) {
      parts.push(globs.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(globs.slice(start));
  return parts.map((g) => g.trim()).filter((g) => g !== "");
}

/** A predicate for ids, from the comma-separated globs of --property or --mutant. */
export function globMatcher(globs: string): (id: string) => boolean {
  const all = splitGlobs(globs);
  const include = all.filter((g) => !g.startsWith("!"));
  const exclude = all.filter((g) => g.startsWith("!")).map((g) => g.slice(1));
  const options = { dot: true };
  const included = include.length === 0 ? () => true : picomatch(include, options);
  const excluded = exclude.length === 0 ? () => false : picomatch(exclude, options);
  return (id) => included(id) && !excluded(id);
}

export function matchesGlob(id: string, globs: string): boolean {
  return globMatcher(globs)(id);
}
