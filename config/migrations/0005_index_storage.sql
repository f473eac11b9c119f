-- 0005: the storage an index reads the contract column through (vector; halfvec: an expression
-- index on embedding_vector::halfvec(dim); bit: on binary_quantize(embedding_vector), searched
-- with an over-fetch re-ranked by the exact distance), which vector index `search` serves
-- from (at most one row), and the figures of every build of a `ragload index --repeat N`.
ALTER TABLE ragload_indexes
    ADD COLUMN storage VARCHAR NOT NULL DEFAULT 'vector',   -- vector | halfvec | bit
    ADD COLUMN serving BOOLEAN NOT NULL DEFAULT false,
    -- NULL: one build; else {"runs": [{"build_seconds", "index_bytes", "recall10"}, ...],
    -- "search": the setting recall10 was measured at, "queries": how many}
    ADD COLUMN builds  JSONB;
CREATE UNIQUE INDEX ragload_indexes_serving_idx ON ragload_indexes (serving) WHERE serving;
UPDATE ragload_indexes SET serving = true
 WHERE index_name = (SELECT index_name FROM ragload_indexes WHERE kind IN ('hnsw', 'ivfflat')
                      ORDER BY kind = 'hnsw' DESC LIMIT 1);
