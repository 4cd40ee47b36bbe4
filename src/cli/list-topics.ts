/** What `list` can list (apart from list.ts, which loads the catalogue). */
export const LIST_TOPICS = ["properties", "rules", "mutants", "adapters"] as const;
