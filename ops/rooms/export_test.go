package rooms

// NewestEventSQL is the query that reads the newest event of many rooms at
// once, for the benchmark to show its plan.
const NewestEventSQL = newestEventSQL
